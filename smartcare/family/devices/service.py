"""Taking device frames: each frame once, its good readings stored as Observations, the rest refused with reasons.

One frame is one transaction: the device must exist, be active and belong to a patient; the frame's
(device, seq) row is what makes a retransmission a duplicate; the readings are written through the FHIR store
under the device's own AccessContext (policy and audit see them); "ReadingsStored" is published after commit.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcare.family.devices import payload as schema
from smartcare.family.devices import readings
from smartcare.family.devices.tables import device_frame, device_registry
from smartcare.fhir import store
from smartcare.platform import audit, clock
from smartcare.platform.db import pending_events, unit_of_work
from smartcare.platform.events import DomainEvent
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.scopes import parse_scopes

READINGS_STORED = "ReadingsStored"
_DEVICE_SCOPES = parse_scopes("system/Observation.c")
_MAX_AUDIT_ENTITIES = 200


@dataclass(frozen=True, slots=True)
class RefusedReading:
    """A reading of a frame that was not stored, and why."""

    index: int
    type: str
    reason: str


@dataclass(slots=True)
class IngestResult:
    """What became of one frame: accepted, partial (some readings refused), rejected or duplicate."""

    device_id: str
    seq: int | None
    status: str
    observations: list[str] = field(default_factory=list)
    refused: list[RefusedReading] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # why the whole frame was refused
    clock_corrected_by: int | None = None  # seconds the device clock was off (positive: ahead)

    @property
    def accepted(self) -> int:
        """How many readings were stored."""
        return len(self.observations)

    @property
    def duplicate(self) -> bool:
        """True when the same (device, seq) was taken before and this one changed nothing."""
        return self.status == "duplicate"

    def as_json(self) -> dict[str, Any]:
        """The result as JSON: the HTTPS answer per frame, and what goes back on the device's error topic."""
        body: dict[str, Any] = {"device": self.device_id, "seq": self.seq, "status": self.status,
                                "accepted": self.accepted, "observations": self.observations}
        if self.refused:
            body["refused"] = [{"index": r.index, "type": r.type, "reason": r.reason} for r in self.refused]
        if self.reasons:
            body["reasons"] = self.reasons
        if self.clock_corrected_by is not None:
            body["clock_corrected_by"] = self.clock_corrected_by
        return body

    @property
    def has_errors(self) -> bool:
        """True when the device should be told something went wrong (a refused frame or reading)."""
        return bool(self.reasons or self.refused)


@dataclass(frozen=True, slots=True)
class FrameIn:
    """One frame to take: from which device, its payload, and when it arrived (default: now)."""

    device_id: str
    payload: bytes | str | dict[str, Any]
    received_at: datetime | None = None


def device_context(device_id: str, client_id: str | None = None) -> AccessContext:
    """The AccessContext a device writes its readings under (scope: create Observations only)."""
    return AccessContext(kind="device", name=device_id, roles=frozenset({"device"}), subject=client_id or device_id,
                         fhir_user=f"Device/{device_id}", scopes=_DEVICE_SCOPES)


def ingest_frame(engine: Engine | None, *, device_id: str, payload: bytes | str | dict[str, Any],
                 received_at: datetime | None = None, live: bool = True) -> IngestResult:
    """Take one frame from a device in one transaction; returns what became of it (never raises for bad input).

    live frames (MQTT) whose device time is over 7 days old are placed at their arrival; gateways uploading
    a backlog over HTTPS pass live=False.
    """
    return ingest_frames(engine, [FrameIn(device_id, payload, received_at)], live=live)[0]


def ingest_frames(engine: Engine | None, frames: Sequence[FrameIn], *, live: bool = True) -> list[IngestResult]:
    """Take several frames in one transaction (a gateway's batch, a subscriber's backlog), each as ingest_frame."""
    parsed = [_parse(f) for f in frames]
    with unit_of_work(engine) as conn:
        devices = _devices(conn, {f.device_id for f, p in zip(frames, parsed, strict=True)
                                  if not isinstance(p, IngestResult)})
        judged = [p if isinstance(p, IngestResult) else _judge(f, p, devices.get(f.device_id), live=live)
                  for f, p in zip(frames, parsed, strict=True)]
        new = _record_frames(conn, [j for j in judged if isinstance(j, _Judged)])
        taken: dict[str, _Taken] = {}
        results = []
        for j in judged:
            if not isinstance(j, _Judged):
                results.append(j)
            elif (j.result.device_id, j.result.seq) in new:
                new.discard((j.result.device_id, j.result.seq))  # a second copy in this batch is a duplicate
                results.append(_keep(conn, j, taken))
            else:
                results.append(_earlier(conn, j.result.device_id, j.result.seq))
        _store(conn, taken)
        return results


