"""Importing an IPS or another Bundle into a patient's record: all or nothing, only their own, marked as imported."""

import copy
import json

import pytest
import sqlalchemy as sa

from smartcare.fhir import store
from smartcare.fhir import tables as t
from smartcare.fhir.ips.build import build_document
from smartcare.fhir.ips.gather import gather_summary
from smartcare.fhir.ips.importer import (
    BUNDLE_TAG_SYSTEM,
    MAX_ENTRIES,
    ORIGIN_SYSTEM,
    SOURCE_TAG_SYSTEM,
    import_bundle,
)
from smartcare.platform.audit import events_for_patient
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.scopes import parse_scopes
from tests.conftest import _clear, bearer
from tests.support import need_shared

FHIR_JSON = {"Content-Type": "application/fhir+json"}
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
ORG = {"resourceType": "Organization", "id": "org-a", "name": "Riverside First Hospital"}
HOSTILE = "<img src=x onerror=alert(1)> '; DROP TABLE fhir_resource; --"


def person(pid: str, family: str = "Wang", born: str = "1970-05-01") -> dict:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": family, "given": ["Li"]}], "birthDate": born,
            "managingOrganization": {"reference": "Organization/org-a"}}


def patient_ctx(pid: str) -> AccessContext:
    return AccessContext(kind="user", name=f"user-{pid}", roles=frozenset({"patient"}), subject=f"user-{pid}",
                         patient=f"Patient/{pid}", fhir_user=f"Patient/{pid}", scopes=parse_scopes("patient/*.cruds"))


def patient_token(pid: str) -> dict:
    return bearer(scope="patient/*.cruds", kind="user", name=f"user-{pid}", roles={"patient"},
                  patient=f"Patient/{pid}", fhir_user=f"Patient/{pid}", subject=f"user-{pid}")


def records(pid: str) -> list[dict]:
    return [
        {"resourceType": "Condition", "id": f"c1-{pid}", "subject": {"reference": f"Patient/{pid}"},
         "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
         "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}], "text": "Hypertension"}},
        {"resourceType": "Condition", "id": f"c2-{pid}", "subject": {"reference": f"Patient/{pid}"},
         "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]}, "code": {"text": HOSTILE}},
        {"resourceType": "AllergyIntolerance", "id": f"a1-{pid}", "patient": {"reference": f"Patient/{pid}"},
         "code": {"text": "Penicillin"}},
        {"resourceType": "Medication", "id": "med1", "code": {"text": "amlodipine 5 mg tablet"}},
        {"resourceType": "MedicationStatement", "id": f"ms1-{pid}", "status": "active",
         "medicationReference": {"reference": "Medication/med1"}, "subject": {"reference": f"Patient/{pid}"}},
    ]


def seed(engine, resources: list[dict]) -> None:
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])


def export(engine, pid: str) -> dict:
    with unit_of_work(engine) as conn:
        return build_document(gather_summary(conn, patient_ctx(pid), pid))


def current(engine, res_type: str) -> list[dict]:
    with unit_of_work(engine) as conn:
        rows = conn.execute(sa.select(t.resource.c.content).where(
            t.resource.c.res_type == res_type, t.resource.c.deleted.is_(False))).scalars()
        return list(rows)


def count_all(engine) -> int:
    with unit_of_work(engine) as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(t.resource)).scalar_one()


def tags(resource: dict) -> dict[str, str]:
    return {tag["system"]: tag["code"] for tag in resource["meta"].get("tag", [])}


def test_round_trip_from_one_store_into_another_for_the_same_person(sqlite_engine, pg_engine):
    for e in (sqlite_engine, pg_engine):
        _clear(e)
    seed(sqlite_engine, [ORG, person("pa1"), *records("pa1")])
    doc = export(sqlite_engine, "pa1")
    seed(pg_engine, [ORG, person("here-7")])  # the same person, under the id the other store gave them
    with unit_of_work(pg_engine) as conn:
        counts = import_bundle(conn, patient_ctx("here-7"), doc, patient_ref="Patient/here-7",
                               source="https://riverside.example/fhir")
    assert counts == {"AllergyIntolerance": 1, "Condition": 2, "MedicationStatement": 1}
    conditions = current(pg_engine, "Condition")
    assert sorted(c["code"]["text"] for c in conditions) == sorted(["Hypertension", HOSTILE])
    assert all(c["subject"]["reference"] == "Patient/here-7" for c in conditions)
    for resource in [*conditions, *current(pg_engine, "AllergyIntolerance"), *current(pg_engine, "MedicationStatement")]:
        marks = tags(resource)
        assert marks[ORIGIN_SYSTEM] == "imported"
        assert marks[BUNDLE_TAG_SYSTEM] == doc["identifier"]["value"]
        assert marks[SOURCE_TAG_SYSTEM] == "https://riverside.example/fhir"
    statement = current(pg_engine, "MedicationStatement")[0]
    assert statement["medicationCodeableConcept"]["text"] == "amlodipine 5 mg tablet"
    assert current(pg_engine, "Medication") == [] and len(current(pg_engine, "Patient")) == 1
    # Exported again from the second store, the imported records make the same summary.
    again = export(pg_engine, "here-7")
    texts = [e["resource"].get("code", {}).get("text") for e in again["entry"]]
    assert "Hypertension" in texts and "Penicillin" in texts


