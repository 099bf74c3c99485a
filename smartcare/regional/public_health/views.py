"""The public-health console page: weekly condition counts as a chart and a table, and the case reports for officers."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.policy import AccessDenied, decide_dataset
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render
from smartcare.regional.gate import require_dataset
from smartcare.regional.public_health import service
from smartcare.regional.public_health.aggregates import AggregateRequestInvalid, parse_query

router = APIRouter(include_in_schema=False)

SURFACE = "console/public-health"
FORM_FIELDS = ("code", "from", "to")
_MAX_FIELD = 40


def _table(result: dict[str, Any]) -> dict[str, Any]:
    """The week-by-district counts arranged as rows for the template."""
    districts = [entry["district"] for entry in result["districts"]]
    cells = {(cell["week"], cell["district"]): cell["count"] for cell in result["cells"]}
    return {
        "districts": districts,
        "rows": [
            {"week": week["week"], "counts": [cells[(week["week"], d)] for d in districts], "total": week["count"]}
            for week in result["weeks"]
        ],
        "totals": [entry["count"] for entry in result["districts"]],
    }


def _chart(result: dict[str, Any]) -> dict[str, Any]:
    """Weekly totals for the chart: numbers where published, None (with the published text) where hidden."""
    return {
        "weeks": [week["week"] for week in result["weeks"]],
        "values": [week["count"] if isinstance(week["count"], int) else None for week in result["weeks"]],
        "shown": [str(week["count"]) if isinstance(week["count"], int) else
                  ("*" if week["count"] == "suppressed" else week["count"]) for week in result["weeks"]],
    }


def _may_see_case_reports(ctx) -> bool:
    try:
        decide_dataset(ctx, service.CASE_REPORTS)
    except AccessDenied:
        return False
    return True


@router.get("/console/public-health", response_class=HTMLResponse)
def public_health_console(request: Request) -> Response:
    """Weekly counts by district and ICD-10 code (small cells hidden), and, for officers, the case reports."""
    form = {name: request.query_params.get(name, "").strip()[:_MAX_FIELD] for name in FORM_FIELDS}
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        require_dataset(v.ctx, service.AGGREGATES)
        result, error = None, None
        try:
            query = parse_query([(k, val) for k, val in form.items() if val], today=clock.now().date())
            result = service.aggregates(conn, ctx=v.ctx, query=query)
        except AggregateRequestInvalid:
            error = "invalid"
        except service.AggregateTooLarge:
            error = "too-large"
        reports = service.case_reports(conn, ctx=v.ctx) if _may_see_case_reports(v.ctx) else None
    response = render(
        request, "public_health/console.html", status_code=400 if error else 200, form=form, error=error,
        result=result, table=_table(result) if result else None, chart=_chart(result) if result else None,
        reports=reports,
    )
    response.headers.update(guard.NO_STORE)
    return response
