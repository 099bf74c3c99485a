"""C-MOVE and C-GET: sending stored instances of a patient, study, series or image back out.

The instances are chosen on the index by the unique key of the level asked (PatientID, StudyInstanceUID,
SeriesInstanceUID, SOPInstanceUID; UID lists allowed) and the keys of the levels above it. C-GET sends them as
C-STORE sub-operations on the caller's own association; C-MOVE opens an association to the move destination,
which must be a known and allowed remote AE (host and port from the console's list): an unknown one is refused
with 0xA801. Each file is read only when its turn comes; one missing from the archive counts as a failed
sub-operation and the others go on. pynetdicom counts the sub-operations in the responses.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import sqlalchemy as sa
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import build_context
from pynetdicom.presentation import PresentationContext
from sqlalchemy.engine import Connection, Engine

from smartcare.hospital.imaging import query, remote_aes
from smartcare.hospital.imaging.models import imaging_instance, imaging_series, imaging_study
from smartcare.hospital.imaging.storage import InstanceStore

log = logging.getLogger(__name__)
PENDING, CANCELLED = 0xFF00, 0xFE00
MOVE_DESTINATION_UNKNOWN = 0xA801
MAX_CONTEXTS = 128
UNIQUE_KEYS = {"PATIENT": "PatientID", "STUDY": "StudyInstanceUID", "SERIES": "SeriesInstanceUID",
               "IMAGE": "SOPInstanceUID"}
_UNREADABLE = "unreadable"  # yielded instead of a dataset: pynetdicom counts a failed sub-operation


class RetrieveError(ValueError):
    """An identifier that names nothing to retrieve in a way the standard allows."""


@dataclass(frozen=True, slots=True)
class StoredInstance:
    """An instance to send: where its file lies, its SOP class and the transfer syntax it is stored in."""

    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    storage_key: str


def _value(identifier: Dataset, keyword: str) -> str:
    value = identifier.get(keyword)
    if value is None:
        return ""
    if isinstance(value, list | MultiValue):
        return "\\".join(str(v) for v in value)
    return str(value)


def selected(conn: Connection, identifier: Dataset) -> list[StoredInstance]:
    """The stored instances an identifier asks for, in study, series and instance order; RetrieveError if bad."""
    level = str(identifier.get("QueryRetrieveLevel", "")).strip().upper()
    if level not in UNIQUE_KEYS:
        raise RetrieveError(f"QueryRetrieveLevel {level[:16]!r} is not PATIENT, STUDY, SERIES or IMAGE")
    if not _value(identifier, UNIQUE_KEYS[level]).strip():
        raise RetrieveError(f"a {level} retrieve needs {UNIQUE_KEYS[level]}")
    i, s, st = imaging_instance.c, imaging_series.c, imaging_study.c
    statement = (sa.select(i.sop_instance_uid, i.sop_class_uid, i.transfer_syntax_uid, i.storage_key)
                 .join(imaging_series, s.id == i.series).join(imaging_study, st.id == s.study))
    depth = query.LEVELS.index(level)
    for keyword in list(UNIQUE_KEYS.values())[:depth + 1]:
        where = query.condition(query.KEYS[keyword], _value(identifier, keyword))
        if where is not None:
            statement = statement.where(where)
    statement = statement.order_by(st.study_date, st.id, s.series_number, s.id, i.instance_number, i.id)
    return [StoredInstance(*row) for row in conn.execute(statement)]


def contexts_for(instances: list[StoredInstance]) -> list[PresentationContext]:
    """Presentation contexts to propose to a move destination: each SOP class in its stored transfer syntax
    and the uncompressed ones (at most 128)."""
    syntaxes: dict[str, list[str]] = {}
    for instance in instances:
        wanted = syntaxes.setdefault(instance.sop_class_uid, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        if instance.transfer_syntax_uid not in wanted:
            wanted.insert(0, instance.transfer_syntax_uid)
    return [build_context(sop_class, ts) for sop_class, ts in list(syntaxes.items())[:MAX_CONTEXTS]]


def _datasets(instances: list[StoredInstance], store: InstanceStore) -> Iterator[tuple[int, Any]]:
    for instance in instances:
        try:
            yield PENDING, dcmread(BytesIO(store.get(instance.storage_key)))
        except Exception:  # a file gone or damaged: that sub-operation fails, the others go on
            log.exception("instance %s could not be read from the archive", instance.sop_instance_uid)
            yield PENDING, _UNREADABLE


def _select(event: Any, engine: Engine) -> list[StoredInstance]:
    with engine.connect() as conn:
        return selected(conn, event.identifier)


def _sent(instances: list[StoredInstance], event: Any, store: InstanceStore) -> Iterator[Any]:
    for status, dataset in _datasets(instances, store):
        if event.is_cancelled:
            yield CANCELLED, None
            return
        yield status, dataset


def on_get(event: Any, *, engine: Engine, store: InstanceStore) -> Iterator[Any]:
    """C-GET: the number of sub-operations, then each instance to send on the caller's association.

    A bad identifier raises RetrieveError, which pynetdicom answers with a failure status (0xC4xx)."""
    instances = _select(event, engine)
    yield len(instances)
    yield from _sent(instances, event, store)


def on_move(event: Any, *, engine: Engine, store: InstanceStore) -> Iterator[Any]:
    """C-MOVE: the destination's address (a known, allowed AE), the number of sub-operations, the instances.

    An unknown destination is answered 0xA801; a bad identifier raises RetrieveError (a 0xC5xx failure)."""
    destination = str(event.move_destination or "").strip()
    with engine.connect() as conn:
        known = remote_aes.by_title(conn, destination) if destination else None
    if known is None or not known.allowed:
        log.warning("C-MOVE from %s to unknown destination %r refused", event.assoc.requestor.ae_title,
                    destination[:16])
        yield None, None
        return
    instances = _select(event, engine)
    yield known.host, known.port, {"contexts": contexts_for(instances)} if instances else {}
    yield len(instances)
    yield from _sent(instances, event, store)
