"""Threshold and trend rules over plain readings: the clinical content is data (data/plan_templates.yaml).

Everything here is pure: readings in, findings out, so the rules are tested by tables and reused by the alert
service, the scheduled check-in job and the dashboard alike.
"""

import operator
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

SEVERITIES = ("routine", "urgent", "asap", "stat")
RULE_TYPES = frozenset({"threshold", "days-in-window", "rise", "event", "silence"})
_OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, ">": operator.gt, "<=": operator.le,
                                                   "<": operator.lt}
# What a care team may change per rule type (besides the value of each condition, by its field name).
_TUNABLE = {"days-in-window": ("days", "window_days"), "rise": ("amount", "window_hours"), "silence": ("hours",)}
MG_PER_DL_PER_MMOL_L = 18.016  # glucose, as the device contract converts it
_UNITS: dict[str, dict[str, Callable[[float], float]]] = {
    "glucose": {"mmol/L": lambda v: v, "mg/dL": lambda v: v / MG_PER_DL_PER_MMOL_L},
    "body-weight": {"kg": lambda v: v, "[lb_av]": lambda v: v * 0.45359237, "g": lambda v: v / 1000},
    "body-temperature": {"Cel": lambda v: v, "[degF]": lambda v: (v - 32) * 5 / 9},
    "blood-pressure": {"mm[Hg]": lambda v: v},
    "heart-rate": {"/min": lambda v: v},
    "spo2": {"%": lambda v: v},
}


class RuleError(ValueError):
    """A reading or a rule that cannot be evaluated as given (unknown unit, bad adjustment)."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One measurement in the contract's units: kind (payload type), when, and its values by field."""

    kind: str
    at: datetime
    values: dict[str, float] = field(default_factory=dict)
    ref: str | None = None  # the Observation it came from


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule that a reading broke: which, how severe, and a sentence saying why (English; pages translate labels)."""

    rule: str
    severity: str
    detail: str
    reading: Reading


@cache
def catalogue() -> dict[str, Any]:
    """The templates, rules, readings and escalation defaults (data/plan_templates.yaml)."""
    return yaml.safe_load((Path(__file__).parent / "data" / "plan_templates.yaml").read_text(encoding="utf-8"))


def severity_rank(severity: str) -> int:
    """0 for routine up to 3 for stat."""
    return SEVERITIES.index(severity)


def most_severe(severities: Iterable[str]) -> str | None:
    """The most severe of severities, or None when there are none."""
    found = sorted(severities, key=severity_rank)
    return found[-1] if found else None


def normalised(kind: str, values: dict[str, float], unit: str | None) -> dict[str, float]:
    """values of a reading of kind converted to the contract's unit; RuleError for a unit we cannot convert."""
    table = _UNITS.get(kind)
    if table is None or unit is None:
        return dict(values)
    convert = table.get(unit)
    if convert is None:
        raise RuleError(f"a {kind} reading in {unit[:20]!r} cannot be converted (known: {', '.join(table)})")
    return {name: round(convert(value), 3) for name, value in values.items()}


def _holds(condition: dict[str, Any], values: dict[str, float]) -> bool:
    value = values.get(condition["field"])
    return value is not None and _OPS[condition["op"]](value, condition["value"])


def _matched(rule: dict[str, Any], values: dict[str, float]) -> str | None:
    """The severity of the most severe condition of rule that values meet, or None."""
    met = [c.get("severity", rule["severity"]) for c in rule["when"] if _holds(c, values)]
    return most_severe(met)


def _shown(reading: Reading) -> str:
    if {"systolic", "diastolic"} <= reading.values.keys():
        return f"{reading.values['systolic']:g}/{reading.values['diastolic']:g}"
    return " ".join(f"{v:g}" for v in reading.values.values())


def _threshold(rule: dict[str, Any], latest: Reading, _history: list[Reading], _tz: ZoneInfo) -> Finding | None:
    severity = _matched(rule, latest.values)
    if severity is None:
        return None
    return Finding(rule["id"], severity, f"{latest.kind} {_shown(latest)}", latest)


def _day_averages(readings: Iterable[Reading], tz: ZoneInfo) -> dict[Any, dict[str, float]]:
    by_day: dict[Any, list[Reading]] = defaultdict(list)
    for reading in readings:
        by_day[reading.at.astimezone(tz).date()].append(reading)
    averages = {}
    for day, found in by_day.items():
        names = {name for r in found for name in r.values}
        averages[day] = {name: sum(r.values[name] for r in found if name in r.values)
                         / sum(1 for r in found if name in r.values) for name in names}
    return averages


