"""The authoring pages under /console/news: list, write, change and withdraw articles.

Open to hospital administrators (their own organisation's articles) and the health authority (regional
administrators and public-health officers); every form is CSRF-checked and every change audited by the service.
"""

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.patient.news import service, targeting
from smartcare.patient.news.service import Draft, NewsError
from smartcare.platform import clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.settings import get_settings
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

SURFACE = "console/news"
_MAX_ID = 36
_LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")
_DONE = {"created": _("The article is saved. It goes out at its publish time."),
         "saved": _("Your changes are saved."), "withdrawn": _("The article is withdrawn.")}
LANGUAGE_NAMES = (_("English"), _("Chinese"))


def _page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    response = render(request, template, status_code=status_code, **values)
    response.headers.update(guard.NO_STORE)
    return response


def _author(conn: Connection, request: Request) -> guard.Visitor:
    """The signed-in writer: a role the console/news surface admits (the policy's SURFACE_ROLES)."""
    return guard.visitor(conn, request, SURFACE)


def described(request: Request, exc: NewsError) -> str:
    """The error's message in the reader's language."""
    words = i18n.translator(request)
    return words.gettext(exc.template).format(**{k: words.gettext(v) if isinstance(v, str) else v
                                                 for k, v in exc.params.items()})


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().region_timezone)


def local_input(instant: str | None) -> str:
    """A stored instant as a datetime-local field's value in the region's time."""
    if not instant:
        return ""
    return clock.parse_instant(instant).astimezone(_zone()).strftime("%Y-%m-%dT%H:%M")


def _instant(text: str | None) -> datetime | None:
    value = (text or "").strip()[:40]
    if not value:
        return None
    if not _LOCAL_TIME.fullmatch(value):
        raise NewsError(_("{value} is not a date and time."), value=value[:20])
    try:
        return datetime.fromisoformat(value).replace(tzinfo=_zone())
    except ValueError as exc:
        raise NewsError(_("{value} is not a date and time."), value=value[:20]) from exc


def _age(text: str | None) -> int | None:
    value = (text or "").strip()[:10]
    if not value:
        return None
    if not value.isdigit():
        raise NewsError(_("An age is a whole number from 0 to {limit}."), limit=service.MAX_AGE)
    return int(value)


def draft_from(fields: dict[str, str], districts: list[str]) -> Draft:
    """The draft a posted form describes; NewsError for numbers and times that cannot be read."""
    def text(name: str, limit: int) -> str:
        return fields.get(name, "")[: limit + 1]  # one over, so the service can say it is too long

    return Draft(
        category=fields.get("category", "")[:40],
        title_en=text("title_en", service.MAX_TITLE), summary_en=text("summary_en", service.MAX_SUMMARY),
        body_en=text("body_en", service.MAX_BODY), title_zh=text("title_zh", service.MAX_TITLE),
        summary_zh=text("summary_zh", service.MAX_SUMMARY), body_zh=text("body_zh", service.MAX_BODY),
        districts=tuple(d[:40] for d in districts[:20]), age_min=_age(fields.get("age_min")),
        age_max=_age(fields.get("age_max")),
        icd10_prefixes=tuple(p for p in re.split(r"[\s,;，；、]+", fields.get("icd10", "")[:300]) if p),
        publish_at=_instant(fields.get("publish_at")), expires_at=_instant(fields.get("expires_at")),
    )


async def _posted(request: Request) -> tuple[dict[str, str], list[str]]:
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    return fields, [d for d in form.getlist("district") if isinstance(d, str)]


def _form_values(article: dict[str, Any] | None, fields: dict[str, str] | None = None,
                 districts: list[str] | None = None) -> dict[str, Any]:
    """What the form shows: what was posted (after an error), else the stored article, else empty."""
    if fields is not None:
        return {**fields, "districts": set(districts or [])}
    if article is None:
        return {"category": "", "districts": set()}
    return {**{k: article[k] or "" for k in ("category", "title_en", "summary_en", "body_en", "title_zh",
                                               "summary_zh", "body_zh")},
            "districts": set(article["districts"].split()), "icd10": ", ".join(article["icd10_prefixes"].split()),
            "age_min": "" if article["age_min"] is None else str(article["age_min"]),
            "age_max": "" if article["age_max"] is None else str(article["age_max"]),
            "publish_at": local_input(article["publish_at"]), "expires_at": local_input(article["expires_at"])}


def _form_page(request: Request, v: guard.Visitor, *, article: dict[str, Any] | None, status_code: int = 200,
               error: str | None = None, values: dict[str, Any] | None = None) -> HTMLResponse:
    categories = {k: label for k, label in service.category_labels(i18n.current_locale(request)).items()
                  if k != service.ALERT or service.is_authority(v.ctx)}
    preview = None
    if article is not None:
        preview = {lang: service.localised(article, lang) for lang in ("en", "zh-Hans")}
    return _page(request, "news/console_form.html", status_code=status_code, error=error, article=article,
                 values=values or _form_values(article), categories=categories, districts=targeting.districts(),
                 preview=preview, authority=service.is_authority(v.ctx))


