"""The patient chart at the workstation: banner facts, lists, trends and empty states, read through the audited
gateway as the signed-in doctor, and refused (403) for a patient out of their reach."""

import json
import re
from datetime import date

import pytest

from smartcare.hospital.workstation.codes import day_of
from smartcare.knowledge import calculators
from smartcare.platform import audit, clock
from smartcare.platform.db import unit_of_work
from tests.web_support import browser, form_token, make_user, sign_in

FHIR_JSON = {"Content-Type": "application/fhir+json"}
LOINC, SNOMED, ICD10 = "http://loinc.org", "http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10"
RESIDENT_ID = "https://smartcare.example/fhir/sid/cn-resident-id"
NATIONAL_ID = "110101196105203427"


def concept(system: str, code: str, display: str, text: str | None = None) -> dict:
    found = {"coding": [{"system": system, "code": code, "display": display}]}
    return {**found, "text": text} if text else found


def lab(oid: str, pid: str, code: str, display: str, value: float, unit: str, when: str, flag: str | None = None,
        low: float | None = None, high: float | None = None) -> dict:
    found = {"resourceType": "Observation", "id": oid, "status": "final",
             "category": [concept("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory",
                                  "Laboratory")],
             "code": concept(LOINC, code, display), "subject": {"reference": f"Patient/{pid}"},
             "effectiveDateTime": when, "valueQuantity": {"value": value, "unit": unit, "code": unit,
                                                          "system": "http://unitsofmeasure.org"}}
    if flag:
        found["interpretation"] = [concept("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                           flag, flag)]
    if low is not None or high is not None:
        found["referenceRange"] = [{k: {"value": v, "unit": unit} for k, v in (("low", low), ("high", high))
                                    if v is not None}]
    return found


def vital(oid: str, pid: str, code: str, display: str, value: float, unit: str, when: str) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "category": [concept("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs",
                                 "Vital Signs")],
            "code": concept(LOINC, code, display), "subject": {"reference": f"Patient/{pid}"},
            "effectiveDateTime": when, "valueQuantity": {"value": value, "unit": unit}}


WORLD = [
    {"resourceType": "Organization", "id": "org-a", "name": "Riverside First Hospital"},
    {"resourceType": "Organization", "id": "org-b", "name": "Hillside District Hospital"},
    {"resourceType": "Patient", "id": "p-chart", "gender": "female", "birthDate": "1961-05-20",
     "identifier": [{"system": RESIDENT_ID, "value": NATIONAL_ID,
                     "type": concept("http://terminology.hl7.org/CodeSystem/v2-0203", "NI", "National ID")}],
     "name": [{"use": "official", "text": "张丽", "family": "张", "given": ["丽"]},
              {"use": "official", "text": "Zhang Li", "family": "Zhang", "given": ["Li"]}],
     "managingOrganization": {"reference": "Organization/org-a"}},
    {"resourceType": "AllergyIntolerance", "id": "al-1", "patient": {"reference": "Patient/p-chart"},
     "clinicalStatus": concept("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"),
     "criticality": "high", "category": ["medication"], "recordedDate": "2019-03-01",
     "code": concept(SNOMED, "764146007", "Penicillin", "青霉素类"),
     "reaction": [{"manifestation": [concept(SNOMED, "126485001", "Urticaria", "荨麻疹")], "severity": "severe"}]},
    {"resourceType": "Condition", "id": "c-dm", "subject": {"reference": "Patient/p-chart"},
     "clinicalStatus": concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
     "category": [concept("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item",
                          "Problem List Item")],
     "code": concept(ICD10, "E11.9", "Type 2 diabetes mellitus without complications", "2型糖尿病"),
     "onsetDateTime": "2018-06-01"},
    {"resourceType": "Condition", "id": "c-cold", "subject": {"reference": "Patient/p-chart"},
     "clinicalStatus": concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "resolved", "Resolved"),
     "code": concept(ICD10, "J06.9", "Acute upper respiratory infection, unspecified"), "onsetDateTime": "2025-01-05"},
    {"resourceType": "MedicationRequest", "id": "mr-1", "status": "active", "intent": "order",
     "subject": {"reference": "Patient/p-chart"}, "authoredOn": "2024-04-02T09:00:00+08:00",
     "medicationCodeableConcept": concept("http://www.whocc.no/atc", "A10BA02", "Metformin", "二甲双胍片"),
     "dosageInstruction": [{"timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                            "route": concept(SNOMED, "26643006", "Oral route", "口服"),
                            "doseAndRate": [{"doseQuantity": {"value": 500, "unit": "mg"}}]}]},
    {"resourceType": "MedicationRequest", "id": "mr-old", "status": "completed", "intent": "order",
     "subject": {"reference": "Patient/p-chart"}, "authoredOn": "2023-01-02T09:00:00+08:00",
     "medicationCodeableConcept": concept("http://www.whocc.no/atc", "J01CA04", "Amoxicillin")},
    vital("w-1", "p-chart", "29463-7", "Body weight", 70.5, "kg", "2025-12-01T09:00:00+08:00"),
    vital("w-2", "p-chart", "29463-7", "Body weight", 68, "kg", "2026-02-10T09:00:00+08:00"),
    {"resourceType": "Observation", "id": "bp-1", "status": "final", "subject": {"reference": "Patient/p-chart"},
     "code": concept(LOINC, "85354-9", "Blood pressure panel"), "effectiveDateTime": "2026-02-10T09:00:00+08:00",
     "component": [{"code": concept(LOINC, "8480-6", "Systolic"), "valueQuantity": {"value": 142, "unit": "mmHg"}},
                   {"code": concept(LOINC, "8462-4", "Diastolic"), "valueQuantity": {"value": 88, "unit": "mmHg"}}]},
    lab("cr-1", "p-chart", "14682-9", "Creatinine", 120, "umol/L", "2026-02-10T09:15:00+08:00", "H", 41, 81),
    lab("glu-1", "p-chart", "14771-0", "Fasting glucose", 7.2, "mmol/L", "2025-08-01T08:00:00+08:00", "H", 3.9, 6.1),
    lab("glu-2", "p-chart", "14771-0", "Fasting glucose", 8.1, "mmol/L", "2025-11-03T08:00:00+08:00", "H", 3.9, 6.1),
    lab("glu-3", "p-chart", "14771-0", "Fasting glucose", 6.5, "mmol/L", "2026-02-10T08:00:00+08:00", "H", 3.9, 6.1),
    {"resourceType": "Patient", "id": "p-nka", "gender": "female", "birthDate": "1994-01-10",
     "name": [{"family": "Wang", "given": ["Fang"]}], "managingOrganization": {"reference": "Organization/org-a"}},
    {"resourceType": "AllergyIntolerance", "id": "al-nka", "patient": {"reference": "Patient/p-nka"},
     "clinicalStatus": concept("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"),
     "code": concept(SNOMED, "716186003", "No known allergy"), "recordedDate": "2026-01-04"},
    {"resourceType": "Observation", "id": "preg-1", "status": "final", "subject": {"reference": "Patient/p-nka"},
     "code": concept(LOINC, "82810-3", "Pregnancy status"), "effectiveDateTime": "2026-01-04T10:00:00+08:00",
     "valueCodeableConcept": concept(SNOMED, "77386006", "Pregnant")},
    lab("egfr-1", "p-nka", "98979-8", "eGFR (CKD-EPI 2021)", 104, "mL/min/{1.73_m2}", "2026-01-04T10:00:00+08:00"),
    lab("cr-nka", "p-nka", "14682-9", "Creatinine", 60, "umol/L", "2026-01-04T10:00:00+08:00"),
    {"resourceType": "Patient", "id": "p-bare", "gender": "male", "birthDate": "1950-02-02",
     "name": [{"family": "Zhou", "given": ["Jun"]}], "managingOrganization": {"reference": "Organization/org-a"}},
    {"resourceType": "Patient", "id": "pb1", "name": [{"family": "Liu", "given": ["Yang"]}], "birthDate": "1990-01-01",
     "managingOrganization": {"reference": "Organization/org-b"}},
]


