"""The DICOM DIMSE service: C-ECHO, C-STORE into the archive, C-FIND on the study index and the worklist, C-MOVE,
C-GET and Storage Commitment.

Each association runs in its own thread (pynetdicom's threaded server); the archive work is synchronous
SQLAlchemy and file writes. Associations that only store, query and echo (what modalities and most viewers
open) are served by store_scp without pynetdicom's polling reactors; the rest by pynetdicom. Sockets are set TCP_NODELAY: with Nagle's algorithm on, every C-FIND answer waited
about 40 ms for the peer's delayed ACK. Callers are checked by AE title against the known remote AEs (the
console's list) unless any caller is allowed (the development default). A bad dataset is answered with a
failure status and a reason in Error Comment, and the association goes on. The ImagingStudy of each study an
association stored into is written once, when the connection closes, not after every instance.
"""

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import (
    ModalityWorklistInformationFind,
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StorageCommitmentPushModel,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)
from pynetdicom.transport import ThreadedAssociationServer
from sqlalchemy.engine import Engine

from smartcare.hospital.imaging import commitment, query, retrieve, service, store_scp, worklist
from smartcare.hospital.imaging.imaging_study import pacs_context
from smartcare.hospital.imaging.models import imaging_remote_ae
from smartcare.hospital.imaging.storage import InstanceStore, default_store
from smartcare.hospital.imaging.synthetic import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION
from smartcare.platform import audit
from smartcare.platform.db import get_engine, unit_of_work
from smartcare.platform.ops import metrics

log = logging.getLogger(__name__)
PENDING, CANCELLED = 0xFF00, 0xFE00
FIND_FAILED, FIND_NOT_MATCHING = 0xC000, 0xA900
# An AE title never contains a backslash: a list with only this one admits nobody.
_NOBODY = ["\\"]


class PacsSettings(BaseSettings):
    """Settings of the DICOM service (environment prefix SMARTCARE_PACS_)."""

    model_config = SettingsConfigDict(env_prefix="SMARTCARE_PACS_", env_file=".env", extra="ignore")

    ae_title: str = "SMARTCARE"
    host: str = "127.0.0.1"
    port: int = 11112
    # Development default: any calling AE may connect. In production only the known, allowed remote AEs.
    allow_any_caller: bool = True
    max_associations: int = 16
    # How long the list of known AEs is reused before it is read again (the console changes it rarely).
    callers_ttl_seconds: float = 5.0
    # An association with nothing received for this long is aborted.
    network_timeout_seconds: float = 60.0


