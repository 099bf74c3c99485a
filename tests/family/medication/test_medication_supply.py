"""Adherence per medicine and per week, days left from dispensed quantity and confirmed intakes, the refill reminder
N days before running out, and the renewal request that reaches the prescriber."""

from smartcare.family.medication import records, reminders, service, supply
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import run_due
from smartcare.platform.notifications import service as inbox
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.family.medication.conftest import METFORMIN, write


def _take(user, *keys: str, taken: bool = True) -> None:
    ctx = users.context_for(user)
    with unit_of_work() as conn:
        for key in keys:
            reminders.record_intake(conn, ctx, dose_key=key, taken=taken, reason=None if taken else "forgot")


def _record(now) -> records.Record:
    with unit_of_work() as conn:
        return records.gather(conn, SYSTEM, patient_id="pa1")


def test_adherence_counts_taken_of_due_per_week_and_per_medicine(family, now):
    _take(family["patient"], "r-aml:2026-03-02T00:00:00.000Z")
    _take(family["patient"], "r-met:2026-03-02T00:00:00.000Z", taken=False)
    _take(family["patient"], "r-met:2026-03-01T10:30:00.000Z")
    shown = service.adherence_view(_record(now), now=now[0])
    weeks = {w["week"]: w for w in shown["weeks"]}
    assert len(weeks) == 8
    # This week (from Monday 2 March, Shanghai time) has had the two 08:00 doses: one taken, one skipped.
    assert weeks["2026-03-02"].items() >= {"due": 2, "taken": 1, "skipped": 1, "missed": 0, "rate": 50.0}.items()
    # Last week: 7 days x 3 doses, the one taken on Sunday evening.
    assert weeks["2026-02-23"].items() >= {"due": 21, "taken": 1, "missed": 20, "rate": 4.8}.items()
    # The orders started on Sunday 1 February: three doses that week, nothing before.
    assert weeks["2026-01-26"]["due"] == 3 and weeks["2026-01-19"]["due"] == 0
    assert weeks["2026-01-19"]["rate"] is None
    by_medicine = {m["medicine"]: m for m in shown["medicines"]}
    assert by_medicine["Amlodipine 5 mg"].items() >= {"due": 30, "taken": 1}.items()
    assert by_medicine["Metformin 500 mg"].items() >= {"due": 59, "taken": 1, "skipped": 1}.items()
    assert shown["overall"]["due"] == 89 and shown["overall"]["taken"] == 2


def test_days_left_come_from_the_dispensed_quantity_less_confirmed_intakes(family, now):
    _take(family["patient"], "r-met:2026-03-01T10:30:00.000Z", "r-met:2026-03-02T00:00:00.000Z")
    found = {s["request"]: s for s in service.supply_rows(_record(now), now=now[0])}
    assert found["r-met"].items() >= {"remaining": 18.0, "days_left": 9, "estimated": False, "refill_due": False,
                                   "runs_out": "2026-03-11"}.items()
    assert found["r-aml"]["days_left"] is None  # nothing dispensed here: not known


def test_without_recorded_intakes_the_schedule_estimates_what_was_taken(family, now):
    found = {s["request"]: s for s in service.supply_rows(_record(now), now=now[0])}
    assert found["r-met"].items() >= {"remaining": 18.0, "days_left": 9, "estimated": True}.items()


