"""The one source of 'now' so that time-dependent behaviour is testable."""

from collections.abc import Callable
from datetime import UTC, datetime

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return _now()


def set_clock(fn: Callable[[], datetime] | None) -> None:
    """Replace the clock (tests); pass None to restore the real one."""
    global _now
    _now = fn or (lambda: datetime.now(UTC))
