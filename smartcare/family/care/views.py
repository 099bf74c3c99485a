"""The caregiver's family view (/app/family): one card per person they look after, with that person's open home
monitoring alerts, latest home readings, today's medicine doses and the days left of each medicine.

Everything is read as the signed-in caregiver through the FHIR gateway, so the access policy (a proxy Consent
naming their RelatedPerson) decides who appears, and every read is audited as theirs. Alerts are read only (the care
team acknowledges them); a caregiver the care team made the holder of the reminder copy may mark a dose taken on the
person's behalf, recorded by the medication module with the caregiver as performer.
"""

import re
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.family.medication import adherence, records, reminders
from smartcare.family.medication import service as medication
from smartcare.family.medication.records import MedicationProblem
from smartcare.family.monitoring import plans, rules, texts
from smartcare.family.monitoring import service as monitoring
from smartcare.family.monitoring import views as monitoring_views
from smartcare.fhir.errors import FhirError
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import ACCOUNT_SID
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
PEOPLE_SHOWN = 20
EMERGENCY = "stat"
EMERGENCY_NUMBER = "120"
# The home readings a family member is shown, in this order (the brief of the family view).
READINGS = ("blood-pressure", "glucose", "spo2", "body-weight", "body-temperature")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# What the page says when the medication module refuses the mark (its own reasons are English, for the API).
NOT_MARKED = _("This dose could not be marked taken. Reload the page and try again.")


def holds_reminder_copy(conn: Connection, ctx: AccessContext, patient: str) -> bool:
    """Whether the caregiver is the person's designated holder of the medicine reminder copy (their RelatedPerson
    about this patient carries the medication module's reminder-copy flag)."""
    own = ctx.fhir_user or ""
    if own.startswith("RelatedPerson/"):
        found = records.search(conn, ctx, "RelatedPerson", [("_id", own.removeprefix("RelatedPerson/")),
                                                             ("patient", patient)])
    elif ctx.subject:
        # A family account: the RelatedPerson about this patient that stands for the account (policy.ACCOUNT_SID).
        found = records.search(conn, ctx, "RelatedPerson", [("identifier", f"{ACCOUNT_SID}|{ctx.subject}"),
                                                             ("patient", patient)])
    else:
        return False
    return any(p.get("active", True) and any(e.get("url") == reminders.CAREGIVER_COPY and e.get("valueBoolean")
                                             for e in p.get("extension", [])) for p in found)


def _alerts(conn: Connection, ctx: AccessContext, patient: str) -> list[dict[str, Any]]:
    shown = [monitoring.shown(t) for t in monitoring.open_alerts(conn, patient, ctx)]
    return sorted(shown, key=lambda a: (-rules.severity_rank(a["severity"] or "routine"),
                                        a["raised"] or ""))


def person_card(conn: Connection, ctx: AccessContext, patient: dict[str, Any]) -> dict[str, Any]:
    """What the family view shows of one person, read as ctx."""
    reference = f"Patient/{patient['id']}"
    alerts = _alerts(conn, ctx, reference)
    patient_plans = plans.active_plans(conn, reference, ctx)
    summary = monitoring_views.patient_summary(conn, ctx, patient, patient_plans, alerts)
    latest = {r["kind"]: r for r in summary["readings"]}
    now = clock.now()
    record = records.gather(conn, ctx, patient_id=patient["id"], since=now - timedelta(weeks=adherence.WEEKS + 1))
    doses = medication.today(record, now=now)
    return {
        "id": patient["id"], "name": fhir_text.person_name(patient) or patient["id"],
        "alerts": alerts, "emergency": any(a["severity"] == EMERGENCY for a in alerts),
        "templates": [plans.template_of(p) for p in patient_plans],
        "readings": [latest[k] for k in READINGS if k in latest],
        "doses": doses, "supply": medication.supply_rows(record, now=now),
        "may_mark": bool(doses) and holds_reminder_copy(conn, ctx, reference),
    }


def _people(conn: Connection, ctx: AccessContext, wanted: str | None) -> list[dict[str, Any]]:
    """The people ctx looks after (the policy filters the search; a resident's own record is not one of them), or
    only the one wanted when ctx may see them."""
    own = (ctx.patient or "").removeprefix("Patient/")
    if wanted is None:
        found = plans.search(conn, "Patient", [("_count", str(PEOPLE_SHOWN))], ctx)
    elif not _ID.fullmatch(wanted) or wanted == own:
        return []
    else:
        found = plans.search(conn, "Patient", [("_id", wanted)], ctx)
    return [p for p in found if p.get("id") != own]


def _page(request: Request, *, message: str = "", status_code: int = 200) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    wanted = request.query_params.get("person")
    with unit_of_work() as conn:
        people = _people(conn, v.ctx, wanted)
        if wanted is not None and not people:
            return not_found(request)
        cards = [person_card(conn, v.ctx, p) for p in people]
    return render_private(request, "care/family.html", status_code=status_code, user=v.user, cards=cards,
                          one=wanted is not None, texts=texts, units=monitoring_views.UNITS, message=message,
                          emergency_number=EMERGENCY_NUMBER)


@router.get("/app/family", response_class=HTMLResponse)
async def family_page(request: Request) -> Response:
    """The people a caregiver looks after: alerts, latest home readings, today's doses and days of medicine left."""
    return await run_in_threadpool(_page, request)


def _mark_taken(request: Request, fields: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    guard.check_csrf(request, v, fields.get("csrf_token"))
    person = fields.get("person", "")
    if not _ID.fullmatch(person):
        return not_found(request)
    try:
        with unit_of_work() as conn:
            if not holds_reminder_copy(conn, v.ctx, f"Patient/{person}"):
                return not_found(request)
            taken = reminders.record_intake(conn, v.ctx, dose_key=fields.get("dose", "")[:120], taken=True)
            if (taken.get("subject") or {}).get("reference") != f"Patient/{person}":
                raise MedicationProblem("There is no such dose", status=404)
    except MedicationProblem as exc:
        if exc.status == 404:
            return not_found(request)
        return _page(request, message=NOT_MARKED, status_code=exc.status)
    except FhirError:
        return not_found(request)
    return guard.see_other(f"/app/family?person={person}&done=taken")


@router.post("/app/family", response_class=HTMLResponse)
async def mark_taken(request: Request) -> Response:
    """Mark a dose of the person taken on their behalf (the designated reminder-copy holder only); CSRF-checked."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_mark_taken, request, fields)
