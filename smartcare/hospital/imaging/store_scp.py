"""The fast path for the associations modalities and viewers open most: C-STORE, C-FIND and C-ECHO.

pynetdicom runs each association as two polling threads (the DUL reader and the association reactor, each
sleeping a millisecond between looks) and an event queue between them; a bare pynetdicom SCP that stores nothing
answered about 220 instances a second here, where Orthanc answers 200-500 and writes them. A modality sending a
study needs none of that machinery: it proposes storage SOP classes, sends C-STORE requests one after another,
and releases. So when an A-ASSOCIATE-RQ proposes only storage SOP classes, the C-FIND information models
(Study Root, Patient Root, Modality Worklist) and Verification, without role selection or asynchronous
operations, this module serves the association itself on the socket, in the connection's thread: PDUs are read from a buffered socket file (PS3.8 9.3), the request is negotiated with
pynetdicom's own negotiate_as_acceptor and answered with pynetdicom's PDU encoders, and each C-STORE's command
and dataset fragments (PS3.8 9.3.5.1, PS3.7 E) are put together and handed to service.store_encoded with a
Part 10 header built from the negotiated transfer syntax. A C-FIND's identifier is decoded and its answers
encoded with pynetdicom's dsutils and sent as pending responses at once (a C-CANCEL between them is honoured);
the answers come from the same function pynetdicom's handler calls. Every other association (C-MOVE, C-GET,
anything else mixed in) is handed to pynetdicom untouched: the request is only peeked at.

The same rules as on the pynetdicom side: callers are checked against the known remote AEs; success only once
the instance is durable and indexed; a bad dataset gets a failure status with a reason in Error Comment and the
association goes on; a broken PDU stream is aborted (A-ABORT), never a crash of the service.
"""

import contextlib
import logging
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO

from pydicom.dataset import Dataset
from pynetdicom.dsutils import decode, encode
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RJ, A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
)
from pynetdicom.presentation import PresentationContext, negotiate_as_acceptor
from pynetdicom.service_class import StorageServiceClass
from pynetdicom.sop_class import (
    ModalityWorklistInformationFind,
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
    uid_to_service_class,
)

from smartcare.hospital.imaging import service
from smartcare.hospital.imaging.query import Answer
from smartcare.platform.ops import metrics

log = logging.getLogger(__name__)

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"
# PS3.8 9.3.1: the PDU types.
ASSOCIATE_RQ, ASSOCIATE_AC, ASSOCIATE_RJ, P_DATA, RELEASE_RQ, RELEASE_RP, ABORT = 1, 2, 3, 4, 5, 6, 7
# PS3.7 E.1: command fields.
C_STORE_RQ, C_FIND_RQ, C_ECHO_RQ, C_CANCEL_RQ = 0x0001, 0x0020, 0x0030, 0x0FFF
NO_DATASET, DATASET = 0x0101, 0x0001
UNRECOGNIZED_OPERATION = 0x0211
PENDING, CANCELLED, IDENTIFIER_UNREADABLE = 0xFF00, 0xFE00, 0xC310
FIND_CLASSES = frozenset({StudyRootQueryRetrieveInformationModelFind, PatientRootQueryRetrieveInformationModelFind,
                          ModalityWorklistInformationFind})
IMPLICIT_LE, EXPLICIT_LE = "1.2.840.10008.1.2", "1.2.840.10008.1.2.1"
# The largest A-ASSOCIATE-RQ looked at before handing over; real ones are a few kilobytes.
MAX_REQUEST = 65536
_PDU_HEADER = struct.Struct(">BxI")
_ELEMENT = struct.Struct("<HHI")
_US = struct.Struct("<H")


# The answers to a C-FIND: (SOP class, identifier, calling AE) -> (final status, comment, pending answers).
FindFunction = Callable[[str, Dataset, str], tuple[int, str, list[Dataset | Answer]]]


class Aborted(Exception):
    """The association cannot go on (a broken PDU stream, or the peer went away); the reason for the log."""


