"""Remote consultation: the state machine, the share (exactly what was shared, until it expires), the opinion."""

import base64
from datetime import timedelta

import pytest
import sqlalchemy as sa

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.teleconsult import service, states
from smartcare.platform.audit.tables import audit_journal
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications.tables import notification
from tests.hospital.teleconsult.conftest import SHARED, UNSHARED

QUESTION = "Breathless on exertion, NT-proBNP raised: heart failure? Which treatment?"


def _request(region, urgency="urgent", records=tuple(SHARED)):
    gp = region.ctx("gp")
    with unit_of_work(region.engine) as conn:
        return service.create(conn, ctx=gp, draft=service.Draft(
            patient_id="Patient/pa1", department="HealthcareService/hcs-cardio", question=QUESTION,
            urgency=urgency, records=records))


def _as(region, key, step, **args):
    """Take a service step as the staff member, in its own transaction."""
    ctx = region.ctx(key)
    with unit_of_work(region.engine) as conn:
        return step(conn, ctx=ctx, **args)


def _fhir(region, key, path, query=()):
    ctx = region.ctx(key)
    with unit_of_work(region.engine) as conn:
        return gateway.serve_within(conn, ctx, FhirRequest(method="GET", path=path, query=list(query))).body


def _can_read(region, key, reference) -> bool:
    try:
        _fhir(region, key, reference)
        return True
    except FhirError:
        return False


def _found(region, key, res_type, query) -> set[str]:
    bundle = _fhir(region, key, res_type, query)
    return {f"{res_type}/{e['resource']['id']}" for e in bundle.get("entry", [])
            if e.get("search", {}).get("mode") != "outcome"}


OPINION = {"summary": "Dilated left ventricle, EF 35%.", "opinion": "Heart failure with reduced ejection fraction.",
           "recommendations": "Start an ACE inhibitor and a beta blocker; review in two weeks."}


# The state machine as data


@pytest.mark.parametrize(("state", "action", "target"), [
    ("requested", "assign", "assigned"), ("requested", "convene", "scheduled"), ("assigned", "convene", "scheduled"),
    ("assigned", "answer", "answered"), ("scheduled", "answer", "answered"), ("requested", "cancel", "cancelled"),
    ("scheduled", "cancel", "cancelled")])
def test_legal_steps_reach_their_state(state, action, target):
    assert states.move(state, action).target == target


@pytest.mark.parametrize(("state", "action"), [
    ("requested", "answer"), ("assigned", "assign"), ("scheduled", "assign"), ("answered", "cancel"),
    ("answered", "assign"), ("cancelled", "answer"), ("cancelled", "convene"), ("requested", "approve")])
def test_illegal_steps_are_refused(state, action):
    with pytest.raises(states.IllegalTransition):
        states.move(state, action)


def test_each_side_is_offered_only_its_own_steps():
    assert states.actions_for("requested", frozenset({states.REQUESTER})) == ["cancel"]
    assert states.actions_for("requested", frozenset({states.RECEIVER})) == ["assign", "convene", "cancel"]
    assert states.actions_for("assigned", frozenset({states.SPECIALIST})) == ["answer"]
    assert states.actions_for("answered", frozenset(states.MOVES["cancel"].sides)) == []


# The workflow through the service


def test_request_is_a_consultation_service_request_and_task_owned_by_the_department(region):
    made = _request(region)
    assert (made.state, made.urgency, made.records) == ("requested", "urgent", SHARED)
    task = _fhir(region, "gp", f"Task/{made.id}")
    request = _fhir(region, "gp", task["focus"]["reference"])
    assert task["owner"]["reference"] == "HealthcareService/hcs-cardio" and task["status"] == "requested"
    assert request["category"][0]["coding"][0]["code"] == service.CONSULTATION["code"]
    assert [s["reference"] for s in request["supportingInfo"]] == SHARED
    # Urgent: answered within 24 hours of the request.
    assert made.minutes_left() == 24 * 60 and not made.overdue()
    with unit_of_work(region.engine) as conn:
        told = conn.execute(sa.select(notification.c.user_id).where(notification.c.kind == "teleconsult")).scalars()
        assert set(told) == {region.users["cardio"], region.users["cardio2"]}


