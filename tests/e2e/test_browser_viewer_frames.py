"""Multi-frame images in the browser viewer: every frame is a scroll position, the counter says which image and
which frame, the series list keeps one thumbnail per series, and a cine loop plays and pauses."""

import random
from pathlib import Path

import pytest

from smartcare.fhir import gateway
from smartcare.hospital.imaging import service
from smartcare.hospital.imaging.imaging_study import DICOM_UID
from smartcare.hospital.imaging.synthetic import (
    SyntheticPatient,
    SyntheticStudy,
    build_study,
    study_instance_uid,
)
from smartcare.platform.security.context import SYSTEM
from tests.e2e.steps import sign_in
from tests.e2e.test_browser_viewer import DRAWN, PASSWORD, radiologist_and_patient
from tests.hospital.imaging.dicom_samples import uid
from tests.hospital.imaging.dicomweb_record import data_dir
from tests.hospital.imaging.test_frames import FRAMES, SIZE, SQUARE, multiframe_instance, square_at

SHOTS = Path("/tmp/multiframe_shots")
# Where the bright pixels of the picture on the canvas are: their centre and how many, or null when none.
BRIGHT = """() => { const c = document.getElementById('dv-image'); if (!c.width) return null;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0, x = 0, y = 0;
  for (let i = 0; i < d.length; i += 4) { if (d[i] > 200) { const p = i / 4; n++; x += p % c.width; y += Math.floor(p / c.width); } }
  return n ? { x: x / n, y: y / n, n: n, width: c.width, height: c.height } : null; }"""
# The picture is fitted into the stage keeping its aspect ratio: canvas pixels per image pixel.
SCALE = "size => { const c = document.getElementById('dv-image'); return Math.min(c.width, c.height) / size; }"


@pytest.fixture
def cine_study(e2e_engine, tmp_path):
    """Mrs Wang's study: a five-slice CT (series 1) and a series of two eight-frame instances (series 2), with a
    radiologist of her hospital and her own app account."""
    tag = radiologist_and_patient(e2e_engine)
    study = SyntheticStudy(SyntheticPatient(f"MRN-{tag}", "Wang^Fang", sex="F"), modality="CT", slices=5, size=64,
                           seed=random.randrange(10**6), description="CT chest and cine")
    with data_dir(tmp_path):
        for ds in build_study(study):
            assert service.store_instance(ds, calling_ae="CT1").status == service.SUCCESS
        series = uid()
        for number in (1, 2):
            ds = multiframe_instance(patient_id=f"MRN-{tag}", study_uid=study_instance_uid(study), series_uid=series,
                                     number=number)
            assert service.store_instance(ds, calling_ae="US1").status == service.SUCCESS
        [found] = gateway.search(SYSTEM, "ImagingStudy",
                                 [("identifier", f"{DICOM_UID}|urn:oid:{study_instance_uid(study)}")])
        yield tag, found["id"]


def _square_after(page, before: dict | None = None) -> dict:
    """The bright square on the canvas (bright pixels about as many as the square covers), once it has moved away
    from where it was before."""
    moved = "true" if before is None else f"Math.abs(b.x - {before['x']}) > 2"
    # The scale is read on each poll: the canvas may still be resized to its stage after a series is chosen.
    square = f"""() => {{ const b = ({BRIGHT})(); const area = ({SQUARE} * ({SCALE})({SIZE})) ** 2;
      return b && b.n > area * 0.6 && b.n < area * 1.6 && {moved} ? b : null; }}"""
    return page.wait_for_function(square).json_value()


def _record_positions(page) -> None:
    """Keep every text the slice counter shows in window.seenPositions (cine changes it faster than polling)."""
    page.evaluate("""() => { window.seenPositions = [];
      const out = document.getElementById('dv-position');
      new MutationObserver(() => window.seenPositions.push(out.textContent))
        .observe(out, { childList: true, characterData: true, subtree: true }); }""")


def _wait_seen(page, text: str) -> None:
    page.wait_for_function("text => window.seenPositions.includes(text)", arg=text)


