"""The booking rows the patient's pages read: one slot, and the bookings behind Appointments the caller may see."""

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.hospital.scheduling.models import booking, booking_slot


def slot(conn: Connection, slot_id: str) -> sa.Row | None:
    """One slot with its places, or None."""
    return conn.execute(sa.select(booking_slot).where(booking_slot.c.slot_id == slot_id)).first()


def bookings(conn: Connection, appointment_ids: list[str]) -> dict[str, sa.Row]:
    """Appointment id -> the booking and its slot, for the ids that were booked through scheduling."""
    if not appointment_ids:
        return {}
    b, s = booking.c, booking_slot.c
    rows = conn.execute(
        sa.select(b.id, b.slot_id, b.patient_id, b.status, b.payment_status, b.amount, s.practitioner_id,
                  s.practitioner_name, s.service_id, s.start, s.end, s.day)
        .join_from(booking, booking_slot, b.slot_id == s.slot_id).where(b.id.in_(appointment_ids))).all()
    return {r.id: r for r in rows}
