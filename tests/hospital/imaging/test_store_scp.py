"""The storage fast path against real senders (dcmtk's storescu, pynetdicom) and against raw, broken PDU streams."""

import resource
import socket
import struct
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, ExplicitVRBigEndian, ExplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.dsutils import encode
from pynetdicom.pdu import A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import A_ASSOCIATE, MaximumLengthNotification
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import (
    MRImageStorage,
    RawDataStorage,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from smartcare.fhir.tables import resource as fhir_resource
from smartcare.hospital.imaging import service
from smartcare.hospital.imaging.dicom import PacsService
from smartcare.hospital.imaging.models import imaging_instance, imaging_remote_ae
from smartcare.platform.db import unit_of_work
from tests.hospital.imaging.dicom_samples import ct_slice, uid, write
from tests.hospital.imaging.imaging_record import write_patients_and_order
from tests.hospital.imaging.pacs_peer import dcmtk, start_pacs

FAST_PATH_MAX_PDU = 1048576  # what store_scp announces; pynetdicom's side here announces 0 (unlimited)


@pytest.fixture
def pacs(engine, tmp_path) -> Iterator[PacsService]:
    """A running DICOM service (any caller allowed) on a free port, storing under tmp_path/archive."""
    running = start_pacs(engine, tmp_path / "archive", allow_any_caller=True, network_timeout_seconds=10)
    yield running
    running.stop()


def _stored() -> int:
    with unit_of_work() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(imaging_instance)).scalar()


def _imaging_studies(*, wait: float = 10) -> list[dict]:
    deadline = time.monotonic() + wait
    while True:
        with unit_of_work() as conn:
            found = [r[0] for r in conn.execute(sa.select(fhir_resource.c.content)
                                                .where(fhir_resource.c.res_type == "ImagingStudy"))]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _pynetdicom(pacs: PacsService, *contexts, calling: str = "TESTSCU"):
    ae = AE(calling)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    for context in contexts:
        abstract, syntax = context if isinstance(context, tuple) else (context, ExplicitVRLittleEndian)
        ae.add_requested_context(abstract, syntax)
    host, port = pacs.address
    return ae.associate(host, port, ae_title="SMARTCARE")


# Raw PDUs (PS3.8 9.3) -------------------------------------------------------------------------------------------


def _associate_rq(*, calling: str = "MODALITY", contexts=((CTImageStorage, ExplicitVRLittleEndian),)) -> bytes:
    primitive = A_ASSOCIATE()
    primitive.application_context_name = "1.2.840.10008.3.1.1.1"
    primitive.calling_ae_title, primitive.called_ae_title = calling, "SMARTCARE"
    definitions = []
    for number, (abstract, syntax) in enumerate(contexts):
        context = build_context(abstract, [syntax])
        context.context_id = 2 * number + 1
        definitions.append(context)
    primitive.presentation_context_definition_list = definitions
    length = MaximumLengthNotification()
    length.maximum_length_received = 16384
    primitive.user_information = [length]
    pdu = A_ASSOCIATE_RQ()
    pdu.from_primitive(primitive)
    return pdu.encode()


def _read_pdu(sock: socket.socket) -> tuple[int, bytes]:
    """The next PDU's type and body; (0, b'') when the service closed the connection."""
    head = b""
    while len(head) < 6:
        chunk = sock.recv(6 - len(head))
        if not chunk:
            return 0, b""
        head += chunk
    kind, length = struct.unpack(">BxI", head)
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            return 0, b""
        body += chunk
    return kind, body


def _open(pacs: PacsService, **request) -> socket.socket:
    """A raw connection with an accepted storage association (context 1: CT, explicit VR little endian)."""
    sock = socket.create_connection(pacs.address, timeout=10)
    sock.sendall(_associate_rq(**request))
    kind, _body = _read_pdu(sock)
    assert kind == 2  # A-ASSOCIATE-AC
    return sock


def _p_data(*pdvs: tuple[int, int, bytes]) -> bytes:
    """A P-DATA-TF PDU of (context, control header, fragment) PDVs."""
    items = b"".join(struct.pack(">IBB", len(fragment) + 2, context, control) + fragment
                     for context, control, fragment in pdvs)
    return struct.pack(">BxI", 4, len(items)) + items


def _element(element: int, value: bytes) -> bytes:
    if len(value) % 2:
        value += b"\0"
    return struct.pack("<HHI", 0x0000, element, len(value)) + value


