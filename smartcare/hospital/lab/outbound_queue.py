"""Lab orders queued for the instrument middleware and delivered by a job, exactly once acknowledged.

Accessioning an order records its message and enqueues the job that sends it, in one transaction: an order is
either queued with its job or not at all. The job sends the message over MLLP and waits for the ACK. AA or CA:
the row is sent, and a sent row is never sent again (a later job for it finds it sent and does nothing). AE, AR,
no answer or a refused connection: the job fails, the jobs system retries it with a growing delay, and the row
says failed with the error and the peer's ACK; after the last attempt the row is dead, the dead letter the
console lists for an administrator to resend (a new job) or discard. A retry sends the same text with the same
control id (MSH-10), so a peer that did take a message whose ACK was lost can recognise it.
"""

import re
import socket
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcare.fhir import gateway
from smartcare.hospital.lab.hl7_messages import normalise
from smartcare.hospital.lab.mllp import END, MAX_FRAME, START, FrameError, decode, frame
from smartcare.hospital.lab.outbound import (
    SENDING_APPLICATION,
    OutboundSettings,
    new_control_id,
    order_facts,
    order_message,
    outbound_settings,
)
from smartcare.hospital.lab.outbound_models import (
    DEAD,
    DISCARDED,
    FAILED,
    QUEUED,
    SENT,
    STATUSES,
    lab_outbound_message,
)
from smartcare.platform import clock
from smartcare.platform.clock import format_instant
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import Job, enqueue, handler
from smartcare.platform.security.context import AccessContext

SEND_JOB = "lab.send_order"
SEND_ATTEMPTS = 8
# 30 s, 1, 2, 4, 8 and then 10 minutes: about 36 minutes of trying before the order is dead-lettered.
BACKOFF, MAX_BACKOFF = timedelta(seconds=30), timedelta(minutes=10)
ACCEPTED = ("AA", "CA")
MAX_ERROR = 500
_ESCAPED = re.compile(r"\\([FSTRE])\\")
_DELIMITERS = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\"}
_table = lab_outbound_message


class DeliveryFailed(Exception):
    """The middleware did not take the message: no connection, no answer, or an ACK other than AA/CA."""

    def __init__(self, message: str, *, ack: str | None = None) -> None:
        super().__init__(message)
        self.ack = ack


def queue_order(ctx: AccessContext, *, request_id: str, specimen: dict[str, Any]) -> int | None:
    """Queue the new-order message for an order just accessioned; the row's id, or None when outbound is off."""
    settings = outbound_settings()
    if settings.destination is None:
        return None
    request = gateway.read(ctx, f"ServiceRequest/{request_id}")
    organization = ctx.organization or ""
    facts = order_facts(ctx, request, specimen, facility=organization.removeprefix("Organization/")
                        or SENDING_APPLICATION)
    now = clock.now()
    control_id = new_control_id(now)
    raw = order_message(facts, settings, control_id=control_id, now=now)
    with unit_of_work() as conn:
        job_id = enqueue(conn, kind=SEND_JOB, payload={"control_id": control_id})
        stamp = format_instant(now)
        return conn.execute(_table.insert().values(
            organization=organization[:80], message_type=settings.message_type, order_control="NW",
            control_id=control_id, placer_number=facts.placer[:64], accession=facts.accession[:64],
            request=f"ServiceRequest/{request['id']}", patient=request["subject"]["reference"][:100], raw=raw,
            status=QUEUED, attempts=0, job_id=job_id, created=stamp, updated=stamp)).inserted_primary_key[0]


def exchange(host: str, port: int, message: str, *, timeout: float) -> str:
    """Send one message over MLLP and return the ACK's text (a blocking socket: jobs run in plain threads)."""
    deadline = time.monotonic() + timeout
    received = b""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(frame(message))
        while END not in received:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the middleware closed the connection without answering")
            received += chunk
            if len(received) > MAX_FRAME + len(START) + len(END):
                raise FrameError("the answer is larger than an MLLP frame may be")
    start = received.find(START)
    if start < 0 or start > received.index(END):
        raise FrameError("the answer is not an MLLP frame")
    return decode(received[start + 1: received.index(END, start)])


def _msa(ack: str) -> tuple[str, str, str]:
    """MSA-1 (the code), MSA-2 (the control id it answers) and MSA-3 (its text) of an ACK."""
    for seg in normalise(ack).split("\r"):
        if seg.startswith("MSA") and len(seg) > 3:
            fields = [*seg.split(seg[3]), "", "", ""]
            return fields[1].strip(), fields[2].strip(), fields[3].strip()
    return "", "", ""


def ack_summary(ack: str) -> str:
    """An ACK in a few words: its code and text (MSA-1, MSA-3), unescaped; "" for none."""
    code, _answered, text = _msa(ack)
    return f"{code} {_ESCAPED.sub(lambda m: _DELIMITERS[m.group(1)], text)}".strip()


def deliver(raw: str, *, control_id: str, settings: OutboundSettings) -> str:
    """Send the message to the middleware and return its ACK when it accepted it; DeliveryFailed otherwise."""
    destination = settings.destination
    if destination is None:
        raise DeliveryFailed("outbound orders are switched off (SMARTCARE_LIS_OUTBOUND is empty)")
    host, port = destination
    try:
        ack = exchange(host, port, raw, timeout=settings.timeout)
    except (OSError, FrameError) as exc:  # refused, reset, timed out, unreachable, or not MLLP
        raise DeliveryFailed(f"no acknowledgement from {host}:{port}: {str(exc) or type(exc).__name__}") from exc
    code, answered, text = _msa(ack)
    if code in ACCEPTED and answered == control_id:
        return ack
    if code in ACCEPTED:
        raise DeliveryFailed(f"the ACK answers message {answered[:40]!r}, not {control_id}", ack=ack)
    raise DeliveryFailed(f"the middleware answered {code or 'without an MSA segment'}: {text[:300]}", ack=ack)