@pytest.fixture
def world(client):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in WORLD]}
    done = client.post("/fhir", json=bundle, headers=FHIR_JSON)
    assert done.status_code == 200, done.text[:500]


@pytest.fixture
def doctor(engine, world):
    make_user(engine, "doctor")
    with browser() as web:
        sign_in(web, "doctor.test")
        yield web


def _trends(page) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="chart-trends">(.*?)</script>', page.text,
                                re.S).group(1))


def test_the_banner_shows_who_the_patient_is_and_what_a_prescriber_must_see(doctor):
    page = doctor.get("/workstation/patients/p-chart")
    assert page.status_code == 200
    text = page.text
    assert "张丽" in text and "Zhang Li" in text and "Female" in text
    age = calculators.age_in_years(date(1961, 5, 20), day_of(clock.now()))
    assert f"{age} years" in text
    # The resident ID is masked but for its last four characters.
    assert NATIONAL_ID not in text and "••••••••••••••3427" in text
    assert 'chart-chip--allergy chart-chip--severe">Penicillin<' in text
    assert "68 kg" in text and "2026-02-10" in text
    # No eGFR was reported, so it is computed from the creatinine, for a woman of her age on the day it was drawn.
    expected = calculators.egfr_ckd_epi_2021(creatinine_mg_per_dl=120 / 88.4, age_years=64, female=True)
    assert f"<strong>{round(expected)}</strong>" in text and calculators.ckd_stage(expected) == "G3b"
    assert "G3b</abbr>" in text and "computed with CKD-EPI 2021 from creatinine 120 umol/L" in text


