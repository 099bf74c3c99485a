"""Web sign-in: sessions and their cookie, CSRF on every form, expiry, sign-out, languages and the audit trail."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from smartcare.platform import audit, clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import clients, users
from smartcare.platform.security.clients import ClientError
from smartcare.platform.security.scopes import parse_scopes
from smartcare.platform.web.app import create_app

PASSWORD = "Blue-Harbour-Lantern-42"
USERNAME = "alice.wong"
GENERIC = "The username or password is wrong."
BAD_FORM = "This form has expired or did not come from SmartCare, so nothing was done."


@pytest.fixture
def alice(engine) -> users.User:
    with unit_of_work(engine) as conn:
        return users.create_user(conn, username=USERNAME, password=PASSWORD, role="doctor",
                                 fhir_ref="Practitioner/dr-alice", organization="Organization/general-hospital")


def _browser() -> TestClient:
    return TestClient(create_app(), base_url="http://testserver", follow_redirects=False)


@pytest.fixture
def web(engine) -> Iterator[TestClient]:
    with _browser() as c:
        yield c


@pytest.fixture
def fixed_clock() -> Iterator[list[datetime]]:
    """A clock that stands still at now[0] until a test moves it."""
    now = [datetime(2026, 3, 2, 8, 0, tzinfo=UTC)]
    clock.set_clock(lambda: now[0])
    yield now
    clock.set_clock(None)


def form_token(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]*)"', page.text).group(1)


def sign_in(web: TestClient, username: str = USERNAME, password: str = PASSWORD, **extra: str):
    token = form_token(web.get("/login"))
    return web.post("/login", data={"username": username, "password": password, "csrf_token": token, **extra})


def session_cookie_header(response) -> str | None:
    return next((h for h in response.headers.get_list("set-cookie") if h.startswith("sc_session=")), None)


def account_csrf(web: TestClient) -> str:
    page = web.get("/account")
    assert page.status_code == 200
    return form_token(page)


def test_signing_in_sets_a_new_httponly_session_cookie_and_opens_the_role_home(web, alice):
    done = sign_in(web)
    assert done.status_code == 303 and done.headers["location"] == "/workstation"
    cookie = session_cookie_header(done)
    assert cookie is not None
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http in tests; https requests get Secure
    page = web.get("/account")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    for shown in (USERNAME, "Doctor", "Practitioner/dr-alice", "Organization/general-hospital", "Recent sign-ins"):
        assert shown in page.text
    token = form_token(page)
    assert f'<meta name="csrf-token" content="{token}">' in page.text
    assert 'action="/logout"' in page.text and 'action="/logout-everywhere"' in page.text
    assert 'href="/account">My account</a>' in page.text


def test_the_login_page_has_labelled_fields_and_a_double_submit_token(web, engine):
    page = web.get("/login")
    assert page.status_code == 200
    for field in ('for="username"', 'autocomplete="username"', 'autocomplete="current-password"',
                  'autocomplete="one-time-code"', 'name="totp"'):
        assert field in page.text
    csrf_cookie = next(h for h in page.headers.get_list("set-cookie") if h.startswith("sc_csrf="))
    assert "SameSite=strict" in csrf_cookie and "HttpOnly" in csrf_cookie
    assert csrf_cookie.startswith(f"sc_csrf={form_token(page)};")
    assert 'href="/login">Sign in</a>' in web.get("/", headers={"accept": "text/html"}).text


def test_a_session_id_held_before_sign_in_is_never_kept(web, alice):
    web.cookies.set("sc_session", "chosen-by-an-attacker", domain="testserver.local")
    first = sign_in(web)
    first_id = web.cookies.get("sc_session")
    assert first_id and first_id != "chosen-by-an-attacker"
    assert len(first_id) >= 43
    second = sign_in(web)
    assert second.status_code == 303
    second_id = web.cookies.get("sc_session")
    assert second_id != first_id
    with _browser() as other:
        other.cookies.set("sc_session", first_id)
        assert other.get("/account").status_code == 303, "the id from before the new sign-in must be dead"
    assert first.status_code == 303


def test_a_login_post_without_the_double_submit_token_is_refused(web, alice):
    web.get("/login")
    refused = web.post("/login", data={"username": USERNAME, "password": PASSWORD, "csrf_token": "forged"})
    assert refused.status_code == 403
    assert BAD_FORM in refused.text and 'role="alert"' in refused.text
    assert session_cookie_header(refused) is None
    with _browser() as stranger:
        blind = stranger.post("/login", data={"username": USERNAME, "password": PASSWORD})
        assert blind.status_code == 403 and session_cookie_header(blind) is None


@pytest.mark.parametrize("username", [USERNAME, "nobody.here"])
def test_a_wrong_password_gives_the_same_generic_message_and_no_session(web, alice, username):
    refused = sign_in(web, username=username, password="Not-The-Password-1")
    assert refused.status_code == 400
    assert GENERIC in refused.text and 'role="alert"' in refused.text
    assert session_cookie_header(refused) is None
    assert f'value="{username}"' in refused.text, "the username is kept in the form"
    assert web.get("/account").status_code == 303


def test_five_failures_lock_the_account_even_against_the_right_password(web, alice):
    for _ in range(4):
        assert GENERIC in sign_in(web, password="Not-The-Password-1").text
    fifth = sign_in(web, password="Not-The-Password-1")
    assert fifth.status_code == 400 and "This account is locked" in fifth.text
    right = sign_in(web)
    assert right.status_code == 400 and "This account is locked" in right.text
    assert session_cookie_header(right) is None


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_logout_without_the_right_csrf_token_is_refused_and_changes_nothing(web, alice, token):
    sign_in(web)
    data = {} if token is None else {"csrf_token": token}
    refused = web.post("/logout", data=data)
    assert refused.status_code == 403
    assert BAD_FORM in refused.text and 'role="alert"' in refused.text
    assert session_cookie_header(refused) is None
    assert web.get("/account").status_code == 200, "still signed in"
    with unit_of_work() as conn:
        assert audit.search(conn, agent=f"user/{USERNAME}", subtype="logout") == []


def test_logout_with_the_right_token_signs_out_and_clears_the_cookie(web, alice):
    sign_in(web)
    old_id = web.cookies.get("sc_session")
    done = web.post("/logout", data={"csrf_token": account_csrf(web)})
    assert done.status_code == 303 and done.headers["location"] == "/"
    cleared = session_cookie_header(done)
    assert cleared is not None and ("Max-Age=0" in cleared or "expires=" in cleared.lower())
    assert web.cookies.get("sc_session") is None
    to_login = web.get("/account")
    assert to_login.status_code == 303 and to_login.headers["location"] == "/login?next=/account"
    with _browser() as replay:
        replay.cookies.set("sc_session", old_id)
        assert replay.get("/account").status_code == 303, "the server forgot the session, not just the browser"


def test_the_csrf_header_works_for_htmx_requests(web, alice):
    sign_in(web)
    done = web.post("/logout", headers={"X-CSRF-Token": account_csrf(web)})
    assert done.status_code == 303
    assert web.get("/account").status_code == 303


def test_a_session_ends_after_30_idle_minutes(web, alice, fixed_clock):
    sign_in(web)
    fixed_clock[0] += timedelta(minutes=29)
    assert web.get("/account").status_code == 200
    fixed_clock[0] += timedelta(minutes=29)
    assert web.get("/account").status_code == 200, "each visit restarts the idle timer"
    fixed_clock[0] += timedelta(minutes=30)
    assert web.get("/account").status_code == 303


def test_a_session_ends_12_hours_after_sign_in_however_active(web, alice, fixed_clock):
    start = fixed_clock[0]
    sign_in(web)
    while fixed_clock[0] < start + timedelta(hours=11, minutes=40):
        fixed_clock[0] += timedelta(minutes=25)
        assert web.get("/account").status_code == 200
    fixed_clock[0] = start + timedelta(hours=12)
    assert web.get("/account").status_code == 303


def test_logout_everywhere_ends_other_sessions_and_revokes_refresh_tokens(web, alice, engine):
    with unit_of_work(engine) as conn:
        refresh = clients.issue_refresh_token(conn, client_id="app-1", user_id=alice.id,
                                              scopes=parse_scopes("offline_access user/*.rs"))
    sign_in(web)
    with _browser() as phone:
        sign_in(phone)
        assert phone.get("/account").status_code == 200
        assert web.post("/logout-everywhere", data={"csrf_token": "wrong"}).status_code == 403
        assert phone.get("/account").status_code == 200
        done = web.post("/logout-everywhere", data={"csrf_token": account_csrf(web)})
        assert done.status_code == 303
        assert phone.get("/account").status_code == 303
    assert web.get("/account").status_code == 303
    with unit_of_work(engine) as conn, pytest.raises(ClientError):
        clients.use_refresh_token(conn, token=refresh, client_id="app-1")


def test_hostile_usernames_are_refused_generically_and_escaped(web, alice):
    long_one = sign_in(web, username="a" * 100_000)
    assert long_one.status_code == 400 and GENERIC in long_one.text
    assert "a" * 65 not in long_one.text
    html = sign_in(web, username='<script>alert("x")</script>')
    assert html.status_code == 400 and GENERIC in html.text
    assert "<script>alert" not in html.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html.text
    with unit_of_work() as conn:
        agents = {entry["agent"] for entry in audit.search(conn, subtype="login-failed")}
    assert agents == {"user/unrecognised"}


def test_only_local_paths_are_followed_after_sign_in(web, alice):
    for hostile in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        assert sign_in(web, next=hostile).headers["location"] == "/workstation"
    assert sign_in(web, next="/account").headers["location"] == "/account"


def test_pages_in_chinese_and_the_language_is_saved_with_the_account(web, alice, engine):
    page = web.get("/login?lang=zh-Hans")
    assert '<html lang="zh-Hans">' in page.text
    assert "登录 SmartCare" in page.text and "用户名" in page.text and "密码" in page.text
    refused = sign_in(web, password="Not-The-Password-1")
    assert "用户名或密码错误。" in refused.text
    sign_in(web)
    account = web.get("/account?lang=zh-Hans")
    assert "我的账户" in account.text and "最近登录记录" in account.text and "医生" in account.text
    with unit_of_work(engine) as conn:
        assert users.get_user(conn, user_id=alice.id).locale == "zh-Hans"
    with _browser() as elsewhere:
        done = sign_in(elsewhere)
        assert "sc_lang=zh-Hans" in ";".join(done.headers.get_list("set-cookie"))
        assert "退出登录" in elsewhere.get("/account").text


def test_sign_ins_sign_outs_and_refusals_are_audited_and_listed(web, alice, engine):
    sign_in(web, password="Not-The-Password-1")
    sign_in(web)
    web.post("/logout", data={"csrf_token": account_csrf(web)})
    with unit_of_work(engine) as conn:
        found = {sub: audit.search(conn, agent=f"user/{USERNAME}", subtype=sub)
                 for sub in ("login", "login-failed", "logout")}
    assert [len(found[sub]) for sub in ("login", "login-failed", "logout")] == [1, 1, 1]
    assert found["login-failed"][0]["outcome"] == "4"
    assert found["login"][0]["event"]["agent"][0]["network"]["address"] == "testclient"
    sign_in(web)
    listed = web.get("/account").text
    assert listed.count("<tr>") == 1 + 4
    assert "Signed in" in listed and "Sign-in refused" in listed and "Signed out" in listed


def test_a_patient_sees_who_opened_their_record(web, engine, client):
    from tests.conftest import bearer

    client.put("/fhir/Patient/pa1", json={"resourceType": "Patient", "id": "pa1"},
               headers={"Content-Type": "application/fhir+json"})
    with unit_of_work(engine) as conn:
        users.create_user(conn, username="zhang.wei", password=PASSWORD, role="patient", fhir_ref="Patient/pa1")
    doctor = bearer("user/*.rs", kind="user", name="dr.wang", roles={"doctor"}, organization="Organization/o",
                    fhir_user="Practitioner/p")
    assert client.get("/fhir/Patient/pa1", headers=doctor).status_code == 404  # not in Dr Wang's care
    patient = bearer("patient/*.rs", kind="user", name="zhang.wei", roles={"patient"}, patient="Patient/pa1")
    assert client.get("/fhir/Patient/pa1", headers=patient).status_code == 200
    sign_in(web, "zhang.wei", PASSWORD)
    page = web.get("/account?lang=zh-Hans").text
    section = page.split('id="record-views-title"', 1)[1]
    assert "谁查看了您的档案" in page
    assert "zhang.wei" in section and "查看了记录" in section


def test_staff_accounts_have_no_record_views_section(web, alice):
    sign_in(web)
    assert 'id="record-views-title"' not in web.get("/account").text


def test_staff_set_up_two_step_sign_in_with_a_first_code_and_then_need_it(web, alice, fixed_clock):
    from smartcare.platform.security import totp

    sign_in(web)
    token = account_csrf(web)
    started = web.post("/account/two-step/start", data={"csrf_token": token})
    assert started.status_code == 200 and "<svg" in started.text
    key = re.search(r"Key: <code>([A-Z2-7 ]+)</code>", started.text).group(1).replace(" ", "")
    wrong = web.post("/account/two-step/confirm", data={"csrf_token": token, "totp": "000000"
                     if totp.totp_at(key, clock.now()) != "000000" else "111111"})
    assert wrong.status_code == 400 and "That code does not match" in wrong.text
    done = web.post("/account/two-step/confirm", data={"csrf_token": token, "totp": totp.totp_at(key, clock.now())})
    assert done.status_code == 200 and "Two-step sign-in is on." in done.text
    web.post("/logout", data={"csrf_token": token})
    fixed_clock[0] += timedelta(seconds=30)
    needs_code = sign_in(web)
    assert needs_code.status_code == 400 and 'name="totp"' in needs_code.text
    assert sign_in(web, totp=totp.totp_at(key, clock.now())).status_code == 303
    with unit_of_work() as conn:
        changes = audit.search(conn, agent=f"user/{USERNAME}", subtype="security-config")
    assert [c["event"]["outcomeDesc"] for c in changes] == ["two-step sign-in switched on"]


def test_two_step_sign_in_needs_the_forms_csrf_token(web, alice):
    sign_in(web)
    refused = web.post("/account/two-step/start", data={"csrf_token": "forged"})
    assert refused.status_code == 403 and BAD_FORM in refused.text
    assert "Set up two-step sign-in" in web.get("/account").text


def test_patients_are_not_offered_two_step_sign_in(web, engine):
    with unit_of_work(engine) as conn:
        users.create_user(conn, username="pat.li", password=PASSWORD, role="patient", fhir_ref="Patient/p1")
    sign_in(web, username="pat.li")
    assert "Two-step sign-in" not in web.get("/account").text
