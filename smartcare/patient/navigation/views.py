"""Patient pages for hospital services and navigation: hospital information, nearest hospitals, in-hospital directions.

These pages are public (the directory and the floor plans are not personal data) and need no sign-in,
except /app/directions?visit=, which reads the caller's booked visit through the access policy and
sends them on to the directions for its department. A position typed or sent by the browser is used
for this one answer and never stored.
"""

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.queue import waits
from smartcare.patient.navigation import geo, indoor, service
from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

SURFACE = "app"
_MAX_ID = 64
_SHORT_LABEL = 11


def _zh(request: Request) -> bool:
    return i18n.current_locale(request) == "zh-Hans"


def _query(request: Request, name: str, limit: int = service.MAX_QUERY) -> str:
    return (request.query_params.get(name) or "").strip()[:limit]


def _not_found(request: Request) -> HTMLResponse:
    return render(request, "404.html", status_code=404, requested_path=request.url.path[:200])


# --- hospital information -----------------------------------------------------------------------


def _hospitals_page(request: Request) -> HTMLResponse:
    q = _query(request, "q")
    found = service.hospitals()
    matches = service.search_services(found, q) if q else []
    return render(request, "navigation/hospitals.html", hospitals=found, q=q, matches=matches, zh=_zh(request))


@router.get("/app/hospitals", response_class=HTMLResponse)
async def hospitals_page(request: Request) -> HTMLResponse:
    """The region's hospitals and health centres, and a search of the services around them (public)."""
    return await run_in_threadpool(_hospitals_page, request)


def _hospital_page(request: Request, org_id: str) -> HTMLResponse:
    try:
        h = service.hospital(org_id)
    except service.NotFound:
        return _not_found(request)
    q = _query(request, "q")
    services = [s for s in h.services if service.service_matches(s, q)]
    has_plan = org_id in indoor.organizations()
    return render(request, "navigation/hospital.html", h=h, q=q, services=services, has_plan=has_plan,
                  zh=_zh(request))


@router.get("/app/hospitals/{org_id}", response_class=HTMLResponse)
async def hospital_page(request: Request, org_id: str) -> HTMLResponse:
    """One hospital: address, phone, hours, departments (with directions) and the services around it (public)."""
    return await run_in_threadpool(_hospital_page, request, org_id[:_MAX_ID])


# --- nearest ------------------------------------------------------------------------------------


def _project(frame: dict[str, Any], east: float, north: float) -> tuple[float, float]:
    """Map kilometres (y north) to the drawing's coordinates (y down, origin at the top-left corner)."""
    return round(east - frame["west"], 3), round(frame["north"] - north, 3)


def _region_map(found: list[tuple[service.Hospital, float]] | list[service.Hospital],
                here: tuple[float, float] | None) -> dict[str, Any]:
    region = geo.region_drawing()
    frame = region["frame"]

    def points(line: list[list[float]]) -> str:
        return " ".join("{},{}".format(*_project(frame, *p)) for p in line)

    markers = []
    for index, item in enumerate(found, start=1):
        h = item[0] if isinstance(item, tuple) else item
        if h.lat is None:
            continue
        x, y = _project(frame, *geo.to_km(h.lat, h.lon))
        markers.append({"n": index, "x": x, "y": y, "h": h, "emergency": h.emergency_service is not None})
    you = None
    if here is not None and geo.in_region(here):
        you = dict(zip(("x", "y"), _project(frame, *geo.to_km(*here)), strict=True))
    lake = region["lake"]
    lx, ly = _project(frame, *lake["centre"])
    return {
        "width": frame["east"] - frame["west"], "height": frame["north"] - frame["south"],
        "districts": [{**d, "points": points(d["outline"]), "lx": _project(frame, *d["label"])[0],
                       "ly": _project(frame, *d["label"])[1]} for d in region["districts"]],
        "river": {**region["river"], "points": points(region["river"]["course"])},
        "lake": {**lake, "x": lx, "y": ly, "rx": lake["radius"][0], "ry": lake["radius"][1]},
        "markers": markers, "you": you,
    }


def _nearest_page(request: Request) -> HTMLResponse:
    address = _query(request, "address", geo.MAX_ADDRESS)
    sort = "wait" if request.query_params.get("sort") == "wait" else "distance"
    values: dict[str, Any] = {"address": address, "sort": sort, "zh": _zh(request), "error": None,
                              "located": None, "here": None, "outside": False}
    try:
        here = geo.parse_position(request.query_params.get("lat"), request.query_params.get("lon"))
    except geo.BadPosition:
        values["error"] = "bad-position"
        here = None
    if here is None and address and values["error"] is None:
        located = geo.locate(address)
        if located is None:
            values["error"] = "unknown-address"
        else:
            values["located"], here = located, (located.lat, located.lon)
    found = service.hospitals()
    if here is not None:
        ranked = service.by_distance(found, here)
        emergency = [pair for pair in ranked if pair[0].emergency_service]
        found_waits = service.emergency_waits([h for h, _d in emergency])
        if sort == "wait":
            emergency = service.by_wait(emergency, found_waits)
        values |= {"here": here, "ranked": ranked, "emergency": emergency, "waits": found_waits,
                   "recent_hours": waits.RECENT_HOURS,
                   "outside": not geo.in_region(here), "map": _region_map(ranked, here)}
    else:
        values["map"] = _region_map(found, None)
        values["ranked"] = [(h, None) for h in found]
    status = 400 if values["error"] == "bad-position" else 200
    response = render(request, "navigation/nearest.html", status_code=status, **values)
    response.headers.update(guard.NO_STORE)  # the page carries the reader's position
    return response


