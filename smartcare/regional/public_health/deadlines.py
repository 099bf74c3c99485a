"""Reporting deadlines: remind the doctor before a case report is due, escalate it to infection control once overdue.

Every few minutes a sweep reads the open drafts. A draft whose deadline is near (REMIND_BEFORE: 30 minutes for a
2-hour report, 4 hours for a 24-hour one) gets one reminder to its doctor: a job keyed by the report, so however many
sweeps see it, one reminder goes. A draft past its deadline and not yet escalated is marked (case_model.ESCALATED_AT)
and its hospital's infection-control office is told, and the doctor reminded that it is overdue. The office is
whoever the directory lists in the hospital's infection-control department (or a health centre's public-health
department, which does the same work there): an active PractitionerRole of the organisation whose HealthcareService
is coded DEPARTMENT_SYSTEM `infection-control` or `public-health` (the demo's hospitals have one: demo/duties.py).
Where the directory has no such department, the organisation's hospital administrators are told instead. A report submitted
after its deadline records that it was late: CaseFacts.overdue compares submitted-at with the deadline.
The platform reads and writes as itself; every report it touches is audited with purpose of use PUBHLTH.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection, Engine

from smartcare.fhir.errors import FhirError, PreconditionFailed
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.platform import audit, clock, i18n
from smartcare.platform.clock import format_instant
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.jobs import Job, enqueue, handler, periodic
from smartcare.platform.notifications import notify
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import reporting
from smartcare.regional.public_health.case_reports import document_type, person_name

log = logging.getLogger(__name__)

DEADLINE_JOB = "public-health.case-report-deadlines"
REMIND_JOB = "public-health.case-report-reminder"
EVERY_MINUTES = 5
REMIND_BEFORE_URGENT = timedelta(minutes=30)
REMIND_BEFORE_STANDARD = timedelta(hours=4)
DEPARTMENT_SYSTEM = model.LOCAL + "CodeSystem/department"
OFFICE_DEPARTMENTS = ("infection-control", "public-health")
PAGE = 500
# Staff who open the report card from a notice (the workstation's case-report pages are for doctors).
OPENS_REPORTS = frozenset({"doctor"})


def remind_before(case: model.CaseFacts) -> timedelta:
    """How long before the deadline the doctor is reminded: 30 minutes for an urgent report, else 4 hours."""
    given = case.deadline - case.diagnosed_at if case.deadline and case.diagnosed_at else None
    urgent = given is not None and given <= reporting.catalogue().urgent_within
    return REMIND_BEFORE_URGENT if urgent else REMIND_BEFORE_STANDARD


def due(case: model.CaseFacts, now: datetime) -> str | None:
    """What a case report needs now: "escalate" (a draft past its deadline, not yet escalated), "remind" (a draft
    whose deadline is near) or None."""
    if case.state != "draft" or case.deadline is None:
        return None
    if case.deadline <= now:
        return "escalate" if case.escalated_at is None else None
    return "remind" if case.deadline - remind_before(case) <= now else None


def open_drafts(conn: Connection) -> list[dict[str, Any]]:
    """Every case report the doctors still have to complete (drafts and correction requests), read as the platform."""
    kind = document_type()
    found: list[dict[str, Any]] = []
    while True:
        query = [("type", f"{kind['system']}|{kind['code']}"), ("status", "preliminary"), ("_sort", "_id"),
                 ("_count", str(PAGE)), ("_offset", str(len(found)))]
        bundle = dispatch(conn, SYSTEM, FhirRequest(method="GET", path="Composition", query=query)).body or {}
        page = [e["resource"] for e in bundle.get("entry", [])
                if (e.get("resource") or {}).get("resourceType") == "Composition"]
        found += page
        if len(page) < PAGE:
            return found


def _read(conn: Connection, reference: str | None) -> dict[str, Any]:
    if not reference or reference.count("/") != 1:
        return {}
    try:
        return dispatch(conn, SYSTEM, FhirRequest(method="GET", path=reference)).body or {}
    except FhirError:
        return {}


def office_accounts(conn: Connection, organization: str | None) -> tuple[list[users.User], bool]:
    """The accounts of the organisation's infection-control office, and True; else its hospital administrators and
    False."""
    if not organization:
        return [], False
    types = ",".join(f"{DEPARTMENT_SYSTEM}|{code}" for code in OFFICE_DEPARTMENTS)
    query = [("organization", organization), ("active", "true"), ("service.service-type", types), ("_count", "50")]
    bundle = dispatch(conn, SYSTEM, FhirRequest(method="GET", path="PractitionerRole", query=query)).body or {}
    staff = sorted({str((e["resource"].get("practitioner") or {}).get("reference", ""))
                    for e in bundle.get("entry", []) if (e.get("resource") or {}).get("resourceType") ==
                    "PractitionerRole"} - {""})
    office = [account for practitioner in staff for account in users.linked_to(conn, fhir_ref=practitioner)]
    if office:
        return office, True
    admins = [u for u in users.list_users(conn, role="hospital_admin") if u.organization == organization]
    return admins, False


def _facts(conn: Connection, composition: dict[str, Any], locale: str) -> dict[str, str]:
    """What a notice says about a report, in the reader's language: patient, disease, doctor and deadline."""
    case = model.facts(composition)
    zh = locale.startswith("zh")
    cat = reporting.catalogue()
    disease = cat.disease(case.disease or "")
    subtype = next((s for s in disease.subtypes if s.id == case.subtype), None) if disease else None
    named = subtype or disease
    return {"patient": person_name(_read(conn, case.patient)) or str(case.patient or ""),
            "disease": (named.name_zh if zh else named.name_en) if named else str(case.disease or ""),
            "doctor": person_name(_read(conn, case.practitioner)) or str(case.practitioner or ""),
            "deadline": clock.wall_clock(format_instant(case.deadline)) if case.deadline else ""}


