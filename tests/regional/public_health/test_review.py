"""The officers' review of case reports: acts that move the state (audited, If-Match guarded, the doctor told of a
correction), the list's filters, and possible duplicates found through the master patient index."""

import random
from datetime import date

import pytest

from smartcare.fhir import store
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications.service import inbox
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import AccessDenied
from smartcare.platform.security.signup import RESIDENT_ID_SYSTEM
from smartcare.regional.mpi import service as mpi
from smartcare.regional.mpi.synthetic import identity_number
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import review
from smartcare.regional.public_health.case_reports import document_type
from tests.web_support import make_user

OFFICER = AccessContext(kind="user", name="officer.li", roles=frozenset({"public_health_officer"}))
ZHANG_ID = identity_number(random.Random(7), "1980-04-17", "male")
FEBRUARY = (date(2026, 2, 1), date(2026, 2, 28))
# The store's own behaviour is tested on both databases elsewhere; the If-Match race and the MPI's Person search
# run on both here, the rest on SQLite only to keep the suite fast.
ONE_STORE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def person(pid: str, *, id_number: str | None = ZHANG_ID, **fields) -> dict:
    """Zhang Wei (张伟) as an institution registered him, with the changes given."""
    resource = {
        "resourceType": "Patient", "id": pid, "gender": "male", "birthDate": "1980-04-17",
        "name": [{"use": "official", "text": "张伟", "family": "张", "given": ["伟"]}],
        "telecom": [{"system": "phone", "value": "+86 138 0013 8000"}],
        "address": [{"use": "home", "line": ["解放路12号"], "city": "滨河市", "district": "Hedong District",
                     "postalCode": "339100"}],
        **({"identifier": [{"system": RESIDENT_ID_SYSTEM, "value": id_number}]} if id_number else {}),
    }
    resource.update(fields)
    return {k: v for k, v in resource.items() if v is not None}


def case(rid: str, patient: str, *, state: str = "submitted", disease: str = "influenza", hospital: str = "org-a",
         doctor: str = "doc-a", diagnosed: str = "2026-02-20T09:00:00+08:00", district: str = "339901",
         deadline: str | None = None, submitted: str | None = None) -> dict:
    """A case-report Composition in the state given, as the reporting side writes one."""
    extensions = [
        {"url": model.STATE, "valueCode": state},
        {"url": model.DIAGNOSED_AT, "valueDateTime": diagnosed},
        {"url": model.DISTRICT, "valueCoding": {"system": model.DISTRICT_SYSTEM, "code": district}},
        *([{"url": model.DEADLINE, "valueDateTime": deadline}] if deadline else []),
        *([{"url": model.SUBMITTED_AT, "valueDateTime": submitted}] if submitted else []),
    ]
    return {
        "resourceType": "Composition", "id": rid, "status": model.STATUS_OF_STATE[state],
        "type": {"coding": [document_type()]}, "date": diagnosed, "title": "Infectious disease report card",
        "category": [{"coding": [{"system": model.DISEASE_SYSTEM, "code": disease}]}],
        "subject": {"reference": f"Patient/{patient}"},
        "author": [{"reference": f"Practitioner/{doctor}"}, {"reference": f"Organization/{hospital}"}],
        "extension": extensions,
    }


def institutions() -> list[dict]:
    """The two hospitals and their reporting doctors."""
    return [
        {"resourceType": "Organization", "id": "org-a", "name": "Riverside First Hospital"},
        {"resourceType": "Organization", "id": "org-b", "name": "Hexi People's Hospital"},
        {"resourceType": "Practitioner", "id": "doc-a", "name": [{"text": "周医生"}]},
        {"resourceType": "Practitioner", "id": "doc-b", "name": [{"text": "Dr Wang"}]},
    ]


def put(engine, *resources: dict) -> None:
    """Write resources as the platform (the reporting side's own writes are not under test here)."""
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])


def link(engine, *patients: dict) -> None:
    """Let the master patient index match each Patient, as its job does when one is stored."""
    with unit_of_work(engine) as conn:
        for patient in patients:
            mpi.match_record(conn, SYSTEM, patient)


def act(engine, report_id: str, act_name: str, version: int, **given) -> review.Loaded:
    with unit_of_work(engine) as conn:
        return review.act(conn, ctx=OFFICER, report_id=report_id, act_name=act_name, seen_version=version, **given)


def read(engine, report_id: str) -> review.Loaded:
    with unit_of_work(engine) as conn:
        return review.find_report(conn, report_id)


def listing(engine, **filters) -> review.CasePage:
    with unit_of_work(engine) as conn:
        return review.list_cases(conn, ctx=OFFICER, query=review.ReviewQuery(*FEBRUARY, **filters))


