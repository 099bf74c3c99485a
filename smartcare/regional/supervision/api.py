"""The supervision JSON API: every facility's quality indicators by month, for the health supervision department."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.regional.gate import require_dataset
from smartcare.regional.supervision import service

router = APIRouter(prefix="/api/supervision", tags=["supervision"])

SURFACE = "console/supervision"


@router.get("/indicators", summary="Quality indicators per facility and month")
def indicators(request: Request) -> JSONResponse:
    """Outpatient antibiotic prescribing rate, average outpatient wait, laboratory report turnaround,
    30-day readmission and critical-value acknowledgement time, per facility and month, with each
    indicator's definition and source.

    Query: `from` and `to` (YYYY-MM; at most 36 months; default the last 12). Regional administrators
    and public-health officers; no person's data is in the answer. Each request is audited.
    """
    with unit_of_work() as conn:
        ctx = guard.api_caller(conn, request, SURFACE)
        require_dataset(ctx, service.DATASET)
        try:
            period = service.parse_period(request.query_params.multi_items(), today=clock.now().date())
            result = service.feed(conn, ctx=ctx, period=period)
        except service.IndicatorRequestInvalid as exc:
            return JSONResponse({"error": "invalid", "message": str(exc)}, status_code=400, headers=guard.NO_STORE)
    return JSONResponse(result, headers=guard.NO_STORE)
