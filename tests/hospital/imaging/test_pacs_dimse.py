"""The DICOM service against real clients: dcmtk's echoscu, storescu and findscu, and pynetdicom for bad input."""

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.sop_class import MRImageStorage, RawDataStorage, StudyRootQueryRetrieveInformationModelFind

from smartcare.fhir.tables import resource
from smartcare.hospital.imaging import service
from smartcare.hospital.imaging.dicom import PacsService
from smartcare.hospital.imaging.models import imaging_instance, imaging_remote_ae
from smartcare.platform.db import unit_of_work
from tests.hospital.imaging.dicom_samples import ct_slice, uid, write
from tests.hospital.imaging.imaging_record import write_patients_and_order
from tests.hospital.imaging.pacs_peer import dcmtk, findscu, start_pacs


@pytest.fixture
def pacs(engine, tmp_path) -> Iterator[PacsService]:
    """A running DICOM service (any caller allowed) on a free port, storing under tmp_path/archive."""
    running = start_pacs(engine, tmp_path / "archive", allow_any_caller=True)
    yield running
    running.stop()


def _stored() -> int:
    with unit_of_work() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(imaging_instance)).scalar()


def _imaging_studies() -> list[dict]:
    # Written when the association's connection closes, which is just after storescu has its answer and exits.
    deadline = time.monotonic() + 10
    while True:
        with unit_of_work() as conn:
            found = [r[0] for r in conn.execute(sa.select(resource.c.content)
                                                .where(resource.c.res_type == "ImagingStudy"))]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _study_files(tmp_path, study: str, count: int, **attributes) -> list[str]:
    series = uid()
    folder = tmp_path / "send" / study
    folder.mkdir(parents=True)
    return [str(write(ct_slice(study_uid=study, series_uid=series, number=n, **attributes), folder / f"{n}.dcm"))
            for n in range(1, count + 1)]


def test_echoscu_is_answered(pacs):
    done = dcmtk("echoscu", pacs, "-v")
    assert done.returncode == 0, done.stderr
    assert "Received Echo Response (Success)" in done.stderr


def test_storescu_study_is_stored_and_becomes_a_linked_imaging_study(pacs, tmp_path):
    write_patients_and_order()
    study = uid()
    files = _study_files(tmp_path, study, 5, patient_id="P-1", accession="CT0001")
    done = dcmtk("storescu", pacs, files=files)
    assert done.returncode == 0, done.stderr
    assert _stored() == 5
    assert len(list((tmp_path / "archive" / study).rglob("*.dcm"))) == 5
    [imaging] = _imaging_studies()
    assert imaging["subject"]["reference"] == "Patient/p-wang"
    assert imaging["basedOn"] == [{"reference": "ServiceRequest/sr-ct"}]
    assert imaging["numberOfInstances"] == 5


def test_findscu_matches_wildcards_and_date_ranges_at_each_level(pacs, tmp_path):
    january, march = uid(), uid()
    dcmtk("storescu", pacs, files=_study_files(tmp_path, january, 2, patient_id="P-1", study_date="20260115",
                                          patient_name="Wang^Fang"))
    dcmtk("storescu", pacs, files=_study_files(tmp_path, march, 3, patient_id="P-2", study_date="20260302",
                                          patient_name="Zhao^Lei"))
    out = tmp_path / "found"
    found = findscu(pacs, out, "QueryRetrieveLevel=STUDY", "StudyDate=20260101-20260131", "StudyInstanceUID",
                    "PatientName", "NumberOfStudyRelatedInstances")
    assert [(a.StudyInstanceUID, str(a.PatientName), a.NumberOfStudyRelatedInstances) for a in found] == [
        (january, "Wang^Fang", 2)]
    found = findscu(pacs, out, "QueryRetrieveLevel=STUDY", "PatientName=Zh*", "StudyInstanceUID", "ModalitiesInStudy")
    assert [(a.StudyInstanceUID, a.ModalitiesInStudy) for a in found] == [(march, "CT")]
    found = findscu(pacs, out, "QueryRetrieveLevel=STUDY", "PatientID=P-?", "StudyInstanceUID")
    assert {a.StudyInstanceUID for a in found} == {january, march}
    found = findscu(pacs, out, "QueryRetrieveLevel=SERIES", f"StudyInstanceUID={march}", "SeriesInstanceUID",
                    "Modality", "NumberOfSeriesRelatedInstances")
    assert [(a.Modality, a.NumberOfSeriesRelatedInstances) for a in found] == [("CT", 3)]
    found = findscu(pacs, out, "QueryRetrieveLevel=IMAGE", f"StudyInstanceUID={march}", "SOPInstanceUID",
                    "InstanceNumber")
    assert [a.InstanceNumber for a in found] == [1, 2, 3]
    found = findscu(pacs, out, "QueryRetrieveLevel=PATIENT", "PatientID=P-2", "PatientName",
                    "NumberOfPatientRelatedStudies", model="-P")
    assert [(str(a.PatientName), a.NumberOfPatientRelatedStudies) for a in found] == [("Zhao^Lei", 1)]