@pytest.fixture
def two_hospitals(engine, now):
    """Zhang Wei reported by hospital A and, under another registration the MPI links, by hospital B; Li Na once."""
    a, b = person("h1-1"), person("h2-1", name=[{"family": "Zhang", "given": ["Wei"]}], telecom=None)
    li = person("h1-2", id_number=None, name=[{"text": "李娜"}], gender="female", birthDate="1990-11-30")
    put(engine, *institutions(), a, b, li, case("rep-a", "h1-1"),
        case("rep-b", "h2-1", hospital="org-b", doctor="doc-b", diagnosed="2026-02-22T10:00:00+08:00"),
        case("rep-li", "h1-2", diagnosed="2026-02-10T10:00:00+08:00", district="339902"))
    link(engine, a, b, li)
    return engine


@ONE_STORE
def test_verifying_then_closing_moves_the_state_and_audits_each_act_for_the_patient(two_hospitals):
    verified = act(two_hospitals, "rep-a", "verify", 1)
    assert (verified.facts.state, verified.resource["status"], verified.version) == ("verified", "final", 2)
    closed = act(two_hospitals, "rep-a", "close", 2, outcome="recovered", text="well after 5 days")
    assert closed.facts.state == "closed"
    assert model.extension(closed.resource, review.OUTCOME)["valueCode"] == "recovered"
    with unit_of_work(two_hospitals) as conn:
        trail = audit.search(conn, agent="user/officer.li", patient="Patient/h1-1")
        history = review.state_history(conn, closed)
    assert [e["subtype"] for e in trail] == ["update", "update"]
    assert all(e["event"]["purposeOfEvent"][0]["coding"][0]["code"] == "PUBHLTH" for e in trail)
    assert [(h.act, h.state, h.by, h.note) for h in history] == [
        ("created", "submitted", "周医生", ""), ("verify", "verified", "officer.li", ""),
        ("close", "closed", "officer.li", "well after 5 days")]


@ONE_STORE
def test_the_history_names_the_doctor_for_their_own_acts_and_the_platform_for_a_draft(engine, now):
    put(engine, *institutions(), person("h1-1"), case("rep-d", "h1-1", state="draft"))
    discarded = case("rep-d", "h1-1", state="discarded")
    discarded["extension"].append({"url": model.DISCARD_REASON, "valueCodeableConcept": {
        "coding": [{"system": model.DISCARD_REASON_SYSTEM, "code": "reported-elsewhere"}],
        "text": "already reported by the county hospital"}})
    put(engine, discarded)
    report = read(engine, "rep-d")
    with unit_of_work(engine) as conn:
        history = review.state_history(conn, report)
    assert [(h.act, h.state, h.by, h.note) for h in history] == [
        ("created", "draft", "", ""), ("discard", "discarded", "周医生", "already reported by the county hospital")]


@ONE_STORE
@pytest.mark.parametrize(("act_name", "given"), [("close", {"outcome": "died"}), ("submit", {})])
def test_a_move_the_state_does_not_allow_is_refused_and_changes_nothing(two_hospitals, act_name, given):
    expected = review.ActRefused if act_name == "close" else review.ReviewRefused
    with pytest.raises(expected) as refused:
        act(two_hospitals, "rep-a", act_name, 1, **given)
    assert refused.value.status == (409 if act_name == "close" else 400)
    after = read(two_hospitals, "rep-a")
    assert (after.version, after.facts.state) == (1, "submitted")


def test_a_stale_version_is_a_conflict_and_the_second_officer_changes_nothing(two_hospitals):
    act(two_hospitals, "rep-a", "verify", 1)
    with pytest.raises(review.VersionConflict, match="you saw version 1, it is now version 2") as conflict:
        act(two_hospitals, "rep-a", "request-correction", 1, text="Onset date missing")
    assert conflict.value.status == 409
    after = read(two_hospitals, "rep-a")
    assert (after.version, after.facts.state) == (2, "verified")
    assert model.extension(after.resource, model.CORRECTION) is None


@ONE_STORE
def test_a_correction_request_keeps_the_text_on_the_report_and_tells_the_reporting_doctor(two_hospitals):
    doctor = make_user(two_hospitals, "doctor", locale="zh-Hans")
    corrected = act(two_hospitals, "rep-a", "request-correction", 1, text="发病日期晚于诊断日期，请核实 <b>")
    assert corrected.facts.state == "correction-requested" and corrected.resource["status"] == "preliminary"
    assert model.extension(corrected.resource, model.CORRECTION)["valueString"] == "发病日期晚于诊断日期，请核实 <b>"
    with unit_of_work(two_hospitals) as conn:
        notices = inbox(conn, user_id=doctor.id)
    assert len(notices) == 1 and notices[0]["link"] == "/workstation/case-reports/rep-a"
    assert notices[0]["title"] == "病例报告需要订正" and "流行性感冒" in notices[0]["body"]
    assert "请核实" in notices[0]["body"]


