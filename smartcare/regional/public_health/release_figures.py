"""The figures of a public release: case reports counted by disease, ISO week and district, small cells hidden.

Plain functions over case facts (case_model.CaseFacts); releases.py reads the store, audits and keeps the result.
A case counts when its report is in a counted state and not closed as not a case (case_model.counts), in the ISO week of its count date
(onset, else diagnosis), in the district its report names when that is one of the region's districts
(data/districts.geojson), else under "elsewhere or unknown". Every table the public sees is published from one set
of counts with the existing small-cell rule (suppression.py), so no hidden count can be taken back from a total:

    cells            disease x week x district        disease by week     disease x week   (table, curves)
    disease by district  disease x district           all by week         week             (headline, curve)
    all by district  district                         totals              disease, all
    last 4 weeks and the 4 before, by disease and for all (trends; only for periods of 8 weeks or more)
"""

import re
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from smartcare.knowledge import notifiable
from smartcare.platform.i18n import _
from smartcare.platform.settings import get_settings
from smartcare.regional.public_health.aggregates import week_of
from smartcare.regional.public_health.case_model import CaseFacts, count_date
from smartcare.regional.public_health.case_model import counts as case_counts
from smartcare.regional.public_health.suppression import HIDDEN, DisclosureRule, hidden_counts, published

DEFAULT_WEEKS = 8
MAX_WEEKS = 26
TREND_WEEKS = 4
_ISO_WEEK = re.compile(r"([0-9]{4})-[Ww]([0-9]{2})")

Count = int | str  # a published count: the number, the rule's "<5", or HIDDEN


class ReleaseInvalid(ValueError):
    """A release, announcement or decision that cannot be made as asked; field names the form field at fault.

    message is a catalog message with {name} placeholders filled from params, so pages can show it translated.
    """

    status = 400

    def __init__(self, message: str, *, field: str | None = None, **params: Any):
        super().__init__(message.format(**params))
        self.template, self.field, self.params = message, field, params


@dataclass(frozen=True, slots=True)
class Period:
    """Whole ISO weeks: from the Monday start, weeks long."""

    start: date
    weeks: int

    @property
    def end(self) -> date:
        """The Sunday that ends the last week."""
        return self.start + timedelta(days=7 * self.weeks - 1)

    @property
    def mondays(self) -> list[date]:
        """The Monday of every week, in order."""
        return [self.start + timedelta(weeks=n) for n in range(self.weeks)]


def week_label(monday: date) -> str:
    """A week in ISO 8601 week notation, such as 2026-W09."""
    year, week, _day = monday.isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(text: str) -> date | None:
    """The Monday of an ISO week written YYYY-Www; None when text is not one."""
    found = _ISO_WEEK.fullmatch(text.strip())
    if not found:
        return None
    try:
        return date.fromisocalendar(int(found.group(1)), int(found.group(2)), 1)
    except ValueError:
        return None


def default_period(today: date) -> Period:
    """The last DEFAULT_WEEKS complete weeks before today's."""
    last = week_of(today) - timedelta(weeks=1)
    return Period(last - timedelta(weeks=DEFAULT_WEEKS - 1), DEFAULT_WEEKS)


def parse_period(first: str, last: str, *, today: date) -> Period:
    """The period between two ISO weeks (empty: the default), complete weeks only; ReleaseInvalid otherwise."""
    if not first.strip() and not last.strip():
        return default_period(today)
    weeks = {}
    for field, text in (("first_week", first), ("last_week", last)):
        weeks[field] = parse_week(text[:20])
        if weeks[field] is None:
            raise ReleaseInvalid(_("Write the week as year and week number, such as {example}."), field=field,
                                 example=week_label(default_period(today).start))
    start, end = weeks["first_week"], weeks["last_week"]
    if end >= week_of(today):
        raise ReleaseInvalid(_("The last week must be a complete week, {week} or earlier."), field="last_week",
                             week=week_label(week_of(today) - timedelta(weeks=1)))
    if start > end:
        raise ReleaseInvalid(_("The first week must not be after the last week."), field="first_week")
    count = (end - start).days // 7 + 1
    if count > MAX_WEEKS:
        raise ReleaseInvalid(_("A release covers at most {weeks} weeks."), field="first_week", weeks=MAX_WEEKS)
    return Period(start, count)


@cache
def _catalogue_at(path: str) -> notifiable.Catalogue:
    return notifiable.load(Path(path)) if path else notifiable.load()


def catalogue() -> notifiable.Catalogue:
    """The notifiable-disease list public health works to (settings.notifiable_list, else China's 2025 list)."""
    return _catalogue_at(get_settings().notifiable_list)


def count_cases(cases: Iterable[CaseFacts], period: Period, districts: Sequence[str]) -> Counter:
    """Counted cases by (disease, week's Monday, district code or None) within period."""
    known = frozenset(districts)
    counts: Counter = Counter()
    for case in cases:
        day = count_date(case)
        if not case_counts(case) or not case.disease or day is None or not period.start <= day <= period.end:
            continue
        counts[(case.disease, week_of(day), case.district if case.district in known else None)] += 1
    return counts


