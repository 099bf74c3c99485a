"""Queue pages: the doctor's queue at the workstation, the public displays (a doctor's, a clinic's), the patient's
live number, the kiosk."""

import hashlib
import hmac
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.queue import clinic, service
from smartcare.platform import clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.keys import platform_key
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

_ACTIONS = {"call-next": service.call_next, "recall": service.recall, "skip": service.skip, "finish": service.finish}
_KIOSK_CODE = re.compile(r"([A-Za-z0-9\-.]{1,64})\.([0-9a-f]{16})")
KIOSK = AccessContext(kind="system", name="kiosk", roles=frozenset({"system"}))


def _page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    response = render(request, template, status_code=status_code, **values)
    response.headers.update(guard.NO_STORE)
    return response


def kiosk_code(appointment_id: str) -> str:
    """The check-in code the patient's app shows as a QR code: the appointment id and a short keyed tag."""
    tag = hmac.new(platform_key("SMARTCARE_KIOSK_KEY", "kiosk.key"), appointment_id.encode(), hashlib.sha256)
    return f"{appointment_id}.{tag.hexdigest()[:16]}"


def appointment_of_code(code: str) -> str | None:
    """The appointment a kiosk code names, if the code is genuine."""
    match = _KIOSK_CODE.fullmatch(code.strip())
    if match is None or not hmac.compare_digest(kiosk_code(match.group(1)), match.group(0)):
        return None
    return match.group(1)


def _current_session(practitioner_id: str) -> str:
    return service.session_at(practitioner_id, clock.now()).key


def _workstation_queue(request: Request, *, status_code: int = 200, error: str | None = None) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
        own = (v.user.fhir_ref or "").removeprefix("Practitioner/")
        asked = request.query_params.get("session") or (_current_session(own) if own else "")
        try:
            session = service.Session.parse(asked).key
            service.check_staff(conn, v.ctx, service.Session.parse(session))
        except service.QueueError as exc:
            return _page(request, "queue/workstation.html", status_code=400, error=exc.code, session=None, view=None,
                         waiting=[])
        view = service.session_view(conn, session)
        waiting = [{**w, "name": fhir_text.person_name(w["resource"]), "born": w["resource"].get("birthDate", ""),
                    "time": service.local_hhmm(w["appointment_start"])} for w in service.staff_queue(conn, session)]
    return _page(request, "queue/workstation.html", status_code=status_code, error=error, session=session, view=view,
                 waiting=waiting)


@router.get("/workstation/queue", response_class=HTMLResponse)
async def workstation_queue(request: Request) -> HTMLResponse:
    """The doctor's queue for this session: who is called, who waits, and the buttons to call them."""
    return await run_in_threadpool(_workstation_queue, request)


