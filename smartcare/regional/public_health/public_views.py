"""The public epidemic page /public (no sign-in): the latest approved release, its charts and map, announcements.

Only approved releases and announcements are shown, and a release holds nothing but suppressed counts
(releases.py), so the page, its Atom feed and the district map need no access decision and write no audit entry.
The same presentation serves the officers' preview (release_views.py), so they approve exactly what is shown here.
"""

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.platform import clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.web.pages import render
from smartcare.regional.public_health import announcements, releases
from smartcare.regional.public_health.districts import DISTRICTS_FILE, region_districts
from smartcare.regional.public_health.release_figures import catalogue, parse_week
from smartcare.regional.public_health.releases import Release
from smartcare.regional.public_health.suppression import HIDDEN

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).resolve().parent / "static"
PUBLIC_CACHE = {"Cache-Control": "public, max-age=120"}
ASSET_CACHE = {"Cache-Control": "public, max-age=3600"}
RELEASE_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FEED_ENTRIES = 20
OLDER_SHOWN = 5
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ALL_DISEASES = _("All notifiable diseases")
ELSEWHERE = _("Elsewhere or unknown")
FEED_TITLE = _("SmartCare epidemic figures and announcements")
RELEASE_TITLE = _("Notifiable diseases, {first} to {last}")
RELEASE_SUMMARY = _("Cases in the period: {total}. Latest week ({week}): {latest}.")


def shown(value: Any) -> str:
    """A published count as the page writes it: the number, "<5", or * for one hidden to protect another."""
    return "*" if value == HIDDEN else str(value)


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _change(recent: Any, previous: Any) -> dict[str, Any]:
    """How recent compares with previous, only when both are published numbers (else nothing can be said)."""
    if not isinstance(recent, int) or not isinstance(previous, int):
        return {"direction": "unknown", "difference": None, "percent": None}
    if previous == 0:
        return {"direction": "new" if recent else "none", "difference": recent, "percent": None}
    direction = "up" if recent > previous else "down" if recent < previous else "same"
    return {"direction": direction, "difference": recent - previous,
            "percent": round((recent - previous) * 100 / previous)}


def _day(day: date, locale: str) -> str:
    return f"{day.month}月{day.day}日" if locale.startswith("zh") else f"{day.day} {_MONTHS[day.month - 1]}"


def week_span(label: str, locale: str) -> dict[str, str]:
    """An ISO week for people: its label (2026-W09), short label (W09) and days (23 Feb – 1 Mar)."""
    monday = parse_week(label) or date.min
    return {"label": label, "short": label[5:], "span": f"{_day(monday, locale)} – "
                                                        f"{_day(monday + timedelta(days=6), locale)}"}


def _disease_name(disease_id: str, lang: str) -> str:
    found = catalogue().disease(disease_id)
    return found.name(lang) if found else disease_id


