"""Alerts from home readings: raised to the GP and the caregiver, deduplicated, escalated, acknowledged, closed."""

from datetime import timedelta

import pytest

from smartcare.family.monitoring import flows, plans, service
from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.platform import events
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import run_due
from smartcare.platform.notifications.service import inbox
from smartcare.platform.security.context import SYSTEM
from tests.family.monitoring.monitoring_record import blood_pressure, fall, single, stored, write_record

SON = "RelatedPerson/rp-son"


@pytest.fixture
def chen(engine, now):
    people = write_record(engine)
    return people


def _inbox(user_id):
    with unit_of_work() as conn:
        return inbox(conn, user_id=user_id)


def _readings_stored(refs):
    events.publish(events.DomainEvent(flows.READINGS_STORED, {
        "patient": "Patient/p-chen", "device": "Device/dev-1", "observations": refs, "kinds": ["blood-pressure"]}))


def _alerts():
    return service.list_alerts(SYSTEM, patient="p-chen")


def _tick(engine, now, minutes):
    now[0] += timedelta(minutes=minutes)
    run_due(engine)


def test_a_crisis_reading_raises_an_alert_the_gp_and_the_son_are_told_of(engine, chen):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="hypertension", caregivers=[SON])
    _readings_stored(stored(engine, blood_pressure(184, 112)))
    [alert] = _alerts()
    assert alert["severity"] == "urgent" and alert["state"] == "new" and alert["rule"] == "bp-crisis"
    assert alert["owner"] == "Practitioner/gp-gao" and alert["reading"] == "blood-pressure 184/112"
    assert "ESC/ESH" in alert["source"]
    [gp_notice] = _inbox(chen["gp_id"])
    assert "Chen Guoqiang" in gp_notice["body"] and "180/110" in gp_notice["body"]
    assert gp_notice["link"] == f"/workstation/monitoring/alerts/{alert['id']}"
    [son_notice] = _inbox(chen["son_id"])
    assert son_notice["link"] == "/app/family?person=p-chen"  # not the workstation: his family view
    assert _inbox(chen["nurse_id"]) == []  # the nurse is next in line, told only if the GP does not answer


def test_a_relative_the_care_team_did_not_designate_is_not_told(engine, chen):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="hypertension")
    _readings_stored(stored(engine, blood_pressure(184, 112)))
    assert len(_alerts()) == 1 and _inbox(chen["son_id"]) == []


def test_a_normal_reading_raises_nothing_and_nor_does_a_patient_without_a_plan(engine, chen):
    _readings_stored(stored(engine, blood_pressure(190, 115)))
    assert _alerts() == []
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="hypertension")
    _readings_stored(stored(engine, blood_pressure(128, 82)))
    assert _alerts() == [] and _inbox(chen["gp_id"]) == []


def test_repeated_abnormal_readings_update_the_open_alert_instead_of_raising_another(engine, chen, now):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="hypertension", caregivers=[SON])
    _readings_stored(stored(engine, blood_pressure(182, 100)))
    now[0] += timedelta(minutes=5)
    _readings_stored(stored(engine, blood_pressure(186, 104)))
    [alert] = _alerts()
    assert alert["occurrences"] == 2 and alert["reading"] == "blood-pressure 186/104"
    assert len(_inbox(chen["gp_id"])) == 1 and len(_inbox(chen["son_id"])) == 1


def test_the_care_teams_adjusted_threshold_is_the_one_applied(engine, chen):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="hypertension",
                      adjustments={"bp-crisis": {"systolic": 170}})
    _readings_stored(stored(engine, blood_pressure(172, 95)))
    assert [a["rule"] for a in _alerts()] == ["bp-crisis"]


def test_glucose_in_mg_dl_and_a_weight_gain_over_three_days_raise_alerts(engine, chen, now):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="diabetes")
    _readings_stored(stored(engine, single("15074-8", 54, "mg/dL")))
    assert [(a["rule"], a["severity"]) for a in _alerts()] == [("glucose-low", "asap")]
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="heart-failure")
    stored(engine, single("29463-7", 70.0, "kg", at=now[0] - timedelta(days=2)))
    _readings_stored(stored(engine, single("29463-7", 72.3, "kg")))
    assert "weight-gain-hf" in {a["rule"] for a in _alerts()}


def test_an_unacknowledged_urgent_alert_goes_to_the_nurse_at_its_deadline(engine, chen, now):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="hypertension")
    _readings_stored(stored(engine, blood_pressure(184, 112)))
    _tick(engine, now, 29)
    assert _alerts()[0]["owner"] == "Practitioner/gp-gao" and _inbox(chen["nurse_id"]) == []
    _tick(engine, now, 1)
    [alert] = _alerts()
    assert alert["owner"] == "Practitioner/nurse-xu" and alert["escalated"]
    [notice] = _inbox(chen["nurse_id"])
    assert notice["title"] == "Home monitoring alert not acknowledged"
    _tick(engine, now, 60)  # urgent is not the most severe: no emergency line after the last person
    assert gateway.search(SYSTEM, "Communication", [("subject", "Patient/p-chen")]) == []


