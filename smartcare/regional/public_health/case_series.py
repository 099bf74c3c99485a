"""Counts of notifiable-disease case reports per day by disease (and subtype) and district, from one read of the store.

`read_cases` reads every case report once, as the platform (callers decide access and audit), with the case's
district: the one the report names, else the district of the patient's home address when it is one of the region's
(data/districts.geojson), else none (the case then counts for the whole region only). `daily_counts` counts the
reports that count (case_model.counts) by the day chosen as basis, in the region's time zone:

    onset   the day of onset the report gives, else the day of diagnosis
    report  the day the report was submitted, else the day of diagnosis (reports older than the workflow)

A series is named by its subject (the disease id, or "disease/subtype" for a subtype the list names) and its place
(a district code, or REGION for every case). The detection runs (detection.py) count from here.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from smartcare.platform.settings import get_settings
from smartcare.regional.public_health.case_model import CaseFacts, counts, facts
from smartcare.regional.public_health.case_reports import document_type
from smartcare.regional.public_health.districts import code_of, region_districts
from smartcare.regional.public_health.releases import search_as_platform

REGION = "region"
BASES = ("onset", "report")
PAGE_SIZE = 1000
MAX_CASE_REPORTS = 500_000


class TooManyCaseReports(ValueError):
    """More case reports than one run reads; the run stops rather than answer from part of them."""


def zone() -> ZoneInfo:
    """The region's time zone."""
    return ZoneInfo(get_settings().region_timezone)


def district_for(case: CaseFacts, patient: dict[str, Any] | None) -> str | None:
    """The region's district code of a case: the report's own, else its patient's home district, else None."""
    if case.district in {d.code for d in region_districts()}:
        return case.district
    return code_of(patient)


def read_cases(conn: Connection) -> Iterator[CaseFacts]:
    """The facts of every case report in the store, with the district filled in as the module says (one search,
    paged). Raises TooManyCaseReports beyond MAX_CASE_REPORTS."""
    wanted = document_type()
    params = [("type", f"{wanted['system']}|{wanted['code']}"), ("_sort", "_id"),
              ("_include", "Composition:subject:Patient")]
    offset = 0
    while True:
        result = search_as_platform(conn, "Composition", params, count=PAGE_SIZE, offset=offset)
        patients = {f"Patient/{s.res_id}": s.resource for s in result.included if s.res_type == "Patient"}
        for found in result.matches:
            case = facts(found.resource)
            yield replace(case, district=district_for(case, patients.get(case.patient or "")))
        offset += len(result.matches)
        if not result.has_next:
            return
        if offset >= MAX_CASE_REPORTS:
            raise TooManyCaseReports(f"more than {MAX_CASE_REPORTS} case reports")


def _local(moment: datetime | None) -> date | None:
    return moment.astimezone(zone()).date() if moment is not None else None


def case_day(case: CaseFacts, basis: str) -> date | None:
    """The day a case counts on for basis ("onset" or "report"), as the module says."""
    if basis == "report":
        return _local(case.submitted_at) or _local(case.diagnosed_at)
    return case.onset or _local(case.diagnosed_at)


def subjects_of(case: CaseFacts) -> list[str]:
    """The subjects a case counts under: its disease, and its disease's subtype when the report names one."""
    if not case.disease:
        return []
    return [case.disease, f"{case.disease}/{case.subtype}"] if case.subtype else [case.disease]


def daily_counts(cases: Iterable[CaseFacts], *, basis: str) -> tuple[dict[tuple[str, str], Counter], date | None]:
    """Counted cases per day for every (subject, place) that has any, and the earliest day any counted case falls
    on (None when there is none)."""
    by_series: dict[tuple[str, str], Counter] = defaultdict(Counter)
    first: date | None = None
    for case in cases:
        day = case_day(case, basis)
        if not counts(case) or day is None:
            continue
        first = day if first is None else min(first, day)
        for subject in subjects_of(case):
            by_series[(subject, REGION)][day] += 1
            if case.district:
                by_series[(subject, case.district)][day] += 1
    return dict(by_series), first


def with_history(daily: dict[tuple[str, str], Counter], weekly: dict[tuple[str, str | None], dict[date, int]], *,
                 before: date) -> tuple[dict[tuple[str, str], Counter], date | None]:
    """The daily counts with the imported weekly history (history.weekly_history) added on each week's Monday,
    for the weeks starting before `before` (the first week the case reports cover), and the earliest day either has.
    Weekly series sum a week's days, so a week's count on its Monday is the week's count."""
    merged: dict[tuple[str, str], Counter] = defaultdict(Counter, {key: Counter(days) for key, days in daily.items()})
    first: date | None = None
    for (disease, district), weeks in weekly.items():
        for monday, n in weeks.items():
            if monday >= before:
                continue
            first = monday if first is None else min(first, monday)
            merged[(disease, REGION)][monday] += n
            if district:
                merged[(disease, district)][monday] += n
    return dict(merged), first


def series_of(days: Counter, start: date, length: int) -> list[int]:
    """The counts of one series on each of length days from start."""
    return [days.get(start + timedelta(days=n), 0) for n in range(length)]
