"""The pharmacy's pages: the review queue, one prescription with its audit findings, accept, return, dispense;
and the patient's e-prescriptions in the app."""

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.pharmacy import labels, review
from smartcare.knowledge.calculators import age_in_years
from smartcare.knowledge.prescribing import verification
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import current_locale
from smartcare.platform.settings import get_settings
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
PHARMACY_ROLES = frozenset({"pharmacist"})
_STATUSES = ("requested", "completed", "rejected")


def _pharmacist(request: Request) -> guard.Visitor:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    if not v.ctx.roles & PHARMACY_ROLES:
        raise guard.SurfaceForbidden("Only pharmacists review prescriptions", ctx=v.ctx, surface="pharmacy")
    return v


def age_on(patient: dict[str, Any], day: date) -> int | None:
    """Completed years of age on day, or None when the record has no full birth date."""
    try:
        return age_in_years(date.fromisoformat(str(patient.get("birthDate", ""))), day)
    except ValueError:
        return None


def _order_row(order: dict[str, Any], language: str) -> dict[str, Any]:
    dosage = (order.get("dosageInstruction") or [{}])[0]
    return {"id": order["id"], "name": fhir_text.concept_text(order.get("medicationCodeableConcept")),
            "dosage": dosage.get("text", ""), "status": order.get("status", ""),
            "awaiting": verification.awaiting_pharmacist(order),
            "label": labels.label(order, language=language)}


def _queue(request: Request) -> HTMLResponse:
    v = _pharmacist(request)
    status = request.query_params.get("status", "requested")
    status = status if status in _STATUSES else "requested"
    zh = current_locale(request) == "zh-Hans"
    today = clock.now().astimezone(ZoneInfo(get_settings().region_timezone)).date()
    rows = [_queue_row(queued, zh=zh, today=today) for queued in review.queue(v.ctx, status=status)]
    return render_private(request, "pharmacy/queue.html", user=v.user, rows=rows, status=status, statuses=_STATUSES)


def _queue_row(queued: review.Queued, *, zh: bool, today: date) -> dict[str, Any]:
    """A queue row in words: who the patient is (name, age, sex), who prescribed, each medicine with its dose."""
    task, patient = queued.task, queued.patient or {}
    orders = [{"name": labels.medicine_name(o, zh=zh),
               "dosage": ((o.get("dosageInstruction") or [{}])[0]).get("text", "")} for o in queued.orders]
    return {"id": task["id"], "priority": task.get("priority", "routine"),
            "when": clock.wall_clock(task.get("authoredOn", "")),
            "patient": fhir_text.person_name(patient) if patient else "", "age": age_on(patient, today),
            "gender": patient.get("gender", ""), "orders": orders,
            "unlisted": max(len(review.inputs(task)) - len(orders), 0),
            "prescriber": fhir_text.person_name(queued.prescriber) if queued.prescriber else ""}


@router.get("/workstation/pharmacy", response_class=HTMLResponse)
async def pharmacy_queue(request: Request) -> HTMLResponse:
    """The pharmacist's queue of signed prescriptions to review, urgent (overridden alerts) first."""
    return await run_in_threadpool(_queue, request)


def _prescription(request: Request, task_id: str, *, status_code: int = 200, error: str = "") -> HTMLResponse:
    v = _pharmacist(request)
    try:
        found = review.prescription(v.ctx, task_id)
    except (review.ReviewRefused, FhirError):
        return not_found(request)
    language = current_locale(request)
    patient_language = "zh" if language == "zh-Hans" else "en"
    issues = [{"severity": i.get("severity", ""), "what": (i.get("code") or {}).get("text", ""),
               "detail": i.get("detail", ""),
               "override": ((i.get("mitigation") or [{}])[0].get("action") or {}).get("text", "")}
              for i in found.issues]
    dispensed = {ref["reference"].split("/")[-1] for d in found.dispenses for ref in d.get("authorizingPrescription", [])}
    return render_private(request, "pharmacy/prescription.html", status_code=status_code, user=v.user, task=found.task,
                 patient={"id": found.patient["id"], "name": fhir_text.person_name(found.patient),
                          "born": found.patient.get("birthDate", ""), "gender": found.patient.get("gender", "")},
                 orders=[_order_row(o, patient_language) for o in found.orders], issues=issues,
                 dispensed=dispensed, error=error)


@router.get("/workstation/pharmacy/{task_id}", response_class=HTMLResponse)
async def pharmacy_prescription(request: Request, task_id: str) -> HTMLResponse:
    """One prescription: the orders, the audit's findings and overrides, and the pharmacist's actions."""
    return await run_in_threadpool(_prescription, request, task_id[:64])


def _act(request: Request, task_id: str, action: str, form: dict[str, str]) -> Response:
    v = _pharmacist(request)
    guard.check_csrf(request, v, form.get("csrf_token"))
    try:
        if action == "accept":
            review.accept(v.ctx, task_id, note=form.get("note", "")[:review.MAX_NOTE])
        elif action == "return":
            review.return_to_prescriber(v.ctx, task_id, note=form.get("note", "")[:review.MAX_NOTE + 1])
        elif action == "dispense":
            quantity = form.get("quantity", "")
            review.dispense(v.ctx, task_id, order_id=form.get("order", "")[:64], lot=form.get("lot", "")[:64],
                            expiry=form.get("expiry", "")[:10], unit=form.get("unit", "")[:20] or "pack",
                            quantity=float(quantity) if quantity.replace(".", "", 1).isdigit() else 0)
        else:
            return RedirectResponse(f"/workstation/pharmacy/{task_id}", status_code=303)
    except review.ReviewRefused as exc:
        return _prescription(request, task_id, status_code=exc.status, error=exc.message)
    except FhirError as exc:
        return _prescription(request, task_id, status_code=exc.status, error=exc.message)
    return RedirectResponse(f"/workstation/pharmacy/{task_id}", status_code=303, headers=guard.NO_STORE)


@router.post("/workstation/pharmacy/{task_id}/{action}")
async def pharmacy_action(request: Request, task_id: str, action: str) -> Response:
    """Accept, return to the doctor (with a note) or dispense one order (batch, expiry, quantity); CSRF-checked."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_act, request, task_id[:64], action[:20], form)


def _my_prescriptions(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    language = "zh" if current_locale(request) == "zh-Hans" else "en"
    orders = gateway.search(v.ctx, "MedicationRequest", [("_sort", "-authoredon"), ("_count", "50")])
    dispenses = gateway.search(v.ctx, "MedicationDispense", [("_count", "100")])
    handed = {ref["reference"]: d for d in dispenses for ref in d.get("authorizingPrescription", [])}
    rows = []
    for order in orders:
        dispense = handed.get(f"MedicationRequest/{order['id']}")
        batch = ((dispense or {}).get("contained") or [{}])[0].get("batch") or {}
        rows.append({**_order_row(order, language), "when": str(order.get("authoredOn", ""))[:10],
                     "returned": verification.returned_by_pharmacist(order),
                     "dispensed": str((dispense or {}).get("whenHandedOver", ""))[:10], "lot": batch.get("lotNumber"),
                     "expiry": batch.get("expirationDate")})
    return render_private(request, "pharmacy/app_prescriptions.html", user=v.user, rows=rows)


@router.get("/app/prescriptions", response_class=HTMLResponse)
async def my_prescriptions(request: Request) -> HTMLResponse:
    """The patient's e-prescriptions: each medicine with its label, status, and when it was dispensed."""
    return await run_in_threadpool(_my_prescriptions, request)

