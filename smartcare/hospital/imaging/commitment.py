"""Storage Commitment, Push Model (PS3.4 Annex J): a modality asks whether the archive has taken the instances it
sent into safekeeping, so it may delete its own copies.

The modality sends an N-ACTION (action type 1) naming a Transaction UID and the SOP class and instance of each
instance. The archive answers the N-ACTION at once and checks every reference against its index: an instance
there, of the class named, is committed (it was indexed only once its file was fsynced, service.py); one that
is not is failed with the reason of PS3.4 J.3.2.2 (0x0112 no such object instance, 0x0119 class-instance
conflict). The result goes back in an N-EVENT-REPORT (event type 1: all committed, 2: some failed) on a new
association from the archive to the modality, as Orthanc and most PACS do: the modality must be a known remote
AE with host and port (the console's list), like a C-MOVE destination. The report is a durable job
(imaging.commitment-report), retried with backoff while the modality is unreachable, so an acknowledged request
is never forgotten.
"""

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pynetdicom import AE, build_role
from pynetdicom.sop_class import StorageCommitmentPushModel
from sqlalchemy.engine import Connection, Engine

from smartcare.hospital.imaging import remote_aes
from smartcare.hospital.imaging.models import imaging_instance
from smartcare.hospital.imaging.storage import is_uid
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import Job, enqueue, handler

log = logging.getLogger(__name__)

WELL_KNOWN_INSTANCE = "1.2.840.10008.1.20.1.1"  # PS3.4 J.3.5: the Storage Commitment Push Model SOP Instance
REPORT_JOB = "imaging.commitment-report"
ALL_COMMITTED, SOME_FAILED = 1, 2
NO_SUCH_OBJECT, CLASS_INSTANCE_CONFLICT = 0x0112, 0x0119
# N-ACTION statuses (PS3.4 J.3.2.1.2 and PS3.7 10.1.4.1.10).
SUCCESS, NO_SUCH_ARGUMENT, INVALID_ARGUMENT, NO_SUCH_ACTION = 0x0000, 0x0114, 0x0115, 0x0123
PROCESSING_FAILURE = 0x0110
MAX_REFERENCES = 10000


class CommitmentRefused(ValueError):
    """An N-ACTION the archive cannot take, with the status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def requested(action_type: int, information: Dataset | None) -> tuple[str, list[tuple[str, str]]]:
    """The Transaction UID and the (SOP class, SOP instance) pairs of a request; CommitmentRefused when bad."""
    if action_type != 1:
        raise CommitmentRefused(NO_SUCH_ACTION, f"action type {action_type} is not a storage commitment request")
    if information is None:
        raise CommitmentRefused(NO_SUCH_ARGUMENT, "the request carries no action information")
    transaction = str(information.get("TransactionUID", "") or "").strip()
    if not is_uid(transaction):
        raise CommitmentRefused(INVALID_ARGUMENT, "the Transaction UID is missing or not a UID")
    items = information.get("ReferencedSOPSequence") or []
    if not items or len(items) > MAX_REFERENCES:
        raise CommitmentRefused(INVALID_ARGUMENT, f"1 to {MAX_REFERENCES} referenced instances are needed")
    references = []
    for item in items:
        sop_class = str(item.get("ReferencedSOPClassUID", "") or "").strip()
        sop_instance = str(item.get("ReferencedSOPInstanceUID", "") or "").strip()
        if not (is_uid(sop_class) and is_uid(sop_instance)):
            raise CommitmentRefused(INVALID_ARGUMENT, "a referenced instance lacks a valid class or instance UID")
        references.append((sop_class, sop_instance))
    return transaction, references


def check(conn: Connection, references: list[tuple[str, str]]) -> tuple[list[tuple[str, str]],
                                                                         list[tuple[str, str, int]]]:
    """The committed references and the failed ones with their failure reason, in the order asked."""
    stored: dict[str, str] = {}
    uids = sorted({instance for _, instance in references})
    for start in range(0, len(uids), 500):
        rows = conn.execute(sa.select(imaging_instance.c.sop_instance_uid, imaging_instance.c.sop_class_uid)
                            .where(imaging_instance.c.sop_instance_uid.in_(uids[start:start + 500])))
        stored.update((row.sop_instance_uid, row.sop_class_uid) for row in rows)
    committed, failed = [], []
    for sop_class, instance in references:
        if instance not in stored:
            failed.append((sop_class, instance, NO_SUCH_OBJECT))
        elif stored[instance] != sop_class:
            failed.append((sop_class, instance, CLASS_INSTANCE_CONFLICT))
        else:
            committed.append((sop_class, instance))
    return committed, failed


def _item(sop_class: str, instance: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = sop_class, instance
    return item


def event_information(transaction: str, committed: list[tuple[str, str]], failed: list[tuple[str, str, int]],
                      ae_title: str) -> tuple[int, Dataset]:
    """The N-EVENT-REPORT's event type and information (PS3.4 J.3.3.1)."""
    report = Dataset()
    report.TransactionUID = transaction
    report.RetrieveAETitle = ae_title
    if committed:
        report.ReferencedSOPSequence = Sequence([_item(c, i) for c, i in committed])
    if failed:
        items = []
        for sop_class, instance, reason in failed:
            item = _item(sop_class, instance)
            item.FailureReason = reason
            items.append(item)
        report.FailedSOPSequence = Sequence(items)
    return (SOME_FAILED if failed else ALL_COMMITTED), report