@dataclass
class StoreSettings:
    """What the fast path needs from the service: AE title, callers, limits, where to store, what to do at the end."""

    ae_title: str
    implementation_class_uid: str
    implementation_version: str
    callers: Callable[[], list[str]]
    store: Callable[[bytes, str, tuple[str, str], service.Batch], service.StoreOutcome]
    finished: Callable[[service.Batch], None]
    find: FindFunction | None = None
    max_pdu: int = 1048576
    max_instance_bytes: int = 2**31
    network_timeout: float = 60.0
    max_associations: int = 16
    storage_classes: frozenset[str] = field(default_factory=lambda: frozenset(service.STORAGE_CLASSES))
    # The sockets of the associations being served, so that stop() can end them.
    active: set[socket.socket] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def end_all(self) -> None:
        """End every association being served (the service is stopping): their reads return at once."""
        with self.lock:
            sockets = list(self.active)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _peek_request(sock: socket.socket, timeout: float) -> bytes | None:
    """The whole A-ASSOCIATE-RQ PDU the peer sent first, left unread on the socket; None when it is not one."""
    previous = sock.gettimeout()
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        wanted, data = 6, b""
        while len(data) < wanted:
            seen = len(data)
            data = sock.recv(wanted, socket.MSG_PEEK)
            if not data:
                return None
            if len(data) >= 6:
                kind, length = _PDU_HEADER.unpack_from(data)
                if kind != ASSOCIATE_RQ or length > MAX_REQUEST:
                    return None
                wanted = 6 + length
            if len(data) == seen and len(data) < wanted:
                # A peek returns at once while anything is buffered: wait for the rest rather than spin a core.
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.005)
        return data
    except OSError:
        return None
    finally:
        sock.settimeout(previous)


def _fast(request: A_ASSOCIATE, settings: StoreSettings) -> bool:
    """True when the request proposes only storage, C-FIND (when served) and Verification, without role
    selection or asynchronous operations."""
    contexts = request.presentation_context_definition_list
    if not contexts:
        return False
    if any(type(item).__name__ not in ("MaximumLengthNotification", "ImplementationClassUIDNotification",
                                       "ImplementationVersionNameNotification")
           for item in request.user_information):
        return False
    # Senders propose every storage class they know (storescu: over a hundred); the ones this archive does not
    # store are refused at negotiation, the same as pynetdicom does.
    finds = FIND_CLASSES if settings.find is not None else frozenset()
    return all(c.abstract_syntax == Verification or c.abstract_syntax in finds
               or uid_to_service_class(c.abstract_syntax) is StorageServiceClass for c in contexts)


def _supported(settings: StoreSettings) -> list[PresentationContext]:
    offered = [(Verification, [IMPLICIT_LE, EXPLICIT_LE])]
    offered += [(abstract, list(service.TRANSFER_SYNTAXES)) for abstract in sorted(settings.storage_classes)]
    if settings.find is not None:
        offered += [(abstract, [IMPLICIT_LE, EXPLICIT_LE]) for abstract in sorted(FIND_CLASSES)]
    contexts = []
    for number, (abstract, syntaxes) in enumerate(offered):
        context = PresentationContext()
        context.context_id = 2 * number + 1
        context.abstract_syntax = abstract
        context.transfer_syntax = syntaxes
        contexts.append(context)
    return contexts


def serve_if_fast(sock: socket.socket, settings: StoreSettings) -> bool:
    """Serve the association on sock when the fast path takes it (storage, C-FIND and echo only): True, the
    connection is done; False, the socket is untouched for pynetdicom."""
    raw = _peek_request(sock, settings.network_timeout)
    if raw is None:
        return False
    pdu = A_ASSOCIATE_RQ()
    try:
        pdu.decode(raw)
        request = pdu.to_primitive()
    except Exception:  # leave malformed requests to pynetdicom, which rejects them by the book
        return False
    if not _fast(request, settings):
        return False
    sock.recv(len(raw))  # the request, now read for real (it is all buffered already)
    sock.settimeout(settings.network_timeout)
    with settings.lock:
        admitted = len(settings.active) < settings.max_associations
        if admitted:
            settings.active.add(sock)
    association = _Association(sock, settings, request)
    if not admitted:
        log.warning("association from %r rejected: %d associations already", association.calling,
                    settings.max_associations)
        association.reject(result=2, source=3, diagnostic=2)  # transient, local limit exceeded (PS3.8 9.3.4)
        return True
    try:
        association.run()
    finally:
        with settings.lock:
            settings.active.discard(sock)
    return True


