"""The inbox page (every signed-in person), marking notifications read, and the notification preferences page."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import current_locale
from smartcare.platform.notifications import live
from smartcare.platform.notifications.channels import channel_names
from smartcare.platform.notifications.preferences import (
    PreferenceError,
    get_preferences,
    kinds,
    save_preferences,
)
from smartcare.platform.notifications.service import inbox, mark_all_read, mark_read, unread_count
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)
router.include_router(live.router)
_MAX_FIELD = 64


def _page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    response = render(request, template, status_code=status_code, **values)
    response.headers.update(guard.NO_STORE)
    return response


@router.get("/inbox", response_class=HTMLResponse)
async def inbox_page(request: Request) -> HTMLResponse:
    """The signed-in person's notifications, newest first, unread ones marked, in the page's language."""
    def show() -> HTMLResponse:
        with unit_of_work() as conn:
            v = guard.visitor(conn, request, "account")
            items = inbox(conn, user_id=v.user.id, locale=current_locale(request))
            unread = unread_count(conn, user_id=v.user.id)
        return _page(request, "notifications_inbox.html", items=items, unread=unread)
    return await run_in_threadpool(show)


def _mark(request: Request, notification_id: str | None, token: str | None) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "account")
        guard.check_csrf(request, v, token)
        if notification_id is None:
            mark_all_read(conn, user_id=v.user.id)
        else:
            mark_read(conn, user_id=v.user.id, notification_id=notification_id)
    return RedirectResponse("/inbox", status_code=303, headers=guard.NO_STORE)


@router.post("/inbox/{notification_id}/read")
async def read_one(request: Request, notification_id: str) -> Response:
    """Mark one of the person's notifications read."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_mark, request, notification_id[:36], form.get("csrf_token"))


@router.post("/inbox/read-all")
async def read_all(request: Request) -> Response:
    """Mark all of the person's notifications read."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_mark, request, None, form.get("csrf_token"))


def _preferences_page(request: Request, user_id: str, conn, *, status_code: int = 200, error: str | None = None,
                      saved: bool = False) -> HTMLResponse:
    return _page(request, "notifications_preferences.html", status_code=status_code, error=error, saved=saved,
                 prefs=get_preferences(conn, user_id=user_id), kinds=kinds(), channels=channel_names())


@router.get("/account/notifications", response_class=HTMLResponse)
async def preferences_page(request: Request) -> HTMLResponse:
    """Which channels the person wants for each kind of notification, and their quiet hours."""
    def show() -> HTMLResponse:
        with unit_of_work() as conn:
            v = guard.visitor(conn, request, "account")
            return _preferences_page(request, v.user.id, conn)
    return await run_in_threadpool(show)


def _save(request: Request, form: dict[str, str], chosen: dict[str, list[str]]) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "account")
        guard.check_csrf(request, v, form.get("csrf_token"))
        try:
            save_preferences(conn, user_id=v.user.id, channels=chosen,
                             quiet_start=form.get("quiet_start", "").strip()[:_MAX_FIELD] or None,
                             quiet_end=form.get("quiet_end", "").strip()[:_MAX_FIELD] or None,
                             time_zone=form.get("time_zone", "").strip()[:_MAX_FIELD])
        except PreferenceError as exc:
            return _preferences_page(request, v.user.id, conn, status_code=400, error=str(exc))
        return _preferences_page(request, v.user.id, conn, saved=True)


@router.post("/account/notifications", response_class=HTMLResponse)
async def save_preferences_page(request: Request) -> HTMLResponse:
    """Save the person's channel choices and quiet hours."""
    posted = await request.form()
    form = {key: value for key, value in posted.items() if isinstance(value, str)}
    # Each declared kind's checkboxes post "channel:<kind>" once per ticked channel; none ticked: inbox only.
    chosen = {k.name: [str(v)[:_MAX_FIELD] for v in posted.getlist(f"channel:{k.name}")][:10] for k in kinds()}
    return await run_in_threadpool(_save, request, form, chosen)
