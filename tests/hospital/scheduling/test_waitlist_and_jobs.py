"""The waitlist offers freed places in order; unpaid bookings are released; leave blocks slots and cancels bookings."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from smartcare.fhir import store
from smartcare.hospital.scheduling import errors, scheduled, schedules, service, waitlist
from smartcare.hospital.scheduling.models import booking_slot
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.hospital.scheduling.conftest import RULES, TUESDAY, caregiver_ctx, patient_ctx, template


def book(clinic, patient_id, slot_index=0):
    with unit_of_work(clinic.engine) as conn:
        return service.book(conn, ctx=patient_ctx(patient_id), slot_id=clinic.slots[slot_index],
                            patient_id=patient_id, limits=RULES)


def join(clinic, patient_id, ctx=None):
    with unit_of_work(clinic.engine) as conn:
        return waitlist.join_waitlist(conn, ctx=ctx or patient_ctx(patient_id), practitioner_id="prac-li",
                                      day=TUESDAY.isoformat(), patient_id=patient_id)


def fhir(engine, res_type, res_id):
    with unit_of_work(engine) as conn:
        return store.read(conn, SYSTEM, res_type=res_type, res_id=res_id).resource


def test_a_freed_place_goes_to_the_first_on_the_waitlist(clinic):
    first = book(clinic, "pa1")
    assert join(clinic, "pa2")["ahead"] == 0
    assert join(clinic, "child", ctx=caregiver_ctx("rp-mum"))["ahead"] == 1
    with unit_of_work(clinic.engine) as conn:
        service.cancel(conn, ctx=patient_ctx("pa1"), appointment_id=first.id, limits=RULES)
        offers = waitlist.offer_waitlist(conn, slot_id=clinic.slots[0], limits=RULES)
    assert offers == []  # the place was already offered when it was freed
    with unit_of_work(clinic.engine) as conn:
        rows = conn.execute(sa.text("SELECT patient_id, status FROM booking WHERE status = 'booked'")).all()
    assert [tuple(r) for r in rows] == [("pa2", "booked")]
    assert fhir(clinic.engine, "Slot", clinic.slots[0])["status"] == "busy"


def test_joining_the_waitlist_for_someone_else_is_refused(clinic):
    with pytest.raises(errors.NotProxy):
        join(clinic, "pa2", ctx=patient_ctx("pa1"))
    join(clinic, "pa2")
    with pytest.raises(errors.AlreadyWaiting):
        join(clinic, "pa2")


def test_unpaid_bookings_are_released_after_the_timeout_and_offered_on(clinic, now):
    unpaid = book(clinic, "pa1", slot_index=0)
    paid = book(clinic, "pa2", slot_index=1)
    with unit_of_work(clinic.engine) as conn:
        service.confirm_payment(conn, ctx=patient_ctx("pa2"), appointment_id=paid.id, confirmation="ok")
    join(clinic, "child", ctx=caregiver_ctx("rp-mum"))
    with unit_of_work(clinic.engine) as conn:
        early = scheduled.release_unpaid(conn, now=now[0] + timedelta(minutes=14), limits=RULES)
    assert early.released == []
    with unit_of_work(clinic.engine) as conn:
        result = scheduled.release_unpaid(conn, now=now[0] + timedelta(minutes=15), limits=RULES)
    assert [r.appointment_id for r in result.released] == [unpaid.id]
    assert [(o.patient_id, o.slot_id) for o in result.offers] == [("child", clinic.slots[0])]
    assert fhir(clinic.engine, "Appointment", unpaid.id)["status"] == "cancelled"
    assert fhir(clinic.engine, "Appointment", paid.id)["status"] == "booked"


def test_leave_blocks_the_slots_and_returns_the_bookings_to_notify(clinic):
    morning = book(clinic, "pa1", slot_index=2)
    start = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # 08:00 to 12:00 in Shanghai
    with unit_of_work(clinic.engine) as conn:
        affected = scheduled.block_period(conn, start=start, end=start + timedelta(hours=4), reason="Annual leave",
                                          practitioner_id="prac-li")
    assert [(a.appointment_id, a.patient_id) for a in affected] == [(morning.id, "pa1")]
    appointment = fhir(clinic.engine, "Appointment", morning.id)
    assert appointment["status"] == "cancelled" and appointment["cancelationReason"]["text"] == "Annual leave"
    assert {fhir(clinic.engine, "Slot", s)["status"] for s in clinic.slots[:8]} == {"busy-unavailable"}
    assert fhir(clinic.engine, "Slot", clinic.slots[8])["status"] == "free"
    with pytest.raises(errors.SlotUnavailable):
        book(clinic, "pa2", slot_index=0)


def test_generating_again_makes_no_duplicates(clinic):
    with unit_of_work(clinic.engine) as conn:
        again = schedules.generate_slots(conn, template=template(), start=TUESDAY, days=2)
        count = conn.execute(sa.select(sa.func.count()).select_from(booking_slot)).scalar_one()
        fhir_slots = conn.execute(sa.text("SELECT count(*) FROM fhir_resource WHERE res_type = 'Slot'")).scalar_one()
    assert again.existing == 14 and again.created == 14
    assert count == fhir_slots == 28


def test_a_template_outside_opening_hours_is_refused(clinic):
    from datetime import time

    from smartcare.hospital.scheduling.rules import Session, TemplateInvalid

    late = template(role_id="role-late", sessions=(Session("eve", time(18), time(20)),))
    with pytest.raises(TemplateInvalid, match="opening hours"), unit_of_work(clinic.engine) as conn:
        schedules.generate_slots(conn, template=late, start=TUESDAY, days=1)
