"""User accounts: create and manage them, and authenticate a login (password, lockout, throttling, TOTP)."""

import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import NoReturn

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcare.platform import clock
from smartcare.platform.clock import format_instant, parse_instant
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import passwords, sealing, throttle, totp
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.scopes import ScopeSet, parse_scopes
from smartcare.platform.security.tables import user_account
from smartcare.platform.security.throttle import Throttled

log = logging.getLogger(__name__)


class Role(StrEnum):
    """What a user is in the region; the access policy decides from it."""

    PATIENT = "patient"
    CAREGIVER = "caregiver"
    DOCTOR = "doctor"
    NURSE = "nurse"
    PHARMACIST = "pharmacist"
    LAB_TECHNICIAN = "lab_technician"
    RADIOLOGIST = "radiologist"
    HOSPITAL_ADMIN = "hospital_admin"
    REGIONAL_ADMIN = "regional_admin"
    PUBLIC_HEALTH_OFFICER = "public_health_officer"
    RESEARCHER = "researcher"
    HEALTH_INSPECTOR = "health_inspector"  # 卫生监督员: inspects facilities, records findings (regional/supervision)
    DEVICE = "device"
    SYSTEM = "system"


STAFF_ROLES = frozenset(Role) - {Role.PATIENT, Role.CAREGIVER, Role.DEVICE, Role.SYSTEM}
# The FHIR resource type a user of each role is linked to; staff are Practitioners.
FHIR_TYPE_OF_ROLE = {Role.PATIENT: "Patient", Role.CAREGIVER: "RelatedPerson", Role.DEVICE: "Device"}
LOCALES = ("en", "zh-Hans")

_USERNAME = re.compile(r"[A-Za-z0-9._@-]{3,64}")
_FHIR_ID = r"[A-Za-z0-9\-.]{1,64}"
_FHIR_REF = re.compile(rf"(Patient|Practitioner|RelatedPerson|Device)/{_FHIR_ID}")
_ORGANIZATION = re.compile(rf"Organization/{_FHIR_ID}")
_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{2,31}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_MAX_EMAIL = 254
# Longer input is refused before it reaches Argon2 or the database.
_MAX_LOGIN_PASSWORD = 1024
_MAX_ADDRESS = 64


class IdentityError(Exception):
    """A refused identity operation; status_code is the HTTP status the API answers with."""

    status_code = 400


class InvalidUserData(IdentityError):
    """A field of a user account is malformed (message says which and why)."""

    status_code = 422


class WeakPassword(IdentityError):
    """The password breaks strength rules; problems holds their message keys."""

    status_code = 422

    def __init__(self, problems: list[str]):
        super().__init__("The password is too weak: " + ", ".join(problems))
        self.problems = problems


class UsernameTaken(IdentityError):
    """Another account already has this username (in any letter case) or e-mail address."""

    status_code = 409


class UserNotFound(IdentityError):
    """No account has this id or username."""

    status_code = 404


class AuthenticationError(IdentityError):
    """A login was refused; what it counted must be committed even so (login() does that)."""

    status_code = 401


class LoginFailed(AuthenticationError):
    """Wrong username or password; deliberately the same whether or not the user exists."""

    status_code = 401

    def __init__(self) -> None:
        super().__init__("The username or password is wrong")


class AccountLocked(AuthenticationError):
    """The account is locked: until an instant after failed logins, or by an administrator (until None)."""

    status_code = 423

    def __init__(self, until: str | None):
        super().__init__(f"The account is locked until {until}" if until else "The account is locked")
        self.until = until


class LoginThrottled(AuthenticationError, Throttled):
    """Too many login attempts from one address; both an AuthenticationError and a Throttled."""

    status_code = 429


class TotpRequired(AuthenticationError):
    """The account uses a one-time code and none, or a wrong one, was given."""

    status_code = 401

    def __init__(self) -> None:
        super().__init__("A valid one-time code from the authenticator app is required")


