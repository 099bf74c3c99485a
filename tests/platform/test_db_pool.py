"""Pooled PostgreSQL connections: one that went away while idle is replaced without the request noticing."""

import pytest

from smartcare.platform import db
from smartcare.platform.db import make_engine, unit_of_work
from tests.conftest import PG_URL


@pytest.fixture
def pg_pool():
    engine = make_engine(PG_URL)
    yield engine
    engine.dispose()


def _backend(engine) -> int:
    with unit_of_work(engine) as conn:
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()


def test_a_connection_killed_while_idle_is_replaced_on_the_next_request(pg_pool, monkeypatch):
    first = _backend(pg_pool)
    with make_engine(PG_URL).connect() as admin:
        assert admin.exec_driver_sql("SELECT pg_terminate_backend(%s)", (first,)).scalar_one()
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if it had sat in the pool a while
    second = _backend(pg_pool)
    assert second != first
