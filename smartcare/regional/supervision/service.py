"""The supervision feed: every facility's quality indicators by month, read from the store and the queue, audited.

The policy decides first (`decide_dataset(ctx, "aggregates")`: figures by place and period, no person
in them); only then does the platform read the records as itself. The indicators are counts, means and
medians per facility and month: no patient, record id or name leaves. Outpatient waits come from the
queue's own tables (hospital/queue/models.py: arrived and called_at per ticket), the one place they are kept.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir.search.execute import run_search
from smartcare.fhir.search.query import QueryCompiler
from smartcare.platform import audit, clock
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import decide_dataset
from smartcare.regional.supervision import indicators as ind

DATASET = "aggregates"
PURPOSE = "HOPERAT"  # v3 ActReason: healthcare operations (quality oversight)
DEFAULT_MONTHS = 12
MAX_MONTHS = 36
PAGE_SIZE = 500
MAX_RECORDS = 500_000
CRITICAL_TASK = "https://smartcare.example/fhir/CodeSystem/lab-task|critical-value"
QUERY_PARAMETERS = frozenset({"from", "to"})
# The queue's tables (hospital/queue/models.py), named here by the columns read rather than imported, because
# regional modules may not import hospital ones (tests/platform/test_layering.py); the queue owns them.
queue_session = sa.table("queue_session", sa.column("key"), sa.column("practitioner_id"))
queue_ticket = sa.table("queue_ticket", sa.column("session_key"), sa.column("arrived"), sa.column("called_at"),
                        sa.column("returned_at"))


class IndicatorRequestInvalid(ValueError):
    """An indicator request that cannot be answered as asked; the message says what to change."""

    status = 400


@dataclass(frozen=True, slots=True)
class Period:
    """Whole months from first (its first day) to last (included), as "YYYY-MM" strings."""

    first: str
    last: str

    @property
    def months(self) -> list[str]:
        """Every month of the period, oldest first."""
        year, month = int(self.first[:4]), int(self.first[5:7])
        out = []
        while f"{year:04d}-{month:02d}" <= self.last:
            out.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out

    @property
    def start(self) -> date:
        """The first day of the period."""
        return date(int(self.first[:4]), int(self.first[5:7]), 1)

    @property
    def end(self) -> date:
        """The first day after the period."""
        year, month = int(self.last[:4]), int(self.last[5:7])
        return date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)


def _month(value: str, name: str) -> str:
    if len(value) != 7 or value[4] != "-" or not (value[:4] + value[5:]).isdigit() or not 1 <= int(value[5:]) <= 12:
        raise IndicatorRequestInvalid(f"{name} must be a month written YYYY-MM")
    return value


def parse_period(params: Iterable[tuple[str, str]], *, today: date) -> Period:
    """Check an indicator request (from, to: YYYY-MM) and return its period; default the last 12 months."""
    given: dict[str, str] = {}
    for name, value in params:
        if name not in QUERY_PARAMETERS:
            raise IndicatorRequestInvalid(f"Unknown parameter '{name[:40]}': indicators take only from and to")
        if name in given:
            raise IndicatorRequestInvalid(f"The parameter '{name}' is given more than once")
        given[name] = value.strip()
    last = _month(given["to"], "to") if given.get("to") else today.isoformat()[:7]
    if given.get("from"):
        first = _month(given["from"], "from")
    else:
        year, month = int(last[:4]), int(last[5:7]) - (DEFAULT_MONTHS - 1)
        while month < 1:
            year, month = year - 1, month + 12
        first = f"{year:04d}-{month:02d}"
    if first > last:
        raise IndicatorRequestInvalid("from must not be after to")
    period = Period(first, last)
    if len(period.months) > MAX_MONTHS:
        raise IndicatorRequestInvalid(f"The period may span at most {MAX_MONTHS} months")
    return period


def _read(conn: Connection, res_type: str, params: list[tuple[str, str]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """("match" or "include", resource) for every result of a search, page by page, as the platform."""
    offset = 0
    while True:
        request = QueryCompiler(strict=True).parse(res_type, params, default_count=PAGE_SIZE, max_count=PAGE_SIZE)
        request.offset, request.total = offset, "none"
        result = run_search(conn, SYSTEM, request)
        yield from (("match", found.resource) for found in result.matches)
        yield from (("include", found.resource) for found in result.included)
        if not result.has_next:
            return
        offset += len(result.matches)
        if offset >= MAX_RECORDS:
            raise IndicatorRequestInvalid(f"More than {MAX_RECORDS} {res_type} records fall in this period: "
                                          "choose a shorter one")


def _matches(conn: Connection, res_type: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [resource for kind, resource in _read(conn, res_type, params) if kind == "match"]


def _staff(conn: Connection) -> dict[str, set[str]]:
    staff: dict[str, set[str]] = {}
    for role in _matches(conn, "PractitionerRole", []):
        practitioner = ind.reference_id(role.get("practitioner"), "Practitioner")
        organization = ind.reference_id(role.get("organization"), "Organization")
        if practitioner and organization:
            staff.setdefault(practitioner, set()).add(organization)
    return staff


def _waits(conn: Connection, period: Period, facilities: ind.Facilities) -> list[ind.Wait]:
    t, s = queue_ticket.c, queue_session.c
    rows = conn.execute(
        sa.select(s.practitioner_id, t.arrived, t.called_at, t.returned_at)
        .join(queue_session, s.key == t.session_key)
        .where(t.arrived >= period.start.isoformat(), t.arrived < period.end.isoformat())
    ).all()
    return [ind.Wait(facilities.of_practitioner(row.practitioner_id), clock.parse_instant(row.arrived),
                     clock.parse_instant(row.called_at) if row.called_at else None, row.returned_at is not None)
            for row in rows]


def compute(conn: Connection, period: Period) -> tuple[ind.Facilities, dict[str, dict[tuple[str, str], ind.Cell]]]:
    """Every indicator's cells (facility, month) over the period, read from the store and the queue."""
    low, high = (period.start - timedelta(days=1)).isoformat(), (period.end + timedelta(days=1)).isoformat()
    after = (period.end + timedelta(days=ind.READMISSION_DAYS + 1)).isoformat()
    encounters = _matches(conn, "Encounter", [("date", f"ge{low}"), ("date", f"lt{after}")])
    prescriptions = _matches(conn, "MedicationRequest", [("authoredon", f"ge{low}"), ("authoredon", f"lt{high}")])
    report_rows = list(_read(conn, "DiagnosticReport", [
        ("issued", f"ge{low}"), ("issued", f"lt{high}"), ("_include", "DiagnosticReport:specimen"),
        ("_include", "DiagnosticReport:based-on")]))
    task_rows = list(_read(conn, "Task", [("code", CRITICAL_TASK), ("authored-on", f"ge{low}"),
                                          ("authored-on", f"lt{high}"), ("_include", "Task:based-on")]))
    included = [r for kind, r in report_rows + task_rows if kind == "include"]
    requests = {r["id"]: r for r in included if r.get("resourceType") == "ServiceRequest"}
    specimens = {r["id"]: r for r in included if r.get("resourceType") == "Specimen"}
    facilities = ind.Facilities(_matches(conn, "Organization", []), encounters=encounters,
                                requests=requests.values(), staff=_staff(conn))
    reports = [r for kind, r in report_rows if kind == "match"]
    tasks = [r for kind, r in task_rows if kind == "match"]
    cells = {
        "antibiotic-rate": ind.antibiotic_rate(encounters, prescriptions, facilities),
        "outpatient-wait": ind.outpatient_wait(_waits(conn, period, facilities)),
        "report-turnaround": ind.report_turnaround(reports, specimens, requests, facilities),
        "readmission-30d": ind.readmission(encounters, facilities),
        "critical-ack": ind.critical_acknowledgement(tasks, facilities),
    }
    months = set(period.months)
    return facilities, {code: {k: v for k, v in found.items() if k[1] in months} for code, found in cells.items()}


