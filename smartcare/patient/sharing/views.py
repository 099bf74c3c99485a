"""The app's share-link pages: make a link with a QR code for a doctor outside the region, see its uses, revoke it."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.patient.sharing import links
from smartcare.patient.sharing.scopes import share_scopes
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import current_locale
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
PEOPLE_SHOWN = 20
# The lifetimes offered, in hours (the service accepts any whole number of hours from 1 to 720).
LIFETIMES = (1, 24, 72, 168, 720)
DEFAULT_LIFETIME = 72


def people_and_current(request: Request, v: guard.Visitor, wanted: str | None = None
                       ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The people the visitor stands for (themselves, or those they are a proxy for) and the one chosen."""
    found = gateway.search(v.ctx, "Patient", [("_count", str(PEOPLE_SHOWN))])
    people = [{"id": p["id"], "name": fhir_text.person_name(p)} for p in found if p.get("id")]
    wanted = wanted if wanted is not None else guard.wanted_person(request)
    current = next((p for p in people if p["id"] == wanted), people[0] if people else None)
    return people, current


def _link_row(link: links.ShareLink, locale: str) -> dict[str, Any]:
    return {"id": link.id, "label": link.label, "scope": share_scopes()[link.scope].title(locale),
            "created": link.created, "expires": link.expires, "revoked": link.revoked, "state": link.state(),
            "uses": link.uses, "last_used": link.last_used}


def _page(request: Request, v: guard.Visitor, people: list[dict[str, Any]], current: dict[str, Any] | None, *,
          status_code: int = 200, error: str = "", made: dict[str, Any] | None = None,
          fields: dict[str, str] | None = None) -> HTMLResponse:
    locale = current_locale(request)
    with unit_of_work() as conn:
        rows = [_link_row(x, locale) for x in links.links_for(conn, f"Patient/{current['id']}")] if current else []
    scopes = [{"key": s.key, "title": s.title(locale)} for s in share_scopes().values()]
    return render_private(request, "sharing/share.html", status_code=status_code, user=v.user, people=people,
                          current=current, links=rows, scopes=scopes, lifetimes=LIFETIMES, error=error, made=made,
                          fields=fields or {"scope": "summary", "hours": str(DEFAULT_LIFETIME), "label": ""},
                          max_label=links.MAX_LABEL)


def _list(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    people, current = people_and_current(request, v)
    return _page(request, v, people, current)


@router.get("/app/share", response_class=HTMLResponse)
async def share_links(request: Request) -> HTMLResponse:
    """The person's share links with their uses, and the form to make a new one."""
    return await run_in_threadpool(_list, request)


def _create(request: Request, form: dict[str, str]) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    guard.check_csrf(request, v, form.get("csrf_token"))
    people, current = people_and_current(request, v, form.get("person", "")[:64])
    fields = {"scope": form.get("scope", "")[:32], "hours": form.get("hours", "")[:6],
              "label": form.get("label", "")[:links.MAX_LABEL * 2]}
    if current is None or current["id"] != form.get("person"):
        return _page(request, v, people, current, status_code=400, error="person", fields=fields)
    try:
        hours = int(fields["hours"]) if fields["hours"].isdigit() else 0
        with unit_of_work() as conn:
            link, token = links.create_link(conn, ctx=v.ctx, patient_ref=f"Patient/{current['id']}",
                                            scope=fields["scope"], hours=hours, label=fields["label"])
    except links.ShareLinkProblem as exc:
        return _page(request, v, people, current, status_code=400, error=exc.code, fields=fields)
    url = f"{str(request.base_url).rstrip('/')}/shared/{token}"
    made = {"url": url, "qr_svg": links.qr_svg(url), **_link_row(link, current_locale(request))}
    return _page(request, v, people, current, status_code=201, made=made)


@router.post("/app/share", response_class=HTMLResponse)
async def make_share_link(request: Request) -> HTMLResponse:
    """Make a link (scope, lifetime, label) and show it once with its QR code; CSRF-checked."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_create, request, form)


def _revoke(request: Request, link_id: str, form: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    guard.check_csrf(request, v, form.get("csrf_token"))
    people, current = people_and_current(request, v, form.get("person", "")[:64])
    if current is None or current["id"] != form.get("person"):
        return not_found(request)
    try:
        with unit_of_work() as conn:
            links.revoke(conn, ctx=v.ctx, patient_ref=f"Patient/{current['id']}", link_id=link_id)
    except links.ShareLinkProblem:
        return not_found(request)
    return guard.see_other(f"/app/share?person={current['id']}")


@router.post("/app/share/{link_id}/revoke")
async def revoke_share_link(request: Request, link_id: str) -> Response:
    """End a link at once: from now on it answers 410; CSRF-checked."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_revoke, request, link_id[:36], form)


def _uses(request: Request, link_id: str) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
        link = links.link_by_id(conn, link_id)
    people, _ = people_and_current(request, v)
    if link is None or link.patient_ref.removeprefix("Patient/") not in {p["id"] for p in people}:
        return not_found(request)
    with unit_of_work() as conn:
        uses = links.uses_of(conn, link)
    person = next(p for p in people if f"Patient/{p['id']}" == link.patient_ref)
    return render_private(request, "sharing/share_uses.html", user=v.user, person=person,
                          link=_link_row(link, current_locale(request)), uses=uses)


@router.get("/app/share/{link_id}", response_class=HTMLResponse)
async def share_link_uses(request: Request, link_id: str) -> HTMLResponse:
    """Every use of one link: when, from which address, what was served, and tries after it ended."""
    return await run_in_threadpool(_uses, request, link_id[:36])
