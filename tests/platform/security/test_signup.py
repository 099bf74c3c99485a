"""Self-service sign-up and password reset: checking what people type, linking to the right record, never another's."""

import json
import logging
import random
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from smartcare.demo import fhirtypes
from smartcare.demo.identifiers import make_resident_id
from smartcare.fhir import store
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import clients, signup, users, verification
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.security.scopes import parse_scopes
from smartcare.platform.security.signup import (
    ContactInUse,
    SignupInvalid,
    SignupRefused,
    check_details,
    clean_name,
    parse_contact,
    parse_resident_id,
)
from smartcare.platform.security.verification import CodeRejected, CodeUnusable, SendThrottled
from smartcare.platform.web import sessions

BORN = date(1985, 6, 15)
RESIDENT_ID = make_resident_id(address_code="330106", birth_date=BORN, sequence=123)
PHONE = "13812345678"
PASSWORD = "Quiet-Meadow-Lantern-58"
CODE_LINE = re.compile(r"Verification code (\d{6}) for (\w+) to (\w+) (\S+)")




@pytest.fixture
def outbox(caplog):
    """What the development channel has sent: (code, purpose, channel, address), newest last."""
    caplog.set_level(logging.WARNING, logger="smartcare.verification")

    def sent() -> list[tuple[str, ...]]:
        return [m.groups() for r in caplog.records if (m := CODE_LINE.search(r.getMessage()))]

    return sent


def add_patient(engine, *, resident_id=RESIDENT_ID, born=BORN, phone: str | None = PHONE,
                system=signup.RESIDENT_ID_SYSTEM, email: str | None = None) -> str:
    telecom = [{"system": "phone", "value": phone, "use": "mobile"}] if phone else []
    if email:
        telecom.append({"system": "email", "value": email})
    with unit_of_work(engine) as conn:
        stored = store.create(conn, SYSTEM, {
            "resourceType": "Patient",
            "identifier": [{"system": system, "value": resident_id}],
            "name": [{"family": "王", "given": ["芳"]}],
            "birthDate": born.isoformat(),
            **({"telecom": telecom} if telecom else {}),
        })
    return stored.reference


def details(*, contact=PHONE, resident_id=RESIDENT_ID, family="王", given="芳", birth_date=BORN.isoformat()):
    return check_details(contact=contact, resident_id=resident_id, family=family, given=given, birth_date=birth_date)


def start(engine, remote="10.0.0.5", **fields) -> str:
    with unit_of_work(engine) as conn:
        return signup.start_signup(conn, details=details(**fields), remote_addr=remote).ticket


def complete(ticket: str, code: str, username="wang.fang", password=PASSWORD, locale="zh-Hans") -> users.User:
    return signup.complete_signup(ticket=ticket, code=code, username=username, password=password, locale=locale,
                                  remote_addr="10.0.0.5")


def sign_up(engine, outbox, username="wang.fang", **fields) -> users.User:
    ticket = start(engine, **fields)
    return complete(ticket, outbox()[-1][0], username=username)


def not_sent(outbox) -> str:
    """A well-formed code that is none of the codes sent so far."""
    sent = {code for code, *_ in outbox()}
    return next(code for code in (f"{n:06d}" for n in range(10**6)) if code not in sent)


def audit_entries(engine, subtype: str) -> list[dict]:
    with unit_of_work(engine) as conn:
        return audit.search(conn, subtype=subtype, limit=50)


def user_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(users.user_account)).scalar_one()


