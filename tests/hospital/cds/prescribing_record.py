"""A patient record for the decision-support and prescription-check tests, written through the FHIR store.

Mrs Wang, 76, of hospital org-h: hypertension, type 2 diabetes and CKD stage 3; allergic to penicillin;
takes warfarin; creatinine 130 umol/L (eGFR about 35 by CKD-EPI 2021), 60 kg; her last two blood pressures
are above target and she has had no HbA1c for over a year (all dated back from today). Mr Zhao is a patient of another hospital.
"""

from datetime import UTC, datetime, timedelta

from smartcare.fhir import store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM

ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ATC = "http://www.whocc.no/atc"
DOCTOR = {"roles": {"doctor"}, "kind": "user", "subject": "u-doc", "name": "doc", "fhir_user": "Practitioner/prac-li",
          "organization": "Organization/org-h"}
OTHER_DOCTOR = {**DOCTOR, "subject": "u-doc2", "name": "doc2", "fhir_user": "Practitioner/prac-zhou",
                "organization": "Organization/org-other"}
PATIENT_USER = {"roles": {"patient"}, "kind": "user", "subject": "u-wang", "name": "wang",
                "fhir_user": "Patient/p-wang", "patient": "Patient/p-wang"}


def days_ago(days: int) -> str:
    """The day that many days before today (tokens are checked against the real time, so the record moves with it)."""
    return (datetime.now(UTC) - timedelta(days=days)).date().isoformat()


CREATININE_DAY, HBA1C_DAY, BP_DAYS = days_ago(25), days_ago(420), (days_ago(25), days_ago(56))


def _condition(cid: str, code: str, display: str) -> dict:
    return {"resourceType": "Condition", "id": cid, "subject": {"reference": "Patient/p-wang"},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"coding": [{"system": ICD10, "code": code, "display": display}]}}


def _observation(oid: str, code: str, day: str, value: float, unit: str) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final", "subject": {"reference": "Patient/p-wang"},
            "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": day,
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


def _bp(oid: str, day: str, systolic: int, diastolic: int) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final", "subject": {"reference": "Patient/p-wang"},
            "code": {"coding": [{"system": LOINC, "code": "85354-9"}]}, "effectiveDateTime": day,
            "component": [
                {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": {"value": systolic}},
                {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": {"value": diastolic}}]}


def medication_request(rid: str, atc: str, name: str, dose: float, unit: str, frequency: str, *,
                       status: str = "active", patient: str = "p-wang") -> dict:
    """A MedicationRequest for an oral medicine at dose unit, frequency (a v3 GTS abbreviation)."""
    return {
        "resourceType": "MedicationRequest", "id": rid, "status": status, "intent": "order",
        "subject": {"reference": f"Patient/{patient}"},
        "medicationCodeableConcept": {"coding": [{"system": ATC, "code": atc, "display": name}], "text": name},
        "dosageInstruction": [{
            "timing": {"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation",
                                            "code": frequency}]}},
            "route": {"coding": [{"system": SNOMED, "code": "26643006", "display": "Oral route"}]},
            "doseAndRate": [{"doseQuantity": {"value": dose, "unit": unit, "system": "http://unitsofmeasure.org",
                                              "code": unit}}],
        }],
    }


RECORD = [
    {"resourceType": "Organization", "id": "org-h", "name": "City Hospital"},
    {"resourceType": "Organization", "id": "org-other", "name": "Other Hospital"},
    {"resourceType": "Practitioner", "id": "prac-li", "name": [{"text": "Li Wei"}]},
    {"resourceType": "Patient", "id": "p-wang", "gender": "female", "birthDate": "1950-03-01",
     "name": [{"text": "Wang Fang"}], "managingOrganization": {"reference": "Organization/org-h"}},
    {"resourceType": "Patient", "id": "p-zhao", "gender": "male", "birthDate": "1980-05-05",
     "name": [{"text": "Zhao Lei"}], "managingOrganization": {"reference": "Organization/org-other"}},
    _condition("c-htn", "I10", "Essential (primary) hypertension"),
    _condition("c-t2dm", "E11.9", "Type 2 diabetes mellitus without complications"),
    _condition("c-ckd", "N18.3", "Chronic kidney disease, stage 3"),
    {"resourceType": "AllergyIntolerance", "id": "a-pen", "patient": {"reference": "Patient/p-wang"},
     "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                    "code": "active"}]},
     "code": {"coding": [{"system": SNOMED, "code": "764146007", "display": "Penicillin"}]}},
    medication_request("mr-warfarin", "B01AA03", "warfarin", 3, "mg", "QD"),
    _observation("o-creat", "14682-9", CREATININE_DAY, 130, "umol/L"),
    _observation("o-weight", "29463-7", CREATININE_DAY, 60, "kg"),
    _observation("o-hba1c", "4548-4", HBA1C_DAY, 7.9, "%"),
    _bp("o-bp1", BP_DAYS[0], 156, 92),
    _bp("o-bp2", BP_DAYS[1], 150, 88),
    {"resourceType": "Encounter", "id": "e-1", "status": "finished", "class": {"code": "AMB"},
     "subject": {"reference": "Patient/p-wang"}, "period": {"start": days_ago(178)}},
]


def write_record() -> None:
    """Write the record into the current test database as the platform."""
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in RECORD])
