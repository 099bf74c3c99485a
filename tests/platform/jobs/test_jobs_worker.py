"""The embedded worker: a thread in the web process that runs jobs soon after they are committed."""

import threading

from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import enqueue, handler
from smartcare.platform.jobs.worker import EMBEDDED_ENV, EmbeddedWorker

ran = threading.Event()


@handler("test.embedded")
def mark(conn, job) -> None:
    ran.set()


def test_the_embedded_worker_runs_a_job_as_soon_as_it_is_committed(engine):
    ran.clear()
    from datetime import timedelta

    worker = EmbeddedWorker(engine, poll=timedelta(minutes=5)).start()
    try:
        with unit_of_work(engine) as conn:
            enqueue(conn, kind="test.embedded", payload={})
        assert ran.wait(10)
    finally:
        worker.stop()


def test_the_app_starts_the_worker_only_when_asked(engine, monkeypatch):
    from fastapi.testclient import TestClient

    from smartcare.platform.web.app import create_app

    ran.clear()
    with TestClient(create_app()):
        with unit_of_work(engine) as conn:
            enqueue(conn, kind="test.embedded", payload={})
        assert not ran.wait(0.5)
    monkeypatch.setenv(EMBEDDED_ENV, "1")
    with TestClient(create_app()):
        assert ran.wait(10)
