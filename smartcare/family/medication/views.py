"""Medication pages: the patient's /app/medication (today's doses, days left, adherence chart, warnings) and the
doctor's adherence view of one patient in the workstation."""

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.family.medication import records, reminders, service, supply
from smartcare.family.medication.records import MedicationProblem
from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import current_locale
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
CHART_JS = Path(__file__).parent / "static" / "adherence-chart.js"
_ACTIONS = ("taken", "skip", "snooze")


def _people(v: guard.Visitor, wanted: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    people = [{"id": p["id"], "name": fhir_text.person_name(p)}
              for p in gateway.search(v.ctx, "Patient", [("_count", "20")])]
    current = next((p for p in people if p["id"] == wanted), people[0] if people else None)
    return people, current


def _page(request: Request, *, message: str = "", status_code: int = 200) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    # `?patient=` names the person; without it, the person chosen at the top of the app (family accounts).
    people, current = _people(v, request.query_params.get("patient", "")[:64] or guard.wanted_person(request))
    zh = current_locale(request) == "zh-Hans"
    shown = None
    if current is not None:
        with unit_of_work() as conn:
            shown = service.overview(conn, v.ctx, patient_id=current["id"], zh=zh)
    return render_private(request, "medication/today.html", status_code=status_code, user=v.user, people=people,
                          current=current, shown=shown, message=message, snooze=reminders.SNOOZE_MINUTES,
                          reasons=reminders.SKIP_REASON_CODES, foods=reminders.FOOD)


@router.get("/app/medication", response_class=HTMLResponse)
async def medication_page(request: Request) -> HTMLResponse:
    """Today's doses with taken/skip/snooze, days left with the renew button, adherence per week and warnings."""
    return await run_in_threadpool(_page, request)


def _back(patient: str, done: str) -> RedirectResponse:
    query = f"?patient={patient}&done={done}" if patient else f"?done={done}"
    return guard.see_other(f"/app/medication{query}")


def _act(request: Request, fields: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    guard.check_csrf(request, v, fields.get("csrf_token"))
    action, patient = fields.get("action", ""), fields.get("patient", "")[:64]
    try:
        with unit_of_work() as conn:
            if action in ("taken", "skip"):
                reminders.record_intake(conn, v.ctx, dose_key=fields.get("dose", "")[:120], taken=action == "taken",
                                        reason=None if action == "taken" else fields.get("reason") or "other")
            elif action == "snooze":
                minutes = fields.get("minutes", "")
                reminders.snooze(conn, v.ctx, dose_key=fields.get("dose", "")[:120],
                                 minutes=int(minutes) if minutes.isdigit() and len(minutes) < 4 else 0)
            elif action == "renew":
                supply.request_renewal(conn, v.ctx, request_id=fields.get("request", "")[:64])
            else:
                raise MedicationProblem("unknown action")
    except MedicationProblem as exc:
        if exc.status == 404:
            return not_found(request)
        return _page(request, message=exc.message, status_code=exc.status)
    except FhirError:
        return not_found(request)
    return _back(patient, action)


@router.post("/app/medication", response_class=HTMLResponse)
async def medication_action(request: Request) -> Response:
    """Mark a dose taken or skipped, snooze its reminder, or ask for a renewal; CSRF-checked."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_act, request, fields)


def _doctor(request: Request, patient_id: str) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    try:
        with unit_of_work() as conn:
            shown = service.adherence_for(conn, v.ctx, patient_id=patient_id)
            name = fhir_text.person_name(records.read(conn, v.ctx, f"Patient/{patient_id}"))
    except FhirError:
        return not_found(request)
    response = render_private(request, "medication/adherence.html", user=v.user, shown=shown, name=name,
                              patient_id=patient_id)
    return response


@router.get("/workstation/patients/{patient_id}/medication", response_class=HTMLResponse)
async def doctor_adherence(request: Request, patient_id: str) -> HTMLResponse:
    """The doctor's view of a patient's adherence: per medicine and per week over eight weeks."""
    return await run_in_threadpool(_doctor, request, patient_id[:64])


def _chart_script(request: Request) -> Response:
    with unit_of_work() as conn:
        guard.visitor(conn, request, "account")
    return FileResponse(CHART_JS, media_type="text/javascript", headers={"Cache-Control": "private, max-age=3600"})


@router.get("/medication/adherence-chart.js")
async def chart_script(request: Request) -> Response:
    """The script that draws the weekly adherence chart (ECharts) on the patient's and the doctor's pages."""
    return await run_in_threadpool(_chart_script, request)
