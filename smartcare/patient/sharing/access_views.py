"""The app's "who opened my record" page: the audit trail about the chosen person, paged, in plain words.

Other people's accesses come first; the person's own side (their own account and the family accounts that look
after the record) is folded into one line a day that opens to show each entry.
"""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.patient.sharing import links
from smartcare.patient.sharing.access_log import organization_refs, own_side_days, plain_entries
from smartcare.patient.sharing.views import people_and_current
from smartcare.platform.audit import patient_view
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render_private

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
DAYS_PER_PAGE = 7  # the own side's days on one page
SHOWN_PER_DAY = 50  # the own side's entries listed under one day (the line counts them all)
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
    rows, days, has_next = [], [], False
    if current is not None:
        patient_ref = f"Patient/{current['id']}"
        with unit_of_work() as conn:
            own_side = patient_view.own_side_agents(conn, patient_ref)
            entries = patient_view.entries_by_others(conn, patient_ref, own_side=own_side, limit=PAGE_SIZE + 1,
                                                     offset=(page - 1) * PAGE_SIZE)
            all_days = own_side_days(patient_view.own_side_times(conn, patient_ref, own_side=own_side),
                                     viewer_agent=f"user/{v.user.username}")
            days = all_days[(page - 1) * DAYS_PER_PAGE:page * DAYS_PER_PAGE]
            own_entries = patient_view.entries_numbered(
                conn, patient_ref, [seq for day in days for seq in day["seqs"][:SHOWN_PER_DAY]])
            labels = {x.id: x.label for x in links.links_for(conn, patient_ref)}
        has_next = len(entries) > PAGE_SIZE or len(all_days) > page * DAYS_PER_PAGE
        entries = entries[:PAGE_SIZE]
        rows = plain_entries(entries, viewer_id=v.user.id, viewer_ref=v.user.fhir_ref, link_labels=labels,
                             org_names=_organization_names(v, organization_refs(entries)))
        own_rows = plain_entries(own_entries, viewer_id=v.user.id, viewer_ref=v.user.fhir_ref, link_labels={},
                                 org_names={}, own_side_of=patient_ref)
        by_seq = {row["seq"]: row for row in own_rows}
        days = [{**day, "rows": [by_seq[s] for s in day["seqs"][:SHOWN_PER_DAY] if s in by_seq],
                 "more": max(0, day["count"] - SHOWN_PER_DAY)} for day in days]
    return render_private(request, "sharing/access.html", user=v.user, people=people, current=current, rows=rows,
                          days=days, own=current is not None and f"Patient/{current['id']}" == v.user.fhir_ref,
                          page=page, has_next=has_next)


@router.get("/app/access", response_class=HTMLResponse)
async def who_opened_my_record(request: Request) -> HTMLResponse:
    """Who opened the chosen person's record, when, what and why, newest first, twenty to a page."""
    return await run_in_threadpool(_access, request)