@dataclass(frozen=True, slots=True)
class User:
    """A user account as the rest of SmartCare sees it (secrets never show in repr)."""

    id: str
    username: str
    role: Role
    fhir_ref: str | None
    organization: str | None
    locale: str
    phone: str | None
    email: str | None
    locked: bool
    locked_until: str | None
    failed_logins: int
    totp_enabled: bool
    password_changed: str
    created: str
    last_login: str | None
    password_hash: str = field(repr=False, compare=False)

    @property
    def is_staff(self) -> bool:
        """True for people who work in care or administration (not patients, caregivers, devices)."""
        return self.role in STAFF_ROLES


def _user(row: sa.Row) -> User:
    return User(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        fhir_ref=row.fhir_ref,
        organization=row.organization,
        locale=row.locale,
        phone=row.phone,
        email=row.email,
        locked=row.locked,
        locked_until=row.locked_until,
        failed_logins=row.failed_logins,
        totp_enabled=row.totp_secret is not None,
        password_changed=row.password_changed,
        created=row.created,
        last_login=row.last_login,
        password_hash=row.password_hash,
    )


def _now() -> str:
    return format_instant(clock.now())


def _checked_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidUserData(f"Unknown role {role[:40]!r}; use one of: {', '.join(Role)}") from None


def _checked_fields(
    *, role: Role, fhir_ref: str | None, organization: str | None, locale: str, phone: str | None, email: str | None
) -> None:
    if fhir_ref is not None:
        if not _FHIR_REF.fullmatch(fhir_ref):
            raise InvalidUserData("The FHIR reference must look like Patient/<id>, Practitioner/<id>, ...")
        expected = FHIR_TYPE_OF_ROLE.get(role, "Practitioner" if role in STAFF_ROLES else None)
        if fhir_ref.split("/", 1)[0] != expected:
            raise InvalidUserData(f"A {role} user cannot be linked to {fhir_ref.split('/', 1)[0]}")
    if organization is not None and not _ORGANIZATION.fullmatch(organization):
        raise InvalidUserData("The organization must look like Organization/<id>")
    _checked_locale(locale)
    if phone is not None and not _PHONE.fullmatch(phone):
        raise InvalidUserData("The phone number may hold only digits, spaces, ()- and a leading +")
    if email is not None and (len(email) > _MAX_EMAIL or not _EMAIL.fullmatch(email)):
        raise InvalidUserData("The e-mail address is not valid")


def _checked_locale(locale: str) -> None:
    if locale not in LOCALES:
        raise InvalidUserData(f"The language must be one of: {', '.join(LOCALES)}")


def _checked_password(password: str, username: str) -> None:
    problems = passwords.password_problems(password, username=username)
    if problems:
        raise WeakPassword(problems)


def _taken(conn: Connection, *, username_key: str, email: str | None) -> bool:
    condition = user_account.c.username_key == username_key
    if email is not None:
        condition = condition | (user_account.c.email == email)
    return conn.execute(sa.select(user_account.c.id).where(condition).limit(1)).first() is not None


def create_user(
    conn: Connection,
    *,
    username: str,
    password: str,
    role: Role | str,
    fhir_ref: str | None = None,
    organization: str | None = None,
    locale: str = "en",
    phone: str | None = None,
    email: str | None = None,
) -> User:
    """Create an account after checking every field and the password's strength."""
    if not _USERNAME.fullmatch(username):
        raise InvalidUserData("The username must be 3-64 characters: letters, digits and . _ @ -")
    role = _checked_role(role)
    email = email.strip().lower() if email else None
    _checked_fields(role=role, fhir_ref=fhir_ref, organization=organization, locale=locale, phone=phone, email=email)
    _checked_password(password, username)
    username_key = username.lower()
    if _taken(conn, username_key=username_key, email=email):
        raise UsernameTaken("That username or e-mail address is already in use")
    now = _now()
    values = dict(
        id=str(uuid.uuid4()),
        username=username,
        username_key=username_key,
        password_hash=passwords.hash_password(password),
        role=role.value,
        fhir_ref=fhir_ref,
        organization=organization,
        locale=locale,
        phone=phone,
        email=email,
        locked=False,
        locked_until=None,
        failed_logins=0,
        totp_secret=None,
        totp_pending=None,
        totp_last_step=None,
        password_changed=now,
        created=now,
        last_login=None,
    )
    try:
        # A savepoint, so a concurrent insert of the same name fails cleanly here and not at commit.
        with conn.begin_nested():
            conn.execute(user_account.insert().values(**values))
    except sa.exc.IntegrityError:
        raise UsernameTaken("That username or e-mail address is already in use") from None
    return get_user(conn, user_id=values["id"])


