"""The patient page's charts in a real browser: ECharts draws the readings and the plan's threshold lines."""

import shutil
from pathlib import Path

import pytest

from smartcare.family.monitoring import flows, plans
from smartcare.platform import events
from tests.family.monitoring.monitoring_record import blood_pressure, single, stored, write_record
from tests.support import IN_CI, live_server
from tests.web_support import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def chromium(playwright_driver):
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        (pytest.fail if IN_CI else pytest.skip)(f"{CHROMIUM} is missing")
    browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM),
                                                args=["--headless", "--no-sandbox", "--disable-gpu"])
    yield browser
    browser.close()


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_nurse_sees_the_blood_pressure_chart_with_the_crisis_line(engine, chromium):
    people = write_record(engine)
    plans.assign_plan(people["nurse"], patient_id="p-chen", template_name="hypertension")
    refs = stored(engine, blood_pressure(150, 95), single("8867-4", 70, "/min"))
    refs += stored(engine, blood_pressure(184, 112))
    events.publish(events.DomainEvent(flows.READINGS_STORED, {"patient": "Patient/p-chen", "observations": refs}))
    with live_server("monitoring-uvicorn") as url:
        context = chromium.new_context(base_url=url, locale="en-US", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Username").fill("xu.nurse")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/workstation**")
        page.goto("/workstation/monitoring")
        page.get_by_role("link", name="Chen Guoqiang").click()
        chart = page.locator('.monitoring-chart[data-kind="blood-pressure"] svg')
        chart.wait_for()
        drawn = chart.inner_html()
        # the plan's thresholds as dashed mark lines (180/110 crisis, 140/90 raised), the gridlines being solid
        assert drawn.count("stroke-dasharray") >= 4 and ">180<" in drawn
        assert page.locator('.monitoring-chart[data-kind="heart-rate"] svg').count() == 1
        context.close()
