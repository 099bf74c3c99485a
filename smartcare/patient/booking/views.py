"""The patient's booking pages: department, doctor, day and slot, then for whom, book, pay; and "my visits".

Every page asks the guard for the "app" surface first; bookings are made, cancelled, moved and paid
with the caller's own access context, so the scheduling service and the access policy decide whom
they may book for. Refusals come back as the page with the refusal's message in the reader's language.
"""

import secrets
from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.directory import places
from smartcare.hospital.directory import service as directory
from smartcare.hospital.directory.search_index import DoctorQuery
from smartcare.hospital.queue.service import tickets_of
from smartcare.hospital.scheduling import errors, queries, service, waitlist
from smartcare.platform import clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

SURFACE = "app"
PEOPLE_SHOWN = 20
VISITS_SHOWN = 50
_MAX_ID = 64


def _page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    response = render(request, template, status_code=status_code, **values)
    response.headers.update(guard.NO_STORE)
    return response


def _visitor(request: Request) -> guard.Visitor:
    with unit_of_work() as conn:
        return guard.visitor(conn, request, SURFACE)


def _not_found(request: Request) -> HTMLResponse:
    return _page(request, "404.html", status_code=404, requested_path=request.url.path[:200])


def _people(ctx: AccessContext) -> list[dict[str, str]]:
    """The caller's own record and the people they are proxy for, as the access policy lets them see."""
    return [{"id": p["id"], "name": fhir_text.person_name(p), "birth_date": p.get("birthDate", "")}
            for p in gateway.search(ctx, "Patient", [("_count", str(PEOPLE_SHOWN))])]


def _first_choice(request: Request, people: list[dict[str, str]]) -> str:
    """Whom the booking is for unless the form says: the person chosen at the top of the app, else the first."""
    kept = guard.wanted_person(request)
    return next((p["id"] for p in people if p["id"] == kept), people[0]["id"] if people else "")


def _clean_id(value: str | None) -> str:
    return (value or "").strip()[:_MAX_ID]


# --- choose: department, doctor, slot -----------------------------------------------------------


def _choose_department(request: Request) -> HTMLResponse:
    _visitor(request)
    locale = i18n.current_locale(request)
    hospitals = directory.organizations()
    chosen = _clean_id(request.query_params.get("hospital")) or (hospitals[0]["id"] if hospitals else "")
    departments = sorted(({"id": row["service"]["id"], "name": places.department_name(row["service"], locale)}
                          for row in directory.departments(organization=chosen)), key=lambda d: d["name"])
    return _page(request, "booking/departments.html", departments=departments, chosen=chosen,
                 hospitals=[{"id": h["id"], "name": places.organization_name(h, locale)} for h in hospitals],
                 today=places.today().isoformat())


@router.get("/app/book", response_class=HTMLResponse)
async def choose_department(request: Request) -> HTMLResponse:
    """Step 1: choose a hospital and one of its departments."""
    return await run_in_threadpool(_choose_department, request)


def _choose_doctor(request: Request) -> HTMLResponse:
    _visitor(request)
    locale = i18n.current_locale(request)
    service_id = _clean_id(request.query_params.get("department"))
    row = next((r for r in directory.departments() if r["service"]["id"] == service_id), None)
    if row is None:
        return _not_found(request)
    day = places.chosen_day(request.query_params.get("date"))
    code, _english, _chinese = directory.department_key(row["service"])
    hospital_id = (row["hospital"] or {}).get("id", "")
    found = directory.find_doctors(query=DoctorQuery(department=code, organization=hospital_id), on=day)
    # The fee shown is the one the slots charge, which is what booking takes.
    with unit_of_work() as conn:
        fees = {s["practitioner"].removeprefix("Practitioner/"): s["fee"]
                for s in service.list_slots(conn, day=day.isoformat(), service_id=service_id)}
    doctors = [{"entry": r.doctor, "place": places.place_of(r.doctor.practitioner_id, service_id, locale),
                "fee": places.money(fees[r.doctor.practitioner_id]) if r.doctor.practitioner_id in fees else None,
                "next_free": r.next_free.astimezone(places.region_zone()) if r.next_free else None}
               for r in found if r.doctor.service_id == service_id]
    return _page(request, "booking/doctors.html", department=places.department_name(row["service"], locale),
                 hospital=places.organization_name(row["hospital"], locale), service_id=service_id,
                 doctors=doctors, days=places.day_choices(day), day=day)


@router.get("/app/book/doctors", response_class=HTMLResponse)
async def choose_doctor(request: Request) -> HTMLResponse:
    """Step 2: the department's doctors free on a day, with their fee and next free time."""
    return await run_in_threadpool(_choose_doctor, request)


