"""The Atom 1.0 feed of public health news (GET /news/feed.atom): articles meant for everyone, out now, in one
language each (?lang=en or zh-Hans), optionally of one category (?category=)."""

import xml.etree.ElementTree as ET
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.patient.news import service, targeting
from smartcare.platform import clock, i18n
from smartcare.platform.db import unit_of_work

router = APIRouter()

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FEED_ENTRIES = 50
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
_TITLES = {"en": "SmartCare health news", "zh-Hans": "SmartCare 健康资讯"}


class FeedQueryError(ValueError):
    """A feed query naming a language or category SmartCare does not have."""


def _checked(lang: str | None, category: str | None) -> tuple[str | None, str | None]:
    lang = (lang or "").strip()[:20] or None
    category = (category or "").strip()[:40] or None
    if lang is not None and i18n.supported_locale(lang) is None:
        raise FeedQueryError(f"lang must be one of {', '.join(i18n.SUPPORTED_LOCALES)}")
    if category is not None and category not in service.CATEGORIES:
        raise FeedQueryError(f"category must be one of {', '.join(service.CATEGORIES)}")
    return (i18n.supported_locale(lang) if lang else None), category


def public_entries(*, lang: str | None, category: str | None) -> list[dict[str, Any]]:
    """The public articles out now, newest first, each in lang (those without a version in lang left out), or
    in English where they have it when no lang is asked for."""
    wanted = "zh" if lang == "zh-Hans" else "en"
    with unit_of_work() as conn:
        rows = [row for row in service.visible_articles(conn, category=category)
                if targeting.is_public(row) and not (lang and not row[f"title_{wanted}"])]
        return service.localised_all(conn, rows[:FEED_ENTRIES], lang or "en")


def _text(parent: ET.Element, tag: str, value: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    element.text = value
    return element


def build_feed(entries: list[dict[str, Any]], *, base: str, self_url: str, lang: str | None) -> bytes:
    """The Atom document; article bodies go in as escaped, already sanitised HTML (type="html")."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {XML_LANG: lang or "en"})
    _text(feed, "id", f"{base}/news/feed.atom")
    _text(feed, "title", _TITLES[lang or "en"])
    newest = max((e["updated"] for e in entries), default=clock.format_instant(clock.now()))
    _text(feed, "updated", newest)
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "self", "type": "application/atom+xml", "href": self_url})
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "alternate", "type": "text/html", "href": f"{base}/app/news"})
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "SmartCare")
    for e in entries:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry", {XML_LANG: e["language"]})
        _text(entry, "id", f"urn:uuid:{e['id']}")
        _text(entry, "title", e["title"])
        _text(entry, "updated", max(e["updated"], e["publish_at"]))
        _text(entry, "published", e["publish_at"])
        writer = ET.SubElement(entry, f"{{{ATOM}}}author")
        _text(writer, "name", e["organization_name"] or "SmartCare")
        ET.SubElement(entry, f"{{{ATOM}}}link", {"rel": "alternate", "type": "text/html",
                                                  "href": f"{base}/app/news/{e['id']}?lang={e['language']}"})
        ET.SubElement(entry, f"{{{ATOM}}}category", {"term": e["category"]})
        if e["summary"]:
            _text(entry, "summary", e["summary"])
        _text(entry, "content", service.sanitise_body(e["body"]), type="html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _feed(request: Request) -> Response:
    try:
        lang, category = _checked(request.query_params.get("lang"), request.query_params.get("category"))
    except FeedQueryError as exc:
        return JSONResponse({"error": "invalid", "message": str(exc)}, status_code=400)
    base = str(request.base_url).rstrip("/")
    body = build_feed(public_entries(lang=lang, category=category), base=base, self_url=str(request.url), lang=lang)
    return Response(body, media_type=MEDIA_TYPE, headers={"Cache-Control": "public, max-age=300"})


@router.get("/news/feed.atom", tags=["news"], response_class=Response,
            responses={200: {"content": {"application/atom+xml": {}}, "description": "An Atom 1.0 feed"},
                       400: {"description": "An unknown language or category"}})
async def news_feed(request: Request, lang: str | None = None, category: str | None = None) -> Response:
    """Public health news as an Atom 1.0 feed: articles meant for everyone that are out now, newest first.

    `lang` (en or zh-Hans) gives the articles written in that language; without it each comes in English
    where it has an English version. `category` keeps one category (health-tips, public-health-alert ...).
    """
    return await run_in_threadpool(_feed, request)
