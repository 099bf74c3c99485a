"""Granting and withdrawing proxy access to one's record for a family member's account.

A grant is two FHIR records written together as the person granting (a patient for themself, or a proxy for
the person they look after), through the gateway so the policy decides and the audit records it:
  - a RelatedPerson about the patient, with the relationship, the member's name, and an identifier in
    policy.ACCOUNT_SID whose value is the member's user id (the account it stands for);
  - a proxy-access Consent of the patient (scope patient-privacy, status active, period from now) whose
    provision permits that RelatedPerson.
The access policy (security/policy.py, fhir/access.py) then lets the member's account reach the patient while
both hold. Withdrawing marks the Consent inactive and the RelatedPerson inactive, at once and together.
The member is told in their inbox both times.

The form looks a user name up, and its answer differs for a name that is not a patient account: each look-up is
counted per account and per address with the sign-in throttle's counters (platform/security/throttle.py), so nobody
can go through a list of names; the answer for an unknown name is the same whether the name is free, a staff
account or a locked one.
"""

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _, translations
from smartcare.platform.notifications import notification_kind, notify
from smartcare.platform.security import policy, throttle, users
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import fhir_text

ROLE_CODES = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
# Relationships of the member to the patient, as HL7 v3 RoleCode personal relationship codes (code, display).
RELATIONSHIPS: dict[str, tuple[str, str]] = {
    "CHILD": ("child", _("my child (son or daughter)")),
    "PRN": ("parent", _("my parent")),
    "SPS": ("spouse", _("my spouse")),
    "SIB": ("sibling", _("my brother or sister")),
    "GRNDCHILD": ("grandchild", _("my grandchild")),
    "FAMMEMB": ("family member", _("another family member")),
}
# How the member's relationship reads on their side ("you look after your father"): the patient is the member's ...
SEEN_FROM_MEMBER: dict[str, str] = {"CHILD": _("parent"), "PRN": _("child"), "SPS": _("spouse"),
                                    "SIB": _("brother or sister"), "GRNDCHILD": _("grandparent"),
                                    "FAMMEMB": _("family member")}
FAMILY_ACCESS = notification_kind("family.access", label=_("Family access to records"))
MAX_NAME = 60
PEOPLE_SHOWN = 20
PATIENT_SIDE = ("patient", "caregiver")
# User names the grant form may look up in a window, per account and per address (a household may share one).
LOOKUP_WINDOW_SECONDS = 15 * 60
LOOKUPS_PER_ACCOUNT = 10
LOOKUPS_PER_ADDRESS = 30


class GrantError(Exception):
    """A grant or withdrawal that cannot be made as asked; the message is shown on the form (translated there)."""

    def __init__(self, message: str, *, field: str = "", hint: str = ""):
        super().__init__(message)
        self.field = field
        self.hint = hint


class GrantThrottled(GrantError):
    """Too many user names looked up from this account or address; the form may be used again in `minutes`."""

    def __init__(self, retry_after_seconds: int):
        super().__init__("Too many attempts")
        self.minutes = max(1, math.ceil(retry_after_seconds / 60))


@dataclass(frozen=True, slots=True)
class Grant:
    """One family member who may look after the patient's record."""

    related_person: str  # RelatedPerson id
    consent: str  # Consent id
    name: str
    relationship: str  # RoleCode
    username: str
    since: str


def _account_of(person: dict[str, Any]) -> str | None:
    for identifier in person.get("identifier") or []:
        if identifier.get("system") == policy.ACCOUNT_SID and identifier.get("value"):
            return str(identifier["value"])
    return None


def _relationship(person: dict[str, Any]) -> str:
    for concept in person.get("relationship") or []:
        for coding in concept.get("coding") or []:
            if coding.get("system") == ROLE_CODES and coding.get("code") in RELATIONSHIPS:
                return str(coding["code"])
    return "FAMMEMB"


def _names_actor(consent: dict[str, Any], related_person: str) -> bool:
    actors = (consent.get("provision") or {}).get("actor") or []
    return any((a.get("reference") or {}).get("reference") == f"RelatedPerson/{related_person}" for a in actors)


def _is_proxy_consent(consent: dict[str, Any]) -> bool:
    return consent.get("status") == "active" and any(
        c.get("system") == policy.CONSENT_CATEGORY_SYSTEM and c.get("code") == policy.PROXY_ACCESS
        for concept in consent.get("category") or [] for c in concept.get("coding") or [])


