"""Live queue updates: WebSocket subscribers per session, fed by QueueChanged events after commit.

Events are published in whichever thread committed; each subscriber is an asyncio queue owned by
its WebSocket's event loop, so messages cross over with call_soon_threadsafe. With several server
processes the events reach the other processes' hubs through platform/live_fanout.py (Redis pub/sub).
"""

import asyncio
import threading
from collections import defaultdict

from smartcare.platform import events, live_fanout

_Subscriber = tuple[asyncio.AbstractEventLoop, asyncio.Queue]


class Hub:
    """Topics (queue sessions) and the live connections listening to each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._topics: dict[str, set[_Subscriber]] = defaultdict(set)

    def subscribe(self, topic: str, subscriber: _Subscriber | None = None) -> _Subscriber:
        """A new listener on topic for the calling event loop, or one more topic for an existing listener."""
        subscriber = subscriber or listener()
        with self._lock:
            self._topics[topic].add(subscriber)
        return subscriber

    def unsubscribe(self, topic: str, subscriber: _Subscriber) -> None:
        """Stop sending topic to subscriber."""
        with self._lock:
            self._topics[topic].discard(subscriber)
            if not self._topics[topic]:
                del self._topics[topic]

    def publish(self, topic: str, message: dict) -> None:
        """Send message to every listener of topic, from any thread; a full or closed listener is skipped."""
        with self._lock:
            listeners = list(self._topics.get(topic, ()))
        for loop, queue in listeners:
            try:
                loop.call_soon_threadsafe(_offer, queue, message)
            except RuntimeError:  # the listener's loop has closed; it unsubscribes on its way out
                continue


def listener() -> _Subscriber:
    """A listener for the calling event loop, to subscribe to several topics (a clinic display's sessions)."""
    return asyncio.get_running_loop(), asyncio.Queue(maxsize=100)


def _offer(queue: asyncio.Queue, message: dict) -> None:
    if not queue.full():
        queue.put_nowait(message)


hub = Hub()
_installed = threading.Lock()
_state = {"installed": False}
LIVE_KIND = "queue"


def _deliver(payload: dict) -> None:
    hub.publish(str(payload["session"]), payload)


def _on_change(event: events.DomainEvent) -> None:
    live_fanout.publish(LIVE_KIND, event.payload)


def install() -> None:
    """Listen for queue changes, here and from the other server processes (once per process)."""
    from smartcare.hospital.queue.service import QUEUE_CHANGED

    with _installed:
        if not _state["installed"]:
            live_fanout.register(LIVE_KIND, _deliver)
            events.subscribe(QUEUE_CHANGED, _on_change)
            _state["installed"] = True
    live_fanout.current()