@pytest.fixture
def clinic(client, engine):
    seed(engine, [ORG, person("pa1"), person("pa2", family="Zhao", born="1980-01-01"), *records("pa1")])
    return client


def post(client, pid: str, bundle, token: dict | None = None, query: str = ""):
    return client.post(f"/fhir/Patient/{pid}/$import-summary{query}", content=json.dumps(bundle),
                       headers={**FHIR_JSON, **(token or patient_token(pid))})


def test_a_patient_imports_their_summary_over_http_once(clinic, engine):
    doc = export(engine, "pa1")
    seed(engine, [person("twin", family="Wang")])
    r = post(clinic, "twin", doc, query="?source=urn:oid:1.2.156.1")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["resourceType"] == "Parameters" and body["parameter"][0] == {"name": "total", "valueInteger": 4}
    mine = [c for c in current(engine, "Condition") if c["subject"]["reference"] == "Patient/twin"]
    assert len(mine) == 2 and all(tags(c)[SOURCE_TAG_SYSTEM] == "urn:oid:1.2.156.1" for c in mine)
    with unit_of_work(engine) as conn:
        audit = [e for e in events_for_patient(conn, "Patient/twin") if e["agent"] == "user/user-twin"]
    assert audit and audit[0]["subtype"] == "operation"
    before = count_all(engine)
    again = post(clinic, "twin", doc)
    assert again.status_code == 409 and again.json()["resourceType"] == "OperationOutcome"
    assert count_all(engine) == before


def test_a_bundle_about_another_person_is_refused_and_nothing_is_written(clinic, engine):
    doc = export(engine, "pa1")
    before = count_all(engine)
    r = post(clinic, "pa2", doc)
    assert r.status_code == 422, r.text
    assert "another person" in r.json()["issue"][0]["diagnostics"]
    assert count_all(engine) == before


def test_a_bundle_referring_to_a_second_patient_is_refused(clinic, engine):
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:6b4a3f2e-1111-4a3b-9c1d-2e3f4a5b6c7d", "resource": {
            "resourceType": "Condition", "subject": {"reference": "Patient/pa1"}, "code": {"text": "Gout"}}},
        {"fullUrl": "urn:uuid:6b4a3f2e-2222-4a3b-9c1d-2e3f4a5b6c7d", "resource": {
            "resourceType": "Condition", "subject": {"reference": "Patient/someone-else"}, "code": {"text": "Flu"}}}]}
    before = count_all(engine)
    r = post(clinic, "pa1", bundle)
    assert r.status_code == 422 and "another person" in r.text
    assert count_all(engine) == before


@pytest.mark.parametrize("bundle", [
    "not json at all",
    {"resourceType": "Patient", "id": "x"},
    {"resourceType": "Bundle", "type": "batch", "entry": []},
    {"resourceType": "Bundle", "type": "collection", "entry": "lots"},
    {"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "urn:x"}]},
], ids=["not-json", "not-a-bundle", "batch", "entry-not-a-list", "entry-without-resource"])
def test_a_malformed_bundle_is_refused_with_an_operation_outcome(clinic, engine, bundle):
    before = count_all(engine)
    body = bundle if isinstance(bundle, str) else json.dumps(bundle)
    r = clinic.post("/fhir/Patient/pa1/$import-summary", content=body, headers={**FHIR_JSON, **patient_token("pa1")})
    assert r.status_code == 400, r.text
    assert r.json()["resourceType"] == "OperationOutcome"
    assert count_all(engine) == before


def test_an_oversized_bundle_is_refused(clinic, engine):
    entry = {"resource": {"resourceType": "Condition", "subject": {"reference": "Patient/pa1"}, "code": {"text": "x"}}}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [entry] * (MAX_ENTRIES + 1)}
    before = count_all(engine)
    r = post(clinic, "pa1", bundle)
    assert r.status_code == 400 and f"at most {MAX_ENTRIES} entries" in r.text
    assert count_all(engine) == before


