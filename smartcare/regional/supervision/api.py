"""The supervision JSON API: every facility's quality indicators by month, and the health supervision register
(facilities, licences, inspection plans, inspections and findings) for the health supervision department.

Errors are JSON with a 4xx status: {"error": "invalid", "message", "field"} (400), "not-found" (404), and the
guard's "forbidden" (403, audited) for a role that may not read or may not change the records.
"""

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import guard
from smartcare.regional.gate import require_dataset
from smartcare.regional.supervision import dashboard, inspections, registry, service
from smartcare.regional.supervision.access import SupervisionForbidden
from smartcare.regional.supervision.inspections import InspectionForm
from smartcare.regional.supervision.rules import SupervisionInvalid, SupervisionNotFound

router = APIRouter(prefix="/api/supervision", tags=["supervision"])

SURFACE = "console/supervision"
MAX_BODY = 64 * 1024
MAX_VALUE = 2000
caller_first = [Depends(guard.api_surface(SURFACE))]


@router.get("/indicators", summary="Quality indicators per facility and month")
def indicators(request: Request) -> JSONResponse:
    """Outpatient antibiotic prescribing rate, average outpatient wait, laboratory report turnaround,
    30-day readmission and critical-value acknowledgement time, per facility and month, with each
    indicator's definition and source.

    Query: `from` and `to` (YYYY-MM; at most 36 months; default the last 12). Regional administrators,
    public-health officers and health inspectors; no person's data is in the answer. Each request is audited.
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


def _answer(request: Request, work: Callable[[Connection, AccessContext], Any], status_code: int = 200
            ) -> JSONResponse:
    """Run work as the caller in one transaction and answer JSON; refusals become their 4xx answer."""
    try:
        with unit_of_work() as conn:
            ctx = guard.api_caller(conn, request, SURFACE)
            try:
                result = work(conn, ctx)
            except SupervisionForbidden as refused:
                raise guard.SurfaceForbidden(refused.message, ctx=ctx, surface=SURFACE) from refused
    except SupervisionInvalid as invalid:
        return JSONResponse({"error": "invalid", "message": str(invalid), "field": invalid.field}, status_code=400,
                            headers=guard.NO_STORE)
    except SupervisionNotFound:
        return JSONResponse({"error": "not-found", "message": "No such record"}, status_code=404,
                            headers=guard.NO_STORE)
    return JSONResponse(result, status_code=status_code, headers=guard.NO_STORE)


async def _body(request: Request) -> dict[str, Any]:
    """The request's JSON object (SupervisionInvalid for anything else or anything over MAX_BODY bytes)."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise SupervisionInvalid("The request body is too large")
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise SupervisionInvalid("The request body is not JSON") from None
    if not isinstance(body, dict):
        raise SupervisionInvalid("The request body must be a JSON object")
    return body


