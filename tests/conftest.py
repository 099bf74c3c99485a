"""Shared fixtures: databases (SQLite and the real PostgreSQL), the FHIR API client, shared test data."""

import functools
import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from smartcare.platform import migrate
from smartcare.platform.audit import sealer
from smartcare.platform.db import make_engine, use_engine
from smartcare.schema import load_all_tables
from tests.support import IN_CI

# Tokens in tests are signed with a fixed key, so no key file is written into var/.
os.environ.setdefault("SMARTCARE_TOKEN_KEY", "5c" * 32)
os.environ.setdefault("SMARTCARE_FIELD_KEY", "3a" * 32)
os.environ.setdefault("SMARTCARE_VERIFICATION_KEY", "7e" * 32)
# Reads of the audit trail seal the journal themselves; a sealer thread finishing after a test would write
# into the next test's tables (tests/platform/test_audit_sealer.py turns it on for itself).
sealer.set_enabled(False)
PG_URL = os.environ.get("SMARTCARE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('db')}/store.db")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[sa.Engine]:
    schema = f"sc_test_{_worker()}_{os.getpid()}"
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except sa.exc.OperationalError as exc:
        message = f"PostgreSQL is not reachable at {PG_URL}: {exc.orig}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    sep = "&" if "?" in PG_URL else "?"
    engine = make_engine(f"{PG_URL}{sep}options=-csearch_path%3D{schema}")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    admin.dispose()


@functools.cache
def _pg_sequences(engine: sa.Engine) -> dict[str, tuple[str, ...]]:
    """The sequences each table of the test schema owns (serial and identity columns)."""
    query = """
        SELECT t.relname, s.relname FROM pg_depend d
        JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
        JOIN pg_class t ON t.oid = d.refobjid
        WHERE d.deptype IN ('a', 'i') AND t.relnamespace = to_regnamespace(current_schema())
    """
    owned: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for table, sequence in conn.exec_driver_sql(query):
            owned.setdefault(table, []).append(sequence)
    return {table: tuple(sequences) for table, sequences in owned.items()}


def _clear_pg(engine: sa.Engine, names: list[str]) -> None:
    # TRUNCATE of every table costs about a second a test (each one swaps files); deleting the rows of the few
    # tables a test wrote and restarting their sequences leaves the same empty database in a few milliseconds.
    probe = " UNION ALL ".join(f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {name})" for name in names)  # noqa: S608
    with engine.begin() as conn:
        used = [row[0] for row in conn.exec_driver_sql(probe)]
        if not used:
            return
        # The audit log refuses DELETE by trigger, and foreign keys are triggers too: replica mode skips them
        # for this transaction, which empties every written table at once.
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for name in used:
            conn.exec_driver_sql(f"DELETE FROM {name}")  # noqa: S608 (table names are ours)
        for name in used:
            for sequence in _pg_sequences(engine).get(name, ()):
                conn.exec_driver_sql(f"ALTER SEQUENCE {sequence} RESTART")


def _clear(engine: sa.Engine) -> None:
    from smartcare.platform.audit import append_only_ddl

    names = [t.name for t in reversed(load_all_tables().sorted_tables) if t.name != "alembic_version"]
    if engine.dialect.name == "postgresql":
        _clear_pg(engine, names)
        return
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_update")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_delete")
        for name in names:
            conn.exec_driver_sql(f"DELETE FROM {name}")  # noqa: S608 (table names are ours)
        for statement in append_only_ddl("sqlite"):
            conn.exec_driver_sql(statement)


def _forget_kept_state() -> None:
    """What a process keeps from the database (monitoring's kept plans) goes with the database's rows."""
    from smartcare.family.monitoring.plans import forget_cached_plans
    from smartcare.family.monitoring.service import forget_kept_history
    from smartcare.fhir.audit_trail import forget_kept_patients

    forget_cached_plans()
    forget_kept_history()
    forget_kept_patients()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request) -> Iterator[sa.Engine]:
    """An empty, migrated store database; every store test runs on SQLite and on PostgreSQL."""
    eng = request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_engine")
    _clear(eng)
    _forget_kept_state()
    use_engine(eng)
    yield eng
    use_engine(None)


def bearer(scope: str = "system/*.cruds", **claims) -> dict[str, str]:
    """An Authorization header with a fresh access token (a backend client with all system scopes by default).

    Valid for a day unless `minutes` says otherwise: tokens are checked against real time, and a token built when a
    module is collected (a constant, a parametrize argument) must outlive a suite that reaches it half an hour on.
    """
    from smartcare.platform.security.scopes import parse_scopes
    from smartcare.platform.security.tokens import issue_access_token

    args = {"subject": "test-suite", "kind": "client", "name": "test suite", "roles": {"system"}, "minutes": 24 * 60}
    args.update(claims)
    token, _ = issue_access_token(scopes=parse_scopes(scope), audience="http://testserver/fhir", **args)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(engine) -> Iterator[TestClient]:
    """An HTTP client for the whole SmartCare app on the test database, signed in as a backend system."""
    from smartcare.platform.web.app import create_app

    with TestClient(create_app(), base_url="http://testserver", headers=bearer()) as c:
        yield c


@pytest.fixture
def anonymous(engine) -> Iterator[TestClient]:
    """An HTTP client with no credentials at all."""
    from smartcare.platform.web.app import create_app

    with TestClient(create_app(), base_url="http://testserver") as c:
        yield c


@pytest.fixture
def now() -> Iterator[list]:
    """A clock that stands still at now[0] (2 March 2026, 08:00 UTC) until a test moves it."""
    from datetime import UTC, datetime

    from smartcare.platform import clock

    moment = [datetime(2026, 3, 2, 8, 0, tzinfo=UTC)]
    clock.set_clock(lambda: moment[0])
    yield moment
    clock.set_clock(None)


@pytest.fixture(scope="session")
def playwright_driver():
    """The one Playwright driver of this test process. Playwright's sync API runs one driver per thread at a time, so
    every browser test (tests/e2e, the video and chat browser tests) launches its Chromium from this one instead of
    starting its own: under xdist a worker may run several of them, and a second driver fails while the first lives."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        message = "the playwright Python package is not installed (pip install playwright; no browser download)"
        (pytest.fail if IN_CI else pytest.skip)(message)
    with sync_playwright() as playwright:
        yield playwright