def test_assign_then_answer_lands_the_opinion_in_the_record_and_tells_the_requester(region, now):
    made = _request(region)
    assigned = _as(region, "cardio", service.assign, task_id=made.id, specialist="Practitioner/prac-li")
    assert assigned.state == "assigned" and assigned.specialists == ["Practitioner/prac-li"]
    now[0] += timedelta(hours=3)
    answered = _as(region, "cardio", service.answer, task_id=made.id, sections=OPINION)
    assert answered.state == "answered" and answered.minutes_left() is None and not answered.overdue()
    # The requester (and the patient's record) has the report, about the patient and based on the request.
    reports = _found(region, "gp", "DiagnosticReport", [("patient", "Patient/pa1")])
    assert answered.opinion in reports
    report = _fhir(region, "gp", answered.opinion)
    request = _fhir(region, "gp", f"Task/{made.id}")["focus"]["reference"]
    assert report["subject"]["reference"] == "Patient/pa1" and report["basedOn"] == [{"reference": request}]
    assert report["conclusion"] == OPINION["opinion"] and report["status"] == "final"
    sections = {f["title"]: base64.b64decode(f["data"]).decode() for f in report["presentedForm"]}
    assert sections == {"Summary of findings": OPINION["summary"], "Opinion": OPINION["opinion"],
                        "Recommendations": OPINION["recommendations"]}
    assert _fhir(region, "gp", request)["status"] == "completed"
    # The specialist reads the opinion they wrote while the share lasts, and nothing else new.
    assert _can_read(region, "cardio", answered.opinion) and not _can_read(region, "cardio", "Patient/pa1")
    with unit_of_work(region.engine) as conn:
        told = conn.execute(sa.select(notification.c.title, notification.c.link).where(
            notification.c.user_id == region.users["gp"])).all()
    assert [(t.title, t.link) for t in told] == [("Remote consultation answered: urgent",
                                                  f"/workstation/teleconsults/{made.id}")]


def test_multi_disciplinary_session_names_several_specialists_who_may_answer(region, now):
    made = _request(region)
    start = now[0] + timedelta(hours=5)
    team = ["Practitioner/prac-li", "Practitioner/prac-sun"]
    convened = _as(region, "cardio2", service.convene, task_id=made.id, specialists=team, start=start)
    assert convened.state == "scheduled" and convened.specialists == team
    assert convened.session_start == "2026-03-02T13:00:00.000Z"
    # The imaging doctor, from another department of the same hospital, sees the shared image, not the rest.
    assert _can_read(region, "imaging", "ImagingStudy/img-chest")
    assert not _can_read(region, "imaging", "ImagingStudy/img-other")
    answered = _as(region, "imaging", service.answer, task_id=made.id, sections=OPINION)
    assert answered.state == "answered"


def test_illegal_and_foreign_steps_are_refused(region, now):
    made = _request(region)
    with pytest.raises(service.TransitionRefused):
        _as(region, "cardio", service.answer, task_id=made.id, sections=OPINION)  # nobody assigned yet
    with pytest.raises(service.NotYourSide):
        _as(region, "gp", service.assign, task_id=made.id, specialist="Practitioner/prac-li")
    with pytest.raises(service.TeleconsultNotFound):
        _as(region, "stranger", service.read, task_id=made.id)
    with pytest.raises(service.InvalidTeleconsult):
        _as(region, "cardio", service.assign, task_id=made.id, specialist="Practitioner/prac-xu")
    with pytest.raises(service.InvalidTeleconsult):
        _as(region, "cardio", service.convene, task_id=made.id, specialists=["Practitioner/prac-li"],
            start=now[0] + timedelta(hours=1))
    with pytest.raises(service.InvalidTeleconsult):
        _as(region, "cardio", service.convene, task_id=made.id, specialists=["Practitioner/prac-li",
                                                                            "Practitioner/prac-xu"],
            start=now[0] + timedelta(hours=1))
    with pytest.raises(service.InvalidTeleconsult):
        _as(region, "cardio", service.convene, task_id=made.id, specialists=["Practitioner/prac-li",
                                                                            "Practitioner/prac-sun"],
            start=now[0] - timedelta(hours=1))
    _as(region, "cardio", service.assign, task_id=made.id, specialist="Practitioner/prac-li")
    with pytest.raises(service.TransitionRefused):
        _as(region, "cardio2", service.assign, task_id=made.id, specialist="Practitioner/prac-wang")
    with pytest.raises(service.NotYourSide):
        _as(region, "cardio2", service.answer, task_id=made.id, sections=OPINION)  # not the one assigned
    with pytest.raises(service.InvalidTeleconsult):
        _as(region, "cardio", service.answer, task_id=made.id, sections={"summary": "x"})
    with pytest.raises(service.InvalidTeleconsult):
        _as(region, "cardio", service.cancel, task_id=made.id, reason=" ")
    cancelled = _as(region, "gp", service.cancel, task_id=made.id, reason="Patient admitted locally")
    assert cancelled.state == "cancelled" and cancelled.cancel_reason == "Patient admitted locally"
    with pytest.raises(service.TransitionRefused):
        _as(region, "cardio", service.answer, task_id=made.id, sections=OPINION)


def test_bad_requests_are_refused(region):
    for draft, error in [
        (dict(urgency="whenever"), service.InvalidTeleconsult),
        (dict(question="x" * 2001), service.InvalidTeleconsult),
        (dict(records=()), service.InvalidTeleconsult),
        (dict(records=("Condition/c1",)), service.InvalidTeleconsult),
        (dict(records=("Observation/../../x",)), service.InvalidTeleconsult),
        (dict(records=("Observation/nobody",)), service.TeleconsultNotFound),
        (dict(department="HealthcareService/none"), service.InvalidTeleconsult),
    ]:
        given = {"patient_id": "Patient/pa1", "department": "HealthcareService/hcs-cardio", "question": QUESTION,
                 "records": tuple(SHARED), **draft}
        gp = region.ctx("gp")
        with pytest.raises(error), unit_of_work(region.engine) as conn:
            service.create(conn, ctx=gp, draft=service.Draft(**given))


