"""Draft case reports from triggers: a notifiable diagnosis or positive result drafts one report for its doctor."""

from datetime import datetime, timedelta
from typing import Any

import pytest

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import enqueue, run_due
from smartcare.platform.notifications.service import inbox
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.settings import get_settings
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import reporting, review
from smartcare.regional.public_health.case_reports import document_type
from tests.web_support import make_user

# The store itself is tested on both databases (tests/fhir); these tests run on SQLite to stay quick.
on_sqlite = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

ICD10, LOINC, SNOMED = "http://hl7.org/fhir/sid/icd-10", "http://loinc.org", "http://snomed.info/sct"
HOSPITAL, DEPARTMENT, OTHER_HOSPITAL = "rep-hosp", "rep-hosp-resp", "rep-hosp-2"
DOCTOR, COLLEAGUE, STRANGER = "rep-doc", "rep-doc-2", "rep-doc-3"
PATIENT = "rep-pat-1"
ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
POSITIVE = {"coding": [{"system": SNOMED, "code": "10828004", "display": "Positive"}], "text": "Positive"}
NEGATIVE = {"coding": [{"system": SNOMED, "code": "260385009", "display": "Negative"}], "text": "Negative"}


def _organization(oid: str, name: str, kind: str, part_of: str | None = None) -> dict[str, Any]:
    org: dict[str, Any] = {"resourceType": "Organization", "id": oid, "name": name,
                           "type": [{"coding": [{"system": ORG_TYPE, "code": kind}]}]}
    if part_of:
        org["partOf"] = {"reference": f"Organization/{part_of}"}
    return org


def region_resources() -> list[dict[str, Any]]:
    """Two hospitals (the first with a respiratory department), three doctors, a patient of the first seen there."""
    patient = {
        "resourceType": "Patient", "id": PATIENT, "gender": "female", "birthDate": "1990-05-04",
        "name": [{"use": "official", "text": "王芳", "family": "王", "given": ["芳"]}],
        "identifier": [{"system": "https://smartcare.example/fhir/sid/cn-resident-id", "value": "339901199005040026"}],
        "telecom": [{"system": "phone", "value": "+86 139 0000 1234"}],
        "address": [{"use": "home", "text": "滨河市河东区解放路12号", "line": ["12 Jiefang Road"],
                     "city": "Riverside City", "district": "Hedong District", "country": "CN"}],
        "managingOrganization": {"reference": f"Organization/{HOSPITAL}"},
    }
    encounter = {"resourceType": "Encounter", "id": "rep-enc-1", "status": "in-progress",
                 "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                 "subject": {"reference": f"Patient/{PATIENT}"},
                 "participant": [{"individual": {"reference": f"Practitioner/{DOCTOR}"}}],
                 "serviceProvider": {"reference": f"Organization/{DEPARTMENT}"}}
    order = {"resourceType": "ServiceRequest", "id": "rep-sr-1", "status": "completed", "intent": "order",
             "code": {"coding": [{"system": LOINC, "code": "94500-6"}]}, "subject": {"reference": f"Patient/{PATIENT}"},
             "encounter": {"reference": "Encounter/rep-enc-1"}, "requester": {"reference": f"Practitioner/{DOCTOR}"}}
    doctors = [{"resourceType": "Practitioner", "id": pid, "name": [{"text": name}]}
               for pid, name in ((DOCTOR, "Dr Zhou"), (COLLEAGUE, "Dr Wu"), (STRANGER, "Dr Qian"))]
    return [_organization(HOSPITAL, "Riverside First Hospital", "prov"),
            _organization(DEPARTMENT, "Respiratory Medicine", "dept", HOSPITAL),
            _organization(OTHER_HOSPITAL, "Hexi Hospital", "prov"), *doctors, patient, encounter, order]


def load(resources: list[dict[str, Any]]) -> None:
    """Write resources as the platform (a hospital's feed)."""
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]}
    gateway.serve(SYSTEM, FhirRequest(method="POST", path="", body=bundle))


