"""The supervision dashboard's figures: facilities by kind, licence states, plan progress, open and overdue findings,
and inspections per month with the share that passed. Counts only; the read is audited once."""

from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.platform import audit
from smartcare.platform.security.context import AccessContext
from smartcare.regional.supervision import inspections, registry
from smartcare.regional.supervision import repository as repo
from smartcare.regional.supervision.access import PURPOSE, require_reader, today
from smartcare.regional.supervision.checklists import KINDS

MONTHS = 12


def months_back(on: date, count: int = MONTHS) -> list[str]:
    """The count months up to on's month, oldest first, as "YYYY-MM"."""
    year, month = on.year, on.month
    found = []
    for _ in range(count):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return found[::-1]


def monthly(outcomes: list[dict[str, Any]], months: list[str]) -> dict[str, list[Any]]:
    """Inspections per month and the percentage of them that passed (None in a month without any)."""
    counts = {m: [0, 0] for m in months}
    for found in outcomes:
        cell = counts.get(found["inspected_on"][:7])
        if cell is not None:
            cell[0] += 1
            cell[1] += found["outcome"] == "pass"
    return {"months": months, "inspections": [counts[m][0] for m in months],
            "passed_percent": [round(100 * counts[m][1] / counts[m][0], 1) if counts[m][0] else None
                               for m in months]}


def summary(conn: Connection, *, ctx: AccessContext) -> dict[str, Any]:
    """Every figure of the dashboard as of today."""
    require_reader(ctx)
    on = today()
    facilities = [f for f in repo.facilities(conn) if f["status"] == "active"]
    held = repo.licences(conn)
    states: dict[str, int] = {}
    for facility in facilities:
        state = registry.licence_state(facility, held, on)
        if state is not None:
            states[state] = states.get(state, 0) + 1
    items = repo.all_plan_items(conn)
    open_findings = [inspections.with_state(f, on) for f in repo.findings(conn, statuses=("open",))]
    months = months_back(on)
    outcomes = inspections.inspection_outcomes(conn, since=months[0] + "-01")
    counts = repo.facility_counts(conn)
    result = {
        "today": on.isoformat(),
        "facilities": {kind: counts.get(kind, 0) for kind in KINDS},
        "facility_total": sum(counts.values()),
        "licences": {state: states.get(state, 0) for state in ("valid", "expiring", "expired", "revoked", "none")},
        "plans": inspections.progress(items, on),
        "findings": {"open": len(open_findings),
                     "overdue": sum(1 for f in open_findings if f["state"] == "overdue"),
                     "violations": sum(1 for f in open_findings if f["is_violation"])},
        "chart": monthly(outcomes, months),
    }
    audit.record(conn, ctx=ctx, action="R", subtype="search", purpose=PURPOSE,
                 entities=["SupervisedFacility?", "Inspection?", "Finding?state=open"],
                 description=f"health supervision: dashboard of {result['facility_total']} facilities")
    return result
