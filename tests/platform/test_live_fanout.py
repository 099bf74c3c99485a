"""Live push across server processes over the real Redis: what one process commits reaches the sockets of another,
exactly once, and a process never hears its own events twice."""

import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis

from smartcare.platform import live_fanout, migrate
from smartcare.platform.db import make_engine, unit_of_work
from smartcare.platform.jobs import backends
from smartcare.platform.notifications import notify
from tests.support import IN_CI
from tests.web_support import browser, make_user, sign_in

REDIS_URL = "redis://127.0.0.1:6379/0"
WAIT = 10.0


@pytest.fixture
def redis_url() -> str:
    """The real Redis, or a skip (a failure under CI) when it is not running."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        message = f"Redis is not reachable at {REDIS_URL}: {exc}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL


@pytest.fixture
def channel() -> str:
    """A channel of this test's own, so tests running at the same time never hear each other."""
    return f"smartcare.live.test.{uuid.uuid4().hex}"


class Heard:
    """What a 'process' delivered, in order, with a way to wait for the n-th message."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self._changed = threading.Condition()

    def __call__(self, payload: dict) -> None:
        with self._changed:
            self.messages.append(payload)
            self._changed.notify_all()

    def wait_for(self, count: int) -> list[dict]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.messages) >= count, timeout=WAIT), self.messages
            return list(self.messages)


@pytest.fixture
def process_a(redis_url, channel) -> Iterator[tuple[live_fanout.Fanout, Heard]]:
    """Another server process: its own fan-out and hub (here, what it delivers is recorded)."""
    heard = Heard()
    fanout = live_fanout.Fanout(redis_url, channel=channel, process_id="process-a",
                                deliverers={"notification": heard, "queue": heard})
    fanout.start()
    yield fanout, heard
    fanout.stop()


@pytest.fixture
def process_b(redis_url, channel) -> Iterator[live_fanout.Fanout]:
    """This test's own app process: the fan-out that feeds the app's hubs, on the test's channel."""
    fanout = live_fanout.for_this_process(redis_url, channel=channel, process_id="process-b")
    live_fanout.use_fanout(fanout)
    fanout.start()
    yield fanout
    live_fanout.use_fanout(None)


