"""Production jobs through the real Redis and RabbitMQ: relay from the outbox, consume, and a broker that is away."""

import os
import uuid

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import enqueue, handler
from smartcare.platform.jobs.backends import Broker, BrokerUnavailable, relay
from smartcare.platform.jobs.tables import job
from tests.support import IN_CI

BROKERS = {
    "redis": os.environ.get("SMARTCARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    "rabbitmq": os.environ.get("SMARTCARE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"),
}
delivered: list[str] = []


@handler("test.relayed")
def relayed(conn, job) -> None:
    delivered.append(job.payload["n"])


@pytest.fixture(params=sorted(BROKERS))
def broker(request):
    b = Broker(BROKERS[request.param], f"smartcare.test.{uuid.uuid4().hex[:12]}")
    try:
        b.publish([])
        b._connect()
    except BrokerUnavailable as exc:
        if IN_CI:
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    delivered.clear()
    yield b
    b.close()
    b.discard_queue()


def _relayed(engine) -> list[str | None]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(job.c.relayed)).scalars())


def test_a_job_goes_from_the_outbox_through_the_broker_and_runs_once(engine, broker, now):
    with unit_of_work(engine) as conn:
        enqueue(conn, kind="test.relayed", payload={"n": "through the broker"})
    assert relay(engine, broker) == 1
    assert relay(engine, broker) == 0
    assert broker.consume(engine, worker="w1", timeout=5) == 1
    assert delivered == ["through the broker"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(job.c.state)).scalar_one() == "done"


def test_a_duplicate_message_does_not_run_the_job_twice(engine, broker, now):
    with unit_of_work(engine) as conn:
        job_id = enqueue(conn, kind="test.relayed", payload={"n": "once"})
    broker.publish([job_id, job_id])
    assert broker.consume(engine, worker="w1", timeout=5) == 1
    assert delivered == ["once"]


def test_with_the_broker_away_the_job_stays_in_the_outbox_and_is_relayed_later(engine, broker, now):
    with unit_of_work(engine) as conn:
        enqueue(conn, kind="test.relayed", payload={"n": "patient"})
    away = Broker("redis://127.0.0.1:1/0" if "redis" in broker.url else "amqp://guest:guest@127.0.0.1:1//",
                  broker.queue.name)
    with pytest.raises(BrokerUnavailable):
        relay(engine, away)
    assert _relayed(engine) == [None]
    assert relay(engine, broker) == 1
    assert broker.consume(engine, worker="w1", timeout=5) == 1
    assert delivered == ["patient"]


def test_smartcare_worker_once_relays_and_runs(engine, broker, now, monkeypatch):
    from smartcare.cli import app

    with unit_of_work(engine) as conn:
        enqueue(conn, kind="test.relayed", payload={"n": "by the command"})
    monkeypatch.setenv("SMARTCARE_QUEUE_NAME", broker.queue.name)
    from smartcare.platform.jobs import backends

    backends.job_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["worker", "--once", "--queue-url", broker.url, "--poll", "5"])
    finally:
        backends.job_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "Ran 1 job(s)." in result.output
    assert delivered == ["by the command"]