class _Association:
    """One association on the fast path, from the accept (or reject) to the release (or abort)."""

    def __init__(self, sock: socket.socket, settings: StoreSettings, request: A_ASSOCIATE) -> None:
        self.sock = sock
        self.settings = settings
        self.request = request
        self.calling = str(request.calling_ae_title).strip()
        self.peer_max_pdu = 0
        self.contexts: dict[int, tuple[str, str]] = {}
        self.batch = service.Batch()

    def run(self) -> None:
        if not self._accept():
            return
        metrics.dicom_associations.inc()
        reader = _Reader(self.sock)
        try:
            self._serve(reader)
        except Aborted as reason:
            log.warning("association from %s aborted: %s", self.calling, reason)
            self._send_abort()
        except TimeoutError:
            log.warning("association from %s idle for %.0f s: aborted", self.calling,
                        self.settings.network_timeout)
            self._send_abort()
        except OSError as exc:
            log.info("association from %s ended by the network: %s", self.calling, exc)
        finally:
            if self.batch.studies:
                self.settings.finished(self.batch)

    def _accept(self) -> bool:
        callers = self.settings.callers()
        if callers and self.calling not in callers:
            log.warning("association from unknown calling AE %r rejected", self.calling)
            self.reject(result=1, source=1, diagnostic=3)
            return False
        for item in self.request.user_information:
            if isinstance(item, MaximumLengthNotification):
                self.peer_max_pdu = int(item.maximum_length_received or 0)
        results, _roles = negotiate_as_acceptor(self.request.presentation_context_definition_list,
                                                _supported(self.settings))
        for context in results:
            if context.result == 0:
                self.contexts[int(context.context_id)] = (str(context.abstract_syntax),
                                                          str(context.transfer_syntax[0]))
        primitive = A_ASSOCIATE()
        primitive.application_context_name = APPLICATION_CONTEXT
        primitive.calling_ae_title = self.request.calling_ae_title
        primitive.called_ae_title = self.request.called_ae_title
        primitive.result = 0
        primitive.result_source = 1
        primitive.presentation_context_definition_results_list = results
        length = MaximumLengthNotification()
        length.maximum_length_received = self.settings.max_pdu
        implementation = ImplementationClassUIDNotification()
        implementation.implementation_class_uid = self.settings.implementation_class_uid
        version = ImplementationVersionNameNotification()
        version.implementation_version_name = self.settings.implementation_version
        primitive.user_information = [length, implementation, version]
        answer = A_ASSOCIATE_AC()
        answer.from_primitive(primitive)
        self.sock.sendall(answer.encode())
        return True

    def reject(self, *, result: int, source: int, diagnostic: int) -> None:
        """Answer the request with an A-ASSOCIATE-RJ."""
        primitive = A_ASSOCIATE()
        primitive.result = result
        primitive.result_source = source
        primitive.diagnostic = diagnostic
        answer = A_ASSOCIATE_RJ()
        answer.from_primitive(primitive)
        self.sock.sendall(answer.encode())

    def _send_abort(self) -> None:
        # A-ABORT: source 2 (service provider), reason 0 (not specified) - PS3.8 9.3.8.
        try:
            self.sock.sendall(bytes((ABORT, 0, 0, 0, 0, 4, 0, 0, 2, 0)))
        except OSError:
            return

    def _read_pdu(self, reader: "_Reader") -> tuple[int, bytes | bytearray]:
        head = reader.read(6)
        if len(head) < 6:
            raise ConnectionResetError("the peer closed the connection without releasing")
        kind, length = _PDU_HEADER.unpack(head)
        if kind == P_DATA and length > self.settings.max_pdu:
            raise Aborted(f"a P-DATA-TF PDU of {length} bytes, more than the {self.settings.max_pdu} negotiated")
        if kind != P_DATA and length > MAX_REQUEST:
            raise Aborted(f"a PDU of type {kind} claims {length} bytes")
        body = reader.read(length)
        if len(body) < length:
            raise ConnectionResetError("the peer closed the connection inside a PDU")
        return kind, body

    def _serve(self, reader: "_Reader") -> None:
        command: list[bytes] = []
        dataset: list[bytes] = []
        size = 0
        context_id: int | None = None
        fields: dict[int, bytes] | None = None
        while True:
            kind, body = self._read_pdu(reader)
            if kind == RELEASE_RQ:
                self.sock.sendall(bytes((RELEASE_RP, 0, 0, 0, 0, 4, 0, 0, 0, 0)))
                return
            if kind == ABORT:
                log.info("association from %s aborted by the peer", self.calling)
                return
            if kind != P_DATA:
                raise Aborted(f"an unexpected PDU of type {kind} during the association")
            position = 0
            while position < len(body):
                if position + 6 > len(body):
                    raise Aborted("a presentation data value item is cut short")
                item_length = int.from_bytes(body[position:position + 4], "big")
                if item_length < 2 or position + 4 + item_length > len(body):
                    raise Aborted("a presentation data value item has a wrong length")
                pdv_context, control = body[position + 4], body[position + 5]
                fragment = body[position + 6:position + 4 + item_length]
                position += 4 + item_length
                if pdv_context not in self.contexts:
                    raise Aborted(f"data on presentation context {pdv_context}, which was not accepted")
                if context_id is not None and pdv_context != context_id:
                    raise Aborted("a message's fragments arrived on two presentation contexts")
                context_id = pdv_context
                if control & 1:
                    if fields is not None:
                        raise Aborted("command fragments after the command was complete")
                    command.append(fragment)
                    if control & 2:
                        fields = _command_fields(b"".join(command))
                        command = []
                        if _us(fields, 0x0800) == NO_DATASET:
                            self._answer(context_id, fields, None, reader)
                            context_id, fields, dataset, size = None, None, [], 0
                else:
                    if fields is None:
                        raise Aborted("dataset fragments before their command")
                    size += len(fragment)
                    if size > self.settings.max_instance_bytes:
                        raise Aborted(f"a dataset larger than {self.settings.max_instance_bytes} bytes")
                    dataset.append(fragment)
                    if control & 2:
                        self._answer(context_id, fields, b"".join(dataset), reader)
                        context_id, fields, dataset, size = None, None, [], 0

    def _answer(self, context_id: int, fields: dict[int, bytes], data: bytes | None, reader: "_Reader") -> None:
        operation = _us(fields, 0x0100)
        if operation == C_CANCEL_RQ:
            return  # a cancel that arrived after its C-FIND had ended: nothing to stop, no response (PS3.7 9.3.2.3)
        message_id = _us(fields, 0x0110)
        abstract, syntax = self.contexts[context_id]
        sop_class = _text(fields.get(0x0002, b"")) or abstract
        sop_instance = _text(fields.get(0x1000, b""))
        comment = ""
        if operation == C_ECHO_RQ and data is None:
            status = service.SUCCESS
        elif (operation == C_FIND_RQ and data is not None and abstract in FIND_CLASSES
              and self.settings.find is not None):
            self._find(self.settings.find, context_id, message_id, abstract, syntax, data, reader)
            return
        elif operation == C_STORE_RQ and data is not None:
            encoded = part10(data, sop_class, sop_instance, syntax, self.calling,
                             (self.settings.implementation_class_uid, self.settings.implementation_version))
            outcome = self.settings.store(encoded, self.calling, (sop_class, sop_instance), self.batch)
            status, comment = outcome.status, ("" if outcome.status == service.SUCCESS else outcome.reason)
        else:
            status, comment = UNRECOGNIZED_OPERATION, "this association takes C-STORE and C-ECHO only"
        response = _response(operation | 0x8000, message_id, sop_class, sop_instance, status, comment)
        self._send(context_id, response)

    def _send(self, context_id: int, command: bytes, data: bytes | None = None) -> None:
        """Send a message."""
        self.sock.sendall(self._message(context_id, command, data))

    def _message(self, context_id: int, command: bytes, data: bytes | None = None) -> bytes:
        """A message's PDUs: its command, then its dataset in fragments that fit the peer's maximum PDU."""
        out = [_pdu(context_id, 0x03, command)]
        if data is not None:
            room = (self.peer_max_pdu - 6) if self.peer_max_pdu > 6 else len(data) or 1
            for start in range(0, len(data), room):
                last = start + room >= len(data)
                out.append(_pdu(context_id, 0x02 if last else 0x00, data[start:start + room]))
        return b"".join(out)

    def _find(self, find: FindFunction, context_id: int,
              message_id: int, sop_class: str, syntax: str, data: bytes, reader: "_Reader") -> None:
        """Answer a C-FIND: each match as a pending response, then the final status; a C-CANCEL stops it."""
        implicit = syntax == IMPLICIT_LE
        try:
            identifier = decode(BytesIO(data), implicit, True)
        except Exception:  # pydicom raises many kinds on garbage; each means the same to the sender
            log.warning("a C-FIND identifier from %s could not be decoded", self.calling)
            identifier = None
        if identifier is None:
            status, comment, answers = IDENTIFIER_UNREADABLE, "the identifier could not be decoded", []
        else:
            status, comment, answers = find(sop_class, identifier, self.calling)
        pending = _response(0x8020, message_id, sop_class, "", PENDING, "", DATASET)
        out: list[bytes] = []
        for number, answer in enumerate(answers):
            # Answers go out in writes of up to 32; before each, a C-CANCEL the peer sent meanwhile is honoured.
            if number % 32 == 0:
                if out:
                    self.sock.sendall(b"".join(out))
                    out = []
                if reader.waiting() and self._cancelled(reader, message_id):
                    status, comment = CANCELLED, ""
                    break
            encoded = answer.encode(implicit) if isinstance(answer, Answer) else encode(answer, implicit, True)
            if encoded is None:
                log.warning("a C-FIND answer to %s could not be encoded", self.calling)
                continue
            out.append(self._message(context_id, pending, encoded))
        out.append(self._message(context_id, _response(0x8020, message_id, sop_class, "", status, comment)))
        self.sock.sendall(b"".join(out))

    def _cancelled(self, reader: "_Reader", message_id: int) -> bool:
        """Read what the peer sent during a C-FIND: True for its C-CANCEL; anything else ends the association."""
        kind, body = self._read_pdu(reader)
        if kind == ABORT:
            raise ConnectionResetError("the peer aborted during a C-FIND")
        if kind != P_DATA or len(body) < 6 or not body[5] & 1:
            raise Aborted(f"a PDU of type {kind} arrived during a C-FIND; only a C-CANCEL may")
        fields = _command_fields(body[6:4 + int.from_bytes(body[:4], "big")])
        return _us(fields, 0x0100) == C_CANCEL_RQ and _us(fields, 0x0120) == message_id


