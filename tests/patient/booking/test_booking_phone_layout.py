"""On a phone (360 and 390 px wide) the people to choose on the booking pages keep their name and birth date apart:
nothing overlaps its neighbour or runs off the screen. Real Chromium on a live server; screenshots are kept."""

import os
import shutil
from pathlib import Path

import pytest

from smartcare.fhir import store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.patient.booking.test_app_waitlist import full_day  # noqa: F401
from tests.support import IN_CI, live_server
from tests.web_support import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SHOTS = Path(os.environ.get("SMARTCARE_SCREENSHOTS", "/tmp/smartcare-shots")) / "phone-layout"
PHONES = {"360x740": {"width": 360, "height": 740}, "390x844": {"width": 390, "height": 844}}
# Each choice's parts (elements and bare text) as the page lays them out: the boxes of their lines, and the page's width.
BOXES = """(selector) => [...document.querySelectorAll(selector)].map((label) => {
  const parts = [...label.childNodes].map((node) => {
    let rects;
    if (node.nodeType === Node.TEXT_NODE) {
      if (!node.textContent.trim()) return null;
      const range = document.createRange(); range.selectNodeContents(node); rects = [...range.getClientRects()];
    } else { rects = [...node.getClientRects()]; }
    return {text: node.textContent.trim() || node.nodeName,
            rects: rects.filter((r) => r.width > 0).map((r) => ({left: r.left, right: r.right, top: r.top,
                                                                  bottom: r.bottom}))};
  }).filter((part) => part && part.rects.length);
  return {parts, width: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth};
})"""


@pytest.fixture(scope="module")
def chromium(playwright_driver):
    """Debian's headless Chromium (never a downloaded browser)."""
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing")
    browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
    yield browser
    browser.close()


@pytest.fixture
def long_names(hospital, full_day):  # noqa: F811
    """The child the caregiver books for has a long name and a birth date, as real records do."""
    child = {"resourceType": "Patient", "id": "child", "birthDate": "2019-11-23",
             "name": [{"text": "Ouyang Xiaoming-Zhuoran Alexandra"}],
             "managingOrganization": {"reference": "Organization/org-h"}}
    with unit_of_work(hospital.engine) as conn:
        store.update(conn, SYSTEM, child, res_type="Patient", res_id="child")
    return hospital


def _overlaps(a: dict, b: dict) -> bool:
    return any(r["left"] < q["right"] - 0.5 and q["left"] < r["right"] - 0.5 and
               r["top"] < q["bottom"] - 0.5 and q["top"] < r["bottom"] - 0.5 for r in a["rects"] for q in b["rects"])


def check_choices(page, selector: str, *, holding: str = "") -> None:
    """Every choice matching selector keeps its parts apart and on the screen (and holds `holding`, if given)."""
    choices = page.evaluate(BOXES, selector)
    assert choices, f"no {selector} on {page.url}"
    for choice in choices:
        parts = choice["parts"]
        assert not holding or any(holding in p["text"] for p in parts), parts
        for i, a in enumerate(parts):
            assert max(r["right"] for r in a["rects"]) <= choice["width"] + 0.5, f"{a['text']!r} runs off the screen"
            for b in parts[i + 1:]:
                assert not _overlaps(a, b), f"{a['text']!r} overlaps {b['text']!r}"
        assert choice["scroll"] <= choice["width"], "the page scrolls sideways"


@pytest.mark.parametrize("phone", PHONES)
@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_the_waiting_list_and_booking_choices_keep_name_and_birth_date_apart_on_a_phone(
        chromium, long_names, phone, lang):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with live_server("booking-layout") as url:
        context = chromium.new_context(viewport=PHONES[phone], device_scale_factor=2, is_mobile=True,
                                       has_touch=True, locale="en-US", base_url=url)
        try:
            page = context.new_page()
            page.goto("/login")
            page.get_by_label("Username").fill("caregiver.test")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
            page.goto(f"/app/book/slots?doctor=prac-li&date={long_names.day.isoformat()}&lang={lang}")
            check_choices(page, ".waitlist-offer fieldset label", holding="2019-11-23")
            page.screenshot(path=str(SHOTS / f"slots-waitlist-{phone}-{lang}.png"), full_page=True)
            page.goto(f"/app/book/confirm?slot={long_names.slots[-1]}&lang={lang}")
            check_choices(page, "fieldset label", holding="2019-11-23")
            page.screenshot(path=str(SHOTS / f"confirm-{phone}-{lang}.png"), full_page=True)
        finally:
            context.close()
