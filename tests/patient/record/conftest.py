"""One person, Li Na (李娜), registered at a hospital and at a clinic (two Patient records joined by the MPI's Person),
each institution having sent its records; a stranger with a record of her own; and accounts for Li Na and for the
stranger's caregiver.

    institution                         Patient   records
    Riverside Test Hospital (org-ph-a)  ph-a      visit 2025-03-10, fasting glucose 6.9 (range 3.9-6.1), amlodipine
    Hillside Test Clinic (org-ph-b)     ph-b      influenza vaccine 2026-01-15, care plan, hypertension, penicillin
    (a stranger)                        ph-x      asthma; cared for by RelatedPerson/rp-ph under a proxy consent
"""

from typing import Any

import pytest

from smartcare.fhir import store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.fhir.test_access import consent, related_person
from tests.web_support import browser, make_user, sign_in

LOINC, ICD10 = "http://loinc.org", "http://hl7.org/fhir/sid/icd-10"
ORG_A, ORG_B = "org-ph-a", "org-ph-b"


def concept(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"coding": [{"system": system, "code": code, "display": display}]}
    return {**found, "text": text} if text else found


def sent(org: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {**resource, "meta": {"source": f"Organization/{org}"}}


def records() -> list[dict[str, Any]]:
    """The test region's records, each as its institution sent it."""
    lab = concept("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory", "Laboratory")
    return [
        {"resourceType": "Organization", "id": ORG_A, "name": "Riverside Test Hospital"},
        {"resourceType": "Organization", "id": ORG_B, "name": "Hillside Test Clinic"},
        {"resourceType": "Patient", "id": "ph-a", "name": [{"use": "official", "text": "李娜"}], "gender": "female",
         "birthDate": "1970-05-06", "managingOrganization": {"reference": f"Organization/{ORG_A}"}},
        {"resourceType": "Patient", "id": "ph-b", "name": [{"use": "official", "family": "Li", "given": ["Na"]}],
         "gender": "female", "birthDate": "1970-05-06", "managingOrganization": {"reference": f"Organization/{ORG_B}"}},
        {"resourceType": "Person", "id": "ph-person", "link": [{"target": {"reference": "Patient/ph-a"}},
                                                                {"target": {"reference": "Patient/ph-b"}}]},
        {"resourceType": "Patient", "id": "ph-x", "name": [{"use": "official", "family": "Zhou", "given": ["Jun"]}],
         "gender": "male", "birthDate": "1950-02-02"},
        sent(ORG_A, {"resourceType": "Encounter", "id": "ph-enc", "status": "finished",
                     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                     "subject": {"reference": "Patient/ph-a"}, "period": {"start": "2025-03-10T09:00:00+08:00"},
                     "reasonCode": [{"text": "Headache"}]}),
        sent(ORG_A, {"resourceType": "Observation", "id": "ph-glu", "status": "final", "category": [lab],
                     "code": concept(LOINC, "14771-0", "Fasting glucose", "空腹血糖"),
                     "subject": {"reference": "Patient/ph-a"}, "effectiveDateTime": "2025-03-10T08:00:00+08:00",
                     "valueQuantity": {"value": 6.9, "unit": "mmol/L"},
                     "referenceRange": [{"low": {"value": 3.9, "unit": "mmol/L"},
                                         "high": {"value": 6.1, "unit": "mmol/L"}}]}),
        sent(ORG_A, {"resourceType": "Observation", "id": "ph-hb", "status": "final", "category": [lab],
                     "code": concept(LOINC, "718-7", "Hemoglobin", "血红蛋白"),
                     "subject": {"reference": "Patient/ph-a"}, "effectiveDateTime": "2025-03-10T08:00:00+08:00",
                     "valueQuantity": {"value": 128, "unit": "g/L"},
                     "referenceRange": [{"low": {"value": 115, "unit": "g/L"}, "high": {"value": 150, "unit": "g/L"}}]}),
        sent(ORG_A, {"resourceType": "MedicationRequest", "id": "ph-aml", "status": "active", "intent": "order",
                     "subject": {"reference": "Patient/ph-a"}, "authoredOn": "2025-03-10T09:30:00+08:00",
                     "medicationCodeableConcept": concept("http://www.whocc.no/atc", "C08CA01", "Amlodipine",
                                                          "氨氯地平片"),
                     "dosageInstruction": [{"text": "5 mg once a day"}]}),
        sent(ORG_B, {"resourceType": "Immunization", "id": "ph-flu", "status": "completed",
                     "vaccineCode": concept("http://hl7.org/fhir/sid/cvx", "141", "Influenza vaccine", "流感疫苗"),
                     "patient": {"reference": "Patient/ph-b"}, "occurrenceDateTime": "2026-01-15"}),
        sent(ORG_B, {"resourceType": "CarePlan", "id": "ph-plan", "status": "active", "intent": "plan",
                     "title": "Hypertension follow-up", "subject": {"reference": "Patient/ph-b"},
                     "period": {"start": "2026-01-15"}}),
        sent(ORG_B, {"resourceType": "Condition", "id": "ph-htn", "subject": {"reference": "Patient/ph-b"},
                     "clinicalStatus": concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active",
                                               "Active"),
                     "code": concept(ICD10, "I10", "Essential hypertension", "原发性高血压"),
                     "onsetDateTime": "2025-03-10"}),
        sent(ORG_B, {"resourceType": "AllergyIntolerance", "id": "ph-pen", "patient": {"reference": "Patient/ph-b"},
                     "code": concept("http://snomed.info/sct", "764146007", "Penicillin", "青霉素类"),
                     "recordedDate": "2025-09-01"}),
        {"resourceType": "Condition", "id": "ph-x-asthma", "subject": {"reference": "Patient/ph-x"},
         "code": concept(ICD10, "J45.9", "Asthma"), "onsetDateTime": "2024-01-01"},
        related_person("rp-ph", "ph-x"),
        consent("c-rp-ph", "ph-x", "proxy-access", actor="RelatedPerson/rp-ph"),
    ]


@pytest.fixture
def region(engine) -> None:
    """The test region stored as its institutions sent it."""
    with unit_of_work(engine) as conn:
        for resource in records():
            store.update(conn, SYSTEM, resource, res_type=resource["resourceType"], res_id=resource["id"])


@pytest.fixture
def li_na(engine, region):
    """A browser signed in as Li Na (her account linked to her hospital registration)."""
    make_user(engine, "patient", username="li.na.test", fhir_ref="Patient/ph-a")
    with browser() as web:
        sign_in(web, "li.na.test")
        yield web


@pytest.fixture
def carer(engine, region):
    """A browser signed in as the stranger's caregiver."""
    make_user(engine, "caregiver", username="carer.ph.test", fhir_ref="RelatedPerson/rp-ph")
    with browser() as web:
        sign_in(web, "carer.ph.test")
        yield web