def _slots_of_day(practitioner_id: str, day: str) -> list[dict[str, Any]]:
    with unit_of_work() as conn:
        found = service.list_slots(conn, day=day, practitioner_id=practitioner_id)
    return [{**s, "id": s["slot"].removeprefix("Slot/"), "time": places.local_time(s["start"]).strftime("%H:%M"),
             "fee_text": places.money(s["fee"])} for s in found]


def _choose_slot(request: Request, *, practitioner_id: str | None = None, day_text: str | None = None,
                 status_code: int = 200, error: dict | None = None, patient_id: str = "") -> HTMLResponse:
    v = _visitor(request)
    practitioner_id = _clean_id(practitioner_id if practitioner_id is not None else request.query_params.get("doctor"))
    if not practitioner_id or not directory.current_index().by_practitioner(practitioner_id):
        return _not_found(request)
    day = places.chosen_day(day_text if day_text is not None else request.query_params.get("date"))
    slots = _slots_of_day(practitioner_id, day.isoformat())
    service_id = slots[0]["department"].removeprefix("HealthcareService/") if slots else ""
    place = places.place_of(practitioner_id, service_id, i18n.current_locale(request))
    with unit_of_work() as conn:
        full = waitlist.day_is_full(conn, practitioner_id=practitioner_id, day=day.isoformat())
    people = _people(v.ctx) if full else []
    return _page(request, "booking/slots.html", status_code=status_code, error=error, place=place,
                 doctor_id=practitioner_id, slots=slots, days=places.day_choices(day), day=day, full=full,
                 people=people, chosen=patient_id or _first_choice(request, people))


@router.get("/app/book/slots", response_class=HTMLResponse)
async def choose_slot(request: Request) -> HTMLResponse:
    """Step 3: a day picker over the next two weeks and the doctor's slots that day with the places left; on a full
    day, the offer to join the waiting list."""
    return await run_in_threadpool(_choose_slot, request)


def _acted(request: Request, form: dict[str, str], work: Callable[[Connection, AccessContext], object], *,
           done: str, refused: Callable[..., Response]) -> Response:
    """A CSRF-checked change: work in one transaction, then to done; a refusal shows refused(status_code=, error=)."""
    v = _visitor(request)
    guard.check_csrf(request, v, form.get("csrf_token"))
    try:
        with unit_of_work() as conn:
            work(conn, v.ctx)
    except errors.BookingRefused as exc:
        return refused(status_code=exc.status, error=errors.described(request, exc))
    return RedirectResponse(done, status_code=303, headers=guard.NO_STORE)


def _join_waitlist(request: Request, form: dict[str, str]) -> Response:
    practitioner_id, patient_id = _clean_id(form.get("doctor")), _clean_id(form.get("patient"))
    day = form.get("date", "")[:10]
    return _acted(
        request, form,
        lambda conn, ctx: waitlist.join_waitlist(
            conn, ctx=ctx, practitioner_id=service.plain_id(practitioner_id, "Practitioner"), day=day,
            patient_id=service.plain_id(patient_id, "Patient"), only_when_full=True),
        done="/app/visits?done=waiting#waitlist",
        refused=partial(_choose_slot, request, practitioner_id=practitioner_id, day_text=day, patient_id=patient_id))


@router.post("/app/book/waitlist")
async def join_waitlist(request: Request) -> Response:
    """Join the waiting list of a doctor's full day, for oneself or a family member (CSRF-checked)."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_join_waitlist, request, form)


# --- confirm and book ---------------------------------------------------------------------------


def _confirm(request: Request, slot_id: str, *, status_code: int = 200, error: dict | None = None,
             patient_id: str = "") -> HTMLResponse:
    v = _visitor(request)
    with unit_of_work() as conn:
        slot = queries.slot(conn, slot_id)
    if slot is None:
        return _not_found(request)
    people = _people(v.ctx)
    return _page(request, "booking/confirm.html", status_code=status_code, error=error, slot=slot,
                 place=places.place_of(slot.practitioner_id, slot.service_id, i18n.current_locale(request),
                                       slot.practitioner_name),
                 starts=places.local_time(slot.start), fee=places.money(slot.fee), people=people,
                 chosen=patient_id or _first_choice(request, people), request_key=secrets.token_urlsafe(24))


@router.get("/app/book/confirm", response_class=HTMLResponse)
async def confirm(request: Request) -> HTMLResponse:
    """Step 4: for whom (oneself or a person one is proxy for) and the fee, then book."""
    return await run_in_threadpool(_confirm, request, _clean_id(request.query_params.get("slot")))


def _book(request: Request, form: dict[str, str]) -> Response:
    v = _visitor(request)
    guard.check_csrf(request, v, form.get("csrf_token"))
    slot_id, patient_id = _clean_id(form.get("slot")), _clean_id(form.get("patient"))
    version = form.get("version", "")
    try:
        with unit_of_work() as conn:
            booked = service.book(conn, ctx=v.ctx, slot_id=service.plain_id(slot_id, "Slot"),
                                  patient_id=service.plain_id(patient_id, "Patient"),
                                  slot_version=int(version) if version.isdigit() else None,
                                  idempotency_key=form.get("request_key", "")[:100] or None, channel="app")
    except errors.BookingRefused as exc:
        return _confirm(request, slot_id, status_code=exc.status, error=errors.described(request, exc), patient_id=patient_id)
    return RedirectResponse(f"/app/visits/{booked.id}", status_code=303, headers=guard.NO_STORE)


@router.post("/app/book")
async def book(request: Request) -> Response:
    """Book the chosen slot for the chosen person (CSRF-checked; a repeated submission books once)."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_book, request, form)