@dataclass(slots=True)
class _Judged:
    """A frame from an active, owned device, with its readings judged and turned into Observations."""

    result: IngestResult
    device: sa.Row
    received: str
    device_time: str
    raw: str
    resources: list[tuple[str, str, dict[str, Any]]]  # (reading type, id, Observation)


@dataclass(slots=True)
class _Taken:
    """One device's readings taken in this transaction, written together (one bulk write per device)."""

    patient_id: str
    client_id: str | None
    last_seen: str
    writes: list[store.Write] = field(default_factory=list)


def _keep(conn: Connection, judged: _Judged, taken: dict[str, _Taken]) -> IngestResult:
    """Queue a new frame's Observations for its device's write, and its ReadingsStored event for after commit."""
    result, device = judged.result, judged.device
    batch = taken.setdefault(result.device_id, _Taken(device.patient_id, device.client_id, judged.received))
    batch.last_seen = max(batch.last_seen, judged.received)
    batch.writes.extend(store.Write("POST", "Observation", i, res) for _k, i, res in judged.resources)
    if judged.resources:
        pending_events(conn).append(DomainEvent(READINGS_STORED, {
            "patient": f"Patient/{device.patient_id}", "device": f"Device/{result.device_id}",
            "deviceKind": device.kind, "observations": list(result.observations),
            "kinds": list(dict.fromkeys(k for k, _i, _r in judged.resources)),
            "received": judged.received,  # when the frame reached SmartCare: alert latency counts from here
            # In-process only: what was stored, so those judging the readings need not read them back.
            "resources": [{**r, "resourceType": "Observation", "id": i} for _k, i, r in judged.resources]}))
    return result


def _store(conn: Connection, taken: dict[str, _Taken]) -> None:
    """Write the accepted readings of every device in the transaction in one bulk write, each under its device's
    own context (history and audit name the device), and note when each device was last seen.

    One write for all devices rather than one per device: bench/devices.py took ingest from about 310 to about
    1,000 frames/s on one PostgreSQL thread that way.
    """
    writes: list[store.Write] = []
    for device_id, batch in taken.items():
        ctx = device_context(device_id, batch.client_id)
        for w in batch.writes:
            w.ctx = ctx
        writes.extend(batch.writes)
    if writes:
        store.write_batch(conn, writes[0].ctx, writes)
    for device_id, batch in taken.items():
        if not batch.writes:
            continue
        ctx = device_context(device_id, batch.client_id)
        refs = [f"Observation/{w.res_id}" for w in batch.writes]
        for start in range(0, len(refs), _MAX_AUDIT_ENTITIES):
            audit.record(conn, ctx=ctx, action="C", subtype="create", entities=refs[start:start + _MAX_AUDIT_ENTITIES],
                         patient=f"Patient/{batch.patient_id}")
    if taken:
        conn.execute(device_registry.update().where(device_registry.c.device_id == sa.bindparam("b_device"))
                     .values(last_seen=sa.bindparam("b_seen")),
                     [{"b_device": d, "b_seen": b.last_seen} for d, b in taken.items()])


def _parse(frame: FrameIn) -> schema.ParsedFrame | IngestResult:
    try:
        return schema.parse_frame(frame.payload)
    except schema.FrameInvalid as exc:
        return IngestResult(frame.device_id[:64], _seq_of(frame.payload), "rejected", reasons=exc.reasons)


