"""A job that talks to the outside world runs outside any transaction, so it holds no database lock meanwhile."""

import threading

import sqlalchemy as sa

from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import enqueue, handler, run_due
from smartcare.platform.jobs.service import get_job

SEEN: list[str] = []


@handler("test.outside", in_transaction=False)
def _talks_to_a_peer(engine: sa.Engine, job) -> None:
    # While "waiting for the peer", another thread can write: no transaction of this job holds the writer lock.
    wrote = threading.Event()

    def writer() -> None:
        with unit_of_work(engine) as conn:
            conn.execute(sa.text("SELECT 1"))
        wrote.set()

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join(timeout=10)
    SEEN.append("wrote" if wrote.is_set() else "blocked")


@handler("test.outside-fails", in_transaction=False, max_attempts=2)
def _peer_refuses(engine: sa.Engine, job) -> None:
    raise ConnectionRefusedError("the peer is down")


def test_an_outside_job_runs_without_a_transaction_and_is_then_done(engine, now):
    SEEN.clear()
    with unit_of_work(engine) as conn:
        enqueue(conn, kind="test.outside", payload={})
    assert run_due(engine) == 1
    assert SEEN == ["wrote"]
    assert run_due(engine) == 0  # done: not run again


def test_an_outside_job_that_fails_is_retried_like_any_other(engine, now):
    with unit_of_work(engine) as conn:
        job_id = enqueue(conn, kind="test.outside-fails", payload={})
    run_due(engine)
    with unit_of_work(engine) as conn:
        found = get_job(conn, job_id=job_id)
    assert found["state"] != "done" and "the peer is down" in found["last_error"]
