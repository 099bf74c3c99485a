"""Booking, cancelling, rescheduling and paying for appointments; slots and places stay consistent with FHIR.

A place is taken by a conditional UPDATE of the slot's counter (booked < capacity) in the same
transaction that writes the FHIR Appointment, so two requests for the last place can never both
succeed, on SQLite (one writer at a time) and on PostgreSQL (the row lock makes the second UPDATE
re-check its condition after the first commits). When several slots or counters are touched,
slots are locked in id order first, then the patients' day counters, so transactions never wait
on each other in a circle. The Appointment is written with the caller's AccessContext, so the
access policy decides whose appointments a patient, a caregiver or the desk may make or change.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from smartcare.fhir import access, store
from smartcare.fhir.errors import Forbidden, Gone, NotFound
from smartcare.hospital.scheduling import errors, rules
from smartcare.hospital.scheduling.models import booking, booking_day, booking_slot
from smartcare.hospital.scheduling.payments import provider_named
from smartcare.hospital.scheduling.schedules import BUSY, FREE, opening_hours, region_zone, set_slot_status
from smartcare.platform import audit, clock
from smartcare.platform.db import pending_events, run_prepared
from smartcare.platform.events import DomainEvent
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.tables import user_account

CANCEL_REASON_SYSTEM = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")
LIVE = "booked"


@cache
def get_rules() -> rules.BookingRules:
    """The booking limits in force (from the environment, read once)."""
    return rules.BookingRules()


@dataclass(frozen=True, slots=True)
class BookingView:
    """A booking as the API shows it."""

    id: str
    slot: str
    patient: str
    practitioner: str
    practitioner_name: str
    service: str
    start: str
    end: str
    status: str
    channel: str
    payment_status: str
    amount: int
    payment_reference: str | None

    def as_json(self) -> dict:
        """The JSON the API answers with."""
        return {
            "id": self.id, "appointment": f"Appointment/{self.id}", "slot": f"Slot/{self.slot}",
            "patient": f"Patient/{self.patient}", "practitioner": f"Practitioner/{self.practitioner}",
            "practitioner_name": self.practitioner_name, "department": f"HealthcareService/{self.service}",
            "start": self.start, "end": self.end, "status": self.status, "channel": self.channel,
            "payment": {"status": self.payment_status, "amount": self.amount, "currency": "CNY",
                        "amount_unit": "fen", "reference": self.payment_reference},
        }


def plain_id(value: object, res_type: str) -> str:
    """The id in "Type/id" or "id"; InvalidRequest for anything else."""
    if not isinstance(value, str):
        raise errors.InvalidRequest(problem=f"{res_type} must be given as {res_type}/<id>")
    raw = value.removeprefix(f"{res_type}/")
    if not raw or len(raw) > 64 or not _ID_CHARS.issuperset(raw):
        raise errors.InvalidRequest(problem=f"{res_type} must be given as {res_type}/<id>")
    return raw


def _slot(conn: Connection, slot_id: str, *, lock: bool = False) -> sa.Row:
    query = sa.select(booking_slot).where(booking_slot.c.slot_id == slot_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise errors.SlotNotFound()
    return row


def _run(conn: Connection, sql: str, params: tuple) -> Any:
    """Plain driver SQL for booking's hot path ("?" for parameters), prepared on PostgreSQL: building and caching
    SQLAlchemy statements, and planning them in the database, cost more than running them."""
    return run_prepared(conn, sql, params)


_BOOKING_READ = """
SELECT s.slot_id, s.practitioner_id, s.practitioner_name, s.service_id, s.day, s.session, s.start, s."end",
       s.visit_type, s.fee, s.capacity, s.booked, s.blocked, s.version,
       (SELECT b.id FROM booking b WHERE b.patient_id = ?
          AND b.live_session = s.practitioner_id || '|' || s.day || '|' || s.session) AS live_booking,
       (SELECT count(*) FROM user_account u WHERE u.id = ? AND u.locked) AS caller_locked,
       (SELECT count(*) FROM user_account u WHERE u.fhir_ref = ? AND u.locked) AS patient_locked,
       p.pk AS patient_pk, p.deleted AS patient_deleted, p.content AS patient, h.content AS department