def _tell(conn: Connection, accounts: list[users.User], composition: dict[str, Any], *, title: str,
          body: str) -> None:
    link = reporting.LINK.format(id=composition["id"])
    for account in accounts:
        t = i18n.translations(account.locale)
        notify(conn, user_id=account.id, kind=reporting.CASE_REPORT.name, title=t.gettext(title),
               body=t.gettext(body) % _facts(conn, composition, account.locale),
               link=link if account.role.value in OPENS_REPORTS else None,
               data={"composition": f"Composition/{composition['id']}"})


def _doctor_accounts(conn: Connection, composition: dict[str, Any]) -> list[users.User]:
    doctor = model.facts(composition).practitioner
    return users.linked_to(conn, fhir_ref=doctor) if doctor else []


def escalate(conn: Connection, composition: dict[str, Any], now: datetime) -> bool:
    """Mark an overdue draft escalated, tell the infection-control office and remind the doctor; False when the
    report changed meanwhile (the doctor submitting it), so nothing was done."""
    model.set_extension(composition, model.ESCALATED_AT, {"valueDateTime": format_instant(now)})
    version = (composition.get("meta") or {}).get("versionId")
    try:
        saved = dispatch(conn, SYSTEM, FhirRequest(method="PUT", path=f"Composition/{composition['id']}",
                                                   body=composition, headers={"if-match": f'W/"{version}"'})).body
    except PreconditionFailed:
        return False
    case = model.facts(saved or composition)
    audit.record(conn, ctx=SYSTEM, action="U", subtype="update", purpose="PUBHLTH", patient=case.patient,
                 entities=[f"Composition/{case.id}"],
                 description="notifiable disease reporting: an overdue case report escalated to infection control")
    office, is_office = office_accounts(conn, case.organization)
    _tell(conn, office, saved or composition, title=_("Case report overdue"),
          body=_("%(patient)s: %(disease)s, diagnosed by %(doctor)s. The case report was due by %(deadline)s and "
                 "has not been submitted.") if is_office else
          _("%(patient)s: %(disease)s, diagnosed by %(doctor)s. The case report was due by %(deadline)s and has not "
            "been submitted; no infection-control office is listed for your hospital, so you are told."))
    _tell(conn, _doctor_accounts(conn, composition), saved or composition, title=_("Case report overdue"),
          body=_("%(patient)s: %(disease)s. The case report was due by %(deadline)s; the infection-control office "
                 "has been told. Submit it now."))
    return True


def sweep_deadlines(*, now: datetime | None = None, engine: Engine | None = None) -> dict[str, int]:
    """Remind the doctors of drafts due soon and escalate the overdue ones; counts of each."""
    now = now or clock.now()
    with unit_of_work(engine) as conn:
        drafts = [(c, due(model.facts(c), now)) for c in open_drafts(conn)]
    counts = {"reminded": 0, "escalated": 0}
    for composition, action in drafts:
        if action == "remind":
            with unit_of_work(engine) as conn:
                enqueue(conn, kind=REMIND_JOB, payload={"composition": composition["id"]},
                        key=f"case-report-reminder:{composition['id']}")
            counts["reminded"] += 1
        elif action == "escalate":
            with unit_of_work(engine) as conn:
                counts["escalated"] += escalate(conn, composition, now)
    return counts


# Outside the job's transaction: each report is escalated in a transaction of its own.
@handler(DEADLINE_JOB, in_transaction=False)
def deadlines_job(engine: Engine, job: Job) -> None:
    """Remind the doctors of case reports due soon and escalate the overdue ones."""
    sweep_deadlines(engine=engine)


@handler(REMIND_JOB)
def remind(conn: Connection, job: Job) -> None:
    """Remind the doctor of a draft case report due soon (nothing when it was submitted or discarded meanwhile)."""
    composition = _read(conn, f"Composition/{str(job.payload.get('composition', ''))[:64]}")
    if not composition or due(model.facts(composition), clock.now()) != "remind":
        return
    audit.record(conn, ctx=SYSTEM, action="R", subtype="read", purpose="PUBHLTH",
                 patient=model.facts(composition).patient, entities=[f"Composition/{composition['id']}"],
                 description="notifiable disease reporting: the doctor reminded of a case report due soon")
    _tell(conn, _doctor_accounts(conn, composition), composition, title=_("Case report due soon"),
          body=_("%(patient)s: %(disease)s. Submit the case report by %(deadline)s."))


periodic(DEADLINE_JOB, kind=DEADLINE_JOB, every_minutes=EVERY_MINUTES)
