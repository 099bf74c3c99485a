"""Break-the-glass: emergency access to a patient outside one's care, with a reason, for a limited time.

A clinician opens access to one patient with a reason (10 to 500 characters) for 1 to 240
minutes. In the same transaction the opening is audited (subtype break-the-glass, purpose of use
BTG, with the reason) and reported to the patient by a FHIR Communication saying who opened their
record, when, why and until when. While a grant is neither expired nor closed, the access policy
adds its patient to the clinician's reach: fhir/access.py reads this table in SQL when each query
runs, so expiry takes effect at once; fhir/audit_trail.py marks every access that needed the
grant with purpose of use BTG.
"""

import dataclasses
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import Gone, NotFound
from smartcare.platform import audit, clock
from smartcare.platform.i18n import DEFAULT_LOCALE, supported_locale, translations
from smartcare.platform.schema import metadata
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import CLINICAL_ROLES
from smartcare.platform.security.tables import user_account

# One row per emergency access granted; instants are ISO-8601 UTC text as elsewhere.
break_glass_grant = sa.Table(
    "break_glass_grant",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("patient_id", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("started", sa.String(32), nullable=False),
    sa.Column("expires", sa.String(32), nullable=False),
    # Set when the clinician closes the access before it runs out.
    sa.Column("ended", sa.String(32)),
)
sa.Index("ix_break_glass_grant_user", break_glass_grant.c.user_id, break_glass_grant.c.expires)
sa.Index("ix_break_glass_grant_patient", break_glass_grant.c.patient_id)

MIN_REASON, MAX_REASON = 10, 500
MIN_MINUTES, MAX_MINUTES = 1, 240
COMMUNICATION_CATEGORY = "https://smartcare.example/fhir/CodeSystem/communication-category"
_PATIENT_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# Control characters other than tab and line breaks have no place in a typed reason.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class BreakGlassError(Exception):
    """A refused break-the-glass request; status is the HTTP status the API answers with.

    problem names what was wrong ("patient", "reason", "minutes", "no-patient", "not-allowed",
    "no-grant") so pages can say it in the reader's language.
    """

    status = 422

    def __init__(self, message: str, *, problem: str):
        super().__init__(message)
        self.problem = problem


class NotAllowed(BreakGlassError):
    """The caller may not break the glass (only clinicians may)."""

    status = 403


class GrantNotFound(BreakGlassError):
    """No such grant of the caller's."""

    status = 404


@dataclass(frozen=True, slots=True)
class Grant:
    """One emergency access: who, to which patient, why, from when until when, and when closed."""

    id: str
    user_id: str
    username: str
    patient_id: str
    reason: str
    started: str
    expires: str
    ended: str | None

    def is_open(self, now: datetime) -> bool:
        """True while the grant is neither closed nor expired at now."""
        return self.ended is None and self.expires > clock.format_instant(now)

    def as_json(self) -> dict[str, Any]:
        """The grant as the API shows it."""
        return {
            "id": self.id, "patient": f"Patient/{self.patient_id}", "reason": self.reason,
            "started": self.started, "expires": self.expires, "ended": self.ended,
            "active": self.is_open(clock.now()),
        }


def _grant(row: sa.Row) -> Grant:
    return Grant(row.id, row.user_id, row.username, row.patient_id, row.reason, row.started, row.expires, row.ended)


def _checked_patient(patient: object) -> str:
    if not isinstance(patient, str):
        raise BreakGlassError("patient must be a Patient id or reference, like 'Patient/123'", problem="patient")
    patient_id = patient.strip().removeprefix("Patient/")
    if not _PATIENT_ID.fullmatch(patient_id):
        raise BreakGlassError("patient must be a Patient id or reference, like 'Patient/123'", problem="patient")
    return patient_id


def _checked_reason(reason: object) -> str:
    if not isinstance(reason, str):
        raise BreakGlassError("reason must be text saying why you need this record", problem="reason")
    text = reason.strip()
    if not MIN_REASON <= len(text) <= MAX_REASON:
        raise BreakGlassError(f"reason must be {MIN_REASON} to {MAX_REASON} characters (it is {len(text)})",
                              problem="reason")
    if _CONTROL.search(text):
        raise BreakGlassError("reason must be plain text without control characters", problem="reason")
    return text


def _checked_minutes(minutes: object) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise BreakGlassError(f"minutes must be a whole number from {MIN_MINUTES} to {MAX_MINUTES}",
                              problem="minutes")
    return minutes


def _practitioner_name(conn: Connection, ctx: AccessContext) -> str:
    """The clinician as the patient should read it: the Practitioner's name, else the username."""
    ref = ctx.fhir_user or ""
    if ref.startswith("Practitioner/"):
        try:
            practitioner = store.read(conn, SYSTEM, res_type="Practitioner", res_id=ref.split("/", 1)[1]).resource
        except (NotFound, Gone):
            practitioner = None
        for name in (practitioner or {}).get("name", []):
            text = name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip()
            if text:
                return text
    return ctx.name


def _patient_locale(conn: Connection, patient_id: str) -> str:
    locale = conn.execute(
        sa.select(user_account.c.locale).where(user_account.c.fhir_ref == f"Patient/{patient_id}").limit(1)
    ).scalar()
    return supported_locale(locale) or DEFAULT_LOCALE


def _shown(instant: str) -> str:
    return clock.parse_instant(instant).strftime("%Y-%m-%d %H:%M")


def _tell_patient(conn: Connection, ctx: AccessContext, grant: Grant) -> str:
    """Write the Communication that tells the patient about the emergency access; its reference."""
    text = translations(_patient_locale(conn, grant.patient_id)).gettext(
        '{who} opened your health record in an emergency at {when} (UTC), giving this reason: "{reason}". '
        "The emergency access ends at {until} (UTC)."
    ).format(who=_practitioner_name(conn, ctx), when=_shown(grant.started), reason=grant.reason,
             until=_shown(grant.expires))
    patient = {"reference": f"Patient/{grant.patient_id}"}
    communication: dict[str, Any] = {
        "resourceType": "Communication",
        "status": "completed",
        "category": [{"coding": [{"system": COMMUNICATION_CATEGORY, "code": "break-the-glass",
                                  "display": "Emergency access to a health record"}]}],
        "subject": patient,
        "recipient": [patient],
        "sent": grant.started,
        "payload": [{"contentString": text}],
    }
    if (ctx.fhir_user or "").startswith("Practitioner/"):
        communication["sender"] = {"reference": ctx.fhir_user}
    return store.create(conn, SYSTEM, communication).reference


def open_access(conn: Connection, *, ctx: AccessContext, patient_id: str, reason: str, minutes: int = 60) -> Grant:
    """Give a clinician emergency access to one patient for minutes, audited and reported to the patient."""
    if ctx.kind != "user" or not ctx.roles & CLINICAL_ROLES or not ctx.subject:
        raise NotAllowed("Only clinicians may break the glass", problem="not-allowed")
    patient_id = _checked_patient(patient_id)
    reason = _checked_reason(reason)
    minutes = _checked_minutes(minutes)
    try:
        store.read(conn, SYSTEM, res_type="Patient", res_id=patient_id)
    except (NotFound, Gone):
        raise BreakGlassError(f"There is no patient {patient_id}", problem="no-patient") from None
    now = clock.now()
    grant = Grant(
        id=str(uuid.uuid4()), user_id=ctx.subject, username=ctx.name[:64], patient_id=patient_id, reason=reason,
        started=clock.format_instant(now), expires=clock.format_instant(now + timedelta(minutes=minutes)),
        ended=None,
    )
    conn.execute(break_glass_grant.insert().values(
        id=grant.id, user_id=grant.user_id, username=grant.username, patient_id=grant.patient_id,
        reason=grant.reason, started=grant.started, expires=grant.expires, ended=None,
    ))
    told = _tell_patient(conn, ctx, grant)
    audit.record(conn, ctx=ctx, action="E", subtype="break-the-glass", entities=[told],
                 patient=f"Patient/{patient_id}", purpose="BTG", description=reason)
    return grant


def close_access(conn: Connection, *, ctx: AccessContext, grant_id: str) -> Grant:
    """End one of the caller's grants now (a grant already over is returned as it is)."""
    row = conn.execute(sa.select(break_glass_grant).where(
        break_glass_grant.c.id == str(grant_id)[:36], break_glass_grant.c.user_id == (ctx.subject or ""),
    )).first()
    if row is None:
        raise GrantNotFound("You have no such emergency access", problem="no-grant")
    grant = _grant(row)
    now = clock.now()
    if not grant.is_open(now):
        return grant
    ended = clock.format_instant(now)
    conn.execute(sa.update(break_glass_grant).where(break_glass_grant.c.id == grant.id).values(ended=ended))
    return dataclasses.replace(grant, ended=ended)


def active_grants(conn: Connection, *, user_id: str) -> list[Grant]:
    """The user's grants that are neither expired nor closed, the soonest to expire first."""
    rows = conn.execute(sa.select(break_glass_grant).where(
        break_glass_grant.c.user_id == user_id, break_glass_grant.c.ended.is_(None),
        break_glass_grant.c.expires > clock.format_instant(clock.now()),
    ).order_by(break_glass_grant.c.expires, break_glass_grant.c.id)).all()
    return [_grant(row) for row in rows]
