"""DICOMweb at /dicomweb: search, retrieve, rendered frames and store, each only within the caller's reach."""

from collections.abc import Iterator
from datetime import date
from io import BytesIO

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pydicom import dcmread
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGLossless

from smartcare.hospital.imaging import service
from smartcare.hospital.imaging.synthetic import SyntheticPatient, SyntheticStudy, build_study
from smartcare.platform.settings import get_settings
from tests.conftest import bearer
from tests.hospital.imaging.dicom_samples import ct_slice, encoded
from tests.hospital.imaging.dicomweb_record import (
    STOW_TYPE,
    WANG,
    ZHAO,
    Archive,
    data_dir,
    fill_archive,
    multipart,
    split_multipart,
)
from tests.web_support import browser, make_user, sign_in

DICOM_JSON = "application/dicom+json"
PATIENT_NAME, PATIENT_ID, STUDY_UID, MODALITIES = "00100010", "00100020", "0020000D", "00080061"
SOP_UID, RETRIEVE_URL, FAILED, REFERENCED, FAILURE_REASON = "00080018", "00081190", "00081198", "00081199", "00081197"


@pytest.fixture
def web(engine) -> Iterator[TestClient]:
    """The app with no credentials of its own."""
    from smartcare.platform.web.app import create_app

    with TestClient(create_app(), base_url="http://testserver") as c:
        yield c


@pytest.fixture
def archive(engine, tmp_path) -> Iterator[Archive]:
    """The filled archive, its files under tmp_path."""
    with data_dir(tmp_path):
        yield fill_archive()