@router.get("/app/nearest", response_class=HTMLResponse)
async def nearest_page(request: Request) -> HTMLResponse:
    """Nearest hospitals and emergency departments from the browser's position or a typed address (public)."""
    return await run_in_threadpool(_nearest_page, request)


# --- directions ---------------------------------------------------------------------------------


def _short(name: str) -> str:
    name = name.split(" (")[0]
    return name if len(name) <= _SHORT_LABEL else name[:_SHORT_LABEL - 1] + "…"


def _names(h: service.Hospital, plan: indoor.Plan, zh: bool) -> dict[str, Any]:
    """Names for the plan's departments, rooms and buildings in the reader's language."""
    departments = {d["key"]: d["name_zh"] if zh else d["name_en"] for d in h.departments}
    rooms = {key: r["name_zh"] if zh else r["name_en"] for key, r in plan.rooms.items()}
    buildings = {key: pair[1] if zh else pair[0] for key, pair in service.building_names(
        h, {k: b["location"] for k, b in plan.buildings.items()}).items()}
    return {"departments": departments, "rooms": rooms, "buildings": buildings}


def _place_name(place: dict[str, Any], names: dict[str, Any]) -> str:
    if place["kind"] == "department":
        return names["departments"].get(place["department"], place["department"])
    if place["kind"] == "room":
        return names["rooms"].get(place["room"], place["room"])
    return ""


def _floor_drawings(plan: indoor.Plan, found: indoor.Route, names: dict[str, Any], zh: bool) -> list[dict[str, Any]]:
    drawings = []
    for building, floor in indoor.floors_on(plan, found):
        d = indoor.drawing(plan, building, floor, found)
        height = d["height"]
        flip = lambda x, y, h=height: (round(x, 2), round(h - y, 2))  # noqa: E731 - y up in the plan, down in SVG
        d["corridors"] = [(*flip(a, b), *flip(c, e)) for a, b, c, e in d["corridors"]]
        d["doors"] = [(*flip(a, b), *flip(c, e)) for a, b, c, e in d["doors"]]
        for p in d["places"]:
            p["sx"], p["sy"] = flip(p["x"], p["y"])
            p["label"] = _short(_place_name(p, names))
            p["target"] = p["node"] == found.path[-1]
            p["origin"] = p["node"] == found.path[0]
        d["route_points"] = " ".join("{},{}".format(*flip(x, y)) for x, y in d["route"])
        d["building_name"] = names["buildings"].get(building, building)
        drawings.append(d)
    return drawings


def _destinations(h: service.Hospital, plan: indoor.Plan, names: dict[str, Any]) -> list[dict[str, str]]:
    offered = [{"key": d["key"], "name": names["departments"][d["key"]]} for d in h.departments
               if d["key"] in plan.departments]
    rooms = [{"key": key, "name": name} for key, name in names["rooms"].items()]
    return sorted(offered, key=lambda x: x["name"]) + sorted(rooms, key=lambda x: x["name"])


def _directions_page(request: Request, org_id: str) -> HTMLResponse:
    try:
        h = service.hospital(org_id)
        plan = indoor.plan(org_id)
    except (service.NotFound, indoor.UnknownPlace):
        return _not_found(request)
    zh = _zh(request)
    names = _names(h, plan, zh)
    to, origin = _query(request, "to", _MAX_ID), _query(request, "from", _MAX_ID)
    accessible = request.query_params.get("accessible") in ("1", "on", "true")
    destinations = _destinations(h, plan, names)
    values: dict[str, Any] = {"h": h, "zh": zh, "to": to, "origin": origin or "entrance", "accessible": accessible,
                              "destinations": destinations, "error": None, "route": None, "steps": [],
                              "drawings": [], "has_lift": plan.has_lift()}
    status = 200
    offered = {d["key"] for d in destinations}
    if to:
        try:
            if to not in offered:
                raise indoor.UnknownPlace(to)
            target = indoor.resolve(plan, to)
            source = indoor.resolve(plan, origin, default=plan.entrance)
            found = indoor.route(plan, source, target, accessible=accessible)
        except indoor.UnknownPlace:
            values["error"], status = "unknown-place", 404
        except indoor.NoRoute:
            values["error"], status = "no-route", 404
        else:
            for step in found.steps:
                if "place" in step:
                    step["name"] = _place_name(step["place"], names)
                    step["building_name"] = names["buildings"].get(step["place"]["building"], "")
                if "building" in step:
                    step["building_name"] = names["buildings"].get(step["building"], step["building"])
                if "name_en" in step:
                    step["way"] = step["name_zh"] if zh else step["name_en"]
            values |= {"route": found, "steps": found.steps, "drawings": _floor_drawings(plan, found, names, zh),
                       "target_name": found.steps[-1]["name"]}
    return render(request, "navigation/directions.html", status_code=status, **values)


@router.get("/app/hospitals/{org_id}/directions", response_class=HTMLResponse)
async def directions_page(request: Request, org_id: str) -> HTMLResponse:
    """Step-by-step directions inside a hospital to a department, with floor plans; accessible=1 avoids stairs."""
    return await run_in_threadpool(_directions_page, request, org_id[:_MAX_ID])


def _visit_directions(request: Request) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
    try:
        org_id, key = service.visit_destination(v.ctx, _query(request, "visit", _MAX_ID))
    except service.NotFound:
        return _not_found(request)
    return guard.see_other(f"/app/hospitals/{quote(org_id, safe='')}/directions?to={quote(key, safe='')}")


@router.get("/app/directions")
async def visit_directions(request: Request) -> Response:
    """Directions to the department of one of my booked visits (sign-in required; the visit is read by the policy)."""
    return await run_in_threadpool(_visit_directions, request)
