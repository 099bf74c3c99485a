"""Jobs: enqueue in the caller's transaction (the outbox), register handlers, claim, run, retry and dead-letter."""

import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcare.platform import clock
from smartcare.platform.clock import format_instant, parse_instant
from smartcare.platform.db import pending_events, run_prepared, unit_of_work
from smartcare.platform.events import DomainEvent
from smartcare.platform.jobs.tables import DEAD, DONE, QUEUED, RUNNING, job

log = logging.getLogger(__name__)

JOB_ENQUEUED = "JobEnqueued"
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BACKOFF = timedelta(seconds=30)
DEFAULT_MAX_BACKOFF = timedelta(hours=1)
# How long a worker may hold a job before another may take it over as abandoned.
LEASE = timedelta(minutes=10)
MAX_KIND = 64
MAX_KEY = 200
_MAX_ERROR = 4000


class JobError(Exception):
    """A job could not be enqueued as asked (unknown form of kind or key, payload not JSON)."""


@dataclass(frozen=True, slots=True)
class Job:
    """One job as its handler sees it."""

    id: str
    kind: str
    payload: dict[str, Any]
    key: str | None
    attempts: int
    max_attempts: int
    locked_by: str | None = None


JobHandler = Callable[[Connection, Job], None]
# Called with (conn, job, the exception, dead) in the transaction that records a failure: the handler's own
# transaction was rolled back, so this is where a handler keeps its own record of the failure.
FailureHook = Callable[[Connection, Job, Exception, bool], None]


@dataclass(frozen=True, slots=True)
class Registration:
    """A handler for one kind of job, with its retry policy."""

    kind: str
    fn: JobHandler
    max_attempts: int
    backoff: timedelta
    max_backoff: timedelta
    on_failure: FailureHook | None = None
    # False for a handler that talks to the outside world (a socket, a gateway): it gets the engine, not a
    # connection, and opens its own short transactions around the call; on SQLite a transaction held open while
    # a peer answers would hold the database's only writer lock that long.
    in_transaction: bool = True


_handlers: dict[str, Registration] = {}


def handler(kind: str, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS, backoff: timedelta = DEFAULT_BACKOFF,
            max_backoff: timedelta = DEFAULT_MAX_BACKOFF,
            on_failure: FailureHook | None = None,
            in_transaction: bool = True) -> Callable[[Any], Any]:
    """Register fn(conn, job) to run jobs of kind; it runs in its own transaction and must be idempotent.

    With in_transaction=False it is fn(engine, job), run outside any transaction (see Registration); the job is
    marked done in a transaction of its own once fn returns.
    """
    if not kind or len(kind) > MAX_KIND:
        raise JobError(f"a job kind is 1-{MAX_KIND} characters")

    def register(fn: Any) -> Any:
        _handlers[kind] = Registration(kind, fn, max_attempts, backoff, max_backoff, on_failure, in_transaction)
        return fn

    return register


def registration(kind: str) -> Registration | None:
    """The handler registered for kind, if any."""
    return _handlers.get(kind)


def retry_delay(attempts: int, *, backoff: timedelta = DEFAULT_BACKOFF,
                max_backoff: timedelta = DEFAULT_MAX_BACKOFF) -> timedelta:
    """How long to wait after the attempts-th failure: backoff doubled each time, at most max_backoff."""
    return min(max_backoff, backoff * (2 ** max(0, attempts - 1)))


_INSERT_ONCE = ("INSERT INTO job (id, kind, payload, key, state, run_at, attempts, max_attempts, created, updated) "
                "VALUES (?, ?, {payload}, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING id")


def _insert_once(conn: Connection, values: dict[str, Any]) -> str:
    """Insert the job unless one with its key exists; the id of the job that now holds the key.

    Plain SQL, prepared on PostgreSQL: every booking enqueues one, and building the statement in
    SQLAlchemy cost more than the database took to run it.
    """
    sql = _INSERT_ONCE.format(payload="?::json" if conn.dialect.name == "postgresql" else "?")
    params = tuple(orjson.dumps(values[c]).decode() if c == "payload" else values[c]
                   for c in ("id", "kind", "payload", "key", "state", "run_at", "attempts", "max_attempts",
                             "created", "updated"))
    inserted = run_prepared(conn, sql, params).first()
    if inserted is not None:
        return inserted[0]
    return conn.execute(sa.select(job.c.id).where(job.c.key == values["key"])).scalar_one()


