"""Self-service accounts: patients sign themselves up, and anyone resets a forgotten password, each proven by a code.

Sign-up links the new account to the Patient record that holds the same resident identity number
only when that record's birth date agrees and the phone or e-mail the code went to is on it, and no
other account is linked to it yet. The ID number alone is no proof: it is printed on far too many
papers. Every refusal reads the same to the person signing up and is audited with the record it
concerned. When no record holds the number, a new Patient is created from what was entered.

A password reset answers identically whether or not an account matches, so it reveals no accounts.
"""

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcare.fhir import store
from smartcare.fhir.search.execute import run_search
from smartcare.fhir.search.query import QueryCompiler
from smartcare.platform import audit, clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import clients, users, verification
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.tables import user_account
from smartcare.platform.security.verification import CodeUnusable, SendThrottled, VerificationError
from smartcare.platform.web import sessions

# The same identifier system the demo region uses (smartcare/demo/fhirtypes.py), so its residents can sign up.
RESIDENT_ID_SYSTEM = "https://smartcare.example/fhir/sid/cn-resident-id"
_IDENTIFIER_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "NI",
                                "display": "National unique individual identifier"}]}
MAX_NAME = 50
MAX_CONTACT = 254
MAX_RESIDENT_ID_INPUT = 24
MAX_IDENTIFIER_INPUT = 254
_MAX_REMOTE = 64
_SAFE_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
# Mainland China mobile numbers: 11 digits starting 13-19, with or without the +86 country code.
_MOBILE = re.compile(r"(?:\+?86|0086)?(1[3-9][0-9]{9})")
_PHONE_NOISE = re.compile(r"[\s()-]")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}")
# Letters and marks of any script, spaces, and the apostrophes, hyphens and dots names carry
# (the middle dot joins the parts of transliterated names, e.g. 买买提·艾力).
_NAME_PUNCTUATION = frozenset(" '’-.·・")
# Province-level codes that open a resident ID (the administrative divisions of GB/T 2260).
_PROVINCES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43",
    "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
})


class SignupError(Exception):
    """A refused sign-up or reset step; status_code is the HTTP status the page answers with."""

    status_code = 400


class SignupInvalid(SignupError):
    """Fields of the sign-up form are wrong; problems maps each field to a stable message key."""

    status_code = 422

    def __init__(self, problems: dict[str, str]):
        super().__init__("Some sign-up details are not valid: " + ", ".join(f"{k}={v}" for k, v in problems.items()))
        self.problems = problems


class SignupRefused(SignupError):
    """No account can be made from these details; deliberately says nothing about whose record or why."""

    status_code = 409

    def __init__(self) -> None:
        super().__init__("An account cannot be created with these details")


class ContactInUse(SignupError):
    """The phone number or e-mail address just verified already belongs to an account."""

    status_code = 409


# --- what people type ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contact:
    """A phone number or e-mail address a code can go to: channel "sms" or "email", address normalised."""

    channel: str
    address: str


def parse_contact(value: str) -> Contact | None:
    """A mainland mobile number (kept as its 11 digits) or an e-mail address (lower-cased); None if neither."""
    value = value.strip()
    if not value or len(value) > MAX_CONTACT:
        return None
    if "@" in value:
        return Contact("email", value.lower()) if _EMAIL.fullmatch(value) else None
    found = _MOBILE.fullmatch(_PHONE_NOISE.sub("", value))
    return Contact("sms", found.group(1)) if found else None


def resident_id_check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the 17-digit body of a resident ID.

    GB 11643-1999 (citizen identification number) weights digit i, counted 18..2 from the right,
    by 2^(i-1) mod 11; the check value is (12 - sum mod 11) mod 11, written X when it is 10.
    """
    total = sum(int(digit) * pow(2, 17 - position, 11) for position, digit in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def parse_resident_id(value: str) -> tuple[str, date] | None:
    """A valid 18-character resident identity number (GB 11643-1999), upper-cased, and its birth date; else None.

    The layout is a 6-digit address code, the birth date as YYYYMMDD, a 3-digit sequence number
    and the check character.
    """
    if len(value) > MAX_RESIDENT_ID_INPUT:
        return None
    number = "".join(value.split()).upper()
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number) or number[:2] not in _PROVINCES:
        return None
    if resident_id_check_character(number[:17]) != number[17]:
        return None
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None
    if born.year < 1900 or born > clock.now().date():
        return None
    return number, born


def clean_name(value: str) -> str | None:
    """A person's name part with spaces tidied, if it is 1-50 letters and name punctuation; else None."""
    name = " ".join(unicodedata.normalize("NFC", value[: MAX_NAME * 4]).split())
    if not name or len(name) > MAX_NAME:
        return None
    if not any(unicodedata.category(c)[0] == "L" for c in name):
        return None
    if any(unicodedata.category(c)[0] not in "LM" and c not in _NAME_PUNCTUATION for c in name):
        return None
    return name


