"""Database engines and units of work; the request boundary commits, code inside never does."""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
import psycopg
import psycopg.types.json
import sqlalchemy as sa
from psycopg.rows import namedtuple_row
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError, IntegrityError

from smartcare.platform.events import DomainEvent, publish
from smartcare.platform.settings import get_settings

log = logging.getLogger(__name__)
# JSON and JSONB values read through the driver itself (plain SQL on hot paths) are parsed by orjson,
# as SQLAlchemy's typed columns already are (json_deserializer below), not by the slower standard json.
psycopg.types.json.set_json_loads(orjson.loads)


def _json_dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str) -> Engine:
    """Create an engine for a SQLite or PostgreSQL URL, tuned for the FHIR store."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    kwargs: dict = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads, "future": True}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        engine = sa.create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    # No server-side prepared statements: psycopg would prepare after five runs and keep the
    # generic plan made while a table was still empty (a sequential scan) for the life of the
    # connection, which made bulk loads into a new database slower with every bundle.
    kwargs.update(pool_size=10, max_overflow=20, connect_args={"prepare_threshold": None})
    engine = sa.create_engine(url, **kwargs)
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


# A pooled connection that sat unused this long is pinged before it is handed out (a database restart or a
# dropped idle connection is then noticed, and a fresh one is opened); one in steady use is not: pinging on
# every checkout (pool_pre_ping) cost each request a round trip.
PING_AFTER_IDLE_SECONDS = 10.0


def _note_checkin(_dbapi_conn, record) -> None:
    record.info["smartcare_idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_conn, record, _proxy) -> None:
    if time.monotonic() - record.info.get("smartcare_idle_since", 0.0) < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dbapi_conn.execute("SELECT 1")
        if dbapi_conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            dbapi_conn.rollback()
    except psycopg.Error as exc:
        raise DisconnectionError("the pooled connection no longer answers") from exc


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # Take over transaction control from the sqlite3 module so BEGIN IMMEDIATE below is honoured.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    # Checkpoint the WAL every 64 MB rather than every 4 MB: ingest writes much, and each
    # checkpoint waits for the disk. Keep 64 MB of pages cached for the index B-trees.
    cur.execute("PRAGMA wal_autocheckpoint=16384")
    cur.execute("PRAGMA journal_size_limit=67108864")
    cur.execute("PRAGMA cache_size=-65536")
    # Search values are stored and searched already case-folded, so LIKE 'prefix%' can be
    # case-sensitive, which is what lets SQLite answer it from an index range.
    cur.execute("PRAGMA case_sensitive_like=ON")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin_immediate(conn: Connection) -> None:
    # Writers take the lock up front so two writers never deadlock upgrading a read lock.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


_override: Engine | None = None


@lru_cache(maxsize=4)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine(url: str | None = None) -> Engine:
    """Return the shared engine for url (default: the configured database, or the one set by use_engine)."""
    if url is None and _override is not None:
        return _override
    return _engine_for(url or get_settings().database_url)


def use_engine(engine: Engine | None) -> None:
    """Make engine the default for this process (tests, embedded runs); None restores the configured one."""
    global _override
    _override = engine


def pending_events(conn: Connection) -> list[DomainEvent]:
    """Events raised inside the current unit of work, to be published once it commits."""
    return conn.info.setdefault("smartcare_pending_events", [])


_sqlite_writers: dict[str, AbstractContextManager] = {}


def _writer_lock(engine: Engine) -> AbstractContextManager | None:
    # SQLite has one writer at a time anyway. Queueing writers here, around the commit and the
    # WAL checkpoint that follows it, lets the checkpoint finish; with writers racing each other
    # the WAL was never reset and grew to gigabytes during a bulk load.
    if engine.dialect.name != "sqlite":
        return None
    return _sqlite_writers.setdefault(str(engine.url), threading.RLock())


def before_commit(conn: Connection, key: str, make: Callable[[], Callable[[Connection], None]]) -> Any:
    """The action registered under key to run on conn just before its unit of work commits, made (by make())
    and registered on first use; None when conn is not a unit of work's, and the caller must act at once.

    For writes worth gathering into one statement at the end of a transaction (the audit journal's rows):
    each is a round trip to PostgreSQL. A rolled back unit of work drops its actions with it.
    """
    actions = conn.info.get("smartcare_before_commit")
    if actions is None:
        return None
    if key not in actions:
        actions[key] = make()
    return actions[key]


def _run_before_commit(conn: Connection) -> None:
    actions = conn.info.get("smartcare_before_commit") or {}
    while actions:
        actions.pop(next(iter(actions)))(conn)


def after_commit(conn: Connection, key: str, action: Callable[[Engine], None]) -> None:
    """Run action(engine) once after the unit of work on conn commits (once per key; dropped on rollback)."""
    conn.info.setdefault("smartcare_after_commit", {})[key] = action


@contextmanager
def unit_of_work(engine: Engine | None = None) -> Iterator[Connection]:
    """Run a block in one transaction; commit at the end, then publish the domain events it raised."""
    engine = engine or get_engine()
    lock = _writer_lock(engine)
    with lock or nullcontext(), engine.connect() as conn:
        conn.info["smartcare_pending_events"] = []
        conn.info["smartcare_after_commit"] = {}
        conn.info["smartcare_before_commit"] = {}
        try:
            with conn.begin():
                yield conn
                _run_before_commit(conn)
        except BaseException:
            conn.info["smartcare_pending_events"] = []
            conn.info["smartcare_after_commit"] = {}
            raise
        finally:
            # Info outlives the connection's checkout (it belongs to the pooled connection): leave nothing behind.
            conn.info.pop("smartcare_before_commit", None)
        events = conn.info.pop("smartcare_pending_events", [])
        actions = list(conn.info.pop("smartcare_after_commit", {}).values())
    for ev in events:
        publish(ev)
    for action in actions:
        try:
            action(engine)
        except Exception:  # the change is committed; a follow-up that fails must not turn it into an error
            log.exception("An after-commit action failed")


class Prepared:
    """The rows of a statement run through run_prepared (named tuples, like SQLAlchemy's rows)."""

    def __init__(self, rows: list) -> None:
        self._rows = rows

    def first(self) -> Any:
        """The first row, or None."""
        return self._rows[0] if self._rows else None

    def all(self) -> list:
        """Every row."""
        return self._rows


@lru_cache(maxsize=256)
def _pg_text(sql: str) -> str:
    return sql.replace("?", "%s")


def run_prepared(conn: Connection, sql: str, params: tuple) -> Prepared | sa.CursorResult:
    """Run a hot statement written with "?" parameters; on PostgreSQL as a server-side prepared statement.

    Only for statements whose plan cannot go stale (lookups and writes by unique key): engines turn
    automatic preparing off (see make_engine), yet planning such a statement took three times as long
    as running it. SQLite answers through the driver as usual. A constraint violation is raised as
    SQLAlchemy's IntegrityError on both databases.
    """
    if conn.dialect.name != "postgresql":
        return conn.exec_driver_sql(sql, params)
    dbapi = conn.connection.dbapi_connection
    try:
        with dbapi.cursor(row_factory=namedtuple_row) as cursor:
            cursor.execute(_pg_text(sql), params, prepare=True)
            return Prepared(cursor.fetchall() if cursor.description else [])
    except psycopg.IntegrityError as exc:
        raise IntegrityError(sql, params, exc) from exc


def refresh_statistics(engine: Engine) -> None:
    """Update the planner's statistics after a bulk load (VACUUM ANALYZE on PostgreSQL, ANALYZE on SQLite).

    Without them the planners guess from empty tables: SQLite scanned all Observations for a
    code instead of using the code index, and PostgreSQL could not answer from indexes alone.
    """
    lock = _writer_lock(engine)
    with lock or nullcontext(), engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            # Only this schema's tables: other schemas in the database are not ours to vacuum.
            names = conn.exec_driver_sql(
                "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema()"
            ).scalars().all()
            if names:
                conn.exec_driver_sql(f"VACUUM ANALYZE {', '.join(names)}")
        else:
            conn.exec_driver_sql("ANALYZE")
