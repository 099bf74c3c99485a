"""The health supervision console: the dashboard (/console/supervision), each quality indicator's monthly trend per
facility (/console/supervision/indicators), and the script that draws their charts."""

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render
from smartcare.regional.gate import require_dataset
from smartcare.regional.supervision import dashboard, jobs, service  # noqa: F401  (jobs: its daily notices)
from smartcare.regional.supervision.page_support import BASE, page, visitor

router = APIRouter(include_in_schema=False)

SURFACE = "console/supervision"
CHARTS_JS = Path(__file__).resolve().parent / "static" / "supervision-charts.js"


@router.get(BASE, response_class=HTMLResponse)
def supervision_dashboard(request: Request) -> Response:
    """Facilities by kind, licences expiring and expired, plan progress, open and overdue findings, and inspections
    per month with the share that passed."""
    with unit_of_work() as conn:
        v = visitor(conn, request)
        figures = dashboard.summary(conn, ctx=v.ctx)
    return page(request, v, "supervision/dashboard.html", figures=figures)


@router.get(BASE + "/indicators", response_class=HTMLResponse)
def supervision_indicators(request: Request) -> Response:
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


@router.get(BASE + "/supervision-charts.js")
def supervision_charts_js(request: Request) -> FileResponse:
    """The script that draws the supervision charts (ECharts) from each page's JSON; no data in it."""
    with unit_of_work() as conn:
        visitor(conn, request)
    return FileResponse(CHARTS_JS, media_type="text/javascript", headers={"Cache-Control": "private, max-age=3600"})
