"""User accounts: creation rules, administration, and logins with lockout, throttling and TOTP."""

import dataclasses

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher, Type

from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import passwords, totp, users
from smartcare.platform.security.tables import user_account
from smartcare.platform.security.throttle import Throttled
from smartcare.platform.security.users import (
    AccountLocked,
    AuthenticationError,
    InvalidUserData,
    LoginFailed,
    Role,
    TotpRequired,
    UsernameTaken,
    UserNotFound,
    WeakPassword,
)

PASSWORD = "Harbour-Lantern-42"


def _create(engine, username="dr.wang", role=Role.DOCTOR, password=PASSWORD, **fields) -> users.User:
    with unit_of_work(engine) as conn:
        return users.create_user(conn, username=username, password=password, role=role, **fields)


def _login(username="dr.wang", password=PASSWORD, addr="10.0.0.1", totp_code=None) -> users.User:
    return users.login(username=username, password=password, remote_addr=addr, totp_code=totp_code)


def _get(engine, user_id: str) -> users.User:
    with unit_of_work(engine) as conn:
        return users.get_user(conn, user_id=user_id)


# Creating accounts


def test_create_user_stores_every_field_and_hides_the_hash(identity_engine, fake_clock):
    user = _create(
        identity_engine,
        fhir_ref="Practitioner/prac-0001",
        organization="Organization/org-hosp-1",
        locale="zh-Hans",
        phone="+86 10 1234-5678",
        email="Dr.Wang@Example.org",
    )
    assert (user.username, user.role, user.locale) == ("dr.wang", Role.DOCTOR, "zh-Hans")
    assert user.fhir_ref == "Practitioner/prac-0001" and user.organization == "Organization/org-hosp-1"
    assert user.email == "dr.wang@example.org"
    assert user.created == user.password_changed == "2024-05-01T08:00:00.000Z"
    assert user.is_staff and not user.locked and user.failed_logins == 0 and user.last_login is None
    assert "argon2" not in repr(user) and PASSWORD not in repr(user)
    with pytest.raises(dataclasses.FrozenInstanceError):
        user.role = Role.SYSTEM  # type: ignore[misc]


def test_usernames_are_unique_regardless_of_case(identity_engine):
    _create(identity_engine, username="Dr.Wang")
    with pytest.raises(UsernameTaken):
        _create(identity_engine, username="DR.WANG")
    with unit_of_work(identity_engine) as conn:
        assert users.get_by_username(conn, username="dr.wang").username == "Dr.Wang"


def test_a_concurrent_duplicate_the_check_missed_still_gives_username_taken(identity_engine, monkeypatch):
    _create(identity_engine)
    monkeypatch.setattr(users, "_taken", lambda conn, **_: False)
    with unit_of_work(identity_engine) as conn:
        with pytest.raises(UsernameTaken):
            users.create_user(conn, username="Dr.Wang", password=PASSWORD, role=Role.NURSE)
        assert [u.username for u in users.list_users(conn)] == ["dr.wang"]


def test_email_addresses_are_unique_when_given(identity_engine):
    _create(identity_engine, username="a.one", email="same@example.org")
    _create(identity_engine, username="a.two")
    _create(identity_engine, username="a.three")
    with pytest.raises(UsernameTaken):
        _create(identity_engine, username="a.four", email="SAME@example.org")


@pytest.mark.parametrize(
    "username",
    ["ab", "a" * 65, "x" * 100_000, "dr wang", "o'brien", "a'; DROP TABLE user_account; --", "\u738b\u533b\u751f",
     "dr.wang\n", "caf\u00e9", ""],
)
def test_malformed_usernames_are_refused(identity_engine, username):
    with pytest.raises(InvalidUserData):
        _create(identity_engine, username=username)


@pytest.mark.parametrize(
    "fields",
    [
        {"role": "surgeon"},
        {"role": "patient", "fhir_ref": "Practitioner/prac-1"},
        {"role": "doctor", "fhir_ref": "Patient/pat-1"},
        {"fhir_ref": "Practitioner/' OR 1=1 --"},
        {"organization": "org-hosp-1"},
        {"organization": "Organization/" + "x" * 65},
        {"locale": "fr"},
        {"phone": "call me"},
        {"email": "not-an-address"},
        {"email": "a@" + "b" * 260 + ".org"},
    ],
)
def test_malformed_fields_are_refused(identity_engine, fields):
    with pytest.raises(InvalidUserData):
        _create(identity_engine, **fields)


