"""The resident's page in the app: who may see my records across the region, and what stays where it was recorded."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import current_locale
from smartcare.platform.security import sensitivity
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import render_private
from smartcare.regional.consent import service

router = APIRouter(include_in_schema=False)
PAIR = "__"  # a "may see" checkbox is named see<recipient>__<sender>


def _people(v: guard.Visitor, wanted: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    people = gateway.search(v.ctx, "Patient", [("_count", "20")])
    return people, next((p for p in people if p.get("id") == wanted), people[0] if people else None)


def choices_from(fields: dict[str, str], institutions: list[service.Institution]) -> service.Choices:
    """The choices a posted form asks for; checkbox names outside the page's own raise ChoiceProblem."""
    ids = {i.id for i in institutions}
    allowed: set[tuple[str, str]] = set()
    withheld: list[str] = []
    for name in fields:
        if name.startswith("withhold-"):
            withheld.append(name.removeprefix("withhold-"))
        elif name.startswith("see-"):
            recipient, _, sender = name.removeprefix("see-").partition(PAIR)
            if recipient not in ids or sender not in ids:
                raise service.ChoiceProblem(f"Unknown institution in '{name[:80]}'")
            allowed.add((recipient, sender))
    if fields.get("share") not in ("yes", "no"):
        raise service.ChoiceProblem("Choose whether to share your records")
    share = fields["share"] == "yes"
    blocked = {r: [s for s in sorted(ids) if s != r and (r, s) not in allowed] for r in sorted(ids)} if share else {}
    return service.Choices(share=share, withheld=withheld, blocked={r: s for r, s in blocked.items() if s})


def _page(request: Request, fields: dict[str, str] | None) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    if fields is not None:
        guard.check_csrf(request, v, fields.get("csrf_token"))
    people, current = _people(v, (fields or {}).get("person") or request.query_params.get("person", ""))
    institutions = service.institutions(v.ctx)
    error, saved, status = "", False, 200
    choices = service.default_choices()
    if current is not None:
        try:
            if fields is not None:
                choices = service.save(v.ctx, current["id"], choices_from(fields, institutions))
                saved = True
            else:
                choices = service.current(v.ctx, current["id"])
        except service.ChoiceProblem:
            error, status = "invalid", 400
            choices = service.current(v.ctx, current["id"])
        except FhirError:
            error, status = "refused", 403
            choices = service.current(v.ctx, current["id"])
    zh = current_locale(request) == "zh-Hans"
    shown = [{"id": i.id, "name": i.name_zh if zh else i.name} for i in institutions]
    return render_private(
        request, "consent/sharing.html", status_code=status, user=v.user, choices=choices, institutions=shown,
        categories=list(sensitivity.categories()), error=error, saved=saved, pair=PAIR,
        people=[{"id": p["id"], "name": fhir_text.person_name(p)} for p in people],
        current={"id": current["id"], "name": fhir_text.person_name(current)} if current else None)


@router.get("/app/sharing", response_class=HTMLResponse)
async def sharing_page(request: Request) -> Response:
    """Who may see my records across the region: sharing on or off, sensitive categories, institution by institution."""
    return await run_in_threadpool(_page, request, None)


@router.post("/app/sharing", response_class=HTMLResponse)
async def sharing_saved(request: Request) -> Response:
    """Store the resident's choices as Consents (CSRF-checked); the access policy applies them at once."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_page, request, fields)
