"""Domain events, published to in-process subscribers after the transaction that caused them commits."""

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """Something that happened in the domain, e.g. ResourceCreated for Observation/123."""

    name: str
    payload: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[DomainEvent], None]
_subscribers: dict[str, list[Subscriber]] = defaultdict(list)


def subscribe(name: str, fn: Subscriber) -> None:
    """Call fn for every event called name ('*' for all events)."""
    _subscribers[name].append(fn)


def unsubscribe(name: str, fn: Subscriber) -> None:
    """Stop calling fn for events called name."""
    if fn in _subscribers.get(name, []):
        _subscribers[name].remove(fn)


def publish(event: DomainEvent) -> None:
    """Deliver an event to its subscribers; a failing subscriber is logged and does not stop the others."""
    for fn in [*_subscribers.get(event.name, []), *_subscribers.get("*", [])]:
        try:
            fn(event)
        except Exception:
            log.exception("subscriber %r failed on %s", fn, event.name)