def diagnosis(cid: str, code: str, recorded: datetime, *, onset: str = "2026-03-01",
              verification: str = "confirmed") -> dict[str, Any]:
    """A Condition the doctor recorded in the hospital encounter."""
    return {"resourceType": "Condition", "id": cid, "subject": {"reference": f"Patient/{PATIENT}"},
            "code": {"coding": [{"system": ICD10, "code": code}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                               "code": verification}]},
            "encounter": {"reference": "Encounter/rep-enc-1"}, "recorder": {"reference": f"Practitioner/{DOCTOR}"},
            "recordedDate": recorded.isoformat(), "onsetDateTime": onset}


def result(oid: str, loinc: str, answer: dict[str, Any], issued: datetime) -> dict[str, Any]:
    """A final laboratory result of the doctor's order."""
    return {"resourceType": "Observation", "id": oid, "status": "final", "subject": {"reference": f"Patient/{PATIENT}"},
            "code": {"coding": [{"system": LOINC, "code": loinc}]}, "basedOn": [{"reference": "ServiceRequest/rep-sr-1"}],
            "issued": issued.isoformat(), "valueCodeableConcept": answer}


def doctor(engine, username: str = "zhou.doctor", practitioner: str = DOCTOR, organization: str = HOSPITAL,
           locale: str = "en"):
    """A doctor's account linked to their Practitioner and hospital."""
    return make_user(engine, "doctor", username, fhir_ref=f"Practitioner/{practitioner}",
                     organization=f"Organization/{organization}", locale=locale)


def reports() -> list[dict[str, Any]]:
    """Every case report in the store, read as the platform."""
    kind = document_type()
    return gateway.search(SYSTEM, "Composition", [("type", f"{kind['system']}|{kind['code']}"), ("_count", "100")])


@pytest.fixture
def hospital(engine, now):
    """The test region loaded, the clock at 2026-03-02 08:00 UTC; returns the diagnosing doctor's account."""
    load(region_resources())
    return doctor(engine)


def test_a_j10_1_diagnosis_makes_one_draft_for_its_doctor_due_in_24_hours(engine, now, hospital):
    recorded = now[0] - timedelta(minutes=20)
    load([diagnosis("rep-flu", "J10.1", recorded)])
    assert reporting.sweep() == {"drafted": 1}
    [report] = reports()
    case = model.facts(report)
    assert (case.state, case.disease, case.patient) == ("draft", "influenza", f"Patient/{PATIENT}")
    assert (case.practitioner, case.organization) == (f"Practitioner/{DOCTOR}", f"Organization/{HOSPITAL}")
    assert case.diagnosed_at == recorded and case.deadline == recorded + timedelta(hours=24)
    assert case.district == "339901" and str(case.onset) == "2026-03-01" and case.classification is None
    assert model.section_entries(report, model.DIAGNOSIS_SECTION) == ["Condition/rep-flu"]
    assert "J10.1" in reporting.reason_text(report, "en") and "流行性感冒" in reporting.reason_text(report, "zh-Hans")
    with unit_of_work() as conn:
        [told] = inbox(conn, user_id=hospital.id)
    assert told["kind"] == "public-health.case-report" and told["link"] == f"/workstation/case-reports/{report['id']}"
    assert "王芳: Influenza, Class C" in told["body"]


@on_sqlite
def test_running_the_sweep_again_makes_no_second_draft_and_no_second_notice(engine, now, hospital):
    load([diagnosis("rep-flu", "J10.1", now[0])])
    with unit_of_work() as conn:
        enqueue(conn, kind=reporting.SWEEP_JOB, payload={})
    assert run_due(engine) >= 1
    now[0] += timedelta(minutes=5)
    assert reporting.sweep() == {}
    load([diagnosis("rep-flu-again", "J11.1", now[0])])  # the same disease, diagnosed again while the draft is open
    assert reporting.sweep() == {"joined": 1}
    [report] = reports()
    assert model.section_entries(report, model.DIAGNOSIS_SECTION) == ["Condition/rep-flu", "Condition/rep-flu-again"]
    with unit_of_work() as conn:
        assert len(inbox(conn, user_id=hospital.id)) == 1


@on_sqlite
def test_cholera_is_due_within_two_hours(engine, now, hospital):
    load([diagnosis("rep-cholera", "A00.9", now[0])])
    reporting.sweep()
    [report] = reports()
    assert model.facts(report).deadline == now[0] + timedelta(hours=2)
    assert "Class A" in reporting.reason_text(report, "en")


