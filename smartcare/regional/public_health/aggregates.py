"""Counting Condition records by ICD-10 code, ISO week and district, and publishing the counts with small cells hidden.

Plain functions over FHIR resources as dicts; the service fetches the records and audits.
A condition counts in the week of its onset (onsetDateTime, or the start of onsetPeriod) when that
is known to the day, otherwise in the week it was recorded (recordedDate). Conditions recorded in
error or refuted are left out, and so are those without an ICD-10 code. The district is the one of
the patient's home address (else their first current address), or its city when no district is given.
"""

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from smartcare.regional.public_health.districts import current_addresses
from smartcare.regional.public_health.suppression import DisclosureRule, hidden_counts, published

ICD10_SYSTEMS = frozenset({"http://hl7.org/fhir/sid/icd-10"})
EXCLUDED_VERIFICATION = frozenset({"entered-in-error", "refuted"})
DEFAULT_WEEKS = 12
MAX_WEEKS = 53
MAX_PLACE = 64
QUERY_PARAMETERS = frozenset({"code", "from", "to"})
# An ICD-10 code or the start of one: a letter, then up to two digits, then an optional subdivision.
_ICD10_PREFIX = re.compile(r"[A-Z]([0-9]{1,2}(\.?[0-9A-Z]{1,4})?)?")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class AggregateRequestInvalid(ValueError):
    """An aggregate request that cannot be answered as asked; the message says what to change."""

    status = 400