@dataclass(frozen=True, slots=True)
class SignupDetails:
    """Who is signing up, checked: where the code goes, their resident ID, name and birth date."""

    contact: Contact
    resident_id: str
    family: str
    given: str
    birth_date: date


def check_details(*, contact: str, resident_id: str, family: str, given: str, birth_date: str) -> SignupDetails:
    """The sign-up details, checked and normalised; SignupInvalid names every field that is wrong."""
    problems: dict[str, str] = {}
    parsed_contact = parse_contact(contact)
    if parsed_contact is None:
        problems["contact"] = "contact_invalid"
    parsed_id = parse_resident_id(resident_id)
    if parsed_id is None:
        problems["resident_id"] = "resident_id_invalid" if resident_id.strip() else "resident_id_missing"
    clean_family, clean_given = clean_name(family), clean_name(given)
    if clean_family is None:
        problems["family"] = "name_invalid" if family.strip() else "family_missing"
    if clean_given is None:
        problems["given"] = "name_invalid" if given.strip() else "given_missing"
    born = None
    if len(birth_date) == 10:
        try:
            born = date.fromisoformat(birth_date)
        except ValueError:
            born = None
    if born is None:
        problems["birth_date"] = "birth_date_invalid"
    elif parsed_id is not None and parsed_id[1] != born:
        problems["birth_date"] = "birth_date_mismatch"
    if problems:
        raise SignupInvalid(problems)
    return SignupDetails(parsed_contact, parsed_id[0], clean_family, clean_given, born)


# --- sign-up -------------------------------------------------------------------------------------------


def _stored(details: SignupDetails) -> dict[str, Any]:
    return {"resident_id": details.resident_id, "family": details.family, "given": details.given,
            "birth_date": details.birth_date.isoformat()}


def _restored(pending: verification.PendingCode) -> SignupDetails:
    held = pending.details or {}
    return SignupDetails(Contact(pending.channel, pending.address), held["resident_id"], held["family"],
                         held["given"], date.fromisoformat(held["birth_date"]))


def start_signup(conn: Connection, *, details: SignupDetails, remote_addr: str | None) -> verification.PendingCode:
    """Send a code to the contact given; the ticket it returns goes with the code to complete_signup."""
    verification.limit_sender(conn, remote_addr)
    return verification.issue(conn, purpose="signup", channel=details.contact.channel,
                              address=details.contact.address, details=_stored(details))


def resend_signup_code(conn: Connection, *, ticket: str, remote_addr: str | None) -> verification.PendingCode:
    """A fresh code for a sign-up under way (the old one stops working); throttled like the first."""
    verification.limit_sender(conn, remote_addr)
    return verification.resend(conn, ticket=ticket, purpose="signup")


def _contact_in_use(conn: Connection, contact: Contact) -> bool:
    column = user_account.c.email if contact.channel == "email" else user_account.c.phone
    return conn.execute(sa.select(user_account.c.id).where(column == contact.address).limit(1)).first() is not None


def _lock_identity(conn: Connection, resident_id: str) -> None:
    # Two sign-ups with one ID number take turns, so they cannot both link or both create a record.
    # SQLite needs nothing: unit_of_work begins IMMEDIATE, so writers already take turns.
    if conn.dialect.name == "postgresql":
        digest = hashlib.sha256(f"smartcare.signup:{resident_id}".encode()).digest()
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                     {"key": int.from_bytes(digest[:8], "big", signed=True)})


