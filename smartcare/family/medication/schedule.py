"""A patient's dosing schedule from their active MedicationRequests: dose times per local day, food, tapering, PRN.

Pure functions over FHIR resources as dicts. Times are wall-clock times in the patient's time zone, turned into
instants with zoneinfo, so a dose at 08:00 stays at 08:00 local across daylight-saving changes; a time that does
not exist on the spring-forward day (02:30) falls due at the same distance after the gap (03:30).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from smartcare.platform.clock import format_instant

TIMEZONE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/timezone"
DOSE_SYSTEM = "https://smartcare.example/fhir/sid/medication-dose"
_PERIOD_DAYS = {"h": 1 / 24, "d": 1.0, "wk": 7.0, "mo": 30.0}
_DURATION_DAYS = {"d": 1, "wk": 7, "mo": 30, "a": 365}
MAX_DAYS = 62


class ScheduleError(ValueError):
    """A schedule asked for in a way that cannot be answered (an unknown time zone, too long a span)."""


@dataclass(frozen=True, slots=True)
class Dose:
    """One scheduled dose of one medicine."""

    key: str  # "{MedicationRequest id}:{due instant}": names the dose in reminders and MedicationAdministration
    request_id: str
    medicine: str
    due: datetime  # UTC
    local_time: str  # "HH:MM" in the patient's zone
    amount: str  # "1 tablet", "" when the order gives none
    food: str | None  # before-meal, after-meal, with-meal, bedtime, empty-stomach
    phase: int  # the dosageInstruction's sequence (tapering step), 1 for a single instruction
    instruction: str


@dataclass(frozen=True, slots=True)
class AsNeeded:
    """A medicine taken when needed: no reminders, but its most doses a day."""

    request_id: str
    medicine: str
    amount: str
    max_per_day: int | None
    reason: str


@cache
def dose_times() -> dict[str, Any]:
    """The default dose times, meal times and EventTiming meanings (data/dose_times.yaml)."""
    return yaml.safe_load((Path(__file__).parent / "data" / "dose_times.yaml").read_text(encoding="utf-8"))


def zone(name: str | None, default: str) -> ZoneInfo:
    """The IANA zone named (else default); ScheduleError for a name zoneinfo does not know."""
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"{(name or default)[:40]!r} is not an IANA time zone") from exc


def patient_zone(patient: dict[str, Any] | None, default: str) -> ZoneInfo:
    """The patient's time zone (the FHIR timezone extension on Patient), else default."""
    for ext in (patient or {}).get("extension", []):
        if ext.get("url") == TIMEZONE_EXTENSION and ext.get("valueCode"):
            try:
                return zone(ext["valueCode"], default)
            except ScheduleError:
                break
    return zone(None, default)


def medicine_name(resource: dict[str, Any]) -> str:
    """How the order names its medicine: the concept's text, else the first coding's display or code."""
    concept = resource.get("medicationCodeableConcept") or {}
    if concept.get("text"):
        return str(concept["text"])[:200]
    for coding in concept.get("coding", []):
        if coding.get("display") or coding.get("code"):
            return str(coding.get("display") or coding["code"])[:200]
    return str((resource.get("medicationReference") or {}).get("display") or "")[:200]


def dose_amount(dosage: dict[str, Any]) -> tuple[float | None, str]:
    """The amount of one dose (value, shown text) of a dosageInstruction."""
    for rate in dosage.get("doseAndRate") or []:
        quantity = (rate or {}).get("doseQuantity")
        if quantity and isinstance(quantity.get("value"), int | float):
            value = quantity["value"]
            shown = f"{value:g} {quantity.get('unit') or quantity.get('code') or ''}".strip()
            return float(value), shown
    return None, ""


def _hhmm(text: str) -> time:
    hour, minute = str(text).split(":")[:2]
    return time(int(hour), int(minute))


