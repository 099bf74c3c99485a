"""Frames of a multi-frame instance through DICOMweb, as the browser viewer asks for them: how many there are
(from the instance's metadata) and each one rendered on its own."""

from collections.abc import Iterator
from io import BytesIO

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pydicom.dataset import Dataset

from smartcare.hospital.imaging import service
from tests.conftest import bearer
from tests.hospital.imaging.dicom_samples import ct_slice, uid
from tests.hospital.imaging.dicomweb_record import Archive, data_dir, fill_archive

MULTIFRAME_GRAYSCALE_WORD_SC = "1.2.840.10008.5.1.4.1.1.7.3"
FRAMES, SIZE, SQUARE = 8, 64, 10
NUMBER_OF_FRAMES, FRAME_TIME = "00280008", "00181063"


def square_at(frame: int) -> tuple[int, int]:
    """The top-left corner (row, column) of the bright square in frame (numbered from 1): it moves diagonally."""
    return 4 + 6 * (frame - 1), 4 + 6 * (frame - 1)


def multiframe_instance(*, patient_id: str, study_uid: str, series_uid: str, patient_name: str = "Wang^Fang",
                        series_number: int = 2, number: int = 1) -> Dataset:
    """A multi-frame grayscale word secondary capture: FRAMES frames of SIZE x SIZE, MONOCHROME2, 16 bit, each a
    dark field with a bright square at square_at(frame), played at 10 frames a second."""
    pixels = np.full((FRAMES, SIZE, SIZE), 100, np.uint16)
    for frame in range(1, FRAMES + 1):
        row, column = square_at(frame)
        pixels[frame - 1, row:row + SQUARE, column:column + SQUARE] = 3000
    ds = ct_slice(patient_id=patient_id, patient_name=patient_name, study_uid=study_uid, series_uid=series_uid,
                  number=number, modality="OT", sop_class=MULTIFRAME_GRAYSCALE_WORD_SC, size=SIZE, NumberOfFrames=FRAMES,
                  FrameTime=100, FrameIncrementPointer=0x00181063, BitsStored=16, HighBit=15,
                  SeriesNumber=series_number, SeriesDescription="Moving square (multi-frame)")
    ds.PixelData = pixels.tobytes()
    return ds


def bright_square(png: bytes) -> tuple[int, int]:
    """The top-left corner (row, column) of the bright pixels of a rendered frame."""
    shown = np.asarray(Image.open(BytesIO(png)))
    rows, columns = np.nonzero(shown > 200)
    return int(rows.min()), int(columns.min())


@pytest.fixture
def web(engine) -> Iterator[TestClient]:
    from smartcare.platform.web.app import create_app

    with TestClient(create_app(), base_url="http://testserver") as c:
        yield c


@pytest.fixture
def stored(engine, tmp_path) -> Iterator[tuple[Archive, Dataset]]:
    """Mrs Wang's archive with a second series holding one eight-frame instance."""
    with data_dir(tmp_path):
        archive = fill_archive()
        ds = multiframe_instance(patient_id="P-1", study_uid=archive.wang_study, series_uid=uid())
        assert service.store_instance(ds, calling_ae="US1").status == service.SUCCESS
        yield archive, ds


def _instance_path(archive: Archive, ds: Dataset) -> str:
    return f"/dicomweb/studies/{archive.wang_study}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"


def test_each_frame_renders_its_own_picture(web, stored):
    archive, ds = stored
    base = _instance_path(archive, ds)
    for frame in (1, 5, 8):
        r = web.get(f"{base}/frames/{frame}/rendered", headers={**bearer(), "Accept": "image/png"})
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert bright_square(r.content) == square_at(frame)
    first_frame = web.get(f"{base}/rendered", headers=bearer())
    assert bright_square(first_frame.content) == square_at(1)


def test_a_frame_beyond_the_last_is_not_found(web, stored):
    archive, ds = stored
    r = web.get(f"{_instance_path(archive, ds)}/frames/{FRAMES + 1}/rendered", headers=bearer())
    assert r.status_code == 404 and f"{FRAMES} frame(s)" in r.json()["message"]


def test_metadata_tells_the_viewer_how_many_frames_and_how_fast(web, stored):
    archive, ds = stored
    r = web.get(f"{_instance_path(archive, ds)}/metadata", headers=bearer())
    [found] = r.json()
    assert found[NUMBER_OF_FRAMES]["Value"] == [FRAMES] and found[FRAME_TIME]["Value"] == [100]