def test_the_radiologist_scrolls_the_frames_of_a_cine_series_and_plays_it(page, cine_study):
    tag, study_id = cine_study
    SHOTS.mkdir(exist_ok=True)
    sign_in(page, f"rad.{tag}", PASSWORD)
    page.goto(f"/workstation/imaging/studies/{study_id}/viewer")
    position = page.locator("#dv-position")
    position.filter(has_text="Image 1 of 5").wait_for()
    page.wait_for_function(DRAWN)
    thumbnails = page.locator(".dv-thumb")
    assert thumbnails.count() == 2  # one per series, not one per instance or frame
    cine = page.locator("#dv-cine")
    assert cine.is_hidden()  # five single images: nothing to play

    thumbnails.nth(1).click()
    position.filter(has_text="Image 1 of 2 · Frame 1 of 8").wait_for()
    thumbnails.nth(1).filter(has_text=f"{2 * FRAMES} frames").wait_for()
    assert page.locator("#dv-slider").get_attribute("max") == str(2 * FRAMES)
    first = _square_after(page)
    scale = page.evaluate(SCALE, SIZE)
    assert page.locator("#dv-center").input_value() == ""  # no window of its own; not the CT's either

    page.locator("#dv-stage").focus()
    for _ in range(4):
        page.keyboard.press("ArrowDown")
    position.filter(has_text="Image 1 of 2 · Frame 5 of 8").wait_for()
    fifth = _square_after(page, first)
    # Frame 5's square sits 4 x 6 image pixels further right and down than frame 1's.
    shift = (square_at(5)[1] - square_at(1)[1]) * scale
    assert fifth["x"] - first["x"] == pytest.approx(shift, abs=3 * scale)
    assert fifth["y"] - first["y"] == pytest.approx(shift, abs=3 * scale)
    page.screenshot(path=str(SHOTS / "frame-5.png"), full_page=True)

    page.keyboard.press("k")
    page.locator("#dv-keys li").filter(has_text="Series 2 · Image 1 of 2 · Frame 5 of 8").wait_for()
    assert page.locator("#dv-key").get_attribute("aria-pressed") == "true"

    page.locator("#dv-stage").hover()
    page.mouse.wheel(0, 120)
    position.filter(has_text="Frame 6 of 8").wait_for()
    _square_after(page, fifth)
    assert page.locator("#dv-key").get_attribute("aria-pressed") == "false"  # the key image is frame 5 only

    page.keyboard.press("End")
    position.filter(has_text="Image 2 of 2 · Frame 8 of 8").wait_for()

    assert cine.is_visible()
    _record_positions(page)
    page.get_by_role("button", name="Play cine").click()
    page.get_by_role("button", name="Pause cine").wait_for()
    _wait_seen(page, "Image 1 of 2 · Frame 3 of 8")  # it went round from the last frame to the first
    page.get_by_role("button", name="Pause cine").click()
    page.get_by_role("button", name="Play cine").wait_for()
    paused = position.inner_text()
    page.wait_for_timeout(600)
    assert position.inner_text() == paused

    page.locator("#dv-stage").focus()
    page.keyboard.press(" ")
    page.get_by_role("button", name="Pause cine").wait_for()
    page.keyboard.press("Home")  # scrolling by hand stops the film
    page.get_by_role("button", name="Play cine").wait_for()
    position.filter(has_text="Image 1 of 2 · Frame 1 of 8").wait_for()
    page.wait_for_timeout(400)
    assert position.inner_text() == "Image 1 of 2 · Frame 1 of 8"

    page.locator("#dv-keys li button").click()
    position.filter(has_text="Image 1 of 2 · Frame 5 of 8").wait_for()
    page.screenshot(path=str(SHOTS / "workstation.png"), full_page=True)


def test_the_patient_plays_her_cine_series_on_a_phone_in_chinese(mobile_page, cine_study):
    tag, study_id = cine_study
    SHOTS.mkdir(exist_ok=True)
    page = mobile_page
    sign_in(page, f"wang.{tag}", PASSWORD)
    page.goto(f"/app/imaging/studies/{study_id}/viewer?lang=zh-Hans")
    position = page.locator("#dv-position")
    position.filter(has_text="第 1 张，共 5 张").wait_for()
    page.locator(".dv-thumb").nth(1).click()
    position.filter(has_text="第 1 帧，共 8 帧").wait_for()
    _square_after(page)
    _record_positions(page)
    page.get_by_role("button", name="播放动态影像").click()
    page.get_by_role("button", name="暂停动态影像").wait_for()
    _wait_seen(page, "第 1 张，共 2 张 · 第 4 帧，共 8 帧")
    page.get_by_role("button", name="暂停动态影像").click()
    page.get_by_role("button", name="播放动态影像").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(SHOTS / "phone-zh.png"), full_page=True)