def _shift(moment: time, minutes: int) -> time:
    total = (moment.hour * 60 + moment.minute + minutes) % (24 * 60)
    return time(total // 60, total % 60)


def _when_times(codes: list[str]) -> list[tuple[time, str | None]]:
    data = dose_times()
    meals, found = data["meals"], []
    for code in codes:
        meaning = data["when"].get(code)
        if meaning is None:
            continue
        food = meaning.get("food")
        offset = meaning.get("minutes", {"before-meal": -meals["before_meal_minutes"],
                                         "after-meal": meals["after_meal_minutes"]}.get(food, 0))
        found += [(_shift(_hhmm(meals[meal]), offset), food) for meal in meaning["meals"]]
    return found


def _per_day_times(count: int) -> list[time]:
    table = dose_times()["per_day"]
    if str(count) in table:
        return [_hhmm(t) for t in table[str(count)]]
    start = _hhmm(dose_times()["interval_start"]["time"])
    return [_shift(start, round(i * 24 * 60 / count)) for i in range(count)]


def _interval_times(hours: float) -> list[time]:
    start = _hhmm(dose_times()["interval_start"]["time"])
    count = max(1, int(24 // hours))
    return [_shift(start, round(i * hours * 60)) for i in range(count)]


def times_of_day(timing: dict[str, Any]) -> tuple[list[tuple[time, str | None]], int]:
    """A Timing's local dose times with their food relation, and every how many days they repeat."""
    repeat = timing.get("repeat") or {}
    food = next((f for _, f in _when_times(repeat.get("when") or [])), None)
    if repeat.get("timeOfDay"):
        return sorted({(_hhmm(t), food) for t in repeat["timeOfDay"]}), 1
    if repeat.get("when"):
        slots = sorted(set(_when_times(repeat["when"])))
        wanted = repeat.get("frequency") if repeat.get("periodUnit") == "d" and repeat.get("period") == 1 else None
        if isinstance(wanted, int) and 0 < wanted < len(slots):
            # BID with the meals: the first and the last meal of the day, not all three.
            slots = [slots[0], slots[-1]] if wanted == 2 else slots[:wanted]
        return slots, 1
    code = next((c.get("code") for c in (timing.get("code") or {}).get("coding", []) if c.get("code")), None)
    known = dose_times()["codes"].get(code or "")
    if known:
        if "when" in known:
            return sorted(set(_when_times(known["when"]))), 1
        if "every_hours" in known:
            return [(t, None) for t in _interval_times(known["every_hours"])], 1
        return [(t, None) for t in _per_day_times(known["per_day"])], known.get("every_days", 1)
    freq, period, unit = repeat.get("frequency", 1), repeat.get("period"), repeat.get("periodUnit")
    if not isinstance(period, int | float) or period <= 0 or unit not in _PERIOD_DAYS or not isinstance(freq, int):
        return [], 1
    if unit == "h":
        return [(t, None) for t in _interval_times(period / max(freq, 1))], 1
    days = period * _PERIOD_DAYS[unit]
    if days <= 1:
        return [(t, None) for t in _per_day_times(max(1, round(freq / days)))], 1
    return [(t, None) for t in _per_day_times(1)], max(1, round(days / max(freq, 1)))


def _day_of(text: str | None, tz: ZoneInfo) -> date | None:
    if not text:
        return None
    if len(text) <= 10:
        return date.fromisoformat(text[:10]) if len(text) == 10 else None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(tz).date()


def _written(request: dict[str, Any]) -> datetime | None:
    """The instant the order starts (its validity period's start, else authoredOn) when it gives one to the minute."""
    text = ((request.get("dispenseRequest") or {}).get("validityPeriod") or {}).get("start") or request.get("authoredOn")
    if not isinstance(text, str) or len(text) <= 10:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def phases(request: dict[str, Any], tz: ZoneInfo) -> list[tuple[dict[str, Any], date | None, date | None]]:
    """Each dosageInstruction in sequence order with its first and last local day (None: open).

    boundsPeriod gives the days directly; boundsDuration chains the steps of a taper one after another from the
    order's start (its validity period, else authoredOn).
    """
    dosages = sorted(enumerate(request.get("dosageInstruction") or []),
                     key=lambda pair: (pair[1].get("sequence", pair[0] + 1), pair[0]))
    validity = (request.get("dispenseRequest") or {}).get("validityPeriod") or {}
    cursor = _day_of(validity.get("start") or request.get("authoredOn"), tz)
    found = []
    for _, dosage in dosages:
        repeat = (dosage.get("timing") or {}).get("repeat") or {}
        bounds, duration = repeat.get("boundsPeriod"), repeat.get("boundsDuration")
        if bounds:
            first, last = _day_of(bounds.get("start"), tz), _day_of(bounds.get("end"), tz)
        elif duration and isinstance(duration.get("value"), int | float) and duration.get("code", duration.get(
                "unit")) in _DURATION_DAYS:
            first = cursor
            days = int(duration["value"] * _DURATION_DAYS[duration.get("code") or duration["unit"]])
            last = first + timedelta(days=days - 1) if first else None
        else:
            first, last = cursor, None
        found.append((dosage, first, last))
        cursor = last + timedelta(days=1) if last else cursor
    return found


def _as_needed(dosage: dict[str, Any]) -> bool:
    return bool(dosage.get("asNeededBoolean") or dosage.get("asNeededCodeableConcept"))


def _max_per_day(dosage: dict[str, Any], amount: float | None) -> int | None:
    ceiling = dosage.get("maxDosePerPeriod") or {}
    top, per = (ceiling.get("numerator") or {}).get("value"), ceiling.get("denominator") or {}
    if isinstance(top, int | float):
        days = per.get("value", 1) * _PERIOD_DAYS.get(per.get("code") or per.get("unit") or "d", 1.0)
        doses = top / (amount or 1) / (days or 1)
        return max(1, int(doses))
    repeat = (dosage.get("timing") or {}).get("repeat") or {}
    if isinstance(repeat.get("frequency"), int) and repeat.get("periodUnit") == "d" and repeat.get("period") == 1:
        return repeat.get("frequencyMax") or repeat["frequency"]
    return None


def is_active(request: dict[str, Any]) -> bool:
    """True for an order the patient should be taking now (active, not a do-not-perform)."""
    return request.get("resourceType") == "MedicationRequest" and request.get("status") == "active" \
        and not request.get("doNotPerform")


def doses_on(requests: list[dict[str, Any]], day: date, tz: ZoneInfo) -> list[Dose]:
    """The scheduled doses of the active orders on one local day, in time order. A dose due before its order was
    written is none: an order signed at 10:00 cannot have been taken at 08:00 that morning."""
    found = []
    for request in requests:
        if not is_active(request):
            continue
        written = _written(request)
        for dosage, first, last in phases(request, tz):
            if _as_needed(dosage) or (first and day < first) or (last and day > last):
                continue
            slots, every_days = times_of_day(dosage.get("timing") or {})
            if every_days > 1 and first and (day - first).days % every_days:
                continue
            _, amount = dose_amount(dosage)
            for moment, food in slots:
                due = datetime.combine(day, moment, tzinfo=tz).astimezone(UTC)
                if written is not None and due < written:
                    continue
                found.append(Dose(
                    key=f"{request['id']}:{format_instant(due)}", request_id=request["id"],
                    medicine=medicine_name(request), due=due, local_time=moment.strftime("%H:%M"), amount=amount,
                    food=food, phase=int(dosage.get("sequence", 1)), instruction=str(dosage.get("text", ""))[:300]))
    return sorted(found, key=lambda d: (d.due, d.medicine))


def doses_between(requests: list[dict[str, Any]], start: datetime, end: datetime, tz: ZoneInfo) -> list[Dose]:
    """The scheduled doses due in [start, end), at most MAX_DAYS days."""
    if end - start > timedelta(days=MAX_DAYS):
        raise ScheduleError(f"a schedule spans at most {MAX_DAYS} days")
    day, last = start.astimezone(tz).date() - timedelta(days=1), end.astimezone(tz).date()
    found = []
    while day <= last:
        found += [d for d in doses_on(requests, day, tz) if start <= d.due < end]
        day += timedelta(days=1)
    return found


def as_needed(requests: list[dict[str, Any]], day: date, tz: ZoneInfo) -> list[AsNeeded]:
    """The medicines to take when needed on a local day, with their most doses a day."""
    found = []
    for request in requests:
        if not is_active(request):
            continue
        for dosage, first, last in phases(request, tz):
            if not _as_needed(dosage) or (first and day < first) or (last and day > last):
                continue
            value, amount = dose_amount(dosage)
            reason = (dosage.get("asNeededCodeableConcept") or {}).get("text", "")
            found.append(AsNeeded(request_id=request["id"], medicine=medicine_name(request), amount=amount,
                                  max_per_day=_max_per_day(dosage, value), reason=str(reason)[:200]))
    return found


def doses_per_day(request: dict[str, Any], day: date, tz: ZoneInfo) -> float:
    """How many units (tablets ...) of the order the schedule takes on a local day (scheduled doses only)."""
    total = 0.0
    for dosage, first, last in phases(request, tz):
        if _as_needed(dosage) or (first and day < first) or (last and day > last):
            continue
        slots, every_days = times_of_day(dosage.get("timing") or {})
        value, _ = dose_amount(dosage)
        total += len(slots) * (value or 1) / every_days
    return total


def dose_key(request_id: str, due: datetime) -> str:
    """The name of one dose, as reminders and MedicationAdministration.identifier carry it."""
    return f"{request_id}:{format_instant(due)}"


def parse_dose_key(key: str) -> tuple[str, datetime]:
    """(MedicationRequest id, due instant) of a dose key; ScheduleError if it is not one."""
    request_id, _, due = (key or "")[:120].partition(":")
    try:
        moment = datetime.fromisoformat(due.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if not request_id or moment is None or moment.tzinfo is None:
        raise ScheduleError("a dose is named as <MedicationRequest id>:<due instant>")
    return request_id, moment.astimezone(UTC)
