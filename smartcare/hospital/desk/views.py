"""The registration desk's pages: find a patient, their visits with payment and queue, booking at the window, the slip.

Every page asks the guard for the "desk" surface (nurses and hospital administrators). Patients and
their Appointments are read through the FHIR gateway as the clerk, and bookings are made, paid,
cancelled and checked in with the clerk's own access context, so the one access policy decides whose
records the desk reaches (its hospital's patients) and every access is audited. A refusal comes back
as the page with the reason in the clerk's language; nothing of a refused action is written.
"""

import secrets
from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.desk import finder, flows, registration
from smartcare.hospital.desk.visits import DeskVisit, visit_of, visits_of
from smartcare.hospital.directory import places
from smartcare.hospital.directory import service as directory
from smartcare.hospital.queue import service as queue
from smartcare.hospital.scheduling import errors, queries, service
from smartcare.hospital.scheduling.schedules import region_zone
from smartcare.platform import clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

SURFACE = "desk"
PAYMENT_METHODS = ("cash", "card")
PRIORITIES = ("", "elderly", "disabled", "results")
_MAX_ID = 64
# Refusals whose scheduling message speaks to a patient; the desk says it its own way (codes in the templates).
_DESK_WORDING = {errors.NotProxy: "not-in-reach", errors.PatientLocked: "patient-locked"}


def _page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    response = render(request, template, status_code=status_code, **values)
    response.headers.update(guard.NO_STORE)
    return response


def _visitor(request: Request) -> guard.Visitor:
    with unit_of_work() as conn:
        return guard.visitor(conn, request, SURFACE)



def _not_found(request: Request) -> HTMLResponse:
    return _page(request, "404.html", status_code=404, requested_path=request.url.path[:200])


def _clean_id(value: str | None) -> str:
    return (value or "").strip()[:_MAX_ID]


def _problem(code: str) -> dict[str, str | None]:
    """A desk or queue refusal by code; the template words it in the clerk's language."""
    return {"code": code, "message": None}


def _booking_problem(request: Request, exc: errors.BookingRefused) -> dict[str, str | None]:
    wording = _DESK_WORDING.get(type(exc))
    return _problem(wording) if wording else errors.described(request, exc)


def _hospital_id(v: guard.Visitor) -> str:
    """The clerk's hospital (the Organization their account belongs to), or ""."""
    return (v.ctx.organization or "").removeprefix("Organization/")


def _patient(v: guard.Visitor, patient_id: str) -> finder.PatientRow | None:
    """The patient as the desk shows them, if the policy lets the clerk read the record."""
    try:
        resource = gateway.read(v.ctx, f"Patient/{patient_id}")
    except FhirError:
        return None
    return finder.patient_row(resource, places.today())


# --- find a patient -----------------------------------------------------------------------------


def _find(request: Request) -> HTMLResponse:
    v = _visitor(request)
    query = finder.clean_query(request.query_params.get("q"))
    found = finder.find_patients(v.ctx, query, places.today()) if query else []
    register = "/desk/register" + (f"?{urlencode({'from': query})}" if query and not found else "")
    return _page(request, "desk/find.html", query=query, patients=found, user=v.user, register_url=register)


@router.get("/desk", response_class=HTMLResponse)
async def find_patient(request: Request) -> HTMLResponse:
    """Find a patient of the hospital by name (Chinese, pinyin or Latin), phone or resident ID."""
    return await run_in_threadpool(_find, request)


# --- register a walk-in the hospital has no record of --------------------------------------------


def _register_page(request: Request, *, status_code: int = 200, values: dict[str, str] | None = None,
                   problems: dict[str, str] | None = None, error: dict | None = None) -> HTMLResponse:
    return _page(request, "desk/register.html", status_code=status_code, values=values or {},
                 problems=problems or {}, error=error, fields=registration.FIELDS, limits=registration.LIMITS,
                 today=places.today().isoformat())


def _registration_form(request: Request) -> HTMLResponse:
    _visitor(request)
    typed = finder.clean_query(request.query_params.get("from"))
    return _register_page(request, values=registration.prefill(typed) if typed else {})


@router.get("/desk/register", response_class=HTMLResponse)
async def registration_form(request: Request) -> HTMLResponse:
    """The form that registers a walk-in the search did not find: name, sex, birth date, resident ID, phone, address."""
    return await run_in_threadpool(_registration_form, request)