class _NoDelayServer(ThreadedAssociationServer):
    """pynetdicom's threaded server with TCP_NODELAY on every accepted connection; associations that only store,
    query and echo are served by store_scp in the connection's thread, every other one by pynetdicom."""

    storage: store_scp.StoreSettings | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept a connection and turn Nagle's algorithm off on it."""
        client, address = super().get_request()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return client, address

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection (in its own thread): the storage fast path when it applies, else pynetdicom."""
        if self.storage is not None:
            try:
                served = store_scp.serve_if_fast(request, self.storage)
            except Exception:  # the fast path failed outside any association's handling: drop the connection
                log.exception("an association from %s failed on the fast path", client_address)
                served = True
            if served:
                self.shutdown_request(request)
                return
        super().process_request_thread(request, client_address)


class _CallerCheckedAE(AE):
    """An AE whose accepted calling AE titles are read from the database (cached), not fixed at start."""

    def __init__(self, ae_title: str, callers: Callable[[], list[str]]) -> None:
        super().__init__(ae_title)
        self._callers = callers

    @property
    def require_calling_aet(self) -> list[str]:
        """The calling AE titles accepted now; an empty list accepts any."""
        return self._callers()


def allowed_callers(engine: Engine) -> list[str]:
    """The AE titles of the known remote AEs that may connect."""
    with engine.connect() as conn:
        return [t.strip() for t in conn.execute(sa.select(imaging_remote_ae.c.ae_title)
                                                .where(imaging_remote_ae.c.allowed.is_(True))).scalars()]


def _status(code: int, comment: str) -> Dataset:
    ds = Dataset()
    ds.Status = code
    if comment:
        # Error Comment is LO: 64 characters, no backslash.
        ds.ErrorComment = comment.replace("\\", "/")[:64]
    return ds


@dataclass
class PacsService:
    """The DIMSE service: its settings, the database and instance store it uses, and its running server."""

    settings: PacsSettings
    engine: Engine | None = None
    store: InstanceStore | None = None

    def __post_init__(self) -> None:
        self._batches: dict[int, service.Batch] = {}
        self._lock = threading.Lock()
        self._callers: tuple[float, list[str]] = (0.0, [])
        self.server: ThreadedAssociationServer | None = None

    def database(self) -> Engine:
        """The engine the service stores into (the configured one unless given)."""
        return self.engine or get_engine()

    def callers(self) -> list[str]:
        """The calling AE titles to accept ([] accepts any), re-read after callers_ttl_seconds."""
        if self.settings.allow_any_caller:
            return []
        read_at, titles = self._callers
        if time.monotonic() - read_at > self.settings.callers_ttl_seconds:
            try:
                titles = allowed_callers(self.database())
            except sa.exc.SQLAlchemyError:
                log.exception("the known remote AEs could not be read; keeping the previous list")
            self._callers = (time.monotonic(), titles)
        return titles or _NOBODY

    def _batch(self, assoc: Any) -> service.Batch:
        with self._lock:
            return self._batches.setdefault(id(assoc), service.Batch())

    def on_echo(self, _event: Any) -> int:
        """C-ECHO: the service is up."""
        return 0x0000

    def on_store(self, event: Any) -> Dataset | int:
        """C-STORE: store the instance as received; success only once it is durable and indexed."""
        request = event.request
        calling = event.assoc.requestor.ae_title
        try:
            encoded = event.encoded_dataset()
        except Exception:  # a P-DATA stream pynetdicom could not put together: nothing can be stored
            log.exception("a C-STORE dataset from %s could not be read", calling)
            return _status(service.CANNOT_UNDERSTAND, "the dataset could not be read")
        outcome = self.store_received(encoded, calling, (str(request.AffectedSOPClassUID),
                                                         str(request.AffectedSOPInstanceUID)),
                                      self._batch(event.assoc))
        if outcome.status == service.SUCCESS:
            return 0x0000
        return _status(outcome.status, outcome.reason)

    def find_answers(self, sop_class: str, identifier: Dataset,
                     calling: str) -> tuple[int, str, list[Dataset | query.Answer]]:
        """The answers to a C-FIND (either path): (final status, its comment, the pending answers).

        Study Root and Patient Root queries go to the study index and are audited (who asked, at which level,
        for what, how many matched); Modality Worklist queries go to the scheduled orders, through the FHIR
        gateway, which audits its own reads."""
        if sop_class == ModalityWorklistInformationFind:
            try:
                return 0x0000, "", list(worklist.find(identifier, engine=self.database()))
            except Exception:  # a query that fails must end with a status, never drop the association
                log.exception("a worklist C-FIND from %s failed", calling)
                return FIND_FAILED, "the worklist could not be read", []
        try:
            with unit_of_work(self.database()) as conn:
                answers = list(query.find(conn, identifier))
                audit.record(conn, ctx=pacs_context(f"dicom-ae:{calling}"[:64]), action="R", subtype="search",
                             purpose="TREAT", entities=[query.describe(identifier, len(answers))])
        except query.QueryError as exc:
            return FIND_NOT_MATCHING, str(exc), []
        except Exception:  # a query that fails must end with a status, never drop the association
            log.exception("a C-FIND from %s failed", calling)
            return FIND_FAILED, "the query could not be answered", []
        return 0x0000, "", answers

    def on_find(self, event: Any) -> Iterator[tuple[Any, Dataset | None]]:
        """C-FIND on pynetdicom's path: pending answers, then the final status."""
        try:
            identifier = event.identifier
        except Exception:  # an identifier pynetdicom cannot decode
            yield _status(FIND_FAILED, "the identifier could not be decoded"), None
            return
        status, comment, answers = self.find_answers(str(event.request.AffectedSOPClassUID), identifier,
                                                     event.assoc.requestor.ae_title)
        for answer in answers:
            if event.is_cancelled:
                yield CANCELLED, None
                return
            yield PENDING, answer.dataset() if isinstance(answer, query.Answer) else answer
        if status:
            yield _status(status, comment), None

    def on_commitment(self, event: Any) -> tuple[int, None]:
        """N-ACTION of Storage Commitment: keep the request; the report follows on an association of our own."""
        return commitment.take_request(event, engine=self.database(), ae_title=self.settings.ae_title)

    def on_get(self, event: Any) -> Iterator[Any]:
        """C-GET: send the instances asked for on the caller's association."""
        yield from retrieve.on_get(event, engine=self.database(), store=self.store or default_store())

    def on_move(self, event: Any) -> Iterator[Any]:
        """C-MOVE: send the instances asked for to a known remote AE."""
        yield from retrieve.on_move(event, engine=self.database(), store=self.store or default_store())

    def store_received(self, encoded: bytes, calling: str, announced: tuple[str, str],
                       batch: service.Batch) -> service.StoreOutcome:
        """Store one instance received on a storage association (either path)."""
        outcome = service.store_encoded(encoded, calling_ae=calling, store=self.store or default_store(),
                                        engine=self.database(), batch=batch, announced=announced)
        metrics.dicom_instances.labels("stored" if outcome.stored else "failed").inc()
        return outcome

    def storage_finished(self, batch: service.Batch) -> None:
        """A storage association ended: write the ImagingStudy of each study it stored into."""
        service.publish_now(sorted(batch.studies), engine=self.database())

    def on_accepted(self, _event: Any) -> None:
        """An association was accepted (on pynetdicom's path; the storage fast path counts its own)."""
        metrics.dicom_associations.inc()

    def on_close(self, event: Any) -> None:
        """Connection closed: write the ImagingStudy of each study the association stored into."""
        with self._lock:
            batch = self._batches.pop(id(event.assoc), None)
        if batch and batch.studies:
            self.storage_finished(batch)

    def application_entity(self) -> AE:
        """The pynetdicom AE with the supported presentation contexts."""
        ae = _CallerCheckedAE(self.settings.ae_title, self.callers)
        ae.implementation_class_uid = IMPLEMENTATION_CLASS_UID
        ae.implementation_version_name = IMPLEMENTATION_VERSION
        ae.maximum_associations = self.settings.max_associations
        ae.maximum_pdu_size = 0
        ae.add_supported_context(Verification)
        for sop_class in service.STORAGE_CLASSES:
            # scp_role: a C-GET caller takes the storage SCP role to receive what it asked for.
            ae.add_supported_context(sop_class, list(service.TRANSFER_SYNTAXES), scu_role=False, scp_role=True)
        for model in (StudyRootQueryRetrieveInformationModelFind, PatientRootQueryRetrieveInformationModelFind,
                      ModalityWorklistInformationFind, StudyRootQueryRetrieveInformationModelMove,
                      PatientRootQueryRetrieveInformationModelMove, StudyRootQueryRetrieveInformationModelGet,
                      PatientRootQueryRetrieveInformationModelGet):
            ae.add_supported_context(model)
        ae.add_supported_context(StorageCommitmentPushModel)
        return ae

    def start(self) -> tuple[str, int]:
        """Start listening in a background thread; the address actually bound (port 0 picks a free one)."""
        handlers = [(evt.EVT_C_ECHO, self.on_echo), (evt.EVT_C_STORE, self.on_store),
                    (evt.EVT_C_FIND, self.on_find), (evt.EVT_C_GET, self.on_get), (evt.EVT_C_MOVE, self.on_move),
                    (evt.EVT_CONN_CLOSE, self.on_close), (evt.EVT_N_ACTION, self.on_commitment),
                    (evt.EVT_ACCEPTED, self.on_accepted)]
        ae = self.application_entity()
        self.server = ae.make_server((self.settings.host, self.settings.port), evt_handlers=handlers,
                                     server_class=_NoDelayServer)
        self.server.storage = store_scp.StoreSettings(
            ae_title=self.settings.ae_title, implementation_class_uid=IMPLEMENTATION_CLASS_UID,
            implementation_version=IMPLEMENTATION_VERSION, callers=self.callers, store=self.store_received,
            finished=self.storage_finished, find=self.find_answers,
            network_timeout=self.settings.network_timeout_seconds, max_associations=self.settings.max_associations)
        threading.Thread(target=self.server.serve_forever, name="dicom-acceptor", daemon=True).start()
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        """Stop accepting, end the running associations and close the socket."""
        if self.server is None:
            return
        # pynetdicom's shutdown() closes the socket, then forgets the server in the AE's list of those it
        # started itself, where make_server() never put it.
        # Fast-path associations first: shutdown() waits for every connection's thread to finish.
        if self.server.storage is not None:
            self.server.storage.end_all()
        with contextlib.suppress(ValueError):
            self.server.shutdown()
        for assoc in self.server.ae.active_associations:
            assoc.abort()
        self.server = None


def run(settings: PacsSettings, *, ready: Callable[[str, int], None] | None = None) -> None:
    """Run the DICOM service in the foreground until interrupted; ready(host, port) once it listens."""
    from smartcare.hospital.imaging.imaging_study import publish_pending

    # pynetdicom logs every request at INFO: at hundreds of instances a second that is the log's whole content.
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    pacs = PacsService(settings)
    caught_up = publish_pending(engine=pacs.database())
    if caught_up:
        log.info("wrote %d ImagingStudy resources an earlier run left behind", caught_up)
    host, port = pacs.start()
    if ready is not None:
        ready(host, port)
    try:
        while True:
            time.sleep(3600)
    finally:
        pacs.stop()