def test_the_chart_lists_problems_medicines_allergies_and_honest_empty_states(doctor):
    text = doctor.get("/workstation/patients/p-chart").text
    assert "<code>E11.9</code> Type 2 diabetes mellitus without complications" in text
    assert "J06.9" not in text  # resolved
    assert "Metformin" in text and "500 mg" in text and "2× a day" in text and "Oral route" in text
    assert "Amoxicillin" not in text  # completed
    assert "Urticaria" in text and "severe" in text
    for empty in ("No imaging studies or reports.", "No documents.", "No care plans.", "No risk assessments.",
                  "No encounters recorded."):
        assert empty in text


def test_lab_results_show_the_latest_with_its_flag_and_the_whole_trend(doctor):
    page = doctor.get("/workstation/patients/p-chart")
    assert "<strong>6.5 mmol/L</strong>" in page.text and "3.9–6.1" in page.text
    trends = _trends(page)
    glucose = next(lab for lab in trends["labs"].values() if lab["unit"] == "mmol/L")
    assert [p[1] for p in glucose["points"]] == [7.2, 8.1, 6.5] and glucose["band"] == [3.9, 6.1]
    assert [p[1:] for p in trends["vitals"]["bp"]["points"]] == [[142, 88]]
    assert [p[1] for p in trends["vitals"]["weight"]["points"]] == [70.5, 68]
    assert "js/chart-trends.js" in page.text


def test_a_recorded_no_known_allergy_a_reported_egfr_and_a_pregnancy_are_shown_as_recorded(doctor):
    text = doctor.get("/workstation/patients/p-nka").text
    assert "No known allergies" in text and "Allergies not recorded" not in text
    assert "<strong>104</strong>" in text and "as reported" in text and "G1</abbr>" in text
    assert "Pregnant" in text and "from a pregnancy status observation" in text
    bare = doctor.get("/workstation/patients/p-bare").text
    assert "Allergies not recorded" in bare and "no creatinine or eGFR result" in bare
    assert "No laboratory results recorded." in bare and "No vital signs recorded." in bare
    assert "No active medicines recorded." in bare and "No active problems recorded." in bare
    assert "Pregnancy" not in bare


def test_the_chart_speaks_chinese_when_the_reader_chose_it(doctor):
    text = doctor.get("/workstation/patients/p-chart", params={"lang": "zh-Hans"}).text
    assert '<html lang="zh-Hans">' in text
    assert "2型糖尿病" in text and "二甲双胍片" in text and "青霉素类" in text
    assert "过敏" in text and "化验结果" in text


def test_a_patient_out_of_reach_gets_the_403_page_and_the_attempt_is_audited(engine, doctor):
    refused = doctor.get("/workstation/patients/pb1")
    assert refused.status_code == 403 and "Not allowed" in refused.text and "Liu" not in refused.text
    opened = doctor.get("/workstation/patients/p-chart")
    assert opened.status_code == 200
    with unit_of_work(engine) as conn:
        refusals = audit.search(conn, agent="user/doctor.test", outcome="4")
        seen = audit.events_for_patient(conn, "Patient/p-chart")
    # A refusal names what was asked for (the patient is not disclosed to the refused caller's entry).
    assert [e["subtype"] for e in refusals] == ["operation"]
    assert "Patient/pb1/$everything" in json.dumps(refusals[0]["event"])
    mine = [(e["subtype"], e["outcome"]) for e in seen if e["agent"] == "user/doctor.test"]
    assert mine == [("operation", "0")]


