"""Administrators' console pages: the audit log (search and verification) and registered apps and devices."""

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.platform import audit
from smartcare.platform.audit.service import OUTCOMES, SUBTYPES, AuditError
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import clients
from smartcare.platform.security.policy import HOSPITAL_CLIENT_KINDS, AccessDenied, decide_client_admin
from smartcare.platform.security.scopes import InvalidScope, parse_scopes
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
_MAX_FIELD = 1000
_FILTERS = ("agent", "patient", "subtype", "outcome", "since", "until")
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def _page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    response = render(request, template, status_code=status_code, **values)
    response.headers.update(guard.NO_STORE)
    return response


def _filters(request: Request) -> dict[str, str]:
    """The audit filters as typed, trimmed and cut to length (the service checks their form)."""
    return {name: request.query_params.get(name, "").strip()[:_MAX_FIELD] for name in _FILTERS}


def _audit_page(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "console/audit")
        typed = _filters(request)
        try:
            page = max(0, min(int(request.query_params.get("page", "0") or 0), 10_000))
        except ValueError:
            page = 0
        error = None
        entries: list[dict[str, Any]] = []
        try:
            entries = audit.search(conn, limit=PAGE_SIZE + 1, offset=page * PAGE_SIZE,
                                   **{k: value or None for k, value in typed.items()})
        except AuditError as exc:
            error = str(exc)
        if error is None:
            # Reading the log is itself recorded: it says whose records were opened.
            query = "&".join(f"{k}={value}" for k, value in typed.items() if value)
            audit.record(conn, ctx=v.ctx, action="R", subtype="search",
                         entities=[f"AuditEvent?{query}"[:200]], purpose="HOPERAT")
    shown = [
        {"seq": e["seq"], "shown": e["recorded"][:19].replace("T", " "), "agent": e["agent"], "action": e["action"],
         "subtype": e["subtype"], "outcome": e["outcome"], "failed": e["outcome"] != "0",
         "patient": e["patient"] or "", "what": _what(e["event"])}
        for e in entries[:PAGE_SIZE]
    ]
    return _page(request, "console/audit.html", status_code=400 if error else 200, filters=typed, error=error,
                 entries=shown, page=page, more=len(entries) > PAGE_SIZE, subtypes=sorted(SUBTYPES),
                 outcomes=OUTCOMES, report=None)


def _what(event: dict) -> str:
    parts = []
    for entity in event.get("entity", []):
        if entity.get("role", {}).get("code") == "1":
            continue
        parts.append(entity.get("what", {}).get("reference") or entity.get("description", ""))
    for purpose in event.get("purposeOfEvent", []):
        parts += [c.get("code", "") for c in purpose.get("coding", [])]
    return ", ".join(p for p in parts if p)[:200]


@router.get("/console/audit", response_class=HTMLResponse)
async def audit_page(request: Request) -> HTMLResponse:
    """Search the audit log by who, which patient, what, outcome and time, newest first."""
    return await run_in_threadpool(_audit_page, request)


def _verify(request: Request, token: str | None) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "console/audit")
        guard.check_csrf(request, v, token)
        report = audit.verify(conn)
    return _page(request, "console/audit.html", filters=dict.fromkeys(_FILTERS, ""), error=None, entries=[],
                 page=0, more=False, subtypes=sorted(SUBTYPES), outcomes=OUTCOMES, report=report)


@router.post("/console/audit/verify", response_class=HTMLResponse)
async def verify_audit(request: Request) -> HTMLResponse:
    """Walk the hash chain and say whether the log is intact, or which entry was altered or removed."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_verify, request, form.get("csrf_token"))


def _visible_clients(conn: Connection, v: guard.Visitor) -> list[clients.Client]:
    found = clients.list_clients(conn)
    if "regional_admin" in v.ctx.roles:
        return found
    return [c for c in found if c.organization and c.organization == v.ctx.organization]


def _clients_page(request: Request, conn: Connection, v: guard.Visitor, *, status_code: int = 200,
                  error: str | None = None, created: dict | None = None, form: dict | None = None) -> HTMLResponse:
    return _page(request, "console/clients.html", status_code=status_code, clients=_visible_clients(conn, v),
                 error=error, created=created, form=form or {},
                 kinds=clients.CLIENT_KINDS if "regional_admin" in v.ctx.roles else tuple(HOSPITAL_CLIENT_KINDS),
                 regional="regional_admin" in v.ctx.roles, organization=v.ctx.organization)


@router.get("/console/clients", response_class=HTMLResponse)
async def clients_page(request: Request) -> HTMLResponse:
    """The apps, systems and devices registered to call SmartCare."""
    def show() -> HTMLResponse:
        with unit_of_work() as conn:
            v = guard.visitor(conn, request, "console/clients")
            return _clients_page(request, conn, v)
    return await run_in_threadpool(show)


def _register(request: Request, form: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "console/clients")
        guard.check_csrf(request, v, form.get("csrf_token"))
        name, kind = form.get("name", "").strip()[:_MAX_FIELD], form.get("kind", "")
        device = form.get("device", "").strip()
        organization = v.ctx.organization if "regional_admin" not in v.ctx.roles else (
            f"Organization/{form['organization'].strip()}" if form.get("organization", "").strip() else None)
        try:
            if device and not _FHIR_ID.fullmatch(device):
                raise clients.ClientError("A device id is 1-64 letters, digits, dashes or dots")
            if organization and not _FHIR_ID.fullmatch(organization.removeprefix("Organization/")):
                raise clients.ClientError("An organisation id is 1-64 letters, digits, dashes or dots")
            scopes = str(parse_scopes(form.get("scope", "")[:1000])).split()
            decide_client_admin(v.ctx, kind=kind, scopes=scopes, organization=organization)
            client, secret = clients.register_client(
                conn, name=name, kind=kind, scopes=" ".join(scopes), fhir_ref=f"Device/{device}" if device else None,
                organization=organization, public=kind == "app" and form.get("public") == "on",
            )
        except (clients.ClientError, InvalidScope, AccessDenied) as exc:
            return _clients_page(request, conn, v, status_code=400 if not isinstance(exc, AccessDenied) else 403,
                                 error=str(exc), form=form)
        audit.record(conn, ctx=v.ctx, action="C", subtype="security-config",
                     description=f"registered {kind} client {client.client_id} ({client.name}) with {' '.join(scopes)}")
        return _clients_page(request, conn, v, created={"client_id": client.client_id, "secret": secret})


@router.post("/console/clients", response_class=HTMLResponse)
async def register_client(request: Request) -> Response:
    """Register an app, system or device; its secret is shown once on the answer page."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_register, request, form)


def _disable(request: Request, client_id: str, form: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "console/clients")
        guard.check_csrf(request, v, form.get("csrf_token"))
        client = clients.get_client(conn, client_id=client_id)
        try:
            if client is None:
                raise clients.ClientError("No such client")
            decide_client_admin(v.ctx, kind=client.kind, scopes=[], organization=client.organization)
            clients.set_disabled(conn, client_id=client.client_id, disabled=True)
            audit.record(conn, ctx=v.ctx, action="U", subtype="security-config",
                         description=f"disabled client {client.client_id} ({client.name})")
        except (clients.ClientError, AccessDenied) as exc:
            return _clients_page(request, conn, v, status_code=403 if isinstance(exc, AccessDenied) else 404,
                                 error=str(exc))
        return _clients_page(request, conn, v)


@router.post("/console/clients/{client_id}/disable", response_class=HTMLResponse)
async def disable_client(request: Request, client_id: str) -> Response:
    """Disable a client: it gets no new tokens."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_disable, request, client_id[:64], form)
