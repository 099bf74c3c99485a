"""One resident, Wang Fang (王芳), known to three institutions as three Patient records that the MPI links by her
resident identity number, each institution having sent its own records; and a stranger at the first hospital.

    institution                                   Patient   records
    Riverside First Hospital (org-rv-a)           rr-a      visit 2025-03-10, hypertension I10, amlodipine 5 mg,
                                                            penicillin allergy, fasting glucose
    Hillside District Hospital (org-rv-b)         rr-b      stay 2025-09-01, amlodipine 5 mg (the same medicine),
                                                            penicillin allergy (the same allergy), chest CT + report
    Eastbank Community Health Centre (org-chc-rv) rr-c      visit 2026-01-15, influenza vaccine, hypertension
                                                            care plan, amlodipine 10 mg (another dose)
"""

from typing import Any

import pytest

from smartcare.fhir import store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.scopes import parse_scopes
from smartcare.platform.security.signup import RESIDENT_ID_SYSTEM
from smartcare.regional.mpi import service as mpi

RESIDENT_ID = "330106197502030421"  # a valid PRC resident identity number (its check digit is 1)
ORG_A, ORG_B, ORG_C = "org-rv-a", "org-rv-b", "org-chc-rv"
ICD10, SNOMED, LOINC, ATC = ("http://hl7.org/fhir/sid/icd-10", "http://snomed.info/sct", "http://loinc.org",
                             "http://www.whocc.no/atc")
ORGANISATIONS = [
    {"resourceType": "Organization", "id": ORG_A, "name": "Riverside First Hospital"},
    {"resourceType": "Organization", "id": ORG_B, "name": "Hillside District Hospital"},
    {"resourceType": "Organization", "id": ORG_C, "name": "Eastbank Community Health Centre"},
]


def concept(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"coding": [{"system": system, "code": code, "display": display}]}
    return {**found, "text": text} if text else found


def patient(res_id: str, org: str, name: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": res_id, "meta": {"source": f"Organization/{org}"},
            "identifier": [{"system": RESIDENT_ID_SYSTEM, "value": RESIDENT_ID}], "name": [name],
            "gender": "female", "birthDate": "1975-02-03", "managingOrganization": {"reference": f"Organization/{org}"},
            **extra}


