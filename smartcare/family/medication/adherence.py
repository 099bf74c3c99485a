"""Adherence: doses taken of doses due, per medicine and per week (Monday to Sunday in the patient's time zone).

Pure functions: the schedule gives the doses due before now, the recorded MedicationAdministrations say which were
taken (completed) or skipped (not-done); a due dose with neither is missed.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from smartcare.family.medication import schedule

WEEKS = 8


@dataclass(frozen=True, slots=True)
class Tally:
    """Doses due, taken and skipped for one medicine or one week; the rest were missed."""

    due: int
    taken: int
    skipped: int

    @property
    def missed(self) -> int:
        """Due doses with no record."""
        return self.due - self.taken - self.skipped

    @property
    def rate(self) -> float | None:
        """Taken / due, as a percentage rounded to one decimal; None when nothing was due."""
        return round(100 * self.taken / self.due, 1) if self.due else None


@dataclass(frozen=True, slots=True)
class Report:
    """Adherence over a span: per medicine (request id -> name, tally), per week (Monday -> tally) and overall."""

    start: datetime
    end: datetime
    medicines: list[tuple[str, str, Tally]]
    weeks: list[tuple[date, Tally]]
    overall: Tally


def _statuses(administrations: list[dict[str, Any]]) -> dict[str, str]:
    found = {}
    for administration in sorted(administrations, key=lambda a: a.get("meta", {}).get("lastUpdated", "")):
        for identifier in administration.get("identifier", []):
            if identifier.get("system") == schedule.DOSE_SYSTEM:
                found[identifier.get("value", "")] = administration.get("status", "")
    return found


def _tally(doses: list[schedule.Dose], statuses: dict[str, str]) -> Tally:
    return Tally(due=len(doses), taken=sum(statuses.get(d.key) == "completed" for d in doses),
                 skipped=sum(statuses.get(d.key) == "not-done" for d in doses))


def monday(day: date) -> date:
    """The Monday of day's week."""
    return day - timedelta(days=day.weekday())


def report(requests: list[dict[str, Any]], administrations: list[dict[str, Any]], *, tz: ZoneInfo, now: datetime,
           weeks: int = WEEKS) -> Report:
    """Adherence over the last `weeks` local weeks (this one included) up to now."""
    first = monday(now.astimezone(tz).date()) - timedelta(weeks=weeks - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    doses = schedule.doses_between(requests, start, now, tz)
    statuses = _statuses(administrations)
    by_medicine: dict[str, list[schedule.Dose]] = defaultdict(list)
    by_week: dict[date, list[schedule.Dose]] = {first + timedelta(weeks=n): [] for n in range(weeks)}
    for dose in doses:
        by_medicine[dose.request_id].append(dose)
        by_week[monday(dose.due.astimezone(tz).date())].append(dose)
    medicines = sorted(((rid, found[0].medicine, _tally(found, statuses)) for rid, found in by_medicine.items()),
                       key=lambda row: row[1])
    return Report(start=start, end=now, medicines=medicines,
                  weeks=[(week, _tally(found, statuses)) for week, found in sorted(by_week.items())],
                  overall=_tally(doses, statuses))
