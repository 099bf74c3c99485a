"""The monitoring API: alerts filtered and limited by the access policy, actions, problem JSON for bad input."""

import pytest
from fastapi.testclient import TestClient

from smartcare.family.monitoring import flows, plans
from smartcare.platform import events
from smartcare.platform.web.app import create_app
from tests.conftest import bearer
from tests.family.monitoring.monitoring_record import blood_pressure, single, stored, write_record

PATH = "/api/v1/monitoring/alerts"


@pytest.fixture
def chen(engine):
    people = write_record(engine)
    plans.assign_plan(people["gp"], patient_id="p-chen", template_name="diabetes")
    for refs in (stored(engine, blood_pressure(184, 112)), stored(engine, single("15074-8", 2.8, "mmol/L"))):
        events.publish(events.DomainEvent(flows.READINGS_STORED, {"patient": "Patient/p-chen",
                                                                  "observations": refs}))
    return people


def _as(user: str, organization: str | None, fhir_user: str, role: str) -> TestClient:
    headers = bearer("user/*.cruds", kind="user", name=user, subject=user, roles={role}, organization=organization,
                     fhir_user=fhir_user)
    return TestClient(create_app(), base_url="http://testserver", headers=headers)


def _gp():
    return _as("gao.gp", "Organization/org-c", "Practitioner/gp-gao", "doctor")


def test_the_gp_lists_the_patients_alerts_and_filters_them(chen):
    with _gp() as web:
        everything = web.get(PATH).json()["alerts"]
        assert sorted(a["rule"] for a in everything) == ["bp-crisis", "glucose-low"]
        assert [a["rule"] for a in web.get(PATH, params={"severity": "asap"}).json()["alerts"]] == ["glucose-low"]
        assert len(web.get(PATH, params={"patient": "p-chen", "state": "open"}).json()["alerts"]) == 2
        assert web.get(PATH, params={"state": "closed"}).json()["alerts"] == []
        assert web.get(PATH, params={"patient": "p-other"}).json()["alerts"] == []


def test_a_doctor_of_another_organisation_sees_nothing_and_cannot_acknowledge(chen):
    with _gp() as web:
        alert_id = web.get(PATH).json()["alerts"][0]["id"]
    with _as("ma.doctor", "Organization/org-x", "Practitioner/doc-ma", "doctor") as stranger:
        assert stranger.get(PATH).json()["alerts"] == []
        assert stranger.get(PATH, params={"patient": "p-chen"}).json()["alerts"] == []
        refused = stranger.post(f"{PATH}/{alert_id}/acknowledge", json={})
        assert refused.status_code == 404 and refused.headers["content-type"] == "application/problem+json"


def test_acknowledge_snooze_and_close_through_the_api(chen):
    with _gp() as web:
        alert_id = web.get(PATH, params={"severity": "urgent"}).json()["alerts"][0]["id"]
        done = web.post(f"{PATH}/{alert_id}/acknowledge", json={"note": "Phoning"})
        assert done.status_code == 200 and done.json()["state"] == "acknowledged"
        again = web.post(f"{PATH}/{alert_id}/acknowledge", json={})
        assert again.status_code == 409 and again.json()["status"] == 409
        snoozed = web.post(f"{PATH}/{alert_id}/snooze", json={"minutes": 30, "reason": "Repeat in half an hour"})
        assert snoozed.json()["state"] == "snoozed"
        closed = web.post(f"{PATH}/{alert_id}/close", json={"action": "video-visit"})
        assert closed.json()["state"] == "closed" and closed.json()["action"] == "video-visit"
        assert [a["id"] for a in web.get(PATH, params={"state": "closed"}).json()["alerts"]] == [alert_id]


def test_a_backend_system_sees_every_alert(chen):
    with TestClient(create_app(), base_url="http://testserver", headers=bearer("system/Task.rs")) as system:
        assert len(system.get(PATH).json()["alerts"]) == 2


@pytest.mark.parametrize(("method", "path", "params", "body", "status"), [
    ("get", PATH, {"severity": "dire"}, None, 400),
    ("get", PATH, {"state": "lost"}, None, 400),
    ("get", PATH, {"patient": "p/../x"}, None, 400),
    ("post", PATH + "/{id}/snooze", None, {"minutes": 0, "reason": "x"}, 400),
    ("post", PATH + "/{id}/snooze", None, {"minutes": 10}, 400),
    ("post", PATH + "/{id}/snooze", None, {"minutes": 10, "reason": "x" * 501}, 400),
    ("post", PATH + "/{id}/close", None, {"action": "shrug"}, 400),
    ("post", PATH + "/{id}/close", None, "not json", 400),
    ("post", PATH + "/{id}/acknowledge", None, {"extra": 1}, 400),
    ("post", PATH + "/no-such-alert/acknowledge", None, {}, 404),
    ("post", "/api/v1/monitoring/plans", None, {"patient": "p-chen", "template": "tarot"}, 400),
    ("post", "/api/v1/monitoring/plans", None,
     {"patient": "p-chen", "template": "hypertension", "adjustments": {"bp-crisis": {"systolic": -1}}}, 400),
])
def test_bad_input_is_answered_with_problem_json(chen, method, path, params, body, status):
    with _gp() as web:
        alert_id = web.get(PATH).json()["alerts"][0]["id"]
        kwargs = {"params": params} if params else {}
        if isinstance(body, str):
            kwargs["content"] = body
        elif body is not None:
            kwargs["json"] = body
        answer = getattr(web, method)(path.replace("{id}", alert_id), **kwargs)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == status and answer.json()["detail"]


def test_the_care_team_assigns_a_plan_through_the_api(chen):
    with _gp() as web:
        made = web.post("/api/v1/monitoring/plans", json={"patient": "p-chen", "template": "heart-failure",
                                                         "caregivers": ["RelatedPerson/rp-son"]})
    assert made.status_code == 201 and made.json()["resourceType"] == "CarePlan"
    assert made.json()["contributor"] == [{"reference": "RelatedPerson/rp-son"}]


def test_strangers_are_refused(chen):
    with TestClient(create_app(), base_url="http://testserver") as anonymous:
        assert anonymous.get(PATH).status_code == 401
    with _as("chen.son", None, "RelatedPerson/rp-son", "caregiver") as son:
        assert son.get(PATH).status_code == 403