def patients(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT content FROM fhir_resource WHERE res_type = 'Patient'")).all()
    return [row[0] if isinstance(row[0], dict) else json.loads(row[0]) for row in rows]


# What people type


def test_the_standards_own_example_resident_id_is_valid():
    # GB 11643-1999 shows 11010519491231002X: Beijing Chaoyang, born 1949-12-31, check character X.
    assert parse_resident_id("11010519491231002X") == ("11010519491231002X", date(1949, 12, 31))
    assert parse_resident_id(" 110105 19491231 002x ") == ("11010519491231002X", date(1949, 12, 31))


def test_check_characters_agree_with_the_demo_generator():
    rng = random.Random(7)
    for _ in range(500):
        born = date(1900, 1, 1) + timedelta(days=rng.randrange(45_000))
        value = make_resident_id(address_code=f"{rng.choice(['11', '33', '44', '65'])}{rng.randrange(10**4):04d}",
                                 birth_date=born, sequence=rng.randrange(1000))
        assert parse_resident_id(value) == (value, born)


@pytest.mark.parametrize("value", [
    "110105194912310021",  # wrong check character
    "11010519491231002",  # 17 characters
    "11010519491231002XX",
    "990105194912310028",  # no such province
    "110105194902300020",  # 30 February
    "110105203001010010",  # born in the future
    "11010518991231002X",  # before 1900
    "1101051949123100ZX",
    "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits
    "' OR 1=1 --",
    "1" * 10_000,
    "",
])
def test_malformed_resident_ids_are_refused(value):
    assert parse_resident_id(value) is None


@pytest.mark.parametrize(("typed", "expected"), [
    ("13812345678", ("sms", "13812345678")),
    ("138 1234 5678", ("sms", "13812345678")),
    ("+86 138-1234-5678", ("sms", "13812345678")),
    ("008613812345678", ("sms", "13812345678")),
    ("Wang.Fang@Example.ORG", ("email", "wang.fang@example.org")),
    ("12812345678", None),
    ("1381234567", None),
    ("+1 415 555 0100", None),
    ("wang@localhost", None),
    ("<script>@example.org", None),
    ("a@b.cn" + "x" * 300, None),
    ("", None),
])
def test_contacts_are_mainland_mobiles_or_email_addresses(typed, expected):
    contact = parse_contact(typed)
    assert (contact.channel, contact.address) == expected if expected else contact is None


@pytest.mark.parametrize(("typed", "kept"), [
    ("王", "王"), ("欧阳", "欧阳"), (" 买买提·艾力 ", "买买提·艾力"), ("O'Brien", "O'Brien"),
    ("Anne  Marie", "Anne Marie"), ("José", "José"),
])
def test_names_of_any_script_are_kept(typed, kept):
    assert clean_name(typed) == kept


@pytest.mark.parametrize("typed", [
    "", "   ", "<script>alert(1)</script>", "Robert'); DROP TABLE user_account;--", "Wang1", "王\x00",
    "x" * 51, "...", "&lt;b&gt;",
])
def test_names_that_no_person_has_are_refused(typed):
    assert clean_name(typed) is None


def test_every_wrong_field_is_named_at_once():
    with pytest.raises(SignupInvalid) as refused:
        check_details(contact="nope", resident_id="123", family="", given="<b>", birth_date="1985-13-01")
    assert refused.value.problems == {"contact": "contact_invalid", "resident_id": "resident_id_invalid",
                                      "family": "family_missing", "given": "name_invalid",
                                      "birth_date": "birth_date_invalid"}


def test_empty_fields_are_named_as_missing():
    with pytest.raises(SignupInvalid) as refused:
        check_details(contact="", resident_id=" ", family="", given="  ", birth_date="")
    assert refused.value.problems == {"contact": "contact_invalid", "resident_id": "resident_id_missing",
                                      "family": "family_missing", "given": "given_missing",
                                      "birth_date": "birth_date_invalid"}


def test_the_birth_date_must_agree_with_the_resident_id():
    with pytest.raises(SignupInvalid) as refused:
        details(birth_date="1985-06-16")
    assert refused.value.problems == {"birth_date": "birth_date_mismatch"}


# Linking to the right record


def test_signing_up_links_to_the_record_with_the_same_id_birth_date_and_phone(engine, now, outbox):
    decoy = add_patient(engine, system="https://other.example/sid/passport")  # same number, other system
    mine = add_patient(engine)
    user = sign_up(engine, outbox)
    assert user.fhir_ref == mine != decoy
    assert (user.role, user.phone, user.email, user.locale) == (users.Role.PATIENT, PHONE, None, "zh-Hans")
    assert len(patients(engine)) == 2, "no new record was made"
    [entry] = audit_entries(engine, "signup")
    assert (entry["patient"], entry["outcome"], entry["agent"]) == (mine, "0", "user/wang.fang")
    assert users.login(username="wang.fang", password=PASSWORD, remote_addr="10.0.0.5").id == user.id


def test_an_email_on_the_record_links_as_well(engine, now, outbox):
    mine = add_patient(engine, phone=None, email="Wang.Fang@Example.org")
    user = sign_up(engine, outbox, contact="wang.fang@example.org")
    assert user.fhir_ref == mine and user.email == "wang.fang@example.org" and user.phone is None
    assert outbox()[-1][2:] == ("email", "wang.fang@example.org")


def refused_without_a_trace(engine, outbox, patient_ref: str, reason: str, **fields) -> None:
    ticket = start(engine, **fields)
    code = outbox()[-1][0]
    with pytest.raises(SignupRefused) as refused:
        complete(ticket, code)
    assert str(refused.value) == "An account cannot be created with these details"
    assert user_count(engine) <= 1 and all(u.username != "wang.fang" for u in _users(engine))
    [entry] = [e for e in audit_entries(engine, "signup") if e["outcome"] == "4"]
    assert entry["patient"] == patient_ref and reason in entry["event"]["outcomeDesc"]
    with pytest.raises(CodeUnusable):
        complete(ticket, code)  # the code is spent: trying again takes a new one


def _users(engine) -> list[users.User]:
    with unit_of_work(engine) as conn:
        return users.list_users(conn)


def test_a_record_with_another_birth_date_is_never_linked(engine, now, outbox):
    theirs = add_patient(engine, born=date(1985, 6, 16))
    refused_without_a_trace(engine, outbox, theirs, "birth date differs")
    assert len(patients(engine)) == 1, "no second record with the same number was made either"


def test_a_record_that_does_not_hold_the_verified_phone_is_never_linked(engine, now, outbox):
    theirs = add_patient(engine, phone="13900000000")
    refused_without_a_trace(engine, outbox, theirs, "contact is not on the record")


def test_a_record_that_already_has_an_account_is_never_linked_twice(engine, now, outbox):
    theirs = add_patient(engine)
    with unit_of_work(engine) as conn:
        users.create_user(conn, username="the.real.wang", password=PASSWORD, role="patient", fhir_ref=theirs)
    ticket = start(engine)
    with pytest.raises(SignupRefused) as refused:
        complete(ticket, outbox()[-1][0])
    assert "the.real.wang" not in str(refused.value)
    [entry] = [e for e in audit_entries(engine, "signup") if e["outcome"] == "4"]
    assert entry["patient"] == theirs and "already has an account" in entry["event"]["outcomeDesc"]


def test_two_records_with_the_same_number_link_neither(engine, now, outbox):
    add_patient(engine)
    add_patient(engine)
    ticket = start(engine)
    with pytest.raises(SignupRefused):
        complete(ticket, outbox()[-1][0])
    assert user_count(engine) == 0


def test_without_a_record_a_new_patient_is_created_from_what_was_entered(engine, now, outbox):
    user = sign_up(engine, outbox, family="O'Brien", given="Anne Marie")
    [patient] = patients(engine)
    assert user.fhir_ref == f"Patient/{patient['id']}"
    assert patient["identifier"][0]["system"] == signup.RESIDENT_ID_SYSTEM == fhirtypes.RESIDENT_ID_SYSTEM
    assert patient["identifier"][0]["value"] == RESIDENT_ID
    assert patient["name"] == [{"use": "official", "family": "O'Brien", "given": ["Anne Marie"]}]
    assert patient["birthDate"] == "1985-06-15"
    assert patient["telecom"] == [{"system": "phone", "value": PHONE, "use": "mobile"}]
    [entry] = audit_entries(engine, "signup")
    assert entry["patient"] == user.fhir_ref and "new record" in entry["event"]["outcomeDesc"]


def test_the_next_sign_up_with_that_number_cannot_take_the_new_record(engine, now, outbox):
    first = sign_up(engine, outbox)
    now[0] += timedelta(minutes=2)
    ticket = start(engine, contact="13900001111")
    with pytest.raises(SignupRefused):
        complete(ticket, outbox()[-1][0], username="someone.else")
    assert [u.username for u in _users(engine)] == [first.username]


# Codes and account details at the last step


def test_a_wrong_code_is_counted_and_five_kill_it(engine, now, outbox):
    add_patient(engine)
    ticket = start(engine)
    code = outbox()[-1][0]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        with pytest.raises(CodeRejected) as refused:
            complete(ticket, wrong)
        assert refused.value.attempts_left == left
    with pytest.raises(CodeUnusable):
        complete(ticket, wrong)
    with pytest.raises(CodeUnusable):
        complete(ticket, code)
    assert user_count(engine) == 0


def test_one_code_entered_twice_at_once_makes_one_account(engine, now, outbox):
    add_patient(engine)
    ticket = start(engine)
    code = outbox()[-1][0]

    def attempt(username: str) -> object:
        try:
            return complete(ticket, code, username=username)
        except verification.VerificationError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(attempt, ["first.try", "second.try"]))
    assert sorted(type(o).__name__ for o in outcomes) == ["CodeUnusable", "User"]
    assert user_count(engine) == 1


