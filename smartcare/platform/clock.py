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


def format_instant(moment: datetime) -> str:
    """An instant as FHIR writes it and every SmartCare table stores it: UTC, milliseconds, 'Z'.

    Text in this one form sorts in time order, so instants compare as strings in SQL.
    """
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_instant(text: str) -> datetime:
    """The datetime of an instant written by format_instant."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
