"""The LIS's HL7 v2 inbound service: take a message, store it exactly once, answer it, queue what fails.

A message's FHIR writes, its audit entries and its row in hl7_received_message commit together, and the
ACK is built only after that commit: a message answered AA is stored, and a resent one (same sending
facility and MSH-10) is answered with the same ACK without a second copy. A message that cannot be taken is
answered AE/AR and kept in hl7_error_queue, where an administrator can correct and reprocess it.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest, FhirResponse
from smartcare.hospital.lab.hl7_messages import Header, Hl7Error, Inbound, build_ack, header_of, parse
from smartcare.hospital.lab.hl7_patients import store_demographics
from smartcare.hospital.lab.hl7_results import store_results
from smartcare.hospital.lab.interface_models import hl7_error_queue
from smartcare.platform import clock
from smartcare.platform.db import run_prepared, unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.scopes import parse_scopes

log = logging.getLogger(__name__)
INTERFACE_SCOPES = ("system/Patient.crus system/ServiceRequest.rs system/Specimen.rs "
                    "system/DiagnosticReport.crus system/Observation.crus")
QUEUE_STATUSES = ("open", "reprocessed", "dismissed")


def interface_context(name: str = "hl7-lis") -> AccessContext:
    """The system client the HL7 listener acts as: it may read orders and write patients and results."""
    return AccessContext(kind="client", name=name, roles=frozenset({"system"}), subject=name,
                         scopes=parse_scopes(INTERFACE_SCOPES))


@dataclass(slots=True)
class Outcome:
    """What became of one inbound message: the ACK sent back and what it stored or where it was queued."""

    ack: str
    ack_code: str
    duplicate: bool = False
    resources: list[str] = field(default_factory=list)
    queue_id: int | None = None


def sender_key(header: Header) -> str:
    """The sending side of the duplicate key: MSH-4 sending facility, else MSH-3 application."""
    return (header.sending_facility or header.sending_application or "-")[:227]


# The two statements every message runs, as prepared statements: on PostgreSQL planning them each time cost
# about as much as running them (db.run_prepared).
_SEEN = ("SELECT 'ack' AS kind, ack, NULL AS item FROM hl7_received_message"
         " WHERE sending_facility = ? AND control_id = ?"
         " UNION ALL SELECT 'item', NULL, id FROM hl7_error_queue"
         " WHERE sending_facility = ? AND control_id = ? AND status = 'open'")
_RECEIVED = ("INSERT INTO hl7_received_message (sending_facility, control_id, message_type, ack, resources,"
             " received_at) VALUES (?, ?, ?, ?, ?, ?)")


def _stored_ack(conn: Connection, header: Header) -> tuple[str | None, int | None]:
    """The ACK already sent for this message (a duplicate), and the open error queue item it may resolve.

    One round trip for both: this runs for every message, and on PostgreSQL each round trip counts.
    """
    sender, control = sender_key(header), header.control_id[:199]
    rows = run_prepared(conn, _SEEN, (sender, control, sender, control)).all()
    ack = next((r.ack for r in rows if r.kind == "ack"), None)
    return ack, max((r.item for r in rows if r.kind == "item"), default=None)


def _open_item(conn: Connection, header: Header) -> int | None:
    return conn.execute(sa.select(hl7_error_queue.c.id).where(
        hl7_error_queue.c.sending_facility == sender_key(header),
        hl7_error_queue.c.control_id == header.control_id[:199],
        hl7_error_queue.c.status == "open").order_by(hl7_error_queue.c.id.desc())).scalar()


def _lock(conn: Connection) -> Any:
    def lock(key: str) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"hl7-patient:{key}"})
    return lock


def _store(conn: Connection, ctx: AccessContext, inbound: Inbound) -> list[str]:
    def serve(freq: FhirRequest) -> FhirResponse:
        return gateway.serve_within(conn, ctx, freq)
    if inbound.header.message_code == "ORU":
        return store_results(serve, inbound)
    return store_demographics(serve, inbound, lock=_lock(conn))


def _queue(conn: Connection, *, header: Header, raw: str, error: Hl7Error, ack: str, queue_id: int | None) -> int:
    """Record (or update) the error queue item of a message that was answered AE/AR."""
    values = {"raw": raw, "ack_code": error.ack_code, "error_code": error.code, "error_location": error.location,
              "error_text": error.message[:500], "ack": ack, "message_type": f"{header.message_code}^"
              f"{header.trigger_event}"[:16]}
    existing = queue_id or _open_item(conn, header)
    if existing is not None:
        conn.execute(hl7_error_queue.update().where(hl7_error_queue.c.id == existing).values(
            **values, status="open", attempts=hl7_error_queue.c.attempts + 1))
        return existing
    return conn.execute(hl7_error_queue.insert().values(
        **values, sending_facility=sender_key(header), control_id=header.control_id[:199], status="open",
        attempts=1, received_at=clock.now().isoformat())).inserted_primary_key[0]


def _refuse(engine: Engine | None, header: Header, raw: str, error: Hl7Error, queue_id: int | None) -> Outcome:
    ack = build_ack(header, ack_code=error.ack_code, error=error)
    with unit_of_work(engine) as conn:
        item = _queue(conn, header=header, raw=raw[:1_048_576], error=error, ack=ack, queue_id=queue_id)
    return Outcome(ack=ack, ack_code=error.ack_code, queue_id=item)


def _take(inbound: Inbound, *, engine: Engine | None, ctx: AccessContext, queue_id: int | None,
          resolved_by: str | None) -> Outcome:
    header = inbound.header
    with unit_of_work(engine) as conn:
        stored, open_item = _stored_ack(conn, header)
        if stored is not None:
            return Outcome(ack=stored, ack_code="AA", duplicate=True)
        refs = _store(conn, ctx, inbound)
        ack = build_ack(header, ack_code="AA")
        run_prepared(conn, _RECEIVED, (sender_key(header), header.control_id[:199], inbound.kind, ack, " ".join(refs),
                                       clock.now().isoformat()))
        item = queue_id or open_item
        if item is not None:
            conn.execute(hl7_error_queue.update().where(hl7_error_queue.c.id == item).values(
                status="reprocessed", resolved_at=clock.now().isoformat(), resolved_by=(resolved_by or ctx.author)[:200]))
    return Outcome(ack=ack, ack_code="AA", resources=refs)


# Senders another module takes under its own name (the regional exchange stamps a member's feed with the member and
# counts it): a route maps a message's header (and the engine it is taken on) to the context to store it as and a
# function told its outcome, or None. Only messages received without an explicit ctx (the MLLP listener's, reprocessed
# ones) are routed.
SenderRoute = Callable[[Header, Engine | None], tuple[AccessContext, Callable[[Outcome], None]] | None]
sender_routes: list[SenderRoute] = []


def receive(raw: str, *, engine: Engine | None = None, ctx: AccessContext | None = None,
            queue_id: int | None = None, resolved_by: str | None = None) -> Outcome:
    """Take one inbound HL7 v2 message and return its ACK; AA only once it is committed."""
    route = next((found for r in sender_routes if (found := r(header_of(raw), engine)) is not None), None) \
        if ctx is None and sender_routes else None
    outcome = _receive(raw, engine=engine, ctx=route[0] if route else ctx, queue_id=queue_id, resolved_by=resolved_by)
    if route is not None:
        route[1](outcome)
    return outcome


def _receive(raw: str, *, engine: Engine | None, ctx: AccessContext | None, queue_id: int | None,
             resolved_by: str | None) -> Outcome:
    ctx = ctx or interface_context()
    try:
        inbound = parse(raw)
    except Hl7Error as error:
        return _refuse(engine, header_of(raw), raw, error, queue_id)
    try:
        return _take(inbound, engine=engine, ctx=ctx, queue_id=queue_id, resolved_by=resolved_by)
    except Hl7Error as error:
        return _refuse(engine, inbound.header, inbound.raw, error, queue_id)
    except FhirError as exc:
        error = Hl7Error(f"the record store refused the message: {exc.message[:300]}", code=207)
        return _refuse(engine, inbound.header, inbound.raw, error, queue_id)
    except IntegrityError:
        # The same message on another connection committed first: answer as that one was answered.
        with unit_of_work(engine) as conn:
            stored, _item = _stored_ack(conn, inbound.header)
        if stored is None:
            raise
        return Outcome(ack=stored, ack_code="AA", duplicate=True)


def internal_error_ack(raw: str) -> str:
    """The AE answer for a message whose handling failed unexpectedly (nothing was stored; the sender resends)."""
    error = Hl7Error("the message could not be stored now; send it again later", code=207)
    return build_ack(header_of(raw), ack_code="AE", error=error)


def error_items(conn: Connection, *, status: str = "open", limit: int = 200) -> list[dict[str, Any]]:
    """Queued messages in a status, newest first."""
    rows = conn.execute(sa.select(hl7_error_queue).where(hl7_error_queue.c.status == status)
                        .order_by(hl7_error_queue.c.id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]


def error_item(conn: Connection, *, item_id: int) -> dict[str, Any] | None:
    """One queued message, or None."""
    row = conn.execute(sa.select(hl7_error_queue).where(hl7_error_queue.c.id == item_id)).mappings().first()
    return dict(row) if row else None


def reprocess(*, item_id: int, raw: str, actor: str, engine: Engine | None = None) -> Outcome:
    """Take a queued message again, as corrected by an administrator; the item is closed when it is accepted."""
    return receive(raw, engine=engine, queue_id=item_id, resolved_by=actor)


def dismiss(conn: Connection, *, item_id: int, actor: str) -> bool:
    """Close an open queued message without taking it (e.g. sent to the wrong interface); False if not open."""
    done = conn.execute(hl7_error_queue.update().where(
        hl7_error_queue.c.id == item_id, hl7_error_queue.c.status == "open").values(
        status="dismissed", resolved_at=clock.now().isoformat(), resolved_by=actor[:200]))
    return done.rowcount == 1
