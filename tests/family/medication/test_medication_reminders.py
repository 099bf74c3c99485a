"""Reminders at the dose's local time through jobs and notifications, snooze, the caregiver's copy, doses marked
taken or skipped, and pill box openings that confirm a dose."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from smartcare.family.medication import records, reminders
from smartcare.platform import events
from smartcare.platform.db import unit_of_work
from smartcare.platform.events import DomainEvent
from smartcare.platform.jobs import job, run_due
from smartcare.platform.notifications import service as inbox
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.family.medication.conftest import write

# In Shanghai (UTC+8), metformin after dinner is due at 18:30 local: 10:30 UTC.
DINNER_DOSE = "r-met:2026-03-02T10:30:00.000Z"


def _inbox(user) -> list[dict]:
    with unit_of_work() as conn:
        return inbox.inbox(conn, user_id=user.id)


def _plan(now) -> int:
    with unit_of_work() as conn:
        return reminders.plan_patient(conn, patient_id="pa1", now=now[0])


def _administrations() -> list[dict]:
    with unit_of_work() as conn:
        return records.search(conn, SYSTEM, "MedicationAdministration", [("patient", "Patient/pa1")])


def test_a_reminder_job_is_due_at_the_doses_local_time_and_arrives_as_a_notification(family, now, engine):
    assert _plan(now) == 6  # 18:30 today; 08:00 x2 and 18:30 tomorrow; 08:00 x2 the day after (within 48 h)
    with unit_of_work() as conn:
        run_at = conn.execute(sa.select(job.c.run_at).where(job.c.key == f"medication:remind:{DINNER_DOSE}")).scalar()
    assert run_at == "2026-03-02T10:30:00.000Z"
    assert _plan(now) == 6  # planning again writes nothing twice
    now[0] = datetime(2026, 3, 2, 10, 29, tzinfo=UTC)
    run_due(engine)
    assert not [n for n in _inbox(family["patient"]) if n["kind"] == "medication.reminder"]
    now[0] = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    run_due(engine)
    [reminder] = [n for n in _inbox(family["patient"]) if n["kind"] == "medication.reminder"]
    assert reminder["title"] == "Time for your medicine"
    assert "Metformin 500 mg" in reminder["body"] and "18:30" in reminder["body"] and "after the meal" in reminder["body"]
    [copy] = [n for n in _inbox(family["caregiver"]) if n["kind"] == "medication.caregiver"]
    assert "Li Wang" in copy["title"] and "18:30" in copy["body"]


def test_a_reminder_in_chinese_for_a_chinese_speaking_patient(family, now, engine):
    with unit_of_work() as conn:
        users.set_locale(conn, user_id=family["patient"].id, locale="zh-Hans")
    _plan(now)
    now[0] = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    run_due(engine)
    [reminder] = [n for n in _inbox(family["patient"]) if n["kind"] == "medication.reminder"]
    assert reminder["title"] == "该吃药了" and "饭后服用" in reminder["body"]


def test_a_dose_taken_before_its_reminder_is_not_reminded(family, now, engine):
    _plan(now)
    ctx = users.context_for(family["patient"])
    with unit_of_work() as conn:
        reminders.record_intake(conn, ctx, dose_key=DINNER_DOSE, taken=True)
    now[0] = datetime(2026, 3, 2, 10, 31, tzinfo=UTC)
    run_due(engine)
    assert not [n for n in _inbox(family["patient"]) if n["kind"] == "medication.reminder"]


def test_taken_and_skipped_doses_are_recorded_as_medication_administrations(family, now):
    ctx = users.context_for(family["patient"])
    with unit_of_work() as conn:
        reminders.record_intake(conn, ctx, dose_key="r-aml:2026-03-02T00:00:00.000Z", taken=True)
        reminders.record_intake(conn, ctx, dose_key="r-met:2026-03-02T00:00:00.000Z", taken=False,
                                reason="side-effects")
    found = {a["request"]["reference"]: a for a in _administrations()}
    assert found["MedicationRequest/r-aml"]["status"] == "completed"
    assert found["MedicationRequest/r-aml"]["performer"] == [{"actor": {"reference": "Patient/pa1"}}]
    skipped = found["MedicationRequest/r-met"]
    assert skipped["status"] == "not-done" and skipped["statusReason"][0]["coding"][0]["code"] == "side-effects"
    with unit_of_work() as conn:  # changing one's mind updates the record rather than adding a second
        reminders.record_intake(conn, ctx, dose_key="r-met:2026-03-02T00:00:00.000Z", taken=True)
    statuses = sorted(a["status"] for a in _administrations())
    assert statuses == ["completed", "completed"]


def test_snooze_reminds_again_after_the_chosen_minutes_without_a_second_caregiver_copy(family, now, engine):
    _plan(now)
    now[0] = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    run_due(engine)
    with unit_of_work() as conn:
        at = reminders.snooze(conn, users.context_for(family["patient"]), dose_key=DINNER_DOSE, minutes=15)
    assert at == datetime(2026, 3, 2, 10, 45, tzinfo=UTC)
    now[0] = datetime(2026, 3, 2, 10, 44, tzinfo=UTC)
    run_due(engine)
    assert len([n for n in _inbox(family["patient"]) if n["kind"] == "medication.reminder"]) == 1
    now[0] = datetime(2026, 3, 2, 10, 45, tzinfo=UTC)
    run_due(engine)
    assert len([n for n in _inbox(family["patient"]) if n["kind"] == "medication.reminder"]) == 2
    assert len([n for n in _inbox(family["caregiver"]) if n["kind"] == "medication.caregiver"]) == 1


def test_a_stopped_order_is_not_reminded(family, now, engine):
    _plan(now)
    with unit_of_work() as conn:
        stopped = records.read(conn, SYSTEM, "MedicationRequest/r-met")
    write({**stopped, "status": "stopped"})
    now[0] = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    run_due(engine)
    assert not [n for n in _inbox(family["patient"]) if n["kind"] == "medication.reminder"]


def _pillbox_opening(oid: str, when: str) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "activity"}]}],
            "code": {"coding": [{"system": reminders.DEVICE_EVENT, "code": "pillbox-open"}]},
            "subject": {"reference": "Patient/pa1"}, "device": {"reference": "Device/box1"},
            "effectiveDateTime": when, "valueString": "evening"}


def test_a_pill_box_opening_near_a_dose_time_confirms_the_dose(family, now, engine):
    write({"resourceType": "Device", "id": "box1", "patient": {"reference": "Patient/pa1"}, "status": "active"},
          _pillbox_opening("o-open", "2026-03-02T18:50:00+08:00"))
    events.publish(DomainEvent("ReadingsStored", {"patient": "Patient/pa1", "device": "Device/box1",
                                                  "observations": ["Observation/o-open"], "kinds": ["pillbox-open"]}))
    run_due(engine)
    [confirmed] = _administrations()
    assert confirmed["status"] == "completed"
    assert confirmed["identifier"][0]["value"] == DINNER_DOSE
    assert confirmed["device"] == [{"reference": "Device/box1"}]
    assert confirmed["supportingInformation"] == [{"reference": "Observation/o-open"}]


def test_a_pill_box_opening_far_from_any_dose_confirms_nothing(family, now, engine):
    write({"resourceType": "Device", "id": "box1", "patient": {"reference": "Patient/pa1"}, "status": "active"},
          _pillbox_opening("o-noon", "2026-03-02T13:30:00+08:00"))
    with unit_of_work() as conn:
        observation = records.read(conn, SYSTEM, "Observation/o-noon")
        assert reminders.confirm_from_pillbox(conn, observation=observation) == []
    assert _administrations() == []


def test_the_daily_plan_reaches_every_patient_with_an_active_order(family, now, engine):
    with unit_of_work() as conn:
        reminders.plan_everyone(conn, None)
    run_due(engine)
    with unit_of_work() as conn:
        keys = conn.execute(sa.select(job.c.key).where(job.c.kind == reminders.REMIND_JOB)).scalars().all()
    assert f"medication:remind:{DINNER_DOSE}" in keys
    assert now[0] + timedelta(hours=48) > datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
