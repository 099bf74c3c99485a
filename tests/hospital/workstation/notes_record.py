"""A small hospital for the encounter-note tests: a cardiology department, two of its doctors, a nurse,
a pharmacist, a patient with an outpatient encounter there, and a patient of another hospital."""

from smartcare.fhir import store
from smartcare.hospital.directory.conventions import DEPARTMENT_SYSTEM
from smartcare.hospital.workstation import notes, notes_form
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.web_support import make_user

HOSPITAL = "Organization/org-n"
RECORD = [
    {"resourceType": "Organization", "id": "org-n", "name": "Riverside Hospital"},
    {"resourceType": "Organization", "id": "org-n-cardio", "name": "Riverside Hospital - Cardiology",
     "type": [{"coding": [{"system": DEPARTMENT_SYSTEM, "code": "cardiology", "display": "Cardiology"}]}],
     "partOf": {"reference": "Organization/org-n"}},
    {"resourceType": "HealthcareService", "id": "hcs-n-cardio", "name": "Cardiology",
     "providedBy": {"reference": "Organization/org-n-cardio"},
     "type": [{"coding": [{"system": DEPARTMENT_SYSTEM, "code": "cardiology", "display": "Cardiology"}]}]},
    {"resourceType": "Organization", "id": "org-far", "name": "Faraway Hospital"},
    {"resourceType": "Practitioner", "id": "prac-lin", "name": [{"text": "Lin Hua"}]},
    {"resourceType": "Practitioner", "id": "prac-gao", "name": [{"text": "Gao Ming"}]},
    {"resourceType": "Patient", "id": "p-chen", "gender": "male", "birthDate": "1958-06-01",
     "name": [{"text": "Chen Jian"}], "managingOrganization": {"reference": HOSPITAL}},
    {"resourceType": "Patient", "id": "p-far", "gender": "female", "birthDate": "1990-01-01",
     "name": [{"text": "Zhou Li"}], "managingOrganization": {"reference": "Organization/org-far"}},
    {"resourceType": "Encounter", "id": "enc-chen", "status": "in-progress",
     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
     "subject": {"reference": "Patient/p-chen"}, "serviceProvider": {"reference": "Organization/org-n-cardio"},
     "period": {"start": "2026-03-02T08:00:00Z"}},
    {"resourceType": "Encounter", "id": "enc-ward", "status": "in-progress",
     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
     "subject": {"reference": "Patient/p-chen"}, "period": {"start": "2026-03-01T08:00:00Z"}},
]
# A note that fills every field the cardiology template requires, with a confirmed diagnosis.
COMPLETE = {
    "chief_complaint": "Chest tightness on exertion for 2 weeks",
    "history_present_illness": "Tightness climbing two floors, eases with rest within 5 minutes.",
    "allergies": "None known",
    "physical_examination": "Alert, no distress.",
    "heart_rhythm": "regular",
    "systolic_bp": "148", "diastolic_bp": "92", "heart_rate": "78",
    "treatment_plan": "Exercise ECG; start aspirin 100 mg daily.",
}


def write_record() -> None:
    """Write the hospital into the current test database as the platform."""
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in RECORD])


def make_staff(engine) -> dict[str, users.User]:
    """The accounts of the tests: two doctors and a nurse of the hospital, a pharmacist, a doctor elsewhere."""
    return {
        "lin": make_user(engine, "doctor", username="dr.lin", fhir_ref="Practitioner/prac-lin", organization=HOSPITAL),
        "gao": make_user(engine, "doctor", username="dr.gao", fhir_ref="Practitioner/prac-gao", organization=HOSPITAL),
        "nurse": make_user(engine, "nurse", username="nurse.he", fhir_ref="Practitioner/nurse-he",
                           organization=HOSPITAL),
        "pharmacist": make_user(engine, "pharmacist", username="ph.wu", fhir_ref="Practitioner/ph-wu",
                                organization=HOSPITAL),
        "far": make_user(engine, "doctor", username="dr.far", fhir_ref="Practitioner/prac-far",
                         organization="Organization/org-far"),
    }


def content(values: dict[str, str], diagnoses: list[tuple[str, str]] = ()) -> notes.NoteContent:
    """Note content as the cardiology form would send it; asserts the input is valid."""
    template = notes.compose.template_for("cardiology")
    found, problems = notes_form.read_input(template, values, list(diagnoses))
    assert problems == {}, problems
    return found
