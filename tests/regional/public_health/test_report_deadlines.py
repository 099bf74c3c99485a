"""Reporting deadlines: a reminder shortly before, one escalation to infection control once overdue."""

from datetime import timedelta

import pytest

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import enqueue, run_due
from smartcare.platform.notifications.service import inbox
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import deadlines, reporting
from tests.regional.public_health.test_case_reporting import (
    HOSPITAL,
    diagnosis,
    doctor,
    load,
    region_resources,
    reports,
)
from tests.web_support import make_user

on_sqlite = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
OFFICER = "rep-ic"


def infection_control() -> list[dict]:
    """The hospital's infection-control department, with one doctor working in it."""
    return [
        {"resourceType": "Organization", "id": "rep-hosp-ic", "name": "Infection Control",
         "partOf": {"reference": f"Organization/{HOSPITAL}"}},
        {"resourceType": "HealthcareService", "id": "rep-svc-ic", "providedBy": {"reference": "Organization/rep-hosp-ic"},
         "type": [{"coding": [{"system": deadlines.DEPARTMENT_SYSTEM, "code": "infection-control"}]}]},
        {"resourceType": "Practitioner", "id": OFFICER, "name": [{"text": "Dr Lin"}]},
        {"resourceType": "PractitionerRole", "id": "rep-role-ic", "active": True,
         "practitioner": {"reference": f"Practitioner/{OFFICER}"}, "organization": {"reference": f"Organization/{HOSPITAL}"},
         "healthcareService": [{"reference": "HealthcareService/rep-svc-ic"}]},
    ]


@pytest.fixture
def region(engine, now):
    """The test region with Dr Zhou's account; returns it."""
    load(region_resources())
    return doctor(engine)


def _notices(user) -> list[dict]:
    with unit_of_work() as conn:
        return inbox(conn, user_id=user.id)


def _titles(user) -> list[str]:
    return [n["title"] for n in _notices(user)]


@on_sqlite
def test_an_overdue_draft_is_escalated_once_to_infection_control(engine, now, region):
    load(infection_control())
    office = doctor(engine, "lin.doctor", OFFICER, HOSPITAL)
    load([diagnosis("rep-flu", "J10.1", now[0])])
    reporting.sweep()
    now[0] += timedelta(hours=24, minutes=1)
    assert deadlines.sweep_deadlines() == {"reminded": 0, "escalated": 1}
    [report] = reports()
    assert model.facts(report).escalated_at == now[0]
    [notice] = _notices(office)
    assert notice["title"] == "Case report overdue" and "王芳: Influenza, diagnosed by Dr Zhou" in notice["body"]
    assert notice["link"] == f"/workstation/case-reports/{report['id']}"
    assert "Case report overdue" in _titles(region)
    now[0] += timedelta(minutes=5)
    assert deadlines.sweep_deadlines() == {"reminded": 0, "escalated": 0}
    assert len(_notices(office)) == 1


@on_sqlite
def test_without_an_infection_control_office_the_hospital_administrators_are_told(engine, now, region):
    admin = make_user(engine, "hospital_admin", "admin.rep", organization=f"Organization/{HOSPITAL}")
    elsewhere = make_user(engine, "hospital_admin", "admin.other", organization="Organization/rep-hosp-2")
    load([diagnosis("rep-cholera", "A00.9", now[0])])
    reporting.sweep()
    now[0] += timedelta(hours=2)
    with unit_of_work() as conn:
        enqueue(conn, kind=deadlines.DEADLINE_JOB, payload={})
    assert run_due(engine) >= 1
    [notice] = _notices(admin)
    assert "no infection-control office is listed" in notice["body"] and notice["link"] is None
    assert _notices(elsewhere) == []


@on_sqlite
def test_the_doctor_is_reminded_once_shortly_before_the_deadline(engine, now, region):
    load([diagnosis("rep-cholera", "A00.9", now[0]), diagnosis("rep-flu", "J10.1", now[0])])
    reporting.sweep()
    now[0] += timedelta(minutes=80)  # cholera: 40 minutes left; influenza: nearly 23 hours
    assert deadlines.sweep_deadlines() == {"reminded": 0, "escalated": 0}
    now[0] += timedelta(minutes=15)  # cholera: 25 minutes left
    assert deadlines.sweep_deadlines() == {"reminded": 1, "escalated": 0}
    now[0] += timedelta(minutes=5)
    deadlines.sweep_deadlines()
    run_due(engine)
    assert _titles(region).count("Case report due soon") == 1
    assert "Submit the case report by 2026-03-02 18:00" in _notices(region)[0]["body"]
    now[0] += timedelta(hours=20)  # influenza: 3 hours 40 minutes left
    assert deadlines.sweep_deadlines() == {"reminded": 1, "escalated": 1}


@on_sqlite
def test_a_report_submitted_or_discarded_meanwhile_is_not_reminded_or_escalated(engine, now, region):
    load([diagnosis("rep-cholera", "A00.9", now[0])])
    reporting.sweep()
    now[0] += timedelta(minutes=100)
    deadlines.sweep_deadlines()
    [report] = reports()
    model.move(report, "discard")
    gateway.serve(SYSTEM, FhirRequest(method="PUT", path=f"Composition/{report['id']}", body=report))
    run_due(engine)
    now[0] += timedelta(hours=1)
    assert deadlines.sweep_deadlines() == {"reminded": 0, "escalated": 0}
    assert _titles(region) == ["Notifiable disease: a case report to complete"]


def test_what_a_draft_needs_depends_on_its_deadline(now):
    urgent = model.CaseFacts("r", "draft", "cholera", None, None, None, None, None, now[0], None,
                             now[0] + timedelta(hours=2), None, None, None, None)
    assert deadlines.remind_before(urgent) == timedelta(minutes=30)
    assert deadlines.due(urgent, now[0] + timedelta(minutes=89)) is None
    assert deadlines.due(urgent, now[0] + timedelta(minutes=90)) == "remind"
    assert deadlines.due(urgent, now[0] + timedelta(hours=2)) == "escalate"
    standard = model.CaseFacts("r", "draft", "influenza", None, None, None, None, None, now[0], None,
                               now[0] + timedelta(hours=24), None, None, None, None)
    assert deadlines.remind_before(standard) == timedelta(hours=4)
    submitted = model.CaseFacts("r", "submitted", "cholera", None, None, None, None, None, now[0], None,
                                now[0] + timedelta(hours=2), now[0] + timedelta(hours=3), None, None, None)
    assert deadlines.due(submitted, now[0] + timedelta(hours=5)) is None and submitted.overdue
