"""Quality bars of the app home that need no browser: colour contrast of the shell's text/background pairs
(light and dark), and the home's weight summed over every file it loads."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from smartcare.patient.app import pwa
from tests.web_support import browser, make_user, sign_in

CSS = (Path(pwa.STATIC_DIR) / "app.css").read_text(encoding="utf-8")
# (text, background) custom properties the shell draws text with.
PAIRS = [("--app-fg", "--app-card-bg"), ("--app-fg", "--app-bg"), ("--app-tile-fg", "--app-tile-bg"),
         ("--app-urgent-fg", "--app-tile-bg"), ("--app-alert-fg", "--app-alert-bg"), ("--app-tile-fg", "--app-card-bg")]
MAX_HOME_BYTES = 500 * 1024


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    """The WCAG 2 contrast ratio of two #rrggbb colours."""
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _schemes() -> list[dict[str, str]]:
    blocks = re.findall(r":root\s*\{([^}]*)\}", CSS)
    return [dict(re.findall(r"(--app-[a-z-]+):\s*(#[0-9a-fA-F]{6})", block)) for block in blocks]


def test_the_contrast_check_knows_black_on_white():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)


@pytest.mark.parametrize("scheme", [0, 1], ids=["light", "dark"])
def test_every_text_colour_of_the_shell_has_at_least_4_5_to_1_contrast(scheme):
    colours = _schemes()[scheme]
    low = {f"{fg} on {bg}": round(contrast(colours[fg], colours[bg]), 2) for fg, bg in PAIRS
           if contrast(colours[fg], colours[bg]) < 4.5}
    assert low == {}


def test_the_primary_button_colour_and_icon_colours_have_enough_contrast():
    # The theme colour is the buttons' background with white text; the icons' cross is white on it.
    assert contrast(pwa.THEME_COLOR, "#ffffff") >= 4.5


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.urls.append(values["src"])
        if tag == "link" and values.get("rel") in ("stylesheet", "icon", "manifest") and values.get("href"):
            self.urls.append(values["href"])
        if tag == "img" and values.get("src"):
            self.urls.append(values["src"])


def test_the_app_home_with_everything_it_loads_weighs_at_most_500_kb(engine):
    make_user(engine, "patient")
    with browser() as web:
        sign_in(web, "patient.test")
        page = web.get("/app")
        parser = _Assets()
        parser.feed(page.text)
        sizes = {url: len(web.get(url).content) for url in parser.urls}
    total = len(page.content) + sum(sizes.values())
    assert any("pico" in url for url in sizes), "the vendor files count too"
    assert total <= MAX_HOME_BYTES, sizes