def _register(request: Request, form: dict[str, str]) -> Response:
    v = _visitor(request)
    guard.check_csrf(request, v, form.get("csrf_token"))
    values = registration.form_values(form)
    try:
        walk_in = registration.check_walk_in(values, places.today())
        registered = flows.register_walk_in(ctx=v.ctx, walk_in=walk_in)
    except registration.WalkInInvalid as exc:
        return _register_page(request, status_code=422, values=values, problems=exc.problems)
    except flows.NoOrganisation:
        return _register_page(request, status_code=403, values=values, error=_problem("no-organisation"))
    except FhirError as exc:
        return _register_page(request, status_code=exc.status if exc.status in (403, 409, 412) else 422,
                              values=values, error=_problem("not-registered"))
    if registered.several:
        return guard.see_other("/desk?" + urlencode({"q": walk_in.resident_id}))
    done = "registered" if registered.created else "already-registered"
    return guard.see_other(f"/desk/patients/{registered.patient_id}?done={done}")


@router.post("/desk/register")
async def register(request: Request) -> Response:
    """Register the walk-in as the hospital's patient (CSRF-checked), or open the record it already has of them."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_register, request, form)


# --- the patient's visits, and what the desk does with them ---------------------------------------


def _patient_page(request: Request, patient_id: str, *, status_code: int = 200,
                  error: dict | None = None) -> HTMLResponse:
    v = _visitor(request)
    patient = _patient(v, patient_id)
    if patient is None:
        return _not_found(request)
    visits = visits_of(v.ctx, patient_id, i18n.current_locale(request))
    shown = _clean_id(request.query_params.get("visit"))
    done = request.query_params.get("done", "")[:20]
    return _page(request, "desk/patient.html", status_code=status_code, error=error, patient=patient,
                 visits=visits, done=done, done_visit=next((x for x in visits if x.id == shown), None),
                 priorities=PRIORITIES[1:], methods=PAYMENT_METHODS)


@router.get("/desk/patients/{patient_id}", response_class=HTMLResponse)
async def patient_page(request: Request, patient_id: str) -> HTMLResponse:
    """The patient at the window: today's and later visits, with payment and queue, and the buttons for them."""
    return await run_in_threadpool(_patient_page, request, _clean_id(patient_id))


def _acting_on(request: Request, patient_id: str, appointment_id: str,
               form: dict[str, str]) -> tuple[guard.Visitor, DeskVisit | None]:
    """The clerk (CSRF-checked) and the visit the form acts on, if it is this patient's and in reach."""
    v = _visitor(request)
    guard.check_csrf(request, v, form.get("csrf_token"))
    return v, visit_of(v.ctx, patient_id, appointment_id, i18n.current_locale(request))


def _pay(request: Request, patient_id: str, appointment_id: str, form: dict[str, str]) -> Response:
    v, visit = _acting_on(request, patient_id, appointment_id, form)
    if visit is None:
        return _not_found(request)
    method = form.get("method", "")
    if method not in PAYMENT_METHODS:
        return _patient_page(request, patient_id, status_code=400, error=_problem("bad-method"))
    try:
        with unit_of_work() as conn:
            # Cash or card taken at the window is the confirmation the payment provider is given.
            service.confirm_payment(conn, ctx=v.ctx, appointment_id=service.plain_id(appointment_id, "Appointment"),
                                    confirmation=f"desk-{method}-{appointment_id}")
    except errors.BookingRefused as exc:
        return _patient_page(request, patient_id, status_code=exc.status, error=_booking_problem(request, exc))
    return guard.see_other(f"/desk/patients/{patient_id}?done=paid&visit={appointment_id}")


@router.post("/desk/patients/{patient_id}/visits/{appointment_id}/pay")
async def take_payment(request: Request, patient_id: str, appointment_id: str) -> Response:
    """Take the registration fee in cash or by card at the window (CSRF-checked)."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_pay, request, _clean_id(patient_id), _clean_id(appointment_id), form)


def _check_in(request: Request, patient_id: str, appointment_id: str, form: dict[str, str]) -> Response:
    v, visit = _acting_on(request, patient_id, appointment_id, form)
    if visit is None:
        return _not_found(request)
    priority = form.get("priority", "")
    if priority not in PRIORITIES:
        return _patient_page(request, patient_id, status_code=400, error=_problem("bad-priority"))
    if visit.payment == "pending":
        return _patient_page(request, patient_id, status_code=409, error=_problem("unpaid"))
    try:
        with unit_of_work() as conn:
            queue.check_in(conn, v.ctx, appointment_id=appointment_id, via="desk", priority=priority or None)
    except queue.QueueError as exc:
        return _patient_page(request, patient_id, status_code=exc.status, error=_problem(exc.code))
    return guard.see_other(f"/desk/patients/{patient_id}?done=checked-in&visit={appointment_id}")


@router.post("/desk/patients/{patient_id}/visits/{appointment_id}/check-in")
async def check_in(request: Request, patient_id: str, appointment_id: str) -> Response:
    """Check today's visit in, with a priority the clerk sees (elderly, disabled, returning with results)."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_check_in, request, _clean_id(patient_id), _clean_id(appointment_id), form)


