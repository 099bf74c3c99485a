"""Break-the-glass: emergency access needs a reason, is reported to the patient, ends on time and is flagged."""

from datetime import UTC, datetime, timedelta

import pytest

from smartcare.platform import clock
from smartcare.platform.audit import events_for_patient
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import break_glass, users
from tests.fhir.test_access import as_, build_world, context_of

REASON = "Collapsed in the waiting room, no relatives reachable"


@pytest.fixture
def world(client):
    return build_world(client)


def open_for(actor: str, patient: str, reason: str = REASON, minutes: int = 60) -> break_glass.Grant:
    with unit_of_work() as conn:
        return break_glass.open_access(conn, ctx=context_of(actor), patient_id=patient, reason=reason,
                                       minutes=minutes)


def who_opened(patient: str) -> list[tuple[str, str, str | None]]:
    """(agent, subtype, purpose) of the patient's audit entries, newest first, without the test's set-up."""
    with unit_of_work() as conn:
        return [(e["agent"], e["subtype"], e["purpose"]) for e in events_for_patient(conn, f"Patient/{patient}")
                if e["agent"] != "client/test suite"]


def test_opening_access_records_the_reason_and_tells_the_patient_who_why_and_until_when(world):
    grant = open_for("doctor-b", "Patient/pa1", reason=f"  {REASON}  ", minutes=30)
    assert grant.reason == REASON and grant.patient_id == "pa1"
    assert clock.parse_instant(grant.expires) - clock.parse_instant(grant.started) == timedelta(minutes=30)
    with unit_of_work() as conn:
        entry = events_for_patient(conn, "Patient/pa1")[0]
    assert (entry["agent"], entry["subtype"], entry["purpose"]) == ("user/dr.zhou", "break-the-glass", "BTG")
    assert entry["event"]["purposeOfEvent"][0]["text"] == REASON
    told = world.get("/fhir/Communication?subject=Patient/pa1", headers=as_("patient-pa1")).json()["entry"]
    assert len(told) == 1
    message = told[0]["resource"]
    assert message["status"] == "completed"
    assert message["sender"] == {"reference": "Practitioner/doc-b"}
    assert message["recipient"] == [{"reference": "Patient/pa1"}]
    text = message["payload"][0]["contentString"]
    shown = clock.parse_instant(grant.expires).strftime("%Y-%m-%d %H:%M")
    assert text.startswith("Zhou opened your health record in an emergency") and REASON in text and shown in text


def test_the_patient_is_told_in_the_language_of_their_account(world):
    with unit_of_work() as conn:
        users.create_user(conn, username="wang.fang", password="Quiet-River-Bamboo-73", role="patient",
                          fhir_ref="Patient/pa2", locale="zh-Hans")
    open_for("doctor-b", "pa2")
    told = world.get("/fhir/Communication?subject=Patient/pa2", headers=as_("caregiver-carer")).json()["entry"]
    text = told[0]["resource"]["payload"][0]["contentString"]
    assert text.startswith("Zhou 于") and "在紧急情况下打开了您的健康档案" in text and REASON in text


@pytest.mark.parametrize(
    ("patient", "reason", "minutes", "message"),
    [
        ("pa1", "too short", 60, "reason must be 10 to 500 characters"),
        ("pa1", " " * 30, 60, "reason must be 10 to 500 characters (it is 0)"),
        ("pa1", "x" * 501, 60, "reason must be 10 to 500 characters (it is 501)"),
        ("pa1", "Bleeding heavily\x00'; DROP TABLE break_glass_grant; --", 60, "without control characters"),
        ("pa1", None, 60, "reason must be text"),
        ("pa1", ["Bleeding heavily, unconscious"], 60, "reason must be text"),
        ("pa1", REASON, 0, "minutes must be a whole number from 1 to 240"),
        ("pa1", REASON, 241, "minutes must be a whole number from 1 to 240"),
        ("pa1", REASON, "60", "minutes must be a whole number"),
        ("pa1", REASON, True, "minutes must be a whole number"),
        ("pa1", REASON, 1.5, "minutes must be a whole number"),
        ("../Patient/pa1", REASON, 60, "patient must be a Patient id or reference"),
        ("Patient/pa1' OR '1'='1", REASON, 60, "patient must be a Patient id or reference"),
        ("p" * 65, REASON, 60, "patient must be a Patient id or reference"),
        (123, REASON, 60, "patient must be a Patient id or reference"),
        ("Patient/nobody", REASON, 60, "There is no patient nobody"),
    ],
)
def test_malformed_or_hostile_requests_are_refused_and_leave_no_trace(world, patient, reason, minutes, message):
    with pytest.raises(break_glass.BreakGlassError) as refused:
        open_for("doctor-b", patient, reason=reason, minutes=minutes)
    assert refused.value.status == 422
    assert message in str(refused.value)
    with unit_of_work() as conn:
        assert break_glass.active_grants(conn, user_id="user-dr.zhou") == []
    assert ("user/dr.zhou", "break-the-glass", "BTG") not in who_opened("pa1")


