"""The researcher's console page: record counts by type, a de-identified preview, the download link, and the projects with their risk reports."""

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection

from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render
from smartcare.regional.gate import require_dataset
from smartcare.regional.research import extract, projects, service

router = APIRouter(include_in_schema=False)

SURFACE = "console/research"
DEFAULT_TYPE = "Observation"
PAGE_PARAMETERS = ("type", "code")


def _risk(conn: Connection, ctx: AccessContext, project: str) -> tuple[dict[str, Any] | None, str | None]:
    """The chosen project's risk report (nothing is released by it), or the reason code why there is none."""
    if not project:
        return None, None
    try:
        built = extract.build(conn, ctx=ctx, project=project[:64], request=extract.ExtractRequest(), release=False)
    except projects.ProjectRefused as exc:
        return None, exc.reason
    except extract.ExtractTooLarge:
        return None, "too-large"
    return extract.risk_report(built), None


@router.get("/console/research", response_class=HTMLResponse)
def research_console(request: Request) -> Response:
    """Counts by type, and the first rows of the chosen type (and code) de-identified, with a link to all of them."""
    chosen = {name: request.query_params.get(name, "") for name in PAGE_PARAMETERS}
    chosen["type"] = chosen["type"] or DEFAULT_TYPE
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        require_dataset(v.ctx, service.DATASET)
        counts = service.counts_by_type(conn, ctx=v.ctx)
        agreements = projects.agreements_of(conn, ctx=v.ctx)
        report, refusal = _risk(conn, v.ctx, request.query_params.get("project", ""))
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
        max_page=service.MAX_LIMIT, agreements=agreements, report=report, refusal=refusal,
    )
    response.headers.update(guard.NO_STORE)
    return response
