"""Weekly counts from before SmartCare: the notifiable-disease history a region brings with it, for detection.

A detector that compares this week with the same weeks of earlier years (Farrington, Noufaily) needs years of
counts. A region starting on SmartCare has them in its previous reporting system as weekly counts by disease and
district, not as case reports, so they are imported once from a CSV (`smartcare surveillance import-history`) and
kept as FHIR MeasureReports of type "summary": one per disease and year (id `history-<disease>-<year>`, so a second
import of the same year replaces it), each stratum a week and district with its count. They name no one.
Detection adds these weeks before the first week the region's own case reports cover.
"""

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.search.execute import run_search
from smartcare.fhir.search.query import QueryCompiler
from smartcare.platform import audit, clock
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import decide_dataset
from smartcare.regional.public_health.case_model import DISEASE_SYSTEM, DISTRICT_SYSTEM, LOCAL
from smartcare.regional.public_health.districts import region_districts
from smartcare.regional.public_health.release_figures import catalogue, parse_week

MEASURE = LOCAL + "Measure/notifiable-disease-weekly-history"
SOURCE = LOCAL + "StructureDefinition/history-source"
CASE_REPORTS = "case-reports"  # the dataset whose readers (public-health officers) may import history
COLUMNS = ("disease", "district", "week", "count")
MAX_ROWS = 500_000
MAX_BYTES = 50 * 1024 * 1024
MAX_PROBLEMS = 20
MAX_COUNT = 1_000_000
MAX_SOURCE = 200
PAGE_SIZE = 200


class HistoryInvalid(ValueError):
    """A history file that cannot be imported as given; problems name each line at fault (at most 20)."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class WeekCount:
    """One imported count: the cases of a disease in a district (None: unknown) in the week starting on a Monday."""

    disease: str
    district: str | None
    week: date
    count: int


def _week(text: str) -> date | None:
    """The Monday of a week written YYYY-Www, or a Monday written YYYY-MM-DD; None otherwise."""
    monday = parse_week(text)
    if monday is not None:
        return monday
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return None
    return day if day.isoweekday() == 1 else None


def _row(line: int, row: dict[str, str], diseases: set[str], districts: set[str]) -> WeekCount | str:
    disease, district = (row.get("disease") or "").strip(), (row.get("district") or "").strip()
    week, count = _week(row.get("week") or ""), (row.get("count") or "").strip()
    if disease not in diseases:
        return f"line {line}: '{disease[:40]}' is not a disease of the notifiable list"
    if district and district not in districts:
        return f"line {line}: '{district[:40]}' is not a district code of the region (leave it empty if unknown)"
    if week is None:
        return f"line {line}: the week must be YYYY-Www or the Monday as YYYY-MM-DD"
    if not (count.isascii() and count.isdigit()) or int(count) > MAX_COUNT:
        return f"line {line}: the count must be a whole number from 0 to {MAX_COUNT}"
    return WeekCount(disease, district or None, week, int(count))


def parse_csv(text: str) -> list[WeekCount]:
    """The weekly counts of a history CSV (disease, district, week, count); raises HistoryInvalid naming each fault."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise HistoryInvalid([f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB"])
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or [f.strip() for f in reader.fieldnames] != list(COLUMNS):
        raise HistoryInvalid([f"the first line must be the header {','.join(COLUMNS)}"])
    diseases = {d.id for d in catalogue().diseases}
    districts = {d.code for d in region_districts()}
    rows: list[WeekCount] = []
    problems: list[str] = []
    seen: set[tuple[str, str | None, date]] = set()
    for line, raw in enumerate(reader, start=2):
        if line - 1 > MAX_ROWS:
            raise HistoryInvalid([f"the file has more than {MAX_ROWS} rows"])
        parsed = _row(line, raw, diseases, districts)
        if isinstance(parsed, str):
            problems.append(parsed)
        elif (parsed.disease, parsed.district, parsed.week) in seen:
            problems.append(f"line {line}: the week {parsed.week} of {parsed.disease} in this district came before")
        else:
            seen.add((parsed.disease, parsed.district, parsed.week))
            rows.append(parsed)
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise HistoryInvalid(problems)
    if not rows:
        raise HistoryInvalid(["the file has no rows"])
    return rows


