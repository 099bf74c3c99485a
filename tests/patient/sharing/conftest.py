"""A small region for the sharing tests: two hospitals, a patient with records from each, a child with a carer."""

import pytest

from tests.fhir.test_access import FHIR_JSON, transaction
from tests.web_support import browser, make_user, sign_in

CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONSENT_CATEGORY = "https://smartcare.example/fhir/CodeSystem/consent-category"


def _consent_for(patient: str, actor: str) -> dict:
    return {"resourceType": "Consent", "id": f"proxy-{patient}", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                  "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": CONSENT_CATEGORY, "code": "proxy-access"}]}],
            "patient": {"reference": f"Patient/{patient}"},
            "provision": {"type": "permit", "actor": [{
                "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "PRN"}]},
                "reference": {"reference": actor}}]}}


WORLD = [
    {"resourceType": "Organization", "id": "org-a", "name": "Riverside First Hospital"},
    {"resourceType": "Organization", "id": "org-b", "name": "Hillside District Hospital"},
    {"resourceType": "Patient", "id": "pa1", "name": [{"family": "Zhang", "given": ["Wei"]}], "birthDate": "1970-04-02",
     "gender": "male", "managingOrganization": {"reference": "Organization/org-a"}},
    {"resourceType": "Patient", "id": "pa2", "name": [{"family": "Wang", "given": ["Fang"]}],
     "managingOrganization": {"reference": "Organization/org-a"}},
    {"resourceType": "Patient", "id": "kid1", "name": [{"family": "Zhang", "given": ["Xiao"]}],
     "birthDate": "2018-06-01", "managingOrganization": {"reference": "Organization/org-a"}},
    {"resourceType": "RelatedPerson", "id": "rp1", "patient": {"reference": "Patient/kid1"},
     "name": [{"family": "Zhang", "given": ["Wei"]}]},
    _consent_for("kid1", "RelatedPerson/rp1"),
    {"resourceType": "Condition", "id": "dm-pa1", "meta": {"source": "Organization/org-a"},
     "subject": {"reference": "Patient/pa1"}, "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
     "code": {"text": "Type 2 diabetes"}, "onsetDateTime": "2019-03-01"},
    {"resourceType": "MedicationRequest", "id": "met-pa1", "meta": {"source": "Organization/org-a"},
     "status": "active", "intent": "order", "medicationCodeableConcept": {"text": "metformin 500 mg"},
     "subject": {"reference": "Patient/pa1"}, "authoredOn": "2026-01-05"},
    {"resourceType": "Observation", "id": "hba1c-pa1", "meta": {"source": "Organization/org-b"}, "status": "final",
     "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                               "code": "laboratory"}]}],
     "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "HbA1c"}], "text": "HbA1c"},
     "subject": {"reference": "Patient/pa1"}, "effectiveDateTime": "2026-02-20T09:30:00Z",
     "valueQuantity": {"value": 7.9, "unit": "%"}},
    {"resourceType": "Condition", "id": "asthma-kid1", "meta": {"source": "Organization/org-b"},
     "subject": {"reference": "Patient/kid1"}, "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
     "code": {"text": "Asthma"}},
    {"resourceType": "Condition", "id": "flu-pa2", "meta": {"source": "Organization/org-a"},
     "subject": {"reference": "Patient/pa2"}, "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
     "code": {"text": "Influenza"}},
]


@pytest.fixture
def region(client, engine):
    """The world loaded, a signed-in patient pa1 (and accounts for the carer and both hospitals' admins)."""
    answer = client.post("/fhir", json=transaction(WORLD), headers=FHIR_JSON)
    assert answer.status_code == 200, answer.text[:400]
    make_user(engine, "patient")
    make_user(engine, "caregiver")
    make_user(engine, "hospital_admin", "admin.a", organization="Organization/org-a")
    make_user(engine, "hospital_admin", "admin.b", organization="Organization/org-b")
    web = browser()
    sign_in(web, "patient.test")
    return web


def signed_in(username: str):
    """A new browser signed in as username."""
    web = browser()
    sign_in(web, username)
    return web
