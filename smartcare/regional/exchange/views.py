"""The exchange console: the member institutions (/console/exchange) and each one's volumes, rejections and data
quality (/console/exchange/{org}); regional administrators register members there, hospital administrators see
their own organisation's page."""

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.security.clients import ClientError
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render_private
from smartcare.regional.exchange import members, stats

router = APIRouter(include_in_schema=False)
SURFACE = "console/exchange"
_ORG_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
FORM_FIELDS = ("organization", "name", "sends", "fhir_base", "mllp", "hl7_facility")
MAX_FIELD = 480
NOT_A_MEMBER = _("That organisation is not a member of the exchange.")
OWN_ONLY = _("Hospital administrators see only their own organisation's exchange page.")
ADMIN_ONLY = _("Only a regional administrator registers member institutions.")


def _regional(v: guard.Visitor) -> bool:
    return "regional_admin" in v.ctx.roles


def _list_page(request: Request, *, status: int = 200, form: dict[str, str] | None = None, error: str | None = None,
               registered: members.Registered | None = None) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        only = None if _regional(v) else (v.ctx.organization or "-")
        rows = stats.member_summaries(conn, only=only)
    return render_private(request, "exchange/members.html", status_code=status, rows=rows, may_register=_regional(v),
                          form=form or {}, error=error, registered=registered)


@router.get("/console/exchange", response_class=HTMLResponse)
async def exchange_console(request: Request) -> HTMLResponse:
    """The member institutions with their submissions, rejection rates and last submission."""
    return await run_in_threadpool(_list_page, request)


def _register(request: Request, form: dict[str, str]) -> HTMLResponse:
    shown = {name: form.get(name, "").strip()[:MAX_FIELD] for name in FORM_FIELDS}
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        guard.check_csrf(request, v, form.get("csrf_token"))
        if not _regional(v):
            raise guard.SurfaceForbidden(ADMIN_ONLY, ctx=v.ctx, surface=SURFACE)
        try:
            done = members.register_member(
                conn, v.ctx, org_id=shown["organization"], name=shown["name"] or None, sends=shown["sends"] or None,
                fhir_base=shown["fhir_base"] or None, mllp_address=shown["mllp"] or None,
                hl7_facility=shown["hl7_facility"] or None)
        except (members.MemberError, ClientError) as exc:
            error = str(exc)
        else:
            error = None
    if error is not None:
        return _list_page(request, status=400, form=shown, error=error)
    return _list_page(request, registered=done)


@router.post("/console/exchange", response_class=HTMLResponse)
async def register_member(request: Request) -> HTMLResponse:
    """Register an institution as a member; the page shows its client's secret this once."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_register, request, form)


def _chart(series: list[dict[str, Any]]) -> dict[str, Any]:
    return {"days": [d["day"] for d in series], "accepted": [d["accepted"] for d in series],
            "rejected": [d["rejected"] for d in series]}


def _member_page(request: Request, org_id: str) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        organization = f"Organization/{org_id}"
        if not _ORG_ID.fullmatch(org_id):
            page = None
        elif not _regional(v) and v.ctx.organization != organization:
            raise guard.SurfaceForbidden(OWN_ONLY, ctx=v.ctx, surface=SURFACE)
        else:
            try:
                page = stats.member_page(conn, organization=organization)
            except members.MemberError:
                page = None
    if page is None:
        return render_private(request, "exchange/member.html", status_code=404, page=None, missing=NOT_A_MEMBER)
    return render_private(request, "exchange/member.html", page=page, chart=_chart(page["volumes"]))


@router.get("/console/exchange/{org_id}", response_class=HTMLResponse)
async def exchange_member(request: Request, org_id: str) -> HTMLResponse:
    """One member's volumes per day, rejection rate, last submission, data quality and latest reports."""
    return await run_in_threadpool(_member_page, request, org_id[:80])