def test_an_invalid_resource_refuses_the_whole_bundle(clinic, engine):
    doc = export(engine, "pa1")
    broken = copy.deepcopy(doc)
    condition = next(e["resource"] for e in broken["entry"] if e["resource"]["resourceType"] == "Condition")
    condition["onsetDateTime"] = "last tuesday"
    seed(engine, [person("twin")])
    before = count_all(engine)
    r = post(clinic, "twin", broken)
    assert r.status_code == 422, r.text
    assert any("onsetDateTime" in i["diagnostics"] for i in r.json()["issue"])
    assert count_all(engine) == before


def test_a_document_that_breaks_the_ips_rules_is_refused(clinic, engine):
    doc = export(engine, "pa1")
    doc["entry"][0]["resource"]["section"] = doc["entry"][0]["resource"]["section"][1:]
    seed(engine, [person("twin")])
    r = post(clinic, "twin", doc)
    assert r.status_code == 422 and "Active Problems section" in r.text


def test_types_a_patient_may_not_write_are_refused(clinic, engine):
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Condition", "subject": {"reference": "Patient/pa1"}, "code": {"text": "Gout"}}},
        {"resource": {"resourceType": "Encounter", "status": "finished", "subject": {"reference": "Patient/pa1"},
                      "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}}}]}
    before = count_all(engine)
    r = post(clinic, "pa1", bundle)
    assert r.status_code == 422 and "Encounter records cannot be imported" in r.text
    assert count_all(engine) == before


def test_a_hostile_source_is_refused_and_hostile_text_is_kept_as_text(clinic, engine):
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Condition", "subject": {"reference": "Patient/pa1"}, "code": {"text": HOSTILE}}}]}
    r = post(clinic, "pa1", bundle, query="?source=javascript:<script>alert(1)</script>")
    assert r.status_code == 400 and "source must be a URI" in r.text
    assert post(clinic, "pa1", bundle).status_code == 200
    summary = clinic.get("/fhir/Patient/pa1/$summary", headers=patient_token("pa1")).json()
    problems = summary["entry"][0]["resource"]["section"][0]["text"]["div"]
    assert "<img" not in problems and "&lt;img src=x onerror=alert(1)&gt;" in problems


def test_a_prescription_from_elsewhere_becomes_a_medication_statement(clinic, engine):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
                      "medicationCodeableConcept": {"text": "metformin 500 mg"}, "subject": {"reference": "Patient/pa1"},
                      "requester": {"reference": "Practitioner/far-away", "display": "Dr Far"},
                      "dosageInstruction": [{"text": "twice a day"}]},
         "request": {"method": "POST", "url": "MedicationRequest"}}]}
    r = post(clinic, "pa1", bundle)
    assert r.status_code == 200, r.text
    assert current(engine, "MedicationRequest") == []
    statement = next(s for s in current(engine, "MedicationStatement") if "metformin" in json.dumps(s))
    assert statement["status"] == "active" and statement["dosage"][0]["text"] == "twice a day"


def test_someone_elses_record_cannot_be_imported_into(clinic, engine):
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Condition", "subject": {"reference": "Patient/pa2"}, "code": {"text": "Gout"}}}]}
    assert post(clinic, "pa2", bundle, token=patient_token("pa1")).status_code == 404


def test_the_official_diagnostic_report_collection_imports_for_its_patient(client, engine):
    example = need_shared("fhir-test-cases/r4/examples") / "diagnosticreport-example.json"
    bundle = json.loads(example.read_text(encoding="utf-8"))
    seed(engine, [{"resourceType": "Patient", "id": "pat2", "name": [{"family": "Example"}]}])
    r = client.post("/fhir/Patient/pat2/$import-summary?source=https://example.com/base", json=bundle,
                    headers=FHIR_JSON)
    assert r.status_code == 200, r.text
    counts = {p["part"][0]["valueCode"]: p["part"][1]["valueInteger"] for p in r.json()["parameter"][1:]}
    assert counts == {"DiagnosticReport": 1, "Observation": 17}
    report = current(engine, "DiagnosticReport")[0]
    observations = {f"Observation/{o['id']}" for o in current(engine, "Observation")}
    assert {ref["reference"] for ref in report["result"]} <= observations
    assert report["subject"] == {"reference": "Patient/pat2"}
    assert "reference" not in report["performer"][0] and report["performer"][0]["display"] == "Acme Laboratory, Inc"
