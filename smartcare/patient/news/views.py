"""The patient app's news pages (/app/news and one article), open to everyone: a signed-in patient sees what is
targeted at them besides the public articles, read from their own record as themselves; a visitor signed out
(or staff) sees the public articles only. The authoring pages, the Atom feed and the JSON API are included.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from smartcare.patient.news import api, authoring, feed, jobs, service, targeting  # noqa: F401  (jobs: the handler)
from smartcare.patient.news.readers import reader_of
from smartcare.patient.news.targeting import Reader
from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter()
pages = APIRouter(include_in_schema=False)
router.include_router(authoring.router)
router.include_router(feed.router)
router.include_router(api.router)

SURFACE = "app"
_MAX_ID = 36
_UNKNOWN_CATEGORY = _("There is no such category; all news is shown.")


def _page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    response = render(request, template, status_code=status_code, **values)
    # Signed-in pages hold what was chosen for that person; public ones are still fresh on every load.
    response.headers.update(guard.NO_STORE)
    return response


def reader_of_request(request: Request) -> Reader | None:
    """The signed-in patient (or caregiver) as targeting sees them; None for a visitor signed out or staff."""
    with unit_of_work() as conn:
        try:
            v = guard.visitor(conn, request, SURFACE)
        except (guard.SignInRequired, guard.SurfaceForbidden):
            return None
    request.state.news_signed_in = True
    return reader_of(v.ctx)


def articles_for(reader: Reader | None, locale: str) -> list[dict[str, Any]]:
    """The articles out now that reach the reader, newest first, in the reader's language."""
    with unit_of_work() as conn:
        rows = [r for r in service.visible_articles(conn) if targeting.reaches(r, reader)]
        return service.localised_all(conn, rows, locale)


def _news_list(request: Request) -> HTMLResponse:
    reader = reader_of_request(request)
    locale = i18n.current_locale(request)
    category = request.query_params.get("category", "").strip()[:40]
    error = None
    if category and category not in service.CATEGORIES:
        error, category = i18n.translator(request).gettext(_UNKNOWN_CATEGORY), ""
    shown = articles_for(reader, locale)
    # Current alerts stand in the banner above the list; the alert category lists them instead.
    alerts = [a for a in shown if a["alert"]] if category != service.ALERT else []
    listed = [a for a in shown if (a["category"] == category if category else not a["alert"])]
    return _page(request, "news/list.html", status_code=400 if error else 200, error=error, articles=listed,
                 alerts=alerts, categories=service.category_labels(locale), category=category,
                 signed_in=reader is not None)


@pages.get("/app/news", response_class=HTMLResponse)
async def news_list(request: Request) -> HTMLResponse:
    """Health news: current public-health alerts first, then the articles for the reader, by category."""
    return await run_in_threadpool(_news_list, request)


def _article_page(request: Request, article_id: str) -> HTMLResponse:
    reader = reader_of_request(request)
    locale = i18n.current_locale(request)
    with unit_of_work() as conn:
        article = service.get_article(conn, article_id=article_id)
        shown = service.localised_all(conn, [article], locale)[0] if article is not None else None
    if article is None or not service.is_current(article) or not targeting.reaches(article, reader):
        return _page(request, "404.html", status_code=404, requested_path=request.url.path[:200])
    return _page(request, "news/article.html", article=shown,
                 categories=service.category_labels(i18n.current_locale(request)), signed_in=reader is not None)


@pages.get("/app/news/{article_id}", response_class=HTMLResponse)
async def article_page(request: Request, article_id: str) -> HTMLResponse:
    """One article, with its sanitised text (404 for one withdrawn, expired, not out yet or not for the reader)."""
    return await run_in_threadpool(_article_page, request, article_id[:_MAX_ID])


router.include_router(pages)