def _seq_of(payload: Any) -> int | None:
    """The frame's seq when one can be read from it, to say which frame was refused."""
    if not isinstance(payload, dict):
        try:
            payload = orjson.loads(payload) if len(payload) <= schema.limits()["max_bytes"] else None
        except (orjson.JSONDecodeError, TypeError):
            return None
    seq = payload.get("seq") if isinstance(payload, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq <= schema.MAX_SEQ else None


def _devices(conn: Connection, ids: set[str]) -> dict[str, sa.Row]:
    wanted = sorted(i for i in ids if i and len(i) <= 64)
    if not wanted:
        return {}
    r = device_registry.c
    rows = conn.execute(sa.select(r.device_id, r.kind, r.status, r.patient_id, r.client_id).where(r.device_id.in_(wanted)))
    return {row.device_id: row for row in rows}


def _refusal(device: sa.Row | None, frame: FrameIn, envelope: schema.Envelope) -> str | None:
    if device is None:
        return "unknown device"
    if device.status != "active":
        return "the device's credentials are revoked"
    if not device.patient_id:
        return "the device is not paired with a patient"
    named = (envelope.patient or "").removeprefix("Patient/")
    if named and named != device.patient_id:
        return "the frame names another patient than the device's owner"
    return None


def _judge(frame: FrameIn, parsed: schema.ParsedFrame, device: sa.Row | None, *, live: bool) -> IngestResult | _Judged:
    """The frame refused as a whole, or its readings each stored as an Observation or refused with a reason."""
    envelope = parsed.envelope
    device_id = frame.device_id[:64]
    refusal = _refusal(device, frame, envelope)
    if refusal:
        return IngestResult(device_id, envelope.seq, "rejected", reasons=[refusal])
    received = frame.received_at or clock.now()
    received_text = clock.format_instant(received)
    placed = readings.place(envelope.device_time, received, live=live)
    result = IngestResult(device_id, envelope.seq, "accepted", clock_corrected_by=placed.corrected_by)
    resources: list[tuple[str, str, dict[str, Any]]] = []
    for index, reading in enumerate(parsed.readings):
        kind = _kind_of(envelope.readings[index])
        if isinstance(reading, str):
            result.refused.append(readings_refused(index, kind, reading))
            continue
        try:
            values = readings.stored_values(reading)
        except readings.Implausible as exc:
            result.refused.append(RefusedReading(index, kind, f"implausible: {exc}"))
            continue
        resources.append((kind, store.new_id(), readings.observation(
            kind, values, patient_id=device.patient_id, device_id=device_id,  # type: ignore[union-attr]
            seq=envelope.seq, index=index, placed=placed, received=received_text)))
    result.observations = [f"Observation/{i}" for _k, i, _r in resources]
    if result.refused:
        result.status = "partial" if resources else "rejected"
    raw = frame.payload
    text = orjson.dumps(raw).decode() if isinstance(raw, dict) else raw if isinstance(raw, str) else raw.decode()
    return _Judged(result, device, received_text, placed.effective.isoformat(timespec="seconds"), text,
                   resources)


def readings_refused(index: int, kind: str, reason: str) -> RefusedReading:
    """A reading refused by the payload schema, its reason prefixed with its type."""
    return RefusedReading(index, kind, f"{kind}: {reason}" if kind != "?" else reason)


def _kind_of(raw: Any) -> str:
    kind = raw.get("type") if isinstance(raw, dict) else None
    return kind[:40] if isinstance(kind, str) and kind else "?"


_FRAMES_PER_INSERT = 500


def _record_frames(conn: Connection, judged: list[_Judged]) -> set[tuple[str, int]]:
    """Keep the frames and their outcomes; returns the (device, seq) keys that were new (the others were taken
    before, or come twice in this batch, and are duplicates)."""
    new: set[tuple[str, int]] = set()
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    for start in range(0, len(judged), _FRAMES_PER_INSERT):
        chunk = judged[start:start + _FRAMES_PER_INSERT]
        params: list[Any] = []
        for j in chunk:
            detail = {k: v for k, v in j.result.as_json().items() if k not in ("device", "seq", "status")}
            params += [j.result.device_id, j.result.seq, j.received, j.device_time, j.result.status,
                       orjson.dumps(detail).decode(), j.raw]
        values = ", ".join([f"({', '.join([mark] * 7)})"] * len(chunk))
        sql = ("INSERT INTO device_frame (device_id, seq, received, device_time, outcome, detail, raw) "  # noqa: S608
               f"VALUES {values} ON CONFLICT (device_id, seq) DO NOTHING RETURNING device_id, seq")
        new.update((row[0], row[1]) for row in conn.exec_driver_sql(sql, tuple(params)))
    return new


def _earlier(conn: Connection, device_id: str, seq: int) -> IngestResult:
    """The duplicate of a frame taken before, with what became of the first one."""
    row = conn.execute(sa.select(device_frame.c.detail).where(
        device_frame.c.device_id == device_id, device_frame.c.seq == seq)).first()
    detail = orjson.loads(row.detail) if row else {}
    return IngestResult(device_id, seq, "duplicate", observations=detail.get("observations", []))


def frames_of(conn: Connection, *, device_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The latest frames taken from a device, newest first, with their outcomes."""
    c = device_frame.c
    rows = conn.execute(sa.select(c.seq, c.received, c.device_time, c.outcome, c.detail)
                        .where(c.device_id == device_id).order_by(c.received.desc(), c.seq.desc()).limit(limit))
    return [{"seq": r.seq, "received": r.received, "device_time": r.device_time, "outcome": r.outcome,
             **orjson.loads(r.detail)} for r in rows]