def _c_store_rq(sop_class: str, sop_instance: str, message_id: int = 1) -> bytes:
    """A C-STORE-RQ command set (PS3.7 9.3.1.1) in implicit VR little endian."""
    body = (_element(0x0002, sop_class.encode()) + _element(0x0100, struct.pack("<H", 0x0001))
            + _element(0x0110, struct.pack("<H", message_id)) + _element(0x0700, struct.pack("<H", 0))
            + _element(0x0800, struct.pack("<H", 0x0000)) + _element(0x1000, sop_instance.encode()))
    return _element(0x0000, struct.pack("<I", len(body))) + body


def _response_fields(body: bytes) -> dict[int, bytes]:
    """The command elements of a one-PDV response P-DATA-TF body."""
    command = body[6:]
    fields, position = {}, 0
    while position < len(command):
        _group, element, length = struct.unpack_from("<HHI", command, position)
        fields[element] = command[position + 8:position + 8 + length]
        position += 8 + length
    return fields


def _send_instance(sock: socket.socket, ds: Dataset, *, fragment: int = 4000, message_id: int = 1) -> dict:
    """Send ds as a C-STORE on context 1 in fragments of the given size, two PDVs per PDU; the response fields."""
    data = encode(ds, False, True)
    sock.sendall(_p_data((1, 0x03, _c_store_rq(ds.SOPClassUID, ds.SOPInstanceUID, message_id))))
    pieces = [data[i:i + fragment] for i in range(0, len(data), fragment)]
    pdvs = [(1, 0x02 if i == len(pieces) - 1 else 0x00, piece) for i, piece in enumerate(pieces)]
    for i in range(0, len(pdvs), 2):
        sock.sendall(_p_data(*pdvs[i:i + 2]))
    kind, body = _read_pdu(sock)
    assert kind == 4
    return _response_fields(body)


def _status(fields: dict[int, bytes]) -> int:
    return struct.unpack("<H", fields[0x0900])[0]


def _echo_works(pacs: PacsService) -> bool:
    assoc = _pynetdicom(pacs, Verification)
    try:
        return assoc.is_established and assoc.send_c_echo().Status == 0x0000
    finally:
        if assoc.is_established:
            assoc.release()


# Real senders ---------------------------------------------------------------------------------------------------


def test_storescu_study_is_stored_and_published_and_echoscu_is_answered(pacs, tmp_path):
    write_patients_and_order()
    study, series = uid(), uid()
    folder = tmp_path / "send"
    folder.mkdir()
    files = [str(write(ct_slice(study_uid=study, series_uid=series, number=n, patient_id="P-1"), folder / f"{n}.dcm"))
             for n in (1, 2, 3)]
    done = dcmtk("storescu", pacs, files=files)
    assert done.returncode == 0, done.stderr
    assert _stored() == 3
    assert len(list((tmp_path / "archive" / study).rglob("*.dcm"))) == 3
    [imaging] = _imaging_studies()
    assert imaging["numberOfInstances"] == 3 and imaging["subject"]["reference"] == "Patient/p-wang"
    done = dcmtk("echoscu", pacs, "-v")
    assert done.returncode == 0 and "Received Echo Response (Success)" in done.stderr


@pytest.mark.parametrize("extra", [(), (StudyRootQueryRetrieveInformationModelMove,)], ids=["find", "find+move"])
def test_storage_and_find_in_one_association_are_both_served_on_either_path(pacs, extra):
    write_patients_and_order()
    assoc = _pynetdicom(pacs, CTImageStorage, Verification)
    assert assoc.acceptor.maximum_length == FAST_PATH_MAX_PDU
    assoc.release()
    assoc = _pynetdicom(pacs, CTImageStorage, StudyRootQueryRetrieveInformationModelFind, *extra)
    assert assoc.is_established
    if extra:  # a retrieve model is never served by the fast path: pynetdicom (unlimited PDU) takes it all
        assert assoc.acceptor.maximum_length == 0
    study = uid()
    assert assoc.send_c_store(ct_slice(study_uid=study, patient_id="P-2")).Status == 0x0000
    query = Dataset()
    query.QueryRetrieveLevel, query.PatientID, query.StudyInstanceUID = "STUDY", "P-2", ""
    answers = [(status.Status, found.StudyInstanceUID if found else None)
               for status, found in assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind)]
    assert answers == [(0xFF00, study), (0x0000, None)]
    assert _imaging_studies(wait=0.3) == []  # published when the association ends
    assoc.release()
    [imaging] = _imaging_studies()
    assert imaging["numberOfInstances"] == 1