def feed(conn: Connection, *, ctx: AccessContext, period: Period) -> dict[str, Any]:
    """The supervision feed: each indicator's monthly series per facility, with definitions; audited once.

    Raises AccessDenied when the policy refuses ctx aggregate data.
    """
    decide_dataset(ctx, DATASET)
    facilities, cells = compute(conn, period)
    shown = sorted({key[0] for found in cells.values() for key in found},
                   key=lambda f: (f == ind.UNKNOWN, facilities.name(f)))
    result = {
        "from": period.first, "to": period.last, "months": period.months,
        "facilities": [{"id": f, "name": facilities.name(f) if f != ind.UNKNOWN else None} for f in shown],
        "indicators": [],
    }
    for definition in ind.definitions():
        found = cells[definition["code"]]
        series = []
        for facility in shown:
            values = []
            for month in period.months:
                cell = found.get((facility, month))
                values.append(None if cell is None else {
                    "month": month, "value": cell.value, "numerator": cell.numerator, "denominator": cell.denominator,
                    **({"within_deadline_percent": cell.extra} if cell.extra is not None else {})})
            if any(values):
                series.append({"facility": facility, "values": values})
        result["indicators"].append({**definition, "series": series})
    audit.record(conn, ctx=ctx, action="R", subtype="search", purpose=PURPOSE,
                 entities=[f"Encounter?date=ge{period.start}&date=lt{period.end}", "MedicationRequest?authoredon",
                           "DiagnosticReport?issued", f"Task?code={CRITICAL_TASK}"],
                 description=f"supervision quality indicators {period.first} to {period.last}: "
                             f"{len(shown)} facilities")
    return result