@dataclass(frozen=True, slots=True)
class AggregateQuery:
    """Which conditions to count: an optional ICD-10 code prefix, and whole ISO weeks from start (a Monday) to end (a Sunday)."""

    code: str | None
    start: date
    end: date

    @property
    def weeks(self) -> list[date]:
        """The Monday of every week in the period."""
        return [self.start + timedelta(weeks=n) for n in range((self.end - self.start).days // 7 + 1)]


@dataclass(slots=True)
class Tally:
    """Counts of conditions by (week, district) and by ICD-10 code, with a display name per code."""

    cells: Counter = field(default_factory=Counter)
    codes: Counter = field(default_factory=Counter)
    displays: dict[str, str] = field(default_factory=dict)


def week_of(day: date) -> date:
    """The Monday that starts day's ISO week."""
    return day - timedelta(days=day.weekday())


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or not _DAY.match(value):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_query(params: Iterable[tuple[str, str]], *, today: date) -> AggregateQuery:
    """Check an aggregate request (code, from, to) and return it; AggregateRequestInvalid otherwise.

    The period is widened to whole ISO weeks; without dates it is the last 12 weeks up to today's.
    """
    given: dict[str, str] = {}
    for name, value in params:
        if name not in QUERY_PARAMETERS:
            raise AggregateRequestInvalid(f"Unknown parameter '{name[:40]}': aggregates take only code, from and to")
        if name in given:
            raise AggregateRequestInvalid(f"The parameter '{name}' is given more than once")
        given[name] = value.strip()
    code = given.get("code", "").upper() or None
    if code is not None and not _ICD10_PREFIX.fullmatch(code):
        raise AggregateRequestInvalid("code must be an ICD-10 code or the start of one, such as J10 or A09.0")
    end = _date_param(given, "to") or today
    start = _date_param(given, "from") or end - timedelta(weeks=DEFAULT_WEEKS - 1)
    if start > end:
        raise AggregateRequestInvalid("from must not be after to")
    query = AggregateQuery(code, week_of(start), week_of(end) + timedelta(days=6))
    if len(query.weeks) > MAX_WEEKS:
        raise AggregateRequestInvalid(f"The period may span at most {MAX_WEEKS} weeks")
    return query


def _date_param(given: dict[str, str], name: str) -> date | None:
    value = given.get(name)
    if not value:
        return None
    day = _day(value) if len(value) == 10 else None
    if day is None:
        raise AggregateRequestInvalid(f"{name} must be a date written YYYY-MM-DD")
    return day


def icd10_coding(condition: dict[str, Any]) -> tuple[str, str] | None:
    """The condition's ICD-10 (code, display), or None when it has no ICD-10 code."""
    concept = condition.get("code")
    codings = concept.get("coding") if isinstance(concept, dict) else None
    for coding in codings if isinstance(codings, list) else []:
        if isinstance(coding, dict) and coding.get("system") in ICD10_SYSTEMS and isinstance(coding.get("code"), str):
            return coding["code"], str(coding.get("display") or "")
    return None


def case_day(condition: dict[str, Any]) -> date | None:
    """The day a condition counts on: its onset when known to the day, else the day it was recorded."""
    onset = _day(condition.get("onsetDateTime"))
    if onset is None and isinstance(condition.get("onsetPeriod"), dict):
        onset = _day(condition["onsetPeriod"].get("start"))
    return onset or _day(condition.get("recordedDate"))


def district_of(patient: dict[str, Any] | None) -> str | None:
    """The district of the patient's home address (or city when no district is given); None when unknown."""
    for address in current_addresses(patient):
        for part in ("district", "city"):
            place = address.get(part)
            if isinstance(place, str) and place.strip():
                return place.strip()[:MAX_PLACE]
    return None


def _counted(condition: dict[str, Any]) -> bool:
    status = condition.get("verificationStatus")
    codings = status.get("coding") if isinstance(status, dict) else None
    codes = {c.get("code") for c in codings if isinstance(c, dict)} if isinstance(codings, list) else set()
    return not codes & EXCLUDED_VERIFICATION


def _matches(code: str, prefix: str | None) -> bool:
    return prefix is None or code.replace(".", "").upper().startswith(prefix.replace(".", ""))


def tally(records: Iterable[tuple[dict[str, Any], dict[str, Any] | None]], query: AggregateQuery) -> Tally:
    """Count (condition, patient) pairs into weeks, districts and codes, as the module docstring describes."""
    counts = Tally()
    for condition, patient in records:
        coded = icd10_coding(condition)
        day = case_day(condition)
        if coded is None or day is None or not query.start <= day <= query.end or not _counted(condition):
            continue
        code, display = coded
        if not _matches(code, query.code):
            continue
        counts.cells[(week_of(day), district_of(patient))] += 1
        counts.codes[code] += 1
        counts.displays.setdefault(code, display)
    return counts


def publish(counts: Tally, query: AggregateQuery, rule: DisclosureRule) -> dict[str, Any]:
    """The counts as published: every week and district, their totals and the codes, small cells hidden."""
    weeks = query.weeks
    districts = sorted({district for _, district in counts.cells}, key=lambda d: (d is None, d or ""))
    values: dict[tuple, int] = {("total",): sum(counts.codes.values())}
    for week in weeks:
        values[("week", week)] = sum(counts.cells[(week, d)] for d in districts)
        for district in districts:
            values[("cell", week, district)] = counts.cells[(week, district)]
    for district in districts:
        values[("district", district)] = sum(counts.cells[(w, district)] for w in weeks)
    for code in counts.codes:
        values[("code", code)] = counts.codes[code]
    lines = [[("cell", w, d) for d in districts] + [("week", w)] for w in weeks]
    lines += [[("cell", w, d) for w in weeks] + [("district", d)] for d in districts]
    lines += [[("week", w) for w in weeks] + [("total",)], [("district", d) for d in districts] + [("total",)],
              [("code", c) for c in counts.codes] + [("total",)]]
    totals = frozenset(key for key in values if key[0] != "cell" and key[0] != "code")
    hidden = hidden_counts(values, lines, threshold=rule.threshold, totals=totals)

    def shown(key: tuple) -> int | str:
        return published(values[key], key, hidden, rule)

    return {
        "code": query.code,
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "threshold": rule.threshold,
        "shown_as": rule.shown_as,
        "reason": rule.reason,
        "source": rule.source,
        "total": shown(("total",)),
        "weeks": [{"week": w.isoformat(), "count": shown(("week", w))} for w in weeks],
        "districts": [{"district": d, "count": shown(("district", d))} for d in districts],
        "cells": [
            {"week": w.isoformat(), "district": d, "count": shown(("cell", w, d))} for w in weeks for d in districts
        ],
        "codes": [
            {"code": c, "display": counts.displays.get(c, ""), "count": shown(("code", c))}
            for c in sorted(counts.codes)
        ],
    }