@pytest.mark.parametrize(("given", "message"), [({}, "Write what the reporting doctor"),
                                                ({"text": "x" * 1001}, "At most 1000 characters")])
@ONE_STORE
def test_a_correction_request_needs_a_short_enough_message(two_hospitals, given, message):
    with pytest.raises(review.ReviewRefused, match=message):
        act(two_hospitals, "rep-a", "request-correction", 1, **given)
    assert read(two_hospitals, "rep-a").version == 1


def test_the_same_person_reported_by_two_hospitals_is_a_possible_duplicate_through_the_mpi(two_hospitals):
    page = listing(two_hospitals, duplicates=True)
    rows = {report.facts.id: [(d.report.facts.id, d.reason) for d in found] for report, found in page.rows}
    assert rows == {"rep-a": [("rep-b", review.MPI_LINK)], "rep-b": [("rep-a", review.MPI_LINK)]}
    assert [report.facts.id for report, _ in listing(two_hospitals).rows] == ["rep-b", "rep-a", "rep-li"]


@ONE_STORE
def test_marking_a_duplicate_takes_it_out_of_the_counts_and_the_kept_report_records_it(two_hospitals):
    act(two_hospitals, "rep-b", "mark-duplicate", 1, kept_id="rep-a")
    duplicate, kept = read(two_hospitals, "rep-b"), read(two_hospitals, "rep-a")
    assert (duplicate.facts.state, duplicate.facts.duplicate_of) == ("duplicate", "Composition/rep-a")
    assert duplicate.facts.state not in model.COUNTED and kept.facts.state in model.COUNTED
    assert review.recorded_duplicates(kept.resource) == ["Composition/rep-b"]
    assert listing(two_hospitals, duplicates=True).rows == []
    with unit_of_work(two_hospitals) as conn:
        changes = audit.search(conn, agent="user/officer.li", subtype="update")
    assert sorted(e["patient"] for e in changes) == ["Patient/h1-1", "Patient/h2-1"]


@ONE_STORE
def test_a_duplicate_must_be_of_the_same_disease_and_kept_by_a_counted_report(two_hospitals, engine):
    put(engine, case("rep-measles", "h2-1", disease="measles"), case("rep-draft", "h1-1", state="draft"))
    for kept, message in [("rep-measles", "same disease"), ("rep-draft", "not one that is draft"),
                          ("rep-b", "cannot duplicate itself"), ("nope", "no case report nope")]:
        with pytest.raises(review.ActRefused, match=message):
            act(engine, "rep-b", "mark-duplicate", 1, kept_id=kept)
    assert read(engine, "rep-b").facts.state == "submitted"


@ONE_STORE
def test_without_an_mpi_link_the_same_identity_number_makes_a_possible_duplicate(engine, now):
    put(engine, *institutions(), person("x1"), person("x2", name=[{"text": "张 伟"}]),
        case("r1", "x1"), case("r2", "x2", hospital="org-b", diagnosed="2026-02-25T10:00:00+08:00"),
        case("r3", "x2", diagnosed="2025-12-01T10:00:00+08:00"))
    with unit_of_work(engine) as conn:
        report, found = review.read_case(conn, ctx=OFFICER, report_id="r1")
    assert [(d.report.facts.id, d.reason) for d in found] == [("r2", review.SAME_ID)]


@ONE_STORE
def test_the_filters_narrow_the_list(two_hospitals, engine):
    put(engine, case("rep-late", "h1-2", state="draft", deadline="2026-02-27T00:00:00Z", disease="measles"))
    assert [r.facts.id for r, _ in listing(engine, organization="Organization/org-b").rows] == ["rep-b"]
    assert [r.facts.id for r, _ in listing(engine, district="339902").rows] == ["rep-li"]
    assert [r.facts.id for r, _ in listing(engine, overdue=True).rows] == ["rep-late"]
    assert [r.facts.id for r, _ in listing(engine, disease="measles", state="draft").rows] == ["rep-late"]
    with unit_of_work(engine) as conn:
        narrow = review.list_cases(conn, ctx=OFFICER, query=review.ReviewQuery(date(2026, 2, 21), date(2026, 2, 28)))
    assert [r.facts.id for r, _ in narrow.rows] == ["rep-b"]


@ONE_STORE
def test_only_officers_may_review(two_hospitals):
    admin = AccessContext(kind="user", name="admin", roles=frozenset({"regional_admin"}))
    with pytest.raises(AccessDenied), unit_of_work(two_hospitals) as conn:
        review.act(conn, ctx=admin, report_id="rep-a", act_name="verify", seen_version=1)
    with pytest.raises(AccessDenied), unit_of_work(two_hospitals) as conn:
        review.list_cases(conn, ctx=admin, query=review.ReviewQuery(*FEBRUARY))
    assert read(two_hospitals, "rep-a").facts.state == "submitted"
