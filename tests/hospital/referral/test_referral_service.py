"""Referrals through the service: upward with booking, downward with a care plan, the state machine, races, access."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from smartcare.fhir import store
from smartcare.hospital.referral import service, states
from smartcare.hospital.referral.service import CarePlanItem, ReferralDraft
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications import service as notifications
from smartcare.platform.security.context import SYSTEM
from tests.hospital.referral.conftest import as_user


def upward(**changes) -> ReferralDraft:
    values = dict(direction="upward", patient_id="pa1", department="HealthcareService/hcs-cardio",
                  reason="Chest pain on exertion, suspected angina", summary="BP 160/95, ECG normal at rest",
                  priority="urgent", attachments=("Observation/obs-bp",))
    values.update(changes)
    return ReferralDraft(**values)


def refer(region, **changes) -> service.Referral:
    ctx = as_user(region, "gp")
    with unit_of_work(region.engine) as conn:
        return service.create(conn, ctx=ctx, draft=upward(**changes))


def act(region, key: str, referral_id: str, action: str, **kw) -> service.Referral:
    ctx = as_user(region, key)
    with unit_of_work(region.engine) as conn:
        return service.transition(conn, ctx=ctx, task_id=referral_id, action=action, **kw)


def book(region, key: str, referral_id: str, slot: str) -> service.Referral:
    ctx = as_user(region, key)
    with unit_of_work(region.engine) as conn:
        return service.book(conn, ctx=ctx, task_id=referral_id, slot_id=slot)


def test_upward_referral_is_a_service_request_with_a_task_owned_by_the_department(region):
    made = refer(region)
    with unit_of_work(region.engine) as conn:
        task = store.read(conn, SYSTEM, res_type="Task", res_id=made.id).resource
        request = store.read(conn, SYSTEM, res_type="ServiceRequest",
                             res_id=task["focus"]["reference"].split("/")[1]).resource
    assert request["intent"] == "order" and request["status"] == "active" and request["priority"] == "urgent"
    assert request["category"][0]["coding"][0]["code"] == "3457005"
    assert request["requester"] == {"reference": "Practitioner/prac-gp"}
    assert request["performer"][0]["reference"] == "HealthcareService/hcs-cardio"
    assert request["supportingInfo"] == [{"reference": "Observation/obs-bp"}]
    assert task["owner"]["reference"] == "HealthcareService/hcs-cardio" and task["status"] == "requested"
    assert made.state == "requested" and made.side == "requester" and made.actions == ["cancel"]


def test_receiving_department_is_told_and_sees_the_referral_with_its_actions(region):
    made = refer(region)
    cardio = as_user(region, "cardio")
    with unit_of_work(region.engine) as conn:
        inbox = notifications.inbox(conn, user_id=region.users["cardio"])
        incoming = service.listing(conn, ctx=cardio, box="incoming")
        seen = service.read(conn, ctx=cardio, task_id=made.id)
    assert [n["link"] for n in inbox] == [f"/workstation/referrals/{made.id}"]
    assert [r.id for r in incoming] == [made.id]
    assert seen.side == "receiver" and seen.actions == ["accept", "reject"]


def test_full_upward_journey_books_an_appointment_in_the_receiving_department(region):
    made = refer(region)
    act(region, "cardio", made.id, "accept")
    booked = book(region, "cardio", made.id, region.slots[0])
    assert booked.state == "scheduled" and booked.appointment
    with unit_of_work(region.engine) as conn:
        appointment = store.read(conn, SYSTEM, res_type="Appointment",
                                 res_id=booked.appointment.split("/")[1]).resource
    actors = [p["actor"]["reference"] for p in appointment["participant"]]
    assert "HealthcareService/hcs-cardio" in actors and "Patient/pa1" in actors
    assert act(region, "cardio", made.id, "arrive").state == "arrived"
    done = act(region, "cardio", made.id, "complete")
    assert done.state == "completed"
    assert [h["text"] for h in done.history] == ["requested", "accepted", "scheduled", "arrived", "completed"]
    assert done.history[1]["by"] == "Practitioner/prac-li"
    with unit_of_work(region.engine) as conn:
        gp_inbox = notifications.inbox(conn, user_id=region.users["gp"])
    assert len(gp_inbox) == 4


def test_booking_a_slot_of_another_department_is_refused(region, engine):
    made = refer(region, department="HealthcareService/hcs-ortho")
    ortho = as_user(region, "ortho")
    with unit_of_work(region.engine) as conn:
        referral = service.read(conn, ctx=ortho, task_id=made.id)
    assert referral.side == "receiver"
    act(region, "ortho", made.id, "accept")
    with pytest.raises(service.ReferralError):
        book(region, "ortho", made.id, region.slots[0])


def test_rejection_needs_a_reason_and_is_recorded(region):
    made = refer(region)
    with pytest.raises(service.InvalidReferral):
        act(region, "cardio", made.id, "reject", reason="  ")
    rejected = act(region, "cardio", made.id, "reject", reason="Please do an exercise ECG first")
    assert rejected.state == "rejected" and rejected.reject_reason == "Please do an exercise ECG first"
    with unit_of_work(region.engine) as conn:
        task = store.read(conn, SYSTEM, res_type="Task", res_id=made.id).resource
        request = store.read(conn, SYSTEM, res_type="ServiceRequest",
                             res_id=task["focus"]["reference"].split("/")[1]).resource
    assert task["status"] == "rejected" and task["statusReason"]["text"].startswith("Please")
    assert request["status"] == "revoked"


ILLEGAL = [
    (state, action) for state, allowed in {
        "requested": {"accept", "reject", "cancel"},
        "accepted": {"schedule", "cancel"},
        "scheduled": {"arrive", "cancel"},
        "arrived": {"complete"},
        "completed": set(), "rejected": set(), "cancelled": set(),
    }.items() for action in states.ACTIONS if action not in allowed
]


@pytest.mark.parametrize(("state", "action"), ILLEGAL)
def test_every_illegal_upward_transition_is_refused(state, action):
    with pytest.raises(states.IllegalTransition):
        states.move("upward", state, action)


@pytest.mark.parametrize(("state", "action"), [
    (s, a) for s, allowed in {"requested": {"accept", "reject", "cancel"}, "accepted": {"complete", "cancel"},
                              "completed": set(), "rejected": set(), "cancelled": set()}.items()
    for a in states.ACTIONS if a not in allowed])
def test_every_illegal_downward_transition_is_refused(state, action):
    with pytest.raises(states.IllegalTransition):
        states.move("downward", state, action)


def test_illegal_transitions_through_the_service_are_refused_as_conflicts(region):
    made = refer(region)
    for action in ("arrive", "complete"):
        with pytest.raises(service.TransitionRefused):
            act(region, "cardio", made.id, action)
    with pytest.raises(service.InvalidReferral):
        act(region, "cardio", made.id, "schedule")  # scheduling is booking, not a bare step
    act(region, "gp", made.id, "cancel")
    with pytest.raises(service.TransitionRefused):
        act(region, "gp", made.id, "cancel")
    # A cancelled referral no longer brings the patient into the department's care.
    with pytest.raises(service.ReferralNotFound):
        act(region, "cardio", made.id, "accept")


def test_each_side_takes_only_its_own_steps(region):
    made = refer(region)
    with pytest.raises(service.NotYourSide):
        act(region, "gp", made.id, "accept")
    with pytest.raises(service.NotYourSide):
        act(region, "cardio", made.id, "cancel")


def test_a_stale_version_is_refused(region):
    made = refer(region)
    act(region, "cardio", made.id, "accept")
    with pytest.raises(service.TransitionRefused):
        act(region, "gp", made.id, "cancel", version=made.version)


def test_two_clerks_accepting_at_once_one_wins(region):
    made = refer(region)
    barrier, outcomes = threading.Barrier(2), []

    def accept(key: str) -> None:
        barrier.wait()
        try:
            act(region, key, made.id, "accept", version=made.version)
            outcomes.append("accepted")
        except service.TransitionRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=accept, args=(k,)) for k in ("cardio", "cardio2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["accepted", "refused"]
    with unit_of_work(region.engine) as conn:
        task = store.read(conn, SYSTEM, res_type="Task", res_id=made.id).resource
    assert [n["text"] for n in task["note"]] == ["requested", "accepted"]


def test_a_clinician_of_an_unrelated_organisation_can_neither_read_nor_act(region):
    made = refer(region)
    stranger = as_user(region, "stranger")
    with unit_of_work(region.engine) as conn:
        assert service.listing(conn, ctx=stranger, box="incoming") == []
        with pytest.raises(service.ReferralNotFound):
            service.read(conn, ctx=stranger, task_id=made.id)
    with pytest.raises(service.ReferralNotFound):
        act(region, "stranger", made.id, "accept")


def test_a_clinician_of_another_department_of_the_hospital_cannot_see_it(region):
    made = refer(region)
    ortho = as_user(region, "ortho")
    with unit_of_work(region.engine) as conn:
        assert service.listing(conn, ctx=ortho, box="incoming") == []
        with pytest.raises(service.ReferralNotFound):
            service.read(conn, ctx=ortho, task_id=made.id)


def test_attachments_must_be_the_patients_own_records(region):
    with pytest.raises(service.ReferralError):
        refer(region, attachments=("Observation/obs-other",))
    with pytest.raises(service.InvalidReferral):
        refer(region, attachments=("Patient/pa1",))


def test_downward_referral_writes_a_care_plan_and_follow_up_tasks(region, now):
    today = now[0].date()
    draft = ReferralDraft(
        direction="downward", patient_id="pa2", department="HealthcareService/hcs-gp",
        reason="Discharged after NSTEMI; continue secondary prevention", priority="routine",
        care_plan=(CarePlanItem("Aspirin and statin daily; check adherence"), CarePlanItem("Low-salt diet")),
        follow_ups=(CarePlanItem("Blood pressure check", today + timedelta(days=7)),
                    CarePlanItem("Lipid panel", today + timedelta(days=42))))
    cardio, gp = as_user(region, "cardio"), as_user(region, "gp")
    with unit_of_work(region.engine) as conn:
        made = service.create(conn, ctx=cardio, draft=draft)
        seen = service.read(conn, ctx=gp, task_id=made.id)
        plan = store.read(conn, SYSTEM, res_type="CarePlan", res_id=made.care_plan.split("/")[1]).resource
    assert seen.side == "receiver" and seen.actions == ["accept", "reject"]
    assert [a["detail"]["description"] for a in plan["activity"] if "detail" in a] == [
        "Aspirin and statin daily; check adherence", "Low-salt diet"]
    assert sorted((f["description"], f["due"]) for f in seen.follow_ups) == [
        ("Blood pressure check", (today + timedelta(days=7)).isoformat()),
        ("Lipid panel", (today + timedelta(days=42)).isoformat())]
    assert act(region, "gp", made.id, "accept").state == "accepted"
    with pytest.raises(service.TransitionRefused):
        act(region, "gp", made.id, "arrive")
    assert act(region, "gp", made.id, "complete").state == "completed"


def test_hostile_input_is_refused_cleanly(region):
    for bad in (dict(reason="x" * 501), dict(reason=""), dict(priority="whenever"), dict(direction="sideways"),
                dict(department="HealthcareService/../../etc"), dict(summary="y" * 4001),
                dict(attachments=("Observation/" + "a" * 80,)), dict(care_plan=(CarePlanItem("x"),))):
        with pytest.raises(service.ReferralError):
            refer(region, **bad)
    with unit_of_work(region.engine) as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM fhir_resource WHERE res_type = 'Task'")).scalar()
    assert count == 0