def test_an_expired_code_makes_no_account(engine, now, outbox):
    ticket = start(engine)
    now[0] += timedelta(minutes=11)
    with pytest.raises(CodeUnusable):
        complete(ticket, outbox()[-1][0])
    assert user_count(engine) == 0 and patients(engine) == []


def test_a_used_code_makes_no_second_account(engine, now, outbox):
    ticket = start(engine)
    code = outbox()[-1][0]
    complete(ticket, code)
    with pytest.raises(CodeUnusable):
        complete(ticket, code, username="second.try")
    assert user_count(engine) == 1 and len(patients(engine)) == 1


@pytest.mark.parametrize(("username", "password", "refusal"), [
    ("wang.fang", "password1", users.WeakPassword),
    ("wang.fang", "wang.fang-2026!", users.WeakPassword),
    ("<script>", PASSWORD, users.InvalidUserData),
    ("x" * 500, PASSWORD, users.InvalidUserData),
    ("taken.name", PASSWORD, users.UsernameTaken),
])
def test_a_bad_username_or_password_changes_nothing_and_the_code_still_works(engine, now, outbox, username,
                                                                              password, refusal):
    with unit_of_work(engine) as conn:
        users.create_user(conn, username="Taken.Name", password=PASSWORD, role="doctor")
    ticket = start(engine)
    code = outbox()[-1][0]
    with pytest.raises(refusal):
        complete(ticket, code, username=username, password=password)
    assert user_count(engine) == 1 and patients(engine) == [] and audit_entries(engine, "signup") == []
    assert complete(ticket, code).username == "wang.fang"


