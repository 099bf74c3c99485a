"""The app's "who opened my record" page: the audit trail about the chosen person, paged, in plain words."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.patient.sharing import links
from smartcare.patient.sharing.access_log import organization_refs, plain_entries
from smartcare.patient.sharing.views import people_and_current
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render_private

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
MAX_PAGE = 500


def _organization_names(v: guard.Visitor, refs: list[str]) -> dict[str, str]:
    """Directory names of the organisations (readable by everyone signed in), in one search."""
    ids = [ref.removeprefix("Organization/") for ref in refs]
    if not ids:
        return {}
    try:
        found = gateway.search(v.ctx, "Organization", [("_id", ",".join(ids)), ("_count", str(len(ids)))])
    except FhirError:
        return {}
    return {f"Organization/{o['id']}": o.get("name", "") for o in found if o.get("id")}


def _page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")[:4]
    return min(max(int(text), 1), MAX_PAGE) if text.isdigit() else 1


def _access(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    people, current = people_and_current(request, v)
    page = _page_number(request)
    rows, has_next = [], False
    if current is not None:
        patient_ref = f"Patient/{current['id']}"
        with unit_of_work() as conn:
            entries = audit.events_for_patient(conn, patient_ref, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
            labels = {x.id: x.label for x in links.links_for(conn, patient_ref)}
        has_next, entries = len(entries) > PAGE_SIZE, entries[:PAGE_SIZE]
        rows = plain_entries(entries, viewer_id=v.user.id, viewer_ref=v.user.fhir_ref, link_labels=labels,
                             org_names=_organization_names(v, organization_refs(entries)))
    return render_private(request, "sharing/access.html", user=v.user, people=people, current=current, rows=rows,
                          page=page, has_next=has_next)


@router.get("/app/access", response_class=HTMLResponse)
async def who_opened_my_record(request: Request) -> HTMLResponse:
    """Who opened the chosen person's record, when, what and why, newest first, twenty to a page."""
    return await run_in_threadpool(_access, request)
