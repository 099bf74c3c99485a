"""The chat in a real browser: a patient on a phone and a doctor at the workstation talk live over the WebSocket,
with the photo, typing, and read ticks; screenshots of both sides in English and Chinese are saved for review
(to $SMARTCARE_SCREENSHOTS, or the test's temporary folder)."""

import io
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from smartcare.fhir import bundles, store
from smartcare.hospital.consultation import photos, service
from smartcare.hospital.consultation.service import TRIAGE_QUESTIONNAIRE
from smartcare.platform import migrate
from smartcare.platform.db import make_engine, unit_of_work, use_engine
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.users import scope_ceiling
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
    desk.wait_for_function("() => document.getElementById('chat-state').textContent.length > 0")
    phone.get_by_role("button", name="Send").click()
    desk.wait_for_selector("li.msg--theirs >> text=It lasts a few minutes.")

    desk.select_option(".reply-templates", index=3)
    desk.fill("#chat-text", "请连续一周早晚测血压，并把读数发给我。Please also note any swelling of the ankles.")
    desk.locator("#chat-compose button[type=submit]").click()
    phone.wait_for_selector("li.msg--theirs >> text=Please also note any swelling")
    # The doctor's page was open when the patient's messages arrived: both show as read on the phone.
    phone.wait_for_selector("li.msg--mine[data-seq='3'] .msg__tick[data-state='read']")
    assert phone.locator("li[data-seq='2'] img.msg__photo").evaluate("img => img.naturalWidth") == 320

    loaded = "() => [...document.images].every(i => i.complete) && (window.scrollTo(0, document.body.scrollHeight) || true)"
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


def _ctx(role: str, ref: str) -> AccessContext:
    return AccessContext(kind="user", name=f"t-{ref}", roles=frozenset({role}), fhir_user=ref,
                         organization="Organization/org-a" if role == "doctor" else None,
                         patient=ref if role == "patient" else None, scopes=scope_ceiling(role))


def _every_kind(cid: str, tag: str, photo: bytes) -> None:
    """One message of every kind the chat shows, stored as the patient's and the doctor's services store them."""
    patient, doctor = _ctx("patient", "Patient/p1"), _ctx("doctor", "Practitioner/doc-b")
    with unit_of_work() as conn:
        triage = store.create(conn, SYSTEM, {
            "resourceType": "QuestionnaireResponse", "status": "completed", "questionnaire": TRIAGE_QUESTIONNAIRE,
            "subject": {"reference": "Patient/p1"}, "authored": "2026-03-01T08:00:00Z"}).res_id
        thread = service._thread(conn, cid)
        for side, category, text, refs in (
                ("patient", "message", "Chest tightness · urgent", [f"QuestionnaireResponse/{triage}"]),
                ("patient", "questions", "How long has it lasted? 1 to 4 weeks\nChest pain: No", []),
                ("patient", "reports", "Complete blood count; Chest X-ray", []),
                ("doctor", "info-request", "Please send your blood pressure readings of the last week.", []),
                ("doctor", "video", "The doctor started a video visit.", [f"Encounter/{cid}"]),
                ("doctor", "prescription", "amlodipine 5 mg · QD · oral · 30 d", []),
                ("doctor", "follow-up", "2026-03-10 09:30 · Dr Lin · Cardiology clinic", [])):
            service.store_message(conn, patient if side == "patient" else doctor, thread=service._thread(conn, cid),
                                  side=side, client_id=f"{tag}-{category}-{len(refs)}", text=text,
                                  category=category, references=refs)
        assert thread.status == "in_progress"
    with unit_of_work() as conn:
        photos.attach_photo(conn, patient, consultation_id=cid, client_id=f"{tag}-photo", data=photo,
                            caption="The rash this morning")
        service.post_message(conn, doctor, consultation_id=cid, client_id=f"{tag}-text", text="Thank you.")


SHAPE = """li => ({kind: li.dataset.kind, side: li.classList.contains('msg--mine') ? 'mine' : 'theirs',
  label: (li.querySelector('.msg__label') || {}).textContent || '',
  parts: [...li.children].map(c => c.className + ':' + (c.matches('.msg__meta') ? '' : c.textContent.trim())),
  link: (li.querySelector('a.msg__link') || {}).pathname || ''})"""


def test_every_kind_of_message_is_labelled_alike_in_the_history_and_when_it_arrives_live(server, tmp_path):
    chromium, url = server
    shots = Path(os.environ.get("SMARTCARE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with unit_of_work() as conn:
        cid = service.open_consultation(conn, _ctx("patient", "Patient/p1"), patient_id="p1", kind="advice",
                                        question="Chest tightness on the stairs", practitioner_id="doc-b")["id"]
        service.pick_up(conn, _ctx("doctor", "Practitioner/doc-b"), consultation_id=cid)
    photo = _photo(tmp_path).read_bytes()
    _every_kind(cid, "history", photo)
    phone = chromium.new_context(viewport=MOBILE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                 locale="en-US", base_url=url).new_page()
    sign_in(phone, "chat.p1", PASSWORD)
    phone.goto(f"/app/consultations/{cid}?lang=zh-Hans")
    phone.wait_for_selector("#chat[data-live='socket']")
    history = phone.locator("#chat-log > li").evaluate_all(f"items => items.map({SHAPE})")
    assert len(history) == 10
    _every_kind(cid, "live", photo)
    phone.wait_for_selector("#chat-log > li[data-seq='19']")
    arrived = phone.locator("#chat-log > li").evaluate_all(f"items => items.map({SHAPE})")[10:]
    assert arrived == history[1:]  # the opening question aside, the live bubbles are the history's twins
    labels = {m["kind"]: m["label"] for m in history}
    assert labels == {"message": "", "triage": "分诊摘要", "questions": labels["questions"], "reports": "从档案共享的报告",
                      "info-request": labels["info-request"], "video": "视频问诊", "prescription": labels["prescription"],
                      "follow-up": "已预约复诊", "photo": labels["photo"]}
    assert all(labels[k] and not labels[k].isascii() for k in labels if k != "message")
    video = next(m for m in history if m["kind"] == "video")
    assert video["link"] == f"/app/video/{cid}" and "Open the video visit" not in str(video["parts"])
    assert next(m for m in history if m["kind"] == "reports")["parts"][1] == "msg__list:Complete blood countChest X-ray"
    assert "药师审核通过后生效。" in str(next(m for m in history if m["kind"] == "prescription")["parts"])
    loaded = "() => [...document.images].every(i => (i.loading = 'eager') && i.complete)"
    phone.wait_for_function(loaded)
    phone.screenshot(path=str(shots / "patient-chat-every-kind-zh.png"), full_page=True)
    phone.goto(f"/app/consultations/{cid}?lang=en")
    phone.wait_for_function(loaded)
    phone.screenshot(path=str(shots / "patient-chat-every-kind-en.png"), full_page=True)
