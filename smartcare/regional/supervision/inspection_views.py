"""The inspection pages of health supervision: the inspection form (the facility's checklist with pass / fail / n.a.
per item, and a decision on each open finding), one inspection with the findings it raised, the inspection plans and
the open and overdue findings. Forms carry the session's CSRF token; only inspectors and regional administrators may
send them."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import not_found
from smartcare.regional.supervision import inspections, registry
from smartcare.regional.supervision import repository as repo
from smartcare.regional.supervision.access import SupervisionForbidden, require_writer, today
from smartcare.regional.supervision.inspections import InspectionForm
from smartcare.regional.supervision.page_support import BASE, page, query, refuse, said, visitor
from smartcare.regional.supervision.rules import SupervisionInvalid, SupervisionNotFound

router = APIRouter(include_in_schema=False)
MAX_VALUE = 2000  # longer than any field allows; the service then says which is too long
PLAN_FIELDS = ("name", "starts", "ends", "district", "inspectors")


def inspection_form(form: dict[str, str]) -> InspectionForm:
    """The posted inspection form as the service takes it."""
    def by(prefix: str) -> dict[str, str]:
        return {key[len(prefix):][:40]: value[:MAX_VALUE] for key, value in form.items() if key.startswith(prefix)}

    return InspectionForm(inspected_on=form.get("inspected_on", "")[:20], kind=form.get("kind", "")[:20],
                          notes=form.get("notes", "")[:MAX_VALUE], results=by("result-"), item_notes=by("note-"),
                          deadlines=by("deadline-"), decisions=by("decision-"))


def _inspect_page(request: Request, facility_id: str, *, status_code: int = 200, form: dict[str, str] | None = None,
                  errors: dict[str, str] | None = None) -> Response:
    with unit_of_work() as conn:
        v = visitor(conn, request)
        try:
            require_writer(v.ctx)
            facility = registry.get_facility(conn, ctx=v.ctx, facility_id=facility_id)
        except SupervisionForbidden as refused:
            raise refuse(v, refused) from refused
        except SupervisionNotFound:
            return not_found(request)
        open_findings = [inspections.with_state(f, today()) for f in
                         repo.findings(conn, facility_id=facility["id"], statuses=("open",))]
    chosen = form or {"inspected_on": today().isoformat(), "kind": "follow-up" if open_findings else "routine"}
    return page(request, v, "supervision/inspect.html", status_code=status_code, facility=facility,
                items=inspections.checklists().kind(facility["kind"]).items, open_findings=open_findings,
                form=chosen, errors=errors or {}, today=today().isoformat())


@router.get(BASE + "/facilities/{facility_id}/inspect", response_class=HTMLResponse)
def inspect_form(request: Request, facility_id: str) -> Response:
    """The inspection form: the facility's checklist and its open findings."""
    return _inspect_page(request, facility_id[:36])