@on_sqlite
def test_a_positive_sars_cov_2_rna_drafts_a_report_hinting_a_confirmed_case(engine, now, hospital):
    load([result("rep-cov", "94500-6", POSITIVE, now[0] - timedelta(minutes=5))])
    assert reporting.sweep() == {"drafted": 1}
    [report] = reports()
    case = model.facts(report)
    assert (case.disease, case.classification, case.practitioner) == ("covid-19", "confirmed", f"Practitioner/{DOCTOR}")
    assert case.organization == f"Organization/{HOSPITAL}"
    assert model.section_entries(report, model.LABORATORY_SECTION) == ["Observation/rep-cov"]


@on_sqlite
def test_a_negative_result_drafts_nothing(engine, now, hospital):
    load([result("rep-cov-neg", "94500-6", NEGATIVE, now[0])])
    assert reporting.sweep() == {} and reports() == []


@on_sqlite
def test_a_refuted_or_mistaken_diagnosis_drafts_nothing(engine, now, hospital):
    load([diagnosis("rep-refuted", "A00.9", now[0], verification="refuted"),
          diagnosis("rep-error", "J10.1", now[0], verification="entered-in-error")])
    assert reporting.sweep() == {} and reports() == []


@on_sqlite
def test_a_result_confirming_a_drafted_diagnosis_joins_that_draft_and_raises_its_hint(engine, now, hospital):
    load([diagnosis("rep-flu", "J10.1", now[0])])
    reporting.sweep()
    now[0] += timedelta(hours=1)
    load([result("rep-flu-pcr", "92142-9", POSITIVE, now[0])])
    assert reporting.sweep() == {"joined": 1}
    [report] = reports()
    assert model.facts(report).classification == "confirmed"
    assert model.section_entries(report, model.LABORATORY_SECTION) == ["Observation/rep-flu-pcr"]


@on_sqlite
def test_no_second_report_while_one_was_submitted_in_the_last_30_days(engine, now, hospital):
    load([diagnosis("rep-flu", "J10.1", now[0])])
    reporting.sweep()
    [report] = reports()
    model.move(report, "submit")
    model.set_extension(report, model.SUBMITTED_AT, {"valueDateTime": now[0].isoformat()})
    gateway.serve(SYSTEM, FhirRequest(method="PUT", path=f"Composition/{report['id']}", body=report))
    now[0] += timedelta(days=3)
    load([diagnosis("rep-flu-later", "J10.1", now[0])])
    assert reporting.sweep() == {"reported": 1} and len(reports()) == 1


@on_sqlite
def test_a_trigger_that_cannot_be_drafted_does_not_hold_back_the_others(engine, now, hospital, monkeypatch):
    load([diagnosis("rep-cholera", "A00.9", now[0]), result("rep-cov", "94500-6", POSITIVE, now[0])])
    drafting = reporting.draft_case

    def failing(conn, trigger, **kwargs):
        if trigger.reference == "Condition/rep-cholera":
            raise RuntimeError("the store is having a bad day")
        return drafting(conn, trigger, **kwargs)

    monkeypatch.setattr(reporting, "draft_case", failing)
    with pytest.raises(reporting.DraftingFailed, match="Condition/rep-cholera"):
        reporting.sweep()
    assert [model.facts(r).disease for r in reports()] == ["covid-19"]
    monkeypatch.setattr(reporting, "draft_case", drafting)
    assert reporting.sweep() == {"drafted": 1} and len(reports()) == 2


@on_sqlite
def test_an_old_diagnosis_written_late_is_history_and_drafts_nothing(engine, now, hospital):
    load([diagnosis("rep-old-flu", "J10.1", now[0] - timedelta(days=60))])
    assert reporting.sweep() == {} and reports() == []


def test_the_configured_list_replaces_the_default(monkeypatch, tmp_path):
    listed = tmp_path / "list.yaml"
    listed.write_text("id: test\ntitle_en: Test\ntitle_zh: 测试\nsource: a test\n"
                      "classifications: {confirmed: {en: Confirmed, zh: 确诊}}\n"
                      "diseases: [{id: flu, class: C, en: Flu, zh: 流感, icd10: [J10], classifications: [confirmed]}]\n",
                      encoding="utf-8")
    monkeypatch.setenv("SMARTCARE_NOTIFIABLE_LIST", str(listed))
    get_settings.cache_clear()
    try:
        assert [d.id for d in reporting.catalogue().diseases] == ["flu"]
        assert [d.id for d in review.catalogue().diseases] == ["flu"], "every part of public health reads one list"
    finally:
        monkeypatch.delenv("SMARTCARE_NOTIFIABLE_LIST")
        get_settings.cache_clear()