def _records_with_id(conn: Connection, resident_id: str) -> list[dict[str, Any]]:
    request = QueryCompiler(strict=True).parse(
        "Patient", [("identifier", f"{RESIDENT_ID_SYSTEM}|{resident_id}")], default_count=2, max_count=2)
    request.total = "none"
    return [match.resource for match in run_search(conn, SYSTEM, request).matches]


def _normalised_telecom(patient: dict[str, Any]) -> set[str]:
    found = set()
    for point in patient.get("telecom", []):
        value = point.get("value")
        if isinstance(value, str) and point.get("system") in ("phone", "sms", "email"):
            contact = parse_contact(value)
            if contact is not None:
                found.add(contact.address)
    return found


def _why_not_link(conn: Connection, patient: dict[str, Any], details: SignupDetails) -> str | None:
    """What stops linking this person to patient, in words for the audit trail; None when nothing does."""
    if patient.get("birthDate") != details.birth_date.isoformat():
        return "the record's birth date differs"
    if details.contact.address not in _normalised_telecom(patient):
        return "the verified contact is not on the record"
    linked = conn.execute(sa.select(user_account.c.id).where(
        user_account.c.fhir_ref == f"Patient/{patient['id']}").limit(1)).first()
    if linked is not None:
        return "the record already has an account"
    return None


def _new_patient(conn: Connection, details: SignupDetails) -> str:
    telecom = ({"system": "email", "value": details.contact.address, "use": "home"}
               if details.contact.channel == "email" else
               {"system": "phone", "value": details.contact.address, "use": "mobile"})
    stored = store.create(conn, SYSTEM, {
        "resourceType": "Patient",
        "identifier": [{"use": "official", "type": _IDENTIFIER_TYPE, "system": RESIDENT_ID_SYSTEM,
                        "value": details.resident_id}],
        "active": True,
        "name": [{"use": "official", "family": details.family, "given": [details.given]}],
        "telecom": [telecom],
        "birthDate": details.birth_date.isoformat(),
    })
    return stored.reference


def _refuse(conn: Connection, *, ticket: str, username: str, remote_addr: str | None, patient: str | None,
            reason: str) -> None:
    verification.consume(conn, ticket=ticket)
    name = username if _SAFE_NAME.fullmatch(username) else "unrecognised"
    audit.record(conn, ctx=AccessContext(kind="user", name=name, remote_addr=remote_addr), action="C",
                 subtype="signup", outcome="4", patient=patient, description=f"sign-up refused: {reason}")
    raise SignupRefused()


def _complete(conn: Connection, *, ticket: str, code: str, username: str, password: str, locale: str,
              remote_addr: str | None) -> users.User:
    details = _restored(verification.check(conn, ticket=ticket, purpose="signup", code=code))
    if _contact_in_use(conn, details.contact):
        raise ContactInUse("That phone number or e-mail address already belongs to an account")
    _lock_identity(conn, details.resident_id)
    records = _records_with_id(conn, details.resident_id)
    if len(records) > 1:
        _refuse(conn, ticket=ticket, username=username, remote_addr=remote_addr, patient=None,
                reason="more than one record holds this resident ID")
    if records:
        patient_ref = f"Patient/{records[0]['id']}"
        reason = _why_not_link(conn, records[0], details)
        if reason is not None:
            _refuse(conn, ticket=ticket, username=username, remote_addr=remote_addr, patient=patient_ref,
                    reason=reason)
        how = "signed up and linked to the existing record"
    else:
        patient_ref = _new_patient(conn, details)
        how = "signed up; a new record was created"
    contact = details.contact
    user = users.create_user(
        conn, username=username, password=password, role=users.Role.PATIENT, fhir_ref=patient_ref,
        locale=locale, phone=contact.address if contact.channel == "sms" else None,
        email=contact.address if contact.channel == "email" else None,
    )
    verification.consume(conn, ticket=ticket)
    audit.record(conn, ctx=users.context_for(user, remote_addr), action="C", subtype="signup",
                 patient=patient_ref, description=how)
    return user


