"""Fixed-window counters in the database that throttle logins per account and per address."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from smartcare.platform import clock
from smartcare.platform.clock import format_instant, parse_instant
from smartcare.platform.security.tables import login_throttle

WINDOW_SECONDS = 15 * 60
ACCOUNT_FAILURE_LIMIT = 5
ACCOUNT_LOCKOUT_SECONDS = 15 * 60
ADDRESS_ATTEMPT_LIMIT = 20
MAX_KEY_LENGTH = 120


class Throttled(Exception):
    """Too many attempts from one account or address; try again after retry_after_seconds."""

    status_code = 429

    def __init__(self, retry_after_seconds: int):
        super().__init__(f"Too many attempts; try again in {retry_after_seconds} seconds")
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True, slots=True)
class Window:
    """The state of one counter: how many events since start."""

    start: datetime
    count: int


def _checked(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"throttle key must be 1-{MAX_KEY_LENGTH} characters")
    return key


def _locked_row(conn: Connection, key: str) -> Window:
    # Create the row if missing, then lock it, so two concurrent attempts cannot both count as first.
    now = format_instant(clock.now())
    values = {"key": key, "window_start": now, "count": 0}
    insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(login_throttle)
    conn.execute(insert.values(**values).on_conflict_do_nothing(index_elements=["key"]))
    row = conn.execute(
        sa.select(login_throttle.c.window_start, login_throttle.c.count)
        .where(login_throttle.c.key == key)
        .with_for_update()
    ).one()
    return Window(parse_instant(row.window_start), row.count)


def current(conn: Connection, key: str, *, window_seconds: int) -> Window | None:
    """The counter for key if its window is still open, without counting anything."""
    row = conn.execute(
        sa.select(login_throttle.c.window_start, login_throttle.c.count).where(login_throttle.c.key == _checked(key))
    ).one_or_none()
    if row is None:
        return None
    start = parse_instant(row.window_start)
    if clock.now() >= start + timedelta(seconds=window_seconds):
        return None
    return Window(start, row.count)


def _open_window(conn: Connection, key: str, window_seconds: int) -> Window:
    window = _locked_row(conn, _checked(key))
    now = clock.now()
    if now >= window.start + timedelta(seconds=window_seconds):
        return Window(now, 0)
    return window


def count_event(conn: Connection, key: str, *, window_seconds: int) -> Window:
    """Count one event for key in its window (a new window starts when the old one ran out)."""
    window = _open_window(conn, key, window_seconds)
    window = Window(window.start, window.count + 1)
    _store(conn, key, window)
    return window


def restart(conn: Connection, key: str, *, count: int) -> Window:
    """Start a new window for key now, holding count events (a lockout starts its own window)."""
    window = Window(clock.now(), count)
    _locked_row(conn, _checked(key))
    _store(conn, key, window)
    return window


def retry_after(window: Window, window_seconds: int) -> int:
    """Whole seconds until window ends (at least 1)."""
    left = (window.start + timedelta(seconds=window_seconds) - clock.now()).total_seconds()
    return max(1, math.ceil(left))


def check_and_count(conn: Connection, key: str, *, limit: int, window_seconds: int) -> None:
    """Count one attempt for key, or raise Throttled if limit attempts were already made in its window."""
    window = _open_window(conn, key, window_seconds)
    if window.count >= limit:
        raise Throttled(retry_after(window, window_seconds))
    _store(conn, key, Window(window.start, window.count + 1))


def refund(conn: Connection, key: str) -> None:
    """Give one counted attempt back to key (a login that succeeded)."""
    conn.execute(
        sa.update(login_throttle)
        .where(login_throttle.c.key == _checked(key), login_throttle.c.count > 0)
        .values(count=login_throttle.c.count - 1)
    )


def clear(conn: Connection, key: str) -> None:
    """Forget the counter for key (after a successful login)."""
    conn.execute(sa.delete(login_throttle).where(login_throttle.c.key == _checked(key)))


def _store(conn: Connection, key: str, window: Window) -> None:
    conn.execute(
        sa.update(login_throttle)
        .where(login_throttle.c.key == key)
        .values(window_start=format_instant(window.start), count=window.count)
    )