def test_the_district_is_coded_when_the_region_knows_its_name():
    def home(**address: str) -> dict[str, Any]:
        return {"address": [{"use": "old", "district": "Hexi District"}, {"use": "home", **address}]}

    assert reporting.district_of(home(district="Hedong District"))["code"] == "339901"
    assert reporting.district_of(home(text="滨河市湖滨区湖滨路3号"))["code"] == "339904"
    assert reporting.district_of(home(district="Elsewhere County")) == {"display": "Elsewhere County"}
    assert reporting.district_of({}) is None


@on_sqlite
def test_who_diagnosed_a_case_is_taken_from_its_record(engine, now, hospital):
    ordered_elsewhere = {**result("rep-cov", "94500-6", POSITIVE, now[0]), "basedOn": [],
                         "performer": [{"reference": f"Organization/{OTHER_HOSPITAL}"}]}
    trigger = reporting.trigger_of(ordered_elsewhere, reporting.catalogue())
    with unit_of_work() as conn:
        assert reporting.attribution(conn, trigger) == (None, f"Organization/{OTHER_HOSPITAL}")
    assert trigger.at == now[0] and trigger.is_result


def _sweep_reads(engine, reference: str) -> int:
    """How many times the reporting sweep has read (and audited) one record."""
    with unit_of_work(engine) as conn:
        events = audit.events_for_patient(conn, f"Patient/{PATIENT}", limit=500)
    return sum(1 for e in events if "diagnosis or result read" in str(e["event"])
               and any(reference in str(entity) for entity in e["event"].get("entity", [])))


@on_sqlite
def test_the_scheduled_sweep_stops_rereading_a_record_it_left_alone_once_its_watermark_passes(engine, now, hospital):
    # A diagnosis naming no doctor, encounter or institution cannot be drafted: the sweep leaves it alone.
    orphan = diagnosis("rep-orphan", "J10.1", now[0]) | {"encounter": None, "recorder": None}
    load([{k: v for k, v in orphan.items() if v is not None}])
    for _ in range(13):  # an hour of scheduled runs, every 5 minutes
        with unit_of_work(engine) as conn:
            enqueue(conn, kind=reporting.SWEEP_JOB, payload={}, run_at=now[0])
        assert run_due(engine) >= 1
        now[0] += timedelta(minutes=5)
    reads = _sweep_reads(engine, "Condition/rep-orphan")
    assert 1 <= reads <= 5  # until the watermark (the last run less 15 minutes) passes it, not 13 times an hour
    # Nothing new is missed: a diagnosis written after the watermark moved on is drafted by the next run.
    load([diagnosis("rep-flu", "J10.1", now[0])])
    with unit_of_work(engine) as conn:
        enqueue(conn, kind=reporting.SWEEP_JOB, payload={}, run_at=now[0])
    run_due(engine)
    assert [model.facts(r).state for r in reports()] == ["draft"]


def test_a_sweep_that_never_completed_leaves_the_watermark_a_day_back(engine, now):
    with unit_of_work(engine) as conn:
        assert reporting.watermark(conn, now=now[0]) == now[0] - reporting.LOOK_BACK


@on_sqlite
def test_a_diagnosis_listed_on_the_encounter_note_is_still_drafted_a_case_report(engine, now, hospital):
    load([diagnosis("rep-flu", "J10.1", now[0])])
    note = {"resourceType": "Composition", "id": "rep-note", "status": "final", "date": now[0].isoformat(),
            "type": {"coding": [{"system": LOINC, "code": "11506-3", "display": "Progress note"}]},
            "subject": {"reference": f"Patient/{PATIENT}"}, "author": [{"reference": f"Practitioner/{DOCTOR}"}],
            "title": "Outpatient note", "section": [{"title": "Diagnoses", "entry": [{"reference": "Condition/rep-flu"}]}]}
    load([note])
    assert reporting.sweep() == {"drafted": 1}
    assert reporting.sweep() == {}  # once its case report names it, it is not read again
