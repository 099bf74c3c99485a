"""A patient on metformin and amlodipine in Shanghai, their prescriber, a caregiver and another patient."""

import pytest

from smartcare.family.medication import reminders
from smartcare.fhir import store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.web_support import make_user

ATC = "http://www.whocc.no/atc"
TZ_EXT = "http://hl7.org/fhir/StructureDefinition/timezone"


def request(rid: str, name: str, atc: str, dosage: list[dict], patient: str = "pa1") -> dict:
    return {"resourceType": "MedicationRequest", "id": rid, "status": "active", "intent": "order",
            "subject": {"reference": f"Patient/{patient}"}, "authoredOn": "2026-02-01",
            "requester": {"reference": "Practitioner/doc-a"},
            "medicationCodeableConcept": {"coding": [{"system": ATC, "code": atc}], "text": name},
            "dosageInstruction": dosage}


def tablets(n: float = 1) -> list[dict]:
    return [{"doseQuantity": {"value": n, "unit": "tablet", "system": "http://unitsofmeasure.org", "code": "{tbl}"}}]


METFORMIN = request("r-met", "Metformin 500 mg", "A10BA02", [
    {"text": "1 tablet twice a day after meals", "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d",
                                                                        "when": ["PC"]}},
     "doseAndRate": tablets()}])
AMLODIPINE = request("r-aml", "Amlodipine 5 mg", "C08CA01", [
    {"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d", "timeOfDay": ["08:00:00"]}},
     "doseAndRate": tablets()}])


def write(*resources: dict) -> None:
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])


@pytest.fixture
def family(engine, now):
    """pa1 (Asia/Shanghai) on metformin BID after meals and amlodipine at 08:00, with 20 metformin tablets handed
    over on 1 March; rp1 gets copies of reminders; pa2 is someone else."""
    write(
        {"resourceType": "Patient", "id": "pa1", "gender": "female", "birthDate": "1960-05-01",
         "name": [{"family": "Wang", "given": ["Li"]}], "managingOrganization": {"reference": "Organization/org-a"},
         "extension": [{"url": TZ_EXT, "valueCode": "Asia/Shanghai"}]},
        {"resourceType": "Patient", "id": "pa2", "name": [{"family": "Zhao", "given": ["Min"]}]},
        {"resourceType": "Practitioner", "id": "doc-a", "name": [{"family": "Chen"}]},
        {"resourceType": "RelatedPerson", "id": "rp1", "patient": {"reference": "Patient/pa1"}, "active": True,
         "extension": [{"url": reminders.CAREGIVER_COPY, "valueBoolean": True}]},
        {"resourceType": "Consent", "id": "c-rp1", "status": "active",
         "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                               "code": "patient-privacy"}]},
         "category": [{"coding": [{"system": "https://smartcare.example/fhir/CodeSystem/consent-category",
                                   "code": "proxy-access"}]}],
         "patient": {"reference": "Patient/pa1"},
         "provision": {"type": "permit", "actor": [
             {"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "FAMMEMB"}]},
              "reference": {"reference": "RelatedPerson/rp1"}}]}},
        METFORMIN, AMLODIPINE,
        {"resourceType": "MedicationDispense", "id": "d-met", "status": "completed",
         "subject": {"reference": "Patient/pa1"}, "authorizingPrescription": [{"reference": "MedicationRequest/r-met"}],
         "medicationCodeableConcept": METFORMIN["medicationCodeableConcept"],
         "quantity": {"value": 20, "unit": "tablet"}, "daysSupply": {"value": 10, "unit": "d"},
         "whenHandedOver": "2026-03-01T02:00:00Z"},
    )
    users = {role: make_user(engine, role) for role in ("patient", "doctor", "caregiver")}
    users["other"] = make_user(engine, "patient", "other.patient", fhir_ref="Patient/pa2")
    return users
