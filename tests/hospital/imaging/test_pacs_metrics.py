"""The PACS moves the Prometheus counters of DICOM associations and of C-STORE instances received."""

from pydicom.uid import CTImageStorage
from pynetdicom import AE

from smartcare.platform.ops import metrics
from tests.hospital.imaging.dicom_samples import ct_slice, uid
from tests.hospital.imaging.imaging_record import write_patients_and_order
from tests.hospital.imaging.pacs_peer import start_pacs


def test_an_association_storing_two_instances_counts_one_association_and_two_stored(engine, tmp_path):
    write_patients_and_order()
    pacs = start_pacs(engine, tmp_path / "archive", allow_any_caller=True, network_timeout_seconds=10)
    associations = metrics.dicom_associations._value.get()
    stored = metrics.dicom_instances.labels("stored")._value.get()
    try:
        ae = AE(ae_title="MODALITY")
        ae.add_requested_context(CTImageStorage)
        assoc = ae.associate(*pacs.address, ae_title="SMARTCARE")
        assert assoc.is_established
        study = uid()
        statuses = [assoc.send_c_store(ct_slice(study_uid=study, number=n, patient_id="P-1")).Status for n in (1, 2)]
        assoc.release()
    finally:
        pacs.stop()
    assert statuses == [0, 0]
    assert metrics.dicom_associations._value.get() == associations + 1
    assert metrics.dicom_instances.labels("stored")._value.get() == stored + 2
