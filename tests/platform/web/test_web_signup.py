"""Sign-up and password-reset pages: CSRF on every form, clear errors in both languages, hostile input, no leaks."""

import html
import logging
import re
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from smartcare.demo.identifiers import make_resident_id
from smartcare.fhir import store
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import signup, users
from smartcare.platform.security.context import SYSTEM
from tests.web_support import browser, form_token

BORN = date(1990, 2, 28)
RESIDENT_ID = make_resident_id(address_code="330106", birth_date=BORN, sequence=457)
PHONE = "13912345678"
PASSWORD = "Copper-Kettle-Morning-31"
CODE_LINE = re.compile(r"Verification code (\d{6}) for")
BAD_FORM = "This form has expired or did not come from SmartCare, so nothing was done."
GOOD = {"phone": PHONE, "email": "", "resident_id": RESIDENT_ID, "family": "陈", "given": "静",
        "birth_date": BORN.isoformat()}




@pytest.fixture
def web(engine) -> Iterator[TestClient]:
    with browser() as c:
        yield c


@pytest.fixture
def outbox(caplog):
    caplog.set_level(logging.WARNING, logger="smartcare.verification")
    return lambda: [m.group(1) for r in caplog.records if (m := CODE_LINE.search(r.getMessage()))]


def main_text(page) -> str:
    return re.search(r"<main.*</main>", page.text, re.S).group(0)