@pytest.mark.parametrize("actor", ["patient-pa1", "caregiver-parent", "admin-a", "researcher", "device"])
def test_only_clinicians_break_the_glass(world, actor):
    with pytest.raises(break_glass.NotAllowed):
        open_for(actor, "pa1")


def test_access_ends_the_moment_the_grant_expires(world):
    headers = as_("doctor-b")  # signed now; it outlives the minutes the clock moves on
    now = datetime.now(UTC)
    open_for("doctor-b", "pa1", minutes=5)
    assert world.get("/fhir/Observation/obs-pa1", headers=headers).status_code == 200
    clock.set_clock(lambda: now + timedelta(minutes=6))
    try:
        assert world.get("/fhir/Observation/obs-pa1", headers=headers).status_code == 404
        with unit_of_work() as conn:
            assert break_glass.active_grants(conn, user_id="user-dr.zhou") == []
    finally:
        clock.set_clock(None)


def test_closing_a_grant_ends_access_at_once_and_only_its_holder_may_close_it(world):
    grant = open_for("doctor-b", "pa1")
    with unit_of_work() as conn:
        assert [g.id for g in break_glass.active_grants(conn, user_id="user-dr.zhou")] == [grant.id]
        with pytest.raises(break_glass.GrantNotFound):
            break_glass.close_access(conn, ctx=context_of("doctor-a"), grant_id=grant.id)
    assert world.get("/fhir/Patient/pa1", headers=as_("doctor-b")).status_code == 200
    with unit_of_work() as conn:
        closed = break_glass.close_access(conn, ctx=context_of("doctor-b"), grant_id=grant.id)
    assert closed.ended is not None and not closed.is_open(clock.now())
    assert world.get("/fhir/Patient/pa1", headers=as_("doctor-b")).status_code == 404
    with unit_of_work() as conn:
        assert break_glass.close_access(conn, ctx=context_of("doctor-b"), grant_id=grant.id).ended == closed.ended
        assert break_glass.active_grants(conn, user_id="user-dr.zhou") == []


def test_accesses_only_a_grant_allows_are_flagged_btg_for_the_patient(world):
    assert world.get("/fhir/Patient/pa3", headers=as_("doctor-c")).status_code == 200
    assert world.get("/fhir/Patient/pa3", headers=as_("doctor-a")).status_code == 200
    assert who_opened("pa3")[:2] == [("user/dr.chen", "read", None), ("user/dr.sun", "read", "BTG")]


def test_a_grant_over_a_patient_in_reach_flags_only_what_another_institution_sent(world):
    open_for("doctor-a", "pa3")
    assert world.get("/fhir/Observation/obs-pa3-own", headers=as_("doctor-a")).status_code == 200
    assert world.get("/fhir/Observation/obs-pa3-from-c", headers=as_("doctor-a")).status_code == 200
    assert who_opened("pa3")[:2] == [("user/dr.chen", "read", "BTG"), ("user/dr.chen", "read", None)]


def test_a_search_flags_only_the_patients_reached_through_the_grant(world):
    found = world.get("/fhir/Patient", headers=as_("doctor-c"))
    assert found.status_code == 200
    assert {e["resource"]["id"] for e in found.json()["entry"]} == {"pa3", *(f"pb{i}" for i in range(1, 7))}
    assert who_opened("pa3")[0] == ("user/dr.sun", "search", "BTG")
    assert who_opened("pb1")[0] == ("user/dr.sun", "search", None)
