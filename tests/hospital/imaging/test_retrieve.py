"""C-MOVE and C-GET: dcmtk's movescu (to a running storescp) and getscu fetch studies, series and images back;
pynetdicom checks the sub-operation counts, an unknown move destination and a missing file."""

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pynetdicom import AE, build_role, evt
from pynetdicom.sop_class import (
    CTImageStorage,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from smartcare.hospital.imaging import remote_aes
from smartcare.hospital.imaging.dicom import PacsService
from smartcare.platform.db import unit_of_work
from tests.hospital.imaging.dicom_samples import ct_slice, uid, write
from tests.hospital.imaging.pacs_peer import dcmtk, need_dcmtk, start_pacs


@pytest.fixture
def pacs(engine, tmp_path) -> Iterator[PacsService]:
    running = start_pacs(engine, tmp_path / "archive", allow_any_caller=True)
    yield running
    running.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def destination(tmp_path) -> Iterator[Path]:
    """dcmtk's storescp as the move destination DEST (a known, allowed AE), writing into a folder."""
    folder = tmp_path / "received"
    folder.mkdir()
    port = _free_port()
    process = subprocess.Popen([need_dcmtk("storescp"), "-aet", "DEST", "-od", str(folder), str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    with unit_of_work() as conn:
        remote_aes.save(conn, remote_aes.checked(ae_title="DEST", host="127.0.0.1", port=port, modality="",
                                                 description="viewing station"), allowed=True)
    yield folder
    process.terminate()
    process.wait(timeout=10)


def _send_study(pacs: PacsService, tmp_path: Path, series_sizes: tuple[int, ...]) -> tuple[str, list[str]]:
    """Store a study with series of the given sizes through storescu; the study and series UIDs."""
    study, all_series, files = uid(), [], []
    folder = tmp_path / "send"
    folder.mkdir(exist_ok=True)
    for size in series_sizes:
        series = uid()
        all_series.append(series)
        for n in range(1, size + 1):
            ds = ct_slice(study_uid=study, series_uid=series, number=n)
            files.append(str(write(ds, folder / f"{ds.SOPInstanceUID}.dcm")))
    done = dcmtk("storescu", pacs, files=files)
    assert done.returncode == 0, done.stderr
    return study, all_series


def _received(folder: Path) -> list[Dataset]:
    return [dcmread(p) for p in sorted(folder.rglob("*")) if p.is_file()]


def test_movescu_study_arrives_at_the_destination(pacs, destination, tmp_path):
    study, _ = _send_study(pacs, tmp_path, (3, 2))
    done = dcmtk("movescu", pacs, "-v", "-S", "-aem", "DEST", "-k", "QueryRetrieveLevel=STUDY",
                 "-k", f"StudyInstanceUID={study}")
    assert done.returncode == 0, done.stderr
    received = _received(destination)
    assert len(received) == 5 and {d.StudyInstanceUID for d in received} == {study}
    assert done.stderr.count("(Pending)") == 5 and "Received Final Move Response (Success)" in done.stderr


def test_movescu_series_and_image_levels(pacs, destination, tmp_path):
    study, (first, second) = _send_study(pacs, tmp_path, (3, 2))
    done = dcmtk("movescu", pacs, "-S", "-aem", "DEST", "-k", "QueryRetrieveLevel=SERIES",
                 "-k", f"StudyInstanceUID={study}", "-k", f"SeriesInstanceUID={second}")
    assert done.returncode == 0, done.stderr
    assert {d.SeriesInstanceUID for d in _received(destination)} == {second}
    one = _received(destination)[0].SOPInstanceUID
    for old in destination.iterdir():
        old.unlink()
    done = dcmtk("movescu", pacs, "-S", "-aem", "DEST", "-k", "QueryRetrieveLevel=IMAGE",
                 "-k", f"StudyInstanceUID={study}", "-k", f"SeriesInstanceUID={second}",
                 "-k", f"SOPInstanceUID={one}")
    assert done.returncode == 0, done.stderr
    assert [d.SOPInstanceUID for d in _received(destination)] == [one]


def test_getscu_fetches_a_study_and_a_series(pacs, tmp_path):
    study, (first, _) = _send_study(pacs, tmp_path, (2, 3))
    out = tmp_path / "got"
    out.mkdir()
    done = dcmtk("getscu", pacs, "-S", "-od", str(out), "-k", "QueryRetrieveLevel=STUDY",
                 "-k", f"StudyInstanceUID={study}")
    assert done.returncode == 0, done.stderr
    assert len(_received(out)) == 5
    series_out = tmp_path / "got-series"
    series_out.mkdir()
    done = dcmtk("getscu", pacs, "-S", "-od", str(series_out), "-k", "QueryRetrieveLevel=SERIES",
                 "-k", f"StudyInstanceUID={study}", "-k", f"SeriesInstanceUID={first}")
    assert done.returncode == 0, done.stderr
    got = _received(series_out)
    assert len(got) == 2 and {d.SeriesInstanceUID for d in got} == {first}
    assert got[0].PixelData == ct_slice().PixelData


def _move(pacs: PacsService, identifier: Dataset, destination: str) -> list[Dataset]:
    ae = AE(ae_title="WORKSTN")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
    assoc = ae.associate(*pacs.address, ae_title="SMARTCARE")
    assert assoc.is_established
    try:
        return [status for status, _ in assoc.send_c_move(identifier, destination,
                                                          StudyRootQueryRetrieveInformationModelMove)]
    finally:
        assoc.release()


def _get(pacs: PacsService, identifier: Dataset) -> tuple[list[Dataset], list[Dataset]]:
    received: list[Dataset] = []

    def on_store(event):
        received.append(event.dataset)
        return 0x0000

    ae = AE(ae_title="WORKSTN")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    ae.add_requested_context(CTImageStorage)
    assoc = ae.associate(*pacs.address, ae_title="SMARTCARE", ext_neg=[build_role(CTImageStorage, scp_role=True)],
                         evt_handlers=[(evt.EVT_C_STORE, on_store)])
    assert assoc.is_established
    try:
        statuses = [status for status, _ in assoc.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet)]
    finally:
        assoc.release()
    return statuses, received


def _study_query(study: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel, ds.StudyInstanceUID = "STUDY", study
    return ds


def test_an_unknown_or_disallowed_move_destination_is_refused(pacs, tmp_path):
    study, _ = _send_study(pacs, tmp_path, (1,))
    assert [s.Status for s in _move(pacs, _study_query(study), "NOBODY")] == [0xA801]
    with unit_of_work() as conn:
        remote_aes.save(conn, remote_aes.checked(ae_title="BLOCKED", host="127.0.0.1", port=_free_port(),
                                                 modality="", description=""), allowed=False)
    assert [s.Status for s in _move(pacs, _study_query(study), "BLOCKED")] == [0xA801]


def test_c_get_reports_sub_operation_counts_and_a_missing_file_as_failed(pacs, tmp_path):
    study, _ = _send_study(pacs, tmp_path, (3,))
    statuses, received = _get(pacs, _study_query(study))
    assert [s.Status for s in statuses] == [0xFF00, 0xFF00, 0xFF00, 0x0000]
    assert [s.NumberOfRemainingSuboperations for s in statuses[:3]] == [2, 1, 0]
    assert statuses[-1].NumberOfCompletedSuboperations == 3 and len(received) == 3
    next((tmp_path / "archive").rglob("*.dcm")).unlink()
    statuses, received = _get(pacs, _study_query(study))
    assert statuses[-1].Status == 0xB000  # a warning: some sub-operations failed
    assert (statuses[-1].NumberOfCompletedSuboperations, statuses[-1].NumberOfFailedSuboperations) == (2, 1)


def test_retrieves_of_nothing_or_without_the_unique_key(pacs, tmp_path):
    _send_study(pacs, tmp_path, (1,))
    statuses, received = _get(pacs, _study_query(uid()))
    assert [s.Status for s in statuses] == [0x0000] and received == []
    no_key = Dataset()
    no_key.QueryRetrieveLevel = "SERIES"
    statuses, _ = _get(pacs, no_key)
    assert statuses[-1].Status >= 0xA000  # a failure status, and the association goes on
    bad_level = Dataset()
    bad_level.QueryRetrieveLevel = "FRAME"
    bad_level.StudyInstanceUID = "1.2.3"
    assert _move(pacs, bad_level, "NOBODY")[-1].Status == 0xA801