def present(release: Release, locale: str) -> dict[str, Any]:
    """What the page shows of a release in locale: headline, tables, trends, and the charts' and map's data."""
    words = i18n.translations(locale)
    figures = release.figures
    names = {d.code: d.name(locale) for d in region_districts()}
    places = [{"code": g, "name": names.get(g, g) if g else words.gettext(ELSEWHERE)} for g in figures["districts"]]
    rows = [{"key": "all", "name": words.gettext(ALL_DISEASES), **figures["all"]}]
    rows += [{"key": d["disease"], "name": _disease_name(d["disease"], locale), **d} for d in figures["diseases"]]
    weeks = figures["all"]["weeks"]
    latest, before = weeks[-1], weeks[-2] if len(weeks) > 1 else None
    headline = {"week": week_span(latest["week"], locale), "count": shown(latest["count"]),
                "previous_week": week_span(before["week"], locale) if before else None,
                "previous": shown(before["count"]) if before else None,
                "change": _change(latest["count"], before["count"] if before else None)}
    charts = {
        "weeks": figures["weeks"], "threshold": figures["suppression"]["threshold"],
        "series": {row["key"]: {"name": row["name"], "values": [_number(w["count"]) for w in row["weeks"]],
                                "shown": [shown(w["count"]) for w in row["weeks"]]} for row in rows},
        "map": {"names": {p["code"]: p["name"] for p in places if p["code"]},
                "layers": {row["key"]: {g["district"]: {"value": _number(g["count"]), "shown": shown(g["count"])}
                                        for g in row["districts"] if g["district"]} for row in rows}},
    }
    return {
        "id": release.id, "period": figures["period"], "weeks": [week_span(w, locale) for w in figures["weeks"]],
        "places": places,
        "approved_at": release.decision.decided_at, "suppression": figures["suppression"], "headline": headline,
        "rows": [{**row, "total_shown": shown(row["total"]), "weeks_shown": [shown(w["count"]) for w in row["weeks"]],
                  "districts_shown": [shown(g["count"]) for g in row["districts"]],
                  "trend": {"recent": shown(row["recent_4_weeks"]), "previous": shown(row["previous_4_weeks"]),
                            **_change(row["recent_4_weeks"], row["previous_4_weeks"])}} for row in rows],
        "has_trends": figures["all"]["recent_4_weeks"] is not None, "charts": charts,
        "list_title": catalogue().title_zh if locale.startswith("zh") else catalogue().title_en,
    }


def _public_page(request: Request) -> HTMLResponse:
    locale = i18n.current_locale(request)
    asked = request.query_params.get("release", "")[:80]
    with unit_of_work() as conn:
        approved = releases.approved(conn, limit=OLDER_SHOWN + 1)
        if asked:
            release = releases.public_release(conn, asked) if RELEASE_ID.fullmatch(asked) else None
            if release is None:
                return render(request, "404.html", status_code=404, requested_path=request.url.path[:200])
        else:
            release = approved[0] if approved else None
        notices = [a.shown(locale) for a in announcements.published(conn)]
    current = approved[0].id if approved else None
    response = render(request, "public/page.html", view=present(release, locale) if release else None,
                      superseded=release is not None and release.id != current, announcements=notices,
                      older=[r for r in approved if release is None or r.id != release.id][:OLDER_SHOWN])
    response.headers.update(PUBLIC_CACHE)
    return response


@router.get("/public", response_class=HTMLResponse)
async def public_page(request: Request) -> HTMLResponse:
    """The latest approved release (or an older one by ?release=), in English or Chinese, with announcements."""
    return await run_in_threadpool(_public_page, request)


@router.get("/public/districts.geojson")
async def districts_geojson() -> FileResponse:
    """The region's district boundaries (GeoJSON) the map draws, keyed by district code."""
    return FileResponse(DISTRICTS_FILE, media_type="application/geo+json", headers=ASSET_CACHE)


@router.get("/public/charts.js")
async def charts_js() -> FileResponse:
    """The script that draws the epidemic curves and the district map (ECharts); no data in it."""
    return FileResponse(STATIC / "public-charts.js", media_type="text/javascript", headers=ASSET_CACHE)


@router.get("/public/public.css")
async def public_css() -> FileResponse:
    """The epidemic page's styles."""
    return FileResponse(STATIC / "public.css", media_type="text/css", headers=ASSET_CACHE)