FROM booking_slot s
LEFT JOIN fhir_resource p ON p.res_type = 'Patient' AND p.res_id = ?
LEFT JOIN fhir_resource h ON h.res_type = 'HealthcareService' AND h.res_id = s.service_id AND NOT h.deleted
WHERE s.slot_id = ?"""


def _slot_for_booking(conn: Connection, ctx: AccessContext, slot_id: str, patient_id: str) -> sa.Row:
    """The slot, with the patient's standing booking in its session and whether the caller's or the patient's
    accounts are locked: what book checks, read in one round trip."""
    caller = ctx.subject[:36] if ctx.kind == "user" and ctx.subject else None
    row = _run(conn, _BOOKING_READ, (patient_id, caller, f"Patient/{patient_id}", patient_id, slot_id)).first()
    if row is None:
        _check_caller(conn, ctx)
        raise errors.SlotNotFound()
    if row.caller_locked:
        raise errors.CallerLocked()
    return row


def _json_column(value: object) -> dict | None:
    """A JSON column read through the driver: a dict from PostgreSQL, text from SQLite."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value  # type: ignore[return-value]


def _check_bookable(conn: Connection, slot: sa.Row, department: dict | None = None) -> None:
    """Refuse a slot that has begun, is blocked, or lies outside the department's opening hours now
    (department: its HealthcareService, when the caller has read it already)."""
    if clock.parse_instant(slot.start) <= clock.now():
        raise errors.InThePast()
    if slot.blocked:
        raise errors.SlotUnavailable()
    start, end = clock.parse_instant(slot.start), clock.parse_instant(slot.end)
    hours = department.get("availableTime") if department is not None else opening_hours(conn, slot.service_id)
    if not rules.within_opening_hours(hours, start, end, region_zone()):
        raise errors.OutsideOpeningHours()


def _check_caller(conn: Connection, ctx: AccessContext) -> None:
    if ctx.kind == "user" and ctx.subject:
        locked = conn.execute(sa.select(user_account.c.locked).where(user_account.c.id == ctx.subject[:36])).scalar()
        if locked:
            raise errors.CallerLocked()


def _patient_read(conn: Connection, ctx: AccessContext, patient_id: str, slot: sa.Row) -> dict:
    """The Patient the booking read fetched along with the slot, through the access policy as store.read would."""
    try:
        if slot.patient_pk is None or slot.patient_deleted:
            access.decision(ctx, "read", "Patient")
            raise NotFound("Patient not found")
        access.check_row(conn, ctx, "read", "Patient", slot.patient_pk, res_id=patient_id)
    except (NotFound, Forbidden, Gone):
        raise errors.NotProxy() from None
    return _json_column(slot.patient) or {}


def _check_patient(conn: Connection, ctx: AccessContext, patient_id: str, *, locked: bool | None = None,
                   patient: dict | None = None) -> None:
    """The patient must be in the caller's reach (themselves, someone they are proxy for, or the desk's), alive and not
    locked (locked: whether an account of theirs is, when the caller already asked; patient: their record, when
    the caller has read it through the policy already)."""
    if patient is None:
        try:
            patient = store.read(conn, ctx, res_type="Patient", res_id=patient_id).resource
        except (NotFound, Forbidden, Gone):
            raise errors.NotProxy() from None
    if patient.get("deceasedBoolean") is True or patient.get("deceasedDateTime"):
        raise errors.PatientDeceased()
    if locked is None:
        locked = conn.execute(sa.select(sa.func.count()).select_from(user_account).where(
            user_account.c.fhir_ref == f"Patient/{patient_id}", user_account.c.locked.is_(True))).scalar_one() > 0
    if patient.get("active") is False or locked:
        raise errors.PatientLocked()


