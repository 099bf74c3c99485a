"""The demo region on a map: its local coordinate frame, distances, typed-address lookup and the region drawing.

Positions in data/places.yaml are kilometres east and north of a made-up origin; they become latitude
and longitude with the local flat-earth approximation (good to metres across a city), so a browser's
position and the region's places are compared with the haversine distance.
Street and district names come from the demo region (smartcare/demo/data/region.json).
Pure data and functions: no database, no HTTP.
"""

import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz

from smartcare.demo.reference import load as load_reference

DATA = Path(__file__).parent / "data" / "places.yaml"
EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE_LAT = 110.574
KM_PER_DEGREE_LON_AT_EQUATOR = 111.320
MAX_ADDRESS = 120
# Below this a typed address is not taken to mean any place of the region (rapidfuzz scores 0-100).
MATCH_THRESHOLD = 80
_ABBREVIATIONS = {"rd": "road", "st": "street", "ave": "avenue", "av": "avenue", "dist": "district"}


class BadPosition(ValueError):
    """A latitude/longitude that is not a position on Earth."""


@dataclass(frozen=True, slots=True)
class Located:
    """A place of the region a typed address was matched to: its names and position."""

    kind: str  # street or district
    name_en: str
    name_zh: str
    district: str
    lat: float
    lon: float


@cache
def places() -> dict[str, Any]:
    """The map data (data/places.yaml)."""
    with DATA.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def to_latlon(east_km: float, north_km: float) -> tuple[float, float]:
    """Latitude and longitude of a point given in kilometres from the demo city's origin."""
    frame = places()["frame"]
    lat0, lon0 = frame["origin_lat"], frame["origin_lon"]
    lat = lat0 + north_km / KM_PER_DEGREE_LAT
    lon = lon0 + east_km / (KM_PER_DEGREE_LON_AT_EQUATOR * math.cos(math.radians(lat0)))
    return round(lat, 6), round(lon, 6)


def to_km(lat: float, lon: float) -> tuple[float, float]:
    """Kilometres east and north of the demo city's origin for a latitude and longitude."""
    frame = places()["frame"]
    lat0, lon0 = frame["origin_lat"], frame["origin_lon"]
    return ((lon - lon0) * KM_PER_DEGREE_LON_AT_EQUATOR * math.cos(math.radians(lat0)),
            (lat - lat0) * KM_PER_DEGREE_LAT)


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in kilometres between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def parse_position(lat_text: str | None, lon_text: str | None) -> tuple[float, float] | None:
    """A (lat, lon) from form text; None when neither is given, BadPosition when they are not a position."""
    lat_text, lon_text = (lat_text or "").strip()[:32], (lon_text or "").strip()[:32]
    if not lat_text and not lon_text:
        return None
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        raise BadPosition(f"{lat_text!r}, {lon_text!r}") from None
    if not (math.isfinite(lat) and math.isfinite(lon)) or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise BadPosition(f"{lat}, {lon}")
    return lat, lon


def in_region(position: tuple[float, float]) -> bool:
    """True when the position lies inside the drawn demo region."""
    east, north = to_km(*position)
    frame = places()["frame"]
    return frame["west"] <= east <= frame["east"] and frame["south"] <= north <= frame["north"]


def organization_position(org_id: str) -> tuple[float, float] | None:
    """The (lat, lon) of an organisation, or None when the map does not have it."""
    org = places()["organizations"].get(org_id)
    return to_latlon(*org["at"]) if org else None


def _centre(outline: list[list[float]]) -> tuple[float, float]:
    return sum(p[0] for p in outline) / len(outline), sum(p[1] for p in outline) / len(outline)


@cache
def _candidates() -> list[Located]:
    """Every street and district of the region with its position, streets first (they are more precise)."""
    mapped = places()["districts"]
    streets, districts = [], []
    for d in load_reference("region")["districts"]:
        spot = mapped.get(d["key"])
        if spot is None:
            continue
        for zh, en in d["streets"]:
            if en in spot["streets"]:
                streets.append(Located("street", en, zh, d["key"], *to_latlon(*spot["streets"][en])))
        districts.append(Located("district", d["name_en"], d["name_zh"], d["key"], *to_latlon(*_centre(spot["outline"]))))
    return streets + districts


def _normal(text: str) -> str:
    words = re.findall(r"[a-z0-9]+|[^\sa-z0-9,.;:!?'\"()，。、；：！？（）]+", text.lower())
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words)


def _score(query: str, names: tuple[str, ...]) -> float:
    best = 0.0
    for name in names:
        n = _normal(name)
        if n and (n in query or (len(query) >= 2 and query in n)):
            return 100.0
        if len(query) >= 3:
            best = max(best, fuzz.partial_ratio(n, query) if len(n) <= len(query) else fuzz.ratio(n, query))
    return best


def locate(text: str) -> Located | None:
    """The street or district of the region a typed address names (English or Chinese, typos tolerated)."""
    query = _normal((text or "")[:MAX_ADDRESS])
    if not query:
        return None
    best, best_score = None, 0.0
    for candidate in _candidates():
        short = candidate.name_en.rsplit(" ", 1)[0]  # "Jiefang" for "Jiefang Road", "Hedong" for "Hedong District"
        score = _score(query, (candidate.name_en, candidate.name_zh))
        if len(short) >= 4:  # a bare "Jiefang" matches, a little below the full name
            score = max(score, _score(query, (short,)) - 5)
        if score > best_score:
            best, best_score = candidate, score
    return best if best_score >= MATCH_THRESHOLD else None


def region_drawing() -> dict[str, Any]:
    """The region as shapes in kilometres (y up): districts, the river, the lake and the box to draw."""
    data = places()
    names = {d["key"]: d for d in load_reference("region")["districts"]}
    districts = [{"key": key, "outline": d["outline"], "label": d["label"],
                  "name_en": names.get(key, {}).get("name_en", key), "name_zh": names.get(key, {}).get("name_zh", key)}
                 for key, d in data["districts"].items()]
    return {"frame": data["frame"], "districts": districts, "river": data["river"], "lake": data["lake"]}
