"""The booking JSON API under /api/v1: slots to choose from, and booking, cancelling, rescheduling, paying, waiting."""

from collections.abc import Callable
from datetime import date
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.scheduling import errors, service, waitlist
from smartcare.hospital.scheduling import jobs as _booking_jobs  # noqa: F401 (declares the notification kinds)
from smartcare.hospital.scheduling.schemas import (
    BookingRequest,
    PaymentRequest,
    RescheduleRequest,
    WaitlistRequest,
)
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import guard

router = APIRouter(prefix="/api/v1", tags=["scheduling"])
MAX_BODY = 4096
# Patients and caregivers book in the app; registration-desk staff at the desk.
APP, DESK = "app", "desk"


def _caller(conn: Connection, request: Request) -> tuple[AccessContext, str]:
    """The caller and the channel they book through: the app for patients and caregivers, else the desk."""
    try:
        return guard.api_caller(conn, request, APP), APP
    except guard.SurfaceForbidden as exc:
        if exc.ctx is None:
            raise
    return guard.api_caller(conn, request, DESK), DESK


def _refused(request: Request, exc: errors.BookingRefused) -> JSONResponse:
    said = errors.described(request, exc)
    return JSONResponse({"error": said["code"], "message": said["message"]}, status_code=exc.status,
                        headers=guard.NO_STORE)


async def _raw_body(request: Request) -> bytes | None:
    """The request body, or None when it is over MAX_BODY (refused once the caller is known)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _parsed(raw: bytes | None, model: type[BaseModel]) -> Any:
    if raw is None:
        raise errors.InvalidRequest(problem=f"the body is over {MAX_BODY} bytes")
    try:
        return model.model_validate(orjson.loads(raw or b"null"))
    except orjson.JSONDecodeError:
        raise errors.InvalidRequest(problem="the body must be a JSON object") from None
    except ValidationError as exc:
        problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:3])
        raise errors.InvalidRequest(problem=problem[:300]) from None


async def _act(request: Request, model: type[BaseModel] | None, work: Callable[..., Any], status: int = 200):
    """Settle the caller, then read the body and do the work, all in one transaction; refusals become JSON errors.

    One transaction and one trip to the thread pool per request: settling the caller in a transaction of
    its own cost a connection checkout, a commit and a thread hop on every booking.
    """
    raw = await _raw_body(request) if model is not None else None

    def run() -> Any:
        with unit_of_work() as conn:
            ctx, channel = _caller(conn, request)
            return work(conn, ctx, channel, _parsed(raw, model) if model is not None else None)

    try:
        result = await run_in_threadpool(run)
    except errors.BookingRefused as exc:
        return _refused(request, exc)
    return JSONResponse(result, status_code=status, headers=guard.NO_STORE)


@router.get("/slots", summary="Slots of a day, by doctor or department")
def slots(request: Request, date: str | None = None, doctor: str | None = None,
          department: str | None = None) -> JSONResponse:
    """Slots of one day (`date`, YYYY-MM-DD, default today) for a `doctor` (Practitioner/<id>) or a `department`
    (HealthcareService/<id>), each with its places left and its version. Public, like the directory."""
    try:
        day = _day(date)
        doctor_id = service.plain_id(doctor, "Practitioner") if doctor else None
        department_id = service.plain_id(department, "HealthcareService") if department else None
        if not doctor_id and not department_id:
            raise errors.InvalidRequest(problem="give a doctor or a department")
    except errors.BookingRefused as exc:
        return _refused(request, exc)
    with unit_of_work() as conn:
        found = service.list_slots(conn, day=day, practitioner_id=doctor_id, service_id=department_id)
    return JSONResponse({"date": day, "slots": found})


def _day(text: str | None) -> str:
    if text is None:
        return clock.now().astimezone(service.region_zone()).date().isoformat()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise errors.InvalidRequest(problem="the date must be written YYYY-MM-DD") from None


@router.post("/appointments", summary="Book a slot")
async def book(request: Request) -> JSONResponse:
    """Book `{"slot": "Slot/<id>", "patient": "Patient/<id>"}` for yourself, a family member you are proxy for,
    or (registration desk) a patient of your hospital. Optional `slot_version` and `idempotency_key`
    (or the Idempotency-Key header) refuse stale and repeated submissions."""
    header_key = request.headers.get("idempotency-key")

    def work(conn: Connection, ctx: AccessContext, channel: str, body: BookingRequest) -> dict:
        return service.book(conn, ctx=ctx, slot_id=service.plain_id(body.slot, "Slot"),
                            patient_id=service.plain_id(body.patient, "Patient"), slot_version=body.slot_version,
                            idempotency_key=body.idempotency_key or header_key, channel=channel).as_json()

    return await _act(request, BookingRequest, work, status=201)


@router.post("/appointments/{appointment_id}/cancel", summary="Cancel an appointment")
async def cancel(request: Request, appointment_id: str) -> JSONResponse:
    """Cancel up to the cut-off before the visit; the place is offered to the waitlist."""

    def work(conn: Connection, ctx: AccessContext, channel: str, body: None) -> dict:
        return service.cancel(conn, ctx=ctx, appointment_id=service.plain_id(appointment_id, "Appointment")).as_json()

    return await _act(request, None, work)


@router.post("/appointments/{appointment_id}/reschedule", summary="Move an appointment to another slot")
async def reschedule(request: Request, appointment_id: str) -> JSONResponse:
    """Move to `{"slot": "Slot/<id>"}`: the new place is taken and the old one freed together, or nothing changes."""

    def work(conn: Connection, ctx: AccessContext, channel: str, body: RescheduleRequest) -> dict:
        return service.reschedule(conn, ctx=ctx, appointment_id=service.plain_id(appointment_id, "Appointment"),
                                  slot_id=service.plain_id(body.slot, "Slot"),
                                  slot_version=body.slot_version).as_json()

    return await _act(request, RescheduleRequest, work)


@router.post("/appointments/{appointment_id}/payment", summary="Confirm the registration fee")
async def pay(request: Request, appointment_id: str) -> JSONResponse:
    """Record the fee as paid once the payment provider confirms `{"confirmation": "..."}`."""

    def work(conn: Connection, ctx: AccessContext, channel: str, body: PaymentRequest) -> dict:
        return service.confirm_payment(conn, ctx=ctx, appointment_id=service.plain_id(appointment_id, "Appointment"),
                                       confirmation=body.confirmation).as_json()

    return await _act(request, PaymentRequest, work)


@router.post("/waitlist", summary="Wait for a doctor on a day")
async def join_waitlist(request: Request) -> JSONResponse:
    """Join `{"practitioner": "Practitioner/<id>", "date": "YYYY-MM-DD", "patient": "Patient/<id>"}`'s waitlist."""

    def work(conn: Connection, ctx: AccessContext, channel: str, body: WaitlistRequest) -> dict:
        return waitlist.join_waitlist(conn, ctx=ctx, practitioner_id=service.plain_id(body.practitioner, "Practitioner"),
                                      day=_day(body.date), patient_id=service.plain_id(body.patient, "Patient"))

    return await _act(request, WaitlistRequest, work, status=201)
