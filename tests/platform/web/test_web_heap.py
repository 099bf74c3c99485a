"""A server started by `smartcare serve` keeps its start-up heap out of the garbage collector; tests' apps do not."""

import gc

from fastapi import FastAPI
from fastapi.testclient import TestClient

from smartcare.platform.web.heap import ENV, install_heap_freeze


def _started(monkeypatch, value: str | None) -> int:
    if value is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, value)
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict:
        return {"ok": True}

    install_heap_freeze(app)
    gc.unfreeze()
    try:
        with TestClient(app) as client:  # runs the app's start-up
            assert client.get("/ping").json() == {"ok": True}
            return gc.get_freeze_count()
    finally:
        gc.unfreeze()  # what a test froze must be freed again


def test_a_served_app_freezes_its_heap_once_started(monkeypatch):
    assert _started(monkeypatch, "1") > 10_000  # the modules, the app, its routes


def test_without_the_server_flag_or_with_it_turned_off_nothing_is_frozen(monkeypatch):
    assert _started(monkeypatch, None) == 0
    assert _started(monkeypatch, "0") == 0
