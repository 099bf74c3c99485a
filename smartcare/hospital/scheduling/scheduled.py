"""Time-based scheduling rules that jobs call: releasing unpaid bookings, and blocking slots for leave and holidays."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.hospital.scheduling import rules, service
from smartcare.hospital.scheduling.models import booking, booking_slot
from smartcare.hospital.scheduling.schedules import BLOCKED, set_slot_status
from smartcare.hospital.scheduling.waitlist import Offer, offer_waitlist
from smartcare.platform import clock
from smartcare.platform.security.context import SYSTEM


@dataclass(frozen=True, slots=True)
class EndedBooking:
    """A booking the platform ended: whom to tell, about which visit."""

    appointment_id: str
    patient_id: str
    practitioner_id: str
    slot_id: str
    start: str


@dataclass(frozen=True, slots=True)
class Released:
    """What release_unpaid did: the bookings released and the places then offered from the waitlist."""

    released: list[EndedBooking]
    offers: list[Offer]


def _ended(row: sa.Row, start: str) -> EndedBooking:
    return EndedBooking(row.id, row.patient_id, row.practitioner_id, row.slot_id, start)


def release_unpaid(conn: Connection, *, now: datetime | None = None,
                   limits: rules.BookingRules | None = None) -> Released:
    """Release bookings whose fee is still unpaid after the timeout, and offer the places to the waitlist."""
    limits = limits or service.get_rules()
    now = now or clock.now()
    cutoff = clock.format_instant(now - timedelta(minutes=limits.unpaid_timeout_minutes))
    b = booking.c
    due = conn.execute(sa.select(booking).where(b.status == service.LIVE, b.payment_status == "pending",
                                                b.created <= cutoff).order_by(b.slot_id)).all()
    released: list[EndedBooking] = []
    offers: list[Offer] = []
    for row in due:
        slot = conn.execute(sa.select(booking_slot).where(booking_slot.c.slot_id == row.slot_id)
                            .with_for_update()).one()
        resource = store.read(conn, SYSTEM, res_type="Appointment", res_id=row.id).resource
        try:
            service.end_booking(conn, ctx=SYSTEM, row=row, resource=resource, status="released", reason="pat",
                                reason_text="Released: the registration fee was not paid in time", only_unpaid=True)
        except service.errors.NotActive:
            continue  # paid or cancelled meanwhile
        released.append(_ended(row, slot.start))
        offers += offer_waitlist(conn, slot_id=row.slot_id, limits=limits)
    return Released(released, offers)


def block_period(conn: Connection, *, start: datetime, end: datetime, reason: str,
                 practitioner_id: str | None = None, organization_id: str | None = None) -> list[EndedBooking]:
    """Block the slots in [start, end) for a doctor's leave or a holiday; return the cancelled bookings to notify.

    With no practitioner the whole organisation is blocked (a holiday); with neither, the whole region.
    """
    if not 1 <= len(reason) <= 200:
        raise service.errors.InvalidRequest(problem="the reason must be 1 to 200 characters")
    if end <= start:
        raise service.errors.InvalidRequest(problem="the period must end after it starts")
    s = booking_slot.c
    query = sa.select(booking_slot).where(s.start < clock.format_instant(end), s.end > clock.format_instant(start),
                                          s.blocked.is_(False))
    if practitioner_id:
        query = query.where(s.practitioner_id == practitioner_id)
    if organization_id:
        query = query.where(s.organization_id == organization_id)
    slots = conn.execute(query.order_by(s.slot_id).with_for_update()).all()
    affected: list[EndedBooking] = []
    for slot in slots:
        conn.execute(booking_slot.update().where(s.slot_id == slot.slot_id).values(
            blocked=True, block_reason=reason, version=s.version + 1))
        standing = conn.execute(sa.select(booking).where(booking.c.slot_id == slot.slot_id,
                                                         booking.c.status == service.LIVE)).all()
        for row in standing:
            resource = store.read(conn, SYSTEM, res_type="Appointment", res_id=row.id).resource
            service.end_booking(conn, ctx=SYSTEM, row=row, resource=resource, status="cancelled", reason="prov",
                                reason_text=reason)
            affected.append(_ended(row, slot.start))
        set_slot_status(conn, slot.slot_id, BLOCKED)
    return affected