def _trend_spans(period: Period) -> tuple[list[date], list[date]] | None:
    mondays = period.mondays
    if len(mondays) < 2 * TREND_WEEKS:
        return None
    return mondays[-TREND_WEEKS:], mondays[-2 * TREND_WEEKS:-TREND_WEEKS]


def _tables(counts: Counter, period: Period, diseases: list[str], places: list[str | None]) -> dict[tuple, int]:
    """Every count the release publishes, keyed by table: c(ell), dw, dg, d, w, g, t, and trend spans."""
    values: dict[tuple, int] = {("t",): sum(counts.values())}
    for d in diseases:
        values[("d", d)] = sum(n for (disease, _w, _g), n in counts.items() if disease == d)
        for w in period.mondays:
            values[("dw", d, w)] = sum(counts[(d, w, g)] for g in places)
            for g in places:
                values[("c", d, w, g)] = counts[(d, w, g)]
        for g in places:
            values[("dg", d, g)] = sum(counts[(d, w, g)] for w in period.mondays)
    for w in period.mondays:
        values[("w", w)] = sum(values[("dw", d, w)] for d in diseases)
    for g in places:
        values[("g", g)] = sum(values[("dg", d, g)] for d in diseases)
    spans = _trend_spans(period)
    if spans:
        for name, weeks in zip(("recent", "previous"), spans, strict=True):
            values[(name,)] = sum(values[("w", w)] for w in weeks)
            for d in diseases:
                values[(name, d)] = sum(values[("dw", d, w)] for w in weeks)
    return values


def _lines(period: Period, diseases: list[str], places: list[str | None]) -> list[list[Hashable]]:
    """Groups of published counts that add up to another published count (the last of each line)."""
    weeks = period.mondays
    lines: list[list[Hashable]] = []
    for d in diseases:
        lines += [[("c", d, w, g) for g in places] + [("dw", d, w)] for w in weeks]
        lines += [[("c", d, w, g) for w in weeks] + [("dg", d, g)] for g in places]
        lines += [[("dw", d, w) for w in weeks] + [("d", d)], [("dg", d, g) for g in places] + [("d", d)]]
    lines += [[("dw", d, w) for d in diseases] + [("w", w)] for w in weeks]
    lines += [[("dg", d, g) for d in diseases] + [("g", g)] for g in places]
    lines += [[("w", w) for w in weeks] + [("t",)], [("g", g) for g in places] + [("t",)],
              [("d", d) for d in diseases] + [("t",)]]
    spans = _trend_spans(period)
    if spans:
        for name, span in zip(("recent", "previous"), spans, strict=True):
            lines += [[("dw", d, w) for w in span] + [(name, d)] for d in diseases]
            lines += [[("w", w) for w in span] + [(name,)], [(name, d) for d in diseases] + [(name,)]]
        if period.weeks == 2 * TREND_WEEKS:
            lines += [[("recent", d), ("previous", d), ("d", d)] for d in diseases]
            lines += [[("recent",), ("previous",), ("t",)]]
    return lines


def publish(counts: Counter, period: Period, *, districts: Sequence[str], order: Sequence[str],
            rule: DisclosureRule) -> dict[str, Any]:
    """The release's figures as the public sees them: every table, small and complementary cells hidden.

    districts are the region's codes (all shown, with "elsewhere or unknown" added when it has cases); order is the
    list's disease order (diseases without a case in the period are left out).
    """
    rank = {disease: n for n, disease in enumerate(order)}
    diseases = sorted({d for (d, _w, _g), n in counts.items() if n}, key=lambda d: (rank.get(d, len(rank)), d))
    places: list[str | None] = list(districts) + ([None] if any(g is None for _d, _w, g in counts) else [])
    values = _tables(counts, period, diseases, places)
    totals = frozenset(key for key in values if key[0] != "c")
    hidden = hidden_counts(values, _lines(period, diseases, places), threshold=rule.threshold, totals=totals)

    def shown(*key: Hashable) -> Count | None:
        return published(values[key], key, hidden, rule) if key in values else None

    def table(disease: str | None = None) -> dict[str, Any]:
        def key(for_all: str, for_disease: str, *rest: Hashable) -> tuple:
            return (for_disease, disease, *rest) if disease else (for_all, *rest)

        return {
            "total": shown(*key("t", "d")),
            "weeks": [{"week": week_label(w), "count": shown(*key("w", "dw", w))} for w in period.mondays],
            "districts": [{"district": g, "count": shown(*key("g", "dg", g))} for g in places],
            "recent_4_weeks": shown(*key("recent", "recent")), "previous_4_weeks": shown(*key("previous", "previous")),
        }

    return {
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat(),
                   "first_week": week_label(period.start), "last_week": week_label(period.mondays[-1])},
        "weeks": [week_label(w) for w in period.mondays],
        "districts": places,
        "suppression": {"threshold": rule.threshold, "small_shown_as": rule.shown_as, "hidden_shown_as": HIDDEN,
                        "reason": rule.reason, "source": rule.source},
        "all": table(),
        "diseases": [{"disease": d, **table(d),
                      "cells": [{"week": week_label(w), "district": g, "count": shown("c", d, w, g)}
                                for w in period.mondays for g in places]} for d in diseases],
    }
