"""The public-health JSON API: condition aggregates with small cells hidden, and the case-report list."""

from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.regional.gate import require_dataset
from smartcare.regional.public_health import service
from smartcare.regional.public_health.aggregates import AggregateRequestInvalid, parse_query

router = APIRouter(prefix="/api/public-health", tags=["public health"])

# Aggregates are open to every console role the policy gives them to (researchers included);
# case reports only to the public-health console, and there only to officers.
AGGREGATES_SURFACE = "console"
CASE_REPORTS_SURFACE = "console/public-health"
_LIMIT_PARAMETERS = frozenset({"limit"})


def _invalid(message: str) -> JSONResponse:
    return JSONResponse({"error": "invalid", "message": message}, status_code=400, headers=guard.NO_STORE)


@router.get("/aggregates", summary="Condition counts by week, district and ICD-10 code")
def aggregates(request: Request) -> JSONResponse:
    """Counts of Condition records by ISO week, district and ICD-10 code, small cells hidden.

    Query: `code` (an ICD-10 code or its start, e.g. J10), `from` and `to` (YYYY-MM-DD; whole ISO
    weeks, at most 53; default the last 12). Counts from 1 to 4 read "<5", and counts hidden so
    that those cannot be worked out from a total read "suppressed".
    """
    with unit_of_work() as conn:
        ctx = guard.api_caller(conn, request, AGGREGATES_SURFACE)
        require_dataset(ctx, service.AGGREGATES)
        try:
            query = parse_query(request.query_params.multi_items(), today=clock.now().date())
            result = service.aggregates(conn, ctx=ctx, query=query)
        except (AggregateRequestInvalid, service.AggregateTooLarge) as exc:
            return _invalid(str(exc))
    return JSONResponse(result, headers=guard.NO_STORE)


@router.get("/case-reports", summary="Public-health case reports (identified)")
def case_reports(request: Request) -> JSONResponse:
    """The newest case reports (LOINC 55751-2 Compositions): the case, the condition and the reporting organisation.

    Query: `limit` (1 to 200, default 50). Public-health officers only; each case listed is audited.
    """
    with unit_of_work() as conn:
        ctx = guard.api_caller(conn, request, CASE_REPORTS_SURFACE)
        require_dataset(ctx, service.CASE_REPORTS)
        names = {name for name, _ in request.query_params.multi_items()}
        limit = request.query_params.get("limit", str(service.DEFAULT_CASE_REPORTS))
        well_formed = limit.isascii() and limit.isdigit() and len(limit) <= 3
        if names - _LIMIT_PARAMETERS or not well_formed or not 1 <= int(limit) <= service.MAX_CASE_REPORTS:
            return _invalid(f"case-reports takes only limit, a whole number from 1 to {service.MAX_CASE_REPORTS}")
        reports = service.case_reports(conn, ctx=ctx, limit=int(limit))
    return JSONResponse({"case_reports": [asdict(report) for report in reports]}, headers=guard.NO_STORE)
