"""The chat in a real browser: a patient on a phone and a doctor at the workstation talk live over the WebSocket,
with the photo, typing, and read ticks; screenshots of both sides in English and Chinese are saved for review
(to $SMARTCARE_SCREENSHOTS, or the test's temporary folder)."""

import io
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from smartcare.fhir import bundles
from smartcare.platform import migrate
from smartcare.platform.db import make_engine, unit_of_work, use_engine
from smartcare.platform.security.context import SYSTEM
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP, MOBILE
from tests.e2e.steps import sign_in
from tests.hospital.consultation.conftest import RECORDS
from tests.support import IN_CI, live_server
from tests.web_support import PASSWORD, make_user


@pytest.fixture(scope="module")
def server(tmp_path_factory, playwright_driver):
    """A live server on a fresh SQLite store with the consultation hospital, a patient and two doctors."""
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        (pytest.fail if IN_CI else pytest.skip)(f"{CHROMIUM} is missing")
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('chat')}/chat.db")
    migrate.upgrade(engine)
    use_engine(engine)
    entries = [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
               for r in RECORDS]
    with unit_of_work(engine) as conn:
        bundles.transaction(conn, SYSTEM, entries, "")
    make_user(engine, "patient", username="chat.p1", fhir_ref="Patient/p1")
    make_user(engine, "doctor", username="chat.doc-b", fhir_ref="Practitioner/doc-b", organization="Organization/org-a")
    with live_server("consultation-chat") as url:
        chromium = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium, url
        chromium.close()
    use_engine(None)
    engine.dispose()


def _photo(tmp_path: Path) -> Path:
    path = tmp_path / "rash.jpg"
    image = Image.linear_gradient("L").resize((320, 240)).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG")
    path.write_bytes(out.getvalue())
    return path


def test_patient_and_doctor_chat_live_with_photo_typing_and_read_ticks(server, tmp_path):
    chromium, url = server
    shots = Path(os.environ.get("SMARTCARE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    phone = chromium.new_context(viewport=MOBILE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                 locale="en-US", base_url=url).new_page()
    desk = chromium.new_context(viewport=DESKTOP, locale="en-US", base_url=url).new_page()
    sign_in(phone, "chat.p1", PASSWORD)
    phone.goto("/app/consultations/new")
    phone.select_option("#target", "pool:dept-cardio")
    phone.fill("#question", "Since Monday I get chest tightness when I climb stairs. Should I worry?")
    phone.get_by_role("button", name="Send to the doctor").click()
    phone.wait_for_selector("li[data-seq='1']")
    phone.set_input_files("#chat-photo", str(_photo(tmp_path)))
    phone.wait_for_selector("li[data-seq='2'] img.msg__photo")

    sign_in(desk, "chat.doc-b", PASSWORD)
    desk.goto("/workstation/consultations")
    desk.screenshot(path=str(shots / "workstation-inbox-en.png"))
    desk.goto("/workstation/consultations?lang=zh-Hans")
    desk.screenshot(path=str(shots / "workstation-inbox-zh.png"))
    desk.get_by_role("button", name="接诊").first.click()
    desk.wait_for_selector("#chat[data-live='socket']")

    # The patient's page reloads on the pick-up; then the patient types and the doctor sees it.
    phone.wait_for_selector("#chat-status.status--in_progress")
    phone.wait_for_selector("#chat[data-live='socket']")
    phone.fill("#chat-text", "It lasts a few minutes")
    phone.type("#chat-text", ".")
    desk.wait_for_function("document.getElementById('chat-state').textContent.length > 0")
    phone.get_by_role("button", name="Send").click()
    desk.wait_for_selector("li.msg--theirs >> text=It lasts a few minutes.")

    desk.select_option(".reply-templates", index=3)
    desk.fill("#chat-text", "请连续一周早晚测血压，并把读数发给我。Please also note any swelling of the ankles.")
    desk.locator("#chat-compose button[type=submit]").click()
    phone.wait_for_selector("li.msg--theirs >> text=Please also note any swelling")
    # The doctor's page was open when the patient's messages arrived: both show as read on the phone.
    phone.wait_for_selector("li.msg--mine[data-seq='3'] .msg__tick[data-state='read']")
    assert phone.locator("li[data-seq='2'] img.msg__photo").evaluate("img => img.naturalWidth") == 320

    loaded = "[...document.images].every(i => i.complete) && (window.scrollTo(0, document.body.scrollHeight) || true)"
    phone.wait_for_function(loaded)
    phone.screenshot(path=str(shots / "patient-chat-en.png"))
    desk.screenshot(path=str(shots / "workstation-chat-zh.png"))
    phone.goto(phone.url + "?lang=zh-Hans")
    phone.wait_for_selector("li[data-seq='4']")
    phone.wait_for_function(loaded)
    phone.screenshot(path=str(shots / "patient-chat-zh.png"))
    desk.goto(desk.url.split("?")[0] + "?lang=en")
    desk.wait_for_selector("li[data-seq='4']")
    desk.screenshot(path=str(shots / "workstation-chat-en.png"))
    assert len(list(shots.glob("*.png"))) >= 6
