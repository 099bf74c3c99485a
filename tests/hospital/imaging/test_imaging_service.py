"""Storing DICOM instances: durable and indexed before success, refused with a DICOM status and a reason."""

import pytest
import sqlalchemy as sa
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.uid import JPEGBaseline8Bit

from smartcare.fhir.tables import resource
from smartcare.hospital.imaging import service
from smartcare.hospital.imaging.models import imaging_instance, imaging_reconciliation, imaging_study
from smartcare.hospital.imaging.service import Batch, read_instance, store_encoded, store_instance
from smartcare.hospital.imaging.storage import FileStore
from smartcare.hospital.imaging.store_scp import part10
from smartcare.hospital.imaging.synthetic import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION
from smartcare.platform.db import unit_of_work
from tests.hospital.imaging.dicom_samples import ct_slice, encoded, uid
from tests.hospital.imaging.imaging_record import write_patients_and_order


def _imaging_studies() -> list[dict]:
    with unit_of_work() as conn:
        return [r[0] for r in conn.execute(sa.select(resource.c.content).where(
            resource.c.res_type == "ImagingStudy", resource.c.deleted.is_(False)))]


def _count(table) -> int:
    with unit_of_work() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_stored_study_is_an_imaging_study_of_the_matched_patient_and_order(engine, tmp_path):
    write_patients_and_order()
    files = FileStore(tmp_path)
    study, series = uid(), uid()
    batch = Batch()
    for number in (1, 2, 3):
        ds = ct_slice(patient_id="P-1", study_uid=study, series_uid=series, number=number, accession="CT0001")
        outcome = store_instance(ds, calling_ae="CT1", store=files, batch=batch)
        assert outcome.status == service.SUCCESS, outcome.reason
    assert _imaging_studies() == []  # written once, at the end of the association
    service.publish_now(batch.studies)
    [imaging] = _imaging_studies()
    assert imaging["subject"] == {"reference": "Patient/p-wang"}
    assert imaging["basedOn"] == [{"reference": "ServiceRequest/sr-ct"}]
    assert imaging["identifier"][0] == {"system": "urn:dicom:uid", "value": f"urn:oid:{study}"}
    assert imaging["numberOfSeries"] == 1 and imaging["numberOfInstances"] == 3
    assert imaging["modality"] == [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}]
    assert imaging["started"].startswith("2026-03-02T08:30:00")
    assert [i["number"] for i in imaging["series"][0]["instance"]] == [1, 2, 3]
    assert len(list(tmp_path.rglob("*.dcm"))) == 3


def test_instance_reads_back_byte_for_byte_by_its_sop_instance_uid(engine, tmp_path):
    files = FileStore(tmp_path)
    ds = ct_slice()
    data = encoded(ds)
    assert store_encoded(data, calling_ae="CT1", store=files).status == service.SUCCESS
    assert read_instance(ds.SOPInstanceUID, store=files) == data
    assert read_instance("1.2.3.4", store=files) is None


def test_resent_instance_is_success_and_stored_once(engine, tmp_path):
    files = FileStore(tmp_path)
    data = encoded(ct_slice())
    first = store_encoded(data, calling_ae="CT1", store=files)
    again = store_encoded(data, calling_ae="CT1", store=files)
    assert first.status == again.status == service.SUCCESS and again.duplicate
    assert _count(imaging_instance) == 1
    with unit_of_work() as conn:
        assert conn.execute(sa.select(imaging_study.c.instance_count)).scalar() == 1


def test_same_uid_with_other_content_keeps_the_first_copy_with_a_warning(engine, tmp_path):
    files = FileStore(tmp_path)
    ds = ct_slice()
    store_instance(ds, calling_ae="CT1", store=files)
    original = read_instance(ds.SOPInstanceUID, store=files)
    ds.SeriesDescription = "changed"
    outcome = store_instance(ds, calling_ae="CT1", store=files)
    assert 0xB000 <= outcome.status <= 0xBFFF and outcome.stored
    assert read_instance(ds.SOPInstanceUID, store=files) == original