def complete_signup(
    *, ticket: str, code: str, username: str, password: str, locale: str = "en", remote_addr: str | None,
    engine: Engine | None = None,
) -> users.User:
    """Check the code, then create the patient account linked to its record (existing or new).

    Raises VerificationError for a bad code, SignupRefused when the record cannot be linked,
    ContactInUse, or the IdentityError of create_user (weak password, username taken). A wrong
    code's try and a refusal's audit entry are committed even so; the other refusals change
    nothing, so the same code can be entered again with a better username or password.
    """
    with unit_of_work(engine) as conn:
        try:
            return _complete(conn, ticket=ticket, code=code, username=username, password=password, locale=locale,
                             remote_addr=(remote_addr or "")[:_MAX_REMOTE] or None)
        except (VerificationError, SignupRefused) as exc:
            refused = exc
    raise refused


# --- password reset -----------------------------------------------------------------------------------


def _account_for(conn: Connection, identifier: str) -> tuple[users.User, Contact] | None:
    """The account a reset asks for, with the contact on file the code goes to; None if there is none."""
    contact = parse_contact(identifier)
    if contact is not None:
        column = user_account.c.email if contact.channel == "email" else user_account.c.phone
        rows = conn.execute(sa.select(user_account.c.id).where(column == contact.address).limit(2)).all()
        # A phone number shared by two accounts names neither.
        return (users.get_user(conn, user_id=rows[0].id), contact) if len(rows) == 1 else None
    user = users.get_by_username(conn, username=identifier)
    if user is None:
        return None
    phone = parse_contact(user.phone) if user.phone else None
    if phone is not None and phone.channel == "sms":
        return user, phone
    return (user, Contact("email", user.email)) if user.email else None


def request_password_reset(conn: Connection, *, identifier: str, remote_addr: str | None) -> str:
    """Send a reset code to the contact on file of the account identifier names; return the ticket.

    identifier is a username, phone number or e-mail address. A ticket comes back whether or not an
    account matches: a decoy when none does, held to the same send limits, so neither the answer
    nor the ticket's behaviour reveals an account. SendThrottled only when this network asked too often.
    """
    verification.limit_sender(conn, remote_addr)
    identifier = identifier.strip()[:MAX_IDENTIFIER_INPUT]
    found = _account_for(conn, identifier) if identifier else None
    user_id, address = (found[0].id, found[1].address) if found else (None, identifier or "-")
    try:
        with conn.begin_nested():
            if found is None:
                return verification.issue_decoy(conn, purpose="reset", address=address).ticket
            return verification.issue(conn, purpose="reset", channel=found[1].channel, address=address,
                                      details={"user_id": user_id}).ticket
    except SendThrottled:
        # Asked again too soon: the code already on its way is good, as long as nobody has tried it
        # (a ticket with tries on it would tell a prober that a real account stands behind it).
        live = verification.untried(conn, address=address, purpose="reset")
        if live is not None and (live.details or {}).get("user_id") in (None, user_id):
            return live.ticket
        return verification.issue_decoy(conn, purpose="reset", address=address, limited=False).ticket


def _confirm_reset(conn: Connection, *, ticket: str, code: str, new_password: str,
                   remote_addr: str | None) -> users.User:
    pending = verification.check(conn, ticket=ticket, purpose="reset", code=code)
    user_id = (pending.details or {}).get("user_id")
    if not isinstance(user_id, str):
        raise CodeUnusable("expired")
    user = users.reset_password(conn, user_id=user_id, new_password=new_password)
    verification.consume(conn, ticket=ticket)
    ended = sessions.end_all_sessions(conn, user_id=user.id)
    revoked = clients.revoke_user_tokens(conn, user_id=user.id)
    audit.record(conn, ctx=users.context_for(user, remote_addr), action="U", subtype="password-reset",
                 description=f"password reset with a code sent by {pending.channel}; "
                             f"{ended} sessions ended, {revoked} refresh tokens revoked")
    return user


def confirm_password_reset(
    *, ticket: str, code: str, new_password: str, remote_addr: str | None, engine: Engine | None = None
) -> users.User:
    """Check the code and give the account the new password; every session and refresh token of it ends.

    A wrong code's try is committed even though VerificationError is raised; a weak password
    (WeakPassword) changes nothing, so the same code can be entered again.
    """
    with unit_of_work(engine) as conn:
        try:
            return _confirm_reset(conn, ticket=ticket, code=code, new_password=new_password,
                                  remote_addr=(remote_addr or "")[:_MAX_REMOTE] or None)
        except VerificationError as exc:
            refused = exc
    raise refused
