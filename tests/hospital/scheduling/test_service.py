"""Booking, cancelling, rescheduling and paying: the rules, the refusals, and FHIR kept in step."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from smartcare.fhir import store
from smartcare.hospital.scheduling import errors, service
from smartcare.hospital.scheduling.models import booking_slot
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.hospital.scheduling.conftest import DESK, RULES, caregiver_ctx, patient_ctx, put_all


def book(clinic, patient_id, slot_index=0, ctx=None, **kw):
    with unit_of_work(clinic.engine) as conn:
        return service.book(conn, ctx=ctx or patient_ctx(patient_id), slot_id=clinic.slots[slot_index],
                            patient_id=patient_id, limits=RULES, **kw)


def fhir(engine, res_type, res_id):
    with unit_of_work(engine) as conn:
        return store.read(conn, SYSTEM, res_type=res_type, res_id=res_id).resource


def slot_row(engine, slot_id):
    with unit_of_work(engine) as conn:
        return conn.execute(sa.select(booking_slot).where(booking_slot.c.slot_id == slot_id)).one()


def appointment_count(engine) -> int:
    with unit_of_work(engine) as conn:
        return conn.execute(sa.text("SELECT count(*) FROM fhir_resource WHERE res_type = 'Appointment'")).scalar_one()


def test_booking_writes_a_booked_appointment_and_fills_the_fhir_slot(clinic):
    view = book(clinic, "pa1")
    appointment = fhir(clinic.engine, "Appointment", view.id)
    assert appointment["status"] == "booked"
    assert appointment["slot"] == [{"reference": f"Slot/{clinic.slots[0]}"}]
    assert {"reference": "Patient/pa1"} == appointment["participant"][0]["actor"]
    assert fhir(clinic.engine, "Slot", clinic.slots[0])["status"] == "busy"
    assert view.payment_status == "pending" and view.amount == 1000


def test_a_second_booking_of_a_full_slot_is_refused_and_writes_nothing(clinic):
    book(clinic, "pa1")
    with pytest.raises(errors.SlotFull):
        book(clinic, "pa2")
    assert appointment_count(clinic.engine) == 1
    assert slot_row(clinic.engine, clinic.slots[0]).booked == 1


@pytest.mark.parametrize(("patient_id", "error"), [
    ("dead", errors.PatientDeceased), ("inactive", errors.PatientLocked), ("stranger", errors.NotProxy),
])
def test_the_desk_cannot_book_for_deceased_inactive_or_unknown_patients(clinic, patient_id, error):
    ctx = DESK if patient_id != "stranger" else patient_ctx("pa1")
    with pytest.raises(error):
        book(clinic, patient_id, ctx=ctx)
    assert appointment_count(clinic.engine) == 0
    assert slot_row(clinic.engine, clinic.slots[0]).booked == 0


def test_a_patient_whose_account_is_locked_cannot_be_booked(clinic):
    with unit_of_work(clinic.engine) as conn:
        user = users.create_user(conn, username="pa2.user", password="a long Passphrase 42!", role="patient",
                                 fhir_ref="Patient/pa2")
        users.lock_user(conn, user_id=user.id)
    with pytest.raises(errors.PatientLocked):
        book(clinic, "pa2", ctx=DESK)
    assert appointment_count(clinic.engine) == 0


def test_booking_a_slot_that_has_begun_is_refused(clinic, now):
    now[0] = now[0] + timedelta(hours=17)  # Tuesday 09:00 in Shanghai: the 08:00 slot has begun
    with pytest.raises(errors.InThePast):
        book(clinic, "pa1")


def test_booking_outside_the_departments_opening_hours_is_refused(clinic):
    closed = {"resourceType": "HealthcareService", "id": "hcs-cardio", "name": "Cardiology",
              "availableTime": [{"daysOfWeek": ["mon"], "availableStartTime": "08:00:00",
                                 "availableEndTime": "12:00:00"}]}
    put_all(clinic.engine, [closed])
    with pytest.raises(errors.OutsideOpeningHours):
        book(clinic, "pa1")
    assert appointment_count(clinic.engine) == 0


def test_a_stale_slot_version_is_refused(clinic):
    seen = slot_row(clinic.engine, clinic.slots[1]).version
    with unit_of_work(clinic.engine) as conn:
        conn.execute(booking_slot.update().where(booking_slot.c.slot_id == clinic.slots[1])
                     .values(capacity=2, version=booking_slot.c.version + 1))
    with pytest.raises(errors.SlotStale):
        book(clinic, "pa1", slot_index=1, slot_version=seen)
    assert book(clinic, "pa1", slot_index=1, slot_version=seen + 1).status == "booked"


def test_the_same_submission_twice_is_refused_as_a_duplicate(clinic):
    book(clinic, "pa1", slot_index=0, idempotency_key="tap-1")
    with pytest.raises(errors.DuplicateSubmission):
        book(clinic, "pa1", slot_index=1, idempotency_key="tap-1")
    assert appointment_count(clinic.engine) == 1


def test_one_booking_per_patient_per_doctor_per_session(clinic):
    book(clinic, "pa1", slot_index=0)
    with pytest.raises(errors.AlreadyBookedThisSession):
        book(clinic, "pa1", slot_index=1)
    afternoon = 8  # 14:00, the first afternoon slot
    assert book(clinic, "pa1", slot_index=afternoon).status == "booked"


def test_the_daily_limit_counts_a_patients_bookings_on_one_day(clinic):
    one_a_day = RULES.model_copy(update={"daily_limit": 1})
    with unit_of_work(clinic.engine) as conn:
        service.book(conn, ctx=patient_ctx("pa1"), slot_id=clinic.slots[0], patient_id="pa1", limits=one_a_day)
    with pytest.raises(errors.DailyLimitReached, match="limit of 1 bookings"), unit_of_work(clinic.engine) as conn:
        service.book(conn, ctx=patient_ctx("pa1"), slot_id=clinic.slots[8], patient_id="pa1", limits=one_a_day)
    assert appointment_count(clinic.engine) == 1
    assert slot_row(clinic.engine, clinic.slots[8]).booked == 0


def test_a_caregiver_books_for_the_child_they_are_proxy_for_but_for_nobody_else(clinic):
    assert book(clinic, "child", ctx=caregiver_ctx("rp-mum")).patient == "child"
    with pytest.raises(errors.NotProxy):
        book(clinic, "pa2", slot_index=1, ctx=caregiver_ctx("rp-mum"))
    with pytest.raises(errors.NotProxy):
        book(clinic, "child", slot_index=1, ctx=patient_ctx("pa1"))
    assert appointment_count(clinic.engine) == 1


def test_cancelling_frees_the_place_and_cancels_the_appointment(clinic):
    view = book(clinic, "pa1")
    with unit_of_work(clinic.engine) as conn:
        service.cancel(conn, ctx=patient_ctx("pa1"), appointment_id=view.id, limits=RULES)
    assert fhir(clinic.engine, "Appointment", view.id)["status"] == "cancelled"
    assert fhir(clinic.engine, "Slot", clinic.slots[0])["status"] == "free"
    assert slot_row(clinic.engine, clinic.slots[0]).booked == 0
    assert book(clinic, "pa2").status == "booked"


def test_cancelling_closes_at_the_cut_off_before_the_visit(clinic, now):
    view = book(clinic, "pa1")
    now[0] = now[0] + timedelta(hours=14, minutes=1)  # Tuesday 06:01 local: less than two hours to go
    with pytest.raises(errors.CancellationClosed, match="120 minutes"), unit_of_work(clinic.engine) as conn:
        service.cancel(conn, ctx=patient_ctx("pa1"), appointment_id=view.id, limits=RULES)
    assert fhir(clinic.engine, "Appointment", view.id)["status"] == "booked"


def test_nobody_cancels_another_patients_appointment(clinic):
    view = book(clinic, "pa1")
    with pytest.raises(errors.AppointmentNotFound), unit_of_work(clinic.engine) as conn:
        service.cancel(conn, ctx=patient_ctx("pa2"), appointment_id=view.id, limits=RULES)
    assert fhir(clinic.engine, "Appointment", view.id)["status"] == "booked"


def test_rescheduling_moves_the_appointment_and_both_slots_in_one_go(clinic):
    view = book(clinic, "pa1")
    with unit_of_work(clinic.engine) as conn:
        moved = service.reschedule(conn, ctx=patient_ctx("pa1"), appointment_id=view.id, slot_id=clinic.slots[8],
                                   limits=RULES)
    assert moved.slot == clinic.slots[8]
    appointment = fhir(clinic.engine, "Appointment", view.id)
    assert appointment["slot"] == [{"reference": f"Slot/{clinic.slots[8]}"}] and appointment["status"] == "booked"
    assert [slot_row(clinic.engine, s).booked for s in (clinic.slots[0], clinic.slots[8])] == [0, 1]
    assert fhir(clinic.engine, "Slot", clinic.slots[0])["status"] == "free"
    assert fhir(clinic.engine, "Slot", clinic.slots[8])["status"] == "busy"


def test_a_refused_reschedule_leaves_the_old_booking_untouched(clinic):
    view = book(clinic, "pa1")
    book(clinic, "pa2", slot_index=8)
    with pytest.raises(errors.SlotFull), unit_of_work(clinic.engine) as conn:
        service.reschedule(conn, ctx=patient_ctx("pa1"), appointment_id=view.id, slot_id=clinic.slots[8],
                           limits=RULES)
    assert [slot_row(clinic.engine, s).booked for s in (clinic.slots[0], clinic.slots[8])] == [1, 1]
    assert fhir(clinic.engine, "Appointment", view.id)["slot"] == [{"reference": f"Slot/{clinic.slots[0]}"}]


def test_the_development_provider_marks_the_fee_paid_on_confirmation(clinic):
    view = book(clinic, "pa1")
    with unit_of_work(clinic.engine) as conn:
        paid = service.confirm_payment(conn, ctx=patient_ctx("pa1"), appointment_id=view.id, confirmation="ok")
    assert paid.payment_status == "paid"
    with pytest.raises(errors.AlreadyPaid), unit_of_work(clinic.engine) as conn:
        service.confirm_payment(conn, ctx=patient_ctx("pa1"), appointment_id=view.id, confirmation="ok")


def test_booking_paying_moving_and_cancelling_are_each_audited_with_the_patient(clinic):
    from smartcare.platform import audit

    view = book(clinic, "pa1")
    with unit_of_work(clinic.engine) as conn:
        service.confirm_payment(conn, ctx=patient_ctx("pa1"), appointment_id=view.id, confirmation="ok")
        service.reschedule(conn, ctx=patient_ctx("pa1"), appointment_id=view.id, slot_id=clinic.slots[8],
                           limits=RULES)
        service.cancel(conn, ctx=patient_ctx("pa1"), appointment_id=view.id, limits=RULES)
    with unit_of_work(clinic.engine) as conn:
        entries = audit.search(conn, patient="Patient/pa1")[::-1]  # oldest first
        assert audit.verify(conn).ok
    assert [(e["action"], e["subtype"], e["agent"]) for e in entries] == [
        ("C", "create", "user/user-pa1"), *[("U", "update", "user/user-pa1")] * 3]
    for entry in entries:
        assert {"reference": f"Appointment/{view.id}"} in [e["what"] for e in entry["event"]["entity"]]