def _due(conn: Connection, job: Job) -> Any:
    """The row this job is to send, locked; None when it was sent, discarded, or handed to a newer job.

    A dead row is sent too: its own job runs again only when someone retried it from the jobs console.
    """
    query = sa.select(_table).where(_table.c.control_id == str(job.payload.get("control_id", ""))[:20])
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None or row.status not in (QUEUED, FAILED, DEAD) or row.job_id != job.id:
        return None
    return row


def _failed(conn: Connection, job: Job, exc: Exception, dead: bool) -> None:
    """Keep the failure on the row (failed, or dead after the last attempt) with the error and the peer's ACK."""
    values: dict[str, Any] = {
        "status": DEAD if dead else FAILED, "attempts": _table.c.attempts + 1,
        "last_error": (str(exc) if isinstance(exc, DeliveryFailed) else f"{type(exc).__name__}: {exc}")[:MAX_ERROR],
        "updated": format_instant(clock.now())}
    if isinstance(exc, DeliveryFailed) and exc.ack is not None:
        values["ack"] = exc.ack
    conn.execute(_table.update().where(_table.c.control_id == str(job.payload.get("control_id", ""))[:20],
                                       _table.c.job_id == job.id, _table.c.status.in_((QUEUED, FAILED, DEAD)))
                 .values(**values))


@handler(SEND_JOB, max_attempts=SEND_ATTEMPTS, backoff=BACKOFF, max_backoff=MAX_BACKOFF, on_failure=_failed,
         in_transaction=False)
def send_order(engine: Engine, job: Job) -> None:
    """Send one queued order message and keep the ACK; a message sent already is not sent again.

    The exchange with the middleware happens between two short transactions, never inside one: on SQLite a
    transaction holds the only writer lock, and a slow peer would stall every write for up to the timeout.
    """
    with unit_of_work(engine) as conn:
        row = _due(conn, job)
    if row is None:
        return
    ack = deliver(row.raw, control_id=row.control_id, settings=outbound_settings())
    now = format_instant(clock.now())
    with unit_of_work(engine) as conn:
        conn.execute(_table.update().where(_table.c.id == row.id, _table.c.job_id == job.id,
                                           _table.c.status.in_((QUEUED, FAILED, DEAD))).values(
            status=SENT, ack=ack, attempts=row.attempts + 1, sent_at=now, updated=now))


def messages(conn: Connection, *, organization: str, status: str, limit: int = 100) -> list[dict[str, Any]]:
    """A hospital's outbound messages in one status, newest first."""
    rows = conn.execute(sa.select(_table).where(_table.c.organization == organization, _table.c.status == status)
                        .order_by(_table.c.id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]


def counts(conn: Connection, *, organization: str) -> dict[str, int]:
    """How many of a hospital's outbound messages are in each status."""
    rows = conn.execute(sa.select(_table.c.status, sa.func.count()).where(_table.c.organization == organization)
                        .group_by(_table.c.status)).all()
    found = {status: count for status, count in rows}
    return {status: found.get(status, 0) for status in STATUSES}


def message(conn: Connection, *, message_id: int, organization: str) -> dict[str, Any] | None:
    """One of a hospital's outbound messages, or None."""
    row = conn.execute(sa.select(_table).where(_table.c.id == message_id, _table.c.organization == organization)
                       ).mappings().first()
    return dict(row) if row else None


def _move(conn: Connection, *, message_id: int, organization: str, from_statuses: tuple[str, ...],
          to: str) -> dict[str, Any] | None:
    """Change a message's status if it is still in one of from_statuses (checked in the update itself, so a job
    sending it meanwhile wins); the row as it was, or None."""
    row = conn.execute(sa.select(_table).where(_table.c.id == message_id, _table.c.organization == organization)
                       ).mappings().first()
    moved = conn.execute(_table.update().where(
        _table.c.id == message_id, _table.c.organization == organization, _table.c.status.in_(from_statuses))
        .values(status=to, updated=format_instant(clock.now())))
    return dict(row) if row is not None and moved.rowcount == 1 else None


def resend(conn: Connection, *, message_id: int, organization: str) -> dict[str, Any] | None:
    """Queue a failed or dead message again with a new job, to be sent now; the row, or None if it is not one."""
    row = _move(conn, message_id=message_id, organization=organization, from_statuses=(FAILED, DEAD), to=QUEUED)
    if row is not None:
        job_id = enqueue(conn, kind=SEND_JOB, payload={"control_id": row["control_id"]})
        conn.execute(_table.update().where(_table.c.id == message_id).values(job_id=job_id))
    return row


def discard(conn: Connection, *, message_id: int, organization: str) -> dict[str, Any] | None:
    """Give up on a message not yet sent (its job, if still to run, then does nothing); the row, or None."""
    return _move(conn, message_id=message_id, organization=organization, from_statuses=(QUEUED, FAILED, DEAD),
                 to=DISCARDED)
