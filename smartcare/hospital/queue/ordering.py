"""The order of an outpatient queue, as plain functions over plain data (no database, no clock).

Rules (the usual ones of Chinese outpatient call systems, 分时段就诊 with 优先 and 过号):
- Patients are seen in the order of their appointment time; someone who arrives after their
  time waits from their arrival instead (a late arrival does not jump those already waiting).
- Priority patients (over 80, disabled, returning with results the doctor asked for) go ahead of
  the others whose turn has come, in their own order.
- A patient who was called and did not come (skipped) leaves the queue; when they check in again
  they are given a turn just behind the RETURN_BEHIND-th patient waiting then, so a missed call
  costs a few places, not the whole session (and they move up as the others are called).
- Ties go by queue number (who checked in first).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

RETURN_BEHIND = 3
DEFAULT_CONSULT_MINUTES = 8.0
RECENT_CONSULTS = 10
ELDERLY_AGE = 80


@dataclass(frozen=True, slots=True)
class Waiting:
    """A checked-in patient waiting to be called."""

    ticket_id: str
    number: int
    appointment_start: datetime
    arrived: datetime
    priority: bool = False
    returned_turn: datetime | None = None  # the turn a skipped patient was given when they came back


def turn(w: Waiting) -> datetime:
    """When the patient's turn begins: their appointment time, their arrival if they came late, or the
    turn they were given on coming back after a missed call."""
    if w.returned_turn is not None:
        return w.returned_turn
    return max(w.appointment_start, w.arrived)


def queue_order(waiting: list[Waiting]) -> list[Waiting]:
    """The waiting patients in the order they will be called."""
    return sorted(waiting, key=lambda w: (not w.priority or w.returned_turn is not None, turn(w), w.number))


def turn_on_return(waiting: list[Waiting], now: datetime) -> datetime:
    """The turn for a skipped patient checking in again: just behind the RETURN_BEHIND-th of those waiting."""
    ordered = queue_order(waiting)
    if not ordered:
        return now
    anchor = ordered[min(RETURN_BEHIND, len(ordered)) - 1]
    return turn(anchor) + timedelta(milliseconds=1)


def consult_minutes(durations: list[timedelta]) -> float:
    """The doctor's typical consultation: the mean of their last RECENT_CONSULTS, else a default."""
    recent = [d.total_seconds() / 60 for d in durations[:RECENT_CONSULTS] if d.total_seconds() > 0]
    if not recent:
        return DEFAULT_CONSULT_MINUTES
    return sum(recent) / len(recent)


def estimated_wait(ahead: int, minutes_per_patient: float, *, in_progress: bool = False) -> int:
    """Minutes until a patient with `ahead` people before them is called (the one being seen counts half)."""
    return round((ahead + (0.5 if in_progress else 0)) * minutes_per_patient)


def is_priority(*, age: int | None, disabled: bool, returning_with_results: bool) -> str | None:
    """Why a patient goes ahead ("elderly", "disabled", "results"), or None."""
    if age is not None and age > ELDERLY_AGE:
        return "elderly"
    if disabled:
        return "disabled"
    if returning_with_results:
        return "results"
    return None


def age_on(birth_date: str | None, day: datetime) -> int | None:
    """Whole years of age on day from a FHIR birthDate (YYYY, YYYY-MM or YYYY-MM-DD)."""
    if not birth_date:
        return None
    parts = [int(p) for p in birth_date.split("-")]
    year, month, dom = (parts + [1, 1])[:3]
    return day.year - year - ((day.month, day.day) < (month, dom))
