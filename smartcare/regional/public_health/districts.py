"""The region's districts (data/districts.geojson) and which of them a person lives in: one reader for public health.

Reporting, detection, releases and control all place a case in the district of the person's current address. They
read it here so that a person is never counted in one district by the detector and in another by the release.
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DISTRICTS_FILE = Path(__file__).resolve().parent / "data" / "districts.geojson"


@dataclass(frozen=True, slots=True)
class District:
    """One of the region's districts as the map file names it, with the community health centre serving it."""

    code: str  # GB/T 2260 administrative division code
    name_en: str
    name_zh: str
    centre: str | None = None  # "Organization/<id>" of the community health centre, when the file names one

    def name(self, lang: str) -> str:
        """The district's name in lang ("zh..." for Chinese, else English)."""
        return self.name_zh if lang.startswith("zh") else self.name_en


@cache
def region_districts(path: Path = DISTRICTS_FILE) -> tuple[District, ...]:
    """The region's districts from the map file, in the file's order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return tuple(District(str(p["code"]), str(p["name_en"]), str(p["name_zh"]), str(p["chc"]) if p.get("chc") else None)
                 for p in (f["properties"] for f in data["features"]))


def find(place: str | None) -> District | None:
    """The district a place names by its code, English name (any case) or Chinese name; None when none does."""
    wanted = (place or "").strip().casefold()
    if not wanted:
        return None
    return next((d for d in region_districts() if wanted in (d.code, d.name_en.casefold(), d.name_zh)), None)


def current_addresses(person: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The person's addresses that are not old, the home address first."""
    found = [a for a in (person or {}).get("address") or [] if isinstance(a, dict) and a.get("use") != "old"]
    return sorted(found, key=lambda a: a.get("use") != "home")


def named_district(address: dict[str, Any]) -> str:
    """The district an address names in its district field (stripped), or ""."""
    named = address.get("district")
    return named.strip() if isinstance(named, str) else ""


def of_person(person: dict[str, Any] | None) -> District | None:
    """The region's district of the person's current address (home first): the one its district field names, else
    the one whose Chinese name its text holds; None when the address is not in the region or there is none."""
    for address in current_addresses(person):
        named = named_district(address)
        if named:
            found = find(named)
        else:
            text = str(address.get("text") or "")
            found = next((d for d in region_districts() if d.name_zh in text), None)
        if found is not None:
            return found
    return None


def code_of(person: dict[str, Any] | None) -> str | None:
    """The code of the person's district in the region, or None."""
    found = of_person(person)
    return found.code if found else None


def served_by(organization: str | None) -> tuple[District, ...]:
    """The districts a community health centre serves (none for any other organisation)."""
    return tuple(d for d in region_districts() if organization and d.centre == organization)