def sent(org: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {**resource, "meta": {"source": f"Organization/{org}"}}


def amlodipine(rid: str, pid: str, mg: int, authored: str) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": rid, "status": "active", "intent": "order",
            "subject": {"reference": f"Patient/{pid}"}, "authoredOn": authored,
            "medicationCodeableConcept": concept(ATC, "C08CA01", "Amlodipine", "氨氯地平片"),
            "dosageInstruction": [{"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                                   "doseAndRate": [{"doseQuantity": {"value": mg, "unit": "mg"}}]}]}


def penicillin(rid: str, pid: str, recorded: str) -> dict[str, Any]:
    return {"resourceType": "AllergyIntolerance", "id": rid, "patient": {"reference": f"Patient/{pid}"},
            "criticality": "high", "category": ["medication"], "recordedDate": recorded,
            "code": concept(SNOMED, "764146007", "Penicillin", "青霉素类"),
            "reaction": [{"manifestation": [concept(SNOMED, "126485001", "Urticaria", "荨麻疹")]}]}


def encounter(rid: str, pid: str, kind: str, start: str, reason: str) -> dict[str, Any]:
    return {"resourceType": "Encounter", "id": rid, "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": kind},
            "subject": {"reference": f"Patient/{pid}"}, "period": {"start": start},
            "reasonCode": [{"text": reason}]}


def resident_records() -> list[dict[str, Any]]:
    """Every record of the test region, each as its institution sent it."""
    a, b, c = "rr-a", "rr-b", "rr-c"
    return [
        *ORGANISATIONS,
        patient(a, ORG_A, {"use": "official", "text": "王芳", "family": "王", "given": ["芳"]},
                telecom=[{"system": "phone", "value": "+86 138 0013 8000"}]),
        patient(b, ORG_B, {"use": "official", "family": "Wang", "given": ["Fang"]}),
        patient(c, ORG_C, {"use": "official", "text": "王芳", "family": "王", "given": ["芳"]}),
        sent(ORG_A, encounter("rr-enc-a", a, "AMB", "2025-03-10T09:00:00+08:00", "Headache")),
        sent(ORG_A, {"resourceType": "Condition", "id": "rr-htn-a", "subject": {"reference": f"Patient/{a}"},
                     "clinicalStatus": concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active",
                                               "Active"),
                     "code": concept(ICD10, "I10", "Essential (primary) hypertension", "原发性高血压"),
                     "onsetDateTime": "2025-03-10"}),
        sent(ORG_A, amlodipine("rr-aml-a", a, 5, "2025-03-10T09:30:00+08:00")),
        sent(ORG_A, penicillin("rr-pen-a", a, "2025-03-10")),
        sent(ORG_A, {"resourceType": "Observation", "id": "rr-glu-a", "status": "final",
                     "category": [concept("http://terminology.hl7.org/CodeSystem/observation-category",
                                          "laboratory", "Laboratory")],
                     "code": concept(LOINC, "14771-0", "Fasting glucose", "空腹血糖"),
                     "subject": {"reference": f"Patient/{a}"}, "effectiveDateTime": "2025-03-10T08:00:00+08:00",
                     "valueQuantity": {"value": 6.9, "unit": "mmol/L"}}),
        sent(ORG_B, encounter("rr-enc-b", b, "IMP", "2025-09-01T14:00:00+08:00", "Chest pain")),
        sent(ORG_B, amlodipine("rr-aml-b", b, 5, "2025-09-03T10:00:00+08:00")),
        sent(ORG_B, penicillin("rr-pen-b", b, "2025-09-01")),
        sent(ORG_B, {"resourceType": "ImagingStudy", "id": "rr-ct-b", "status": "available",
                     "subject": {"reference": f"Patient/{b}"}, "started": "2025-09-01T15:00:00+08:00",
                     "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}],
                     "description": "CT chest", "numberOfSeries": 2}),
        sent(ORG_B, {"resourceType": "DiagnosticReport", "id": "rr-ctr-b", "status": "final",
                     "code": concept(LOINC, "24627-2", "CT Chest", "胸部CT"), "subject": {"reference": f"Patient/{b}"},
                     "effectiveDateTime": "2025-09-01T15:00:00+08:00", "conclusion": "No acute findings"}),
        sent(ORG_C, encounter("rr-enc-c", c, "AMB", "2026-01-15T10:00:00+08:00", "Blood pressure follow-up")),
        sent(ORG_C, {"resourceType": "Immunization", "id": "rr-flu-c", "status": "completed",
                     "vaccineCode": concept("http://hl7.org/fhir/sid/cvx", "141", "Influenza, seasonal, injectable",
                                            "流感疫苗"),
                     "patient": {"reference": f"Patient/{c}"}, "occurrenceDateTime": "2026-01-15"}),
        sent(ORG_C, {"resourceType": "CarePlan", "id": "rr-plan-c", "status": "active", "intent": "plan",
                     "title": "Hypertension follow-up", "subject": {"reference": f"Patient/{c}"},
                     "period": {"start": "2026-01-15"}}),
        sent(ORG_C, amlodipine("rr-aml-c", c, 10, "2026-01-15T10:30:00+08:00")),
        # Someone else at the first hospital, who must never appear in Wang Fang's record.
        {"resourceType": "Patient", "id": "rr-x", "meta": {"source": f"Organization/{ORG_A}"},
         "name": [{"family": "Zhou", "given": ["Jun"]}], "gender": "male", "birthDate": "1950-02-02",
         "managingOrganization": {"reference": f"Organization/{ORG_A}"}},
        sent(ORG_A, {"resourceType": "Condition", "id": "rr-x-cond", "subject": {"reference": "Patient/rr-x"},
                     "code": concept(ICD10, "J45.9", "Asthma, unspecified"), "onsetDateTime": "2024-01-01"}),
    ]


@pytest.fixture
def resident(engine) -> dict[str, str]:
    """The test region stored as its institutions sent it, its Patients linked through the MPI; returns who is who."""
    patients = []
    with unit_of_work(engine) as conn:
        for resource in resident_records():
            kept = store.update(conn, SYSTEM, resource, res_type=resource["resourceType"], res_id=resource["id"])
            if resource["resourceType"] == "Patient":
                patients.append(kept)
    for kept in patients:  # one match per transaction, as the MPI's job does
        with unit_of_work(engine) as conn:
            mpi.match_record(conn, SYSTEM, kept.resource, version=kept.version)
    return {"a": "rr-a", "b": "rr-b", "c": "rr-c", "stranger": "rr-x"}


# A regional viewer system (a backend client with read scopes): the policy gives it every record.
REGIONAL_CLIENT = AccessContext(kind="client", name="regional-viewer", roles=frozenset({"system"}),
                                scopes=parse_scopes("system/*.rs"))
