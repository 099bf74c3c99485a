"""Clinicians reach the patients in their care while the care lasts, and only the records their work needs."""

import pytest

from tests.fhir.test_access import FHIR_JSON, as_, build_world, care_team, obs, referral


@pytest.fixture
def world(client):
    return build_world(client)


def put(client, resource: dict) -> None:
    r = client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource, headers=FHIR_JSON)
    assert r.status_code in (200, 201), r.text


def why(response) -> str:
    assert response.json()["resourceType"] == "OperationOutcome"
    return response.json()["issue"][0]["diagnostics"]


def test_leaving_a_care_team_ends_access_at_once(world):
    put(world, obs("obs-pb3", "pb3"))
    assert world.get("/fhir/Observation/obs-pb3", headers=as_("doctor-a")).status_code == 200
    put(world, care_team("team-b3", "pb3", "doc-a", status="inactive"))
    assert world.get("/fhir/Observation/obs-pb3", headers=as_("doctor-a")).status_code == 404
    assert world.get("/fhir/Patient/pb3", headers=as_("doctor-a")).status_code == 404


def test_a_revoked_referral_no_longer_opens_the_patient(world):
    assert world.get("/fhir/Patient/pb5", headers=as_("doctor-a")).status_code == 200
    put(world, referral("ref-b5", "pb5", "doc-a", status="revoked"))
    assert world.get("/fhir/Patient/pb5", headers=as_("doctor-a")).status_code == 404


def test_a_clinicians_patient_list_follows_their_care_relationships(world):
    r = world.get("/fhir/Patient?_count=2", headers=as_("doctor-a"))
    assert r.status_code == 200
    # org-a's five patients, and pb1 (encounter), pb2 (appointment), pb3 (care team), pb5 (referral).
    assert r.json()["total"] == 9
    assert len(r.json()["entry"]) == 2


def test_a_pharmacist_is_told_which_records_their_work_does_not_need(world):
    refused = world.get("/fhir/Encounter?subject=Patient/pa1", headers=as_("pharmacist-a"))
    assert refused.status_code == 403
    assert why(refused) == "A pharmacist's work does not need Encounter records"
    prescription = world.get("/fhir/MedicationRequest/mr-pa1", headers=as_("pharmacist-a")).json()
    changed = world.put("/fhir/MedicationRequest/mr-pa1", json={**prescription, "status": "stopped"},
                        headers={**as_("pharmacist-a"), **FHIR_JSON})
    assert changed.status_code == 403
    assert why(changed) == "A pharmacist may read but not write MedicationRequest records"


