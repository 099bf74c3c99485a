"""A referral to a department brings the patient to the clinicians who work there while it is open, and no longer."""

import pytest

from smartcare.platform.audit import events_for_patient
from smartcare.platform.db import unit_of_work
from tests.conftest import bearer

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def _role(role_id: str, practitioner: str, service: str, active: bool = True) -> dict:
    return {"resourceType": "PractitionerRole", "id": role_id, "active": active,
            "practitioner": {"reference": f"Practitioner/{practitioner}"},
            "organization": {"reference": "Organization/org-hosp"},
            "healthcareService": [{"reference": f"HealthcareService/{service}"}]}


REFERRAL = {"system": "http://snomed.info/sct", "code": "3457005", "display": "Patient referral"}
CONSULTATION = {"system": "http://snomed.info/sct", "code": "11429006", "display": "Consultation"}
WORLD = [
    {"resourceType": "Organization", "id": "org-clinic", "name": "Riverside Community Health Centre"},
    {"resourceType": "Organization", "id": "org-hosp", "name": "Harbour Hospital"},
    {"resourceType": "HealthcareService", "id": "hcs-cardio", "name": "Cardiology",
     "providedBy": {"reference": "Organization/org-hosp"}},
    {"resourceType": "HealthcareService", "id": "hcs-ortho", "name": "Orthopaedics",
     "providedBy": {"reference": "Organization/org-hosp"}},
    *[{"resourceType": "Practitioner", "id": p} for p in ("doc-cardio", "doc-former", "doc-ortho")],
    _role("role-cardio", "doc-cardio", "hcs-cardio"),
    _role("role-former", "doc-former", "hcs-cardio", active=False),
    _role("role-ortho", "doc-ortho", "hcs-ortho"),
    # The clinic's patient: no hospital clinician reaches her but through the referral.
    {"resourceType": "Patient", "id": "p1", "managingOrganization": {"reference": "Organization/org-clinic"}},
    {"resourceType": "Observation", "id": "obs-p1", "status": "final", "code": {"text": "Blood pressure"},
     "subject": {"reference": "Patient/p1"}},
    {"resourceType": "ServiceRequest", "id": "sr-1", "status": "active", "intent": "order",
     "category": [{"coding": [REFERRAL]}], "code": {"coding": [REFERRAL]}, "subject": {"reference": "Patient/p1"},
     "performer": [{"reference": "HealthcareService/hcs-cardio"}]},
    {"resourceType": "Task", "id": "task-1", "status": "requested", "intent": "order",
     "focus": {"reference": "ServiceRequest/sr-1"}, "for": {"reference": "Patient/p1"},
     "owner": {"reference": "HealthcareService/hcs-cardio"}},
]


def doctor(practitioner: str) -> dict[str, str]:
    return bearer(scope="user/*.cruds", kind="user", name=f"dr.{practitioner}", roles={"doctor"},
                  subject=f"user-{practitioner}", organization="Organization/org-hosp",
                  fhir_user=f"Practitioner/{practitioner}")


@pytest.fixture
def region(client):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in WORLD]}
    assert client.post("/fhir", json=bundle, headers=FHIR_JSON).status_code == 200
    return client


def change(client, res_type: str, res_id: str, **fields) -> None:
    stored = client.get(f"/fhir/{res_type}/{res_id}").json()
    r = client.put(f"/fhir/{res_type}/{res_id}", json={**stored, **fields}, headers=FHIR_JSON)
    assert r.status_code == 200, r.text


def reaches(client, practitioner: str) -> bool:
    """Whether the practitioner opens the patient and her records, by id and by search alike."""
    headers = doctor(practitioner)
    by_id = client.get("/fhir/Patient/p1", headers=headers).status_code
    record = client.get("/fhir/Observation/obs-p1", headers=headers).status_code
    found = client.get("/fhir/Patient", headers=headers).json().get("entry", [])
    listed = [e["resource"]["id"] for e in found if e["resource"]["resourceType"] == "Patient"]
    assert (by_id == 200) == (record == 200) == (listed == ["p1"]), (by_id, record, listed)
    return by_id == 200


def test_a_doctor_of_the_receiving_department_reaches_the_patient_of_an_open_referral(region):
    assert reaches(region, "doc-cardio")
    # Another department of the same hospital, and a role no longer active, do not.
    assert not reaches(region, "doc-ortho")
    assert not reaches(region, "doc-former")


def test_the_reach_lasts_while_the_request_is_on_hold_and_ends_when_it_is_completed(region):
    change(region, "ServiceRequest", "sr-1", status="on-hold")
    assert reaches(region, "doc-cardio")
    change(region, "ServiceRequest", "sr-1", status="completed")
    assert not reaches(region, "doc-cardio")


@pytest.mark.parametrize("ended", ["rejected", "cancelled", "completed"])
def test_an_ended_referral_task_ends_the_reach_at_once(region, ended):
    change(region, "Task", "task-1", status="accepted")
    assert reaches(region, "doc-cardio")
    change(region, "Task", "task-1", status=ended)
    assert not reaches(region, "doc-cardio")
    assert region.get("/fhir/Task/task-1", headers=doctor("doc-cardio")).status_code == 404


def test_a_remote_consultation_request_to_the_department_shares_no_whole_patient(region):
    # A teleconsult's ServiceRequest (category consultation) shares only what its Consent names (teleconsult tests).
    change(region, "ServiceRequest", "sr-1", category=[{"coding": [CONSULTATION]}], code={"coding": [CONSULTATION]})
    assert not reaches(region, "doc-cardio")


def test_moving_to_another_department_ends_the_reach(region):
    change(region, "PractitionerRole", "role-cardio", healthcareService=[{"reference": "HealthcareService/hcs-ortho"}])
    assert not reaches(region, "doc-cardio")


def test_the_receiving_doctors_reads_are_audited_against_the_patient(region, engine):
    assert region.get("/fhir/Observation/obs-p1", headers=doctor("doc-cardio")).status_code == 200
    assert region.get("/fhir/Observation/obs-p1", headers=doctor("doc-ortho")).status_code == 404
    with unit_of_work(engine) as conn:
        seen = [(e["agent"], e["subtype"], e["outcome"]) for e in events_for_patient(conn, "Patient/p1")
                if e["agent"] != "client/test suite"]
    assert ("user/dr.doc-cardio", "read", "0") in seen
    assert not [entry for entry in seen if entry[0] == "user/dr.doc-ortho" and entry[2] == "0"]
