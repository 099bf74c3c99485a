"""The web shell in a real browser: languages, keyboard access, the phone layout, and screenshots."""

from pathlib import Path

import pytest

SHOTS = Path("/tmp")


def html_lang(page) -> str:
    return page.evaluate("document.documentElement.lang")


def test_landing_page_in_english(page):
    page.goto("/")
    assert html_lang(page) == "en"
    assert page.locator("h1").inner_text() == "Smart medical care for a whole region"
    assert page.locator('main a[href="/fhir/metadata"]').is_visible()
    assert page.locator('main a[href="/docs"]').is_visible()
    # The front-end packages arrive from node_modules through the allow-list.
    assert page.evaluate("window.htmx && window.htmx.version").startswith("2.")
    assert page.evaluate("typeof window.Alpine") == "object"


def test_switching_to_chinese_changes_the_page_and_persists(page):
    page.goto("/")
    page.get_by_role("link", name="简体中文").click()
    page.wait_for_url("**/?lang=zh-Hans")
    assert html_lang(page) == "zh-Hans"
    assert page.locator("h1").inner_text() == "覆盖整个区域的智慧医疗"
    assert page.get_by_role("link", name="FHIR R4 能力声明（CapabilityStatement）").is_visible()
    page.goto("/")
    assert html_lang(page) == "zh-Hans"
    assert page.locator("h1").inner_text() == "覆盖整个区域的智慧医疗"
    page.reload()
    assert html_lang(page) == "zh-Hans"
    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/?lang=en")
    assert page.locator("h1").inner_text() == "Smart medical care for a whole region"


def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(page):
    page.goto("/")
    page.keyboard.press("Tab")
    focused = page.evaluate("[document.activeElement.className, document.activeElement.textContent]")
    assert focused == ["skip-link", "Skip to main content"]
    box = page.locator(".skip-link").bounding_box()
    assert box is not None and box["y"] >= 0, "the focused skip link must be on screen"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused skip link must show a focus ring"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_phone_layout_has_no_horizontal_scroll(mobile_page, lang):
    mobile_page.goto(f"/?lang={lang}")
    widths = mobile_page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"page is {widths[0]}px wide in a {widths[1]}px viewport"


def test_unknown_page_shows_the_404_page_in_chinese(page):
    page.goto("/?lang=zh-Hans")
    response = page.goto("/no-such-page")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "找不到页面"


@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_landing_page_screenshots(page, mobile_page, lang):
    for form, tab in (("desktop", page), ("mobile", mobile_page)):
        tab.goto(f"/?lang={lang}")
        tab.evaluate("document.fonts.ready")
        path = SHOTS / f"smartcare-landing-{lang}-{form}.png"
        tab.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
