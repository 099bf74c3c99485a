"""The image viewer in a real browser: a radiologist scrolls a synthetic CT, applies the lung window and measures
a length; the patient opens her own images on a phone."""

import random
import uuid
from pathlib import Path

import pytest

from smartcare.fhir import gateway, store
from smartcare.hospital.imaging import service
from smartcare.hospital.imaging.imaging_study import DICOM_UID
from smartcare.hospital.imaging.synthetic import (
    SyntheticPatient,
    SyntheticStudy,
    build_study,
    study_instance_uid,
)
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.e2e.steps import sign_in
from tests.hospital.imaging.dicomweb_record import data_dir
from tests.hospital.lab.lab_workflow_record import write_directory

PASSWORD = "Copper-Lantern-Harbour-58"
MRN = "https://smartcare.example/fhir/sid/mrn"
SHOTS = Path("/tmp/viewer_shots")
# The canvas holds more than its black background: some pixel is brighter than dark grey.
DRAWN = """() => { const c = document.getElementById('dv-image'); if (!c.width) return false;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 0; i < d.length; i += 4 * 97) { if (d[i] > 40) return true; } return false; }"""


def radiologist_and_patient(engine) -> str:
    """Mrs Wang with a fresh hospital number (MRN-<tag>), a radiologist of her hospital (rad.<tag>) and her own app
    account (wang.<tag>); the tag."""
    tag = uuid.uuid4().hex[:6]
    write_directory()
    wang = {**gateway.read(SYSTEM, "Patient/p-wang"), "identifier": [{"system": MRN, "value": f"MRN-{tag}"}]}
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", "Patient", "p-wang", wang)])
        users.create_user(conn, username=f"rad.{tag}", password=PASSWORD, role="radiologist",
                          fhir_ref="Practitioner/prac-li", organization="Organization/org-h")
        users.create_user(conn, username=f"wang.{tag}", password=PASSWORD, role="patient", fhir_ref="Patient/p-wang")
    return tag


@pytest.fixture
def ct_study(e2e_engine, tmp_path):
    """Mrs Wang with a five-slice synthetic CT, a radiologist of her hospital and her own app account."""
    tag = radiologist_and_patient(e2e_engine)
    study = SyntheticStudy(SyntheticPatient(f"MRN-{tag}", "Wang^Fang", sex="F"), modality="CT", slices=5, size=256,
                           seed=random.randrange(10**6), description="CT chest")
    with data_dir(tmp_path):
        for ds in build_study(study):
            assert service.store_instance(ds, calling_ae="CT1").status == service.SUCCESS
        [found] = gateway.search(SYSTEM, "ImagingStudy",
                                 [("identifier", f"{DICOM_UID}|urn:oid:{study_instance_uid(study)}")])
        yield tag, found["id"]


def test_the_radiologist_scrolls_windows_and_measures_a_ct(page, ct_study):
    tag, study_id = ct_study
    SHOTS.mkdir(exist_ok=True)
    sign_in(page, f"rad.{tag}", PASSWORD)
    page.goto(f"/workstation/imaging/studies/{study_id}/viewer")
    position = page.locator("#dv-position")
    position.filter(has_text="Image 1 of 5").wait_for()
    page.wait_for_function(DRAWN)
    assert page.locator(".dv-thumb img").first.evaluate("img => img.complete && img.naturalWidth > 0")

    page.locator("#dv-stage").focus()
    page.keyboard.press("ArrowDown")
    position.filter(has_text="Image 2 of 5").wait_for()

    with page.expect_request(lambda r: "/rendered" in r.url and "window=-600,1500" in r.url):
        page.get_by_role("button", name="Lung", exact=True).click()
    page.locator("#dv-window-now").filter(has_text="center -600, width 1500").wait_for()
    assert page.get_by_role("button", name="Lung", exact=True).get_attribute("aria-pressed") == "true"

    page.get_by_role("button", name="Measure length").click()
    box = page.locator("#dv-overlay").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 100, y)
    page.mouse.down()
    page.mouse.move(x, y + 20, steps=5)
    page.mouse.move(x + 100, y, steps=5)
    page.mouse.up()
    measured = page.locator("#dv-measures li").first
    measured.wait_for()
    text = measured.inner_text()
    assert text.endswith(" mm") and float(text.split()[0]) > 10
    page.screenshot(path=str(SHOTS / "workstation.png"), full_page=True)

    page.keyboard.press("End")
    position.filter(has_text="Image 5 of 5").wait_for()
    assert page.locator("#dv-measures li").count() == 0  # measurements belong to the image they were drawn on


def test_the_patient_opens_her_own_images_on_a_phone_read_only(mobile_page, ct_study):
    tag, study_id = ct_study
    SHOTS.mkdir(exist_ok=True)
    page = mobile_page
    sign_in(page, f"wang.{tag}", PASSWORD)
    page.goto(f"/app/imaging/studies/{study_id}/viewer")
    page.locator("#dv-position").filter(has_text="Image 1 of 5").wait_for()
    page.wait_for_function(DRAWN)
    assert page.locator("#dv-key").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(SHOTS / "phone.png"), full_page=True)
