"""The app's family access page (/app/family-access): who may look after the chosen person's record (grant, withdraw)
and whose records the signed-in account looks after (step down).

Everything is read and written as the signed-in person through the FHIR gateway (service.py), so the access policy
decides and each read and write is audited, as done on behalf of the person when it is someone else's record.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.patient.family_access import service
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
PATH = "/app/family-access"
_MAX_FIELD = 80


def _people(v: guard.Visitor, wanted: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None, str]:
    own = (v.ctx.patient or "").removeprefix("Patient/")
    found = gateway.search(v.ctx, "Patient", [("_count", str(service.PEOPLE_SHOWN))])
    people = sorted(({"id": p["id"], "name": fhir_text.person_name(p) or p["id"]} for p in found if p.get("id")),
                    key=lambda p: p["id"] != own)
    current = next((p for p in people if p["id"] == wanted), people[0] if people else None)
    return people, current, own


def _page(request: Request, v: guard.Visitor, *, wanted: str, status_code: int = 200, error: str = "",
          field: str = "", fields: dict[str, str] | None = None, done: str = "", hint: str = "",
          retry_minutes: int = 0) -> HTMLResponse:
    people, current, own = _people(v, wanted)
    grants = service.grants(v.ctx, current["id"]) if current else []
    looked_after = [p for p in people if p["id"] != own]
    own_grants = service.own_grants(v.ctx) if looked_after else {}
    mine = {p["id"]: own_grants.get(p["id"]) for p in looked_after}
    return render_private(request, "family_access/family_access.html", status_code=status_code, user=v.user,
                          people=people, current=current, own=own, grants=grants, looked_after=looked_after,
                          mine=mine, relationships=service.RELATIONSHIPS, seen_from=service.SEEN_FROM_MEMBER,
                          error=error, field=field, fields=fields or {}, done=done, hint=hint,
                          retry_minutes=retry_minutes)


def _show(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    return _page(request, v, wanted=guard.wanted_person(request), done=request.query_params.get("done", "")[:20])


@router.get(PATH, response_class=HTMLResponse)
async def family_access(request: Request) -> HTMLResponse:
    """Who may look after the person's record, a form to let a family member do so, and the people I look after."""
    return await run_in_threadpool(_show, request)


def _change(request: Request, fields: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    guard.check_csrf(request, v, fields.get("csrf_token"))
    fields = {k: value[:_MAX_FIELD] for k, value in fields.items()}
    people, current, _own = _people(v, fields.get("person", ""))
    if current is None or current["id"] != fields.get("person"):
        return not_found(request)
    action = fields.get("action", "")
    try:
        if action == "grant":
            service.grant(v.ctx, current["id"], member=fields.get("member", ""), name=fields.get("name", ""),
                          relationship=fields.get("relationship", ""))
        elif action in ("withdraw", "step-down"):
            service.withdraw(v.ctx, current["id"], fields.get("related_person", ""))
        else:
            return not_found(request)
    except service.GrantThrottled as exc:
        return _page(request, v, wanted=current["id"], status_code=429, retry_minutes=exc.minutes, fields=fields)
    except service.GrantError as exc:
        return _page(request, v, wanted=current["id"], status_code=422, error=str(exc), field=exc.field,
                     fields=fields, hint=exc.hint)
    if action == "step-down":
        return guard.see_other(f"{PATH}?done=stepped-down")
    return guard.see_other(f"{PATH}?person={current['id']}&done={'granted' if action == 'grant' else 'withdrawn'}")


@router.post(PATH, response_class=HTMLResponse)
async def change_family_access(request: Request) -> Response:
    """Let a family member look after the person's record, withdraw it, or step down; CSRF-checked."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_change, request, fields)