def _take_place(conn: Connection, slot_id: str, version: int | None) -> None:
    """Take one place of a slot, or explain why there is none; marks the FHIR Slot busy when it fills."""
    sql = "UPDATE booking_slot SET booked = booked + 1, version = version + 1 " \
          "WHERE slot_id = ? AND booked < capacity AND NOT blocked"
    params: tuple = (slot_id,)
    if version is not None:
        sql, params = sql + " AND version = ?", (slot_id, version)
    taken = _run(conn, sql + " RETURNING booked, capacity", params).first()
    if taken is None:
        row = _slot(conn, slot_id)
        if row.blocked:
            raise errors.SlotUnavailable()
        if version is not None and row.version != version:
            raise errors.SlotStale()
        raise errors.SlotFull()
    if taken.booked == taken.capacity:
        set_slot_status(conn, slot_id, BUSY)


def _free_place(conn: Connection, slot_id: str) -> None:
    """Give back one place of a slot; the FHIR Slot is free again unless it is blocked."""
    s = booking_slot.c
    row = conn.execute(
        booking_slot.update().where(s.slot_id == slot_id, s.booked > 0)
        .values(booked=s.booked - 1, version=s.version + 1).returning(s.booked, s.capacity, s.blocked)
    ).first()
    if row is not None and not row.blocked and row.booked == row.capacity - 1:
        set_slot_status(conn, slot_id, FREE)


def _count_day(conn: Connection, patient_id: str, day: str, limit: int) -> None:
    """Count one more standing booking of the patient's day, or refuse at the limit (one upsert)."""
    counted = _run(conn, "INSERT INTO booking_day (patient_id, day, booked) VALUES (?, ?, 1) "
                         "ON CONFLICT (patient_id, day) DO UPDATE SET booked = booking_day.booked + 1 "
                         "WHERE booking_day.booked < ? RETURNING booked", (patient_id, day, limit)).first()
    if counted is None or limit < 1:
        raise errors.DailyLimitReached(limit=limit)


def _uncount_day(conn: Connection, patient_id: str, day: str) -> None:
    d = booking_day.c
    conn.execute(booking_day.update().where(d.patient_id == patient_id, d.day == day, d.booked > 0)
                 .values(booked=d.booked - 1))


def _appointment(slot: sa.Row, patient_id: str, comment: str | None = None) -> dict:
    resource = {
        "resourceType": "Appointment",
        "status": "booked",
        "appointmentType": {"coding": [{"system": rules.VISIT_TYPE_SYSTEM, "code": slot.visit_type}]},
        "slot": [{"reference": f"Slot/{slot.slot_id}"}],
        "start": slot.start,
        "end": slot.end,
        "created": clock.format_instant(clock.now()),
        "participant": [
            {"actor": {"reference": f"Patient/{patient_id}"}, "required": "required", "status": "accepted"},
            {"actor": {"reference": f"Practitioner/{slot.practitioner_id}", "display": slot.practitioner_name},
             "required": "required", "status": "accepted"},
            {"actor": {"reference": f"HealthcareService/{slot.service_id}"}, "required": "information-only",
             "status": "accepted"},
        ],
    }
    if comment:
        resource["comment"] = comment
    return resource


def _write_appointment(conn: Connection, ctx: AccessContext, method: str, appointment_id: str, resource: dict) -> None:
    try:
        store.write_batch(conn, ctx, [store.Write(method, "Appointment", appointment_id, resource)])
    except (Forbidden, NotFound) as exc:
        raise errors.NotProxy() from exc


def _insert_booking(conn: Connection, values: dict) -> None:
    # No savepoint: every caller rolls its transaction (or its own savepoint) back on a refusal.
    columns = ", ".join(values)
    try:
        _run(conn, f"INSERT INTO booking ({columns}) VALUES ({', '.join('?' * len(values))})",  # noqa: S608
             tuple(values.values()))
    except IntegrityError as exc:
        raise _refusal_for(exc) from None


def _refusal_for(exc: IntegrityError) -> Exception:
    """What a constraint the booking ran into means: the same submission again, or a second booking in a session."""
    if "idempotency_key" in str(exc.orig) or "uq_booking_request" in str(exc.orig):
        return errors.DuplicateSubmission()
    return errors.AlreadyBookedThisSession()