def test_study_of_another_patient_is_refused_and_nothing_is_mixed(engine, tmp_path):
    write_patients_and_order()
    files = FileStore(tmp_path)
    study = uid()
    assert store_instance(ct_slice(patient_id="P-1", study_uid=study), calling_ae="CT1", store=files).stored
    outcome = store_instance(ct_slice(patient_id="P-2", study_uid=study), calling_ae="CT1", store=files)
    assert outcome.status == service.OTHER_PATIENT and "another patient" in outcome.reason
    assert _count(imaging_instance) == 1 and len(list(tmp_path.rglob("*.dcm"))) == 1


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI", "ignore:The value length")
def test_missing_and_malformed_uids_are_refused_before_anything_is_written(engine, tmp_path):
    files = FileStore(tmp_path)
    for hostile in ("../../etc", "1.2/../../x", "1.02.3", "1." + "2" * 70, "1.2\x00.3", "1.2.3x"):
        outcome = store_instance(ct_slice(study_uid=hostile), calling_ae="CT1", store=files)
        assert outcome.status == service.BAD_UID and "Study Instance UID" in outcome.reason, hostile
    ds = ct_slice()
    del ds.SeriesInstanceUID
    outcome = store_instance(ds, calling_ae="CT1", store=files)
    assert outcome.status == service.BAD_UID and "Series Instance UID" in outcome.reason
    assert list(tmp_path.rglob("*")) == [] and _count(imaging_instance) == 0


def test_unsupported_sop_class_and_images_without_pixels_are_refused(engine, tmp_path):
    files = FileStore(tmp_path)
    raw_data = ct_slice(sop_class="1.2.840.10008.5.1.4.1.1.66")  # Raw Data Storage: not an archive class here
    assert store_instance(raw_data, calling_ae="CT1", store=files).status == service.SOP_CLASS_NOT_SUPPORTED
    empty = ct_slice()
    empty.PixelData = b""
    outcome = store_instance(empty, calling_ae="CT1", store=files)
    assert outcome.status == service.NOT_MATCHING_SOP_CLASS and "pixel data" in outcome.reason
    claims_jpeg = ct_slice()
    body = DicomBytesIO()
    body.is_implicit_VR, body.is_little_endian = False, True
    write_dataset(body, claims_jpeg)  # native pixels (explicit VR little endian) under a JPEG claim
    lying = part10(body.getvalue(), claims_jpeg.SOPClassUID, claims_jpeg.SOPInstanceUID, JPEGBaseline8Bit, "CT1",
                   (IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION))
    outcome = store_encoded(lying, calling_ae="CT1", store=files)
    assert outcome.status == service.NOT_MATCHING_SOP_CLASS and "encapsulated" in outcome.reason
    assert _count(imaging_instance) == 0


def test_truncated_and_garbage_files_get_a_failure_status_not_an_exception(engine, tmp_path):
    files = FileStore(tmp_path)
    data = encoded(ct_slice(size=32))
    truncated = store_encoded(data[:-300], calling_ae="CT1", store=files)
    assert truncated.status == service.CANNOT_UNDERSTAND and "truncated" in truncated.reason
    garbage = store_encoded(b"\0" * 128 + b"DICM" + bytes(range(256)) * 4, calling_ae="CT1", store=files)
    assert garbage.status in (service.CANNOT_UNDERSTAND, service.BAD_UID)
    assert store_encoded(b"", calling_ae="CT1", store=files).status == service.CANNOT_UNDERSTAND
    assert _count(imaging_instance) == 0


def test_unmatched_patient_waits_in_the_reconciliation_queue(engine, tmp_path):
    write_patients_and_order()
    outcome = store_instance(ct_slice(patient_id="UNKNOWN-9"), calling_ae="CT1", store=FileStore(tmp_path))
    assert outcome.status == service.SUCCESS
    assert _imaging_studies() == []
    with unit_of_work() as conn:
        [item] = conn.execute(sa.select(imaging_reconciliation)).all()
    assert item.status == "open" and "UNKNOWN-9" in item.reason


def test_a_failing_index_removes_the_file_again(engine, tmp_path, monkeypatch):
    files = FileStore(tmp_path)

    def broken(*_args, **_kwargs):
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(service, "_index", broken)
    outcome = store_instance(ct_slice(), calling_ae="CT1", store=files)
    assert outcome.status == service.OUT_OF_RESOURCES
    assert list(tmp_path.rglob("*.dcm")) == []
