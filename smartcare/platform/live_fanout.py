"""Live push across server processes: committed live events are handed to the local hubs and, with a Redis URL,
fanned out over Redis pub/sub to the hubs of every other process.

Each process delivers its own events locally at once and publishes them to one Redis channel tagged
with its process id; a background thread delivers the messages of the other processes (its own are
skipped, so a local socket never gets an event twice). Redis pub/sub keeps no history: a process that
is down or reconnecting misses pushes, which is acceptable because live push only refreshes what the
pages read again from the database (the queue, the inbox). Without a URL everything stays in-process.
"""

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import orjson
import redis
from pydantic_settings import BaseSettings, SettingsConfigDict

from smartcare.platform.jobs.backends import queue_url

log = logging.getLogger(__name__)

DEFAULT_CHANNEL = "smartcare.live"
RECONNECT_SECONDS = 2.0
POLL_SECONDS = 1.0
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

Deliver = Callable[[dict[str, Any]], None]


class LiveSettings(BaseSettings):
    """Where live events travel between processes: SMARTCARE_LIVE_URL (redis://...), else a redis://
    SMARTCARE_QUEUE_URL; empty for one process only."""

    model_config = SettingsConfigDict(env_prefix="SMARTCARE_", env_file=".env", extra="ignore")

    live_url: str = ""
    live_channel: str = DEFAULT_CHANNEL


@lru_cache(maxsize=1)
def live_settings() -> LiveSettings:
    """The live settings, read once."""
    return LiveSettings()


class LiveConfigError(ValueError):
    """SMARTCARE_LIVE_URL names something other than Redis."""


def live_url() -> str:
    """The Redis URL live events travel over ('' for in-process only)."""
    configured = live_settings().live_url.strip()
    if configured:
        if not configured.startswith(REDIS_SCHEMES):
            raise LiveConfigError(f"SMARTCARE_LIVE_URL must be a redis:// URL, not {configured.split(':', 1)[0]}://")
        return configured
    jobs = queue_url().strip()
    return jobs if jobs.startswith(REDIS_SCHEMES) else ""


def new_process_id() -> str:
    """An id for this process that no other process shares, even across hosts and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Fanout:
    """Delivers live events to this process's hubs and, with a Redis URL, to those of every other process."""

    def __init__(self, url: str = "", *, channel: str = DEFAULT_CHANNEL, process_id: str | None = None,
                 deliverers: dict[str, Deliver] | None = None):
        self.url = url
        self.channel = channel
        self.process_id = process_id or new_process_id()
        self._deliverers: dict[str, Deliver] = deliverers if deliverers is not None else {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: redis.Redis | None = redis.Redis.from_url(url, socket_connect_timeout=3) if url else None
        self._pubsub: Any = None

    @property
    def distributed(self) -> bool:
        """True when events travel over Redis to other processes."""
        return self._client is not None

    def register(self, kind: str, deliver: Deliver) -> None:
        """Deliver events of kind with deliver (to a local hub), whichever process they come from."""
        self._deliverers[kind] = deliver

    def publish(self, kind: str, payload: dict[str, Any]) -> None:
        """Deliver an event to this process's listeners now and send it to the other processes."""
        self._deliver(kind, payload)
        if self._client is None:
            return
        message = orjson.dumps({"origin": self.process_id, "kind": kind, "payload": payload})
        try:
            self._client.publish(self.channel, message)
        except redis.RedisError:
            # Live push is a convenience: the pages read the truth from the database on their next load.
            log.warning("could not send a live %s event to the other processes over Redis", kind, exc_info=True)

    def start(self) -> None:
        """Subscribe to the channel (done when this returns) and deliver other processes' events in a thread."""
        if self._client is None:
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            try:
                self._subscribe()
            except redis.RedisError:
                log.warning("Redis at %s is unreachable; live events from other processes wait for it", self.url,
                            exc_info=True)
            self._thread = threading.Thread(target=self._listen, name=f"live-fanout-{self.channel}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop listening and drop the connections."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=POLL_SECONDS * 3)
        self._thread = None
        self._close_pubsub()
        if self._client is not None:
            self._client.close()

    def _subscribe(self) -> None:
        assert self._client is not None
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.channel)
        # Wait for Redis to confirm, so a publish right after start() is already heard.
        pubsub.get_message(timeout=POLL_SECONDS)
        self._pubsub = pubsub

    def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except redis.RedisError:
                log.debug("closing the live pub/sub connection failed", exc_info=True)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                if self._pubsub is None:
                    self._subscribe()
                message = self._pubsub.get_message(timeout=POLL_SECONDS)
            except (redis.RedisError, OSError, ValueError):
                log.warning("lost the live pub/sub connection to Redis; reconnecting", exc_info=True)
                self._close_pubsub()
                self._stop.wait(RECONNECT_SECONDS)
                continue
            if message is not None and message.get("type") == "message":
                self._receive(message["data"])

    def _receive(self, data: bytes) -> None:
        try:
            message = orjson.loads(data)
            origin, kind, payload = message["origin"], message["kind"], message["payload"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("ignored a malformed live message on %s", self.channel)
            return
        if origin != self.process_id:
            self._deliver(kind, payload)

    def _deliver(self, kind: str, payload: dict[str, Any]) -> None:
        deliver = self._deliverers.get(kind)
        if deliver is None:
            return
        try:
            deliver(payload)
        except Exception:
            # One broken listener must not stop the others or the listening thread.
            log.exception("delivering a live %s event failed", kind)


_deliverers: dict[str, Deliver] = {}
_current: dict[str, Any] = {"fanout": None, "pid": None}
_current_lock = threading.Lock()


def register(kind: str, deliver: Deliver) -> None:
    """Deliver this process's live events of kind with deliver (a hub's publish), from this or another process."""
    _deliverers[kind] = deliver


def for_this_process(url: str, *, channel: str = DEFAULT_CHANNEL, process_id: str | None = None) -> Fanout:
    """A fan-out that delivers to this process's registered hubs (what current() builds; tests give their own URL)."""
    return Fanout(url, channel=channel, process_id=process_id, deliverers=_deliverers)


def current() -> Fanout:
    """This process's fan-out, made from the settings and listening (once per process, again after a fork)."""
    with _current_lock:
        fanout = _current["fanout"]
        if fanout is None or _current["pid"] != os.getpid():
            fanout = for_this_process(live_url(), channel=live_settings().live_channel)
            fanout.start()
            _current.update(fanout=fanout, pid=os.getpid())
        return fanout


def publish(kind: str, payload: dict[str, Any]) -> None:
    """Deliver a committed live event here and in every other process."""
    current().publish(kind, payload)


def use_fanout(fanout: Fanout | None) -> None:
    """Make fanout this process's fan-out (None: the next use builds one from the settings); for tests and tools."""
    with _current_lock:
        previous = _current["fanout"]
        _current.update(fanout=fanout, pid=os.getpid() if fanout is not None else None)
    if previous is not None and previous is not fanout:
        previous.stop()