def test_a_phone_already_on_an_account_cannot_sign_up_again(engine, now, outbox):
    with unit_of_work(engine) as conn:
        users.create_user(conn, username="wang.fang", password=PASSWORD, role="patient", phone=PHONE)
    ticket = start(engine)
    with pytest.raises(ContactInUse):
        complete(ticket, outbox()[-1][0], username="wang.fang2")
    assert user_count(engine) == 1


def test_resending_during_sign_up_gives_a_fresh_code_and_is_throttled(engine, now, outbox):
    ticket = start(engine)
    with unit_of_work(engine) as conn, pytest.raises(SendThrottled):
        signup.resend_signup_code(conn, ticket=ticket, remote_addr="10.0.0.5")
    now[0] += timedelta(seconds=60)
    with unit_of_work(engine) as conn:
        fresh = signup.resend_signup_code(conn, ticket=ticket, remote_addr="10.0.0.5").ticket
    first_code, second_code = outbox()[-2][0], outbox()[-1][0]
    with pytest.raises(CodeUnusable):
        complete(ticket, first_code)
    assert complete(fresh, second_code).fhir_ref is not None


# Password reset


@pytest.fixture
def member(engine) -> users.User:
    with unit_of_work(engine) as conn:
        return users.create_user(conn, username="li.na", password=PASSWORD, role="patient", phone="13711112222",
                                 email="li.na@example.org", fhir_ref="Patient/p-li")


def request_reset(identifier: str, remote="10.0.0.9") -> str:
    with unit_of_work() as conn:
        return signup.request_password_reset(conn, identifier=identifier, remote_addr=remote)


def confirm(ticket: str, code: str, new_password="Silver-Creek-Orchard-19") -> users.User:
    return signup.confirm_password_reset(ticket=ticket, code=code, new_password=new_password, remote_addr="10.0.0.9")


@pytest.mark.parametrize(("identifier", "channel", "address"), [
    ("li.na", "sms", "13711112222"),
    ("LI.NA", "sms", "13711112222"),
    ("+86 137 1111 2222", "sms", "13711112222"),
    ("Li.Na@Example.org", "email", "li.na@example.org"),
])
def test_a_reset_code_goes_to_the_contact_on_file(engine, now, outbox, member, identifier, channel, address):
    request_reset(identifier)
    [(_, purpose, sent_channel, sent_address)] = outbox()
    assert (purpose, sent_channel, sent_address) == ("reset", channel, address)