def _strings(value: Any, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise SupervisionInvalid(f"{field} must be an object of strings", field=field)
    return {str(k)[:40]: v[:MAX_VALUE] for k, v in value.items()}


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise SupervisionInvalid(f"{name} must be a string", field=name)
    return str(value)[:MAX_VALUE]


async def _posted(request: Request, work: Callable[[Connection, AccessContext, dict[str, Any]], Any]
                  ) -> JSONResponse:
    try:
        body = await _body(request)
    except SupervisionInvalid as invalid:
        return JSONResponse({"error": "invalid", "message": str(invalid), "field": None}, status_code=400,
                            headers=guard.NO_STORE)
    return await run_in_threadpool(_answer, request, lambda conn, ctx: work(conn, ctx, body), 201)


@router.get("/dashboard", summary="The supervision dashboard's figures")
def dashboard_figures(request: Request) -> JSONResponse:
    """Facilities by kind, licence states, plan progress, open and overdue findings, inspections per month."""
    return _answer(request, lambda conn, ctx: dashboard.summary(conn, ctx=ctx))


@router.get("/facilities", summary="Facilities under supervision")
def facility_list(request: Request) -> JSONResponse:
    """Facilities, filtered by `kind`, `district`, `licence` (state) and `q` (a piece of the name)."""
    q = {name: request.query_params.get(name, "")[:MAX_VALUE] for name in ("kind", "district", "licence", "q")}
    return _answer(request, lambda conn, ctx: registry.list_facilities(
        conn, ctx=ctx, kind=q["kind"], district=q["district"], licence=q["licence"], search=q["q"]))


@router.post("/facilities", summary="Register a facility", dependencies=caller_first)
async def facility_register(request: Request) -> JSONResponse:
    """Register a facility: kind, name, address, district (code), organization_ref (hospitals, clinics), beds."""
    return await _posted(request, lambda conn, ctx, body: registry.register_facility(
        conn, ctx=ctx, kind=_text(body, "kind"), name=_text(body, "name"), address=_text(body, "address"),
        district=_text(body, "district"), organization_ref=_text(body, "organization_ref") or None,
        beds=_text(body, "beds") or None))


@router.get("/facilities/{facility_id}", summary="One facility with its licences, inspections and findings")
def facility_detail(request: Request, facility_id: str) -> JSONResponse:
    """A facility with its licences (and their status), inspections (with outcome), open findings and plan items."""
    return _answer(request, lambda conn, ctx: inspections.facility_record(conn, ctx=ctx, facility_id=facility_id))


@router.post("/facilities/{facility_id}/licences", summary="Record a licence", dependencies=caller_first)
async def licence_add(request: Request, facility_id: str) -> JSONResponse:
    """Record a licence or its renewal: number, issued (YYYY-MM-DD), expires (optional: the rules' period)."""
    return await _posted(request, lambda conn, ctx, body: registry.add_licence(
        conn, ctx=ctx, facility_id=facility_id, number=_text(body, "number"), issued=_text(body, "issued"),
        expires=_text(body, "expires") or None))


@router.post("/licences/{licence_id}/revoke", summary="Revoke a licence", dependencies=caller_first)
async def licence_revoke(request: Request, licence_id: str) -> JSONResponse:
    """Revoke a licence from today, with the reason."""
    return await _posted(request, lambda conn, ctx, body: registry.revoke_licence(
        conn, ctx=ctx, licence_id=licence_id, reason=_text(body, "reason")))


@router.post("/facilities/{facility_id}/inspections", summary="Record an inspection", dependencies=caller_first)
async def inspection_record(request: Request, facility_id: str) -> JSONResponse:
    """Record an inspection: inspected_on, kind (routine, follow-up, complaint), notes, results {item: pass | fail |
    not_applicable}, item_notes, deadlines {item: YYYY-MM-DD}, decisions {finding: open | rectified | escalated}."""
    def work(conn: Connection, ctx: AccessContext, body: dict[str, Any]) -> dict[str, Any]:
        form = InspectionForm(inspected_on=_text(body, "inspected_on"), kind=_text(body, "kind"),
                              notes=_text(body, "notes"), results=_strings(body.get("results"), "results"),
                              item_notes=_strings(body.get("item_notes"), "item_notes"),
                              deadlines=_strings(body.get("deadlines"), "deadlines"),
                              decisions=_strings(body.get("decisions"), "decisions"))
        return inspections.record_inspection(conn, ctx=ctx, facility_id=facility_id, form=form,
                                             co_inspectors=_text(body, "co_inspectors"))

    return await _posted(request, work)


@router.get("/inspections/{inspection_id}", summary="One inspection")
def inspection_detail(request: Request, inspection_id: str) -> JSONResponse:
    """An inspection with its answers, the findings it raised and closed, and its outcome."""
    return _answer(request, lambda conn, ctx: inspections.get_inspection(conn, ctx=ctx, inspection_id=inspection_id))


@router.get("/findings", summary="Findings by state")
def finding_list(request: Request) -> JSONResponse:
    """Findings in `state`: open (the default; open and overdue), overdue, rectified, escalated or all."""
    state = request.query_params.get("state", "open")[:20]
    return _answer(request, lambda conn, ctx: inspections.list_findings(conn, ctx=ctx, state=state))


@router.get("/plans", summary="Inspection plans")
def plan_list(request: Request) -> JSONResponse:
    """Every inspection plan with its progress."""
    return _answer(request, lambda conn, ctx: inspections.list_plans(conn, ctx=ctx))


@router.post("/plans", summary="Create an inspection plan", dependencies=caller_first)
async def plan_create(request: Request) -> JSONResponse:
    """Create a plan: name, starts, ends, kinds (list), district (code or empty), inspectors (account names)."""
    def work(conn: Connection, ctx: AccessContext, body: dict[str, Any]) -> dict[str, Any]:
        kinds = body.get("kinds")
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds) or len(kinds) > 10:
            raise SupervisionInvalid("kinds must be a list of facility kinds", field="kinds")
        given = body.get("inspectors")
        names = [str(n)[:64] for n in given][:10] if isinstance(given, list) else _text(body, "inspectors")
        return inspections.create_plan(conn, ctx=ctx, name=_text(body, "name"), starts=_text(body, "starts"),
                                       ends=_text(body, "ends"), kinds=kinds, district=_text(body, "district"),
                                       inspectors=names)

    return await _posted(request, work)


@router.get("/plans/{plan_id}", summary="One inspection plan")
def plan_detail(request: Request, plan_id: str) -> JSONResponse:
    """A plan with its items and progress."""
    return _answer(request, lambda conn, ctx: inspections.get_plan(conn, ctx=ctx, plan_id=plan_id))
