"""The officers' release pages under /console/public-health: prepare a release, preview it, approve or reject it,
and write and decide the announcements of the public epidemic page.

Public-health officers only (the console/public-health surface, then the case-reports dataset); every form is
CSRF-checked and every read and decision audited by the services. The preview is the public page's own
presentation (public_views.present), so what is approved is exactly what the public will see.
"""

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.platform import clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.settings import get_settings
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render
from smartcare.regional.gate import require_dataset
from smartcare.regional.public_health import announcements, releases
from smartcare.regional.public_health.public_views import RELEASE_ID, present
from smartcare.regional.public_health.release_figures import (
    MAX_WEEKS,
    ReleaseInvalid,
    default_period,
    parse_period,
    week_label,
)

router = APIRouter(include_in_schema=False)

SURFACE = "console/public-health"
PAGE = "/console/public-health/releases"
ACTIONS = ("approve", "reject")
_DONE = {"prepared": _("The release is prepared. Another officer must approve it before it is public."),
         "approved": _("Approved: the release is now on the public page."),
         "rejected": _("Rejected: the release will never be public."),
         "written": _("The announcement is saved. Another officer must approve it before it is public."),
         "announced": _("Approved: the announcement is now on the public page."),
         "withheld": _("Rejected: the announcement will never be public.")}
_UNKNOWN_ACTION = _("Choose to approve or to reject.")


def _page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    response = render(request, template, status_code=status_code, **values)
    response.headers.update(guard.NO_STORE)
    return response


def _officer(conn: Connection, request: Request) -> guard.Visitor:
    """The signed-in public-health officer (the surface, then the case-reports dataset, decide)."""
    v = guard.visitor(conn, request, SURFACE)
    require_dataset(v.ctx, releases.CASE_REPORTS)
    return v


def region_today() -> date:
    """Today's date in the region's time zone."""
    return clock.now().astimezone(ZoneInfo(get_settings().region_timezone)).date()


def described(request: Request, exc: ReleaseInvalid) -> str:
    """The error's message in the reader's language."""
    return i18n.translator(request).gettext(exc.template).format(**exc.params)


def _list_page(request: Request, *, status_code: int = 200, form: dict[str, str] | None = None,
               errors: dict[str, str] | None = None, notice_form: dict[str, str] | None = None,
               notice_errors: dict[str, str] | None = None, decision_error: dict[str, str] | None = None) -> Response:
    locale = i18n.current_locale(request)
    with unit_of_work() as conn:
        v = _officer(conn, request)
        listed = releases.listed(conn, ctx=v.ctx)
        notices = announcements.listed(conn, ctx=v.ctx)
    me = v.ctx.subject or v.ctx.name
    period = default_period(region_today())
    done = _DONE.get(request.query_params.get("done", ""))
    return _page(
        request, "public_health/release_list.html", status_code=status_code, releases=listed, me=me,
        notices=[{"item": n, "shown": n.shown(locale)} for n in notices], max_weeks=MAX_WEEKS,
        form=form or {"first_week": week_label(period.start), "last_week": week_label(period.mondays[-1])},
        errors=errors or {}, notice_form=notice_form or {}, notice_errors=notice_errors or {},
        decision_error=decision_error, done=i18n.translator(request).gettext(done) if done else None)


@router.get(PAGE, response_class=HTMLResponse)
async def release_list(request: Request) -> Response:
    """Releases (pending, approved, rejected) with who and when, the form to prepare one, and the announcements."""
    return await run_in_threadpool(_list_page, request)


def _prepare(request: Request, fields: dict[str, str]) -> Response:
    form = {name: fields.get(name, "")[:20] for name in ("first_week", "last_week")}
    with unit_of_work() as conn:
        v = _officer(conn, request)
        guard.check_csrf(request, v, fields.get("csrf_token"))
    try:
        period = parse_period(form["first_week"], form["last_week"], today=region_today())
        with unit_of_work() as conn:
            release = releases.prepare(conn, ctx=v.ctx, period=period)
    except ReleaseInvalid as exc:
        return _list_page(request, status_code=exc.status, form=form,
                          errors={exc.field or "first_week": described(request, exc)})
    return guard.see_other(f"{PAGE}/{release.id}?done=prepared")


