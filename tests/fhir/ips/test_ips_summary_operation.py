"""Patient/[id]/$summary over HTTP: who gets whose summary, what it holds, its language, its audit entry."""

import pytest

from smartcare.fhir.ips.check import check_document
from smartcare.platform.audit import events_for_patient
from smartcare.platform.db import unit_of_work
from tests.conftest import bearer

FHIR_JSON = {"Content-Type": "application/fhir+json"}
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def patient_token(pid: str) -> dict:
    return bearer(scope="patient/*.rs", kind="user", name=f"user-{pid}", roles={"patient"},
                  patient=f"Patient/{pid}", fhir_user=f"Patient/{pid}", subject=f"user-{pid}")


DOCTOR = dict(scope="user/*.cruds", kind="user", name="dr.chen", roles={"doctor"},
              organization="Organization/org-a", fhir_user="Practitioner/doc-a", subject="user-dr.chen")
PARENT = dict(scope="patient/*.rs", kind="user", name="parent", roles={"caregiver"},
              fhir_user="RelatedPerson/rp-parent", subject="user-parent")


def condition(cid: str, pid: str, text: str, status: str = "active") -> dict:
    return {"resourceType": "Condition", "id": cid, "subject": {"reference": f"Patient/{pid}"},
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": status}]}, "code": {"text": text}}


WORLD = [
    {"resourceType": "Organization", "id": "org-a", "name": "Riverside First Hospital"},
    {"resourceType": "Organization", "id": "org-b", "name": "Hillside District Hospital"},
    {"resourceType": "Patient", "id": "pa1", "name": [{"family": "Wang", "given": ["Li"]}], "birthDate": "1970-05-01",
     "identifier": [{"system": "https://smartcare.example/fhir/sid/mrn", "value": "MRN-1"}],
     "managingOrganization": {"reference": "Organization/org-a"}},
    {"resourceType": "Patient", "id": "pa2", "name": [{"family": "Zhao"}], "managingOrganization": {"reference": "Organization/org-b"}},
    {"resourceType": "Patient", "id": "child", "name": [{"family": "Wang", "given": ["Xiao"]}],
     "managingOrganization": {"reference": "Organization/org-a"}},
    condition("c-pa1", "pa1", "Essential hypertension <script>alert(1)</script>"),
    condition("c-pa1-old", "pa1", "Appendicitis", status="resolved"),
    condition("c-pa2", "pa2", "Asthma"),
    condition("c-child", "child", "Eczema"),
    {"resourceType": "AllergyIntolerance", "id": "a-pa1", "patient": {"reference": "Patient/pa1"},
     "code": {"text": "Penicillin"}, "criticality": "high"},
    {"resourceType": "Medication", "id": "med1", "code": {"text": "amlodipine 5 mg tablet"}},
    {"resourceType": "MedicationStatement", "id": "ms-pa1", "status": "active",
     "medicationReference": {"reference": "Medication/med1"}, "subject": {"reference": "Patient/pa1"}},
    {"resourceType": "Observation", "id": "bp-pa1", "status": "final", "effectiveDateTime": "2026-02-01",
     "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                               "code": "vital-signs"}]}],
     "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
     "subject": {"reference": "Patient/pa1"},
     "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}},
    {"resourceType": "RelatedPerson", "id": "rp-parent", "patient": {"reference": "Patient/child"},
     "relationship": [{"coding": [{"system": ROLE_CODE, "code": "PRN"}]}]},
    {"resourceType": "Consent", "id": "c-parent", "status": "active",
     "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
     "category": [{"coding": [{"system": "https://smartcare.example/fhir/CodeSystem/consent-category",
                               "code": "proxy-access"}]}],
     "patient": {"reference": "Patient/child"},
     "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
     "provision": {"type": "permit", "actor": [{"role": {"coding": [{"system": ROLE_CODE, "code": "PRN"}]},
                                                "reference": {"reference": "RelatedPerson/rp-parent"}}]}},
]


@pytest.fixture
def region(client):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in WORLD]}
    r = client.post("/fhir", json=bundle, headers=FHIR_JSON)
    assert r.status_code == 200, r.text
    return client


def texts(doc: dict, loinc: str) -> str:
    composition = doc["entry"][0]["resource"]
    found = [s for s in composition["section"] if s["code"]["coding"][0]["code"] == loinc]
    return found[0]["text"]["div"] if found else ""


def test_a_patient_gets_their_own_summary_with_their_records(region):
    r = region.get("/fhir/Patient/pa1/$summary", headers=patient_token("pa1"))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert check_document(doc) == []
    kinds = sorted(e["resource"]["resourceType"] for e in doc["entry"])
    assert kinds == sorted(["Composition", "Patient", "Organization", "Condition", "Condition",
                            "AllergyIntolerance", "MedicationStatement", "Medication", "Observation"])
    assert "Essential hypertension" in texts(doc, "11450-4") and "Appendicitis" not in texts(doc, "11450-4")
    assert "Appendicitis" in texts(doc, "11348-0")
    assert "Penicillin" in texts(doc, "48765-2")
    assert "amlodipine 5 mg tablet" in texts(doc, "10160-0")
    assert "Heart rate" in texts(doc, "8716-3")
    assert "<script>" not in texts(doc, "11450-4") and "&lt;script&gt;" in texts(doc, "11450-4")
    author = next(e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "Organization")
    assert author["name"] == "Riverside First Hospital"
    assert "Asthma" not in r.text


