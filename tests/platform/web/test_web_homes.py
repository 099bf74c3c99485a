"""Each role's home page shows what the policy lets that person see, read through the audited FHIR gateway."""

import re

import pytest

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from tests.web_support import browser, make_user, sign_in

FHIR_JSON = {"Content-Type": "application/fhir+json"}
HEART_RATE = {"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}

WORLD = [
    {"resourceType": "Organization", "id": "org-a", "name": "Riverside First Hospital"},
    {"resourceType": "Organization", "id": "org-b", "name": "Hillside District Hospital"},
    {"resourceType": "Patient", "id": "pa1", "name": [{"family": "张", "given": ["伟"]}], "birthDate": "1970-04-02",
     "gender": "male", "managingOrganization": {"reference": "Organization/org-a"}},
    {"resourceType": "Patient", "id": "pa2", "name": [{"family": "Wang", "given": ["Fang"]}], "birthDate": "1985-09-30",
     "gender": "female", "managingOrganization": {"reference": "Organization/org-a"}},
    {"resourceType": "Patient", "id": "pb1", "name": [{"family": "Liu", "given": ["Yang"]}], "birthDate": "1990-01-01",
     "managingOrganization": {"reference": "Organization/org-b"}},
    {"resourceType": "Observation", "id": "obs-pa1", "status": "final", "code": {"coding": [HEART_RATE]},
     "subject": {"reference": "Patient/pa1"}, "effectiveDateTime": "2026-11-20T09:30:00Z",
     "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}},
    {"resourceType": "Observation", "id": "bp-pa1", "status": "final", "code": {"text": "Blood pressure"},
     "subject": {"reference": "Patient/pa1"}, "effectiveDateTime": "2026-11-21T09:30:00Z",
     "component": [
         {"code": {"text": "Systolic"}, "valueQuantity": {"value": 128, "unit": "mmHg"}},
         {"code": {"text": "Diastolic"}, "valueQuantity": {"value": 84, "unit": "mmHg"}}]},
    {"resourceType": "Condition", "id": "dm-pa1", "subject": {"reference": "Patient/pa1"},
     "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                    "code": "active"}]},
     "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9",
                          "display": "Type 2 diabetes mellitus without complications"}]},
     "onsetDateTime": "2019-03-01"},
    {"resourceType": "Condition", "id": "dm-pa2", "subject": {"reference": "Patient/pa2"},
     "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                    "code": "active"}]},
     "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "J45.9", "display": "Asthma"}]}},
    {"resourceType": "Observation", "id": "obs-pa2", "status": "final", "code": {"text": "Glucose"},
     "subject": {"reference": "Patient/pa2"}, "effectiveDateTime": "2026-11-20T09:30:00Z",
     "valueQuantity": {"value": 9.1, "unit": "mmol/L"}},
]


@pytest.fixture
def world(client):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in WORLD]}
    assert client.post("/fhir", json=bundle, headers=FHIR_JSON).status_code == 200


def test_a_patient_sees_their_own_latest_results_and_nobody_elses(engine, world):
    make_user(engine, "patient")
    with browser() as web:
        sign_in(web, "patient.test")
        page = web.get("/app")
    assert page.status_code == 200
    assert "张伟" in page.text and "1970-04-02" in page.text
    assert "Heart rate" in page.text and "72 /min" in page.text
    assert "128/84 mmHg" in page.text
    assert "Glucose" not in page.text and "Wang" not in page.text


def test_a_patients_own_problems_link_to_their_disease_information_pages(engine, world):
    make_user(engine, "patient")
    with browser() as web:
        sign_in(web, "patient.test")
        page = web.get("/app")
        info = web.get(re.search(r'href="(/app/diseases/[^"]+)"', page.text).group(1))
    assert "Type 2 diabetes mellitus without complications" in page.text and "2019-03-01" in page.text
    assert 'href="/app/diseases/type-2-diabetes"' in page.text
    assert "Asthma" not in page.text  # another patient's problem
    assert info.status_code == 200 and "type 2 diabetes" in info.text.lower()


def test_a_patient_home_is_audited_as_the_patient_reading_their_record(engine, world):
    make_user(engine, "patient")
    with browser() as web:
        sign_in(web, "patient.test")
        web.get("/app")
    with unit_of_work(engine) as conn:
        entries = audit.events_for_patient(conn, "Patient/pa1")
        others = audit.events_for_patient(conn, "Patient/pa2")
    mine = [e for e in entries if e["agent"] == "user/patient.test"]
    # The page read the person's record and their results: each search that found them left an entry.
    assert len(mine) >= 2 and {e["subtype"] for e in mine} == {"search"}
    assert not [e for e in others if e["agent"] == "user/patient.test"]


def test_a_patient_without_a_linked_record_is_told_how_to_link_it(engine, world):
    make_user(engine, "patient", fhir_ref="Patient/nobody")
    with browser() as web:
        sign_in(web, "patient.test")
        page = web.get("/app")
    assert page.status_code == 200
    assert "not linked to a health record yet" in page.text