def _row(conn: Connection, condition: sa.ColumnElement[bool]) -> sa.Row | None:
    return conn.execute(sa.select(user_account).where(condition)).one_or_none()


def get_user(conn: Connection, *, user_id: str) -> User:
    """The account with this id, or UserNotFound."""
    row = _row(conn, user_account.c.id == user_id[:36])
    if row is None:
        raise UserNotFound("No such user")
    return _user(row)


def get_by_username(conn: Connection, *, username: str) -> User | None:
    """The account with this username in any letter case, or None."""
    if not _USERNAME.fullmatch(username):
        return None
    row = _row(conn, user_account.c.username_key == username.lower())
    return _user(row) if row is not None else None


def linked_to(conn: Connection, *, fhir_ref: str) -> list[User]:
    """The accounts linked to a FHIR Patient, RelatedPerson or Practitioner (e.g. "Patient/p1")."""
    query = sa.select(user_account).where(user_account.c.fhir_ref == fhir_ref).order_by(user_account.c.username_key)
    return [_user(row) for row in conn.execute(query)]


def list_users(conn: Connection, *, role: Role | str | None = None) -> list[User]:
    """All accounts, or those of one role, ordered by username."""
    query = sa.select(user_account).order_by(user_account.c.username_key)
    if role is not None:
        query = query.where(user_account.c.role == _checked_role(role).value)
    return [_user(row) for row in conn.execute(query)]


def _update(conn: Connection, user_id: str, **values: object) -> User:
    result = conn.execute(sa.update(user_account).where(user_account.c.id == user_id[:36]).values(**values))
    if result.rowcount == 0:
        raise UserNotFound("No such user")
    return get_user(conn, user_id=user_id)


def lock_user(conn: Connection, *, user_id: str) -> User:
    """Lock an account until an administrator unlocks it."""
    return _update(conn, user_id, locked=True)


def unlock_user(conn: Connection, *, user_id: str) -> User:
    """Lift an administrator's lock and any temporary lockout, and forget the failed logins."""
    user = _update(conn, user_id, locked=False, locked_until=None, failed_logins=0)
    throttle.clear(conn, f"user:{user.id}")
    return user


def reset_password(conn: Connection, *, user_id: str, new_password: str) -> User:
    """Give an account a new password (it must pass the strength rules) and lift a temporary lockout."""
    user = get_user(conn, user_id=user_id)
    _checked_password(new_password, user.username)
    throttle.clear(conn, f"user:{user.id}")
    return _update(
        conn,
        user_id,
        password_hash=passwords.hash_password(new_password),
        password_changed=_now(),
        locked_until=None,
        failed_logins=0,
    )


def set_locale(conn: Connection, *, user_id: str, locale: str) -> User:
    """Set the language the user's pages and messages are shown in."""
    _checked_locale(locale)
    return _update(conn, user_id, locale=locale)


class TotpEnrolmentError(IdentityError):
    """No enrolment is pending, or the code does not match the secret being enrolled."""

    status_code = 400


def _totp_binding(user_id: str) -> str:
    return f"totp:{user_id}"


def begin_totp_enrolment(conn: Connection, *, user_id: str) -> str:
    """Offer the account a new TOTP secret and return it; it takes effect only once confirmed with a code."""
    secret = totp.new_secret()
    _update(conn, user_id, totp_pending=sealing.seal(secret, bound_to=_totp_binding(user_id)))
    return secret


def pending_totp_secret(conn: Connection, *, user_id: str) -> str | None:
    """The secret offered at enrolment and not yet confirmed, for showing again; None if none is pending."""
    row = _row(conn, user_account.c.id == user_id)
    if row is None or row.totp_pending is None:
        return None
    return sealing.unseal(row.totp_pending, bound_to=_totp_binding(user_id))


