"""A critical value reaches the doctor's open workstation at once: an alert dialog over the page, without a
reload, whose button opens the acknowledgement page; until it is read back, every workstation page lists it in a
banner."""

import re
import uuid

import pytest
from playwright.sync_api import expect

from smartcare.fhir import store
from smartcare.hospital.lab import release, results
from smartcare.hospital.lab.critical_views import BANNER_PATH
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.e2e.steps import sign_in
from tests.hospital.lab.lab_workflow_record import place, received, write_directory

PASSWORD = "Harbour-Quill-Meadow-64"
POTASSIUM = "2823-3"
ARRIVES_WITHIN_MS = 5000


@pytest.fixture
def ward(e2e_engine):
    """Mrs Wang, a doctor of her hospital of their own (so no other test's critical values are theirs) and a
    technician who may release results; the doctor's username and contexts for both."""
    tag = uuid.uuid4().hex[:6]
    write_directory()
    doctor_ref = f"Practitioner/prac-crit-{tag}"
    with unit_of_work(e2e_engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", "Practitioner", f"prac-crit-{tag}", {
            "resourceType": "Practitioner", "id": f"prac-crit-{tag}", "name": [{"text": "Chen Jing"}]})])
        doctor = users.create_user(conn, username=f"dr.chen.{tag}", password=PASSWORD, role="doctor",
                                   fhir_ref=doctor_ref, organization="Organization/org-h")
        tech = users.create_user(conn, username=f"lab.tech.crit.{tag}", password=PASSWORD,
                                 role="lab_technician", fhir_ref="Practitioner/prac-lab",
                                 organization="Organization/org-h")
    return {"username": doctor.username, "doctor": users.context_for(doctor), "tech": users.context_for(tech)}


def _release_potassium(ward, value: str) -> None:
    """The doctor's potassium order goes through the laboratory and is released, as the technician would."""
    specimen = received(ward["tech"], place(ward["doctor"], "potassium"))
    report = results.enter_results(ward["tech"], specimen_id=specimen["id"], values={POTASSIUM: value})
    results.review(ward["tech"], report_id=report["id"])
    release.release(ward["tech"], report_id=report["id"])


def _open_live(page, path: str) -> None:
    """Open a workstation page and wait until its alert socket is connected and its banner fetched."""
    with page.expect_response(lambda r: r.url.endswith(BANNER_PATH)):
        page.goto(path)
    expect(page.locator("#crit-alerts")).to_have_attribute("data-live", "true")


def test_the_alert_appears_live_opens_the_acknowledgement_and_the_banner_keeps_it_until_read_back(page, ward):
    sign_in(page, ward["username"], PASSWORD)
    _open_live(page, "/workstation")
    expect(page.locator("#crit-banner")).to_be_hidden()

    _release_potassium(ward, "7.0")
    alert = page.get_by_role("alertdialog")
    expect(alert).to_be_visible(timeout=ARRIVES_WITHIN_MS)
    expect(alert).to_contain_text("Critical laboratory result")
    expect(alert).to_contain_text("Wang Fang")
    expect(alert).to_contain_text("7 mmol/L (HH, Critical high)")
    acknowledge = alert.get_by_role("button", name="Acknowledge now")
    expect(acknowledge).to_be_focused()
    # The page behind is inert: a stray click there neither closes the alert nor reaches the page.
    page.mouse.click(5, 5)
    expect(alert).to_be_visible()
    page.screenshot(path="/tmp/sc-e2e-critical-alert.png")

    acknowledge.click()
    page.wait_for_url(re.compile(r"/workstation/lab/critical/[^/]+$"))
    task_path = re.search(r"/workstation/lab/critical/[^/?#]+", page.url).group(0)
    assert "7 mmol/L" in page.locator("main").inner_text()

    # Offline or elsewhere: any workstation page lists what still waits.
    _open_live(page, "/workstation")
    banner = page.locator("#crit-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Wang Fang")
    expect(banner).to_contain_text("7 mmol/L")
    expect(banner.locator(f'a[href="{task_path}"]')).to_have_count(1)
    page.screenshot(path="/tmp/sc-e2e-critical-banner.png")

    banner.locator(f'a[href="{task_path}"]').click()
    page.get_by_label("Type the value back as you read it").fill("7.0")
    page.get_by_role("button", name="Acknowledge", exact=True).click()
    page.wait_for_load_state()
    assert "Acknowledged" in page.locator("main").inner_text()

    _open_live(page, "/workstation")
    expect(page.locator("#crit-banner")).to_be_hidden()
    expect(page.locator(f'#crit-banner a[href="{task_path}"]')).to_have_count(0)


def test_a_chinese_reading_doctor_gets_the_alert_in_chinese(page, ward):
    sign_in(page, ward["username"], PASSWORD)
    _open_live(page, "/workstation?lang=zh-Hans")
    _release_potassium(ward, "2.1")
    alert = page.get_by_role("alertdialog")
    expect(alert).to_be_visible(timeout=ARRIVES_WITHIN_MS)
    expect(alert).to_contain_text("检验危急值")
    expect(alert).to_contain_text("钾 2.1 mmol/L（LL，危急低值）")
    expect(alert.get_by_role("button", name="立即确认")).to_be_focused()
    page.screenshot(path="/tmp/sc-e2e-critical-alert-zh.png")

    # "Later" closes the alert (and the page is usable again); the value stays in the banner.
    alert.get_by_role("button", name="稍后").click()
    expect(alert).to_have_count(0)
    expect(page.locator("#crit-banner")).to_contain_text("钾")
    expect(page.locator("#crit-banner")).to_contain_text("2.1 mmol/L")
