"""The waitlist: patients wait for a doctor on a day, and a freed place is offered to the first who can take it."""

import uuid
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.hospital.scheduling import errors, rules, service
from smartcare.hospital.scheduling.models import booking_slot, booking_waitlist
from smartcare.platform import clock
from smartcare.platform.security.context import SYSTEM, AccessContext

WAITING, OFFERED = "waiting", "offered"


@dataclass(frozen=True, slots=True)
class Offer:
    """A freed place booked for the first waiting patient; they confirm it by paying (or it is released)."""

    patient_id: str
    appointment_id: str
    slot_id: str


def join_waitlist(conn: Connection, *, ctx: AccessContext, practitioner_id: str, day: str,
                  patient_id: str) -> dict:
    """Put a patient (the caller, someone they are proxy for, or at the desk) on a doctor's waitlist for a day."""
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