def receive(socket) -> dict:
    """The next message on a test socket, or a failure after WAIT seconds (never a hung test)."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(socket.receive_json).result(timeout=WAIT)
    finally:
        pool.shutdown(wait=False)


def shown(title: str) -> dict:
    return {"id": str(uuid.uuid4()), "kind": "test", "title": title, "body": "", "link": "/inbox",
            "created": "2026-03-02T08:00:00Z", "read": None}


def test_a_notification_committed_in_one_process_reaches_a_socket_of_another_exactly_once(
        engine, process_a, process_b):
    a, heard_by_a = process_a
    user = make_user(engine, "patient")
    with browser() as web:
        sign_in(web, "patient.test")
        with web.websocket_connect("/ws/notifications") as socket:
            assert receive(socket)["type"] == "hello"
            a.publish("notification", {"user_id": user.id, "notification": shown("Result ready")})
            a.publish("notification", {"user_id": user.id, "notification": shown("Second")})
            # In order and once each: a duplicate of the first would arrive before the second.
            assert receive(socket)["notification"]["title"] == "Result ready"
            assert receive(socket)["notification"]["title"] == "Second"
            # Committed here (process B): the local socket gets it at once, and once; process A over Redis.
            with unit_of_work(engine) as conn:
                notify(conn, user_id=user.id, kind="test", title="From B", body="")
            assert receive(socket)["notification"]["title"] == "From B"
            a.publish("notification", {"user_id": user.id, "notification": shown("Marker")})
            assert receive(socket)["notification"]["title"] == "Marker"
    # Process A delivered its own three once (locally, not again from Redis) and B's once.
    titles = [m["notification"]["title"] for m in heard_by_a.wait_for(4)]
    assert sorted(titles) == ["From B", "Marker", "Result ready", "Second"]


def test_a_queue_change_in_one_process_updates_the_queue_socket_of_another(engine, process_a, process_b, now):
    a, _heard = process_a
    from fastapi.testclient import TestClient

    from smartcare.platform.web.app import create_app

    with TestClient(create_app()) as web, web.websocket_connect("/ws/queue/doc-x:2026-03-02:pm") as socket:
        assert receive(socket)["called"] is None
        a.publish("queue", {"session": "doc-x:2026-03-02:pm"})
        assert receive(socket)["session"] == "doc-x:2026-03-02:pm"
        a.publish("queue", {"session": "doc-y:2026-03-02:pm"})  # another doctor's queue: not this socket's
        a.publish("queue", {"session": "doc-x:2026-03-02:pm"})
        assert receive(socket)["session"] == "doc-x:2026-03-02:pm"


def test_two_processes_hear_each_other_and_never_themselves(redis_url, channel):
    heard = {name: Heard() for name in ("one", "two")}
    fanouts = {name: live_fanout.Fanout(redis_url, channel=channel, process_id=name, deliverers={"queue": heard[name]})
               for name in heard}
    try:
        for fanout in fanouts.values():
            fanout.start()
        fanouts["one"].publish("queue", {"session": "s1"})
        fanouts["two"].publish("queue", {"session": "s2"})
        fanouts["one"].publish("queue", {"session": "s3"})
        assert sorted(m["session"] for m in heard["two"].wait_for(3)) == ["s1", "s2", "s3"]
        assert sorted(m["session"] for m in heard["one"].wait_for(3)) == ["s1", "s2", "s3"]
        # Nothing more arrives: each message was delivered once in each process.
        fanouts["two"].publish("queue", {"session": "end"})
        assert [m["session"] for m in heard["one"].wait_for(4)][-1] == "end"
        assert len(heard["one"].messages) == 4 and len(heard["two"].messages) == 4
    finally:
        for fanout in fanouts.values():
            fanout.stop()


def test_a_broken_listener_does_not_stop_the_others(redis_url, channel):
    heard = Heard()

    def broken(payload: dict) -> None:
        raise RuntimeError("a hub went away")

    sender = live_fanout.Fanout(redis_url, channel=channel, process_id="sender", deliverers={"queue": broken})
    listener = live_fanout.Fanout(redis_url, channel=channel, process_id="listener",
                                  deliverers={"queue": broken, "notification": heard})
    try:
        listener.start()
        sender.publish("queue", {"session": "s1"})
        sender.publish("notification", {"user_id": "u1"})
        assert heard.wait_for(1) == [{"user_id": "u1"}]
    finally:
        sender.stop()
        listener.stop()


def test_without_a_url_events_stay_in_the_process():
    heard = Heard()
    fanout = live_fanout.Fanout("", deliverers={"queue": heard})
    fanout.start()
    fanout.publish("queue", {"session": "s1"})
    assert not fanout.distributed and heard.messages == [{"session": "s1"}]


@pytest.fixture
def settings_from(monkeypatch) -> Iterator[object]:
    def use(**env: str) -> None:
        for name in ("SMARTCARE_LIVE_URL", "SMARTCARE_QUEUE_URL"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        backends.job_settings.cache_clear()
        live_fanout.live_settings.cache_clear()

    yield use
    backends.job_settings.cache_clear()
    live_fanout.live_settings.cache_clear()


def test_the_live_url_comes_from_its_setting_or_a_redis_job_queue(settings_from):
    settings_from()
    assert live_fanout.live_url() == ""
    settings_from(SMARTCARE_QUEUE_URL="redis://queue-host:6379/1")
    assert live_fanout.live_url() == "redis://queue-host:6379/1"
    settings_from(SMARTCARE_QUEUE_URL="amqp://guest:guest@127.0.0.1:5672//")
    assert live_fanout.live_url() == ""
    settings_from(SMARTCARE_QUEUE_URL="amqp://guest:guest@127.0.0.1:5672//", SMARTCARE_LIVE_URL="redis://live:6379/0")
    assert live_fanout.live_url() == "redis://live:6379/0"
    settings_from(SMARTCARE_LIVE_URL="amqp://guest:guest@127.0.0.1:5672//")
    with pytest.raises(live_fanout.LiveConfigError, match="redis://"):
        live_fanout.live_url()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def two_servers(tmp_path, redis_url, channel) -> Iterator[list[str]]:
    """Two real `uvicorn` processes on one SQLite store, their live events travelling over Redis."""
    engine = make_engine(f"sqlite:///{tmp_path}/shared.db")
    migrate.upgrade(engine)
    engine.dispose()
    env = {**os.environ, "SMARTCARE_DATABASE_URL": f"sqlite:///{tmp_path}/shared.db", "SMARTCARE_DATA_DIR": str(tmp_path),
           "SMARTCARE_LIVE_URL": redis_url, "SMARTCARE_LIVE_CHANNEL": channel}
    ports = [_free_port(), _free_port()]
    servers = [subprocess.Popen([sys.executable, "-m", "uvicorn", "smartcare.platform.web.app:create_app", "--factory",
                                 "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env)
               for port in ports]
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        deadline = time.monotonic() + 60
        for base, server in zip(bases, servers, strict=True):
            while True:
                assert server.poll() is None, "a server process exited"
                assert time.monotonic() < deadline, f"{base} did not start"
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
        yield bases
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=20)


def test_a_call_on_one_server_process_reaches_the_display_socket_of_another(two_servers):
    from websockets.sync.client import connect

    from smartcare.platform.security.scopes import parse_scopes
    from smartcare.platform.security.tokens import issue_access_token

    first, second = two_servers
    session = "doc-x:2026-03-02:pm"
    token, _ = issue_access_token(scopes=parse_scopes("user/*.cruds"), audience=f"{second}/fhir", subject="u-doc-x",
                                  kind="user", name="dr.x", roles={"doctor"}, fhir_user="Practitioner/doc-x")
    with connect(f"{first.replace('http', 'ws')}/ws/queue/{session}", open_timeout=WAIT) as display:
        assert json.loads(display.recv(timeout=WAIT))["session"] == session
        # The doctor presses "call next" on the other process; nobody waits, but the queue changed.
        done = httpx.post(f"{second}/api/v1/queue/{session}/call-next", headers={"Authorization": f"Bearer {token}"})
        assert done.status_code == 200, done.text
        assert json.loads(display.recv(timeout=WAIT))["session"] == session
        with pytest.raises(TimeoutError):
            display.recv(timeout=1)  # once, not again