def test_a_patient_asking_for_someone_else_or_no_one_is_refused_alike(region):
    for pid in ("pa2", "nobody"):
        r = region.get(f"/fhir/Patient/{pid}/$summary", headers=patient_token("pa1"))
        assert r.status_code == 403, r.text
        assert r.json()["resourceType"] == "OperationOutcome"


def test_an_unknown_patient_is_404_for_a_system(region):
    r = region.get("/fhir/Patient/nobody/$summary")
    assert r.status_code == 404 and r.json()["resourceType"] == "OperationOutcome"


def test_a_caregiver_gets_the_summary_of_the_child_they_are_proxy_for_only(region):
    r = region.get("/fhir/Patient/child/$summary", headers=bearer(**PARENT))
    assert r.status_code == 200, r.text
    assert "Eczema" in texts(r.json(), "11450-4")
    assert region.get("/fhir/Patient/pa1/$summary", headers=bearer(**PARENT)).status_code == 403


def test_a_doctor_follows_the_policy(region):
    assert region.get("/fhir/Patient/pa1/$summary", headers=bearer(**DOCTOR)).status_code == 200
    assert region.get("/fhir/Patient/pa2/$summary", headers=bearer(**DOCTOR)).status_code == 404


def test_the_summary_is_audited_for_the_patient_and_refusals_too(region, engine):
    region.get("/fhir/Patient/pa1/$summary", headers=patient_token("pa1"))
    region.get("/fhir/Patient/pa2/$summary", headers=patient_token("pa1"))
    with unit_of_work(engine) as conn:
        mine = [(e["agent"], e["subtype"], e["outcome"]) for e in events_for_patient(conn, "Patient/pa1")
                if e["agent"] != "client/test suite"]
        from smartcare.platform.audit import search

        refused = [e for e in search(conn, outcome="4") if e["agent"] == "user/user-pa1"]
    assert ("user/user-pa1", "operation", "0") in mine
    assert refused and refused[0]["subtype"] == "operation"


def test_the_records_inside_the_summary_are_audited_under_their_patient(region, engine):
    """A document's records name the patient by the Patient entry's urn:uuid; the audit still files them under the
    patient, so "who opened my record" lists what the summary held, and no entry is left without a patient."""
    from smartcare.platform.audit import search

    bundle = region.get("/fhir/Patient/pa1/$summary", headers=patient_token("pa1")).json()
    inside = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]
              if e["resource"]["resourceType"] not in ("Composition", "Patient") and e["resource"].get("id")}
    assert inside
    with unit_of_work(engine) as conn:
        entries = [e for e in search(conn, agent="user/user-pa1", subtype="operation") if e["outcome"] == "0"]
    assert [e["patient"] for e in entries] == ["Patient/pa1"]
    named = {x["what"]["reference"] for x in entries[0]["event"]["entity"] if "what" in x}
    assert inside <= named


def test_chinese_titles_by_lang_parameter_or_accept_language(region):
    zh = region.get("/fhir/Patient/pa1/$summary?_lang=zh", headers=patient_token("pa1")).json()
    titles = {s["title"] for s in zh["entry"][0]["resource"]["section"]}
    assert {"当前问题", "过敏与不耐受", "用药摘要"} <= titles
    by_header = region.get("/fhir/Patient/pa1/$summary", headers={**patient_token("pa1"), "Accept-Language": "zh-CN"})
    assert "用药摘要" in {s["title"] for s in by_header.json()["entry"][0]["resource"]["section"]}


def test_summary_by_identifier(region):
    r = region.get("/fhir/Patient/$summary?identifier=https://smartcare.example/fhir/sid/mrn|MRN-1")
    assert r.status_code == 200, r.text
    patient = next(e["resource"] for e in r.json()["entry"] if e["resource"]["resourceType"] == "Patient")
    assert patient["id"] == "pa1"
    assert region.get("/fhir/Patient/$summary?identifier=" + "x" * 300).status_code == 400
    assert region.get("/fhir/Patient/$summary?identifier=urn:x|none").status_code == 404


def test_only_get_and_only_patients(region):
    assert region.post("/fhir/Patient/pa1/$summary", json={}, headers=FHIR_JSON).status_code == 400
    assert region.get("/fhir/Observation/bp-pa1/$summary").status_code == 400


def test_the_capability_statement_lists_summary_and_import_for_patient(region):
    statement = region.get("/fhir/metadata").json()
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    names = {op["name"] for op in patient["operation"]}
    assert {"summary", "import-summary", "everything"} <= names