class _Reader:
    """Reads from the association's socket: small ones through a buffer, large ones (a PDU's body) straight into
    their own buffer with recv_into, so an instance's bytes are copied once on the way in."""

    SMALL = 65536

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""  # received, not read yet

    def read(self, size: int) -> bytes | bytearray:
        """size bytes, or fewer when the peer closed the connection."""
        if len(self.buffer) >= size:
            data, self.buffer = self.buffer[:size], self.buffer[size:]
            return data
        if size <= self.SMALL:
            chunks, have = [self.buffer], len(self.buffer)
            while have < size:
                chunk = self.sock.recv(self.SMALL)
                if not chunk:
                    break
                chunks.append(chunk)
                have += len(chunk)
            joined = b"".join(chunks)
            data, self.buffer = joined[:size], joined[size:]
            return data
        out = bytearray(size)
        have = len(self.buffer)
        out[:have] = self.buffer
        self.buffer = b""
        view = memoryview(out)
        while have < size:
            received = self.sock.recv_into(view[have:])
            if not received:
                return out[:have]
            have += received
        return out

    def waiting(self) -> bool:
        """True when bytes have arrived that were not read yet."""
        return bool(self.buffer) or bool(select.select([self.sock], [], [], 0)[0])


def _pdu(context_id: int, control: int, fragment: bytes) -> bytes:
    """A P-DATA-TF PDU of one presentation data value item (PS3.8 9.3.5)."""
    return struct.pack(">BxIIBB", P_DATA, len(fragment) + 6, len(fragment) + 2, context_id, control) + fragment