def _associate(pacs: PacsService, *contexts: str, calling: str = "TESTSCU"):
    ae = AE(calling)
    for context in contexts:
        ae.add_requested_context(context, ExplicitVRLittleEndian)
    host, port = pacs.address
    return ae.associate(host, port, ae_title="SMARTCARE")


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_refused_instances_get_a_reason_and_the_association_goes_on(pacs, tmp_path):
    assoc = _associate(pacs, CTImageStorage, MRImageStorage)
    assert assoc.is_established
    study = uid()
    assert assoc.send_c_store(ct_slice(patient_id="P-1", study_uid=study)).Status == 0x0000
    other_patient = assoc.send_c_store(ct_slice(patient_id="P-2", study_uid=study))
    assert other_patient.Status == service.OTHER_PATIENT and "another patient" in other_patient.ErrorComment
    hostile = ct_slice()
    hostile.SeriesInstanceUID = "../../etc"
    answer = assoc.send_c_store(hostile)
    assert answer.Status == service.BAD_UID and "Series Instance UID" in answer.ErrorComment
    missing = ct_slice()
    del missing.StudyInstanceUID
    assert assoc.send_c_store(missing).Status == service.BAD_UID
    no_pixels = ct_slice()
    del no_pixels.PixelData
    assert assoc.send_c_store(no_pixels).Status == service.NOT_MATCHING_SOP_CLASS
    assert assoc.send_c_store(ct_slice(modality="CT")).Status == 0x0000  # still serving after the refusals
    assoc.release()
    assert _stored() == 2
    assert not list((tmp_path / "archive").rglob("etc"))


def test_unsupported_sop_class_is_not_accepted_at_negotiation(pacs):
    assoc = _associate(pacs, RawDataStorage, CTImageStorage)
    assert assoc.is_established
    accepted = {c.abstract_syntax for c in assoc.accepted_contexts}
    assert RawDataStorage not in accepted and CTImageStorage in accepted
    assoc.release()


def test_garbage_file_via_storescu_is_refused_without_crashing_the_service(pacs, tmp_path):
    bad = tmp_path / "garbage.dcm"
    data = (tmp_path / "ok.dcm")
    write(ct_slice(size=64), data)
    raw = data.read_bytes()
    bad.write_bytes(raw[: len(raw) - 2000])  # pixel data cut short: the length field claims more
    done = dcmtk("storescu", pacs, files=[str(bad)])
    assert _stored() == 0
    assert "0xa900" in (done.stdout + done.stderr).lower() or done.returncode != 0
    assert dcmtk("echoscu", pacs).returncode == 0


def test_unknown_calling_ae_is_rejected_unless_configured(engine, tmp_path):
    strict = start_pacs(engine, tmp_path, allow_any_caller=False, callers_ttl_seconds=0)
    try:
        assoc = _associate(strict, StudyRootQueryRetrieveInformationModelFind, calling="STRANGER")
        assert assoc.is_rejected
        with unit_of_work() as conn:
            conn.execute(imaging_remote_ae.insert().values(ae_title="CT1", host="10.0.0.5", port=104,
                                                           description="CT scanner", allowed=True))
        assoc = _associate(strict, StudyRootQueryRetrieveInformationModelFind, calling="CT1")
        assert assoc.is_established
        query = Dataset()
        query.QueryRetrieveLevel = "BOGUS"
        statuses = [status.Status for status, _ in assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind)]
        assert statuses == [0xA900]
        assoc.release()
    finally:
        strict.stop()


def test_each_c_find_is_audited_with_who_asked_what_and_how_many_matched(pacs, tmp_path):
    from smartcare.platform import audit

    study = uid()
    dcmtk("storescu", pacs, files=_study_files(tmp_path, study, 1, patient_id="P-7", study_date="20260115"))
    findscu(pacs, tmp_path / "found", "QueryRetrieveLevel=STUDY", "PatientID=P-7", "StudyInstanceUID")
    with unit_of_work() as conn:
        [entry] = audit.search(conn, agent="client/dicom-ae:MODALITY", subtype="search")
    [entity] = entry["event"]["entity"]
    assert entity["description"] == "ImagingStudy?dicom-c-find=STUDY&PatientID=P-7&matches=1"
    assert entry["action"] == "R" and entry["outcome"] == "0"