def enqueue(conn: Connection, *, kind: str, payload: dict[str, Any], run_at: datetime | None = None,
            key: str | None = None, max_attempts: int | None = None) -> str:
    """Add a job in the caller's transaction and return its id; with a key already used, the existing job's id."""
    if not kind or len(kind) > MAX_KIND:
        raise JobError(f"a job kind is 1-{MAX_KIND} characters")
    if key is not None and not 0 < len(key) <= MAX_KEY:
        raise JobError(f"a job key is 1-{MAX_KEY} characters")
    try:
        orjson.dumps(payload)
    except TypeError as exc:
        raise JobError(f"the payload of a {kind} job must be JSON: {exc}") from exc
    registered = _handlers.get(kind)
    now = format_instant(clock.now())
    values = {
        "id": str(uuid.uuid4()), "kind": kind, "payload": payload, "key": key, "state": QUEUED,
        "run_at": format_instant(run_at) if run_at else now, "attempts": 0,
        "max_attempts": max_attempts or (registered.max_attempts if registered else DEFAULT_MAX_ATTEMPTS),
        "created": now, "updated": now,
    }
    if key is None:
        conn.execute(job.insert().values(**values))
        job_id = values["id"]
    else:
        job_id = _insert_once(conn, values)
    if job_id == values["id"]:
        pending_events(conn).append(DomainEvent(JOB_ENQUEUED, {"id": job_id, "run_at": values["run_at"]}))
    return job_id