def cookie_header(response, name: str) -> str | None:
    return next((h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")), None)


def post_signup(web: TestClient, **fields: str):
    token = form_token(web.get("/signup"))
    return web.post("/signup", data={**GOOD, "csrf_token": token, **fields})


def post_verify(web: TestClient, code: str, username: str = "chen.jing", password: str = PASSWORD):
    token = form_token(web.get("/signup/verify"))
    return web.post("/signup/verify", data={"code": code, "username": username, "password": password,
                                            "csrf_token": token})


def add_patient(engine, *, born: date = BORN, phone: str = PHONE) -> str:
    with unit_of_work(engine) as conn:
        return store.create(conn, SYSTEM, {
            "resourceType": "Patient",
            "identifier": [{"system": signup.RESIDENT_ID_SYSTEM, "value": RESIDENT_ID}],
            "birthDate": born.isoformat(),
            "telecom": [{"system": "phone", "value": phone}],
        }).reference


def sign_in(web: TestClient, username: str, password: str):
    token = form_token(web.get("/login"))
    return web.post("/login", data={"username": username, "password": password, "csrf_token": token})


def all_users(engine) -> list[users.User]:
    with unit_of_work(engine) as conn:
        return users.list_users(conn)


# The sign-up form


def test_the_sign_up_form_labels_every_field_limits_it_and_sets_a_strict_csrf_cookie(web):
    page = web.get("/signup")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "<h1 id=\"signup-title\">Create your SmartCare account</h1>" in page.text
    cookie = cookie_header(page, "sc_csrf")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/signup" in cookie
    assert form_token(page) in cookie
    inputs = re.findall(r"<input [^>]*>", main_text(page), re.S)
    visible = [tag for tag in inputs if 'type="hidden"' not in tag]
    assert len(visible) == 6
    for tag in visible:
        name = re.search(r'name="([^"]+)"', tag).group(1)
        assert f'<label for="{name}">' in page.text, name
        assert re.search(r'maxlength="\d+"', tag) or 'type="date"' in tag, name
        assert "autocomplete=" in tag, name
    assert 'inputmode="tel"' in page.text and 'autocomplete="bday"' in page.text


def test_the_sign_up_form_speaks_chinese(web):
    page = web.get("/signup?lang=zh-Hans")
    assert "创建您的 SmartCare 账户" in page.text and "公民身份号码" in page.text and "获取验证码" in page.text


def test_the_login_page_links_to_sign_up_and_password_reset(web):
    page = web.get("/login")
    assert 'href="/signup"' in page.text and 'href="/password-reset"' in page.text


@pytest.mark.parametrize("token", [None, "", "x" * 43, "forged-token-that-is-not-the-cookie-value-xx"])
def test_a_sign_up_without_the_forms_token_does_nothing(web, outbox, token):
    web.get("/signup")
    data = {**GOOD} | ({"csrf_token": token} if token is not None else {})
    refused = web.post("/signup", data=data)
    assert refused.status_code == 403 and BAD_FORM in refused.text
    assert outbox() == []


def test_a_cross_site_post_without_the_cookie_does_nothing(engine, outbox):
    with browser() as attacker:
        token = form_token(attacker.get("/signup"))
    with browser() as victim:
        refused = victim.post("/signup", data={**GOOD, "csrf_token": token})
    assert refused.status_code == 403 and outbox() == []


def test_wrong_fields_are_listed_and_marked_and_kept(web, outbox):
    page = post_signup(web, phone="12345", resident_id=RESIDENT_ID[:-1] + "0", family="<b>Chen</b>",
                       birth_date="1990-02-31")
    assert page.status_code == 422 and outbox() == []
    summary = re.search(r'<article class="form-error" role="alert".*?</article>', page.text, re.S).group(0)
    assert re.findall(r'<a href="#(\w+)">', summary) == ["phone", "resident_id", "family", "birth_date"]
    for name in ("phone", "resident_id", "family", "birth_date"):
        tag = re.search(rf'<input id="{name}"[^>]*>', page.text, re.S).group(0)
        assert 'aria-invalid="true"' in tag and f"{name}-error" in tag
    assert "&lt;b&gt;Chen&lt;/b&gt;" in page.text and "<b>Chen</b>" not in page.text
    assert 'value="陈"' not in page.text and 'value="静"' in page.text


def test_a_birth_date_that_disagrees_with_the_id_is_named_in_chinese(web):
    web.get("/signup?lang=zh-Hans")
    page = post_signup(web, birth_date="1990-03-01")
    assert page.status_code == 422 and "出生日期与身份证号码中的出生日期不一致。" in page.text


@pytest.mark.parametrize(("fields", "problem"), [
    ({"phone": "", "email": ""}, "Enter your mobile number or your email address."),
    ({"email": "chen@example.org"}, "Enter either a mobile number or an email address, not both."),
    ({"phone": "chen@example.org"}, "Enter an 11-digit mobile number from mainland China"),
    ({"phone": "", "email": PHONE}, "Enter an email address like name@example.com."),
])
def test_the_code_goes_either_to_a_phone_or_to_an_email_address(web, outbox, fields, problem):
    page = post_signup(web, **fields)
    assert page.status_code == 422 and problem in page.text and outbox() == []


@pytest.mark.parametrize("fields", [
    {name: "9" * 100_000 for name in GOOD},
    {"family": "Robert'); DROP TABLE user_account;--"},
    {"given": "<script>alert(1)</script>"},
    {"resident_id": "' OR '1'='1"},
    {"birth_date": "1990-02-28' --"},
    {"email": "a@b.cn\r\nBcc: x@evil.example", "phone": ""},
])
def test_hostile_sign_up_input_gets_a_form_error_never_a_crash(engine, web, outbox, fields):
    page = post_signup(web, **fields)
    assert page.status_code == 422 and outbox() == []
    assert "<script>alert" not in page.text and all_users(engine) == []


# Entering the code


def test_signing_up_sends_a_code_links_the_record_and_then_signing_in_works(engine, web, outbox):
    mine = add_patient(engine)
    sent = post_signup(web, phone="+86 139 1234 5678")
    assert sent.status_code == 303 and sent.headers["location"] == "/signup/verify"
    ticket = cookie_header(sent, "sc_signup")
    assert "HttpOnly" in ticket and "SameSite=strict" in ticket and "Path=/signup" in ticket
    page = web.get("/signup/verify")
    assert "139****5678" in page.text and PHONE not in page.text
    assert 'autocomplete="one-time-code"' in page.text and 'inputmode="numeric"' in page.text
    done = post_verify(web, outbox()[-1])
    assert done.status_code == 200 and "Your account is ready" in done.text
    [user] = all_users(engine)
    assert (user.username, user.role, user.fhir_ref, user.phone) == ("chen.jing", users.Role.PATIENT, mine, PHONE)
    assert sign_in(web, "chen.jing", PASSWORD).status_code == 303
    with unit_of_work(engine) as conn:
        [entry] = audit.search(conn, subtype="signup")
    assert entry["patient"] == mine and entry["outcome"] == "0"


def test_the_account_speaks_the_language_it_was_made_in(engine, web, outbox):
    web.get("/signup?lang=zh-Hans")
    post_signup(web)
    done = post_verify(web, outbox()[-1])
    assert "账户已创建" in done.text
    assert all_users(engine)[0].locale == "zh-Hans"


def test_a_wrong_code_says_how_many_tries_are_left(engine, web, outbox):
    post_signup(web)
    code = outbox()[-1]
    page = post_verify(web, f"{(int(code) + 1) % 10**6:06d}")
    assert page.status_code == 400 and "The code is wrong. You can try 4 more times." in page.text
    assert 'value="chen.jing"' in page.text, "the username typed is kept"
    for _ in range(3):
        page = post_verify(web, f"{(int(code) + 1) % 10**6:06d}")
    assert "You can try 1 more time." in page.text
    page = post_verify(web, f"{(int(code) + 1) % 10**6:06d}")
    assert "This code can no longer be used." in page.text
    assert post_verify(web, code).status_code == 400 and all_users(engine) == []


def test_a_weak_password_is_explained_and_the_code_still_works(engine, web, outbox):
    web.get("/signup?lang=zh-Hans")
    post_signup(web)
    page = post_verify(web, outbox()[-1], password="chen.jing1")
    assert page.status_code == 422 and "请设置更安全的密码：" in page.text and "密码中不要包含用户名。" in page.text
    assert post_verify(web, outbox()[-1]).status_code == 200


def test_the_code_step_without_a_sign_up_under_way_starts_over(web):
    assert web.get("/signup/verify").headers["location"] == "/signup"
    web.cookies.set("sc_signup", "not-a-ticket", path="/signup")
    assert web.post("/signup/verify", data={"code": "123456"}).headers["location"] == "/signup"


def test_the_code_step_checks_the_forms_token(engine, web, outbox):
    post_signup(web)
    refused = web.post("/signup/verify", data={"code": outbox()[-1], "username": "chen.jing", "password": PASSWORD})
    assert refused.status_code == 403 and BAD_FORM in refused.text and all_users(engine) == []


def test_someone_elses_record_is_refused_without_a_word_about_it(engine, web, outbox):
    theirs = add_patient(engine, born=date(1990, 2, 27))
    with unit_of_work(engine) as conn:
        users.create_user(conn, username="the.real.chen", password=PASSWORD, role="patient", fhir_ref=theirs)
    post_signup(web)
    page = post_verify(web, outbox()[-1])
    assert page.status_code == 409
    assert "We cannot create an account with these details." in page.text
    assert "the.real.chen" not in page.text and theirs.split("/")[1] not in page.text
    assert [u.username for u in all_users(engine)] == ["the.real.chen"]


def test_a_new_code_can_be_asked_for_once_a_minute(engine, web, outbox, now):
    post_signup(web)
    token = form_token(web.get("/signup/verify"))
    too_soon = web.post("/signup/verify", data={"csrf_token": token, "action": "resend"})
    assert too_soon.status_code == 429 and "Wait a few minutes" in too_soon.text and len(outbox()) == 1
    now[0] += timedelta(seconds=61)
    resent = web.post("/signup/verify", data={"csrf_token": token, "action": "resend"})
    assert resent.status_code == 303 and resent.headers["location"] == "/signup/verify?resent=1"
    assert "We sent you a new code." in web.get("/signup/verify?resent=1").text
    assert len(outbox()) == 2
    assert post_verify(web, outbox()[0]).status_code == 400, "the first code went with the retired ticket"
    assert post_verify(web, outbox()[1]).status_code == 200 and len(all_users(engine)) == 1


def test_asking_for_a_new_code_checks_the_forms_token(web, outbox, now):
    post_signup(web)
    now[0] += timedelta(seconds=61)
    refused = web.post("/signup/verify", data={"csrf_token": "x" * 43, "action": "resend"})
    assert refused.status_code == 403 and len(outbox()) == 1


# Password reset


@pytest.fixture
def member(engine) -> users.User:
    with unit_of_work(engine) as conn:
        return users.create_user(conn, username="zhao.lei", password=PASSWORD, role="patient", phone="13600001111")


def ask_reset(web: TestClient, identifier: str):
    token = form_token(web.get("/password-reset"))
    return web.post("/password-reset", data={"identifier": identifier, "csrf_token": token})


def confirm_reset(web: TestClient, code: str, password: str = "Amber-Valley-Window-64"):
    token = form_token(web.get("/password-reset/confirm"))
    return web.post("/password-reset/confirm", data={"code": code, "password": password, "csrf_token": token})


def without_tokens(text: str) -> str:
    return re.sub(r'value="[A-Za-z0-9_-]{43}"', 'value=""', text)


def test_a_reset_answers_the_same_whether_or_not_the_account_exists(engine, outbox, member, now):
    answers = []
    for identifier in ("zhao.lei", "nobody.here", "13600001111", "13600009999"):
        now[0] += timedelta(seconds=61)
        with browser() as web:
            asked = ask_reset(web, identifier)
            page = web.get(asked.headers["location"])
            wrong = confirm_reset(web, "000000")
            answers.append((asked.status_code, asked.headers["location"], without_tokens(page.text),
                            wrong.status_code, without_tokens(wrong.text)))
    assert all(answer == answers[0] for answer in answers)
    assert len(outbox()) == 2, "codes went only to the real account"


def test_a_reset_changes_the_password_and_signs_out_everywhere(engine, outbox, member):
    with browser() as elsewhere:
        assert sign_in(elsewhere, "zhao.lei", PASSWORD).status_code == 303
        assert elsewhere.get("/account").status_code == 200
        with browser() as web:
            web.get("/password-reset?lang=zh-Hans")
            ask_reset(web, "zhao.lei")
            done = confirm_reset(web, outbox()[-1])
            assert done.status_code == 200 and "密码已修改" in done.text
            assert cookie_header(done, "sc_session") is not None, "this browser's session cookie is cleared"
        assert elsewhere.get("/account").status_code == 303, "the other browser was signed out"
        assert sign_in(elsewhere, "zhao.lei", PASSWORD).status_code == 400
        assert sign_in(elsewhere, "zhao.lei", "Amber-Valley-Window-64").status_code == 303


def test_a_reset_explains_a_weak_password_and_a_wrong_code(engine, web, outbox, member):
    ask_reset(web, "zhao.lei")
    weak = confirm_reset(web, outbox()[-1], password="short")
    assert weak.status_code == 422 and "Use at least 10 characters." in weak.text
    wrong = confirm_reset(web, f"{(int(outbox()[-1]) + 1) % 10**6:06d}")
    assert wrong.status_code == 400 and "You can try 4 more times." in wrong.text


def test_reset_forms_check_their_token(engine, web, outbox, member):
    web.get("/password-reset")
    refused = web.post("/password-reset", data={"identifier": "zhao.lei", "csrf_token": "x" * 43})
    assert refused.status_code == 403 and BAD_FORM in refused.text and outbox() == []
    ask_reset(web, "zhao.lei")
    refused = web.post("/password-reset/confirm", data={"code": outbox()[-1], "password": "Amber-Valley-Window-64"})
    assert refused.status_code == 403
    assert sign_in(web, "zhao.lei", PASSWORD).status_code == 303, "the password did not change"


@pytest.mark.parametrize("identifier", ["", "   ", "x" * 100_000, "<script>alert(1)</script>", "' OR 1=1 --"])
def test_hostile_reset_input_is_handled(engine, web, outbox, member, identifier):
    asked = ask_reset(web, identifier)
    assert asked.status_code in (303, 422) and outbox() == []
    assert "<script>alert" not in asked.text
    if asked.status_code == 422:
        assert "Enter your username, mobile number or email address." in html.unescape(asked.text)


def test_the_confirm_step_without_a_reset_under_way_starts_over(web):
    assert web.get("/password-reset/confirm").headers["location"] == "/password-reset"
    assert web.post("/password-reset/confirm", data={"code": "1"}).headers["location"] == "/password-reset"
