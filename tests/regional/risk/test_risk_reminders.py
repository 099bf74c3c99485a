"""Residents hear of their programme: once it is active, and three days before each review."""

from datetime import date, timedelta

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import enqueue, run_due
from smartcare.platform.notifications.service import inbox
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.risk import plans, reminders
from tests.web_support import make_user


def _programme(first_review: str, every: int = 90) -> dict:
    return {"resourceType": "CarePlan", "status": "active", "intent": "plan",
            "instantiatesUri": [plans.PLAN_DEFINITION], "subject": {"reference": "Patient/pa1"},
            "activity": [{"detail": {"status": "scheduled", "code": {"coding": [
                {"system": plans.ACTIVITY_SYSTEM, "code": plans.REVIEW}]},
                "scheduledTiming": {"event": [first_review],
                                    "repeat": {"frequency": 1, "period": every, "periodUnit": "d"}}}}]}


def test_the_next_review_follows_the_first_then_every_interval():
    plan = _programme("2026-04-01")
    assert plans.next_review(plan, date(2026, 3, 2)) == date(2026, 4, 1)
    assert plans.next_review(plan, date(2026, 4, 1)) == date(2026, 4, 1)
    assert plans.next_review(plan, date(2026, 4, 2)) == date(2026, 6, 30)
    assert plans.next_review(plan, date(2026, 6, 30)) == date(2026, 6, 30)
    assert plans.next_review({"activity": []}, date(2026, 4, 2)) is None


def test_the_resident_is_reminded_three_days_before_their_review(engine, now):
    gateway.serve(SYSTEM, FhirRequest(method="PUT", path="Patient/pa1", body={"resourceType": "Patient", "id": "pa1"}))
    soon = (now[0] + timedelta(hours=8)).date() + timedelta(days=reminders.DAYS_BEFORE)  # local day in Shanghai
    gateway.serve(SYSTEM, FhirRequest(method="POST", path="CarePlan", body=_programme(soon.isoformat())))
    gateway.serve(SYSTEM, FhirRequest(method="POST", path="CarePlan", body=_programme(
        (soon + timedelta(days=1)).isoformat())))
    patient = make_user(engine, "patient")
    with unit_of_work() as conn:
        enqueue(conn, kind=reminders.REVIEW_JOB, payload={})
    assert run_due(engine) >= 1
    with unit_of_work() as conn:
        told = inbox(conn, user_id=patient.id)
    assert [n["title"] for n in told] == ["Your programme review is coming up"]
    assert soon.isoformat() in told[0]["body"]


def test_a_resident_without_an_account_is_simply_not_told(engine):
    with unit_of_work() as conn:
        assert reminders.programme_active(conn, patient_id="nobody") == 0
