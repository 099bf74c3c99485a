"""Helpers the tests share: where ../shared lies, and skipping (or failing under CI) without it."""

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

IN_CI = os.environ.get("CI") == "true"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def need_shared(relative: str) -> Path:
    """A path in ../shared, or skip (fail under CI) when the folder is not beside the checkout."""
    path = SHARED / relative
    if not path.exists():
        message = f"{path} is missing: the shared FHIR/HL7 test material lies beside the checkout in ../shared"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def run_coroutine(coroutine):
    """Run a coroutine to completion on a fresh event loop in its own thread.

    Browser tests in the same process leave Playwright's loop running on the main thread, where
    asyncio.run() refuses to start a second one.
    """
    import asyncio
    import threading

    outcome: dict = {}

    def work() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the calling thread
            outcome["error"] = exc

    thread = threading.Thread(target=work, name="test-event-loop")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@contextmanager
def live_server(name: str) -> Iterator[str]:
    """A SmartCare web server on a free 127.0.0.1 port in a thread (serving the process's current store); its URL."""
    from smartcare.platform.web.app import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
