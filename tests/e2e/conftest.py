"""Browser-test fixtures: the app under uvicorn on a free port with a temporary SQLite store, and headless Chromium."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartcare.platform import migrate
from smartcare.platform.db import make_engine, use_engine
from tests.support import IN_CI, live_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 390, "height": 844}


def _skip_or_fail(message: str) -> None:
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)



@pytest.fixture(scope="session")
def e2e_engine(tmp_path_factory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('e2e')}/e2e.db")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _serve_from_e2e_store(e2e_engine) -> Iterator[None]:
    # Other tests in the same worker reset the process-wide engine; point it back at ours for each browser test.
    use_engine(e2e_engine)
    yield
    use_engine(None)


@pytest.fixture(scope="session")
def base_url(e2e_engine) -> Iterator[str]:
    """The address of a live SmartCare server on 127.0.0.1, stopped after the session."""
    use_engine(e2e_engine)
    with live_server("e2e-uvicorn") as url:
        yield url


@pytest.fixture(scope="session")
def browser(playwright_driver):
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        _skip_or_fail(f"{CHROMIUM} is missing: run scripts/test as root, which installs Debian's chromium and fonts-noto-cjk")
    chromium = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser, base_url):
    """A fresh desktop browser tab (English browser locale, no cookies) on the live server."""
    context = browser.new_context(viewport=DESKTOP, locale="en-US", base_url=base_url)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def mobile_page(browser, base_url):
    """A fresh phone-sized tab (390x844, touch) on the live server."""
    context = browser.new_context(viewport=MOBILE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="en-US", base_url=base_url)
    tab = context.new_page()
    yield tab
    context.close()
