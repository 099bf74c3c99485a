"""The care team's monitoring dashboard is live: a GP keeps it open, Mr Chen's home blood pressure monitor sends a
reading, and it appears in his row without a reload; a crisis reading then puts his open alert at the top of the
list, and the status line says which rows changed."""

import re

import orjson
import pytest
from playwright.sync_api import expect

from smartcare.family.devices import registry, service
from smartcare.family.monitoring import plans
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.e2e.steps import sign_in
from tests.family.monitoring.monitoring_record import write_record
from tests.web_support import PASSWORD

SEEN_WITHIN_MS = 15000


@pytest.fixture
def monitored(e2e_engine):
    """Mr Chen on a hypertension plan set by Dr Gao, with a blood pressure monitor at home; its id."""
    people = write_record(e2e_engine)
    plans.assign_plan(people["gp"], patient_id="p-chen", template_name="hypertension")
    with unit_of_work(e2e_engine) as conn:
        monitor = registry.register_device(conn, ctx=SYSTEM, kind="bp-monitor", patient_id="p-chen")
    return monitor.device.device_id


def _send(engine, device_id: str, seq: int, systolic: int, diastolic: int) -> None:
    frame = {"seq": seq, "time": clock.now().isoformat(timespec="seconds"),
             "readings": [{"type": "blood-pressure", "systolic": systolic, "diastolic": diastolic, "unit": "mm[Hg]"}]}
    result = service.ingest_frame(engine, device_id=device_id, payload=orjson.dumps(frame))
    assert result.status == "accepted", result.as_json()


def test_a_home_reading_and_its_alert_reach_the_open_dashboard_without_a_reload(page, e2e_engine, monitored):
    sign_in(page, "gao.gp", PASSWORD)
    page.goto("/workstation/monitoring?refresh=2")
    live = page.locator("#mon-live")
    expect(live).to_have_attribute("data-live", "true")
    chen = live.get_by_role("row", name="Chen Guoqiang")
    expect(chen).to_contain_text("No readings yet")
    page.evaluate("window.__sameDocument = true")

    _send(e2e_engine, monitored, 1, 148, 92)
    expect(chen).to_contain_text("148/92", timeout=SEEN_WITHIN_MS)
    expect(chen).to_have_class("monitoring-changed")
    expect(page.locator("#mon-live-status")).to_have_text("1 patient has new readings or alerts")
    expect(page.locator("#mon-live-updated")).to_contain_text("Updated")

    _send(e2e_engine, monitored, 2, 192, 121)
    expect(chen).to_contain_text("192/121", timeout=SEEN_WITHIN_MS)
    # Blood pressure at or above 180/110 is an urgent alert in the hypertension plan (NICE NG136).
    expect(chen.get_by_role("cell").nth(1).locator("mark")).to_contain_text(re.compile("urgent", re.I),
                                                                             timeout=SEEN_WITHIN_MS)
    assert page.evaluate("window.__sameDocument") is True  # never reloaded