def _view(conn: Connection, appointment_id: str) -> BookingView:
    b, s = booking.c, booking_slot.c
    row = conn.execute(sa.select(b.id, b.slot_id, b.patient_id, b.status, b.channel, b.payment_status, b.amount,
                                 b.payment_reference, s.practitioner_id, s.practitioner_name, s.service_id, s.start,
                                 s.end).join_from(booking, booking_slot, b.slot_id == s.slot_id)
                       .where(b.id == appointment_id)).one()
    return BookingView(row.id, row.slot_id, row.patient_id, row.practitioner_id, row.practitioner_name,
                       row.service_id, row.start, row.end, row.status, row.channel, row.payment_status, row.amount,
                       row.payment_reference)


def book(conn: Connection, *, ctx: AccessContext, slot_id: str, patient_id: str, slot_version: int | None = None,
         idempotency_key: str | None = None, channel: str = "app", comment: str | None = None,
         limits: rules.BookingRules | None = None) -> BookingView:
    """Book a place in a slot for a patient (the caller themselves, someone they are proxy for, or at the desk)."""
    from smartcare.hospital.scheduling.jobs import enqueue_booking_jobs

    limits = limits or get_rules()
    requested_by = ctx.author[:255]
    key = None
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 64 or not idempotency_key.isprintable():
            raise errors.InvalidRequest(problem="the idempotency key must be 1 to 64 printable characters")
        key = f"{ctx.subject or ctx.name}|{idempotency_key}"[:128]
        if conn.execute(sa.select(booking.c.id).where(booking.c.idempotency_key == key)).first():
            raise errors.DuplicateSubmission()
    slot = _slot_for_booking(conn, ctx, slot_id, patient_id)
    _check_bookable(conn, slot, _json_column(slot.department) or {})
    _check_patient(conn, ctx, patient_id, locked=slot.patient_locked > 0,
                   patient=_patient_read(conn, ctx, patient_id, slot))
    live = rules.session_key(slot.practitioner_id, slot.day, slot.session)
    if slot.live_booking is not None:
        raise errors.AlreadyBookedThisSession()
    # What the unlocked read already shows refuses early; the conditional UPDATE in _take_place decides.
    if slot_version is not None and slot.version != slot_version:
        raise errors.SlotStale()
    if slot.booked >= slot.capacity:
        raise errors.SlotFull()
    appointment_id = str(uuid.uuid4())
    provider = provider_named(limits.payment_provider)
    paying = slot.fee > 0
    created = clock.format_instant(clock.now())
    values = dict(
        id=appointment_id, slot_id=slot_id, patient_id=patient_id, practitioner_id=slot.practitioner_id,
        day=slot.day, live_session=live, status=LIVE, channel=channel, requested_by=requested_by,
        idempotency_key=key, created=created, ended=None,
        payment_status="pending" if paying else "free", payment_provider=provider.name if paying else None,
        payment_reference=provider.request(booking_id=appointment_id, amount=slot.fee) if paying else None,
        amount=slot.fee, paid_at=None)
    view = BookingView(appointment_id, slot_id, patient_id, slot.practitioner_id, slot.practitioner_name,
                       slot.service_id, slot.start, slot.end, LIVE, channel, values["payment_status"], slot.fee,
                       values["payment_reference"])
    _insert_booking(conn, values)
    _write_appointment(conn, ctx, "POST", appointment_id, _appointment(slot, patient_id, comment))
    _audit(conn, ctx, "C", appointment_id, patient_id)
    enqueue_booking_jobs(conn, view)
    # The place is taken last: the slot's row stays locked from here to the commit, so bookings of one
    # slot queue for that short moment only, not for the whole booking (if there is no place, everything
    # above rolls back with it). The day's counter comes after the slot, the order every other change
    # keeps, so no two transactions wait on each other in a circle.
    _take_place(conn, slot_id, slot_version)
    _count_day(conn, patient_id, slot.day, limits.daily_limit)
    _raise_event(conn, "AppointmentBooked", appointment_id, patient_id, slot_id, channel=channel)
    return view


def _audit(conn: Connection, ctx: AccessContext, action: str, appointment_id: str, patient_id: str) -> None:
    """Record the change of a patient's appointment (booked, cancelled, moved, paid) in the audit trail."""
    audit.record(conn, ctx=ctx, action=action, subtype="create" if action == "C" else "update",
                 entities=[f"Appointment/{appointment_id}"], patient=f"Patient/{patient_id}")