def test_weak_passwords_are_refused_with_their_problems(identity_engine):
    with pytest.raises(WeakPassword) as refused:
        _create(identity_engine, password="woaini1314")
    assert refused.value.problems == ["too_common", "too_few_kinds"]
    with unit_of_work(identity_engine) as conn:
        assert users.list_users(conn) == []


def test_every_role_can_be_created_and_listed_by_role(identity_engine):
    _create(identity_engine, username="pat.li", role="patient", fhir_ref="Patient/pat-00001")
    _create(identity_engine, username="nurse.chen", role=Role.NURSE)
    _create(identity_engine, username="dr.an", role=Role.DOCTOR)
    with unit_of_work(identity_engine) as conn:
        assert [u.username for u in users.list_users(conn)] == ["dr.an", "nurse.chen", "pat.li"]
        assert [u.username for u in users.list_users(conn, role="patient")] == ["pat.li"]
    assert {r.value for r in users.STAFF_ROLES} == {
        "doctor", "nurse", "pharmacist", "lab_technician", "radiologist", "hospital_admin",
        "regional_admin", "public_health_officer", "researcher", "health_inspector",
    }


def test_unknown_ids_raise_user_not_found(identity_engine):
    with unit_of_work(identity_engine) as conn, pytest.raises(UserNotFound):
        users.lock_user(conn, user_id="no-such-id")


def test_context_for_a_user_names_role_and_organization(identity_engine):
    user = _create(identity_engine, organization="Organization/org-hosp-1")
    ctx = users.context_for(user, remote_addr="10.0.0.9")
    assert (ctx.kind, ctx.name, ctx.roles, ctx.organization) == ("user", "dr.wang", {"doctor"}, "Organization/org-hosp-1")
    assert ctx.author == "user/dr.wang" and not ctx.is_system


# Logging in


def test_login_succeeds_in_any_letter_case_and_records_it(identity_engine, fake_clock):
    _create(identity_engine)
    user = _login(username="DR.Wang")
    assert user.last_login == "2024-05-01T08:00:00.000Z" and user.failed_logins == 0


def test_wrong_password_fails_and_is_counted(identity_engine):
    user = _create(identity_engine)
    with pytest.raises(LoginFailed):
        _login(password=PASSWORD + "x")
    assert _get(identity_engine, user.id).failed_logins == 1
    assert _login().failed_logins == 0


def test_unknown_user_fails_exactly_like_a_wrong_password_and_spends_the_hashing_time(identity_engine, monkeypatch):
    _create(identity_engine)
    with pytest.raises(LoginFailed) as wrong_password:
        _login(password="Wrong-Password-1")
    verified = []
    real_verify = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password", lambda h, p: verified.append(h) or real_verify(h, p))
    with pytest.raises(LoginFailed) as unknown_user:
        _login(username="dr.nobody", password="Wrong-Password-1")
    assert str(unknown_user.value) == str(wrong_password.value)
    assert unknown_user.value.status_code == wrong_password.value.status_code
    assert len(verified) == 1 and verified[0].startswith("$argon2id$")


def test_five_failures_lock_the_account_for_fifteen_minutes(identity_engine, fake_clock):
    user = _create(identity_engine)
    for _ in range(4):
        with pytest.raises(LoginFailed):
            _login(password="Wrong-Password-1")
        fake_clock.advance(minutes=1)
    with pytest.raises(AccountLocked) as locked:
        _login(password="Wrong-Password-1")
    assert locked.value.until == "2024-05-01T08:19:00.000Z"
    fake_clock.advance(minutes=14, seconds=59)
    with pytest.raises(AccountLocked):
        _login()
    assert _get(identity_engine, user.id).failed_logins == 5
    fake_clock.advance(seconds=1)
    assert _login().failed_logins == 0


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(identity_engine, fake_clock):
    _create(identity_engine)
    for _ in range(8):
        with pytest.raises(LoginFailed):
            _login(password="Wrong-Password-1")
        fake_clock.advance(minutes=4)
    assert _login().username == "dr.wang"


