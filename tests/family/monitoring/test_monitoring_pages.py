"""The care team's monitoring dashboard and patient page in the workstation, in English and Chinese."""

import json
import re

import pytest

from smartcare.family.monitoring import flows, plans, service
from smartcare.fhir import store
from smartcare.platform import events
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.family.monitoring.monitoring_record import blood_pressure, single, stored, write_record
from tests.web_support import browser, form_token, sign_in


@pytest.fixture
def centre(engine):
    people = write_record(engine)
    lin = {"resourceType": "Patient", "id": "p-lin", "name": [{"text": "Lin Xiu"}],
           "managingOrganization": {"reference": "Organization/org-c"}}
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", "Patient", "p-lin", lin)])
    plans.assign_plan(people["nurse"], patient_id="p-lin", template_name="hypertension")
    plans.assign_plan(people["nurse"], patient_id="p-chen", template_name="hypertension")
    lin_reading = {**blood_pressure(126, 80), "subject": {"reference": "Patient/p-lin"}}
    stored(engine, lin_reading)
    refs = stored(engine, blood_pressure(184, 112), single("8867-4", 72, "/min"))
    events.publish(events.DomainEvent(flows.READINGS_STORED, {"patient": "Patient/p-chen", "observations": refs}))
    return people


def _signed_in(username):
    web = browser()
    sign_in(web, username)
    return web


def test_the_nurse_sees_her_patients_most_at_risk_first_with_their_latest_readings(centre):
    page = _signed_in("xu.nurse").get("/workstation/monitoring")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert page.text.index("Chen Guoqiang") < page.text.index("Lin Xiu")
    assert "Blood pressure 184/112" in page.text and "1 · Urgent" in page.text
    assert "out of range" in page.text and "Hypertension" in page.text
    assert "Blood pressure 126/80" in page.text
    assert re.search(r">\s*7%\s*<", page.text)  # one reading of the 14 a week the plan asks for


def test_the_dashboard_is_in_chinese(centre):
    page = _signed_in("xu.nurse").get("/workstation/monitoring", params={"lang": "zh-Hans"})
    assert "远程监测" in page.text and "高血压" in page.text and "加急" in page.text


def test_a_doctor_of_another_organisation_sees_none_of_them_and_patients_cannot_open_it(centre):
    page = _signed_in("ma.doctor").get("/workstation/monitoring")
    assert page.status_code == 200 and "Chen Guoqiang" not in page.text and "Lin Xiu" not in page.text
    assert _signed_in("chen.son").get("/workstation/monitoring").status_code == 403
    assert browser().get("/workstation/monitoring").status_code == 303


def test_the_patient_page_charts_readings_with_the_thresholds_and_acknowledges_an_alert(centre):
    web = _signed_in("xu.nurse")
    page = web.get("/workstation/monitoring/patients/p-chen")
    assert page.status_code == 200 and "Blood pressure 180/110 or higher" in page.text
    assert "ESC/ESH" in page.text
    data = json.loads(re.search(r'id="monitoring-data">(.*?)</script>', page.text, re.S).group(1))
    assert data["series"]["blood-pressure"][0][1:] == [184, 112]
    assert {"field": "systolic", "value": 180, "rule": "bp-crisis", "severity": "urgent"} in \
        data["thresholds"]["blood-pressure"]
    assert "/static/vendor/echarts/echarts.min.js" in page.text and "/static/monitoring/monitoring.js?v=" in page.text
    [alert] = service.list_alerts(SYSTEM, patient="p-chen")
    done = web.post(f"/workstation/monitoring/alerts/{alert['id']}/acknowledge",
                    data={"csrf_token": form_token(page), "note": "On my way"})
    assert done.status_code == 303 and done.headers["location"].endswith(f"#alert-{alert['id']}")
    assert service.list_alerts(SYSTEM, patient="p-chen")[0]["state"] == "acknowledged"
    again = web.post(f"/workstation/monitoring/alerts/{alert['id']}/snooze",
                     data={"csrf_token": form_token(page), "minutes": "abc", "reason": "x"})
    assert "error=1" in again.headers["location"]
    assert "The alert was not changed" in web.get(again.headers["location"]).text


def test_a_notice_link_leads_to_the_patient_page_and_a_forged_form_is_refused(centre):
    web = _signed_in("xu.nurse")
    [alert] = service.list_alerts(SYSTEM, patient="p-chen")
    link = web.get(f"/workstation/monitoring/alerts/{alert['id']}")
    assert link.status_code == 303 and link.headers["location"].startswith("/workstation/monitoring/patients/p-chen")
    forged = web.post(f"/workstation/monitoring/alerts/{alert['id']}/close", data={"csrf_token": "x",
                                                                                   "action": "phone-call"})
    assert forged.status_code == 403 and service.list_alerts(SYSTEM, patient="p-chen")[0]["state"] == "new"
    assert _signed_in("ma.doctor").get(f"/workstation/monitoring/alerts/{alert['id']}").status_code == 404
    assert _signed_in("ma.doctor").get("/workstation/monitoring/patients/p-chen").status_code == 404


def test_the_chart_script_is_served():
    from fastapi.testclient import TestClient

    from smartcare.platform.web.app import create_app
    with TestClient(create_app()) as web:
        assert "SmartCareTimeChart.draw" in web.get("/static/monitoring/monitoring.js").text
        assert web.get("/static/monitoring/../views.py").status_code == 404