def _stratum(week: date, district: str | None, count: int) -> dict[str, Any]:
    place = ({"coding": [{"system": DISTRICT_SYSTEM, "code": district}]} if district
             else {"text": "unknown"})
    return {"component": [{"code": {"text": "week"}, "value": {"text": week.isoformat()}},
                          {"code": {"text": "district"}, "value": place}],
            "measureScore": {"value": count}}


def _measure_report(disease: str, year: int, counts: list[WeekCount], source: str) -> dict[str, Any]:
    counts = sorted(counts, key=lambda c: (c.week, c.district or ""))
    return {
        "resourceType": "MeasureReport", "id": f"history-{disease}-{year}", "status": "complete",
        "type": "summary", "measure": MEASURE, "date": clock.format_instant(clock.now()),
        "period": {"start": counts[0].week.isoformat(), "end": counts[-1].week.isoformat()},
        "extension": [{"url": SOURCE, "valueString": source}],
        "group": [{"code": {"coding": [{"system": DISEASE_SYSTEM, "code": disease}]},
                   "stratifier": [{"code": [{"text": "week"}, {"text": "district"}],
                                   "stratum": [_stratum(c.week, c.district, c.count) for c in counts]}]}],
    }


def import_history(conn: Connection, *, ctx: AccessContext, counts: Iterable[WeekCount], source: str) -> int:
    """Keep the weekly counts as one MeasureReport per disease and year (replacing an earlier import of that year);
    how many MeasureReports were written. Public-health officers (or the system) only; audited once."""
    if ctx is not SYSTEM:
        decide_dataset(ctx, CASE_REPORTS)
    source = " ".join(source.split())[:MAX_SOURCE] or "imported weekly counts"
    by_year: dict[tuple[str, int], list[WeekCount]] = defaultdict(list)
    for count in counts:
        by_year[(count.disease, count.week.isocalendar()[0])].append(count)
    writes = [store.Write("PUT", "MeasureReport", f"history-{disease}-{year}",
                          _measure_report(disease, year, rows, source))
              for (disease, year), rows in sorted(by_year.items())]
    stored = store.write_batch(conn, SYSTEM, writes) if writes else []
    audit.record(conn, ctx=ctx, action="U", subtype="update", purpose="PUBHLTH",
                 entities=[s.reference for s in stored][:50],
                 description=f"notifiable-disease history imported: {len(stored)} disease-years from {source}")
    return len(stored)


def _read_stratum(stratum: dict[str, Any]) -> tuple[date, str | None, int] | None:
    parts = {str((c.get("code") or {}).get("text")): c.get("value") or {} for c in stratum.get("component") or []}
    try:
        week = date.fromisoformat(str(parts["week"].get("text")))
    except (KeyError, ValueError):
        return None
    codings = parts.get("district", {}).get("coding") or []
    district = next((str(c.get("code")) for c in codings if c.get("system") == DISTRICT_SYSTEM), None)
    score = (stratum.get("measureScore") or {}).get("value")
    return (week, district, int(score)) if isinstance(score, int | float) else None


def weekly_history(conn: Connection) -> dict[tuple[str, str | None], dict[date, int]]:
    """Every imported count as {(disease, district): {Monday: count}}, read as the platform (it names no one)."""
    history: dict[tuple[str, str | None], dict[date, int]] = defaultdict(dict)
    offset = 0
    while True:
        request = QueryCompiler(strict=True).parse("MeasureReport", [("measure", MEASURE)],
                                                   default_count=PAGE_SIZE, max_count=PAGE_SIZE)
        request.offset, request.total = offset, "none"
        result = run_search(conn, SYSTEM, request)
        for found in result.matches:
            for group in found.resource.get("group") or []:
                codings = (group.get("code") or {}).get("coding") or []
                disease = next((str(c.get("code")) for c in codings if c.get("system") == DISEASE_SYSTEM), None)
                for stratifier in group.get("stratifier") or [] if disease else []:
                    for stratum in stratifier.get("stratum") or []:
                        read = _read_stratum(stratum)
                        if read is not None:
                            history[(disease, read[1])][read[0]] = read[2]
        if not result.has_next:
            return dict(history)
        offset += len(result.matches)