def _command_fields(data: bytes) -> dict[int, bytes]:
    """The elements of a command set (group 0000, implicit VR little endian) by element number."""
    fields: dict[int, bytes] = {}
    position = 0
    while position + 8 <= len(data):
        group, element, length = _ELEMENT.unpack_from(data, position)
        position += 8
        if group != 0x0000 or position + length > len(data):
            raise Aborted("a command set that is not group 0000 in implicit VR little endian")
        fields[element] = data[position:position + length]
        position += length
    if position != len(data):
        raise Aborted("a command set with a cut element")
    return fields


def _us(fields: dict[int, bytes], element: int) -> int:
    value = fields.get(element, b"")
    return _US.unpack_from(value)[0] if len(value) >= 2 else -1


def _text(value: bytes) -> str:
    return value.decode("latin-1").strip(" \x00")


def _element(element: int, value: bytes, pad: bytes = b"\x00") -> bytes:
    if len(value) % 2:
        value += pad
    return _ELEMENT.pack(0x0000, element, len(value)) + value


def _response(operation: int, message_id: int, sop_class: str, sop_instance: str, status: int,
              comment: str, dataset_type: int = NO_DATASET) -> bytes:
    """A response command set (PS3.7 9.3.1.2 / 9.3.5.2), implicit VR little endian, elements in tag order."""
    # The UIDs are echoed as the peer sent them; a hostile non-ASCII byte must not end the association.
    body = _element(0x0002, sop_class.encode("ascii", "replace"))
    body += _element(0x0100, _US.pack(operation))
    body += _element(0x0120, _US.pack(max(message_id, 0)))
    body += _element(0x0800, _US.pack(dataset_type))
    body += _element(0x0900, _US.pack(status))
    if comment:
        body += _element(0x0902, comment.replace("\\", "/")[:64].encode("ascii", "replace"), b" ")
    if sop_instance:
        body += _element(0x1000, sop_instance.encode("ascii", "replace"))
    return _element(0x0000, struct.pack("<I", len(body))) + body