def confirm_totp_enrolment(conn: Connection, *, user_id: str, code: str) -> User:
    """Switch the second factor on when code proves the authenticator holds the pending secret."""
    secret = pending_totp_secret(conn, user_id=user_id)
    if secret is None:
        raise TotpEnrolmentError("No second factor is waiting to be confirmed; start again")
    step = totp.matching_step(secret, code.strip()[:16], at=clock.now())
    if step is None:
        raise TotpEnrolmentError("That code does not match; check the clock of your phone and try the newest code")
    return _update(conn, user_id, totp_secret=sealing.seal(secret, bound_to=_totp_binding(user_id)),
                   totp_pending=None, totp_last_step=step)


def enable_totp(conn: Connection, *, user_id: str) -> str:
    """Give the account a new TOTP secret at once (administrators, tests) and return it."""
    secret = totp.new_secret()
    _update(conn, user_id, totp_secret=sealing.seal(secret, bound_to=_totp_binding(user_id)),
            totp_pending=None, totp_last_step=None)
    return secret


def current_totp_matches(conn: Connection, *, user_id: str, code: str) -> bool:
    """True when code is a current one-time code of the account's active second factor."""
    row = _row(conn, user_account.c.id == user_id)
    if row is None or row.totp_secret is None:
        return False
    try:
        secret = sealing.unseal(row.totp_secret, bound_to=_totp_binding(user_id))
    except sealing.SealBroken:
        return False
    return totp.matching_step(secret, code.strip()[:16], at=clock.now()) is not None


def disable_totp(conn: Connection, *, user_id: str) -> User:
    """Switch the second factor off (after the caller has checked who is asking)."""
    return _update(conn, user_id, totp_secret=None, totp_pending=None, totp_last_step=None)


# The most a user of each role may be granted: tokens and web pages act within it.
ROLE_SCOPE_CEILING = {
    "patient": "openid fhirUser offline_access patient/*.cruds",
    "caregiver": "openid fhirUser offline_access patient/*.cruds",
    "researcher": "openid fhirUser offline_access user/*.rs",
    "public_health_officer": "openid fhirUser offline_access user/*.rs user/Communication.cu",
    # Inspectors read the directory (which facility, where), never a person's record.
    "health_inspector": "openid fhirUser offline_access user/Organization.rs user/Location.rs",
}
STAFF_CEILING = "openid fhirUser offline_access user/*.cruds"


def scope_ceiling(role: Role | str) -> ScopeSet:
    """The widest scopes a user of role may hold."""
    return parse_scopes(ROLE_SCOPE_CEILING.get(str(role), STAFF_CEILING))


def context_for(user: User, remote_addr: str | None = None) -> AccessContext:
    """The access context of a signed-in user (web pages act with the role's scope ceiling)."""
    patient = user.fhir_ref if (user.fhir_ref or "").startswith("Patient/") else None
    return AccessContext(
        kind="user",
        name=user.username,
        roles=frozenset({user.role.value}),
        organization=user.organization,
        remote_addr=remote_addr,
        subject=user.id,
        fhir_user=user.fhir_ref,
        patient=patient,
        scopes=scope_ceiling(user.role.value),
    )


def _refuse_while_locked_out(user: User) -> None:
    if user.locked_until is not None and parse_instant(user.locked_until) > clock.now():
        raise AccountLocked(user.locked_until)


def _count_failure(conn: Connection, user: User, refusal: AuthenticationError) -> NoReturn:
    key = f"user:{user.id}"
    window = throttle.count_event(conn, key, window_seconds=throttle.WINDOW_SECONDS)
    values: dict[str, object] = {"failed_logins": user_account.c.failed_logins + 1}
    if window.count >= throttle.ACCOUNT_FAILURE_LIMIT:
        until = format_instant(clock.now() + timedelta(seconds=throttle.ACCOUNT_LOCKOUT_SECONDS))
        values["locked_until"] = until
        refusal = AccountLocked(until)
        # After the lockout the account gets a fresh allowance of attempts.
        throttle.clear(conn, key)
    conn.execute(sa.update(user_account).where(user_account.c.id == user.id).values(**values))
    raise refusal


