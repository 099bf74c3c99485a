"""Special groups: daily check-ins answered by the person or a carer, and reports from home isolation."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from smartcare.family.monitoring import flows, plans, service, special
from smartcare.platform import events
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications.service import inbox
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.web.app import create_app
from tests.conftest import bearer
from tests.family.monitoring.monitoring_record import write_record
from tests.web_support import make_user


@pytest.fixture
def chen(engine):
    people = write_record(engine)
    people["patient_id"] = make_user(engine, "patient", username="chen.patient", fhir_ref="Patient/p-chen").id
    return people


def _inbox(user_id):
    with unit_of_work() as conn:
        return inbox(conn, user_id=user_id)


def _app_user(name, role, fhir_user, patient=None):
    scope = "patient/*.cruds" if role in ("patient", "caregiver") else "user/*.cruds"
    headers = bearer(scope, kind="user", name=name, subject=name, roles={role}, fhir_user=fhir_user,
                     patient=patient)
    return TestClient(create_app(), base_url="http://testserver", headers=headers)


def test_the_daily_prompt_reaches_the_person_and_their_carer(chen):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="disability-check-in",
                      caregivers=["RelatedPerson/rp-son"])
    with unit_of_work() as conn:
        assert special.prompt_check_ins(conn) == 2
    [prompt] = _inbox(chen["son_id"])
    assert prompt["title"] == "Daily check-in" and "Chen Guoqiang" in prompt["body"]
    assert len(_inbox(chen["patient_id"])) == 1


def test_a_carer_asking_for_help_raises_an_alert_and_all_well_does_not(chen):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="disability-check-in")
    with _app_user("chen.son", "caregiver", "RelatedPerson/rp-son") as son:
        well = son.post("/api/v1/monitoring/check-ins", json={"patient": "p-chen", "answer": "well"})
        assert well.status_code == 201 and well.json()["performer"] == [{"reference": "RelatedPerson/rp-son"}]
        assert service.list_alerts(SYSTEM, patient="p-chen") == []
        help_ = son.post("/api/v1/monitoring/check-ins", json={"patient": "p-chen", "answer": "need-help",
                                                              "note": "He will not get up"})
        assert help_.status_code == 201
    [alert] = service.list_alerts(SYSTEM, patient="p-chen")
    assert alert["rule"] == "check-in-help" and alert["severity"] == "urgent"
    assert len(_inbox(chen["gp_id"])) == 1


def test_the_person_answers_their_own_check_in_but_nobody_answers_for_a_stranger(chen):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="disability-check-in")
    with _app_user("chen.patient", "patient", "Patient/p-chen", patient="Patient/p-chen") as own:
        assert own.post("/api/v1/monitoring/check-ins", json={"patient": "p-chen", "answer": "well"}).status_code == 201
        refused = own.post("/api/v1/monitoring/check-ins", json={"patient": "p-lin", "answer": "well"})
        assert refused.status_code in (403, 404) and refused.headers["content-type"] == "application/problem+json"
        bad = own.post("/api/v1/monitoring/check-ins", json={"patient": "p-chen", "answer": "meh"})
        assert bad.status_code == 400 and "answer" in bad.json()["detail"]


def test_a_missed_check_in_asks_for_a_call(chen, now):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="disability-check-in")
    special.record_check_in(chen["son"], patient_id="p-chen", answer="well")
    now[0] += timedelta(hours=25)
    with unit_of_work() as conn:
        assert flows.check_silence(conn) == 0
    now[0] += timedelta(hours=1)
    with unit_of_work() as conn:
        assert flows.check_silence(conn) == 1
    assert [a["rule"] for a in service.list_alerts(SYSTEM, patient="p-chen")] == ["check-in-missed"]


def test_an_isolation_report_feeds_public_health_and_a_fever_alerts_the_care_team(chen):
    plans.assign_plan(chen["gp"], patient_id="p-chen", template_name="home-isolation")
    reports = []
    events.subscribe(special.ISOLATION_REPORT, reports.append)
    try:
        normal = special.record_isolation_report(chen["son"], patient_id="p-chen", temperature=36.8, symptoms=[])
        assert normal["alerts"] == []
        hot = special.record_isolation_report(chen["son"], patient_id="p-chen", temperature=38.6,
                                              symptoms=["cough", "fever"])
    finally:
        events.unsubscribe(special.ISOLATION_REPORT, reports.append)
    assert [r.payload["temperature"] for r in reports] == [36.8, 38.6]
    assert reports[1].payload["symptoms"] == ["cough", "fever"] and reports[1].payload["patient"] == "Patient/p-chen"
    assert [a["rule"] for a in hot["alerts"]] == ["fever"]
    assert {c["code"]["coding"][0]["code"] for c in hot["symptoms"]["component"]} == {"49727002", "386661006"}


@pytest.mark.parametrize(("temperature", "symptoms"), [(52, []), (20, []), (37, ["hiccups"]), (37, ["cough"] * 30)])
def test_impossible_isolation_reports_are_refused(chen, temperature, symptoms):
    with pytest.raises(special.ReportError):
        special.record_isolation_report(chen["son"], patient_id="p-chen", temperature=temperature, symptoms=symptoms)