def _text(parent: ET.Element, tag: str, value: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    element.text = value
    return element


def _entry_id(base: str, path: str, resource_id: str) -> str:
    return f"urn:uuid:{resource_id}" if UUID.fullmatch(resource_id) else f"{base}{path}"


def _release_entry(feed: ET.Element, release: Release, base: str, locale: str) -> None:
    words = i18n.translations(locale)
    figures = release.figures
    entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
    _text(entry, "id", _entry_id(base, f"/public/api/releases/{release.id}", release.id))
    _text(entry, "title", words.gettext(RELEASE_TITLE).format(first=figures["period"]["first_week"],
                                                              last=figures["period"]["last_week"]))
    _text(entry, "updated", release.decision.decided_at or release.decision.prepared_at)
    ET.SubElement(entry, f"{{{ATOM}}}link", {"rel": "alternate", "type": "text/html",
                                              "href": f"{base}/public?release={release.id}&lang={locale}"})
    ET.SubElement(entry, f"{{{ATOM}}}link", {"rel": "alternate", "type": "application/json",
                                              "href": f"{base}/public/api/releases/{release.id}"})
    ET.SubElement(entry, f"{{{ATOM}}}category", {"term": "release"})
    latest = figures["all"]["weeks"][-1]
    _text(entry, "summary", words.gettext(RELEASE_SUMMARY).format(
        total=shown(figures["all"]["total"]), week=latest["week"], latest=shown(latest["count"])))


def _announcement_entry(feed: ET.Element, notice: dict[str, Any], base: str, locale: str) -> None:
    entry = ET.SubElement(feed, f"{{{ATOM}}}entry", {XML_LANG: notice["lang"]})
    _text(entry, "id", _entry_id(base, f"/public#announcement-{notice['id']}", notice["id"]))
    _text(entry, "title", notice["title"])
    _text(entry, "updated", notice["sent"] or clock.format_instant(clock.now()))
    ET.SubElement(entry, f"{{{ATOM}}}link", {"rel": "alternate", "type": "text/html",
                                              "href": f"{base}/public?lang={locale}#announcement-{notice['id']}"})
    ET.SubElement(entry, f"{{{ATOM}}}category", {"term": "announcement"})
    _text(entry, "content", "\n\n".join("\n".join(lines) for lines in notice["paragraphs"]), type="text")


def build_feed(released: list[Release], notices: list[dict[str, Any]], *, base: str, self_url: str,
               locale: str) -> bytes:
    """The Atom 1.0 document of approved releases and announcements, newest first."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {XML_LANG: locale})
    _text(feed, "id", f"{base}/public/feed.atom")
    _text(feed, "title", i18n.translations(locale).gettext(FEED_TITLE))
    stamps = [r.decision.decided_at for r in released] + [n["sent"] for n in notices]
    _text(feed, "updated", max((s for s in stamps if s), default=clock.format_instant(clock.now())))
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "self", "type": "application/atom+xml", "href": self_url})
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "alternate", "type": "text/html",
                                             "href": f"{base}/public?lang={locale}"})
    _text(ET.SubElement(feed, f"{{{ATOM}}}author"), "name", "SmartCare")
    items: list[tuple[str, Any]] = [(r.decision.decided_at or "", r) for r in released]
    items += [(n["sent"] or "", n) for n in notices]
    for _stamp, item in sorted(items, key=lambda pair: pair[0], reverse=True)[:FEED_ENTRIES]:
        if isinstance(item, Release):
            _release_entry(feed, item, base, locale)
        else:
            _announcement_entry(feed, item, base, locale)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _feed(request: Request) -> Response:
    asked = request.query_params.get("lang")
    if asked is not None and i18n.supported_locale(asked[:20]) is None:
        return JSONResponse({"error": "invalid", "message": f"lang must be one of {', '.join(i18n.SUPPORTED_LOCALES)}"},
                            status_code=400)
    locale = i18n.current_locale(request)
    with unit_of_work() as conn:
        released = releases.approved(conn, limit=FEED_ENTRIES)
        notices = [a.shown(locale) for a in announcements.published(conn, limit=FEED_ENTRIES)]
    base = str(request.base_url).rstrip("/")
    body = build_feed(released, notices, base=base, self_url=str(request.url), locale=locale)
    return Response(body, media_type="application/atom+xml; charset=utf-8",
                    headers={**PUBLIC_CACHE, "Vary": "Accept-Language, Cookie"})


@router.get("/public/feed.atom")
async def public_feed(request: Request) -> Response:
    """Approved releases and announcements as an Atom 1.0 feed (?lang=en or zh-Hans)."""
    return await run_in_threadpool(_feed, request)
