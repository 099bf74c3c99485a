"""The doctor's risk and programme page and the patient's programme in the app, through the browser's forms."""

import re
from datetime import timedelta

import pytest

from smartcare.family.monitoring.plans import TEMPLATE_URI
from smartcare.fhir import gateway, store
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import run_due
from smartcare.platform.jobs.worker import load_handlers
from smartcare.platform.notifications.service import inbox
from smartcare.platform.security.context import SYSTEM
from tests.web_support import browser, form_token, make_user, sign_in

LOINC = "http://loinc.org"
MMHG = {"unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}


def _write(*resources: dict) -> None:
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])


def _quantity(rid: str, code: str, value: float, unit: str, when: str) -> dict:
    return {"resourceType": "Observation", "id": rid, "status": "final", "subject": {"reference": "Patient/pa1"},
            "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


@pytest.fixture
def people(engine, now):
    """pa1, 62, with hypertension: BP 152/94 and 148/90, LDL 3.9, TC 6.0, HDL 1.1 mmol/L, a non-smoker; pa2 apart."""
    early, late = ((now[0] - timedelta(days=d)).isoformat() for d in (60, 10))
    _write(
        {"resourceType": "Patient", "id": "pa1", "gender": "female", "birthDate": "1963-04-01",
         "name": [{"family": "Wang", "given": ["Li"]}], "managingOrganization": {"reference": "Organization/org-a"}},
        {"resourceType": "Patient", "id": "pa2", "name": [{"family": "Zhao", "given": ["Min"]}]},
        {"resourceType": "Practitioner", "id": "doc-a", "name": [{"family": "Chen"}]},
        {"resourceType": "Condition", "id": "c-htn", "subject": {"reference": "Patient/pa1"},
         "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                        "code": "active"}]},
         "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]}},
        *({"resourceType": "Observation", "id": f"bp-{n}", "status": "final", "subject": {"reference": "Patient/pa1"},
           "code": {"coding": [{"system": LOINC, "code": "85354-9"}]}, "effectiveDateTime": when,
           "component": [{"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": {"value": s, **MMHG}},
                         {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": {"value": d, **MMHG}}]}
          for n, when, s, d in ((1, early, 152, 94), (2, late, 148, 90))),
        _quantity("ldl", "22748-8", 3.9, "mmol/L", late), _quantity("tc", "14647-2", 6.0, "mmol/L", late),
        _quantity("hdl", "14646-4", 1.1, "mmol/L", late),
        {"resourceType": "Observation", "id": "smoke", "status": "final", "subject": {"reference": "Patient/pa1"},
         "code": {"coding": [{"system": LOINC, "code": "72166-2"}]}, "effectiveDateTime": late,
         "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "266919005"}]}},
    )
    return {role: make_user(engine, role) for role in ("doctor", "nurse", "patient")} | {
        "other": make_user(engine, "patient", "other.patient", fhir_ref="Patient/pa2")}


def _post(web, path: str, page, **fields) -> object:
    return web.post(path, data={"csrf_token": form_token(page), **fields})


def test_a_doctor_assesses_drafts_adjusts_and_activates_and_the_patient_follows_it(people, engine):
    doctor = browser()
    sign_in(doctor, "doctor.test")
    page = doctor.get("/workstation/patients/pa1/risk")
    assert page.status_code == 200
    assert "Not assessable yet" in page.text and "Waist circumference" in page.text  # CDS lacks the waist
    done = _post(doctor, "/workstation/patients/pa1/risk/assess", page)
    assert done.status_code == 303
    page = doctor.get(done.headers["location"])
    assert "Risks assessed from the record." in page.text
    assert re.search(r"\d+\.\d\s*%</strong> · (Borderline|Intermediate|High|Low)", page.text)
    done = _post(doctor, "/workstation/patients/pa1/risk/draft", page)
    page = doctor.get(done.headers["location"])
    assert "Draft for your review" in page.text
    fields = {name: "on" for name in re.findall(r'name="((?:goal|activity):[^"]+)" checked', page.text)}
    systolic = re.search(r'name="(target:[^"]+:8480-6)"', page.text).group(1)
    plan = re.search(r'name="plan" value="([^"]+)"', page.text).group(1)
    done = _post(doctor, "/workstation/patients/pa1/risk/accept", page, plan=plan, **fields, **{systolic: "135"})
    assert done.status_code == 303, done.text[:300]
    page = doctor.get(done.headers["location"])
    assert "The programme is active." in page.text and "&lt; 135" in page.text

    patient = browser()
    sign_in(patient, "patient.test")
    app = patient.get("/app/programme")
    assert app.status_code == 200
    assert "My goals" in app.text and "Next review" in app.text
    assert "My risks" in app.text and "10-year ASCVD risk" in app.text
    assert 'href="/app/news?category=chronic-disease">Read about it</a>' in app.text
    with unit_of_work() as conn:
        told = inbox(conn, user_id=people["patient"].id)
    assert [n["title"] for n in told] == ["Your health programme"] and told[0]["link"] == "/app/programme"
    # The kept home-measurement activity starts the family health module's blood-pressure monitoring plan.
    load_handlers()  # as the worker does
    run_due(engine)
    monitoring = gateway.search(SYSTEM, "CarePlan", [("patient", "Patient/pa1"), ("status", "active"),
                                                     ("instantiates-uri", TEMPLATE_URI + "hypertension")])
    assert len(monitoring) == 1
    data = re.search(r'<script type="application/json" id="goal-progress-data">(.*?)</script>', app.text, re.S).group(1)
    assert '"target": 135' in data.replace('"target":135', '"target": 135')
    assert "148" in data and "152" in data  # both readings drawn against the target
    zh = patient.get("/app/programme?lang=zh-Hans")
    assert "我的健康计划" in zh.text


def test_a_bad_target_is_shown_at_its_field_and_nothing_is_activated(people):
    doctor = browser()
    sign_in(doctor, "doctor.test")
    page = doctor.get("/workstation/patients/pa1/risk")
    drafted = _post(doctor, "/workstation/patients/pa1/risk/draft", page)
    assert drafted.status_code == 303, drafted.text[-1500:]
    page = doctor.get(drafted.headers["location"])
    systolic = re.search(r'name="(target:[^"]+:8480-6)"', page.text).group(1)
    plan = re.search(r'name="plan" value="([^"]+)"', page.text).group(1)
    kept = {name: "on" for name in re.findall(r'name="(goal:[^"]+)" checked', page.text)}
    answer = _post(doctor, "/workstation/patients/pa1/risk/accept", page, plan=plan, **kept,
                   **{systolic: "<script>x</script>"})
    assert answer.status_code == 400
    assert "A target must be a number." in answer.text and 'aria-invalid="true"' in answer.text
    assert "<script>x</script>" not in answer.text
    assert "Draft for your review" in answer.text


def test_only_doctors_act_and_only_the_patient_and_their_doctor_see_the_programme(people):
    nurse = browser()
    sign_in(nurse, "nurse.test")
    page = nurse.get("/workstation/patients/pa1/risk")
    assert page.status_code == 200 and "Assess now" not in page.text
    assert nurse.post("/workstation/patients/pa1/risk/assess",
                      data={"csrf_token": form_token(nurse.get("/account"))}).status_code == 403
    other = browser()
    sign_in(other, "other.patient")
    assert "Wang" not in other.get("/app/programme").text
    assert other.get("/workstation/patients/pa1/risk").status_code == 403
    doctor = browser()
    sign_in(doctor, "doctor.test")
    assert doctor.get("/workstation/patients/pa2/risk").status_code == 404  # not in this doctor's care
    assert doctor.get("/workstation/patients/..%2F..%2Fetc/risk").status_code == 404