def test_turnaround_is_tracked_against_urgency(region, now):
    emergency = _request(region, urgency="emergency")
    routine = _request(region, urgency="routine")
    now[0] += timedelta(hours=3)
    incoming = _as(region, "cardio", service.listing, box="incoming")
    assert [t.id for t in incoming] == [emergency.id, routine.id]  # the nearest deadline first
    late, calm = incoming
    assert late.overdue() and late.minutes_left() == -60
    assert not calm.overdue() and calm.minutes_left() == 69 * 60
    assert [t.id for t in _as(region, "gp", service.listing, box="outgoing")] == [emergency.id, routine.id]
    assert _as(region, "stranger", service.listing, box="incoming") == []


# Access through the share


def test_specialist_reads_exactly_what_was_shared_until_it_expires(region, now):
    made = _request(region)
    # Before assignment no cardiologist reaches the clinic's records.
    assert not any(_can_read(region, "cardio", r) for r in SHARED)
    assigned = _as(region, "cardio", service.assign, task_id=made.id, specialist="Practitioner/prac-li")
    assert all(_can_read(region, "cardio", r) for r in SHARED)
    assert not any(_can_read(region, "cardio", r) for r in UNSHARED)
    # Searches are limited the same way, in SQL.
    assert _found(region, "cardio", "Observation", [("patient", "Patient/pa1")]) == {"Observation/obs-bnp"}
    assert _found(region, "cardio", "DiagnosticReport", [("subject", "Patient/pa1")]) == {"DiagnosticReport/dr-echo"}
    # The colleague who was not asked sees nothing; the share lets nobody write.
    assert not any(_can_read(region, "cardio2", r) for r in SHARED)
    # 72 hours for an urgent one; after that, nothing.
    assert assigned.share_expires == "2026-03-05T08:00:00.000Z"
    now[0] += timedelta(hours=71, minutes=59)
    assert all(_can_read(region, "cardio", r) for r in SHARED)
    now[0] += timedelta(minutes=2)
    assert not any(_can_read(region, "cardio", r) for r in SHARED)
    assert _found(region, "cardio", "Observation", [("patient", "Patient/pa1")]) == set()
    with pytest.raises(service.NotYourSide):
        _as(region, "cardio", service.answer, task_id=made.id, sections=OPINION)


def test_the_share_gives_no_write_and_ends_when_cancelled(region):
    from smartcare.fhir import access
    from smartcare.fhir.errors import Forbidden, NotFound

    made = _request(region)
    _as(region, "cardio", service.assign, task_id=made.id, specialist="Practitioner/prac-li")
    cardio = region.ctx("cardio")
    with unit_of_work(region.engine) as conn:
        pk = conn.execute(sa.select(access.R.c.pk).where(access.R.c.res_id == "obs-bnp")).scalar()
        with pytest.raises((Forbidden, NotFound)):
            access.check_write(conn, cardio, "delete", "Observation", None, pk)
    _as(region, "gp", service.cancel, task_id=made.id, reason="Answered by phone")
    assert not any(_can_read(region, "cardio", r) for r in SHARED)


def test_the_specialists_looks_are_audited_as_theirs(region):
    made = _request(region)
    _as(region, "cardio", service.assign, task_id=made.id, specialist="Practitioner/prac-li")
    _fhir(region, "cardio", "DiagnosticReport/dr-echo")
    with unit_of_work(region.engine) as conn:
        events = conn.execute(sa.select(audit_journal.c.event)).scalars().all()
    assert any("dr.li" in e and "DiagnosticReport/dr-echo" in e for e in events)


def test_a_clinician_cannot_write_a_share_for_themselves(region):
    """Only the remote consultation service writes shares: a doctor who could otherwise list any record in one
    (the GP, whose patient it is, or a specialist widening one) is refused."""
    from smartcare.fhir import access
    from smartcare.fhir.errors import Forbidden
    from smartcare.platform.security.policy import (
        CONSENT_CATEGORY_SYSTEM,
        CONSENT_SCOPE_PRIVACY,
        CONSENT_SCOPE_SYSTEM,
        TELECONSULT_SHARE,
    )

    forged = {"resourceType": "Consent", "status": "active", "patient": {"reference": "Patient/pa1"},
              "scope": {"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": CONSENT_SCOPE_PRIVACY}]},
              "category": [{"coding": [{"system": CONSENT_CATEGORY_SYSTEM, "code": TELECONSULT_SHARE}]}],
              "provision": {"type": "permit", "actor": [{"role": {"text": "specialist"},
                                                         "reference": {"reference": "Practitioner/prac-xu"}}],
                            "data": [{"meaning": "instance", "reference": {"reference": "Observation/obs-bnp"}}]}}
    for key in ("gp", "cardio", "stranger"):
        ctx = region.ctx(key)
        with unit_of_work(region.engine) as conn, pytest.raises(Forbidden):
            access.check_write(conn, ctx, "create", "Consent", forged, None)