@router.post(PAGE)
async def prepare_release(request: Request) -> Response:
    """Count the period's case reports into a release awaiting approval (CSRF-checked)."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_prepare, request, fields)


def _detail_page(request: Request, release_id: str, *, status_code: int = 200, error: str | None = None,
                 reason: str = "") -> Response:
    locale = i18n.current_locale(request)
    with unit_of_work() as conn:
        v = _officer(conn, request)
        release = releases.get(conn, ctx=v.ctx, release_id=release_id) if RELEASE_ID.fullmatch(release_id) else None
    if release is None:
        return _page(request, "404.html", status_code=404, requested_path=request.url.path[:200])
    done = _DONE.get(request.query_params.get("done", ""))
    return _page(request, "public_health/release_detail.html", status_code=status_code, release=release,
                 view=present(release, locale), mine=release.decision.prepared_by_id == (v.ctx.subject or v.ctx.name),
                 error=error, reason=reason, done=i18n.translator(request).gettext(done) if done else None)


@router.get(PAGE + "/{release_id}", response_class=HTMLResponse)
async def release_detail(request: Request, release_id: str) -> Response:
    """One release: who prepared and decided it, exactly what the public will see, and approve or reject."""
    return await run_in_threadpool(_detail_page, request, release_id[:80])


def _decide_release(request: Request, release_id: str, fields: dict[str, str]) -> Response:
    action, reason = fields.get("action", ""), fields.get("reason", "")[: releases.MAX_REASON + 1]
    version = fields.get("version", "")
    with unit_of_work() as conn:
        v = _officer(conn, request)
        guard.check_csrf(request, v, fields.get("csrf_token"))
    try:
        if action not in ACTIONS:
            raise ReleaseInvalid(_UNKNOWN_ACTION)
        with unit_of_work() as conn:
            releases.decide_release(conn, ctx=v.ctx, release_id=release_id, approve=action == "approve",
                                    reason=reason, version=int(version) if version.isdigit() and len(version) < 9
                                    else None)
    except ReleaseInvalid as exc:
        return _detail_page(request, release_id, status_code=exc.status, error=described(request, exc),
                            reason=reason)
    return guard.see_other(f"{PAGE}/{release_id}?done={'approved' if action == 'approve' else 'rejected'}")


@router.post(PAGE + "/{release_id}/decision")
async def decide_release(request: Request, release_id: str) -> Response:
    """Approve (another officer than the preparer) or reject with a reason (CSRF-checked)."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_decide_release, request, release_id[:80], fields)


NOTICE_FIELDS = ("title_en", "body_en", "title_zh", "body_zh")


def _write_notice(request: Request, fields: dict[str, str]) -> Response:
    limits = {"title_en": announcements.MAX_TITLE, "title_zh": announcements.MAX_TITLE,
              "body_en": announcements.MAX_BODY, "body_zh": announcements.MAX_BODY}
    # One character over each limit is kept, so the check can say the text is too long.
    form = {name: fields.get(name, "")[: limits[name] + 1] for name in NOTICE_FIELDS}
    with unit_of_work() as conn:
        v = _officer(conn, request)
        guard.check_csrf(request, v, fields.get("csrf_token"))
    try:
        with unit_of_work() as conn:
            announcements.write(conn, ctx=v.ctx, draft=announcements.Draft(**form))
    except ReleaseInvalid as exc:
        return _list_page(request, status_code=exc.status, notice_form=form,
                          notice_errors={exc.field or "title_en": described(request, exc)})
    return guard.see_other(f"{PAGE}?done=written#announcements")


@router.post("/console/public-health/announcements")
async def write_announcement(request: Request) -> Response:
    """Save an announcement awaiting approval (CSRF-checked)."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_write_notice, request, fields)


def _decide_notice(request: Request, announcement_id: str, fields: dict[str, str]) -> Response:
    action, reason = fields.get("action", ""), fields.get("reason", "")[: releases.MAX_REASON + 1]
    with unit_of_work() as conn:
        v = _officer(conn, request)
        guard.check_csrf(request, v, fields.get("csrf_token"))
    try:
        if action not in ACTIONS or not RELEASE_ID.fullmatch(announcement_id):
            raise ReleaseInvalid(_UNKNOWN_ACTION)
        with unit_of_work() as conn:
            announcements.decide_announcement(conn, ctx=v.ctx, announcement_id=announcement_id,
                                              approve=action == "approve", reason=reason)
    except ReleaseInvalid as exc:
        return _list_page(request, status_code=exc.status,
                          decision_error={"id": announcement_id, "message": described(request, exc), "reason": reason})
    return guard.see_other(f"{PAGE}?done={'announced' if action == 'approve' else 'withheld'}#announcements")


@router.post("/console/public-health/announcements/{announcement_id}/decision")
async def decide_announcement(request: Request, announcement_id: str) -> Response:
    """Approve (another officer than the writer) or reject an announcement with a reason (CSRF-checked)."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_decide_notice, request, announcement_id[:80], fields)