def _record(request: Request, facility_id: str, form: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = visitor(conn, request)
        guard.check_csrf(request, v, form.get("csrf_token"))
        try:
            recorded = inspections.record_inspection(conn, ctx=v.ctx, facility_id=facility_id,
                                                     form=inspection_form(form),
                                                     co_inspectors=form.get("co_inspectors", "")[:MAX_VALUE])
            refused = None
        except SupervisionForbidden as exc:
            raise refuse(v, exc) from exc
        except SupervisionNotFound:
            return not_found(request)
        except SupervisionInvalid as invalid:  # refused before anything was written
            refused = {invalid.field or "inspected_on": said(request, invalid)}
    if refused:
        kept = {key: value[:MAX_VALUE] for key, value in form.items() if key != "csrf_token"}
        return _inspect_page(request, facility_id, status_code=400, form=kept, errors=refused)
    return guard.see_other(f"{BASE}/inspections/{recorded['id']}?done=recorded")


@router.post(BASE + "/facilities/{facility_id}/inspect")
async def inspect_record(request: Request, facility_id: str) -> Response:
    """Record the inspection (CSRF-checked), then show it with the findings it raised."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_record, request, facility_id[:36], form)


@router.get(BASE + "/inspections/{inspection_id}", response_class=HTMLResponse)
def inspection_detail(request: Request, inspection_id: str) -> Response:
    """One inspection: its answers, the findings it raised and those it closed."""
    with unit_of_work() as conn:
        v = visitor(conn, request)
        try:
            found = inspections.get_inspection(conn, ctx=v.ctx, inspection_id=inspection_id[:36])
        except SupervisionNotFound:
            return not_found(request)
        facility = registry.get_facility(conn, ctx=v.ctx, facility_id=found["facility_id"], audited=False)
    answers = {a["item_id"]: a for a in found["answers"]}
    return page(request, v, "supervision/inspection.html", inspection=found, facility=facility, answers=answers,
                items=inspections.checklists().kind(facility["kind"]).items,
                done=query(request, "done") == "recorded")


def _plans_page(request: Request, *, status_code: int = 200, form: dict[str, Any] | None = None,
                errors: dict[str, str] | None = None) -> Response:
    with unit_of_work() as conn:
        v = visitor(conn, request)
        plans = inspections.list_plans(conn, ctx=v.ctx)
    return page(request, v, "supervision/plans.html", status_code=status_code, plans=plans,
                form=form or {"inspectors": v.user.username}, errors=errors or {})


@router.get(BASE + "/plans", response_class=HTMLResponse)
def plan_list(request: Request) -> Response:
    """The inspection plans with their progress, and the form to create one."""
    return _plans_page(request)


def _create_plan(request: Request, form: dict[str, str], kinds: list[str]) -> Response:
    fields: dict[str, Any] = {name: form.get(name, "")[:MAX_VALUE] for name in PLAN_FIELDS}
    with unit_of_work() as conn:
        v = visitor(conn, request)
        guard.check_csrf(request, v, form.get("csrf_token"))
        try:
            plan = inspections.create_plan(conn, ctx=v.ctx, kinds=kinds, **fields)
            refused = None
        except SupervisionForbidden as exc:
            raise refuse(v, exc) from exc
        except SupervisionInvalid as invalid:  # refused before anything was written
            refused = {invalid.field or "name": said(request, invalid)}
    if refused:
        return _plans_page(request, status_code=400, form={**fields, "kinds": kinds}, errors=refused)
    return guard.see_other(f"{BASE}/plans/{plan['id']}")


@router.post(BASE + "/plans")
async def plan_create(request: Request) -> Response:
    """Create a plan (CSRF-checked) for every active facility of the kinds chosen, then show it."""
    posted = await request.form()
    kinds = [str(value)[:20] for value in posted.getlist("kinds")][:10]
    form = {key: value for key, value in posted.items() if isinstance(value, str)}
    return await run_in_threadpool(_create_plan, request, form, kinds)


@router.get(BASE + "/plans/{plan_id}", response_class=HTMLResponse)
def plan_detail(request: Request, plan_id: str) -> Response:
    """One plan: its facilities with their due dates, which are done, and its progress."""
    with unit_of_work() as conn:
        v = visitor(conn, request)
        try:
            plan = inspections.get_plan(conn, ctx=v.ctx, plan_id=plan_id[:36])
        except SupervisionNotFound:
            return not_found(request)
    return page(request, v, "supervision/plan.html", plan=plan, today=today().isoformat())


@router.get(BASE + "/findings", response_class=HTMLResponse)
def finding_list(request: Request) -> Response:
    """Open (and overdue), rectified or escalated findings, with the way to their facility's follow-up."""
    state = query(request, "state") or "open"
    with unit_of_work() as conn:
        v = visitor(conn, request)
        try:
            rows = inspections.list_findings(conn, ctx=v.ctx, state=state)
            status_code = 200
        except SupervisionInvalid:
            state, status_code = "open", 400
            rows = inspections.list_findings(conn, ctx=v.ctx, state=state)
    return page(request, v, "supervision/findings.html", status_code=status_code, rows=rows, state=state)