def test_a_doctor_sees_the_patients_of_their_organisation_and_finds_them_by_name(engine, world):
    make_user(engine, "doctor")
    with browser() as web:
        sign_in(web, "doctor.test")
        page = web.get("/workstation")
        assert page.status_code == 200
        assert "张伟" in page.text and "Fang Wang" in page.text and "Liu" not in page.text
        assert "(2)" in page.text
        found = web.get("/workstation", params={"q": "Wang"})
        assert "Fang Wang" in found.text and "张伟" not in found.text
        # A name from another organisation finds nothing: the search is limited by the policy.
        assert "No patients found." in web.get("/workstation", params={"q": "Liu"}).text


@pytest.mark.parametrize("hostile", ["<script>alert(1)</script>", "' OR 1=1 --", "x" * 5000, "%00"])
def test_hostile_searches_are_shown_back_escaped_and_find_nothing(engine, world, hostile):
    make_user(engine, "doctor")
    with browser() as web:
        sign_in(web, "doctor.test")
        page = web.get("/workstation", params={"q": hostile})
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "No patients found." in page.text


def test_the_console_home_shows_an_administrator_the_accounts_and_todays_refusals(engine, world):
    make_user(engine, "hospital_admin")
    make_user(engine, "patient")
    with browser() as web:
        sign_in(web, "patient.test")
        web.get("/console")
    with browser() as web:
        sign_in(web, "hospital.admin.test")
        page = web.get("/console")
    assert page.status_code == 200
    assert 'href="/console/audit"' in page.text and 'href="/console/clients"' in page.text
    assert "user/patient.test" in page.text and "access-refused" in page.text


def test_a_researcher_console_offers_research_data_but_not_the_audit_log(engine):
    make_user(engine, "researcher")
    with browser() as web:
        sign_in(web, "researcher.test")
        page = web.get("/console")
    assert 'href="/console/research"' in page.text
    assert 'href="/console/audit"' not in page.text and "Accounts by role" not in page.text


def _put(client, resource: dict) -> None:
    done = client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource, headers=FHIR_JSON)
    assert done.status_code in (200, 201), done.text


def test_a_caregiver_chooses_among_the_people_whose_consent_names_them(engine, world, client):
    from tests.fhir.test_access import consent, related_person

    _put(client, related_person("rp1", "pa1"))
    _put(client, consent("c-rp1", "pa1", "proxy-access", actor="RelatedPerson/rp1"))
    _put(client, related_person("rp1-other", "pa2"))
    make_user(engine, "caregiver")
    with browser() as web:
        sign_in(web, "caregiver.test")
        page = web.get("/app")
        assert "张伟" in page.text and "72 /min" in page.text and "Wang" not in page.text
        # Withdrawing the consent closes the record at once.
        _put(client, consent("c-rp1", "pa1", "proxy-access", actor="RelatedPerson/rp1", status="inactive"))
        assert "not linked to a health record yet" in web.get("/app").text


def _open_glass(web, **fields):
    from tests.web_support import form_token

    token = form_token(web.get("/workstation"))
    return web.post("/workstation/break-glass", data={"csrf_token": token, **fields})


def test_breaking_the_glass_needs_a_reason_and_is_shown_to_the_patient(engine, world):
    make_user(engine, "doctor")
    make_user(engine, "patient", username="liu.test", fhir_ref="Patient/pb1")
    with browser() as web:
        sign_in(web, "doctor.test")
        refused = _open_glass(web, patient="pb1", reason="short", minutes="30")
        assert refused.status_code == 400 and "in 10 to 500 characters" in refused.text
        missing = _open_glass(web, patient="nobody-here", reason="Unconscious in the emergency room", minutes="30")
        assert missing.status_code == 400 and "There is no patient with that record id." in missing.text
        opened = _open_glass(web, patient="pb1", reason="Unconscious in the emergency room", minutes="30")
        assert opened.status_code == 200 and "Emergency access is open for" in opened.text
        assert "Unconscious in the emergency room" in opened.text
        # The patient from another hospital is now in reach, through the grant only.
        assert "Liu" in web.get("/workstation", params={"q": "Liu"}).text
    with browser() as web:
        sign_in(web, "liu.test")
        account = web.get("/account")
    assert "Emergency access (break the glass)" in account.text
    assert "Unconscious in the emergency room" in account.text
    assert "doctor.test" in account.text


def test_ending_emergency_access_closes_the_record_again(engine, world):
    from tests.web_support import form_token

    make_user(engine, "doctor")
    with browser() as web:
        sign_in(web, "doctor.test")
        opened = _open_glass(web, patient="pb1", reason="Unconscious in the emergency room", minutes="15")
        grant_id = re.search(r'/workstation/break-glass/([^/]+)/close', opened.text).group(1)
        closed = web.post(f"/workstation/break-glass/{grant_id}/close", data={"csrf_token": form_token(opened)})
        assert closed.status_code == 200 and "Your open emergency accesses" not in closed.text
        assert "No patients found." in web.get("/workstation", params={"q": "Liu"}).text


def test_breaking_the_glass_from_the_page_needs_the_forms_csrf_token(engine, world):
    make_user(engine, "doctor")
    with browser() as web:
        sign_in(web, "doctor.test")
        forged = web.post("/workstation/break-glass", data={"csrf_token": "forged", "patient": "pb1",
                                                            "reason": "Unconscious in the emergency room"})
        assert forged.status_code == 403
        assert "No patients found." in web.get("/workstation", params={"q": "Liu"}).text
