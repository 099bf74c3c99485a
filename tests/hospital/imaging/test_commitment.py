"""Storage Commitment: a modality asks (N-ACTION) whether the archive keeps what it sent, and is told (N-EVENT-REPORT)
on an association the archive opens to it; unknown instances and class conflicts are failed with their reason."""

import socket
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pynetdicom import AE, evt
from pynetdicom.sop_class import MRImageStorage, StorageCommitmentPushModel

from smartcare.hospital.imaging import commitment, remote_aes
from smartcare.hospital.imaging.dicom import PacsService
from smartcare.hospital.imaging.service import store_instance
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import job, run_due
from tests.hospital.imaging.dicom_samples import ct_slice, uid
from tests.hospital.imaging.pacs_peer import start_pacs

# The hostile UIDs the tests send make pydicom warn on the sending side.
pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR UI")


class Modality:
    """A modality's Storage Commitment SCU: it asks on its own association and listens for the report."""

    def __init__(self) -> None:
        self.reports: list[tuple[int, Dataset]] = []
        self.received = threading.Event()
        self.ae = AE("MODALITY")
        # The archive opens the report's association as the SCP of the service (role selection, PS3.4 J.3.3).
        self.ae.add_supported_context(StorageCommitmentPushModel, scu_role=False, scp_role=True)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.server = self.ae.start_server(("127.0.0.1", self.port), block=False,
                                           evt_handlers=[(evt.EVT_N_EVENT_REPORT, self._report)])

    def _report(self, event) -> int:
        self.reports.append((int(event.request.EventTypeID), event.event_information))
        self.received.set()
        return 0x0000

    def ask(self, pacs: PacsService, references: list[tuple[str, str]], *, transaction: str | None = None,
            action_type: int = 1) -> int:
        """Send an N-ACTION; its status."""
        info = Dataset()
        if transaction != "":
            info.TransactionUID = transaction or uid()
        items = []
        for sop_class, instance in references:
            item = Dataset()
            item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = sop_class, instance
            items.append(item)
        info.ReferencedSOPSequence = Sequence(items)
        asker = AE("MODALITY")
        asker.add_requested_context(StorageCommitmentPushModel)
        assoc = asker.associate(*pacs.address, ae_title="SMARTCARE")
        assert assoc.is_established
        try:
            status, _reply = assoc.send_n_action(info, action_type, StorageCommitmentPushModel,
                                                 commitment.WELL_KNOWN_INSTANCE)
        finally:
            assoc.release()
        return int(status.Status)

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture
def pacs(engine, tmp_path) -> Iterator[PacsService]:
    running = start_pacs(engine, tmp_path / "archive", allow_any_caller=True)
    yield running
    running.stop()


@pytest.fixture
def modality() -> Iterator[Modality]:
    listening = Modality()
    yield listening
    listening.stop()


def _known(port: int) -> None:
    with unit_of_work() as conn:
        remote_aes.save(conn, remote_aes.checked(ae_title="MODALITY", host="127.0.0.1", port=port, modality="CT",
                                                 description="CT room"), allowed=True)


def _report_jobs() -> list:
    with unit_of_work() as conn:
        return conn.execute(sa.select(job).where(job.c.kind == commitment.REPORT_JOB)).all()


def test_stored_instances_are_committed_and_the_others_failed_with_their_reason(engine, pacs, modality):
    _known(modality.port)
    first, second = ct_slice(), ct_slice()
    for ds in (first, second):
        assert store_instance(ds, calling_ae="MODALITY", store=pacs.store).stored
    missing = uid()
    transaction = uid()
    references = [(str(first.SOPClassUID), str(first.SOPInstanceUID)), (MRImageStorage, str(second.SOPInstanceUID)),
                  (str(first.SOPClassUID), missing)]
    assert modality.ask(pacs, references, transaction=transaction) == 0x0000
    run_due(engine)
    assert modality.received.wait(10)
    [(event_type, report)] = modality.reports
    assert event_type == commitment.SOME_FAILED
    assert report.TransactionUID == transaction and report.RetrieveAETitle == "SMARTCARE"
    assert [i.ReferencedSOPInstanceUID for i in report.ReferencedSOPSequence] == [first.SOPInstanceUID]
    failed = {i.ReferencedSOPInstanceUID: i.FailureReason for i in report.FailedSOPSequence}
    assert failed == {second.SOPInstanceUID: commitment.CLASS_INSTANCE_CONFLICT, missing: commitment.NO_SUCH_OBJECT}


def test_all_committed_is_event_type_one(engine, pacs, modality):
    _known(modality.port)
    ds = ct_slice()
    assert store_instance(ds, calling_ae="MODALITY", store=pacs.store).stored
    assert modality.ask(pacs, [(str(ds.SOPClassUID), str(ds.SOPInstanceUID))]) == 0x0000
    run_due(engine)
    assert modality.received.wait(10)
    [(event_type, report)] = modality.reports
    assert event_type == commitment.ALL_COMMITTED and "FailedSOPSequence" not in report


def test_bad_requests_get_the_standard_failure_status_and_no_report(engine, pacs, modality):
    _known(modality.port)
    reference = [(str(ct_slice().SOPClassUID), uid())]
    assert modality.ask(pacs, reference, action_type=2) == commitment.NO_SUCH_ACTION
    assert modality.ask(pacs, reference, transaction="") == commitment.INVALID_ARGUMENT
    assert modality.ask(pacs, reference, transaction="not-a-uid") == commitment.INVALID_ARGUMENT
    assert modality.ask(pacs, [("1.2.840.10008.5.1.4.1.1.2", "../../etc")]) == commitment.INVALID_ARGUMENT
    assert _report_jobs() == []


def test_a_report_for_an_unknown_modality_waits_and_is_retried_not_lost(engine, pacs, modality):
    ds = ct_slice()
    assert store_instance(ds, calling_ae="MODALITY", store=pacs.store).stored
    assert modality.ask(pacs, [(str(ds.SOPClassUID), str(ds.SOPInstanceUID))]) == 0x0000
    run_due(engine)
    [pending] = _report_jobs()
    assert pending.state == "queued" and pending.attempts == 1 and "not a known" in pending.last_error
    assert modality.reports == []
