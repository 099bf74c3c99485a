"""The Content-Security-Policy in a real browser: key pages (login, the app home and news with live updates, a
console chart, the queue displays, the pages whose scripts moved out of their templates) run their scripts and open
their WebSockets with no policy violation and no script error, while an inline script is refused."""


import pytest

from tests.e2e.conftest import MOBILE
from tests.e2e.one_doctor_clinic import one_doctor_clinic
from tests.e2e.steps import sign_in

PASSWORD = "Quiet-Lantern-Harbour-31"
# Every violation reaches the page as a securitypolicyviolation event; collect them before any page script runs.
# (Waits use locators, not wait_for_function: its polling evaluates strings, which 'unsafe-eval' would need.)
WATCH = """window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(
  e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || "") + ":" + e.lineNumber));"""


@pytest.fixture
def region(e2e_engine):
    """A clinic with one doctor working this morning, a patient, a doctor and a public-health officer account."""
    with one_doctor_clinic(e2e_engine, PASSWORD, service={"name": "Cardiology"}, doctor=("Wen", "Lanxi"),
                           room={"name": "Cardiology room 305", "alias": ["心内科305诊室"]},
                           accounts=("patient", "doctor", "officer")) as ids:
        yield ids


def _tab(browser, base_url, **options):
    context = browser.new_context(locale="en-US", base_url=base_url, **options)
    context.add_init_script(WATCH)
    tab = context.new_page()
    tab.problems = []
    tab.on("console", lambda m: tab.problems.append(m.text) if "Content Security Policy" in m.text else None)
    tab.on("pageerror", lambda error: tab.problems.append(f"script error: {error}"))
    return tab


def _clean(tab, what: str) -> None:
    tab.wait_for_load_state("load")
    tab.wait_for_timeout(300)  # late violations (a WebSocket opened after load) are reported asynchronously
    violations = tab.evaluate("window.__violations")
    assert violations == [] and tab.problems == [], f"{what}: {violations} {tab.problems}"


def test_key_pages_run_their_scripts_under_the_policy(browser, base_url, region):
    ids = region
    phone = _tab(browser, base_url, viewport=MOBILE, is_mobile=True, has_touch=True,
                 geolocation={"latitude": 30.2741, "longitude": 120.1551}, permissions=["geolocation"])
    desk = _tab(browser, base_url, viewport={"width": 1280, "height": 800})
    wall = _tab(browser, base_url, viewport={"width": 1280, "height": 800})
    doctor = _tab(browser, base_url, viewport={"width": 1280, "height": 800})
    try:
        phone.goto("/login")
        _clean(phone, "login")

        # The app home and the news page follow /ws/notifications: the socket opens (connect-src 'self' covers ws:).
        sign_in(phone, f"mei.{ids['tag']}", PASSWORD)
        phone.goto("/app")
        phone.locator("#news-live[data-live='true']").wait_for(state="attached")
        _clean(phone, "app home")
        phone.goto("/app/news")
        phone.locator("#news-live[data-live='true']").wait_for(state="attached")
        _clean(phone, "news")
        phone.screenshot(path="/tmp/sc-csp-news.png", full_page=True)

        # Scripts moved out of their templates still work: the body map ticks its box and fills the words.
        phone.goto("/app/triage")
        phone.get_by_role("button", name="Eyes").press("Enter")
        assert phone.locator('[data-region-box="eyes"]').is_checked()
        assert phone.locator("#triage-text").input_value() == "eye pain"
        _clean(phone, "triage")
        phone.goto("/app/nearest")
        assert phone.locator("#where-locate").is_visible() and phone.locator("#where-failed").is_hidden()
        _clean(phone, "nearest hospital")
        phone.screenshot(path="/tmp/sc-csp-nearest.png", full_page=True)
        with phone.expect_navigation():
            phone.locator("#where-locate").click()
        assert "lat=30.27410" in phone.url and "lon=120.15510" in phone.url
        _clean(phone, "nearest hospital, located")
        phone.goto("/app/sharing")
        detail = phone.locator("[data-shown-when-sharing]")
        phone.get_by_label("No: each institution sees only what it recorded").check()
        assert detail.is_hidden()
        phone.get_by_label("Yes: a doctor treating me elsewhere can see my history").check()
        assert detail.is_visible()
        _clean(phone, "sharing choices")

        # A console chart is drawn by ECharts from the page's JSON.
        sign_in(desk, f"officer.{ids['tag']}", PASSWORD)
        desk.goto("/console/public-health")
        desk.locator("#weekly-chart svg").wait_for()
        _clean(desk, "public-health console")

        # The queue displays: the doctor's and the clinic's, each live over its WebSocket.
        with wall.expect_websocket() as opened:
            wall.goto(f"/queue/display/{ids['prac']}")
        opened.value.wait_for_event("framereceived")
        _clean(wall, "doctor's queue display")
        with wall.expect_websocket() as opened:
            wall.goto(f"/queue/clinic/{ids['hcs']}")
        opened.value.wait_for_event("framereceived")
        wall.locator(f'#rows li[data-session*="{ids["prac"]}"]').wait_for()
        _clean(wall, "clinic display")
        wall.screenshot(path="/tmp/sc-csp-clinic.png", full_page=True)

        # The doctor's own queue page follows the queue too.
        sign_in(doctor, f"dr.wen.{ids['tag']}", PASSWORD)
        with doctor.expect_websocket():
            doctor.goto("/workstation/queue")
        _clean(doctor, "workstation queue")
    finally:
        for tab in (phone, desk, wall, doctor):
            tab.context.close()


def test_an_inline_script_is_refused_and_reported(browser, base_url):
    tab = _tab(browser, base_url)
    try:
        tab.goto("/login")
        tab.evaluate("""() => { const s = document.createElement("script"); s.textContent = "window.__ran = true";
                               document.body.append(s); }""")
        for _ in range(50):  # wait_for_function would poll with eval, which the policy refuses too
            if tab.evaluate("window.__violations.length"):
                break
            tab.wait_for_timeout(100)
        assert tab.evaluate("window.__ran") is None
        assert any(v.startswith("script-src") for v in tab.evaluate("window.__violations"))
    finally:
        tab.context.close()
