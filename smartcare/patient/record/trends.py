"""Trend series of a person's vitals (blood pressure, heart rate, weight, glucose, temperature) and lab results,
each with the reference range to draw as a band: the range the result itself carries (Observation.referenceRange),
else the usual range of the vital from data/readings.yaml.
"""

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from smartcare.patient.record import shape

LOINC = "http://loinc.org"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA = Path(__file__).parent / "data" / "readings.yaml"
MAX_POINTS = 60
MAX_LAB_CHARTS = 24
VITAL_ORDER = ("bp", "heart_rate", "weight", "glucose", "temperature")


@lru_cache(maxsize=1)
def readings() -> dict[str, Any]:
    """The readings data file (codes, units, plausible and usual ranges with their sources)."""
    with DATA.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _vital_codes() -> dict[str, str]:
    """LOINC code -> vital key, for every code a vital is recorded under (BP parts map to 'bp')."""
    found: dict[str, str] = {}
    for key, spec in readings()["readings"].items():
        if "parts" in spec:
            found[spec["panel"]["code"]] = key
            found.update({part["code"]["code"]: key for part in spec["parts"].values()})
        else:
            found[spec["code"]["code"]] = key
            found.update({code: key for code in spec.get("also", [])})
    return found


def _number(quantity: Any) -> float | None:
    value = (quantity or {}).get("value") if isinstance(quantity, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _range(observation: dict[str, Any]) -> tuple[float | None, float | None]:
    for rng in observation.get("referenceRange") or []:
        if isinstance(rng, dict):
            low, high = _number(rng.get("low")), _number(rng.get("high"))
            if low is not None or high is not None:
                return low, high
    return None, None


def _points(observation: dict[str, Any]) -> list[tuple[str, float]]:
    """(LOINC code, value) of a result and of its components (a blood pressure panel's two numbers)."""
    found = []
    for part in [observation, *[c for c in observation.get("component") or [] if isinstance(c, dict)]]:
        value = _number(part.get("valueQuantity"))
        for code in shape.codes(part.get("code"), LOINC)[:1]:
            if value is not None:
                found.append((code, value))
    return found


def _chart(title: str, unit: str) -> dict[str, Any]:
    return {"title": title, "unit": unit, "series": {}, "low": None, "high": None}


def _add(chart: dict[str, Any], name: str, when: str, value: float, rng: tuple[float | None, float | None]) -> None:
    chart["series"].setdefault(name, []).append([when, value])
    if rng != (None, None) and chart["low"] is None and chart["high"] is None:
        chart["low"], chart["high"] = rng


def _vital_chart(key: str, zh: bool) -> dict[str, Any]:
    spec = readings()["readings"][key]
    return _chart(spec["name_zh"] if zh else spec["name_en"], spec["unit_shown"])


def _usual(key: str, chart: dict[str, Any]) -> None:
    """Where no result carried a range, the vital's usual band (the systolic one for blood pressure)."""
    spec = readings()["readings"][key]
    usual = spec.get("usual") or (spec.get("parts") or {}).get("systolic", {}).get("usual")
    if chart["low"] is None and chart["high"] is None and usual:
        chart["low"], chart["high"], chart["usual"] = usual[0], usual[1], True


def series(observations: list[dict[str, Any]], *, zh: bool) -> dict[str, dict[str, dict[str, Any]]]:
    """{"vitals": {key: chart}, "labs": {code: chart}}; a chart is its title, unit, series {name: [[when, value]]}
    oldest first, and the band (low, high) to draw."""
    vitals: dict[str, dict[str, Any]] = {}
    labs: dict[str, dict[str, Any]] = {}
    vital_of = _vital_codes()
    bp_parts = {p["code"]["code"]: p for p in readings()["readings"]["bp"]["parts"].values()}
    dated = sorted((o for o in observations if o.get("status") not in ("entered-in-error", "cancelled")),
                   key=lambda o: str(o.get("effectiveDateTime") or o.get("issued") or ""))
    for o in dated:
        when = shape.moment(o.get("effectiveDateTime") or o.get("issued"))
        rng = _range(o)
        for code, value in _points(o):
            key = vital_of.get(code)
            if key == "bp" and code in bp_parts:
                part = bp_parts[code]
                _add(vitals.setdefault(key, _vital_chart(key, zh)), part["name_zh"] if zh else part["name_en"],
                     when, value, (None, None))
            elif key and key != "bp":
                _add(vitals.setdefault(key, _vital_chart(key, zh)), "", when, value, rng)
            elif key is None and "laboratory" in {c for cat in o.get("category") or [] if isinstance(cat, dict)
                                                  for c in shape.codes(cat, CATEGORY_SYSTEM)}:
                unit = str((o.get("valueQuantity") or {}).get("unit") or "")
                _add(labs.setdefault(code, _chart(shape.label(o.get("code"), zh), unit)), "", when, value, rng)
    for key, chart in vitals.items():
        _usual(key, chart)
    for chart in [*vitals.values(), *labs.values()]:
        chart["series"] = {name: points[-MAX_POINTS:] for name, points in chart["series"].items()}
        chart["rows"] = table_rows(chart["series"])
    ordered = {key: vitals[key] for key in VITAL_ORDER if key in vitals}
    return {"vitals": ordered, "labs": dict(sorted(labs.items(), key=lambda kv: kv[1]["title"])[:MAX_LAB_CHARTS])}


def table_rows(named: dict[str, list[list[Any]]]) -> list[list[Any]]:
    """The series as table rows, newest first: [when, value of each series in order ("" where it has none)]."""
    by_when: dict[str, dict[str, Any]] = {}
    for name, points in named.items():
        for when, value in points:
            by_when.setdefault(when, {})[name] = value
    return [[when, *[f"{by_when[when][name]:g}" if name in by_when[when] else "" for name in named]]
            for when in sorted(by_when, reverse=True)]
