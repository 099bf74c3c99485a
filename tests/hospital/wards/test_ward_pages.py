"""The ward pages: who may open them, hostile input, and admission to discharge through the forms."""

import pytest

from smartcare.fhir import gateway
from smartcare.hospital.wards import beds
from smartcare.platform.security.context import SYSTEM
from tests.hospital.wards.conftest import signed_in
from tests.web_support import browser, form_token

BED = "/workstation/wards/ward-med/beds/bed-m1"
VITALS = {"systolic": "128", "diastolic": "76", "pulse": "78", "respiratory_rate": "16", "temperature": "36.8",
          "spo2": "97", "spo2_scale": "1", "oxygen": "air", "consciousness": "A"}


def _admit(web, patient="p-wang"):
    page = web.get(f"{BED}?q=Wang")
    assert page.status_code == 200 and "Xiu Wang" in page.text
    return web.post(f"{BED}/admit", data={"csrf_token": form_token(page), "patient": patient, "reason": "J18.9",
                                          "source": "emd", "attending": "prac-doc"})


def test_a_nurse_sees_the_wards_and_the_board(hospital):
    web = hospital["web"]
    wards = web.get("/workstation/wards")
    assert wards.status_code == 200
    assert "Internal Medicine Ward" in wards.text and "Surgery Ward" in wards.text
    board = web.get("/workstation/wards/ward-med")
    assert board.status_code == 200
    assert board.text.count('class="ward-bed ') == 4 and "Free" in board.text


def test_the_board_speaks_chinese(hospital):
    board = hospital["web"].get("/workstation/wards/ward-med?lang=zh-Hans")
    assert board.status_code == 200
    assert "空床" in board.text and "Internal Medicine病区" in board.text


@pytest.mark.parametrize("username", ["qian.pharmacist"])
def test_other_clinicians_are_refused(hospital, username):
    assert signed_in(username).get("/workstation/wards").status_code == 403


def test_signed_out_visitors_go_to_sign_in(hospital):
    assert browser().get("/workstation/wards/ward-med").status_code == 303


def test_a_doctor_of_another_hospital_sees_no_ward_here(hospital):
    web = signed_in("ma.elsewhere")
    assert "Internal Medicine Ward" not in web.get("/workstation/wards").text
    assert web.get("/workstation/wards/ward-med").status_code == 404
    assert web.get(BED).status_code == 404


@pytest.mark.parametrize("path", [
    "/workstation/wards/..%2F..%2Fetc%2Fpasswd", "/workstation/wards/" + "x" * 10_000,
    "/workstation/wards/'%20OR%201=1%20--", "/workstation/wards/bed-m1", "/workstation/wards/ward-med/beds/ward-med",
    "/workstation/wards/ward-med/beds/" + "9" * 10_000, "/workstation/wards/ward-med/beds/bed-s1",
    "/workstation/wards/ward-med/beds/%00/discharge", "/workstation/wards/ward-med/beds/bed-m1/discharge",
])
def test_hostile_or_wrong_ids_get_404(hospital, path):
    assert hospital["web"].get(path).status_code == 404


def test_forms_check_the_csrf_token(hospital):
    r = hospital["web"].post(f"{BED}/admit", data={"csrf_token": "forged", "patient": "p-wang"})
    assert r.status_code == 403
    assert gateway.search(SYSTEM, "Encounter", []) == []


@pytest.mark.parametrize("fields", [
    {"patient": "x" * 10_000, "reason": "J18.9", "source": "emd"},
    {"patient": "p-wang", "reason": "J" * 10_000, "source": "emd"},
    {"patient": "p-wang", "reason": "J18.9", "source": "'; DROP TABLE fhir_resource; --"},
    {"patient": "p-wang", "reason": "J18.9", "source": "emd", "attending": "../prac-doc"},
])
def test_hostile_admission_forms_are_refused_and_write_nothing(hospital, fields):
    web = hospital["web"]
    token = form_token(web.get(f"{BED}?q=Wang"))
    r = web.post(f"{BED}/admit", data={"csrf_token": token, **fields})
    assert r.status_code in (400, 404)
    assert gateway.search(SYSTEM, "Encounter", []) == []
    assert beds.status_of(gateway.read(SYSTEM, "Location/bed-m1")) == "U"


