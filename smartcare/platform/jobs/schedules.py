"""Periodic jobs: every N minutes or daily at HH:MM, each period's run written once as a job with a unique key."""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from smartcare.platform import clock
from smartcare.platform.clock import format_instant
from smartcare.platform.jobs.service import JobError, enqueue

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_HH_MM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


@dataclass(frozen=True, slots=True)
class Schedule:
    """A job of kind to run once per period: every `every`, or daily at `daily_at` in time zone `tz`."""

    name: str
    kind: str
    every: timedelta | None = None
    daily_at: time | None = None
    tz: str = "UTC"
    payload: dict[str, Any] = field(default_factory=dict)

    def period_start(self, now: datetime) -> datetime:
        """The start of the period now falls in: the run that is due at now."""
        if self.every is not None:
            periods = (now - _EPOCH) // self.every
            return _EPOCH + periods * self.every
        assert self.daily_at is not None
        local = now.astimezone(ZoneInfo(self.tz))
        today = datetime.combine(local.date(), self.daily_at, tzinfo=local.tzinfo)
        start = today if today <= local else datetime.combine(local.date() - timedelta(days=1), self.daily_at,
                                                              tzinfo=local.tzinfo)
        return start.astimezone(UTC)


_schedules: dict[str, Schedule] = {}


def periodic(name: str, *, kind: str, every_minutes: int | None = None, daily_at: str | None = None,
             tz: str = "UTC", payload: dict[str, Any] | None = None) -> Schedule:
    """Run a job of kind every N minutes, or daily at "HH:MM" in time zone tz (one of the two)."""
    if (every_minutes is None) == (daily_at is None):
        raise JobError("a schedule runs either every N minutes or daily at HH:MM")
    at = None
    if daily_at is not None:
        matched = _HH_MM.fullmatch(daily_at)
        if not matched:
            raise JobError(f"{daily_at[:20]!r} is not a time of day like 07:30")
        at = time(int(matched[1]), int(matched[2]))
        ZoneInfo(tz)
    elif every_minutes is not None and not 1 <= every_minutes <= 7 * 24 * 60:
        raise JobError("a schedule runs every 1 minute to every 7 days")
    schedule = Schedule(name=name, kind=kind, every=timedelta(minutes=every_minutes) if every_minutes else None,
                        daily_at=at, tz=tz, payload=payload or {})
    _schedules[name] = schedule
    return schedule


def schedules() -> list[Schedule]:
    """Every registered schedule."""
    return list(_schedules.values())


def materialise(conn: Connection, *, now: datetime | None = None) -> list[str]:
    """Write this period's job of every schedule that has none yet; returns the ids (new or existing)."""
    now = now or clock.now()
    ids = []
    for schedule in _schedules.values():
        start = schedule.period_start(now)
        payload = {**schedule.payload, "period": format_instant(start)}
        ids.append(enqueue(conn, kind=schedule.kind, payload=payload, run_at=start,
                           key=f"periodic:{schedule.name}:{format_instant(start)}"))
    return ids


periodic("jobs.purge", kind="jobs.purge", daily_at="03:30")
