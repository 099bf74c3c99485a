"""The PACS console: the known remote AEs (add, edit, allow, remove, refusals in the reader's language) and the
reconciliation queue (a study matched to a patient in reach becomes their ImagingStudy, or is dismissed)."""

import re

import pytest
import sqlalchemy as sa

from smartcare.fhir import store
from smartcare.fhir.tables import resource
from smartcare.hospital.imaging import service
from smartcare.hospital.imaging.service import store_instance
from smartcare.hospital.imaging.storage import FileStore
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.hospital.imaging.dicom_samples import ct_slice
from tests.web_support import browser, form_token, make_user, sign_in

AES = "/console/pacs/aes"
RECONCILE = "/console/pacs/reconcile"
MRN = "https://smartcare.example/fhir/sid/mrn"


def _patients() -> None:
    """Mrs Wang of the admin's hospital (org-a), and Mr Far of another hospital (org-b)."""
    resources = [
        {"resourceType": "Patient", "id": "p-wang", "identifier": [{"system": MRN, "value": "H-100"}],
         "name": [{"family": "Wang", "given": ["Fang"]}], "gender": "female", "birthDate": "1950-03-04",
         "managingOrganization": {"reference": "Organization/org-a"}},
        {"resourceType": "Patient", "id": "p-far", "identifier": [{"system": MRN, "value": "H-200"}],
         "name": [{"family": "Far", "given": ["Away"]}], "gender": "male", "birthDate": "1970-01-01",
         "managingOrganization": {"reference": "Organization/org-b"}},
    ]
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])


def _imaging_studies() -> list[dict]:
    with unit_of_work() as conn:
        return [r[0] for r in conn.execute(sa.select(resource.c.content).where(
            resource.c.res_type == "ImagingStudy", resource.c.deleted.is_(False)))]


@pytest.fixture
def admin(engine):
    make_user(engine, "hospital_admin")
    web = browser()
    sign_in(web, "hospital.admin.test")
    return web


@pytest.fixture
def queued(engine, tmp_path):
    """A CT study sent under a PatientID nobody has: it waits in the queue; its queue item's id."""
    _patients()
    ds = ct_slice(patient_id="WALKIN-7", patient_name="Wang^Fang", accession="ACC77")
    assert store_instance(ds, calling_ae="CT1", store=FileStore(tmp_path)).status == service.SUCCESS
    return ds.StudyInstanceUID


def _add(web, **fields):
    page = web.get(AES)
    data = {"ae_title": "CT_ROOM1", "host": "10.0.0.5", "port": "104", "modality": "ct", "description": "CT 1",
            "allowed": "on", **fields}
    return web.post(AES, data={"csrf_token": form_token(page), **data})


def test_admin_adds_edits_refuses_and_removes_a_remote_ae(admin):
    page = admin.get(AES)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "SMARTCARE_PACS_ALLOW_ANY_CALLER" in page.text and "It is set now" in page.text
    done = _add(admin)
    assert done.status_code == 303 and done.headers["location"] == f"{AES}?done=saved"
    listed = admin.get(done.headers["location"])
    assert "CT_ROOM1" in listed.text and "10.0.0.5" in listed.text and "The remote AE is saved." in listed.text
    ae_id = re.search(r"\?edit=(\d+)", listed.text).group(1)
    edit = admin.get(f"{AES}?edit={ae_id}")
    assert 'value="CT_ROOM1"' in edit.text and 'value="CT"' in edit.text
    admin.post(f"{AES}/{ae_id}/edit", data={"csrf_token": form_token(edit), "ae_title": "CT_ROOM1",
                                            "host": "ct1.hospital.example", "port": "11112", "modality": "CT",
                                            "description": "CT scanner, room 1", "allowed": "on"})
    assert "ct1.hospital.example" in admin.get(AES).text
    refused = admin.post(f"{AES}/{ae_id}/refuse", data={"csrf_token": form_token(edit)})
    assert refused.status_code == 303
    assert f"{AES}/{ae_id}/allow" in admin.get(AES).text  # refused now: the button offers to allow it again
    admin.post(f"{AES}/{ae_id}/remove", data={"csrf_token": form_token(edit)})
    assert "CT_ROOM1" not in admin.get(AES).text


@pytest.mark.parametrize(("fields", "english", "chinese"), [
    ({"ae_title": "BAD\\AE"}, "AE title: An AE title is 1 to 16", "AE 名称：AE 名称为 1 到 16"),
    ({"host": "<script>alert(1)</script>"}, "Host: Enter a host name", "主机：请输入主机名"),
    ({"port": "104; rm -rf /"}, "Port: A port is a number from 1 to 65535.", "端口：端口须为 1 到 65535"),
    ({"modality": "C T"}, "Modality: A modality is a DICOM modality code", "设备类型：设备类型须为"),
    ({"description": "x" * 300}, "Description: A description is at most 194 characters.", "描述最多 194 个字符"),
])
def test_bad_input_is_refused_naming_the_field_in_english_and_chinese(admin, fields, english, chinese):
    answer = _add(admin, **fields)
    assert answer.status_code == 400 and english in answer.text and "<script>alert" not in answer.text
    assert "No remote AE is known yet." in answer.text
    admin.get(f"{AES}?lang=zh-Hans")
    answer = _add(admin, **fields)
    assert answer.status_code == 400 and chinese in answer.text