def _raise_event(conn: Connection, name: str, appointment_id: str, patient_id: str, slot_id: str, **extra) -> None:
    """A domain event published after commit, for notifications (booked, cancelled, released, offered)."""
    pending_events(conn).append(DomainEvent(name, {"appointment": f"Appointment/{appointment_id}",
                                                   "patient": f"Patient/{patient_id}", "slot": f"Slot/{slot_id}",
                                                   **extra}))


def _live_booking(conn: Connection, ctx: AccessContext, appointment_id: str) -> tuple[sa.Row, dict]:
    """The standing booking and its FHIR Appointment, if the caller may see it; refused otherwise."""
    try:
        resource = store.read(conn, ctx, res_type="Appointment", res_id=appointment_id).resource
    except (NotFound, Forbidden, Gone):
        raise errors.AppointmentNotFound() from None
    row = conn.execute(sa.select(booking).where(booking.c.id == appointment_id)).first()
    if row is None:
        raise errors.AppointmentNotFound()
    if row.status != LIVE:
        raise errors.NotActive()
    return row, resource


def _check_cutoff(slot_start: str, limits: rules.BookingRules) -> None:
    if clock.parse_instant(slot_start) - clock.now() < timedelta(minutes=limits.cancel_cutoff_minutes):
        raise errors.CancellationClosed(minutes=limits.cancel_cutoff_minutes)


def end_booking(conn: Connection, *, ctx: AccessContext, row: sa.Row, resource: dict, status: str,
                reason: str, reason_text: str, only_unpaid: bool = False) -> None:
    """Cancel or release a standing booking: the place and the day's count are given back, the fee refunded."""
    from smartcare.hospital.scheduling.jobs import enqueue_ended_notice

    condition = [booking.c.id == row.id, booking.c.status == LIVE]
    if only_unpaid:
        condition.append(booking.c.payment_status == "pending")
    ended = conn.execute(booking.update().where(*condition).values(
        status=status, live_session=None, ended=clock.format_instant(clock.now()),
        payment_status="refunded" if row.payment_status == "paid" else row.payment_status))
    if ended.rowcount != 1:
        raise errors.NotActive()
    _free_place(conn, row.slot_id)
    _uncount_day(conn, row.patient_id, row.day)
    if row.payment_status == "paid":
        provider_named(row.payment_provider).refund(reference=row.payment_reference, amount=row.amount)
    cancelled = {**resource, "status": "cancelled",
                 "cancelationReason": {"coding": [{"system": CANCEL_REASON_SYSTEM, "code": reason}],
                                       "text": reason_text}}
    _write_appointment(conn, ctx, "PUT", row.id, cancelled)
    enqueue_ended_notice(conn, booking_id=row.id, reason=reason)
    _raise_event(conn, "AppointmentCancelled", row.id, row.patient_id, row.slot_id, reason=reason, status=status)
    _audit(conn, ctx, "U", row.id, row.patient_id)


def cancel(conn: Connection, *, ctx: AccessContext, appointment_id: str,
           limits: rules.BookingRules | None = None) -> BookingView:
    """Cancel a booking up to the cut-off before the visit; the place goes to the waitlist first."""
    from smartcare.hospital.scheduling.waitlist import offer_waitlist

    limits = limits or get_rules()
    _check_caller(conn, ctx)
    row, resource = _live_booking(conn, ctx, appointment_id)
    slot = _slot(conn, row.slot_id, lock=True)
    _check_cutoff(slot.start, limits)
    end_booking(conn, ctx=ctx, row=row, resource=resource, status="cancelled", reason="pat",
                reason_text="Cancelled by the patient")
    offer_waitlist(conn, slot_id=row.slot_id, limits=limits)
    return _view(conn, appointment_id)


