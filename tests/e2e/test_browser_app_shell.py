"""The app shell in a real phone-sized browser (360 px): no sideways scrolling on the home and other app pages,
also with large text; every control on the home has an accessible name; the home's transferred weight; the
service worker keeps the first-aid guides and the health record summary for offline use. Screenshots go to /tmp."""

import uuid
from pathlib import Path

import pytest

from smartcare.fhir import store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.e2e.steps import sign_in

SHOTS = Path("/tmp")
PASSWORD = "Blue-Harbour-Lantern-42"
NARROW = {"width": 360, "height": 740}
MAX_HOME_BYTES = 500 * 1024
# Every focusable control with the name a screen reader would announce (aria-label, labelled-by, its text, alt,
# title, or its label element).
NAMELESS = """() => Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea'))
  .filter((el) => el.offsetParent !== null || el.getClientRects().length)
  .filter((el) => {
    const byLabel = el.labels && Array.from(el.labels).some((l) => l.textContent.trim());
    const byRef = (el.getAttribute('aria-labelledby') || '').split(' ').some((id) => id && document.getElementById(id));
    const name = (el.getAttribute('aria-label') || el.textContent || el.getAttribute('title') || el.value || '').trim();
    return !(byLabel || byRef || name);
  }).map((el) => el.outerHTML.slice(0, 120))"""


@pytest.fixture(scope="module")
def resident(e2e_engine):
    tag = uuid.uuid4().hex[:8]
    patient = {"resourceType": "Patient", "id": f"shell-{tag}", "name": [{"family": "Harbour", "given": ["Qing"]}],
               "birthDate": "1948-03-02"}
    medicine = {"resourceType": "MedicationRequest", "id": f"shell-mr-{tag}", "status": "active", "intent": "order",
                "subject": {"reference": f"Patient/{patient['id']}"},
                "medicationCodeableConcept": {"text": "Amlodipine 5 mg"},
                "dosageInstruction": [{"timing": {"repeat": {"timeOfDay": ["08:00:00"]}}}]}
    with unit_of_work(e2e_engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in (patient, medicine)])
        users.create_user(conn, username=f"qing.{tag}", password=PASSWORD, role="patient",
                          fhir_ref=f"Patient/{patient['id']}")
    return f"qing.{tag}"


@pytest.fixture
def narrow(browser, base_url):
    context = browser.new_context(viewport=NARROW, device_scale_factor=1, is_mobile=True, has_touch=True,
                                  locale="en-US", base_url=base_url)
    yield context
    context.close()


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_the_home_fits_360_px_names_every_control_and_weighs_under_500_kb(narrow, resident):
    page = narrow.new_page()
    sign_in(page, resident, PASSWORD)
    loaded: list[int] = []
    page.on("requestfinished", lambda request: loaded.append(request.sizes()["responseBodySize"]
                                                             + request.sizes()["responseHeadersSize"]))
    page.goto("/app")
    page.wait_for_load_state("networkidle")
    assert "Amlodipine 5 mg: 08:00" in page.locator(".app-now").inner_text()
    assert page.evaluate(NAMELESS) == []
    assert _overflow(page) <= NARROW["width"]
    assert 0 < sum(loaded) <= MAX_HOME_BYTES, sum(loaded)
    page.screenshot(path=str(SHOTS / "app-home-360.png"), full_page=True)


@pytest.mark.parametrize("path", ["/app", "/app/settings", "/app/first-aid", "/app/offline", "/app/drugs"])
def test_app_pages_fit_360_px_with_large_text_in_both_languages(narrow, resident, path):
    page = narrow.new_page()
    sign_in(page, resident, PASSWORD)
    page.goto("/app/settings?lang=en")  # the language an earlier case chose stays with the account
    page.get_by_label("Large text (easier to read)").check()
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_load_state()
    assert page.evaluate("document.documentElement.classList.contains('text-large')")
    for lang in ("en", "zh-Hans"):
        page.goto(f"{path}?lang={lang}")
        assert _overflow(page) <= NARROW["width"], f"{path} {lang}"
    if path == "/app":
        page.screenshot(path=str(SHOTS / "app-home-360-large-zh.png"), full_page=True)


def test_first_aid_and_the_record_summary_open_offline_after_a_visit(narrow, resident):
    page = narrow.new_page()
    sign_in(page, resident, PASSWORD)
    page.goto("/app")
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=30000)
    page.goto("/app/record")
    page.wait_for_function("() => caches.keys().then((n) => n.some((k) => k.startsWith('smartcare-app-record-')))")
    record_title = page.title()
    narrow.set_offline(True)
    try:
        page.goto("/app/record")
        assert page.title() == record_title
        page.goto("/app/first-aid?lang=en")
        assert page.locator("h1").inner_text() == "First aid"
        page.goto("/app/visits")
        assert page.locator("h1").inner_text() == "You are offline"
    finally:
        narrow.set_offline(False)
    page.goto("/login")
    page.wait_for_function("() => caches.keys().then((n) => !n.some((k) => k.startsWith('smartcare-app-record-')))")
