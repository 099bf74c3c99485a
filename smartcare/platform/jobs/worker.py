"""Workers that run due jobs: the in-process thread of the embedded default, and the loop `smartcare worker` runs."""

import importlib
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from smartcare.platform.db import get_engine, unit_of_work
from smartcare.platform.events import DomainEvent, subscribe, unsubscribe
from smartcare.platform.jobs import schedules
from smartcare.platform.jobs.service import JOB_ENQUEUED, run_due, worker_name

log = logging.getLogger(__name__)

# Modules whose import registers job handlers and schedules; a worker imports them all before it starts,
# so a domain that adds handlers adds its module here.
HANDLER_MODULES = (
    "smartcare.platform.jobs.schedules",
    "smartcare.platform.notifications.delivery",
    "smartcare.hospital.scheduling.jobs",
    "smartcare.hospital.scheduling.horizon",
    "smartcare.hospital.lab.jobs",
    "smartcare.hospital.lab.outbound_queue",
    "smartcare.hospital.imaging.commitment",
    "smartcare.patient.news.jobs",
    "smartcare.hospital.consultation.jobs",
    "smartcare.family.medication.reminders",
    "smartcare.family.monitoring.flows",
    "smartcare.family.monitoring.special",
    "smartcare.family.monitoring.from_programmes",
    "smartcare.family.monitoring.from_public_health",
    "smartcare.hospital.wards.monitors",
    "smartcare.regional.mpi.jobs",
    "smartcare.regional.exchange.pull",
    "smartcare.regional.risk.jobs",
    "smartcare.regional.risk.reminders",
    "smartcare.regional.public_health.reporting",
    "smartcare.regional.public_health.deadlines",
    "smartcare.regional.public_health.detection",
    "smartcare.regional.public_health.isolation",
    "smartcare.regional.supervision.jobs",
    # Not handlers: its import hands committed notifications to the live push (over Redis to the web processes),
    # so a notice a worker sends (a critical value escalated) still pops up on open pages.
    "smartcare.platform.notifications.live",
)
EMBEDDED_ENV = "SMARTCARE_EMBEDDED_WORKER"
POLL = timedelta(seconds=5)


def load_handlers() -> None:
    """Import every module that registers job handlers or schedules."""
    for name in HANDLER_MODULES:
        importlib.import_module(name)


def tick(engine: Engine, *, worker: str | None = None) -> int:
    """Write this period's periodic jobs, then run every due job; returns how many ran."""
    with unit_of_work(engine) as conn:
        schedules.materialise(conn)
    return run_due(engine, worker=worker)


class EmbeddedWorker:
    """A background thread in the web process that runs due jobs, woken at once when a job is enqueued."""

    def __init__(self, engine: Engine | None = None, *, poll: timedelta = POLL):
        self.engine = engine or get_engine()
        self.poll = poll
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="smartcare-jobs", daemon=True)

    def _on_enqueued(self, _event: DomainEvent) -> None:
        self._wake.set()

    def _loop(self) -> None:
        name = worker_name()
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                tick(self.engine, worker=name)
            except Exception:  # the database may be away for a moment; the next tick tries again
                log.exception("the job worker's tick failed")
            self._wake.wait(self.poll.total_seconds())

    def start(self) -> "EmbeddedWorker":
        """Start the thread; jobs enqueued from now on wake it after their transaction commits."""
        load_handlers()
        subscribe(JOB_ENQUEUED, self._on_enqueued)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        """Let the job in hand finish, then end the thread."""
        unsubscribe(JOB_ENQUEUED, self._on_enqueued)
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)


def enable_embedded_worker() -> None:
    """Make the web app started in this process (and the server processes it forks) run jobs in-process,
    unless a message broker is configured, where `smartcare worker` runs them."""
    from smartcare.platform.jobs.backends import queue_url

    if not queue_url():
        os.environ[EMBEDDED_ENV] = "1"


def install_embedded_worker(app: FastAPI) -> None:
    """Run an EmbeddedWorker for the app's lifetime when enable_embedded_worker was called (never in tests
    unless they set SMARTCARE_EMBEDDED_WORKER=1)."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator:
        worker = EmbeddedWorker().start() if os.environ.get(EMBEDDED_ENV) == "1" else None
        try:
            async with inner(application) as state:
                yield state
        finally:
            if worker is not None:
                await run_in_threadpool(worker.stop)

    app.router.lifespan_context = lifespan