def test_breaking_the_glass_opens_the_chart_and_marks_the_reads(engine, doctor):
    token = form_token(doctor.get("/workstation"))
    opened = doctor.post("/workstation/break-glass", data={
        "csrf_token": token, "patient": "pb1", "reason": "Unconscious in the emergency room", "minutes": "30"})
    assert opened.status_code == 200 and 'href="/workstation/patients/pb1"' in opened.text
    chart = doctor.get("/workstation/patients/pb1")
    assert chart.status_code == 200 and "Liu" in chart.text
    with unit_of_work(engine) as conn:
        reads = [e for e in audit.events_for_patient(conn, "Patient/pb1")
                 if e["subtype"] == "operation" and e["agent"] == "user/doctor.test"]
    assert [e["purpose"] for e in reads] == ["BTG"]


@pytest.mark.parametrize("hostile", ["..%2F..%2Fetc%2Fpasswd", "1'%20OR%20'1'%3D'1", "x" * 5000, "%00",
                                     "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "nobody-here", "%2E%2E"])
def test_hostile_or_unknown_ids_give_404_not_a_server_error(doctor, hostile):
    page = doctor.get(f"/workstation/patients/{hostile}", headers={"Accept": "text/html"})
    assert page.status_code in (400, 404)
    assert "<script>alert(1)</script>" not in page.text


def test_only_clinicians_open_charts(engine, world):
    make_user(engine, "patient", fhir_ref="Patient/p-chart")
    with browser() as web:
        sign_in(web, "patient.test")
        assert web.get("/workstation/patients/p-chart").status_code == 403
    with browser() as web:
        assert web.get("/workstation/patients/p-chart").status_code == 303


def test_a_pharmacist_sees_the_chart_without_the_records_their_work_does_not_need(engine, world):
    make_user(engine, "pharmacist")
    with browser() as web:
        sign_in(web, "pharmacist.test")
        page = web.get("/workstation/patients/p-chart")
        home = web.get("/workstation")
    assert page.status_code == 200 and home.status_code == 200
    assert "Metformin" in page.text and "Penicillin" in page.text
    encounters = page.text.split('id="encounters-title"', 1)[1].split("</section>", 1)[0]
    assert "Your role does not see these records." in encounters


def test_a_pregnancy_condition_newer_than_the_status_observation_is_what_the_banner_says():
    from smartcare.hospital.workstation.banner import pregnancy

    woman = {"resourceType": "Patient", "gender": "female", "birthDate": "1995-03-01"}
    said_no = {"resourceType": "Observation", "status": "final", "code": concept(LOINC, "82810-3", "Pregnancy status"),
               "effectiveDateTime": "2026-01-10", "valueCodeableConcept": concept(SNOMED, "60001007", "Not pregnant")}
    diabetes = {"resourceType": "Condition", "onsetDateTime": "2026-06-01",
                "clinicalStatus": concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
                "code": concept(ICD10, "O24.4", "Diabetes mellitus arising in pregnancy")}
    found = pregnancy(woman, [said_no], [diabetes], today=date(2026, 8, 1), locale="en")
    assert found == {"state": "pregnant", "source": "condition", "code": "O24.4",
                     "condition": "Diabetes mellitus arising in pregnancy", "date": "2026-06-01"}
    assert pregnancy(woman, [said_no], [], today=date(2026, 8, 1), locale="en")["state"] == "not-pregnant"
    assert pregnancy(woman, [], [], today=date(2026, 8, 1), locale="en") == {"state": "not-recorded"}
    assert pregnancy({**woman, "gender": "male"}, [], [], today=date(2026, 8, 1), locale="en") is None


def test_the_chart_codes_load_and_every_band_and_list_has_a_source():
    from smartcare.hospital.workstation.codes import chart_codes

    codes = chart_codes()
    assert codes["source"]
    for vital in codes["vitals"]:
        assert vital["source"] and vital["loinc"] and vital["unit"]
        bands = vital["band"].values() if isinstance(vital["band"], dict) else [vital["band"]] if vital["band"] else []
        assert all(low < high for low, high in bands)
    for name in ("creatinine", "egfr", "pregnancy", "no_known_allergy", "critical_interpretations",
                 "report_sections", "national_id"):
        assert codes[name]["source"], name
    assert "98979-8" in codes["egfr"]["loinc"] and "14682-9" in codes["creatinine"]["loinc"]