def grants(ctx: AccessContext, patient_id: str) -> list[Grant]:
    """The family accounts that may look after the patient's record now, oldest first (read as ctx)."""
    people = gateway.search(ctx, "RelatedPerson", [("patient", f"Patient/{patient_id}"), ("_count", "50")])
    people = [p for p in people if p.get("active") is not False and _account_of(p)]
    if not people:
        return []
    consents = [c for c in gateway.search(ctx, "Consent", [("patient", f"Patient/{patient_id}"), ("_count", "100")])
                if _is_proxy_consent(c)]
    found: list[Grant] = []
    with unit_of_work() as conn:
        for person in people:
            consent = next((c for c in consents if _names_actor(c, person["id"])), None)
            if consent is None:
                continue
            try:
                account = users.get_user(conn, user_id=_account_of(person) or "")
            except users.UserNotFound:
                continue
            found.append(Grant(related_person=person["id"], consent=consent["id"],
                               name=fhir_text.person_name(person) or account.username,
                               relationship=_relationship(person), username=account.username,
                               since=str((consent.get("period") or {}).get("start") or consent.get("dateTime") or "")))
    return sorted(found, key=lambda g: g.since)


def _count_lookup(ctx: AccessContext) -> None:
    """Count one user-name look-up for the caller's account and address; GrantThrottled once either has used its
    allowance (counted in a transaction of its own, so a refused grant still counts)."""
    keys = [(f"family-grant:{ctx.subject or ctx.name}", LOOKUPS_PER_ACCOUNT)]
    if ctx.remote_addr:
        keys.append((f"family-grant-addr:{ctx.remote_addr}", LOOKUPS_PER_ADDRESS))
    try:
        with unit_of_work() as conn:
            for key, limit in keys:
                throttle.check_and_count(conn, key[:throttle.MAX_KEY_LENGTH], limit=limit,
                                         window_seconds=LOOKUP_WINDOW_SECONDS)
    except throttle.Throttled as exc:
        raise GrantThrottled(exc.retry_after_seconds) from exc


def _member(conn: Connection, ctx: AccessContext, who: str) -> users.User:
    who = who.strip()
    member = users.get_by_username(conn, username=who) if who else None
    if member is None or member.role.value not in PATIENT_SIDE or member.locked:
        # One answer for a free name, a staff account and a locked one: the form tells no more than that.
        raise GrantError(_("There is no patient account with that user name."), field="member",
                         hint=_("Check it with your family member: it is the name they sign in to SmartCare with."))
    if member.id == ctx.subject:
        raise GrantError(_("That is your own account."), field="member")
    return member


def grant(ctx: AccessContext, patient_id: str, *, member: str, name: str, relationship: str) -> Grant:
    """Let a family member's account look after the patient's record: the RelatedPerson and its proxy Consent,
    written together as ctx, and a notice to the member. GrantError for a form that cannot be granted."""
    name = " ".join(name.split())[:MAX_NAME]
    if not name:
        raise GrantError(_("Give the family member's name."), field="name")
    if relationship not in RELATIONSHIPS:
        raise GrantError(_("Choose how they are related to you."), field="relationship")
    _count_lookup(ctx)
    existing = grants(ctx, patient_id)
    with unit_of_work() as conn:
        account = _member(conn, ctx, member)
        if any(g.username == account.username for g in existing):
            raise GrantError(_("That account can look after this record already."), field="member")
        started = clock.format_instant(clock.now())
        role = {"coding": [{"system": ROLE_CODES, "code": relationship, "display": RELATIONSHIPS[relationship][0]}]}
        person = {
            "resourceType": "RelatedPerson", "active": True, "patient": {"reference": f"Patient/{patient_id}"},
            "identifier": [{"system": policy.ACCOUNT_SID, "value": account.id}],
            "relationship": [role], "name": [{"text": name}], "period": {"start": started},
        }
        try:
            stored = gateway.serve_within(conn, ctx, FhirRequest(method="POST", path="RelatedPerson", body=person)).body
            consent = {
                "resourceType": "Consent", "status": "active",
                "scope": {"coding": [{"system": policy.CONSENT_SCOPE_SYSTEM, "code": policy.CONSENT_SCOPE_PRIVACY}]},
                "category": [{"coding": [{"system": policy.CONSENT_CATEGORY_SYSTEM, "code": policy.PROXY_ACCESS}]}],
                "patient": {"reference": f"Patient/{patient_id}"}, "dateTime": started,
                "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                           "code": "OPTIN"}]},
                "provision": {"type": "permit", "period": {"start": started},
                              "actor": [{"role": role, "reference": {"reference": f"RelatedPerson/{stored['id']}"}}]},
            }
            made = gateway.serve_within(conn, ctx, FhirRequest(method="POST", path="Consent", body=consent)).body
        except FhirError as exc:
            raise GrantError(_("You cannot give access to this record.")) from exc
        _tell(conn, account, patient_id, granted=True)
    return Grant(related_person=stored["id"], consent=made["id"], name=name, relationship=relationship,
                 username=account.username, since=started)