# --- my visits ----------------------------------------------------------------------------------


def _instructions(appointment: dict[str, Any]) -> str:
    return appointment.get("patientInstruction") or appointment.get("comment") or ""


def _visit(appointment: dict[str, Any], person: dict[str, str], row: Any, ticket: dict | None,
           locale: str) -> dict[str, Any]:
    """One visit as "my visits" shows it."""
    practitioner = next((p.get("actor", {}) for p in appointment.get("participant", [])
                         if p.get("actor", {}).get("reference", "").startswith("Practitioner/")), {})
    practitioner_id = row.practitioner_id if row else practitioner.get("reference", "").removeprefix("Practitioner/")
    start = appointment.get("start") or (row.start if row else "")
    return {
        "id": appointment["id"], "who": person["name"], "status": appointment.get("status", ""),
        "starts": places.local_time(start) if start else None,
        "place": places.place_of(practitioner_id, row.service_id if row else "", locale,
                                 practitioner.get("display", "")),
        "fee": places.money(row.amount) if row else None, "payment": row.payment_status if row else None,
        "ticket": ticket, "instructions": _instructions(appointment), "changeable": bool(row) and
        appointment.get("status") == "booked" and row.status == service.LIVE,
        "upcoming": bool(start) and clock.parse_instant(appointment.get("end") or start) > clock.now()
        and appointment.get("status") not in ("cancelled", "fulfilled", "noshow", "entered-in-error"),
    }


def visits_of(ctx: AccessContext, locale: str) -> list[dict[str, Any]]:
    """The visits of the caller and the people they are proxy for, newest first."""
    found = []
    for person in _people(ctx):
        for appointment in gateway.search(ctx, "Appointment", [
                ("patient", f"Patient/{person['id']}"), ("_sort", "-date"), ("_count", str(VISITS_SHOWN))]):
            found.append((appointment, person))
    with unit_of_work() as conn:
        rows = queries.bookings(conn, [a["id"] for a, _p in found])
        tickets = tickets_of(conn, sorted({p["id"] for _a, p in found})) if found else []
    by_appointment = {t["appointment"]: t for t in tickets}
    return [_visit(a, p, rows.get(a["id"]), by_appointment.get(a["id"]), locale) for a, p in found]


def waiting_of(ctx: AccessContext, locale: str) -> list[dict[str, Any]]:
    """The waiting-list places of the caller and the people they are proxy for, with their position in line."""
    people = {p["id"]: p for p in _people(ctx)}
    with unit_of_work() as conn:
        entries = waitlist.entries_of(conn, patient_ids=sorted(people), from_day=places.today().isoformat())
    return [{**e, "who": people[e["patient_id"]]["name"], "place": places.place_of(e["practitioner_id"], "", locale)}
            for e in entries]


def _my_visits(request: Request, *, status_code: int = 200, error: dict | None = None) -> HTMLResponse:
    v = _visitor(request)
    locale = i18n.current_locale(request)
    visits = visits_of(v.ctx, locale)
    upcoming = sorted((x for x in visits if x["upcoming"]), key=lambda x: x["starts"])
    past = [x for x in visits if not x["upcoming"]]
    return _page(request, "booking/visits.html", status_code=status_code, error=error, upcoming=upcoming,
                 past=past, today=places.today(), waiting=waiting_of(v.ctx, locale))


@router.get("/app/visits", response_class=HTMLResponse)
async def my_visits(request: Request) -> HTMLResponse:
    """My visits: upcoming and past, with where to go, the queue, the fee and what the doctor asked."""
    return await run_in_threadpool(_my_visits, request)


def _visit_page(request: Request, appointment_id: str, *, status_code: int = 200,
                error: dict | None = None) -> HTMLResponse:
    v = _visitor(request)
    try:
        appointment = gateway.read(v.ctx, f"Appointment/{appointment_id}")
    except FhirError:
        return _not_found(request)
    reference = next((p["actor"]["reference"] for p in appointment.get("participant", [])
                      if p.get("actor", {}).get("reference", "").startswith("Patient/")), "")
    person = next((p for p in _people(v.ctx) if f"Patient/{p['id']}" == reference), {"name": ""})
    with unit_of_work() as conn:
        row = queries.bookings(conn, [appointment_id]).get(appointment_id)
    visit = _visit(appointment, person, row, None, i18n.current_locale(request))
    return _page(request, "booking/visit.html", status_code=status_code, error=error, visit=visit,
                 on_the_day=visit["starts"] is not None and visit["starts"].date() == places.today())


