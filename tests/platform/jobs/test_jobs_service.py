"""The outbox: jobs written in the caller's transaction, idempotent keys, retries with back-off, dead letters."""

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from smartcare.platform.clock import format_instant
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import enqueue, handler, retry_now, run_due, troubled_jobs
from smartcare.platform.jobs.service import JobError, claim, get_job, retry_delay, run
from smartcare.platform.jobs.tables import job

done: list[str] = []
failures: dict[str, int] = {}


@handler("test.record")
def record(conn, job) -> None:
    done.append(job.payload["n"])


@handler("test.flaky", max_attempts=3, backoff=timedelta(seconds=30))
def flaky(conn, job) -> None:
    failures[job.id] = failures.get(job.id, 0) + 1
    if failures[job.id] <= job.payload["fail_times"]:
        raise RuntimeError(f"the far end said no (attempt {job.attempts})")
    done.append(job.payload["n"])


@pytest.fixture(autouse=True)
def _reset():
    done.clear()
    failures.clear()


def _states(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(job.c.state).order_by(job.c.created)).scalars())


def test_a_rolled_back_transaction_leaves_no_job(engine):
    with pytest.raises(ZeroDivisionError), unit_of_work(engine) as conn:
        enqueue(conn, kind="test.record", payload={"n": "lost"})
        raise ZeroDivisionError("the change failed")
    assert _states(engine) == []
    assert run_due(engine) == 0 and done == []


def test_a_committed_job_runs_once_and_is_done(engine, now):
    with unit_of_work(engine) as conn:
        enqueue(conn, kind="test.record", payload={"n": "one"})
    assert run_due(engine) == 1
    assert run_due(engine) == 0
    assert done == ["one"] and _states(engine) == ["done"]


def test_the_same_key_gives_one_job(engine, now):
    with unit_of_work(engine) as conn:
        first = enqueue(conn, kind="test.record", payload={"n": "a"}, key="reminder:appt-1")
        again = enqueue(conn, kind="test.record", payload={"n": "b"}, key="reminder:appt-1")
    with unit_of_work(engine) as conn:
        later = enqueue(conn, kind="test.record", payload={"n": "c"}, key="reminder:appt-1")
    assert first == again == later
    run_due(engine)
    assert done == ["a"]


def test_a_job_waits_for_its_time(engine, now):
    with unit_of_work(engine) as conn:
        enqueue(conn, kind="test.record", payload={"n": "later"}, run_at=now[0] + timedelta(hours=1))
    assert run_due(engine) == 0
    now[0] += timedelta(minutes=59)
    assert run_due(engine) == 0
    now[0] += timedelta(minutes=1)
    assert run_due(engine) == 1 and done == ["later"]


def test_back_off_doubles_up_to_the_cap():
    assert [retry_delay(n, backoff=timedelta(seconds=30)).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert retry_delay(30) == timedelta(hours=1)


def test_a_failing_job_is_retried_with_back_off_then_succeeds(engine, now):
    with unit_of_work(engine) as conn:
        job_id = enqueue(conn, kind="test.flaky", payload={"n": "flaky", "fail_times": 2})
    assert run_due(engine) == 1
    with unit_of_work(engine) as conn:
        first = get_job(conn, job_id=job_id)
    assert first["state"] == "queued" and first["attempts"] == 1
    assert first["run_at"] == format_instant(now[0] + timedelta(seconds=30))
    assert "the far end said no" in first["last_error"]
    now[0] += timedelta(seconds=29)
    assert run_due(engine) == 0
    now[0] += timedelta(seconds=1)
    run_due(engine)
    with unit_of_work(engine) as conn:
        second = get_job(conn, job_id=job_id)
    assert second["attempts"] == 2 and second["run_at"] == format_instant(now[0] + timedelta(seconds=60))
    now[0] += timedelta(seconds=60)
    run_due(engine)
    assert done == ["flaky"] and _states(engine) == ["done"]


def test_a_job_failing_every_attempt_is_dead_and_can_be_retried(engine, now):
    with unit_of_work(engine) as conn:
        job_id = enqueue(conn, kind="test.flaky", payload={"n": "x", "fail_times": 99})
    for _ in range(3):
        run_due(engine)
        now[0] += timedelta(hours=1)
    with unit_of_work(engine) as conn:
        (dead,) = troubled_jobs(conn)
    assert dead["id"] == job_id and dead["state"] == "dead" and dead["attempts"] == 3
    assert "attempt 3" in dead["last_error"]
    assert run_due(engine) == 0
    with unit_of_work(engine) as conn:
        assert retry_now(conn, job_id=job_id)
    run_due(engine)
    assert failures[job_id] == 4


def test_a_job_of_an_unknown_kind_fails_and_says_why(engine, now):
    with unit_of_work(engine) as conn:
        enqueue(conn, kind="test.nobody", payload={}, max_attempts=1)
    run_due(engine)
    with unit_of_work(engine) as conn:
        (dead,) = troubled_jobs(conn)
    assert dead["state"] == "dead" and "no handler is registered" in dead["last_error"]


def test_a_job_abandoned_by_a_dead_worker_is_taken_over_after_its_lease(engine, now):
    with unit_of_work(engine) as conn:
        enqueue(conn, kind="test.record", payload={"n": "orphan"})
    assert claim(engine, worker="crashed") is not None
    assert run_due(engine) == 0
    now[0] += timedelta(minutes=11)
    assert run_due(engine) == 1 and done == ["orphan"]


def test_bad_kinds_keys_and_payloads_are_refused(engine):
    with unit_of_work(engine) as conn:
        with pytest.raises(JobError):
            enqueue(conn, kind="x" * 65, payload={})
        with pytest.raises(JobError):
            enqueue(conn, kind="test.record", payload={}, key="k" * 201)
        with pytest.raises(JobError):
            enqueue(conn, kind="test.record", payload={"when": object()})


slow_runs: list[str] = []
slow_lock = threading.Lock()


@handler("test.slow")
def slow(conn, job) -> None:
    time.sleep(0.005)
    with slow_lock:
        slow_runs.append(job.id)


def test_two_workers_never_run_the_same_job(engine):
    slow_runs.clear()
    with unit_of_work(engine) as conn:
        ids = [enqueue(conn, kind="test.slow", payload={}) for _ in range(40)]
    workers = [threading.Thread(target=run_due, args=(engine,), kwargs={"worker": f"w{n}"}) for n in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert sorted(slow_runs) == sorted(ids)
    assert set(_states(engine)) == {"done"}


def test_claim_then_run_marks_done_only_for_the_claimer(engine, now):
    with unit_of_work(engine) as conn:
        enqueue(conn, kind="test.record", payload={"n": "mine"})
    claimed = claim(engine, worker="me")
    assert claim(engine, worker="other") is None
    assert run(engine, claimed) is True and _states(engine) == ["done"]