def test_unknown_calling_ae_gets_an_associate_reject_on_the_fast_path(engine, tmp_path):
    strict = start_pacs(engine, tmp_path, allow_any_caller=False, callers_ttl_seconds=0)
    try:
        with socket.create_connection(strict.address, timeout=10) as sock:
            sock.sendall(_associate_rq(calling="STRANGER"))
            kind, body = _read_pdu(sock)
        # A-ASSOCIATE-RJ: rejected permanent (1), by the service user (1), calling AE not recognised (3).
        assert (kind, body[1:4]) == (3, bytes((1, 1, 3)))
        assert _pynetdicom(strict, CTImageStorage, calling="STRANGER").is_rejected
        with unit_of_work() as conn:
            conn.execute(imaging_remote_ae.insert().values(ae_title="CT1", host="10.0.0.5", port=104,
                                                           description="CT scanner", allowed=True))
        assoc = _pynetdicom(strict, CTImageStorage, calling="CT1")
        assert assoc.is_established
        assert assoc.send_c_store(ct_slice()).Status == 0x0000
        assoc.release()
        assert _stored() == 1
    finally:
        strict.stop()


def test_unsupported_contexts_are_refused_while_the_supported_ones_are_accepted(pacs):
    assoc = _pynetdicom(pacs, RawDataStorage, CTImageStorage, (MRImageStorage, ExplicitVRBigEndian), Verification)
    assert assoc.is_established
    assert assoc.acceptor.maximum_length == FAST_PATH_MAX_PDU
    accepted = {c.abstract_syntax for c in assoc.accepted_contexts}
    assert accepted == {CTImageStorage, Verification}
    assert {c.abstract_syntax for c in assoc.rejected_contexts} == {RawDataStorage, MRImageStorage}
    assert assoc.send_c_store(ct_slice()).Status == 0x0000
    assoc.release()


def test_a_large_instance_in_many_pdus_is_stored_byte_for_byte(pacs):
    ds = ct_slice(size=1500)  # 4.5 MB of pixels: five P-DATA PDUs and more at 1 MiB
    sent = encode(ds, False, True)
    assert len(sent) > 4 * FAST_PATH_MAX_PDU
    assoc = _pynetdicom(pacs, CTImageStorage)
    assert assoc.send_c_store(ds).Status == 0x0000
    assoc.release()
    stored = service.read_instance(ds.SOPInstanceUID, store=pacs.store)
    assert stored[128:132] == b"DICM"
    assert stored.endswith(sent)
    assert stored[132:len(stored) - len(sent)].count(ExplicitVRLittleEndian.encode()) == 1  # only the meta group


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_bad_datasets_get_a_failure_status_with_a_reason_and_the_association_goes_on(pacs):
    assoc = _pynetdicom(pacs, CTImageStorage)
    assert assoc.acceptor.maximum_length == FAST_PATH_MAX_PDU
    no_pixels = ct_slice()
    del no_pixels.PixelData
    answer = assoc.send_c_store(no_pixels)
    assert answer.Status == service.NOT_MATCHING_SOP_CLASS and "without pixel data" in answer.ErrorComment
    hostile = ct_slice()
    hostile.SeriesInstanceUID = "../../etc"
    answer = assoc.send_c_store(hostile)
    assert answer.Status == service.BAD_UID and "Series Instance UID" in answer.ErrorComment
    assert assoc.send_c_store(ct_slice()).Status == 0x0000
    assoc.release()
    assert _stored() == 1


def test_a_dataset_of_garbage_is_refused_and_the_next_instance_is_stored(pacs):
    with _open(pacs) as sock:
        sock.sendall(_p_data((1, 0x03, _c_store_rq(CTImageStorage, uid()))))
        sock.sendall(_p_data((1, 0x02, b"\x08\x00\x16\x00garbage, not a dataset")))
        kind, body = _read_pdu(sock)
        fields = _response_fields(body)
        assert kind == 4 and _status(fields) == service.CANNOT_UNDERSTAND
        assert b"cannot be decoded" in fields[0x0902]
        good = ct_slice()
        fields = _send_instance(sock, good, fragment=777, message_id=2)
        assert _status(fields) == 0x0000
        assert struct.unpack("<H", fields[0x0120])[0] == 2  # Message ID Being Responded To
        assert fields[0x1000].rstrip(b"\0") == good.SOPInstanceUID.encode()
    assert _stored() == 1


def test_a_command_with_a_non_ascii_uid_is_answered_not_dropped(pacs):
    with _open(pacs, contexts=((Verification, "1.2.840.10008.1.2"),)) as sock:
        echo = (_element(0x0002, b"1.2.840.10008.1.1\xe9") + _element(0x0100, struct.pack("<H", 0x0030))
                + _element(0x0110, struct.pack("<H", 7)) + _element(0x0800, struct.pack("<H", 0x0101)))
        sock.sendall(_p_data((1, 0x03, _element(0x0000, struct.pack("<I", len(echo))) + echo)))
        kind, body = _read_pdu(sock)
        assert kind == 4 and _status(_response_fields(body)) == 0x0000