@router.get("/app/visits/{appointment_id}", response_class=HTMLResponse)
async def visit_page(request: Request, appointment_id: str) -> HTMLResponse:
    """One booked visit: when and where, the fee and whether it is paid, and the way to the queue on the day."""
    return await run_in_threadpool(_visit_page, request, appointment_id[:_MAX_ID])


def _pay(request: Request, appointment_id: str, form: dict[str, str]) -> Response:
    # The development provider settles any confirmation; a real one returns its own from the payer's app.
    return _acted(
        request, form,
        lambda conn, ctx: service.confirm_payment(conn, ctx=ctx, confirmation=f"app-{appointment_id}",
                                                  appointment_id=service.plain_id(appointment_id, "Appointment")),
        done=f"/app/visits/{appointment_id}", refused=partial(_visit_page, request, appointment_id))


@router.post("/app/visits/{appointment_id}/pay")
async def pay(request: Request, appointment_id: str) -> Response:
    """Pay the registration fee (CSRF-checked)."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_pay, request, appointment_id[:_MAX_ID], form)


def _cancel(request: Request, appointment_id: str, form: dict[str, str]) -> Response:
    return _acted(
        request, form,
        lambda conn, ctx: service.cancel(conn, ctx=ctx, appointment_id=service.plain_id(appointment_id, "Appointment")),
        done="/app/visits?done=cancelled", refused=partial(_my_visits, request))


@router.post("/app/visits/{appointment_id}/cancel")
async def cancel(request: Request, appointment_id: str) -> Response:
    """Cancel a visit up to the cut-off (CSRF-checked); the refusal after it says until when one could."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_cancel, request, appointment_id[:_MAX_ID], form)


def _reschedule_page(request: Request, appointment_id: str, *, status_code: int = 200,
                     error: dict | None = None) -> HTMLResponse:
    v = _visitor(request)
    try:
        gateway.read(v.ctx, f"Appointment/{appointment_id}")
    except FhirError:
        return _not_found(request)
    with unit_of_work() as conn:
        row = queries.bookings(conn, [appointment_id]).get(appointment_id)
    if row is None or row.status != service.LIVE:
        return _not_found(request)
    day = places.chosen_day(request.query_params.get("date") or row.day)
    slots = [s for s in _slots_of_day(row.practitioner_id, day.isoformat()) if s["id"] != row.slot_id]
    return _page(request, "booking/reschedule.html", status_code=status_code, error=error,
                 appointment_id=appointment_id, current=places.local_time(row.start), slots=slots,
                 place=places.place_of(row.practitioner_id, row.service_id, i18n.current_locale(request),
                                       row.practitioner_name),
                 days=places.day_choices(day), day=day)


@router.get("/app/visits/{appointment_id}/reschedule", response_class=HTMLResponse)
async def reschedule_page(request: Request, appointment_id: str) -> HTMLResponse:
    """Another free slot of the same doctor to move the visit to."""
    return await run_in_threadpool(_reschedule_page, request, appointment_id[:_MAX_ID])


def _reschedule(request: Request, appointment_id: str, form: dict[str, str]) -> Response:
    version = form.get("version", "")
    return _acted(
        request, form,
        lambda conn, ctx: service.reschedule(
            conn, ctx=ctx, appointment_id=service.plain_id(appointment_id, "Appointment"),
            slot_id=service.plain_id(_clean_id(form.get("slot")), "Slot"),
            slot_version=int(version) if version.isdigit() else None),
        done=f"/app/visits/{appointment_id}", refused=partial(_reschedule_page, request, appointment_id))


@router.post("/app/visits/{appointment_id}/reschedule")
async def reschedule(request: Request, appointment_id: str) -> Response:
    """Move the visit to the chosen slot (CSRF-checked): the new place is taken and the old one freed together."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_reschedule, request, appointment_id[:_MAX_ID], form)


def _leave_waitlist(request: Request, entry_id: str, form: dict[str, str]) -> Response:
    return _acted(request, form, lambda conn, ctx: waitlist.leave_waitlist(conn, ctx=ctx, entry_id=entry_id),
                  done="/app/visits?done=left#waitlist", refused=partial(_my_visits, request))


@router.post("/app/waitlist/{entry_id}/leave")
async def leave_waitlist(request: Request, entry_id: str) -> Response:
    """Leave a waiting list (CSRF-checked); those behind move up."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_leave_waitlist, request, entry_id[:_MAX_ID], form)
