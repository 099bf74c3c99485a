"""The regional record's pages: the clinician's "Regional record" tab decided by the access policy, the resident's
own record in the app, both in English and Chinese, with every read audited."""

import json
import re

import pytest

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from tests.regional.records.conftest import ORG_A
from tests.web_support import browser, form_token, make_user, sign_in


def _timeline(page) -> dict:
    found = re.search(r'<script type="application/json" id="regional-timeline-data">(.*?)</script>', page.text, re.S)
    return json.loads(found.group(1))


@pytest.fixture
def hospital_doctor(engine, resident):
    """A doctor of the first hospital, where Wang Fang is registered as rr-a."""
    make_user(engine, "doctor", "hdoc.test", organization=f"Organization/{ORG_A}", fhir_ref="Practitioner/hdoc")
    with browser() as web:
        sign_in(web, "hdoc.test")
        yield web


def test_the_chart_links_to_the_regional_record_tab(hospital_doctor):
    chart = hospital_doctor.get("/workstation/patients/rr-a")
    assert chart.status_code == 200
    assert 'href="/workstation/patients/rr-a/regional-record"' in chart.text


def test_a_clinician_sees_the_regional_record_as_the_policy_allows_in_english_and_chinese(engine, hospital_doctor):
    page = hospital_doctor.get("/workstation/patients/rr-a/regional-record", params={"lang": "en"})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page.text
    assert "Regional record" in text and "Essential (primary) hypertension" in text and "Penicillin" in text
    assert "Riverside First Hospital" in text and "Fasting glucose" in text
    assert "Zhou" not in text and "Asthma" not in text
    assert _timeline(page)["points"][0]["institution"] == "Riverside First Hospital"
    zh = hospital_doctor.get("/workstation/patients/rr-a/regional-record", params={"lang": "zh-Hans"})
    assert '<html lang="zh-Hans">' in zh.text
    assert "区域健康档案" in zh.text and "原发性高血压" in zh.text and "青霉素类" in zh.text and "就诊与住院" in zh.text
    with unit_of_work(engine) as conn:
        reads = [e for e in audit.events_for_patient(conn, "Patient/rr-a") if e["agent"] == "user/hdoc.test"]
    assert len(reads) == 2


def test_with_reach_to_every_linked_record_the_clinician_sees_one_record_from_three_institutions(hospital_doctor):
    for other in ("rr-b", "rr-c"):
        opened = hospital_doctor.post("/workstation/break-glass", data={
            "csrf_token": form_token(hospital_doctor.get("/workstation")), "patient": other,
            "reason": "Unconscious in the emergency room", "minutes": "30"})
        assert opened.status_code == 200
    page = hospital_doctor.get("/workstation/patients/rr-a/regional-record", params={"lang": "en"})
    assert page.status_code == 200
    rows = {p["institution"] for p in _timeline(page)["points"]}
    assert rows == {"Riverside First Hospital", "Hillside District Hospital", "Eastbank Community Health Centre"}
    assert "From 3 institutions:" in page.text and "one resident, 3 linked records in the region" in page.text
    # Amlodipine 5 mg from both hospitals is one line naming both; 10 mg from the health centre is another.
    assert page.text.count("the same medicine from 2 institutions") == 1
    assert "CT chest" in page.text and "Influenza, seasonal, injectable" in page.text


def test_a_clinician_without_reach_sees_nothing_and_the_refusal_is_audited(engine, resident):
    make_user(engine, "doctor", "far.test", organization="Organization/org-elsewhere", fhir_ref="Practitioner/far")
    with browser() as web:
        sign_in(web, "far.test")
        for asked in ("rr-a", "rr-b", "rr-c"):
            page = web.get(f"/workstation/patients/{asked}/regional-record")
            assert page.status_code == 403
            assert "王芳" not in page.text and "Amlodipine" not in page.text and "Hillside" not in page.text
    with unit_of_work(engine) as conn:
        refusals = audit.search(conn, agent="user/far.test", outcome="4")
    assert len(refusals) == 3


def test_an_unknown_patient_gives_404_and_hostile_ids_no_server_error(hospital_doctor):
    assert hospital_doctor.get("/workstation/patients/nobody/regional-record").status_code == 404
    for hostile in ("%3Cscript%3E", "x" * 300, "a'b"):
        page = hospital_doctor.get(f"/workstation/patients/{hostile}/regional-record", headers={"Accept": "text/html"})
        assert page.status_code in (400, 404) and "<script>" not in page.text


def test_patients_cannot_open_the_workstation_tab(engine, resident):
    make_user(engine, "patient", fhir_ref="Patient/rr-c")
    with browser() as web:
        sign_in(web, "patient.test")
        assert web.get("/workstation/patients/rr-c/regional-record").status_code == 403


@pytest.fixture
def resident_app(engine, resident):
    """Wang Fang signed in to the app, her account linked to her record at the community health centre."""
    make_user(engine, "patient", fhir_ref="Patient/rr-c")
    with browser() as web:
        sign_in(web, "patient.test")
        yield web


def test_the_resident_sees_her_own_record_in_the_app(engine, resident_app):
    home = resident_app.get("/app")
    assert 'href="/app/regional-record"' in home.text
    page = resident_app.get("/app/regional-record", params={"lang": "en"})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page.text
    assert "My regional health record" in text and 'name="viewport"' in text
    assert "Influenza, seasonal, injectable" in text and "Eastbank Community Health Centre" in text
    assert "Hypertension follow-up" in text
    # Her records at other institutions are the same person: never offered as somebody else to choose.
    assert "Whose record" not in text
    assert "Zhou" not in text and "Asthma" not in text
    zh = resident_app.get("/app/regional-record", params={"lang": "zh-Hans"})
    assert "我的区域健康档案" in zh.text and "流感疫苗" in zh.text and "预防接种" in zh.text
    with unit_of_work(engine) as conn:
        reads = [e for e in audit.events_for_patient(conn, "Patient/rr-c") if e["agent"] == "user/patient.test"]
    assert reads


def test_the_resident_cannot_ask_for_someone_elses_record(resident_app):
    page = resident_app.get("/app/regional-record", params={"person": "rr-x"})
    assert page.status_code == 200 and "Zhou" not in page.text and "Asthma" not in page.text