def _fail_unknown_user(conn: Connection, username_key: str, password: str) -> NoReturn:
    # An unknown username behaves exactly like a known one: the same Argon2 work, the same
    # lockout after five failures, so neither timing nor lockouts reveal which usernames exist.
    key = f"name:{username_key}"
    lockout = timedelta(seconds=throttle.ACCOUNT_LOCKOUT_SECONDS)
    window = throttle.current(conn, key, window_seconds=throttle.ACCOUNT_LOCKOUT_SECONDS)
    if window is not None and window.count >= throttle.ACCOUNT_FAILURE_LIMIT:
        raise AccountLocked(format_instant(window.start + lockout))
    passwords.spend_verify_time(password)
    window = throttle.count_event(conn, key, window_seconds=throttle.WINDOW_SECONDS)
    if window.count >= throttle.ACCOUNT_FAILURE_LIMIT:
        window = throttle.restart(conn, key, count=throttle.ACCOUNT_FAILURE_LIMIT)
        raise AccountLocked(format_instant(window.start + lockout))
    raise LoginFailed()


def _check_totp(conn: Connection, user: User, row: sa.Row, code: str | None) -> int:
    if not code:
        raise TotpRequired()
    try:
        secret = sealing.unseal(row.totp_secret, bound_to=_totp_binding(user.id))
    except sealing.SealBroken:
        # A secret that does not open was altered or copied in the database: no code can pass.
        log.error("The TOTP secret of user %s does not open; the account needs a new second factor", user.id)
        _count_failure(conn, user, TotpRequired())
    step = totp.matching_step(secret, code.strip()[:16], at=clock.now())
    # A code is accepted once: replaying one seen at an earlier login is a failure (ASVS 2.8.4).
    if step is None or (row.totp_last_step is not None and step <= row.totp_last_step):
        _count_failure(conn, user, TotpRequired())
    return step


def authenticate(
    conn: Connection, *, username: str, password: str, remote_addr: str | None, totp_code: str | None = None
) -> User:
    """Check a login and return the user, or raise AuthenticationError; commit even then (see login()).

    Attempts are throttled per address; five failures within 15 minutes lock an account for 15
    minutes. Accounts with TOTP enabled also need a valid one-time code.
    """
    address = f"addr:{(remote_addr or 'unknown')[:_MAX_ADDRESS]}"
    try:
        throttle.check_and_count(
            conn, address, limit=throttle.ADDRESS_ATTEMPT_LIMIT, window_seconds=throttle.WINDOW_SECONDS
        )
    except Throttled as exc:
        raise LoginThrottled(exc.retry_after_seconds) from None
    password = password[: _MAX_LOGIN_PASSWORD + 1]
    if not _USERNAME.fullmatch(username) or len(password) > _MAX_LOGIN_PASSWORD:
        passwords.spend_verify_time(password)
        raise LoginFailed()
    row = _row(conn, user_account.c.username_key == username.lower())
    if row is None:
        _fail_unknown_user(conn, username.lower(), password)
    user = _user(row)
    _refuse_while_locked_out(user)
    if not passwords.verify_password(row.password_hash, password):
        _count_failure(conn, user, LoginFailed())
    if user.locked:
        raise AccountLocked(None)
    values: dict[str, object] = {"failed_logins": 0, "locked_until": None, "last_login": _now()}
    if row.totp_secret is not None:
        values["totp_last_step"] = _check_totp(conn, user, row, totp_code)
    if passwords.needs_rehash(row.password_hash):
        values["password_hash"] = passwords.hash_password(password)
    throttle.clear(conn, f"user:{user.id}")
    # A successful login gives its attempt back, so many staff behind one hospital NAT are not throttled.
    throttle.refund(conn, address)
    return _update(conn, user.id, **values)


def login(
    *,
    username: str,
    password: str,
    remote_addr: str | None,
    totp_code: str | None = None,
    engine: Engine | None = None,
) -> User:
    """Authenticate in a unit of work of its own that commits even when the login is refused, so failures count."""
    with unit_of_work(engine) as conn:
        try:
            return authenticate(
                conn, username=username, password=password, remote_addr=remote_addr, totp_code=totp_code
            )
        except AuthenticationError as exc:
            refused = exc
    raise refused