def _days_in_window(rule: dict[str, Any], latest: Reading, history: list[Reading], tz: ZoneInfo) -> Finding | None:
    """Days whose average meets a condition, among the window's local days; gaps (days without readings) never
    count as raised days, and the newest reading's own day must be one of them."""
    today = latest.at.astimezone(tz).date()
    first = today - timedelta(days=rule["window_days"] - 1)
    same = [r for r in _unique([*history, latest]) if r.kind == latest.kind and first <= r.at.astimezone(tz).date()
            <= today]
    averages = _day_averages(same, tz)
    raised = sorted(day for day, values in averages.items() if _matched(rule, values))
    if today not in raised or len(raised) < rule["days"]:
        return None
    return Finding(rule["id"], rule["severity"],
                   f"{latest.kind} raised on {len(raised)} of the last {rule['window_days']} days", latest)


def _rise(rule: dict[str, Any], latest: Reading, history: list[Reading], _tz: ZoneInfo) -> Finding | None:
    """The newest value against the lowest of the window before it; missing days simply have no readings, and
    with no earlier reading in the window there is nothing to compare."""
    name = rule["field"]
    since = latest.at - timedelta(hours=rule["window_hours"])
    earlier = [r.values[name] for r in _unique(history) if r.kind == latest.kind and since <= r.at < latest.at
               and name in r.values]
    if not earlier or name not in latest.values:
        return None
    gain = latest.values[name] - min(earlier)
    if gain <= rule["amount"]:
        return None
    return Finding(rule["id"], rule["severity"], f"{latest.kind} up {gain:.1f} in {rule['window_hours']} h", latest)


def _event(rule: dict[str, Any], latest: Reading, _history: list[Reading], _tz: ZoneInfo) -> Finding | None:
    if latest.values.get("value", 1) in (0, False):
        return None
    return Finding(rule["id"], rule["severity"], f"{latest.kind} reported", latest)


_EVALUATE = {"threshold": _threshold, "days-in-window": _days_in_window, "rise": _rise, "event": _event}


def _unique(readings: Iterable[Reading]) -> list[Reading]:
    seen: set[Any] = set()
    out = []
    for reading in readings:
        key = reading.ref or (reading.kind, reading.at, tuple(sorted(reading.values.items())))
        if key not in seen:
            seen.add(key)
            out.append(reading)
    return out


def may_fire(rule: dict[str, Any], latest: Reading) -> bool:
    """Whether rule can find anything on this reading, judged on the reading alone (no history needed to say no).

    A threshold or an event needs the reading itself to meet it. A days-in-window rule needs the newest reading's
    day to be raised; a normal reading on a day an earlier reading raised was judged when that reading came, so
    only a reading that itself meets a condition is judged against the window. A rise always needs the history.
    """
    if rule.get("reading") != latest.kind:
        return False
    if rule["type"] in ("threshold", "days-in-window"):
        return _matched(rule, latest.values) is not None
    if rule["type"] == "event":
        return latest.values.get("value", 1) not in (0, False)
    return rule["type"] in _EVALUATE


def evaluate(rule: dict[str, Any], latest: Reading, history: list[Reading], *, tz: str = "UTC") -> Finding | None:
    """The finding of rule on the newest reading, with earlier readings of the same kind as history; None when
    the rule is met or is not about this kind of reading (silence rules are checked by silent())."""
    if rule.get("reading") != latest.kind or rule["type"] not in _EVALUATE:
        return None
    return _EVALUATE[rule["type"]](rule, latest, history, ZoneInfo(tz))


def silent(rule: dict[str, Any], last_seen: datetime | None, since: datetime, now: datetime) -> bool:
    """True when a silence rule's readings have not come for its hours: counted from the last reading, or from
    since (when the plan began) if none came at all."""
    start = max(filter(None, (last_seen, since)))
    return now - start >= timedelta(hours=rule["hours"])


def adjusted(rule: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """rule with a care team's changes: a field name sets the base value of the conditions on that field (those
    without their own severity), and days/window_days/amount/window_hours/hours as the rule type allows."""
    out = {**rule, "when": [dict(c) for c in rule.get("when", [])]}
    for name, value in changes.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 10000:
            raise RuleError(f"{rule['id']}: {str(name)[:30]} must be a positive number")
        bases = [c for c in out["when"] if c["field"] == name and "severity" not in c]
        if bases:
            for condition in bases:
                condition["value"] = value
        elif name in _TUNABLE.get(rule["type"], ()):
            out[name] = int(value) if name != "amount" else float(value)
        else:
            raise RuleError(f"{rule['id']} has no threshold called {str(name)[:30]}")
    if out["type"] == "days-in-window" and not 1 <= out["days"] <= out["window_days"] <= 31:
        raise RuleError(f"{rule['id']}: days must be 1 to window_days, and the window at most 31 days")
    return out


def rule(rule_id: str) -> dict[str, Any]:
    """One rule of the catalogue with its id; RuleError for an unknown one."""
    found = catalogue()["rules"].get(rule_id)
    if found is None:
        raise RuleError(f"there is no monitoring rule {rule_id[:40]!r}")
    return {**found, "id": rule_id}