def test_a_fall_tells_the_whole_team_at_once_and_unanswered_goes_to_the_emergency_line(engine, chen, now,
                                                                                       monkeypatch):
    monkeypatch.setenv(flows.EMERGENCY_USER_ENV, "emergency.line")
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="elderly-alone", caregivers=[SON])
    _readings_stored(stored(engine, fall()))
    [alert] = _alerts()
    assert alert["severity"] == "stat" and alert["rule"] == "fall"
    assert len(_inbox(chen["gp_id"])) == 1 and len(_inbox(chen["nurse_id"])) == 1 and len(_inbox(chen["son_id"])) == 1
    _tick(engine, now, 4)
    assert _inbox(chen["dispatcher_id"]) == []
    _tick(engine, now, 1)
    [call] = gateway.search(SYSTEM, "Communication", [("subject", "Patient/p-chen")])
    assert "120" in call["payload"][0]["contentString"] and call["about"] == [{"reference": f"Task/{alert['id']}"}]
    [notice] = _inbox(chen["dispatcher_id"])
    assert notice["title"] == "Emergency: home monitoring alert unanswered" and "Chen Guoqiang" in notice["body"]
    _tick(engine, now, 30)
    assert len(gateway.search(SYSTEM, "Communication", [("subject", "Patient/p-chen")])) == 1


def test_a_very_urgent_alert_climbs_the_chain_on_its_shorter_deadline_but_not_to_the_emergency_line(
        engine, chen, now, monkeypatch):
    monkeypatch.setenv(flows.EMERGENCY_USER_ENV, "emergency.line")
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="copd")
    _readings_stored(stored(engine, single("59408-5", 84, "%")))
    [alert] = _alerts()
    assert alert["severity"] == "asap"
    _tick(engine, now, 15)
    assert _alerts()[0]["owner"] == "Practitioner/nurse-xu"
    _tick(engine, now, 15)
    assert _inbox(chen["dispatcher_id"]) == []  # only stat alerts go to the emergency line
    assert gateway.search(SYSTEM, "Communication", [("subject", "Patient/p-chen")]) == []


def test_acknowledging_stops_the_escalation(engine, chen, now):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="hypertension")
    _readings_stored(stored(engine, blood_pressure(184, 112)))
    alert_id = _alerts()[0]["id"]
    service.acknowledge(chen["gp"], alert_id=alert_id, note="Calling him now")
    _tick(engine, now, 120)
    [alert] = _alerts()
    assert alert["state"] == "acknowledged" and alert["owner"] == "Practitioner/gp-gao" and not alert["escalated"]
    assert _inbox(chen["nurse_id"]) == []
    closed = service.close(chen["gp"], alert_id=alert_id, action="phone-call", note="Took his tablets late")
    assert closed["status"] == "completed" and service.shown(closed)["action"] == "phone-call"
    history = gateway.serve(SYSTEM, FhirRequest(
        method="GET", path=f"Task/{alert_id}/_history")).body
    assert [e["resource"]["status"] for e in history["entry"]][:2] == ["completed", "accepted"]


def test_a_closed_alert_lets_the_next_abnormal_reading_raise_a_new_one(engine, chen, now):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="hypertension")
    _readings_stored(stored(engine, blood_pressure(184, 112)))
    service.close(chen["nurse"], alert_id=_alerts()[0]["id"], action="home-visit")
    _readings_stored(stored(engine, blood_pressure(181, 100)))
    assert sorted(a["state"] for a in _alerts()) == ["closed", "new"]


def test_a_snoozed_alert_is_quiet_until_it_wakes_with_its_reason_kept(engine, chen, now):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="hypertension")
    _readings_stored(stored(engine, blood_pressure(184, 112)))
    alert_id = _alerts()[0]["id"]
    snoozed = service.snooze(chen["gp"], alert_id=alert_id, minutes=60, reason="Cuff too small, new one tomorrow")
    assert snoozed["statusReason"]["text"] == "Cuff too small, new one tomorrow"
    _readings_stored(stored(engine, blood_pressure(200, 120)))  # worse, but snoozed: updated without a notice
    _tick(engine, now, 45)
    assert _alerts()[0]["state"] == "snoozed" and _alerts()[0]["occurrences"] == 2 and _inbox(chen["nurse_id"]) == []
    assert len(_inbox(chen["gp_id"])) == 1
    _tick(engine, now, 15)
    assert _alerts()[0]["state"] == "new" and len(_inbox(chen["gp_id"])) == 2
    _tick(engine, now, 30)
    assert _alerts()[0]["owner"] == "Practitioner/nurse-xu"


@pytest.mark.parametrize(("call", "message"), [
    (lambda ctx, i: service.snooze(ctx, alert_id=i, minutes=30, reason="  "), "reason"),
    (lambda ctx, i: service.snooze(ctx, alert_id=i, minutes=0, reason="later"), "snooze for"),
    (lambda ctx, i: service.snooze(ctx, alert_id=i, minutes=30, reason="x" * 501), "reason"),
    (lambda ctx, i: service.close(ctx, alert_id=i, action="shrug"), "action"),
    (lambda ctx, i: service.acknowledge(ctx, alert_id="../etc", note=None), "no such alert"),
])
def test_bad_alert_actions_are_refused_with_a_reason(engine, chen, call, message):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="hypertension")
    _readings_stored(stored(engine, blood_pressure(184, 112)))
    with pytest.raises(service.AlertError, match=message):
        call(chen["gp"], _alerts()[0]["id"])