def _cancel(request: Request, patient_id: str, appointment_id: str, form: dict[str, str]) -> Response:
    v, visit = _acting_on(request, patient_id, appointment_id, form)
    if visit is None:
        return _not_found(request)
    try:
        with unit_of_work() as conn:
            service.cancel(conn, ctx=v.ctx, appointment_id=service.plain_id(appointment_id, "Appointment"))
    except errors.BookingRefused as exc:
        return _patient_page(request, patient_id, status_code=exc.status, error=_booking_problem(request, exc))
    return guard.see_other(f"/desk/patients/{patient_id}?done=cancelled&visit={appointment_id}")


@router.post("/desk/patients/{patient_id}/visits/{appointment_id}/cancel")
async def cancel(request: Request, patient_id: str, appointment_id: str) -> Response:
    """Cancel a visit at the patient's request (CSRF-checked); a paid fee is refunded, the place offered on."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_cancel, request, _clean_id(patient_id), _clean_id(appointment_id), form)


def _slip(request: Request, patient_id: str, appointment_id: str) -> HTMLResponse:
    v = _visitor(request)
    patient = _patient(v, patient_id)
    visit = visit_of(v.ctx, patient_id, appointment_id, i18n.current_locale(request)) if patient else None
    if visit is None:
        return _not_found(request)
    return _page(request, "desk/slip.html", patient=patient, visit=visit,
                 printed=clock.now().astimezone(region_zone()))


@router.get("/desk/patients/{patient_id}/visits/{appointment_id}/slip", response_class=HTMLResponse)
async def slip(request: Request, patient_id: str, appointment_id: str) -> HTMLResponse:
    """The registration slip to print for the patient: who, which doctor, where, when, the number and the fee."""
    return await run_in_threadpool(_slip, request, _clean_id(patient_id), _clean_id(appointment_id))


# --- booking at the desk: department, doctor, day, slot -------------------------------------------


def _departments(request: Request, patient_id: str) -> HTMLResponse:
    v = _visitor(request)
    patient = _patient(v, patient_id)
    if patient is None:
        return _not_found(request)
    locale = i18n.current_locale(request)
    hospital = _hospital_id(v)
    rows = directory.departments(organization=hospital) if hospital else []
    departments = sorted(({"id": r["service"]["id"], "name": places.department_name(r["service"], locale)}
                          for r in rows), key=lambda d: d["name"])
    name = places.organization_name(rows[0]["hospital"], locale) if rows else ""
    return _page(request, "desk/book_departments.html", patient=patient, departments=departments, hospital=name,
                 today=places.today().isoformat())


@router.get("/desk/patients/{patient_id}/book", response_class=HTMLResponse)
async def choose_department(request: Request, patient_id: str) -> HTMLResponse:
    """Booking at the desk, step 1: one of the hospital's departments."""
    return await run_in_threadpool(_departments, request, _clean_id(patient_id))


def _doctors_of_day(hospital: str, service_id: str, day: str, locale: str) -> list[dict[str, Any]]:
    """The department's doctors with slots that day: fee, places left and the first time still bookable."""
    with unit_of_work() as conn:
        slots = [s for s in service.list_slots(conn, day=day, service_id=service_id)
                 if s["organization"] == f"Organization/{hospital}"]
    by_doctor: dict[str, list[dict]] = defaultdict(list)
    for s in slots:
        by_doctor[s["practitioner"].removeprefix("Practitioner/")].append(s)
    doctors = []
    for practitioner_id, theirs in by_doctor.items():
        bookable = [s for s in theirs if s["bookable"]]
        doctors.append({"id": practitioner_id,
                        "place": places.place_of(practitioner_id, service_id, locale, theirs[0]["practitioner_name"]),
                        "fee": places.money(theirs[0]["fee"]), "free": sum(s["free"] for s in bookable),
                        "first": places.local_time(bookable[0]["start"]) if bookable else None})
    return sorted(doctors, key=lambda d: d["place"].doctor)