def worker_name() -> str:
    """This process and thread, as written in locked_by."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{threading.get_ident() % 100000}"


def claimable(now: str) -> sa.ColumnElement[bool]:
    """Due queued jobs, and running ones whose worker's lease ran out (now in format_instant's form)."""
    return sa.or_(
        sa.and_(job.c.state == QUEUED, job.c.run_at <= now),
        sa.and_(job.c.state == RUNNING, job.c.locked_until < now),
    )


def _to_job(row: Any) -> Job:
    return Job(id=row.id, kind=row.kind, payload=row.payload, key=row.key, attempts=row.attempts,
               max_attempts=row.max_attempts, locked_by=row.locked_by)


def claim(engine: Engine, *, worker: str, job_id: str | None = None) -> Job | None:
    """Take the next due job (or the one named, if due) for worker and commit the claim; None if there is none.

    PostgreSQL skips rows another worker has locked; on SQLite the writer lock makes claims one at a time.
    Either way the update only succeeds while the job is still claimable, so no two workers run one job.
    """
    now = clock.now()
    stamp = format_instant(now)
    with unit_of_work(engine) as conn:
        query = sa.select(job.c.id).where(claimable(stamp))
        if job_id is not None:
            query = query.where(job.c.id == job_id)
        query = query.order_by(job.c.run_at).limit(1)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        found = conn.execute(query).scalar_one_or_none()
        if found is None:
            return None
        taken = conn.execute(
            job.update().where(job.c.id == found, claimable(stamp))
            .values(state=RUNNING, attempts=job.c.attempts + 1, locked_by=worker,
                    locked_until=format_instant(now + LEASE), updated=stamp)
            .returning(*job.c)
        ).one_or_none()
    return _to_job(taken) if taken is not None else None


def run(engine: Engine, claimed: Job) -> bool:
    """Run a claimed job's handler and mark it done in the same transaction; on failure schedule a retry or
    dead-letter it. True when it succeeded."""
    registered = _handlers.get(claimed.kind)
    try:
        if registered is not None and not registered.in_transaction:
            registered.fn(engine, claimed)
        with unit_of_work(engine) as conn:
            if registered is None:
                raise LookupError(f"no handler is registered for jobs of kind {claimed.kind!r}")
            if registered.in_transaction:
                registered.fn(conn, claimed)
            conn.execute(job.update().where(job.c.id == claimed.id, job.c.locked_by == claimed.locked_by).values(
                state=DONE, locked_by=None, locked_until=None, last_error=None, updated=format_instant(clock.now())))
    except Exception as exc:  # a handler may fail in any way; the failure is recorded, never lost
        log.warning("job %s (%s) failed on attempt %d: %s", claimed.id, claimed.kind, claimed.attempts, exc)
        error = "".join(traceback.format_exception_only(exc)).strip() + "\n\n" + traceback.format_exc()
        with unit_of_work(engine) as conn:
            dead = _record_failure(conn, claimed, registered, error[:_MAX_ERROR])
            if registered is not None and registered.on_failure is not None:
                registered.on_failure(conn, claimed, exc, dead)
        return False
    return True


def _record_failure(conn: Connection, claimed: Job, registered: Registration | None, error: str) -> bool:
    now = clock.now()
    values: dict[str, Any] = {"locked_by": None, "locked_until": None, "relayed": None, "last_error": error,
                              "updated": format_instant(now)}
    if claimed.attempts >= claimed.max_attempts:
        values["state"] = DEAD
        log.error("job %s (%s) is dead after %d attempts", claimed.id, claimed.kind, claimed.attempts)
    else:
        delay = retry_delay(claimed.attempts, backoff=registered.backoff, max_backoff=registered.max_backoff) \
            if registered else retry_delay(claimed.attempts)
        values.update(state=QUEUED, run_at=format_instant(now + delay))
    conn.execute(job.update().where(job.c.id == claimed.id, job.c.locked_by == claimed.locked_by).values(**values))
    return values.get("state") == DEAD


def run_due(engine: Engine, *, worker: str | None = None, limit: int = 100) -> int:
    """Claim and run due jobs one after another until none is due (or limit ran); returns how many ran."""
    worker = worker or worker_name()
    ran = 0
    while ran < limit:
        claimed = claim(engine, worker=worker)
        if claimed is None:
            break
        run(engine, claimed)
        ran += 1
    return ran


def get_job(conn: Connection, *, job_id: str) -> dict[str, Any] | None:
    """One job row as a dict, or None."""
    row = conn.execute(sa.select(job).where(job.c.id == job_id)).mappings().one_or_none()
    return dict(row) if row else None


def troubled_jobs(conn: Connection, *, limit: int = 100) -> list[dict[str, Any]]:
    """Dead jobs and jobs waiting to retry after a failure, most recently changed first."""
    rows = conn.execute(
        sa.select(job).where(sa.or_(job.c.state == DEAD, sa.and_(job.c.state == QUEUED, job.c.last_error.is_not(None))))
        .order_by(job.c.updated.desc()).limit(limit)
    ).mappings().all()
    return [dict(r) for r in rows]


def retry_now(conn: Connection, *, job_id: str) -> bool:
    """Requeue a dead or retrying job to run now with a fresh set of attempts; False if it is not one."""
    now = format_instant(clock.now())
    done = conn.execute(
        job.update().where(job.c.id == job_id, job.c.state.in_((DEAD, QUEUED)))
        .values(state=QUEUED, attempts=0, run_at=now, relayed=None, locked_by=None, locked_until=None, updated=now)
    )
    if done.rowcount:
        pending_events(conn).append(DomainEvent(JOB_ENQUEUED, {"id": job_id, "run_at": now}))
    return bool(done.rowcount)


def next_due(conn: Connection) -> datetime | None:
    """When the earliest queued job is due, if any."""
    first = conn.execute(sa.select(sa.func.min(job.c.run_at)).where(job.c.state == QUEUED)).scalar_one_or_none()
    return parse_instant(first) if first else None


PURGE_AFTER = timedelta(days=7)


@handler("jobs.purge")
def purge_finished(conn: Connection, _job: Job) -> None:
    """Delete jobs that finished more than a week ago (dead ones stay until someone looks at them)."""
    cutoff = format_instant(clock.now() - PURGE_AFTER)
    conn.execute(job.delete().where(job.c.state == DONE, job.c.updated < cutoff))