def _studies(web: TestClient, headers: dict, **params) -> list[dict]:
    r = web.get("/dicomweb/studies", params=params, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(DICOM_JSON)
    return r.json()


def _uids(found: list[dict], tag: str = STUDY_UID) -> set[str]:
    return {f[tag]["Value"][0] for f in found}


def test_study_search_matches_standard_attributes_and_lists_only_published_studies(web, archive: Archive):
    system = bearer()
    everything = _studies(web, system)
    # The study whose patient nobody matched waits for reconciliation: no ImagingStudy, so not listed.
    assert _uids(everything) == {archive.wang_study, archive.zhao_study}
    [wang] = _studies(web, system, PatientID="P-1")
    assert wang[PATIENT_NAME]["Value"] == [{"Alphabetic": "Wang^Fang"}]
    assert wang[MODALITIES]["Value"] == ["CT"]
    assert wang[RETRIEVE_URL]["Value"] == [f"http://testserver/dicomweb/studies/{archive.wang_study}"]
    assert _uids(_studies(web, system, PatientName="Zha*", fuzzymatching="false")) == {archive.zhao_study}
    assert _uids(_studies(web, system, StudyDate="20260101-20260131")) == {archive.zhao_study}
    assert _uids(_studies(web, system, ModalitiesInStudy="MR")) == {archive.zhao_study}
    assert _uids(_studies(web, system, AccessionNumber="CT0001")) == {archive.wang_study}
    both = f"{archive.wang_study},{archive.zhao_study}".replace(",", "\\")
    assert _uids(_studies(web, system, StudyInstanceUID=both)) == {archive.wang_study, archive.zhao_study}
    assert _studies(web, system, PatientID="P-404") == []


def test_study_search_pages_and_returns_the_fields_asked_for(web, archive: Archive):
    system = bearer()
    first = _studies(web, system, limit="1")
    second = _studies(web, system, limit="1", offset="1")
    assert len(first) == len(second) == 1 and _uids(first) != _uids(second)
    r = web.get("/dicomweb/studies", params={"limit": "1"}, headers=system)
    assert "offset=1" in r.headers["warning"]
    [wang] = _studies(web, system, PatientID="P-1", includefield="00081030,StudyID")
    assert wang["00081030"]["Value"] == ["CT chest"]
    [full] = _studies(web, system, PatientID="P-1", includefield="all")
    assert full["00201206"]["Value"] == [1] and full["00201208"]["Value"] == [2]


@pytest.mark.parametrize("params", [{"limit": "lots"}, {"limit": "0"}, {"offset": "-1"}, {"Frobnicate": "x"},
                                    {"fuzzymatching": "perhaps"}, {"0008103E": "Axial"},
                                    {"ReferencedSeriesSequence.SeriesInstanceUID": "1.2"},
                                    {"includefield": "NotAKeyword"}])
def test_bad_search_parameters_are_refused_with_a_reason(web, archive: Archive, params):
    r = web.get("/dicomweb/studies", params=params, headers=bearer())
    assert r.status_code == 400
    assert r.json()["message"]


def test_series_and_instances_of_a_study_are_searchable(web, archive: Archive):
    system = bearer()
    r = web.get(f"/dicomweb/studies/{archive.wang_study}/series", headers=system)
    assert r.status_code == 200
    [series] = r.json()
    assert series["0020000E"]["Value"] == [archive.wang_series] and series["00201209"]["Value"] == [2]
    r = web.get(f"/dicomweb/studies/{archive.wang_study}/series/{archive.wang_series}/instances", headers=system)
    assert [i[SOP_UID]["Value"][0] for i in r.json()] == archive.wang_instances
    r = web.get("/dicomweb/instances", params={"SOPInstanceUID": archive.wang_instances[1]}, headers=system)
    assert _uids(r.json(), SOP_UID) == {archive.wang_instances[1]}
    r = web.get("/dicomweb/series", params={"Modality": "MR"}, headers=system)
    assert _uids(r.json()) == {archive.zhao_study}


def test_instance_is_retrieved_byte_for_byte_and_a_series_as_one_part_each(web, archive: Archive):
    system = bearer()
    base = f"/dicomweb/studies/{archive.wang_study}/series/{archive.wang_series}"
    r = web.get(f"{base}/instances/{archive.wang_instances[0]}",
                headers={**system, "Accept": 'multipart/related; type="application/dicom"'})
    assert r.status_code == 200 and r.headers["content-type"].startswith("multipart/related")
    [part] = split_multipart(r.headers["content-type"], r.content)
    assert part == service.read_instance(archive.wang_instances[0])
    r = web.get(base, headers=system)
    parts = split_multipart(r.headers["content-type"], r.content)
    assert [dcmread(BytesIO(p)).SOPInstanceUID for p in parts] == archive.wang_instances
    r = web.get(base, headers={**system, "Accept": 'multipart/related; type="application/dicom"; '
                                                   "transfer-syntax=1.2.840.10008.1.2.4.50"})
    assert r.status_code == 406 and "as stored" in r.json()["message"]


def test_metadata_points_to_pixel_data_as_bulk_data(web, archive: Archive):
    system = bearer()
    r = web.get(f"/dicomweb/studies/{archive.wang_study}/metadata", headers=system)
    assert r.status_code == 200 and r.headers["content-type"].startswith(DICOM_JSON)
    first, _ = r.json()
    assert first[PATIENT_ID]["Value"] == ["P-1"]
    uri = first["7FE00010"]["BulkDataURI"]
    assert "InlineBinary" not in first["7FE00010"]
    r = web.get(uri.removeprefix("http://testserver"), headers=system)
    [pixels] = split_multipart(r.headers["content-type"], r.content)
    assert pixels == dcmread(BytesIO(service.read_instance(archive.wang_instances[0]))).PixelData
    r = web.get(f"{uri.rsplit('/', 2)[0]}/frames/1".removeprefix("http://testserver"), headers=system)
    assert split_multipart(r.headers["content-type"], r.content) == [pixels]


def _render(web, archive: Archive, *, path: str = "rendered", accept: str = "image/png", **params):
    url = (f"/dicomweb/studies/{archive.wang_study}/series/{archive.wang_series}/instances/"
           f"{archive.wang_instances[0]}/{path}")
    return web.get(url, params=params, headers={**bearer(), "Accept": accept})


def _pixels(response) -> np.ndarray:
    return np.asarray(Image.open(BytesIO(response.content)))


def test_rendered_frame_is_a_png_of_the_image_windowed_as_asked(web, archive: Archive):
    default = _render(web, archive)
    assert default.status_code == 200 and default.headers["content-type"] == "image/png"
    image = Image.open(BytesIO(default.content))
    assert image.size == (16, 16) and image.mode == "L"
    narrow = _render(web, archive, window="100,50,linear")
    wide = _render(web, archive, path="frames/1/rendered", window="5000,10000")
    assert not np.array_equal(_pixels(narrow), _pixels(wide))
    assert not np.array_equal(_pixels(default), _pixels(narrow))
    assert _pixels(narrow).max() == 255 and _pixels(wide).max() < 128
    big = _render(web, archive, viewport="64,32")
    assert Image.open(BytesIO(big.content)).size == (32, 32)
    jpeg = _render(web, archive, accept="image/jpeg")
    assert jpeg.headers["content-type"] == "image/jpeg" and jpeg.content[:2] == b"\xff\xd8"


@pytest.mark.parametrize(("params", "path", "status"), [
    ({"window": "wide"}, "rendered", 400), ({"window": "40,0"}, "rendered", 400),
    ({"window": "40,400,sigmoid"}, "rendered", 400), ({"viewport": "0,10"}, "rendered", 400),
    ({"viewport": "99999,10"}, "rendered", 400), ({}, "frames/2/rendered", 404), ({}, "frames/0/rendered", 400),
    ({}, "frames/x/rendered", 400),
])
def test_bad_render_requests_are_refused(web, archive: Archive, params, path, status):
    assert _render(web, archive, path=path, **params).status_code == status


def test_render_refuses_media_types_it_does_not_make(web, archive: Archive):
    r = _render(web, archive, accept="image/gif")
    assert r.status_code == 406 and "image/png" in r.json()["message"]


def _stow(web, parts: list[bytes], headers: dict, path: str = "/dicomweb/studies", **kwargs):
    return web.post(path, content=multipart(parts, **kwargs), headers={**headers, "Content-Type": STOW_TYPE})


def test_monochrome1_multiframe_and_rescaled_images_render_as_displayed(web, archive: Archive):
    frames = np.stack([np.full((8, 8), 100, np.uint16), np.full((8, 8), 900, np.uint16)])
    ds = ct_slice(patient_id="P-1", study_uid=archive.wang_study, series_uid=archive.wang_series, size=8,
                  NumberOfFrames=2, PhotometricInterpretation="MONOCHROME1", RescaleSlope=2, RescaleIntercept=-1000,
                  WindowCenter=0, WindowWidth=1000)
    ds.PixelData = frames.tobytes()
    assert _stow(web, [encoded(ds)], bearer()).status_code == 200
    base = f"/dicomweb/studies/{archive.wang_study}/series/{archive.wang_series}/instances/{ds.SOPInstanceUID}"
    first = _pixels(web.get(f"{base}/frames/1/rendered", headers=bearer()))
    second = _pixels(web.get(f"{base}/frames/2/rendered", headers=bearer()))
    # 100 -> -800 (below the window: black, shown white in MONOCHROME1); 900 -> 800 (above: shown black).
    assert first.min() == 255 and second.max() == 0


def test_compressed_pixel_data_the_server_cannot_decode_is_refused_clearly(web, archive: Archive):
    ds = ct_slice(patient_id="P-1", study_uid=archive.wang_study, series_uid=archive.wang_series,
                  transfer_syntax=JPEGLossless)
    ds.PixelData = encapsulate([b"\xff\xd8not really a jpeg\xff\xd9"])
    ds["PixelData"].VR = "OB"
    assert _stow(web, [encoded(ds)], bearer()).status_code == 200
    base = f"/dicomweb/studies/{archive.wang_study}/series/{archive.wang_series}/instances/{ds.SOPInstanceUID}"
    r = web.get(f"{base}/rendered", headers=bearer())
    assert r.status_code == 406 and "cannot be decoded" in r.json()["message"]
    assert web.get(f"{base}/frames/1", headers=bearer()).status_code == 406


def test_a_patient_sees_their_own_study_and_not_anothers(web, archive: Archive):
    wang = bearer(**WANG)
    assert {s[STUDY_UID]["Value"][0] for s in _studies(web, wang)} == {archive.wang_study}
    assert _studies(web, wang, PatientID="P-2") == []
    zhao_study = f"/dicomweb/studies/{archive.zhao_study}"
    for path in (zhao_study, f"{zhao_study}/metadata", f"{zhao_study}/series",
                 f"/dicomweb/studies/{archive.unmatched_study}"):
        r = web.get(path, headers=wang)
        assert r.status_code == 404, path
    assert web.get(zhao_study, headers=bearer(**ZHAO)).status_code == 200
    r = web.get(f"/dicomweb/studies/{archive.wang_study}/metadata", headers=wang)
    assert r.status_code == 200 and len(r.json()) == 2


def test_unauthenticated_requests_get_401(web, archive: Archive):
    for path in ("/dicomweb/studies", f"/dicomweb/studies/{archive.wang_study}"):
        r = web.get(path)
        assert r.status_code == 401 and "Bearer" in r.headers["www-authenticate"]
    assert web.get("/dicomweb/studies", headers={"Authorization": "Bearer forged.token.x"}).status_code == 401
    assert web.post("/dicomweb/studies", content=multipart([b"x"]),
                    headers={"Content-Type": STOW_TYPE}).status_code == 401


@pytest.mark.parametrize("study", ["1.2.3..4", "1.2.abc", "01.2.3", "1." + "2" * 70, "%2E%2E%2Fetc"])
def test_hostile_uids_are_refused_before_reaching_the_archive(web, archive: Archive, study):
    for path in (f"/dicomweb/studies/{study}", f"/dicomweb/studies/{study}/series",
                 f"/dicomweb/studies/{archive.wang_study}/series/{study}/instances/{study}/rendered"):
        r = web.get(path, headers=bearer())
        assert r.status_code in (400, 404), path


def _synthetic(patient_id: str = "P-1", slices: int = 3) -> list[bytes]:
    study = SyntheticStudy(SyntheticPatient(patient_id, "Wang^Fang", birth_date=date(1950, 3, 4), sex="F"),
                           modality="CT", slices=slices, size=16, seed=3, accession_number="CT0001")
    return [encoded(ds) for ds in build_study(study)]


def test_stow_stores_synthetic_instances_and_they_can_be_found(web, archive: Archive):
    parts = _synthetic()
    r = _stow(web, parts, bearer())
    assert r.status_code == 200 and r.headers["content-type"].startswith(DICOM_JSON)
    stored = r.json()[REFERENCED]["Value"]
    assert len(stored) == 3 and FAILED not in r.json()
    study_uid = dcmread(BytesIO(parts[0])).StudyInstanceUID
    assert stored[0][RETRIEVE_URL]["Value"][0].startswith(f"http://testserver/dicomweb/studies/{study_uid}/")
    [found] = _studies(web, bearer(**WANG), StudyInstanceUID=study_uid)
    assert found["00201208"]["Value"] == [3]


def test_stow_stores_the_good_parts_and_reports_the_truncated_one(web, archive: Archive):
    good = _synthetic(slices=2)
    truncated = good[1][: len(good[1]) - 200]
    r = _stow(web, [good[0], truncated], bearer())
    assert r.status_code == 202
    [failure] = r.json()[FAILED]["Value"]
    assert failure[FAILURE_REASON]["Value"][0] in (service.CANNOT_UNDERSTAND, service.NOT_MATCHING_SOP_CLASS)
    assert len(r.json()[REFERENCED]["Value"]) == 1
    assert service.read_instance(dcmread(BytesIO(good[0])).SOPInstanceUID) == good[0]
    r = _stow(web, [b"DICM garbage", truncated], bearer())
    assert r.status_code == 409 and REFERENCED not in r.json() and len(r.json()[FAILED]["Value"]) == 2


def test_stow_to_a_study_refuses_instances_of_another(web, archive: Archive):
    parts = _synthetic(slices=1)
    r = _stow(web, parts, bearer(), path=f"/dicomweb/studies/{archive.wang_study}")
    assert r.status_code == 409
    assert r.json()[FAILED]["Value"][0][FAILURE_REASON]["Value"] == [service.NOT_MATCHING_SOP_CLASS]


def test_stow_is_for_staff_within_the_size_limit_and_of_dicom_parts(web, archive: Archive, monkeypatch):
    parts = _synthetic(slices=1)
    r = _stow(web, parts, bearer(**WANG))
    assert r.status_code == 403
    assert _stow(web, parts, bearer(), content_type="application/dicom+json").status_code == 409
    r = web.post("/dicomweb/studies", content=b"{}", headers={**bearer(), "Content-Type": "application/json"})
    assert r.status_code == 415
    monkeypatch.setattr(get_settings(), "max_request_bytes", 1000)
    assert _stow(web, parts, bearer()).status_code == 413


def test_a_signed_in_patient_reaches_their_own_studies_with_the_session_cookie(engine, archive: Archive):
    make_user(engine, "patient", "wang.fang.web", fhir_ref="Patient/p-wang")
    with browser() as web:
        sign_in(web, "wang.fang.web")
        r = web.get("/dicomweb/studies")
        assert r.status_code == 200 and _uids(r.json()) == {archive.wang_study}
        assert web.get(f"/dicomweb/studies/{archive.zhao_study}/metadata").status_code == 404
        r = web.post("/dicomweb/studies", content=multipart([b"x"]), headers={"Content-Type": STOW_TYPE})
        assert r.status_code == 403 and "CSRF" in r.json()["message"]


def test_an_unreachable_instance_store_is_a_503_to_try_again(web, archive: Archive, monkeypatch):
    from smartcare.hospital.imaging import dicomweb
    from smartcare.hospital.imaging.object_store import S3Store

    down = S3Store("http://127.0.0.1:9", "dicom-archive", access_key="a", secret_key="b")  # nothing listens
    monkeypatch.setattr(dicomweb, "default_store", lambda: down)
    r = web.get(f"/dicomweb/studies/{archive.wang_study}/metadata", headers=bearer())
    assert r.status_code == 503 and r.headers["retry-after"] == "30"
    assert "cannot be read now" in r.json()["message"]