def _doctors(request: Request, patient_id: str) -> HTMLResponse:
    v = _visitor(request)
    patient = _patient(v, patient_id)
    service_id = _clean_id(request.query_params.get("department"))
    hospital = _hospital_id(v)
    row = next((r for r in directory.departments(organization=hospital) if r["service"]["id"] == service_id),
               None) if hospital and service_id else None
    if patient is None or row is None:
        return _not_found(request)
    locale = i18n.current_locale(request)
    day = places.chosen_day(request.query_params.get("date"))
    return _page(request, "desk/book_doctors.html", patient=patient, service_id=service_id,
                 department=places.department_name(row["service"], locale), day=day, days=places.day_choices(day),
                 doctors=_doctors_of_day(hospital, service_id, day.isoformat(), locale))


@router.get("/desk/patients/{patient_id}/book/doctors", response_class=HTMLResponse)
async def choose_doctor(request: Request, patient_id: str) -> HTMLResponse:
    """Step 2: the department's doctors on a day, with their fee and the places left."""
    return await run_in_threadpool(_doctors, request, _clean_id(patient_id))


def _slots_page(request: Request, patient_id: str, practitioner_id: str, day_text: str | None, *,
                status_code: int = 200, error: dict | None = None) -> HTMLResponse:
    v = _visitor(request)
    patient = _patient(v, patient_id)
    if patient is None or not practitioner_id or not directory.current_index().by_practitioner(practitioner_id):
        return _not_found(request)
    day = places.chosen_day(day_text)
    with unit_of_work() as conn:
        found = [s for s in service.list_slots(conn, day=day.isoformat(), practitioner_id=practitioner_id)
                 if s["organization"] == f"Organization/{_hospital_id(v)}"]
    slots = [{**s, "id": s["slot"].removeprefix("Slot/"), "time": places.local_time(s["start"]).strftime("%H:%M"),
              "fee_text": places.money(s["fee"])} for s in found]
    service_id = slots[0]["department"].removeprefix("HealthcareService/") if slots else ""
    place = places.place_of(practitioner_id, service_id, i18n.current_locale(request))
    return _page(request, "desk/book_slots.html", status_code=status_code, error=error, patient=patient,
                 place=place, doctor_id=practitioner_id, service_id=service_id, slots=slots, day=day,
                 days=places.day_choices(day), request_key=secrets.token_urlsafe(24))


@router.get("/desk/patients/{patient_id}/book/slots", response_class=HTMLResponse)
async def choose_slot(request: Request, patient_id: str) -> HTMLResponse:
    """Steps 3 and 4: a day of the doctor's, and its times with the places left, each booked with one button."""
    return await run_in_threadpool(_slots_page, request, _clean_id(patient_id),
                                   _clean_id(request.query_params.get("doctor")), request.query_params.get("date"))


def _book(request: Request, patient_id: str, form: dict[str, str]) -> Response:
    v = _visitor(request)
    guard.check_csrf(request, v, form.get("csrf_token"))
    slot_id, version = _clean_id(form.get("slot")), form.get("version", "")
    doctor, day = _clean_id(form.get("doctor")), form.get("date", "")[:10]
    try:
        with unit_of_work() as conn:
            slot = queries.slot(conn, service.plain_id(slot_id, "Slot"))
            # The desk books its own hospital's doctors only.
            if slot is None or slot.organization_id != _hospital_id(v):
                raise errors.SlotNotFound()
            booked = service.book(conn, ctx=v.ctx, slot_id=slot_id, patient_id=service.plain_id(patient_id, "Patient"),
                                  slot_version=int(version) if version.isdigit() else None,
                                  idempotency_key=form.get("request_key", "")[:64] or None, channel="desk")
    except errors.BookingRefused as exc:
        return _slots_page(request, patient_id, doctor, day, status_code=exc.status,
                           error=_booking_problem(request, exc))
    return guard.see_other(f"/desk/patients/{patient_id}?done=booked&visit={booked.id}")


@router.post("/desk/patients/{patient_id}/book")
async def book(request: Request, patient_id: str) -> Response:
    """Book the chosen time for the patient at the desk (CSRF-checked; a repeated submission books once)."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_book, request, _clean_id(patient_id), form)