@pytest.mark.parametrize("identifier", ["nobody", "13900009999", "nobody@example.org", "<script>", "x" * 5000, ""])
def test_a_reset_for_no_account_answers_the_same_and_sends_nothing(engine, now, outbox, member, identifier):
    ticket = request_reset(identifier)
    assert re.fullmatch(r"[0-9a-f-]{36}", ticket) and outbox() == []
    tries = []
    for n in range(5):
        try:
            confirm(ticket, f"{n:06d}")
        except verification.VerificationError as exc:
            tries.append(type(exc))
    assert tries == [CodeRejected] * 4 + [CodeUnusable], "tries count down exactly as for a real account"


def test_asking_again_within_the_minute_answers_the_same_and_the_first_code_still_works(engine, now, outbox,
                                                                                          member):
    first = request_reset("li.na")
    again = request_reset("13711112222")
    assert again == first and len(outbox()) == 1
    assert confirm(again, outbox()[0][0]).id == member.id


@pytest.mark.parametrize("identifier", ["li.na", "nobody"])
def test_a_probe_that_tries_a_code_and_asks_again_sees_the_same_for_any_account(engine, now, outbox, member,
                                                                                   identifier):
    first = request_reset(identifier)
    with pytest.raises(CodeRejected) as one:
        confirm(first, not_sent(outbox))
    second = request_reset(identifier)
    with pytest.raises(CodeRejected) as two:
        confirm(second, not_sent(outbox))
    assert second != first and (one.value.attempts_left, two.value.attempts_left) == (4, 4)
    now[0] += timedelta(seconds=61)
    assert request_reset(identifier) not in (first, second)


def test_the_network_that_asks_too_often_is_told_to_wait(engine, now, outbox, member):
    for n in range(verification.SENDER_HOURLY_LIMIT):
        request_reset(f"nobody{n}", remote="198.51.100.1")
    with pytest.raises(SendThrottled):
        request_reset("li.na", remote="198.51.100.1")


def test_a_reset_sets_the_new_password_and_ends_every_session_and_refresh_token(engine, now, outbox, member):
    with unit_of_work(engine) as conn:
        session_id, _ = sessions.start_session(conn, user_id=member.id)
        token = clients.issue_refresh_token(conn, client_id="app-1", user_id=member.id,
                                            scopes=parse_scopes("offline_access patient/*.rs"))
    ticket = request_reset("li.na")
    confirm(ticket, outbox()[-1][0])
    with unit_of_work(engine) as conn:
        assert sessions.load_session(conn, session_id) is None
        with pytest.raises(clients.ClientError):
            clients.use_refresh_token(conn, token=token, client_id="app-1")
    with pytest.raises(users.LoginFailed):
        users.login(username="li.na", password=PASSWORD, remote_addr="10.0.0.9")
    assert users.login(username="li.na", password="Silver-Creek-Orchard-19", remote_addr="10.0.0.9").id == member.id
    [entry] = audit_entries(engine, "password-reset")
    assert entry["agent"] == "user/li.na" and "1 sessions ended, 1 refresh tokens revoked" in entry["event"]["outcomeDesc"]


def test_a_reset_code_works_once(engine, now, outbox, member):
    ticket = request_reset("li.na")
    confirm(ticket, outbox()[-1][0])
    with pytest.raises(CodeUnusable):
        confirm(ticket, outbox()[-1][0], new_password="Another-Brave-Harbour-77")


def test_a_weak_new_password_changes_nothing_and_the_code_still_works(engine, now, outbox, member):
    ticket = request_reset("li.na")
    with pytest.raises(users.WeakPassword):
        confirm(ticket, outbox()[-1][0], new_password="li.na12345")
    assert users.login(username="li.na", password=PASSWORD, remote_addr="10.0.0.9").id == member.id
    assert confirm(ticket, outbox()[-1][0]).id == member.id


def test_a_sign_up_code_cannot_reset_a_password(engine, now, outbox, member):
    ticket = start(engine, contact="13711112222")
    with pytest.raises(CodeUnusable):
        confirm(ticket, outbox()[-1][0])