def _console_list(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = _author(conn, request)
        error, articles, status = None, [], 200
        try:
            articles = service.authored_articles(conn, ctx=v.ctx)
        except NewsError as exc:
            error, status = described(request, exc), exc.status
        chinese = service.chinese_names(conn, articles)
    now = clock.format_instant(clock.now())
    words = i18n.translator(request)
    rows = [{**a, "title": a["title_en"] or a["title_zh"], "current": service.is_current(a),
             "byline": service.byline(a, words.locale, chinese),
             "waiting": a["status"] == service.SCHEDULED and a["publish_at"] > now,
             "expired": bool(a["expires_at"]) and a["expires_at"] <= now, "public": targeting.is_public(a),
             "manageable": service.may_manage(v.ctx, a)} for a in articles]
    done = _DONE.get(request.query_params.get("done", ""))
    return _page(request, "news/console_list.html", status_code=status, error=error, articles=rows,
                 categories=service.category_labels(words.locale), done=words.gettext(done) if done else None)


@router.get("/console/news", response_class=HTMLResponse)
async def console_list(request: Request) -> HTMLResponse:
    """The articles the writer manages: scheduled, out, expired and withdrawn, newest first."""
    return await run_in_threadpool(_console_list, request)


@router.get("/console/news/new", response_class=HTMLResponse)
async def new_article_page(request: Request) -> HTMLResponse:
    """An empty article form."""
    def show() -> HTMLResponse:
        with unit_of_work() as conn:
            v = _author(conn, request)
        return _form_page(request, v, article=None)
    return await run_in_threadpool(show)


def _organization_name(v: guard.Visitor) -> str | None:
    if service.is_authority(v.ctx) or not v.ctx.organization:
        return None
    try:
        return gateway.read(v.ctx, v.ctx.organization).get("name")
    except FhirError:
        return None


def _create(request: Request, fields: dict[str, str], districts: list[str]) -> Response:
    with unit_of_work() as conn:
        v = _author(conn, request)
        guard.check_csrf(request, v, fields.get("csrf_token"))
    name = _organization_name(v)
    try:
        draft = draft_from(fields, districts)
        with unit_of_work() as conn:
            article_id = service.create_article(conn, ctx=v.ctx, draft=draft, organization_name=name)
    except NewsError as exc:
        return _form_page(request, v, article=None, status_code=exc.status, error=described(request, exc),
                          values=_form_values(None, fields, districts))
    return guard.see_other(f"/console/news?done=created#article-{article_id}")


@router.post("/console/news/new")
async def create_article(request: Request) -> Response:
    """Save a new article (CSRF-checked): sanitised, validated, scheduled for its publish time."""
    fields, districts = await _posted(request)
    return await run_in_threadpool(_create, request, fields, districts)


def _managed(conn: Connection, v: guard.Visitor, article_id: str) -> dict[str, Any] | None:
    article = service.get_article(conn, article_id=article_id)
    return article if article is not None and service.may_manage(v.ctx, article) else None


def _edit_page(request: Request, article_id: str) -> HTMLResponse:
    with unit_of_work() as conn:
        v = _author(conn, request)
        article = _managed(conn, v, article_id)
    if article is None:
        return _page(request, "404.html", status_code=404, requested_path=request.url.path[:200])
    return _form_page(request, v, article=article)


@router.get("/console/news/{article_id}", response_class=HTMLResponse)
async def edit_article_page(request: Request, article_id: str) -> HTMLResponse:
    """An article's form, filled in, with a preview of what readers see in each language."""
    return await run_in_threadpool(_edit_page, request, article_id[:_MAX_ID])


def _update(request: Request, article_id: str, fields: dict[str, str], districts: list[str]) -> Response:
    with unit_of_work() as conn:
        v = _author(conn, request)
        guard.check_csrf(request, v, fields.get("csrf_token"))
        article = _managed(conn, v, article_id)
    if article is None:
        return _page(request, "404.html", status_code=404, requested_path=request.url.path[:200])
    try:
        draft = draft_from(fields, districts)
        with unit_of_work() as conn:
            service.update_article(conn, ctx=v.ctx, article_id=article_id, draft=draft)
    except NewsError as exc:
        return _form_page(request, v, article=article, status_code=exc.status, error=described(request, exc),
                          values=_form_values(article, fields, districts))
    return guard.see_other(f"/console/news?done=saved#article-{article_id}")


@router.post("/console/news/{article_id}")
async def update_article(request: Request, article_id: str) -> Response:
    """Save changes to an article (CSRF-checked)."""
    fields, districts = await _posted(request)
    return await run_in_threadpool(_update, request, article_id[:_MAX_ID], fields, districts)


def _withdraw(request: Request, article_id: str, token: str | None) -> Response:
    with unit_of_work() as conn:
        v = _author(conn, request)
        guard.check_csrf(request, v, token)
        try:
            service.withdraw_article(conn, ctx=v.ctx, article_id=article_id)
        except NewsError:
            return _page(request, "404.html", status_code=404, requested_path=request.url.path[:200])
    return guard.see_other("/console/news?done=withdrawn")


@router.post("/console/news/{article_id}/withdraw")
async def withdraw_article(request: Request, article_id: str) -> Response:
    """Withdraw an article from the app and the feed (CSRF-checked)."""
    fields, _districts = await _posted(request)
    return await run_in_threadpool(_withdraw, request, article_id[:_MAX_ID], fields.get("csrf_token"))