def test_a_second_ae_with_the_same_title_is_refused(admin):
    _add(admin)
    again = _add(admin, host="10.0.0.6")
    assert again.status_code == 400 and "Another remote AE has this AE title." in again.text


def test_the_console_links_the_pacs_and_refuses_others(admin, engine):
    assert "/console/pacs" in admin.get("/console").text
    assert admin.get("/console/pacs").headers["location"] == AES
    make_user(engine, "doctor")
    doctor = browser()
    sign_in(doctor, "doctor.test")
    assert doctor.get(AES).status_code == 403 and doctor.get(RECONCILE).status_code == 403
    stranger = browser()
    for path in (AES, RECONCILE):
        gone = stranger.get(path)
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")


def test_forged_forms_and_hostile_ids(admin, queued):
    page = admin.get(RECONCILE)
    item = re.search(r"/console/pacs/reconcile/(\d+)/dismiss", page.text).group(1)
    assert admin.post(f"{RECONCILE}/{item}/dismiss", data={"csrf_token": "forged"}).status_code == 403
    assert admin.post(AES, data={"csrf_token": "forged", "ae_title": "X", "host": "h", "port": "1"}).status_code == 403
    token = form_token(page)
    for path in (f"{RECONCILE}/1%27%20OR%201=1/dismiss", f"{RECONCILE}/99999999/dismiss",
                 f"{RECONCILE}/{item}/explode", f"{AES}/99999999/remove", f"{AES}/..%2F1/allow"):
        assert admin.post(path, data={"csrf_token": token}).status_code == 404, path
    assert admin.get(f"{AES}?edit=1%20OR%201").status_code == 404
    assert admin.post(f"{RECONCILE}/{item}/match", data={"csrf_token": token,
                                                        "patient": "../Patient/p-wang"}).status_code == 404
    assert _imaging_studies() == []


def test_a_queued_study_is_matched_to_a_patient_and_becomes_their_imaging_study(admin, queued):
    page = admin.get(RECONCILE)
    assert page.headers["cache-control"] == "no-store"
    for carried in ("WALKIN-7", "Wang Fang", "1950-03-04", "2026-03-02", "CT chest", "ACC77", "WALKIN-7&#39;"):
        assert carried in page.text, carried
    item = re.search(r"/console/pacs/reconcile/(\d+)/dismiss", page.text).group(1)
    found = admin.get(RECONCILE, params={"item": item, "q": "Wang"})
    assert "Fang" in found.text and "Far" not in found.text  # only the admin's hospital's patients
    assert "H-100" in admin.get(RECONCILE, params={"item": item, "q": "H-100"}).text
    assert "No patient of your hospital" in admin.get(RECONCILE, params={"item": item, "q": "H-200"}).text
    matched = admin.post(f"{RECONCILE}/{item}/match", data={"csrf_token": form_token(found), "patient": "p-wang"})
    assert matched.status_code == 303 and matched.headers["location"] == f"{RECONCILE}?done=matched"
    [imaging] = _imaging_studies()
    assert imaging["subject"] == {"reference": "Patient/p-wang"}
    assert imaging["identifier"][0]["value"] == f"urn:oid:{queued}" and imaging["numberOfInstances"] == 1
    after = admin.get(matched.headers["location"])
    assert "WALKIN-7" not in after.text and "No study is waiting for its patient." in after.text


def test_matching_to_a_patient_outside_the_hospital_is_refused(admin, queued):
    page = admin.get(RECONCILE)
    item = re.search(r"/console/pacs/reconcile/(\d+)/dismiss", page.text).group(1)
    refused = admin.post(f"{RECONCILE}/{item}/match", data={"csrf_token": form_token(page), "patient": "p-far"})
    assert refused.status_code == 403 and "is not one of your hospital" in refused.text
    assert _imaging_studies() == [] and "WALKIN-7" in admin.get(RECONCILE).text


def test_a_dismissed_study_leaves_the_queue_without_a_patient(admin, queued):
    page = admin.get(RECONCILE)
    item = re.search(r"/console/pacs/reconcile/(\d+)/dismiss", page.text).group(1)
    done = admin.post(f"{RECONCILE}/{item}/dismiss", data={"csrf_token": form_token(page)})
    assert done.headers["location"] == f"{RECONCILE}?done=dismissed"
    assert "WALKIN-7" not in admin.get(RECONCILE).text and _imaging_studies() == []
    assert admin.post(f"{RECONCILE}/{item}/dismiss", data={"csrf_token": form_token(page)}).status_code == 404


def test_why_a_study_waits_is_shown_in_the_administrators_language(admin, queued):
    english = admin.get(RECONCILE).text
    assert "no patient has the identifier &#39;WALKIN-7&#39;." in english
    chinese = admin.get(f"{RECONCILE}?lang=zh-Hans").text
    assert "没有患者的标识为 &#39;WALKIN-7&#39;" in chinese and "no patient has the identifier" not in chinese
