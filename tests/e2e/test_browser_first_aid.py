"""First aid in a real phone-sized browser: the CPR metronome counts, steps go one per screen, and the guides
open offline once the service worker is active. Screenshots of the list and the CPR page go to /tmp."""

from pathlib import Path

import pytest

from tests.e2e.conftest import MOBILE

SHOTS = Path("/tmp")


@pytest.fixture
def phone(browser, base_url):
    """A phone-sized browser context (390x844, touch, English browser) on the live server."""
    context = browser.new_context(viewport=MOBILE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="en-US", base_url=base_url)
    yield context
    context.close()


def test_cpr_metronome_counts_compressions_and_steps_go_one_per_screen(phone):
    page = phone.new_page()
    page.goto("/app/first-aid/cpr-adult?lang=en")
    page.get_by_role("button", name="Start metronome").click()
    page.wait_for_function("() => Number(document.querySelector('[data-count]').textContent) >= 3")
    stop = page.get_by_role("button", name="Stop metronome")
    assert stop.get_attribute("aria-pressed") == "true"
    stop.click()
    assert page.get_by_role("button", name="Start metronome").is_visible()

    visible = page.locator(".fa-step:visible")
    assert visible.count() == 1 and "Step 1 of" in visible.inner_text()
    page.get_by_role("button", name="Next step").click()
    assert "Step 2 of" in page.locator(".fa-step:visible").inner_text()
    page.get_by_role("button", name="Back").click()
    assert "Step 1 of" in page.locator(".fa-step:visible").inner_text()
    call = page.get_by_role("link", name="Call 120").last
    assert call.get_attribute("href") == "tel:120" and call.is_visible()


def test_guides_open_offline_once_the_service_worker_is_active(phone):
    page = phone.new_page()
    page.goto("/app/first-aid?lang=en")
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null")
    page.get_by_text("Saved on this device").wait_for()
    phone.set_offline(True)
    try:
        page.reload()
        assert page.locator("h1").inner_text() == "First aid"
        page.goto("/app/first-aid/burns?lang=zh-Hans")
        assert page.locator("h1").inner_text() == "烧烫伤"
        assert page.locator(".fa-step__picture").first.evaluate("img => img.complete && img.naturalWidth > 0")
        page.goto("/app/first-aid/choking?lang=en")
        assert page.locator("h1").inner_text() == "Choking"
    finally:
        phone.set_offline(False)


@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_first_aid_screenshots(phone, lang):
    page = phone.new_page()
    for name, path in (("list", "/app/first-aid"), ("cpr", "/app/first-aid/cpr-adult")):
        page.goto(f"{path}?lang={lang}")
        page.evaluate("document.fonts.ready")
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], f"{path} is {widths[0]}px wide in a {widths[1]}px viewport"
        shot = SHOTS / f"smartcare-first-aid-{name}-{lang}.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
