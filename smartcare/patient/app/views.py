"""The app's home (/app: whose record, what matters now, every service one tap away) and its display settings
(/app/settings: language and large text).

Every read goes through the FHIR gateway as the signed-in person (policy and audit); the settings are kept on the
account (language) and in a cookie (text size, which has no account field), so they apply from the next page on.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.patient.app import home
from smartcare.patient.app.services import services_for
from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.security import users
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

TEXT_COOKIE = "sc_text"
TEXT_SIZES = ("normal", "large")
_MAX_FIELD = 20


def _page(request: Request, template: str, *, status_code: int = 200, **values: Any) -> HTMLResponse:
    response = render(request, template, status_code=status_code, **values)
    response.headers.update(guard.NO_STORE)
    return response


def _app_home(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
        unread = home.unread_messages(conn, v.user.id)
    # The gateway reads below run (and are audited) in transactions of their own: whose records there are, the
    # name of the open one's organisation, then everything the home shows of it in one.
    people = home.people(v.ctx)
    own = (v.ctx.patient or "").removeprefix("Patient/")
    people.sort(key=lambda p: p["id"] != own)  # the account's own record first, then those they look after
    wanted = guard.wanted_person(request)
    current = next((p for p in people if p["id"] == wanted), people[0] if people else None)
    results = appointments = problems = []
    now = None
    if current is not None:
        current = {**current, "organization": home.organization_name(v.ctx, current["organization"])}
        record = home.read_record(v.ctx, current["id"])
        results, appointments = home.result_rows(record["observations"]), home.appointment_rows(record["appointments"])
        problems = home.problem_rows(record["problems"])
        now = home.what_matters_now(record, unread=unread, locale=i18n.current_locale(request))
    response = _page(request, "home/app.html", user=v.user, people=people, current=current, results=results,
                     problems=problems, appointments=appointments, now=now, own=own,
                     services=services_for(v.user.role.value))
    if current is not None and len(people) > 1:
        guard.keep_person(request, response, current["id"])
    return response


@router.get("/app", response_class=HTMLResponse)
async def app_home(request: Request) -> HTMLResponse:
    """The patient's (or caregiver's) home: whose record, what matters now, results, appointments, every service."""
    return await run_in_threadpool(_app_home, request)


def _settings_page(request: Request, v: guard.Visitor, *, status_code: int = 200, error: str | None = None,
                   saved: bool = False) -> HTMLResponse:
    size = request.cookies.get(TEXT_COOKIE) if request.cookies.get(TEXT_COOKIE) in TEXT_SIZES else "normal"
    return _page(request, "app/settings.html", status_code=status_code, user=v.user, text_size=size,
                 languages=[(tag, label) for tag, label in (("en", "English"), ("zh-Hans", "简体中文"))],
                 error=error, saved=saved)


def _settings(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    return _settings_page(request, v, saved=request.query_params.get("saved") == "1")


@router.get("/app/settings", response_class=HTMLResponse)
async def settings_page(request: Request) -> HTMLResponse:
    """Display settings: the app's language and large text for easier reading."""
    return await run_in_threadpool(_settings, request)


def _save_settings(request: Request, form: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
        guard.check_csrf(request, v, form.get("csrf_token"))
        locale = i18n.supported_locale(form.get("language", "")[:_MAX_FIELD])
        size = form.get("text_size", "")[:_MAX_FIELD]
        if locale is None or size not in TEXT_SIZES:
            return _settings_page(request, v, status_code=400, error=_("Choose a language and a text size."))
        if locale != v.user.locale:
            users.set_locale(conn, user_id=v.user.id, locale=locale)
    response = guard.see_other(f"/app/settings?saved=1&lang={locale}")
    secure = request.url.scheme == "https"
    response.set_cookie(TEXT_COOKIE, size, max_age=i18n.COOKIE_MAX_AGE, path="/", secure=secure, httponly=True,
                        samesite="lax")
    response.set_cookie(i18n.COOKIE_NAME, locale, max_age=i18n.COOKIE_MAX_AGE, path="/", secure=secure,
                        samesite="lax")
    return response


@router.post("/app/settings")
async def save_settings(request: Request) -> Response:
    """Keep the chosen language (on the account and in the language cookie) and text size (in a cookie)."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_save_settings, request, form)
