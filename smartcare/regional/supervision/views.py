"""The health supervision console page: each quality indicator's monthly trend per facility, with its definition."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render
from smartcare.regional.gate import require_dataset
from smartcare.regional.supervision import service

router = APIRouter(include_in_schema=False)

SURFACE = "console/supervision"


@router.get("/console/supervision", response_class=HTMLResponse)
def supervision_console(request: Request) -> Response:
    """Trend charts and tables of the quality indicators for the months chosen (the last 12 by default)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k in service.QUERY_PARAMETERS and v]
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        require_dataset(v.ctx, service.DATASET)
        try:
            period = service.parse_period(params, today=clock.now().date())
            error = None
        except service.IndicatorRequestInvalid as exc:
            period, error = service.parse_period([], today=clock.now().date()), str(exc)
        feed = service.feed(conn, ctx=v.ctx, period=period)
    names = {f["id"]: f["name"] for f in feed["facilities"]}
    response = render(request, "supervision/console.html", status_code=400 if error else 200, feed=feed,
                      names=names, error=error, chosen_from=period.first, chosen_to=period.last)
    response.headers.update(guard.NO_STORE)
    return response
