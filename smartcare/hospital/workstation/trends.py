"""Vital signs and laboratory results over time: the latest of each with its flag, and the points of its trend."""

from typing import Any

from smartcare.hospital.workstation.codes import (
    chart_codes,
    codes_of,
    effective,
    first_code,
    label,
    local_day,
    parse_moment,
    quantity_text,
    vital_of_code,
)

_VOID = {"entered-in-error", "cancelled"}
# Laboratory results the laboratory has not released yet (entered or received, not yet reviewed and released).
_UNRELEASED = {"registered", "preliminary"}
LOINC = "http://loinc.org"


def _number(quantity: dict[str, Any] | None) -> float | None:
    value = (quantity or {}).get("value")
    return float(value) if isinstance(value, int | float) else None


def _in_chart_unit(key: str, quantity: dict[str, Any]) -> float | None:
    """The value in the unit the chart draws (°C, kg), converting the customary US units."""
    value = _number(quantity)
    if value is None:
        return None
    code = quantity.get("code") or quantity.get("unit") or ""
    if key == "temp" and code in ("[degF]", "°F", "degF"):
        return round((value - 32) * 5 / 9, 1)
    if key == "weight" and code in ("[lb_av]", "lb", "lbs"):
        return round(value * 0.45359237, 1)
    return value


def _component(observation: dict[str, Any], code: str) -> float | None:
    for component in observation.get("component", []):
        if code in codes_of(component.get("code")):
            return _number(component.get("valueQuantity"))
    return None


def vitals(observations: list[dict[str, Any]], *, adult: bool) -> list[dict[str, Any]]:
    """One entry per vital sign: its points in time order, the latest reading, and the normal band (adults only)."""
    rows = chart_codes()["vitals"]
    by_code = vital_of_code()
    points: dict[str, list[list[Any]]] = {row["key"]: [] for row in rows}
    for observation in observations:
        key = next((by_code[c] for c in sorted(codes_of(observation.get("code"))) if c in by_code), None)
        moment = effective(observation)
        if key is None or observation.get("status") in _VOID or parse_moment(moment) is None:
            continue
        if key == "bp":
            parts = next(r for r in rows if r["key"] == "bp")["components"]
            systolic = _component(observation, parts["systolic"])
            diastolic = _component(observation, parts["diastolic"])
            if systolic is not None or diastolic is not None:
                points["bp"].append([moment, systolic, diastolic])
        elif (value := _in_chart_unit(key, observation.get("valueQuantity") or {})) is not None:
            points[key].append([moment, value])
    shown = []
    for row in rows:
        series = sorted(points[row["key"]], key=lambda p: parse_moment(p[0]))
        latest = series[-1] if series else None
        shown.append({"key": row["key"], "unit": row["unit"], "band": row["band"] if adult else None,
                      "points": series, "latest": latest[1:] if latest else None,
                      "date": local_day(latest[0]) if latest else "", "count": len(series)})
    return shown


def _test_key(observation: dict[str, Any]) -> str:
    codings = (observation.get("code") or {}).get("coding", [])
    loinc = next((c["code"] for c in codings if c.get("system") == LOINC and c.get("code")), None)
    if loinc:
        return loinc
    return next((c["code"] for c in codings if c.get("code")), (observation.get("code") or {}).get("text", ""))


def _range(observation: dict[str, Any]) -> dict[str, Any]:
    limits = (observation.get("referenceRange") or [{}])[0]
    low, high = _number(limits.get("low")), _number(limits.get("high"))
    # The limits when there are any: the laboratory's text cites where its range comes from, not the range.
    if low is not None and high is not None:
        text = f"{low:g}–{high:g}"
    elif low is not None:
        text = f"≥ {low:g}"
    elif high is not None:
        text = f"≤ {high:g}"
    else:
        text = limits.get("text") or ""
    return {"low": low, "high": high, "text": text}


def flag(observation: dict[str, Any]) -> str:
    """The result's interpretation code (H, L, HH, LL, A, N ...); from the reference range when none was sent."""
    sent = first_code(observation.get("interpretation"))
    if sent:
        return sent
    value, limits = _number(observation.get("valueQuantity")), _range(observation)
    if value is None or (limits["low"] is None and limits["high"] is None):
        return ""
    if limits["high"] is not None and value > limits["high"]:
        return "H"
    if limits["low"] is not None and value < limits["low"]:
        return "L"
    return "N"


def is_critical(observation: dict[str, Any]) -> bool:
    """True when the result is flagged critical (HH, LL or AA)."""
    return flag(observation) in chart_codes()["critical_interpretations"]["codes"]


def is_laboratory(observation: dict[str, Any]) -> bool:
    """True for a laboratory result (observation category laboratory) that is not a vital sign."""
    categories = set().union(*(codes_of(c) for c in observation.get("category", []))) if observation.get(
        "category") else set()
    return "laboratory" in categories and not codes_of(observation.get("code")) & set(vital_of_code())


def labs(observations: list[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
    """One row per laboratory test: the latest result, its flag and range, how many there are, and the trend."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for observation in observations:
        if observation.get("status") in _VOID | _UNRELEASED or not is_laboratory(observation) or not effective(observation):
            continue
        groups.setdefault(_test_key(observation), []).append(observation)
    rows = []
    for index, (key, found) in enumerate(sorted(groups.items())):
        found.sort(key=lambda o: parse_moment(effective(o)) or parse_moment("0001"))
        latest = found[-1]
        quantity = latest.get("valueQuantity") or {}
        value = quantity_text(quantity) if quantity else (
            label(latest.get("valueCodeableConcept"), locale) or str(latest.get("valueString", "")))
        points = [[effective(o), _number(o.get("valueQuantity"))] for o in found
                  if _number(o.get("valueQuantity")) is not None]
        limits = _range(latest)
        rows.append({
            "id": f"lab-{index}", "code": key, "name": label(latest.get("code"), locale), "value": value,
            "unit": quantity.get("unit") or quantity.get("code") or "", "flag": flag(latest),
            "critical": is_critical(latest), "range": limits["text"], "band": [limits["low"], limits["high"]],
            "date": local_day(effective(latest)), "count": len(found), "points": points,
            "history": [{"date": local_day(effective(o)), "value": quantity_text(o.get("valueQuantity"))
                         or label(o.get("valueCodeableConcept"), locale), "flag": flag(o)} for o in reversed(found)],
        })
    rows.sort(key=lambda r: r["name"])
    rows.sort(key=lambda r: r["date"], reverse=True)
    return rows
