"""The patient's medication page and JSON API, in English and Chinese, and the doctor's adherence view; nobody
reaches another patient's doses."""

import re

import pytest

from smartcare.family.medication import records
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.web_support import browser, form_token, sign_in

BREAKFAST_DOSE = "r-met:2026-03-02T00:00:00.000Z"


@pytest.fixture
def patient_web(family):
    web = browser()
    sign_in(web, "patient.test")
    return web


def _api_session(web, page: str = "/app/medication"):
    text = web.get(page).text
    found = re.search(r'name="csrf-token" content="([^"]*)"', text) or re.search(
        r'name="csrf_token" value="([^"]*)"', text + web.get("/account").text)
    web.headers["X-CSRF-Token"] = found.group(1)
    return web


def _administrations() -> list[dict]:
    with unit_of_work() as conn:
        return records.search(conn, SYSTEM, "MedicationAdministration", [("patient", "Patient/pa1")])


def test_the_page_shows_todays_doses_days_left_and_adherence(patient_web):
    page = patient_web.get("/app/medication")
    assert page.status_code == 200
    text = page.text
    assert "My medicines" in text and "Metformin 500 mg" in text and "Amlodipine 5 mg" in text
    assert "08:00" in text and "18:30" in text and "Take after the meal." in text
    assert "9 days left" in text and "Ask to renew" in text
    assert 'id="med-adherence-chart"' in text and "med-adherence-data" in text
    assert "/medication/adherence-chart.js" in text or "echarts" not in text


def test_the_page_in_chinese(patient_web):
    text = patient_web.get("/app/medication", params={"lang": "zh-Hans"}).text
    assert "我的用药" in text and "饭后服用" in text and "还剩 9 天" in text and "申请续方" in text
    assert "My medicines" not in text


def test_marking_a_dose_taken_from_the_page(patient_web):
    page = patient_web.get("/app/medication")
    done = patient_web.post("/app/medication", data={"csrf_token": form_token(page), "action": "taken",
                                                     "dose": BREAKFAST_DOSE, "patient": "pa1"})
    assert done.status_code == 303
    [taken] = _administrations()
    assert taken["status"] == "completed" and taken["identifier"][0]["value"] == BREAKFAST_DOSE
    assert "med-dose--taken" in patient_web.get("/app/medication").text


def test_the_api_lists_marks_snoozes_and_renews(patient_web):
    web = _api_session(patient_web)
    shown = web.get("/api/v1/medication").json()
    doses = {d["dose"]: d for d in shown["today"]}
    assert doses[BREAKFAST_DOSE]["state"] == "missed" and shown["timezone"] == "Asia/Shanghai"
    assert web.post("/api/v1/medication/doses/skip", json={"dose": BREAKFAST_DOSE, "reason": "forgot"}).json()[
        "state"] == "skipped"
    snoozed = web.post("/api/v1/medication/doses/snooze", json={"dose": "r-met:2026-03-02T10:30:00.000Z",
                                                               "minutes": 30})
    assert snoozed.json()["remind_at"] == "2026-03-02T08:30:00.000Z"
    renewed = web.post("/api/v1/medication/prescriptions/r-met/renew", json={})
    assert renewed.status_code == 201 and renewed.json()["owner"] == "Practitioner/doc-a"
    again = web.get("/api/v1/medication").json()
    assert {d["dose"]: d for d in again["today"]}[BREAKFAST_DOSE]["state"] == "skipped"
    assert again["adherence"]["weeks"][-1]["skipped"] == 1


@pytest.mark.parametrize(("body", "status"), [
    (b"not json", 400), (b"[]", 400), (b'{"dose": 5}', 422), (b'{"dose": "nonsense"}', 422),
    (b'{"dose": "r-met:2026-03-02T03:00:00.000Z"}', 404), (b'{"dose": "r-met:2026-03-02T00:00:00.000Z", "reason": "x"}',
                                                           422),
])
def test_bad_input_gets_a_clear_error_not_a_500(patient_web, body, status):
    web = _api_session(patient_web)
    answer = web.post("/api/v1/medication/doses/skip", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == status and answer.json()["message"]


def test_another_patient_can_neither_read_nor_mark_someone_elses_doses(family):
    web = browser()
    sign_in(web, "other.patient")
    web = _api_session(web)
    assert web.get("/api/v1/medication", params={"patient": "pa1"}).status_code == 404
    assert web.post("/api/v1/medication/doses/taken", json={"dose": BREAKFAST_DOSE}).status_code == 404
    assert web.post("/api/v1/medication/doses/snooze", json={"dose": BREAKFAST_DOSE, "minutes": 10}).status_code == 404
    assert web.post("/api/v1/medication/prescriptions/r-met/renew", json={}).status_code == 404
    page = web.get("/app/medication", params={"patient": "pa1"})
    assert "Metformin" not in page.text
    form = web.post("/app/medication", data={"csrf_token": web.headers["X-CSRF-Token"], "action": "taken",
                                             "dose": BREAKFAST_DOSE})
    assert form.status_code == 404
    assert _administrations() == []


def test_the_caregiver_sees_and_marks_the_doses_of_the_person_they_look_after(family):
    web = browser()
    sign_in(web, "caregiver.test")
    web = _api_session(web, "/app/medication?patient=pa1")
    assert "Metformin 500 mg" in web.get("/app/medication", params={"patient": "pa1"}).text
    assert web.post("/api/v1/medication/doses/taken?patient=pa1", json={"dose": BREAKFAST_DOSE}).status_code == 200
    [taken] = _administrations()
    assert taken["performer"] == [{"actor": {"reference": "RelatedPerson/rp1"}}]


def test_the_doctor_sees_the_patients_adherence_in_the_workstation(family):
    web = browser()
    sign_in(web, "doctor.test")
    page = web.get("/workstation/patients/pa1/medication")
    assert page.status_code == 200
    assert "Medication adherence" in page.text and "Metformin 500 mg" in page.text and "Li Wang" in page.text
    assert web.get("/workstation/patients/pa2/medication").status_code == 404  # not in this doctor's care
    assert web.get("/app/medication").status_code == 403


def test_pages_and_api_need_a_sign_in(family):
    web = browser()
    assert web.get("/app/medication").status_code == 303
    assert web.get("/api/v1/medication").status_code == 401
    assert web.get("/medication/adherence-chart.js").status_code == 303
