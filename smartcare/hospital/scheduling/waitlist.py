"""The waitlist: patients wait for a doctor on a day, and a freed place is offered to the first who can take it."""

import uuid
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import Forbidden, Gone, NotFound
from smartcare.hospital.scheduling import errors, rules, service
from smartcare.hospital.scheduling.models import booking, booking_slot, booking_waitlist
from smartcare.platform import clock
from smartcare.platform.security.context import SYSTEM, AccessContext

WAITING, OFFERED, LEFT = "waiting", "offered", "left"


@dataclass(frozen=True, slots=True)
class Offer:
    """A freed place booked for the first waiting patient; they confirm it by paying (or it is released)."""

    patient_id: str
    appointment_id: str
    slot_id: str


def day_is_full(conn: Connection, *, practitioner_id: str, day: str) -> bool:
    """True when the doctor has slots still to come on the day and none of them has a free place."""
    s = booking_slot.c
    now = clock.format_instant(clock.now())
    coming = conn.execute(sa.select(s.booked, s.capacity).where(
        s.practitioner_id == practitioner_id, s.day == day, s.blocked.is_(False), s.start > now)).all()
    return bool(coming) and all(r.booked >= r.capacity for r in coming)


def join_waitlist(conn: Connection, *, ctx: AccessContext, practitioner_id: str, day: str,
                  patient_id: str, only_when_full: bool = False) -> dict:
    """Put a patient (the caller, someone they are proxy for, or at the desk) on a doctor's waitlist for a day;
    only_when_full refuses while the day still has free places (the app's offer to wait)."""
    service._check_caller(conn, ctx)
    try:
        wanted = date.fromisoformat(day)
    except (TypeError, ValueError):
        raise errors.InvalidRequest(problem="the date must be written YYYY-MM-DD") from None
    today = clock.now().astimezone(service.region_zone()).date()
    if wanted < today:
        raise errors.InThePast()
    service._check_patient(conn, ctx, patient_id)
    s = booking_slot.c
    if not conn.execute(sa.select(s.slot_id).where(s.practitioner_id == practitioner_id, s.day == day).limit(1)).first():
        raise errors.SlotNotFound()
    if only_when_full and not day_is_full(conn, practitioner_id=practitioner_id, day=day):
        raise errors.DayNotFull()
    w = booking_waitlist.c
    if conn.execute(sa.select(w.id).where(w.practitioner_id == practitioner_id, w.day == day,
                                          w.patient_id == patient_id, w.status == WAITING)).first():
        raise errors.AlreadyWaiting()
    entry = dict(id=str(uuid.uuid4()), practitioner_id=practitioner_id, day=day, patient_id=patient_id,
                 requested_by=ctx.author[:255], joined=clock.format_instant(clock.now()), status=WAITING,
                 appointment_id=None)
    conn.execute(booking_waitlist.insert().values(**entry))
    ahead = conn.execute(sa.select(sa.func.count()).where(
        w.practitioner_id == practitioner_id, w.day == day, w.status == WAITING, w.id != entry["id"])).scalar_one()
    return {"id": entry["id"], "practitioner": f"Practitioner/{practitioner_id}", "date": day,
            "patient": f"Patient/{patient_id}", "status": WAITING, "ahead": ahead}


def offer_waitlist(conn: Connection, *, slot_id: str, limits: rules.BookingRules | None = None) -> list[Offer]:
    """Book the free places of a slot for the first waiting patients, in the order they joined.

    A waiting patient whom booking would refuse (their daily limit, a booking in that session) keeps
    their place in the queue and the next one is asked. Each offer is an unpaid booking: the patient
    confirms it by paying, or release_unpaid frees it again for the next in line.
    """
    from smartcare.hospital.scheduling.jobs import enqueue_offer_notice

    slot = conn.execute(sa.select(booking_slot).where(booking_slot.c.slot_id == slot_id)).first()
    if slot is None or slot.blocked or slot.booked >= slot.capacity or slot.start <= clock.format_instant(clock.now()):
        return []
    w = booking_waitlist.c
    waiting = conn.execute(sa.select(w.seq, w.patient_id).where(
        w.practitioner_id == slot.practitioner_id, w.day == slot.day, w.status == WAITING).order_by(w.seq)).all()
    offers: list[Offer] = []
    places = slot.capacity - slot.booked
    for entry in waiting:
        if len(offers) == places:
            break
        try:
            with conn.begin_nested():
                view = service.book(conn, ctx=SYSTEM, slot_id=slot_id, patient_id=entry.patient_id,
                                    channel="waitlist", comment="Offered from the waitlist", limits=limits)
        except errors.BookingRefused:
            continue
        conn.execute(booking_waitlist.update().where(w.seq == entry.seq).values(status=OFFERED,
                                                                                appointment_id=view.id))
        enqueue_offer_notice(conn, booking_id=view.id)
        service._raise_event(conn, "WaitlistOffered", view.id, entry.patient_id, slot_id)
        offers.append(Offer(entry.patient_id, view.id, slot_id))
    return offers


def _position(conn: Connection, row: sa.Row) -> int | None:
    """Where a waiting entry stands in its line (1 is next), None once it is no longer waiting."""
    if row.status != WAITING:
        return None
    w = booking_waitlist.c
    return conn.execute(sa.select(sa.func.count()).where(
        w.practitioner_id == row.practitioner_id, w.day == row.day, w.status == WAITING, w.seq <= row.seq)).scalar_one()


def entries_of(conn: Connection, *, patient_ids: list[str], from_day: str) -> list[dict]:
    """The patients' waiting places and unpaid offers from from_day on, with their position in line, in date order.

    The caller gives only the patients the access policy lets them see (themselves and those they are proxy for).
    """
    if not patient_ids:
        return []
    w, b = booking_waitlist.c, booking.c
    # An offer stays on the list until it is paid for (then it is an ordinary visit) or ends.
    unpaid_offer = sa.and_(w.status == OFFERED, b.status == service.LIVE, b.payment_status == "pending")
    rows = conn.execute(sa.select(booking_waitlist).outerjoin(booking, b.id == w.appointment_id).where(
        w.patient_id.in_(patient_ids), sa.or_(w.status == WAITING, unpaid_offer), w.day >= from_day)
        .order_by(w.day, w.seq)).all()
    return [{"id": r.id, "practitioner_id": r.practitioner_id, "day": r.day, "patient_id": r.patient_id,
             "status": r.status, "appointment_id": r.appointment_id, "position": _position(conn, r)} for r in rows]


def leave_waitlist(conn: Connection, *, ctx: AccessContext, entry_id: str) -> None:
    """Take a waiting patient (the caller or someone they are proxy for) off a waitlist; the others move up."""
    service._check_caller(conn, ctx)
    w = booking_waitlist.c
    row = conn.execute(sa.select(booking_waitlist).where(w.id == entry_id[:36])).first()
    if row is None:
        raise errors.WaitlistEntryNotFound()
    try:
        store.read(conn, ctx, res_type="Patient", res_id=row.patient_id)
    except (NotFound, Forbidden, Gone):
        raise errors.WaitlistEntryNotFound() from None
    if row.status == OFFERED:
        raise errors.WaitlistOffered()
    left = conn.execute(booking_waitlist.update().where(w.seq == row.seq, w.status == WAITING).values(status=LEFT))
    if left.rowcount != 1:
        raise errors.WaitlistEntryNotFound()