def test_an_unknown_username_locks_out_just_like_a_real_one(identity_engine, fake_clock):
    for _ in range(4):
        with pytest.raises(LoginFailed):
            _login(username="dr.nobody", password="Wrong-Password-1")
    with pytest.raises(AccountLocked) as locked:
        _login(username="dr.nobody", password="Wrong-Password-1")
    assert locked.value.until == "2024-05-01T08:15:00.000Z"
    with pytest.raises(AccountLocked):
        _login(username="dr.nobody")
    fake_clock.advance(minutes=15)
    with pytest.raises(LoginFailed):
        _login(username="dr.nobody")


def test_an_administrators_lock_holds_until_unlocked(identity_engine):
    user = _create(identity_engine)
    with unit_of_work(identity_engine) as conn:
        users.lock_user(conn, user_id=user.id)
    with pytest.raises(AccountLocked) as locked:
        _login()
    assert locked.value.until is None
    with pytest.raises(LoginFailed):
        _login(password="Wrong-Password-1")
    with unit_of_work(identity_engine) as conn:
        users.unlock_user(conn, user_id=user.id)
    assert _login().username == "dr.wang"


def test_unlock_lifts_a_lockout_after_failures(identity_engine, fake_clock):
    user = _create(identity_engine)
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            _login(password="Wrong-Password-1")
    with unit_of_work(identity_engine) as conn:
        users.unlock_user(conn, user_id=user.id)
    assert _login().username == "dr.wang"


def test_twenty_attempts_from_one_address_are_throttled_whoever_they_are_for(identity_engine, fake_clock):
    _create(identity_engine)
    for n in range(20):
        with pytest.raises(LoginFailed):
            _login(username=f"guess{n}", password="Wrong-Password-1")
    with pytest.raises(Throttled) as throttled:
        _login()
    assert isinstance(throttled.value, AuthenticationError)
    assert throttled.value.retry_after_seconds == 15 * 60
    assert _login(addr="10.0.0.2").username == "dr.wang"
    fake_clock.advance(minutes=15)
    assert _login().username == "dr.wang"


def test_successful_logins_do_not_use_up_an_address(identity_engine, fake_clock):
    _create(identity_engine)
    for _ in range(25):
        _login(addr="192.0.2.1")


def test_a_refused_login_inside_a_rolled_back_transaction_is_why_login_commits(identity_engine):
    user = _create(identity_engine)
    with pytest.raises(LoginFailed), unit_of_work(identity_engine) as conn:
        users.authenticate(conn, username="dr.wang", password="Wrong-Password-1", remote_addr="10.0.0.1")
    assert _get(identity_engine, user.id).failed_logins == 0
    with pytest.raises(LoginFailed):
        _login(password="Wrong-Password-1")
    assert _get(identity_engine, user.id).failed_logins == 1


def test_totp_is_required_once_enabled_and_each_code_works_once(identity_engine, fake_clock):
    user = _create(identity_engine)
    with unit_of_work(identity_engine) as conn:
        secret = users.enable_totp(conn, user_id=user.id)
    assert _get(identity_engine, user.id).totp_enabled
    with pytest.raises(TotpRequired):
        _login()
    code = totp.totp_at(secret, clock.now())
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(TotpRequired):
        _login(totp_code=wrong)
    assert _get(identity_engine, user.id).failed_logins == 1
    assert _login(totp_code=code).username == "dr.wang"
    with pytest.raises(TotpRequired):
        _login(totp_code=code)
    fake_clock.advance(seconds=30)
    assert _login(totp_code=totp.totp_at(secret, clock.now())).failed_logins == 0


def test_wrong_totp_codes_lock_the_account_like_wrong_passwords(identity_engine, fake_clock):
    user = _create(identity_engine)
    with unit_of_work(identity_engine) as conn:
        secret = users.enable_totp(conn, user_id=user.id)
    code = totp.totp_at(secret, clock.now())
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        with pytest.raises(TotpRequired):
            _login(totp_code=wrong)
    with pytest.raises(AccountLocked):
        _login(totp_code=wrong)
    with pytest.raises(AccountLocked):
        _login(totp_code=code)