def _queue_action(request: Request, action: str, form: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
        guard.check_csrf(request, v, form.get("csrf_token"))
    session = form.get("session", "")[:120]
    try:
        with unit_of_work() as conn:
            if action == "transfer":
                number = form.get("number", "")
                service.transfer(conn, v.ctx, session_key=session, number=int(number) if number.isdigit() else 0,
                                 to_practitioner=form.get("to", "").strip()[:64])
            elif action in _ACTIONS:
                _ACTIONS[action](conn, v.ctx, session_key=session)
            else:
                return RedirectResponse("/workstation/queue", status_code=303)
    except service.QueueError as exc:
        return _workstation_queue(request, status_code=exc.status, error=exc.code)
    return RedirectResponse(f"/workstation/queue?session={session}", status_code=303, headers=guard.NO_STORE)


@router.post("/workstation/queue/{action}")
async def queue_action(request: Request, action: str) -> Response:
    """call-next, recall, skip, finish or transfer, from the workstation's buttons (CSRF-checked)."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_queue_action, request, action[:20], form)


def _display(request: Request, practitioner_id: str) -> HTMLResponse:
    session = _current_session(practitioner_id[:64])
    try:
        service.Session.parse(session)
    except service.QueueError:
        return _page(request, "404.html", status_code=404, requested_path=request.url.path[:200])
    with unit_of_work() as conn:
        view = service.session_view(conn, session)
        view["room"] = service.room_label(conn, view["room"], i18n.current_locale(request))
        clinics = clinic.clinics_of(conn, practitioner_id[:64])
    try:
        doctor = fhir_text.person_name(gateway.read(SYSTEM, f"Practitioner/{practitioner_id}"))
    except FhirError:
        return _page(request, "404.html", status_code=404, requested_path=request.url.path[:200])
    return _page(request, "queue/display.html", view=view, doctor=doctor, clinics=clinics)


@router.get("/queue/display/{practitioner_id}", response_class=HTMLResponse)
async def display(request: Request, practitioner_id: str) -> HTMLResponse:
    """The public display outside a consulting room: the called number in large type, the next ones, live."""
    return await run_in_threadpool(_display, request, practitioner_id)


def _clinic_display(request: Request, service_id: str) -> HTMLResponse:
    area = (request.query_params.get("area") or "").strip()[:64] or None
    with unit_of_work() as conn:
        view = clinic.clinic_view(conn, service_id[:64], locale=i18n.current_locale(request), area=area)
    if view is None:
        return _page(request, "404.html", status_code=404, requested_path=request.url.path[:200])
    return _page(request, "queue/clinic.html", view=view)


@router.get("/queue/clinic/{service_id}", response_class=HTMLResponse)
async def clinic_display(request: Request, service_id: str) -> HTMLResponse:
    """The public display of a clinic's waiting area: each working doctor's room, called number and next numbers,
    live (?area=<Location id> for the rooms of one area)."""
    return await run_in_threadpool(_clinic_display, request, service_id)


def _todays_visits(ctx: AccessContext) -> list[dict[str, Any]]:
    local_day = clock.now().astimezone(service.local_zone()).date()
    people = gateway.search(ctx, "Patient", [("_count", "20")])
    visits = []
    for person in people:
        found = gateway.search(ctx, "Appointment", [
            ("patient", f"Patient/{person['id']}"), ("date", f"ge{local_day.isoformat()}T00:00:00+08:00"),
            ("date", f"lt{local_day.isoformat()}T23:59:59+08:00"), ("_sort", "date"), ("_count", "20")])
        for appointment in found:
            doctor = next((p["actor"].get("display") for p in appointment.get("participant", [])
                           if p.get("actor", {}).get("reference", "").startswith("Practitioner")), "")
            visits.append({"id": appointment["id"], "who": fhir_text.person_name(person), "status": appointment["status"],
                           "time": service.local_hhmm(appointment.get("start")), "doctor": doctor or "",
                           "code": kiosk_code(appointment["id"])})
    return visits


def _app_queue(request: Request, *, status_code: int = 200, error: str | None = None) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    visits = _todays_visits(v.ctx)
    ids = sorted({p["id"] for p in gateway.search(v.ctx, "Patient", [("_count", "20"), ("_elements", "id")])})
    locale = i18n.current_locale(request)
    with unit_of_work() as conn:
        tickets = service.tickets_of(conn, ids) if ids else []
        rooms = {t["session"]: service.room_label(conn, service.session_view(conn, t["session"])["room"], locale)
                 for t in tickets}
    by_appointment = {t["appointment"]: {**t, "room": rooms.get(t["session"])} for t in tickets}
    for visit in visits:
        visit["ticket"] = by_appointment.get(visit["id"])
        visit["qr"] = _qr(visit["code"])
    return _page(request, "queue/app.html", status_code=status_code, error=error, visits=visits)


def _qr(text: str) -> str:
    import segno

    return segno.make(text, error="m").svg_inline(scale=4, dark="#000", light="#fff")


@router.get("/app/queue", response_class=HTMLResponse)
async def app_queue(request: Request) -> HTMLResponse:
    """The patient's visits today: check in, their number, how many are ahead and the wait, live."""
    return await run_in_threadpool(_app_queue, request)


def _app_check_in(request: Request, form: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
        guard.check_csrf(request, v, form.get("csrf_token"))
    try:
        with unit_of_work() as conn:
            service.check_in(conn, v.ctx, appointment_id=form.get("appointment", "")[:64], via="app")
    except service.QueueError as exc:
        return _app_queue(request, status_code=exc.status, error=exc.code)
    return RedirectResponse("/app/queue", status_code=303, headers=guard.NO_STORE)


@router.post("/app/queue/check-in")
async def app_check_in(request: Request) -> Response:
    """Check in from the phone (CSRF-checked)."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_app_check_in, request, form)


@router.get("/kiosk", response_class=HTMLResponse)
def kiosk(request: Request) -> HTMLResponse:
    """The kiosk in the hall: scan the QR code from the app (the scanner types it) and get a number."""
    return _page(request, "queue/kiosk.html", ticket=None, error=None)


def _kiosk_check_in(request: Request, code: str) -> HTMLResponse:
    appointment_id = appointment_of_code(code[:100])
    if appointment_id is None:
        return _page(request, "queue/kiosk.html", status_code=400, ticket=None, error="bad-code")
    try:
        with unit_of_work() as conn:
            ticket = service.check_in(conn, KIOSK, appointment_id=appointment_id, via="kiosk")
    except service.QueueError as exc:
        return _page(request, "queue/kiosk.html", status_code=exc.status, ticket=None, error=exc.code)
    return _page(request, "queue/kiosk.html", ticket=ticket, error=None)


@router.post("/kiosk", response_class=HTMLResponse)
async def kiosk_check_in(request: Request) -> HTMLResponse:
    """A kiosk check-in: the code proves the visit (it is keyed), so no sign-in is needed at the kiosk."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_kiosk_check_in, request, form.get("code", ""))