def test_capsules_handed_over_for_doses_in_mg_are_counted_in_doses_from_the_days_supply(family, now):
    prescribed = {**METFORMIN, "id": "r-amx", "medicationCodeableConcept": {"text": "Amoxicillin"},
                  "authoredOn": "2026-03-02T01:35:00Z", "dosageInstruction": [{
                      "timing": {"code": {"coding": [{"code": "TID"}]}},
                      "doseAndRate": [{"doseQuantity": {"value": 500, "unit": "mg", "code": "mg"}}]}]}
    write(prescribed, {"resourceType": "MedicationDispense", "id": "d-amx", "status": "completed",
                       "subject": {"reference": "Patient/pa1"},
                       "authorizingPrescription": [{"reference": "MedicationRequest/r-amx"}],
                       "medicationCodeableConcept": {"text": "Amoxicillin"}, "quantity": {"value": 30, "unit": "capsule"},
                       "daysSupply": {"value": 10, "unit": "days", "code": "d"},
                       "whenHandedOver": "2026-03-02T02:00:00Z"})
    found = {s["request"]: s for s in service.supply_rows(_record(now), now=now[0])}
    # 16:00 in Shanghai: of the 30 doses handed over at 10:00, the 14:00 one is behind her.
    assert found["r-amx"].items() >= {"remaining": 29.0, "days_left": 9, "refill_due": False}.items()


def test_a_refill_reminder_goes_out_n_days_before_running_out_and_only_once(family, now, engine):
    write({"resourceType": "MedicationDispense", "id": "d-met", "status": "completed",
           "subject": {"reference": "Patient/pa1"}, "authorizingPrescription": [{"reference": "MedicationRequest/r-met"}],
           "medicationCodeableConcept": METFORMIN["medicationCodeableConcept"],
           "quantity": {"value": 12, "unit": "tablet"}, "whenHandedOver": "2026-03-01T02:00:00Z"})
    _take(family["patient"], "r-met:2026-03-01T10:30:00.000Z")
    with unit_of_work() as conn:
        assert supply.check_refills(conn, record=records.gather(conn, SYSTEM, patient_id="pa1"), patient_id="pa1",
                                    now=now[0], days_before=3) == []  # 11 tablets: 5 days left, not yet 3
    _take(family["patient"], "r-met:2026-03-02T00:00:00.000Z")
    with unit_of_work() as conn:  # 10 tablets, 2 a day: 5 days left, the default N
        record = records.gather(conn, SYSTEM, patient_id="pa1")
        assert supply.check_refills(conn, record=record, patient_id="pa1", now=now[0]) == ["r-met"]
        assert supply.check_refills(conn, record=record, patient_id="pa1", now=now[0]) == ["r-met"]
    run_due(engine)
    with unit_of_work() as conn:
        notices = [n for n in inbox.inbox(conn, user_id=family["patient"].id) if n["kind"] == "medication.refill"]
    assert len(notices) == 1
    assert notices[0]["title"] == "Metformin 500 mg is running out" and "5 days" in notices[0]["body"]


def test_a_renewal_request_is_a_task_for_the_prescriber_who_is_notified(family, now):
    ctx = users.context_for(family["patient"])
    with unit_of_work() as conn:
        task = supply.request_renewal(conn, ctx, request_id="r-met")
        again = supply.request_renewal(conn, ctx, request_id="r-met")
    assert again["id"] == task["id"]
    assert task["status"] == "requested" and task["code"]["coding"][0]["code"] == "renew"
    assert task["focus"] == {"reference": "MedicationRequest/r-met"} and task["owner"] == {
        "reference": "Practitioner/doc-a"}
    assert task["for"] == {"reference": "Patient/pa1"} and task["requester"] == {"reference": "Patient/pa1"}
    with unit_of_work() as conn:
        notices = [n for n in inbox.inbox(conn, user_id=family["doctor"].id) if n["kind"] == "medication.renewal"]
    assert len(notices) == 1 and "Metformin 500 mg" in notices[0]["body"]
    assert notices[0]["link"] == "/workstation/patients/pa1"


def test_someone_else_cannot_ask_to_renew_a_prescription_that_is_not_theirs(family, now):
    ctx = users.context_for(family["other"])
    with unit_of_work() as conn:
        try:
            supply.request_renewal(conn, ctx, request_id="r-met")
            raised = None
        except records.MedicationProblem as exc:
            raised = exc.status
    assert raised == 404


def test_the_supply_settings_load_with_sources():
    settings = supply.settings()
    assert settings["refill"]["days_before"] == 5 and settings["refill"]["source"]
    assert settings["renewal"]["code"] == "renew" and settings["renewal"]["source"]
