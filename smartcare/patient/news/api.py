"""GET /api/v1/news: the news for the app as JSON, targeted at the caller when a patient signs in (session or
bearer token), the public articles otherwise."""

from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from smartcare.patient.news import service, targeting
from smartcare.patient.news.readers import reader_of
from smartcare.patient.news.targeting import Reader
from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard

router = APIRouter(tags=["news"])
MAX_LIMIT = 100


class NewsArticle(BaseModel):
    """One article in the reader's language (the other one when it has only that)."""

    id: str
    category: str
    category_label: str
    title: str
    summary: str
    body_html: str  # sanitised: only p, h2, h3, ul, ol, li, strong, em, a (http/https/mailto), blockquote, br
    language: Literal["en", "zh-Hans"]
    published: str
    expires: str | None
    author: str
    alert: bool  # a public-health alert, to show prominently
    targeted: bool  # meant for the caller's district, age band or conditions rather than for everyone
    url: str


class NewsList(BaseModel):
    """The articles out now for the caller, newest first."""

    articles: list[NewsArticle]


def _caller(request: Request) -> Reader | None:
    with unit_of_work() as conn:
        try:
            ctx = guard.api_caller(conn, request, "app")
        except guard.ApiUnauthenticated:
            if request.headers.get("authorization"):
                raise  # a bad token is an error, not a visitor
            return None
        except guard.SurfaceForbidden:
            return None  # staff and systems get the public news
    return reader_of(ctx)


def _news(request: Request, category: str | None, lang: str | None, limit: int) -> JSONResponse:
    if category and category not in service.CATEGORIES:
        return JSONResponse({"error": "invalid", "message": f"category must be one of {', '.join(service.CATEGORIES)}"},
                            status_code=400, headers=guard.NO_STORE)
    locale = i18n.supported_locale(lang) if lang else i18n.current_locale(request)
    if locale is None:
        return JSONResponse({"error": "invalid", "message": "lang must be en or zh-Hans"}, status_code=400,
                            headers=guard.NO_STORE)
    reader = _caller(request)
    labels = service.category_labels(locale)
    with unit_of_work() as conn:
        rows = [r for r in service.visible_articles(conn, category=category) if targeting.reaches(r, reader)]
        shown_rows = service.localised_all(conn, rows[:limit], locale)
    articles = [NewsArticle(
        id=shown["id"], category=shown["category"], category_label=labels[shown["category"]],
        title=shown["title"], summary=shown["summary"], body_html=shown["body"], language=shown["language"],
        published=shown["publish_at"], expires=shown["expires_at"], author=shown["organization_name"],
        alert=shown["alert"], targeted=not shown["public"], url=f"/app/news/{shown['id']}") for shown in shown_rows]
    return JSONResponse(NewsList(articles=articles).model_dump(), headers=guard.NO_STORE)


@router.get("/api/v1/news", response_model=NewsList,
            responses={400: {"description": "An unknown category or language"},
                       401: {"description": "A bearer token was sent and is not valid"}})
async def news(request: Request, category: str | None = Query(None, max_length=40),
               lang: str | None = Query(None, max_length=20),
               limit: int = Query(50, ge=1, le=MAX_LIMIT)) -> JSONResponse:
    """Health news for the app, newest first: for a signed-in patient (browser session or bearer token with
    patient scopes) the articles targeted at their district, age and conditions as well as the public ones;
    for anyone else the public ones. `lang` chooses the language (else the request's), `category` one category."""
    return await run_in_threadpool(_news, request, category, lang, limit)
