"""The image viewer's pages: who may open a study's viewer in the workstation and in the patient app."""

import html
import json
import re
from collections.abc import Iterator
from datetime import date

import pytest

from smartcare.fhir import gateway
from smartcare.fhir.store import Write, write_batch
from smartcare.hospital.imaging import service
from smartcare.hospital.imaging.imaging_study import DICOM_UID
from smartcare.hospital.imaging.synthetic import (
    SyntheticPatient,
    SyntheticStudy,
    build_study,
    study_instance_uid,
)
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.hospital.imaging.dicomweb_record import data_dir
from tests.hospital.imaging.imaging_record import MRN
from tests.hospital.imaging.radiology_record import write_radiology
from tests.web_support import browser, make_user, sign_in

CT = SyntheticStudy(SyntheticPatient("P-1", "Wang^Fang", birth_date=date(1950, 3, 1), sex="F"), modality="CT",
                    slices=4, size=64, seed=7, description="CT chest")


def write_viewer_study(engine, study: SyntheticStudy = CT) -> str:
    """The radiology hospital, Mrs Wang (MRN P-1) with a stored synthetic CT, and the accounts of Mrs Wang
    (wang.viewer) and Mr Zhao (zhao.viewer); the id of the study's ImagingStudy."""
    write_radiology(engine)
    wang = gateway.read(SYSTEM, "Patient/p-wang")
    wang["identifier"] = [{"system": MRN, "value": "P-1"}]
    with unit_of_work() as conn:
        write_batch(conn, SYSTEM, [Write("PUT", "Patient", "p-wang", wang)])
    for ds in build_study(study):
        assert service.store_instance(ds, calling_ae="CT1").status == service.SUCCESS
    make_user(engine, "patient", "wang.viewer", fhir_ref="Patient/p-wang")
    make_user(engine, "patient", "zhao.viewer", fhir_ref="Patient/p-zhao")
    [found] = gateway.search(SYSTEM, "ImagingStudy", [("identifier", f"{DICOM_UID}|urn:oid:{study_instance_uid(study)}")])
    return found["id"]


@pytest.fixture
def study_id(engine, tmp_path) -> Iterator[str]:
    with data_dir(tmp_path):
        yield write_viewer_study(engine)


def _signed_in(username: str):
    web = browser()
    sign_in(web, username)
    return web


def test_the_radiologist_opens_the_viewer_of_a_study_with_its_uid_and_tools(study_id):
    page = _signed_in("rad.gao").get(f"/workstation/imaging/studies/{study_id}/viewer")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert f'data-study="{study_instance_uid(CT)}"' in page.text
    for words in ("Lung", "Bone", "Brain", "Abdomen", "Measure length", "Mark as key image", "Reset view"):
        assert words in page.text
    assert "dicom-viewer.js" in page.text and 'data-center="-600" data-width="1500"' in page.text


def test_the_viewer_is_labelled_in_chinese_for_chinese_readers(study_id):
    page = _signed_in("rad.gao").get(f"/workstation/imaging/studies/{study_id}/viewer", params={"lang": "zh-Hans"})
    assert page.status_code == 200
    assert "肺窗" in page.text and "测量长度" in page.text
    words = json.loads(html.unescape(re.search(r"data-words='([^']*)'", page.text).group(1)))
    assert words["position"] == "第 {n} 张，共 {m} 张"


def test_the_patient_sees_their_own_images_read_only(study_id):
    page = _signed_in("wang.viewer").get(f"/app/imaging/studies/{study_id}/viewer")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert 'data-read-only="true"' in page.text and "Mark as key image" not in page.text
    assert "Measure length" in page.text


def test_another_patient_gets_not_found_as_if_the_study_did_not_exist(study_id):
    web = _signed_in("zhao.viewer")
    assert web.get(f"/app/imaging/studies/{study_id}/viewer").status_code == 404
    assert web.get("/app/imaging/studies/no-such-study/viewer").status_code == 404


@pytest.mark.parametrize("hostile", ["..%2F..%2Fetc", "x" * 80, "a'b<script>"])
def test_hostile_study_ids_are_not_found(study_id, hostile):
    web = _signed_in("rad.gao")
    assert web.get(f"/workstation/imaging/studies/{hostile}/viewer").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in_and_patients_stay_out_of_the_workstation(study_id):
    for path in (f"/workstation/imaging/studies/{study_id}/viewer", f"/app/imaging/studies/{study_id}/viewer"):
        answer = browser().get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert _signed_in("wang.viewer").get(f"/workstation/imaging/studies/{study_id}/viewer").status_code == 403


def test_a_study_without_a_dicom_uid_has_no_viewer(study_id):
    study = gateway.read(SYSTEM, f"ImagingStudy/{study_id}")
    study.pop("identifier")
    with unit_of_work() as conn:
        write_batch(conn, SYSTEM, [Write("PUT", "ImagingStudy", study_id, study)])
    assert _signed_in("rad.gao").get(f"/workstation/imaging/studies/{study_id}/viewer").status_code == 404
