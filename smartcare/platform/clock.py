"""The one source of 'now' so that time-dependent behaviour is testable."""

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from smartcare.platform.settings import get_settings

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


def wall_clock(text: str | None) -> str:
    """An instant (or dateTime with a zone) as the region's wall-clock time, "YYYY-MM-DD HH:MM", for pages.

    Stored instants are UTC; the people reading them live in the region's time zone (settings.region_timezone).
    Text without a time (a date), and text that is no instant, is shown as it is.
    """
    if not isinstance(text, str) or not text:
        return ""
    if len(text) <= 10:
        return text
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text[:40]
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(ZoneInfo(get_settings().region_timezone)).strftime("%Y-%m-%d %H:%M")
