"""Periodic jobs: each period's run is written once, however many workers look."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import handler, periodic, run_due
from smartcare.platform.jobs.schedules import _schedules, materialise
from smartcare.platform.jobs.service import JobError
from smartcare.platform.jobs.tables import job

ticks: list[str] = []


@handler("test.tick")
def count_tick(conn, job) -> None:
    ticks.append(job.payload["period"])


@pytest.fixture
def every_quarter_hour():
    ticks.clear()
    saved = dict(_schedules)
    _schedules.clear()
    periodic("test.quarter", kind="test.tick", every_minutes=15)
    yield
    _schedules.clear()
    _schedules.update(saved)


def test_period_starts_for_every_n_minutes_and_daily_in_a_time_zone():
    quarter = periodic("test.p1", kind="test.tick", every_minutes=15)
    daily = periodic("test.p2", kind="test.tick", daily_at="07:30", tz="Asia/Shanghai")
    _schedules.pop("test.p1")
    _schedules.pop("test.p2")
    moment = datetime(2026, 3, 2, 8, 7, tzinfo=UTC)
    assert quarter.period_start(moment) == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    # 07:30 in Shanghai is 23:30 UTC the day before.
    assert daily.period_start(moment) == datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    assert daily.period_start(datetime(2026, 3, 1, 23, 29, tzinfo=UTC)) == datetime(2026, 2, 28, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize("bad", [{"every_minutes": 0}, {"daily_at": "25:00"}, {}, {"every_minutes": 5, "daily_at": "07:00"}])
def test_bad_schedules_are_refused(bad):
    with pytest.raises(JobError):
        periodic("test.bad", kind="test.tick", **bad)


def test_a_periodic_job_runs_once_per_period(engine, now, every_quarter_hour):
    for _ in range(3):
        with unit_of_work(engine) as conn:
            materialise(conn)
        run_due(engine)
    assert ticks == ["2026-03-02T08:00:00.000Z"]
    now[0] += timedelta(minutes=14)
    with unit_of_work(engine) as conn:
        materialise(conn)
    run_due(engine)
    assert len(ticks) == 1
    now[0] += timedelta(minutes=1)
    with unit_of_work(engine) as conn:
        materialise(conn)
    run_due(engine)
    assert ticks == ["2026-03-02T08:00:00.000Z", "2026-03-02T08:15:00.000Z"]


def test_several_workers_write_one_job_per_period(engine, now, every_quarter_hour):
    barrier = threading.Barrier(4)

    def look() -> None:
        barrier.wait()
        with unit_of_work(engine) as conn:
            materialise(conn)

    threads = [threading.Thread(target=look) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(job)).scalar_one() == 1
