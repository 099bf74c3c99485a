"""Live video-visit signalling: the sockets of this process by visit, fed by this and (through
platform/live_fanout.py) every other server process, so the two parties may sit on different processes."""

import asyncio
import contextlib
import threading
from typing import Any

from smartcare.platform import live_fanout

LIVE_KIND = "video"
Listener = tuple[asyncio.AbstractEventLoop, asyncio.Queue]


class Hub:
    """Visits and the open sockets listening to each; publishing is thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._topics: dict[str, set[Listener]] = {}

    def subscribe(self, visit_id: str) -> Listener:
        """A listener for the calling event loop on visit_id."""
        listener = (asyncio.get_running_loop(), asyncio.Queue(maxsize=1000))
        with self._lock:
            self._topics.setdefault(visit_id, set()).add(listener)
        return listener

    def unsubscribe(self, visit_id: str, listener: Listener) -> None:
        """Stop sending to listener."""
        with self._lock:
            listeners = self._topics.get(visit_id, set())
            listeners.discard(listener)
            if not listeners:
                self._topics.pop(visit_id, None)

    def publish(self, visit_id: str, event: dict[str, Any]) -> None:
        """Queue event for every socket of the visit (a socket that falls behind renegotiates)."""
        with self._lock:
            listeners = list(self._topics.get(visit_id, ()))
        for loop, queue in listeners:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_offer, queue, event)


def _offer(queue: asyncio.Queue, event: dict[str, Any]) -> None:
    with contextlib.suppress(asyncio.QueueFull):
        queue.put_nowait(event)


hub = Hub()
_state = {"installed": False}
_lock = threading.Lock()


def _deliver(payload: dict[str, Any]) -> None:
    hub.publish(str(payload["visit"]), payload)


def publish(visit_id: str, kind: str, **details: Any) -> None:
    """Send an event to the visit's sockets here and in every other server process (never stored)."""
    live_fanout.publish(LIVE_KIND, {"visit": visit_id, "type": kind, **details})


def install() -> None:
    """Listen for video events from this and the other server processes (once per process)."""
    with _lock:
        if not _state["installed"]:
            live_fanout.register(LIVE_KIND, _deliver)
            _state["installed"] = True
    live_fanout.current()