def test_a_hash_with_old_parameters_is_replaced_at_the_next_login(identity_engine):
    user = _create(identity_engine)
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID).hash(PASSWORD)
    with unit_of_work(identity_engine) as conn:
        conn.execute(sa.update(user_account).where(user_account.c.id == user.id).values(password_hash=old))
    assert _login().password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_reset_password_replaces_the_old_one_and_checks_strength(identity_engine, fake_clock):
    user = _create(identity_engine)
    fake_clock.advance(days=1)
    with unit_of_work(identity_engine) as conn, pytest.raises(WeakPassword):
        users.reset_password(conn, user_id=user.id, new_password="qwerty")
    with unit_of_work(identity_engine) as conn:
        changed = users.reset_password(conn, user_id=user.id, new_password="Quiet-River-Stone-7")
    assert changed.password_changed == "2024-05-02T08:00:00.000Z"
    with pytest.raises(LoginFailed):
        _login()
    assert _login(password="Quiet-River-Stone-7").username == "dr.wang"


def test_set_locale_accepts_only_supported_languages(identity_engine):
    user = _create(identity_engine)
    with unit_of_work(identity_engine) as conn:
        assert users.set_locale(conn, user_id=user.id, locale="zh-Hans").locale == "zh-Hans"
        with pytest.raises(InvalidUserData):
            users.set_locale(conn, user_id=user.id, locale="zh-Hans'; --")


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("dr.wang", "x" * 1_000_000),
        ("dr.wang' OR '1'='1", PASSWORD),
        ("dr.wang\"; DROP TABLE user_account; --", "' OR 1=1 --"),
        ("\u738b\u533b\u751f", "\u5bc6\u7801\U0001f600" * 50),
        ("u" * 10_000, PASSWORD),
        ("dr.wang", PASSWORD + "\x00"),
    ],
)
def test_hostile_logins_fail_plainly(identity_engine, username, password):
    _create(identity_engine)
    with pytest.raises(LoginFailed):
        _login(username=username, password=password)
    assert _login().username == "dr.wang"


def test_hostile_remote_addresses_are_tolerated(identity_engine):
    _create(identity_engine)
    assert _login(addr="' OR 1=1; --" + "9" * 5000).username == "dr.wang"
    assert _login(addr=None).username == "dr.wang"


def test_totp_enrolment_takes_effect_only_after_a_matching_code(identity_engine, fake_clock):
    user = _create(identity_engine)
    with unit_of_work(identity_engine) as conn:
        secret = users.begin_totp_enrolment(conn, user_id=user.id)
    # Not yet confirmed: signing in needs no code, so a half-finished enrolment never locks anyone out.
    assert not _get(identity_engine, user.id).totp_enabled
    assert _login().username == "dr.wang"
    code = totp.totp_at(secret, clock.now())
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(users.TotpEnrolmentError), unit_of_work(identity_engine) as conn:
        users.confirm_totp_enrolment(conn, user_id=user.id, code=wrong)
    assert not _get(identity_engine, user.id).totp_enabled
    with unit_of_work(identity_engine) as conn:
        users.confirm_totp_enrolment(conn, user_id=user.id, code=code)
    assert _get(identity_engine, user.id).totp_enabled
    # The code that confirmed enrolment cannot be replayed to sign in.
    with pytest.raises(TotpRequired):
        _login(totp_code=code)
    fake_clock.advance(seconds=30)
    assert _login(totp_code=totp.totp_at(secret, clock.now())).username == "dr.wang"


def test_totp_secrets_are_stored_sealed_and_bound_to_their_account(identity_engine, fake_clock):
    user = _create(identity_engine)
    other = _create(identity_engine, username="dr.li")
    with unit_of_work(identity_engine) as conn:
        secret = users.enable_totp(conn, user_id=user.id)
        users.enable_totp(conn, user_id=other.id)
        stored = conn.execute(sa.select(user_account.c.totp_secret).where(user_account.c.id == user.id)).scalar_one()
    assert secret not in stored and stored.startswith("v1:")
    # Copying the sealed secret to another account does not give that account the same factor.
    with unit_of_work(identity_engine) as conn:
        conn.execute(sa.update(user_account).where(user_account.c.id == other.id).values(totp_secret=stored))
    with pytest.raises(TotpRequired):
        _login(username="dr.li", totp_code=totp.totp_at(secret, clock.now()))


def test_disabling_totp_lets_the_account_sign_in_with_its_password_alone(identity_engine, fake_clock):
    user = _create(identity_engine)
    with unit_of_work(identity_engine) as conn:
        users.enable_totp(conn, user_id=user.id)
        users.disable_totp(conn, user_id=user.id)
    assert _login().username == "dr.wang"
