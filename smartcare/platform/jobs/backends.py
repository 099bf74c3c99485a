"""Production: relay due jobs from the outbox to a message broker (Redis or RabbitMQ, through kombu) and
consume them. The outbox stays the source of truth: a message only names a job, and a job the broker
never got, or lost, is relayed again."""

import logging
import threading
from datetime import timedelta
from functools import lru_cache

import kombu
import sqlalchemy as sa
from kombu.simple import SimpleQueue
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import Engine

from smartcare.platform import clock
from smartcare.platform.clock import format_instant
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import schedules
from smartcare.platform.jobs.service import claim, claimable, run, worker_name
from smartcare.platform.jobs.tables import job

log = logging.getLogger(__name__)

# A relayed job still due this long after it was handed over was lost on the way (or its worker died).
REDELIVER_AFTER = timedelta(minutes=5)
RELAY_BATCH = 500


class JobSettings(BaseSettings):
    """Where production jobs are queued: SMARTCARE_QUEUE_URL (redis://... or amqp://...), empty for none."""

    model_config = SettingsConfigDict(env_prefix="SMARTCARE_", env_file=".env", extra="ignore")

    queue_url: str = ""
    queue_name: str = "smartcare.jobs"


@lru_cache(maxsize=1)
def job_settings() -> JobSettings:
    """The job settings, read once."""
    return JobSettings()


def queue_url() -> str:
    """The configured broker URL ('' when jobs run without a broker)."""
    return job_settings().queue_url


class BrokerUnavailable(Exception):
    """The message broker could not be reached; jobs wait in the outbox."""


class Broker:
    """A durable queue on Redis or RabbitMQ whose messages name jobs in the outbox."""

    def __init__(self, url: str, queue_name: str = "smartcare.jobs"):
        self.url = url
        exchange = kombu.Exchange(queue_name, type="direct", durable=True)
        self.queue = kombu.Queue(queue_name, exchange, routing_key=queue_name, durable=True)
        self._connection: kombu.Connection | None = None
        self._simple: SimpleQueue | None = None

    def _connect(self) -> kombu.Connection:
        if self._connection is None:
            connection = kombu.Connection(self.url, connect_timeout=3)
            try:
                connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.5)
            except Exception as exc:  # kombu raises the transport's own errors
                connection.release()
                raise BrokerUnavailable(f"the message broker at {connection.as_uri()} is unreachable: {exc}") from exc
            self._connection = connection
        return self._connection

    def close(self) -> None:
        """Drop the connection (a later call connects again)."""
        if self._simple is not None:
            self._simple.close()
        if self._connection is not None:
            self._connection.release()
        self._simple = self._connection = None

    def publish(self, job_ids: list[str]) -> None:
        """Put one persistent message per job on the queue; BrokerUnavailable if the broker is away."""
        try:
            producer = self._connect().Producer(serializer="json")
            for job_id in job_ids:
                producer.publish({"job": job_id}, exchange=self.queue.exchange, routing_key=self.queue.routing_key,
                                 declare=[self.queue], delivery_mode=2, retry=True,
                                 retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.5})
        except BrokerUnavailable:
            raise
        except Exception as exc:
            self.close()
            raise BrokerUnavailable(f"publishing to the message broker failed: {exc}") from exc

    def consume(self, engine: Engine, *, worker: str, timeout: float = 1.0, limit: int = 100) -> int:
        """Run the jobs named by messages waiting on the queue (waiting up to timeout for the first);
        returns how many jobs ran. A message is acknowledged once its job has run or is not runnable."""
        ran = 0
        try:
            if self._simple is None:
                self._simple = self._connect().SimpleQueue(self.queue)
            wait = timeout
            while ran < limit:
                try:
                    message = self._simple.get(block=True, timeout=wait)
                except SimpleQueue.Empty:
                    break
                wait = 0.05
                job_id = message.payload.get("job") if isinstance(message.payload, dict) else None
                claimed = claim(engine, worker=worker, job_id=str(job_id)[:36]) if job_id else None
                if claimed is not None:
                    run(engine, claimed)
                    ran += 1
                message.ack()
        except BrokerUnavailable:
            raise
        except Exception as exc:
            if isinstance(exc, sa.exc.SQLAlchemyError):
                raise
            self.close()
            raise BrokerUnavailable(f"consuming from the message broker failed: {exc}") from exc
        return ran

    def discard_queue(self) -> None:
        """Delete the queue and its messages (tests and decommissioning)."""
        with kombu.Connection(self.url, connect_timeout=3) as connection:
            self.queue.bind(connection.default_channel).delete()


def relay(engine: Engine, broker: Broker, *, limit: int = RELAY_BATCH) -> int:
    """Hand the due jobs not yet relayed (or relayed long ago and still due) to the broker; returns how many.

    They are marked relayed in the same transaction, after the broker took them: if it is away, nothing
    is marked and they are relayed on a later call.
    """
    now = clock.now()
    stamp = format_instant(now)
    stale = format_instant(now - REDELIVER_AFTER)
    with unit_of_work(engine) as conn:
        query = (sa.select(job.c.id).where(claimable(stamp), sa.or_(job.c.relayed.is_(None), job.c.relayed < stale))
                 .order_by(job.c.run_at).limit(limit))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(conn.execute(query).scalars())
        if ids:
            broker.publish(ids)
            conn.execute(job.update().where(job.c.id.in_(ids)).values(relayed=stamp))
    return len(ids)


def run_with_broker(engine: Engine, broker: Broker, *, stop: threading.Event, poll: float = 1.0) -> None:
    """The production worker's loop: write periodic jobs, relay due jobs, consume, until stop is set."""
    worker = worker_name()
    while not stop.is_set():
        try:
            with unit_of_work(engine) as conn:
                schedules.materialise(conn)
            relay(engine, broker)
            broker.consume(engine, worker=worker, timeout=poll)
        except BrokerUnavailable as exc:
            log.warning("%s; jobs wait in the outbox and are relayed when it is back", exc)
            stop.wait(poll * 5)