def test_a_doctor_of_another_organisation_cannot_act_on_the_alert_and_a_caregiver_may_not_either(engine, chen):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="hypertension")
    _readings_stored(stored(engine, blood_pressure(184, 112)))
    alert_id = _alerts()[0]["id"]
    with pytest.raises(service.AlertError) as refused:
        service.acknowledge(chen["stranger"], alert_id=alert_id)
    assert refused.value.status == 404
    with pytest.raises(service.AlertError) as refused:
        service.acknowledge(chen["son"], alert_id=alert_id)
    assert refused.value.status == 403


def test_no_activity_for_twelve_hours_raises_one_check_in_alert(engine, chen, now):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="elderly-alone")
    stored(engine, blood_pressure(130, 80))
    with unit_of_work() as conn:
        assert flows.check_silence(conn) == 0
    now[0] += timedelta(hours=12)
    with unit_of_work() as conn:
        assert flows.check_silence(conn) == 1
    with unit_of_work() as conn:
        assert flows.check_silence(conn) == 0
    [alert] = _alerts()
    assert alert["rule"] == "no-activity" and alert["severity"] == "urgent"


def test_reassigning_a_template_revises_the_plan_instead_of_adding_one(engine, chen):
    first = plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="hypertension")
    second = plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="hypertension",
                               adjustments={"bp-crisis": {"systolic": 175}})
    assert first["id"] == second["id"] and second["meta"]["versionId"] == "2"
    with pytest.raises(plans.PlanError):
        plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="astrology")
    with pytest.raises(plans.PlanError):
        plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="hypertension",
                          adjustments={"glucose-low": {"value": 4}})


def test_a_plan_given_between_two_readings_judges_the_second_at_once(engine, chen):
    # Judging keeps each patient's plans for a minute; a plan written in this process must not wait for that.
    _readings_stored(stored(engine, blood_pressure(190, 115)))
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="hypertension")
    _readings_stored(stored(engine, blood_pressure(191, 116)))
    assert [a["rule"] for a in _alerts()] == ["bp-crisis"]


def test_three_raised_days_in_five_count_the_normal_readings_of_the_day_too(engine, chen, now):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="hypertension")
    for days_ago in (2, 1):
        _readings_stored(stored(engine, blood_pressure(150, 95, at=now[0] - timedelta(days=days_ago))))
    now[0] -= timedelta(hours=2)
    _readings_stored(stored(engine, blood_pressure(150, 95)))
    [alert] = _alerts()
    assert alert["rule"] == "bp-raised-3-of-5" and alert["occurrences"] == 1
    # A normal reading the same afternoon brings the day's average down: a raised one after it (average now
    # 135/85.7) must not count as a raised day, whatever the judge keeps in mind between readings.
    now[0] += timedelta(hours=1)
    _readings_stored(stored(engine, blood_pressure(110, 70)))
    now[0] += timedelta(minutes=30)
    _readings_stored(stored(engine, blood_pressure(145, 92)))
    assert [a["occurrences"] for a in _alerts()] == [1]
    now[0] += timedelta(minutes=10)
    _readings_stored(stored(engine, blood_pressure(170, 105)))  # average 143.75/90.5: raised again
    assert [a["occurrences"] for a in _alerts()] == [2]


def _alert_latencies() -> tuple[float, float]:
    from smartcare.platform.ops import metrics

    samples = {s.name: s.value for s in metrics.alert_latency.collect()[0].samples if not s.labels.get("le")}
    return samples["smartcare_alert_latency_seconds_count"], samples["smartcare_alert_latency_seconds_sum"]


def test_the_time_from_a_readings_arrival_to_its_alert_is_measured_for_the_operators(engine, chen, now):
    from smartcare.platform.clock import format_instant

    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="hypertension")
    count, total = _alert_latencies()
    arrived = format_instant(now[0] - timedelta(seconds=3))  # the frame reached SmartCare 3 s before the judging
    events.publish(events.DomainEvent(flows.READINGS_STORED, {
        "patient": "Patient/p-chen", "device": "Device/dev-1", "observations": stored(engine, blood_pressure(184, 112)),
        "kinds": ["blood-pressure"], "received": arrived}))
    assert len(_alerts()) == 1
    after_count, after_total = _alert_latencies()
    assert after_count == count + 1 and after_total - total == pytest.approx(3.0, abs=0.01)
    # A normal reading raises no alert, and so adds no latency.
    events.publish(events.DomainEvent(flows.READINGS_STORED, {
        "patient": "Patient/p-chen", "device": "Device/dev-1", "observations": stored(engine, blood_pressure(128, 82)),
        "kinds": ["blood-pressure"], "received": arrived}))
    assert _alert_latencies()[0] == after_count
