"""The facility pages of health supervision: the register with filters, one facility (licences, inspections, open
findings, and a hospital's or clinic's quality indicators), and the forms to register a facility and to add or revoke
a licence. Forms carry the session's CSRF token; only inspectors and regional administrators see and send them."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import AccessDenied
from smartcare.platform.web import guard
from smartcare.platform.web.pages import not_found
from smartcare.regional.supervision import inspections, registry, service
from smartcare.regional.supervision.access import SupervisionForbidden
from smartcare.regional.supervision.page_support import BASE, page, query, refuse, said, visitor
from smartcare.regional.supervision.rules import SupervisionInvalid, SupervisionNotFound

router = APIRouter(include_in_schema=False)
FACILITIES = BASE + "/facilities"
FACILITY_FIELDS = ("kind", "name", "address", "district", "organization_ref", "beds")
LICENCE_FIELDS = ("number", "issued", "expires")


def _list_page(request: Request, *, status_code: int = 200, error: str | None = None) -> Response:
    filters = {name: query(request, name) for name in ("kind", "district", "licence", "q")}
    with unit_of_work() as conn:
        v = visitor(conn, request)
        try:
            rows = registry.list_facilities(conn, ctx=v.ctx, kind=filters["kind"], district=filters["district"],
                                            licence=filters["licence"], search=filters["q"])
        except SupervisionInvalid as invalid:
            status_code, error = 400, said(request, invalid)
            filters = dict.fromkeys(filters, "")
            rows = registry.list_facilities(conn, ctx=v.ctx)
    return page(request, v, "supervision/facilities.html", status_code=status_code, rows=rows, filters=filters,
                error=error, done=query(request, "done") == "registered")


@router.get(FACILITIES, response_class=HTMLResponse)
def facility_list(request: Request) -> Response:
    """The facilities under supervision, filtered by kind, district and licence state, searched by name."""
    return _list_page(request)


def _new_page(request: Request, v: guard.Visitor, conn: Connection, *, status_code: int = 200,
              form: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> Response:
    try:
        organizations = registry.unregistered_organizations(conn, ctx=v.ctx)
    except SupervisionForbidden as refused:
        raise refuse(v, refused) from refused
    return page(request, v, "supervision/facility_new.html", status_code=status_code, form=form or {},
                errors=errors or {}, organizations=organizations)


@router.get(FACILITIES + "/new", response_class=HTMLResponse)
def facility_new(request: Request) -> Response:
    """The form to register a facility for supervision."""
    with unit_of_work() as conn:
        v = visitor(conn, request)
        return _new_page(request, v, conn)


def _register(request: Request, form: dict[str, str]) -> Response:
    fields = {name: form.get(name, "")[:2000] for name in FACILITY_FIELDS}
    with unit_of_work() as conn:
        v = visitor(conn, request)
        guard.check_csrf(request, v, form.get("csrf_token"))
        try:
            row = registry.register_facility(conn, ctx=v.ctx, **fields)
        except SupervisionForbidden as refused:
            raise refuse(v, refused) from refused
        except SupervisionInvalid as invalid:  # refused before anything was written
            return _new_page(request, v, conn, status_code=400, form=fields,
                             errors={invalid.field or "name": said(request, invalid)})
    return guard.see_other(f"{FACILITIES}/{row['id']}?done=registered")


@router.post(FACILITIES)
async def facility_register(request: Request) -> Response:
    """Register a facility (CSRF-checked), then show it."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_register, request, form)


def _indicators(conn: Connection, ctx: AccessContext, organization_ref: str | None) -> dict[str, Any] | None:
    """The last 12 months of quality indicators of a hospital's or clinic's Organization (None when not linked or the
    reader may not have aggregate figures)."""
    if not organization_ref:
        return None
    try:
        feed = service.feed(conn, ctx=ctx, period=service.parse_period([], today=clock.now().date()))
    except AccessDenied:
        return None
    own = organization_ref.removeprefix("Organization/")
    indicators = [{**i, "series": [s for s in i["series"] if s["facility"] == own]} for i in feed["indicators"]]
    names = {f["id"]: f["name"] for f in feed["facilities"] if f["id"] == own}
    return {"months": feed["months"], "names": names, "indicators": indicators}


def _facility_page(request: Request, facility_id: str, *, status_code: int = 200,
                   errors: dict[str, str] | None = None, form: dict[str, str] | None = None) -> Response:
    with unit_of_work() as conn:
        v = visitor(conn, request)
        try:
            record = inspections.facility_record(conn, ctx=v.ctx, facility_id=facility_id)
        except SupervisionNotFound:
            return not_found(request)
        indicators = _indicators(conn, v.ctx, record["organization_ref"])
    done = query(request, "done")
    return page(request, v, "supervision/facility.html", status_code=status_code, facility=record,
                indicators=indicators, errors=errors or {}, form=form or {},
                done=done if done in ("registered", "licence", "revoked", "inspected") else None)


@router.get(FACILITIES + "/{facility_id}", response_class=HTMLResponse)
def facility_detail(request: Request, facility_id: str) -> Response:
    """One facility: details, licences, inspections, open findings and (for hospitals and clinics) its indicators."""
    return _facility_page(request, facility_id[:36])


def _add_licence(request: Request, facility_id: str, form: dict[str, str]) -> Response:
    fields = {name: form.get(name, "")[:200] for name in LICENCE_FIELDS}
    with unit_of_work() as conn:
        v = visitor(conn, request)
        guard.check_csrf(request, v, form.get("csrf_token"))
        try:
            registry.add_licence(conn, ctx=v.ctx, facility_id=facility_id, number=fields["number"],
                                 issued=fields["issued"], expires=fields["expires"] or None)
            refused = None
        except SupervisionForbidden as exc:
            raise refuse(v, exc) from exc
        except SupervisionNotFound:
            return not_found(request)
        except SupervisionInvalid as invalid:  # refused before anything was written
            refused = {invalid.field or "number": said(request, invalid)}
    if refused:
        return _facility_page(request, facility_id, status_code=400, errors=refused, form=fields)
    return guard.see_other(f"{FACILITIES}/{facility_id}?done=licence#licences")


@router.post(FACILITIES + "/{facility_id}/licences")
async def licence_add(request: Request, facility_id: str) -> Response:
    """Record a licence or its renewal for a facility (CSRF-checked)."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_add_licence, request, facility_id[:36], form)


def _revoke(request: Request, facility_id: str, licence_id: str, form: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = visitor(conn, request)
        guard.check_csrf(request, v, form.get("csrf_token"))
        try:
            registry.revoke_licence(conn, ctx=v.ctx, licence_id=licence_id, facility_id=facility_id,
                                    reason=form.get("reason", "")[:2000])
            refused = None
        except SupervisionForbidden as exc:
            raise refuse(v, exc) from exc
        except SupervisionNotFound:
            return not_found(request)
        except SupervisionInvalid as invalid:  # refused before anything was written
            refused = {f"reason-{licence_id}": said(request, invalid)}
    if refused:
        return _facility_page(request, facility_id, status_code=400, errors=refused)
    return guard.see_other(f"{FACILITIES}/{facility_id}?done=revoked#licences")


@router.post(FACILITIES + "/{facility_id}/licences/{licence_id}/revoke")
async def licence_revoke(request: Request, facility_id: str, licence_id: str) -> Response:
    """Revoke a licence from today, with the reason (CSRF-checked)."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_revoke, request, facility_id[:36], licence_id[:36], form)