def take_request(event: Any, *, engine: Engine, ae_title: str) -> tuple[int, None]:
    """The N-ACTION handler: check the request, keep the report to send as a job, answer the N-ACTION."""
    calling = str(event.assoc.requestor.ae_title).strip()
    try:
        transaction, references = requested(int(event.request.ActionTypeID or 0), event.action_information)
        with unit_of_work(engine) as conn:
            enqueue(conn, kind=REPORT_JOB, key=f"{calling}:{transaction}"[:200], payload={
                "calling": calling, "transaction": transaction, "ae_title": ae_title,
                "references": [list(r) for r in references]})
    except CommitmentRefused as refused:
        log.warning("storage commitment request from %s refused (0x%04X): %s", calling, refused.status, refused)
        return refused.status, None
    except Exception:  # the request could not be kept: the modality must ask again, so say so
        log.exception("storage commitment request from %s could not be kept", calling)
        return PROCESSING_FAILURE, None
    log.info("storage commitment of %d instances asked by %s (transaction %s)", len(references), calling,
             transaction)
    return SUCCESS, None


class ReportNotDelivered(Exception):
    """The modality could not be told now; the job tries again later."""


@handler(REPORT_JOB, max_attempts=12, backoff=timedelta(seconds=30), max_backoff=timedelta(minutes=30),
         in_transaction=False)
def send_report(engine: Engine, job: Job) -> None:
    """Check the references now and send the N-EVENT-REPORT to the modality on an association of our own."""
    calling, transaction = str(job.payload["calling"]), str(job.payload["transaction"])
    references = [(str(c), str(i)) for c, i in job.payload["references"]]
    with engine.connect() as conn:
        destination = remote_aes.by_title(conn, calling)
        committed, failed = check(conn, references)
    if destination is None or not destination.allowed or not destination.port:
        raise ReportNotDelivered(f"{calling!r} is not a known, allowed remote AE with a port: add it in the "
                                 "console to receive storage commitment reports")
    event_type, information = event_information(transaction, committed, failed, str(job.payload["ae_title"]))
    ae = AE(str(job.payload["ae_title"]))
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
    ae.add_requested_context(StorageCommitmentPushModel)
    # The archive opens the association but stays the SCP of the service (PS3.4 J.3.3: role selection).
    roles = [build_role(StorageCommitmentPushModel, scu_role=False, scp_role=True)]
    assoc = ae.associate(destination.host, destination.port, ae_title=calling, ext_neg=roles)
    if not assoc.is_established:
        raise ReportNotDelivered(f"{calling} at {destination.host}:{destination.port} did not accept the "
                                 "association")
    try:
        status, _reply = assoc.send_n_event_report(information, event_type, StorageCommitmentPushModel,
                                                   WELL_KNOWN_INSTANCE)
    finally:
        assoc.release()
    if status is None or "Status" not in status:
        raise ReportNotDelivered(f"{calling} did not answer the N-EVENT-REPORT")
    if status.Status != SUCCESS:
        raise ReportNotDelivered(f"{calling} answered the N-EVENT-REPORT with 0x{int(status.Status):04X}")
    log.info("storage commitment report sent to %s: %d committed, %d failed (transaction %s)", calling,
             len(committed), len(failed), transaction)