def test_a_pharmacists_only_change_to_a_prescription_is_their_check_of_one_waiting_for_it(world):
    from smartcare.knowledge.prescribing import verification
    from smartcare.platform.security.policy import AWAITING_VERIFICATION

    assert AWAITING_VERIFICATION == (verification.STATUS_REASON_SYSTEM, verification.AWAITING)
    stored = world.get("/fhir/MedicationRequest/mr-pa1", headers=as_("pharmacist-a")).json()
    waiting = verification.held_for_review({k: v for k, v in stored.items() if k != "meta"})
    put(world, waiting)
    headers = {**as_("pharmacist-a"), **FHIR_JSON}
    waiting = world.get("/fhir/MedicationRequest/mr-pa1", headers=as_("pharmacist-a")).json()
    # Checking it and changing the dose at the same time is the prescriber's to do, not the pharmacist's.
    redosed = {**verification.verified(waiting), "dosageInstruction": [{"text": "twice as much"}]}
    refused = world.put("/fhir/MedicationRequest/mr-pa1", json=redosed, headers=headers)
    assert refused.status_code == 403 and why(refused) == "A pharmacist may read but not write MedicationRequest records"
    stopped = world.put("/fhir/MedicationRequest/mr-pa1", json={**waiting, "status": "stopped"}, headers=headers)
    assert stopped.status_code == 403
    accepted = world.put("/fhir/MedicationRequest/mr-pa1", json=verification.verified(waiting), headers=headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "active"
    # Once checked, it is the prescriber's again: no second change, and never a new order or a deletion.
    again = world.put("/fhir/MedicationRequest/mr-pa1", json=verification.returned(accepted.json()), headers=headers)
    assert again.status_code == 403
    assert world.delete("/fhir/MedicationRequest/mr-pa1", headers=as_("pharmacist-a")).status_code == 403
    new = {k: v for k, v in waiting.items() if k not in ("id", "meta")}
    assert world.post("/fhir/MedicationRequest", json=new, headers=headers).status_code == 403


def test_a_pharmacist_records_a_dispense_for_a_patient_of_their_organisation(world):
    dispense = {"resourceType": "MedicationDispense", "status": "completed",
                "medicationCodeableConcept": {"text": "amoxicillin 500 mg"}, "subject": {"reference": "Patient/pa1"},
                "authorizingPrescription": [{"reference": "MedicationRequest/mr-pa1"}]}
    headers = {**as_("pharmacist-a"), **FHIR_JSON}
    assert world.post("/fhir/MedicationDispense", json=dispense, headers=headers).status_code == 201
    elsewhere = {**dispense, "subject": {"reference": "Patient/pb1"}}
    assert world.post("/fhir/MedicationDispense", json=elsewhere, headers=headers).status_code == 403


def test_a_lab_technician_reports_results_but_never_sees_prescriptions(world):
    headers = {**as_("lab-a"), **FHIR_JSON}
    assert world.post("/fhir/Observation", json=obs("lab-1", "pa1"), headers=headers).status_code == 201
    report = {"resourceType": "DiagnosticReport", "status": "final", "code": {"text": "Full blood count"},
              "subject": {"reference": "Patient/pa1"}, "result": [{"reference": "Observation/obs-pa1"}]}
    assert world.post("/fhir/DiagnosticReport", json=report, headers=headers).status_code == 201
    condition = {"resourceType": "Condition", "code": {"text": "anaemia"}, "subject": {"reference": "Patient/pa1"}}
    refused = world.post("/fhir/Condition", json=condition, headers=headers)
    assert refused.status_code == 403
    assert why(refused) == "A lab technician's work does not need Condition records"


def test_a_radiologist_reads_allergies_and_writes_imaging_reports(world):
    headers = {**as_("radiologist-a"), **FHIR_JSON}
    allergy = {"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/pa1"},
               "code": {"text": "iodinated contrast"}}
    put(world, {**allergy, "id": "allergy-pa1"})
    assert world.get("/fhir/AllergyIntolerance?patient=Patient/pa1", headers=headers).json()["total"] == 1
    study = {"resourceType": "ImagingStudy", "status": "available", "subject": {"reference": "Patient/pa1"}}
    assert world.post("/fhir/ImagingStudy", json=study, headers=headers).status_code == 201
    assert world.post("/fhir/AllergyIntolerance", json=allergy, headers=headers).status_code == 403


def _department(hid: str, org: str) -> dict:
    return {"resourceType": "HealthcareService", "id": hid, "name": "Outpatients",
            "providedBy": {"reference": f"Organization/{org}"}}


def _booked(aid: str, patient: str, department: str, status: str = "booked") -> dict:
    return {"resourceType": "Appointment", "id": aid, "status": status, "participant": [
        {"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"},
        {"actor": {"reference": f"HealthcareService/{department}"}, "status": "accepted"}]}


def test_a_hospitals_staff_reach_whoever_booked_a_visit_there_until_it_is_cancelled(world):
    """The registration desk serves patients managed elsewhere once they book at one of its departments."""
    put(world, _department("hcs-a1", "org-a"))
    put(world, _department("hcs-b1", "org-b"))
    assert world.get("/fhir/Patient/pb6", headers=as_("nurse-a")).status_code == 404
    put(world, _booked("appt-b6-elsewhere", "pb6", "hcs-b1"))
    assert world.get("/fhir/Patient/pb6", headers=as_("nurse-a")).status_code == 404
    put(world, _booked("appt-b6", "pb6", "hcs-a1"))
    assert world.get("/fhir/Patient/pb6", headers=as_("nurse-a")).status_code == 200
    found = world.get("/fhir/Patient?_id=pb6,pb4", headers=as_("nurse-a")).json()
    assert sorted(e["resource"]["id"] for e in found.get("entry", [])) == ["pb6"]
    put(world, _booked("appt-b6", "pb6", "hcs-a1", status="cancelled"))
    assert world.get("/fhir/Patient/pb6", headers=as_("nurse-a")).status_code == 404