def withdraw(ctx: AccessContext, patient_id: str, related_person: str) -> None:
    """End a family member's access to the patient's record (the patient, a proxy, or the member stepping down).

    The Consent becomes inactive and the RelatedPerson inactive, each with the end of its period. A member stepping
    down loses their reach with the first of the two writes, so after reading both as themself (which the policy
    decides and the audit records) they write them through the platform in their name, as the remote consultation
    service writes shares.
    """
    found = next((g for g in grants(ctx, patient_id) if g.related_person == related_person), None)
    if found is None:
        raise GrantError(_("That family member cannot look after this record any more."))
    ended = clock.format_instant(clock.now())
    writer = ctx
    if found.username == ctx.name:
        writer = AccessContext(kind="system", name=f"family-access/{ctx.name}"[:64], roles=frozenset({"system"}),
                               remote_addr=ctx.remote_addr)
    with unit_of_work() as conn:
        try:
            consent = gateway.serve_within(conn, ctx, FhirRequest(method="GET", path=f"Consent/{found.consent}")).body
            person = gateway.serve_within(conn, ctx, FhirRequest(method="GET",
                                                                 path=f"RelatedPerson/{related_person}")).body
            provision = consent.get("provision") or {}
            consent = {**consent, "status": "inactive",
                       "provision": {**provision, "period": {**(provision.get("period") or {}), "end": ended}}}
            person = {**person, "active": False, "period": {**(person.get("period") or {}), "end": ended}}
            gateway.serve_within(conn, writer, FhirRequest(method="PUT", path=f"Consent/{found.consent}",
                                                           body=consent))
            gateway.serve_within(conn, writer, FhirRequest(method="PUT", path=f"RelatedPerson/{related_person}",
                                                           body=person))
        except FhirError as exc:
            raise GrantError(_("You cannot change who looks after this record.")) from exc
        account = users.get_by_username(conn, username=found.username)
        if account is not None:
            _tell(conn, account, patient_id, granted=False)


def _tell(conn: Connection, account: users.User, patient_id: str, *, granted: bool) -> None:
    say = translations(account.locale or "en").gettext
    if granted:
        title = say(_("You can now look after a family member's health record"))
        body = say(_("Open the app and choose their name at the top of My health."))
    else:
        title = say(_("Your access to a family member's health record has ended"))
        body = say(_("You no longer see their record in the app."))
    notify(conn, user_id=account.id, kind=FAMILY_ACCESS.name, title=title, body=body,
           link=f"/app?person={patient_id}" if granted else "/app")


def looked_after(ctx: AccessContext) -> list[dict[str, Any]]:
    """The people besides the caller whose record the caller may open (their own first is left out)."""
    own = (ctx.patient or "").removeprefix("Patient/")
    found = gateway.search(ctx, "Patient", [("_count", str(PEOPLE_SHOWN))])
    return [{"id": p["id"], "name": fhir_text.person_name(p) or p["id"], "birth_date": p.get("birthDate", "")}
            for p in found if p.get("id") and p["id"] != own]


def own_grants(ctx: AccessContext) -> dict[str, Grant]:
    """The caller's own grants by patient id: whose record they look after as a family account (so they may step
    down). One search as ctx: the RelatedPersons naming the caller's account, with the Consents naming them."""
    if ctx.kind != "user" or not ctx.subject:
        return {}
    found = gateway.search(ctx, "RelatedPerson", [("identifier", f"{policy.ACCOUNT_SID}|{ctx.subject}"),
                                                  ("_revinclude", "Consent:actor"), ("_count", "50")])
    people = [p for p in found if p.get("resourceType") == "RelatedPerson" and p.get("active") is not False
              and _account_of(p) == ctx.subject]
    consents = [c for c in found if c.get("resourceType") == "Consent" and _is_proxy_consent(c)]
    mine: dict[str, Grant] = {}
    for person in people:
        patient = ((person.get("patient") or {}).get("reference") or "").removeprefix("Patient/")
        consent = next((c for c in consents if _names_actor(c, person["id"])
                        and (c.get("patient") or {}).get("reference") == f"Patient/{patient}"), None)
        if not patient or consent is None or patient in mine:
            continue
        mine[patient] = Grant(related_person=person["id"], consent=consent["id"],
                              name=fhir_text.person_name(person) or ctx.name, relationship=_relationship(person),
                              username=ctx.name,
                              since=str((consent.get("period") or {}).get("start") or consent.get("dateTime") or ""))
    return mine