# Raw, broken PDU streams ----------------------------------------------------------------------------------------


def test_release_request_is_answered_with_release_response(pacs):
    with _open(pacs) as sock:
        sock.sendall(bytes((5, 0, 0, 0, 0, 4, 0, 0, 0, 0)))
        assert _read_pdu(sock) == (6, bytes(4))


def test_a_broken_pdv_length_is_aborted_and_the_service_takes_the_next_association(pacs):
    with _open(pacs) as sock:
        command = _c_store_rq(CTImageStorage, uid())
        pdu = _p_data((1, 0x03, command))
        broken = pdu[:6] + struct.pack(">I", len(command) + 500) + pdu[10:]  # the PDV claims more than the PDU
        sock.sendall(broken)
        assert _read_pdu(sock) == (7, bytes((0, 0, 2, 0)))  # A-ABORT by the service provider
        assert _read_pdu(sock) == (0, b"")  # and the connection closed
    assert _echo_works(pacs)


@pytest.mark.parametrize("kind", [4, 5])
def test_a_pdu_claiming_two_gigabytes_is_aborted_without_harm(pacs, kind):
    with _open(pacs) as sock:
        sock.sendall(struct.pack(">BxI", kind, 0x7FFFFFFF) + b"\0" * 64)
        assert _read_pdu(sock)[0] == 7
    assert _echo_works(pacs)


def test_a_sender_that_goes_away_mid_dataset_stores_nothing_of_it_and_publishes_the_rest(pacs):
    write_patients_and_order()
    study = uid()
    sock = _open(pacs)
    try:
        assert _status(_send_instance(sock, ct_slice(study_uid=study, number=1, patient_id="P-1"))) == 0x0000
        assert _imaging_studies(wait=0.3) == []  # published when the association ends, not per instance
        cut = ct_slice(study_uid=study, number=2, size=64, patient_id="P-1")
        data = encode(cut, False, True)
        sock.sendall(_p_data((1, 0x03, _c_store_rq(CTImageStorage, cut.SOPInstanceUID))))
        sock.sendall(_p_data((1, 0x00, data[:len(data) // 2])))
    finally:
        sock.close()
    [imaging] = _imaging_studies()
    assert imaging["numberOfInstances"] == 1
    assert _stored() == 1
    assert service.read_instance(cut.SOPInstanceUID, store=pacs.store) is None
    assert _echo_works(pacs)


def test_a_request_sent_in_pieces_is_waited_for_without_spinning_a_core(pacs):
    request = _associate_rq()
    with socket.create_connection(pacs.address, timeout=10) as sock:
        sock.sendall(request[:20])
        before = resource.getrusage(resource.RUSAGE_SELF)
        time.sleep(1)  # the service sees a partial A-ASSOCIATE-RQ the whole second
        after = resource.getrusage(resource.RUSAGE_SELF)
        busy = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        sock.sendall(request[20:])
        assert _read_pdu(sock)[0] == 2
        assert _status(_send_instance(sock, ct_slice())) == 0x0000
    assert busy < 0.5  # a busy-waiting peek burnt a whole core here


def test_more_associations_than_allowed_get_a_transient_reject_and_room_comes_back(engine, tmp_path):
    pacs = start_pacs(engine, tmp_path / "archive", allow_any_caller=True, max_associations=2)
    try:
        first, second = _open(pacs), _open(pacs)
        with socket.create_connection(pacs.address, timeout=10) as third:
            third.sendall(_associate_rq())
            kind, body = _read_pdu(third)
            # A-ASSOCIATE-RJ: rejected-transient (2), service provider presentation (3), local limit exceeded (2).
            assert (kind, body[1:4]) == (3, bytes((2, 3, 2)))
        first.sendall(bytes((5, 0, 0, 0, 0, 4, 0, 0, 0, 0)))
        assert _read_pdu(first)[0] == 6
        first.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not _echo_works(pacs):
            time.sleep(0.05)
        assert _echo_works(pacs)
        second.close()
    finally:
        pacs.stop()


def test_stopping_the_service_ends_open_associations_at_once(engine, tmp_path):
    pacs = start_pacs(engine, tmp_path / "archive", allow_any_caller=True, network_timeout_seconds=60)
    idle = _open(pacs)
    began = time.monotonic()
    pacs.stop()
    assert _read_pdu(idle) == (0, b"")  # closed by the service, not after the 60 s idle timeout
    assert time.monotonic() - began < 5
    idle.close()
