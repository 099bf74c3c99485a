"""The researcher's console page: record counts by type, a de-identified preview, and the download link."""

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render
from smartcare.regional.gate import require_dataset
from smartcare.regional.research import service

router = APIRouter(include_in_schema=False)

SURFACE = "console/research"
DEFAULT_TYPE = "Observation"
PAGE_PARAMETERS = ("type", "code")


@router.get("/console/research", response_class=HTMLResponse)
def research_console(request: Request) -> Response:
    """Counts by type, and the first rows of the chosen type (and code) de-identified, with a link to all of them."""
    chosen = {name: request.query_params.get(name, "") for name in PAGE_PARAMETERS}
    chosen["type"] = chosen["type"] or DEFAULT_TYPE
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        require_dataset(v.ctx, service.DATASET)
        counts = service.counts_by_type(conn, ctx=v.ctx)
        try:
            query = service.parse_query([(k, val) for k, val in chosen.items() if val])
        except service.DatasetRequestInvalid:
            query = None
        page = None
        if query is not None:
            preview = service.DatasetQuery(query.res_type, query.code, 0, service.PREVIEW_ROWS)
            page = service.extract(conn, ctx=v.ctx, query=preview)
    download = None
    if query is not None:
        download = "/api/research/dataset?" + urlencode([(k, val) for k, val in chosen.items() if val])
    response = render(
        request, "research/console.html", status_code=200 if query is not None else 400,
        counts=counts, types=list(service.DATASET_TYPES), chosen_type=chosen["type"][:40],
        chosen_code=chosen["code"][:300], invalid=query is None,
        rows=[service.preview_row(r) for r in page.resources] if page else [], download=download,
        max_page=service.MAX_LIMIT,
    )
    response.headers.update(guard.NO_STORE)
    return response