def test_an_unknown_action_is_404(hospital):
    web = hospital["web"]
    token = form_token(web.get(BED))
    assert web.post(f"{BED}/explode", data={"csrf_token": token}).status_code == 404


def test_bad_vitals_get_clear_errors_in_the_readers_language(hospital):
    web = hospital["web"]
    assert _admit(web).status_code == 303
    token = form_token(web.get(BED))
    bad = {**VITALS, "systolic": "1200", "temperature": "hot", "diastolic": "x" * 5000}
    r = web.post(f"{BED}/vitals", data={"csrf_token": token, **bad})
    assert r.status_code == 400
    assert "Systolic blood pressure must be a number from 40 to 300 mmHg." in r.text
    assert "Temperature must be a number from 25.0 to 45.0 °C." in r.text
    r = web.post(f"{BED}/vitals?lang=zh-Hans", data={"csrf_token": token, **bad})
    assert "收缩压" in r.text
    assert gateway.search(SYSTEM, "Observation", []) == []


def test_admit_chart_transfer_and_discharge_through_the_pages(hospital):
    web = hospital["web"]
    assert _admit(web).status_code == 303
    board = web.get("/workstation/wards/ward-med")
    assert "Xiu Wang" in board.text and "Observations overdue" in board.text
    token = form_token(web.get(BED))
    sick = {**VITALS, "respiratory_rate": "23", "spo2": "94", "oxygen": "oxygen"}
    assert web.post(f"{BED}/vitals", data={"csrf_token": token, **sick}).status_code == 303
    board = web.get("/workstation/wards/ward-med")
    assert "NEWS2 5" in board.text and "Medium risk" in board.text and "Observations overdue" not in board.text
    bed = web.get(BED)
    assert 'id="ward-trend"' in bed.text or "echarts" not in bed.text
    moved = web.post(f"{BED}/transfer", data={"csrf_token": token, "to_bed": "bed-m4"})
    assert moved.status_code == 303
    assert beds.status_of(gateway.read(SYSTEM, "Location/bed-m1")) == "H"
    doctor = signed_in("li.doctor")
    page = doctor.get("/workstation/wards/ward-med/beds/bed-m4/discharge")
    assert page.status_code == 200 and "J18.9" in page.text
    drafted = doctor.post("/workstation/wards/ward-med/beds/bed-m4/draft", data={
        "csrf_token": form_token(page), "reason": "Pneumonia", "course": "Improved on antibiotics.",
        "diagnoses": "J18.9", "medications": "None", "follow_up": "GP in one week"})
    assert drafted.status_code == 303
    page = doctor.get("/workstation/wards/ward-med/beds/bed-m4/discharge")
    assert "Sign and discharge" in page.text and "Improved on antibiotics." in page.text
    signed = doctor.post("/workstation/wards/ward-med/beds/bed-m4/sign",
                         data={"csrf_token": form_token(page), "disposition": "home"})
    assert signed.status_code == 303
    assert beds.status_of(gateway.read(SYSTEM, "Location/bed-m4")) == "H"
    cleaned = web.post(f"{BED}/status", data={"csrf_token": token, "status": "U"})
    assert cleaned.status_code == 303
    assert beds.status_of(gateway.read(SYSTEM, "Location/bed-m1")) == "U"


def test_an_occupied_bed_cannot_be_freed_by_hand(hospital):
    web = hospital["web"]
    _admit(web)
    token = form_token(web.get(BED))
    r = web.post(f"{BED}/status", data={"csrf_token": token, "status": "U"})
    assert r.status_code == 409
    assert beds.status_of(gateway.read(SYSTEM, "Location/bed-m1")) == "O"