def reschedule(conn: Connection, *, ctx: AccessContext, appointment_id: str, slot_id: str,
               slot_version: int | None = None, limits: rules.BookingRules | None = None) -> BookingView:
    """Move a booking to another slot in one transaction: the new place is taken and the old one freed, or neither."""
    from smartcare.hospital.scheduling.jobs import enqueue_booking_jobs
    from smartcare.hospital.scheduling.waitlist import offer_waitlist

    limits = limits or get_rules()
    _check_caller(conn, ctx)
    row, resource = _live_booking(conn, ctx, appointment_id)
    if slot_id == row.slot_id:
        raise errors.InvalidRequest(problem="the appointment is already in that slot")
    old = _slot(conn, row.slot_id)
    _check_cutoff(old.start, limits)
    new = _slot(conn, slot_id)
    _check_bookable(conn, new)
    _check_patient(conn, ctx, row.patient_id)
    live = rules.session_key(new.practitioner_id, new.day, new.session)
    # Lock both slots in id order before changing either, so two crossing reschedules cannot deadlock.
    for locked in sorted((old.slot_id, new.slot_id)):
        _slot(conn, locked, lock=True)
    _take_place(conn, new.slot_id, slot_version)
    _free_place(conn, old.slot_id)
    if new.day != old.day:
        _count_day(conn, row.patient_id, new.day, limits.daily_limit)
        _uncount_day(conn, row.patient_id, old.day)
    try:
        with conn.begin_nested():
            conn.execute(booking.update().where(booking.c.id == row.id).values(
                slot_id=new.slot_id, practitioner_id=new.practitioner_id, day=new.day, live_session=live))
    except IntegrityError:
        raise errors.AlreadyBookedThisSession() from None
    moved = _appointment(new, row.patient_id)
    moved["created"] = resource.get("created", moved["created"])
    _write_appointment(conn, ctx, "PUT", row.id, {**moved, "id": row.id})
    offer_waitlist(conn, slot_id=old.slot_id, limits=limits)
    view = _view(conn, appointment_id)
    enqueue_booking_jobs(conn, view)  # confirms the new time; the old time's reminders find it moved and do nothing
    _audit(conn, ctx, "U", row.id, row.patient_id)
    return view


def confirm_payment(conn: Connection, *, ctx: AccessContext, appointment_id: str, confirmation: str) -> BookingView:
    """Record the registration fee as paid once the booking's payment provider confirms it."""
    _check_caller(conn, ctx)
    row, _resource = _live_booking(conn, ctx, appointment_id)
    if row.payment_status in ("paid", "free"):
        raise errors.AlreadyPaid()
    if not 1 <= len(confirmation) <= 200:
        raise errors.InvalidRequest(problem="the confirmation must be 1 to 200 characters")
    if not provider_named(row.payment_provider).confirm(reference=row.payment_reference, confirmation=confirmation):
        raise errors.PaymentDeclined()
    paid = conn.execute(booking.update().where(booking.c.id == row.id, booking.c.status == LIVE,
                                               booking.c.payment_status == "pending")
                        .values(payment_status="paid", paid_at=clock.format_instant(clock.now())))
    if paid.rowcount != 1:
        raise errors.NotActive()
    _audit(conn, ctx, "U", row.id, row.patient_id)
    return _view(conn, appointment_id)


def list_slots(conn: Connection, *, day: str, practitioner_id: str | None = None,
               service_id: str | None = None) -> list[dict]:
    """The slots of one local day for a doctor or a department, with the places left (blocked ones left out)."""
    s = booking_slot.c
    query = sa.select(booking_slot).where(s.day == day, s.blocked.is_(False))
    if practitioner_id:
        query = query.where(s.practitioner_id == practitioner_id)
    if service_id:
        query = query.where(s.service_id == service_id)
    rows = conn.execute(query.order_by(s.start, s.practitioner_id).limit(2000)).all()
    now = clock.format_instant(clock.now())
    return [{
        "slot": f"Slot/{r.slot_id}", "version": r.version, "start": r.start, "end": r.end, "session": r.session,
        "practitioner": f"Practitioner/{r.practitioner_id}", "practitioner_name": r.practitioner_name,
        "department": f"HealthcareService/{r.service_id}", "organization": f"Organization/{r.organization_id}",
        "visit_type": r.visit_type, "fee": r.fee, "capacity": r.capacity, "free": r.capacity - r.booked,
        "bookable": r.booked < r.capacity and r.start > now,
    } for r in rows]