def _meta_element(group_element: int, vr: bytes, value: bytes, pad: bytes = b"\x00") -> bytes:
    if len(value) % 2:
        value += pad
    group, element = group_element >> 16, group_element & 0xFFFF
    if vr == b"OB":
        return struct.pack("<HH2s2xI", group, element, vr, len(value)) + value
    return struct.pack("<HH2sH", group, element, vr, len(value)) + value


def part10(data: bytes, sop_class: str, sop_instance: str, syntax: str, calling: str,
           implementation: tuple[str, str]) -> bytes:
    """The received dataset as a Part 10 file: preamble, 'DICM', the file meta group (PS3.10 7.1), the dataset.

    implementation: the class UID and version name of the implementation writing the file (ours)."""
    class_uid, version = implementation
    meta = (_meta_element(0x00020001, b"OB", b"\x00\x01")
            + _meta_element(0x00020002, b"UI", sop_class.encode("ascii", "replace"))
            + _meta_element(0x00020003, b"UI", sop_instance.encode("ascii", "replace"))
            + _meta_element(0x00020010, b"UI", syntax.encode("ascii"))
            + _meta_element(0x00020012, b"UI", class_uid.encode("ascii"))
            + _meta_element(0x00020013, b"SH", version.encode("ascii"), b" ")
            + (_meta_element(0x00020016, b"AE", calling.encode("ascii", "replace"), b" ") if calling else b""))
    group_length = _meta_element(0x00020000, b"UL", struct.pack("<I", len(meta)))
    return b"\x00" * 128 + b"DICM" + group_length + meta + data
