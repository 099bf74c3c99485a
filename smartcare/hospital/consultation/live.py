"""Live consultation chat: the sockets of this process by consultation, fed by committed consultation events
(and, through platform/live_fanout.py, by the other server processes'), plus typing state, which is not stored."""

import asyncio
import contextlib
import threading
from typing import Any

from smartcare.hospital.consultation.service import on_consultation_event
from smartcare.platform import live_fanout
from smartcare.platform.events import DomainEvent

LIVE_KIND = "consultation"
Listener = tuple[asyncio.AbstractEventLoop, asyncio.Queue]


class Hub:
    """Consultations and the open sockets listening to each; publishing is thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._topics: dict[str, set[Listener]] = {}

    def subscribe(self, consultation_id: str) -> Listener:
        """A listener for the calling event loop on consultation_id."""
        listener = (asyncio.get_running_loop(), asyncio.Queue(maxsize=1000))
        with self._lock:
            self._topics.setdefault(consultation_id, set()).add(listener)
        return listener

    def unsubscribe(self, consultation_id: str, listener: Listener) -> None:
        """Stop sending to listener."""
        with self._lock:
            self._topics.get(consultation_id, set()).discard(listener)

    def publish(self, consultation_id: str, message: dict[str, Any]) -> None:
        """Queue message for every socket of the consultation (a socket that falls behind reconnects with since=)."""
        with self._lock:
            listeners = list(self._topics.get(consultation_id, ()))
        for loop, queue in listeners:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_offer, queue, message)


def _offer(queue: asyncio.Queue, message: dict[str, Any]) -> None:
    with contextlib.suppress(asyncio.QueueFull):
        queue.put_nowait(message)


hub = Hub()
_state = {"installed": False}
_lock = threading.Lock()


def _deliver(payload: dict[str, Any]) -> None:
    hub.publish(str(payload["consultation"]), payload)


def _on_event(event: DomainEvent) -> None:
    live_fanout.publish(LIVE_KIND, event.payload)


def publish_typing(consultation_id: str, side: str, typing: bool) -> None:
    """Tell the consultation's sockets, here and in other processes, that one side is typing (not stored)."""
    live_fanout.publish(LIVE_KIND, {"consultation": consultation_id, "type": "typing", "side": side,
                                    "typing": bool(typing)})


def install() -> None:
    """Listen for consultation events, here and from the other server processes (once per process)."""
    with _lock:
        if not _state["installed"]:
            live_fanout.register(LIVE_KIND, _deliver)
            on_consultation_event(_on_event)
            _state["installed"] = True
    live_fanout.current()


