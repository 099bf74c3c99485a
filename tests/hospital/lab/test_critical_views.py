"""The banner of critical values waiting for the signed-in doctor, and the live alert on staff pages."""

import pytest

from smartcare.fhir import gateway, store
from smartcare.hospital.lab import critical, release, results
from smartcare.hospital.lab.critical_views import BANNER_PATH
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.hospital.lab.lab_workflow_record import place, received, write_hospital
from tests.web_support import browser, make_user, sign_in

POTASSIUM = "2823-3"


@pytest.fixture
def lab(engine, now):
    return write_hospital(engine)


def _released(lab, value: str) -> dict:
    specimen = received(lab["tech"], place(lab["doctor"], "potassium"))
    report = results.enter_results(lab["tech"], specimen_id=specimen["id"], values={POTASSIUM: value})
    results.review(lab["tech"], report_id=report["id"])
    release.release(lab["tech"], report_id=report["id"])
    [task] = gateway.search(SYSTEM, "Task", [("code", f"{critical.TASK_SYSTEM}|{critical.CRITICAL}"),
                                             ("status", "requested")])
    return task


def _signed_in(username: str):
    web = browser()
    sign_in(web, username)
    return web


def test_the_banner_lists_the_doctors_unacknowledged_value_until_it_is_read_back(lab):
    task = _released(lab, "7.0")
    web = _signed_in("li.doctor")
    banner = web.get(BANNER_PATH)
    assert banner.status_code == 200 and banner.headers["cache-control"] == "no-store"
    assert "Critical values awaiting acknowledgement" in banner.text
    assert "Wang Fang" in banner.text and "7 mmol/L" in banner.text and "HH" in banner.text
    assert "Critical high" in banner.text and f'href="/workstation/lab/critical/{task["id"]}"' in banner.text
    critical.acknowledge(lab["doctor"], task_id=task["id"], read_back="7.0")
    assert web.get(BANNER_PATH).text.strip() == ""


def test_the_banner_is_in_the_doctors_language(lab):
    _released(lab, "2.1")
    banner = _signed_in("li.doctor").get(BANNER_PATH, params={"lang": "zh-Hans"})
    assert "等待确认的危急值" in banner.text and "钾" in banner.text and "危急低值" in banner.text
    assert "立即确认" in banner.text and "2.1 mmol/L" in banner.text


def test_a_value_owned_by_another_doctor_is_not_in_the_banner(lab):
    _released(lab, "7.0")
    assert _signed_in("zhou.head").get(BANNER_PATH).text.strip() == ""


def test_the_banner_needs_a_signed_in_clinician(lab, engine):
    _released(lab, "7.0")
    assert browser().get(BANNER_PATH).status_code == 303
    make_user(engine, "patient", username="wang.patient", fhir_ref="Patient/p-wang")
    assert _signed_in("wang.patient").get(BANNER_PATH).status_code == 403


def test_markup_in_the_record_is_shown_as_text_in_the_banner(lab):
    _released(lab, "7.0")
    wang = {**gateway.read(SYSTEM, "Patient/p-wang"), "name": [{"text": "<img src=x onerror=alert(1)>"}]}
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", "Patient", "p-wang", wang)])
    banner = _signed_in("li.doctor").get(BANNER_PATH)
    assert "<img" not in banner.text and "&lt;img src=x onerror=alert(1)&gt;" in banner.text


def test_staff_pages_carry_the_live_alert_and_its_words_and_patient_pages_do_not(lab, engine):
    page = _signed_in("li.doctor").get("/workstation")
    assert page.status_code == 200
    assert "js/critical-alerts.js" in page.text and 'role="alertdialog"' in page.text
    assert 'data-kinds="lab.critical"' in page.text and "Acknowledge now" in page.text
    zh = _signed_in("li.doctor").get("/workstation", params={"lang": "zh-Hans"})
    assert "立即确认" in zh.text and "稍后" in zh.text
    make_user(engine, "patient", username="wang.patient", fhir_ref="Patient/p-wang")
    app = _signed_in("wang.patient").get("/app")
    assert app.status_code == 200 and "critical-alerts.js" not in app.text
    assert "critical-alerts.js" not in browser().get("/").text
