"""A personalised intervention programme (goals, activities, review schedule) from a person's risk factors.

The rules are data (data/rules.yaml, each with its guideline source); this module interprets them with
three-valued logic so that a fact that is not known is never guessed. Pure: no database, no HTTP, no FHIR writes.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).parent / "data" / "rules.yaml"
SEXES = ("male", "female")
KINDS = ("lifestyle", "medication_review", "education", "monitoring", "referral")
STATUSES = ("achieve", "maintain", "measure")

_OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
# The comparison that holds when the rule's comparison does not, to describe a fact truthfully either way.
_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
# A target's comparator (FHIR Quantity style) as the comparison the starting value is checked with.
_RELATIONS = {"<": "<", "<=": "<=", ">=": ">=", ">": ">", "=": "=="}
_STATUS_ZH = {"achieve": "需达标", "maintain": "保持", "measure": "先测量"}
_SHOWN = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskProfile:
    """What is known about a person's risk factors; None means not known (never guessed)."""

    age: int | None = None
    sex: str | None = None  # male, female
    smoker: bool | None = None
    systolic_bp: float | None = None
    diastolic_bp: float | None = None
    on_bp_treatment: bool | None = None
    on_lipid_treatment: bool | None = None
    on_glucose_treatment: bool | None = None
    ldl_mmol: float | None = None
    total_cholesterol_mmol: float | None = None
    hdl_mmol: float | None = None
    hba1c_percent: float | None = None
    fasting_glucose_mmol: float | None = None
    bmi: float | None = None
    waist_cm: float | None = None
    weight_kg: float | None = None
    physically_active: bool | None = None  # at least 150 minutes of moderate activity a week
    diet_ok: bool | None = None  # vegetables and fruit daily, salt under 5 g a day
    alcohol_units_week: float | None = None  # UK units of 8 g pure alcohol
    heavy_drinking: bool | None = None
    adherence_ok: bool | None = None
    conditions: frozenset[str] | None = None  # hypertension, diabetes, ckd, ascvd, af
    ten_year_ascvd_risk_percent: float | None = None
    ckd_egfr: float | None = None
    proteinuria: bool | None = None
    frail: bool | None = None  # complex or intermediate health (ADA older-adult categories)


@dataclass(frozen=True, slots=True)
class Coding:
    """A coded value (system, code, display)."""

    system: str
    code: str
    display: str


@dataclass(frozen=True, slots=True)
class Target:
    """One measure of a goal: what it is, the target, where the person starts, and whether it is met."""

    measure: str
    loinc: str | None
    unit: str | None  # UCUM
    name_en: str
    name_zh: str
    comparator: str  # <, <=, >=, =
    value: float | None  # None for a coded target, or a relative one whose starting value is not known
    change_percent: float | None  # relative targets: the change from the starting value
    code: Coding | None  # coded targets: the status to reach
    start: float | None
    start_code: Coding | None
    met: bool | None  # None when the starting value is not known


@dataclass(frozen=True, slots=True)
class Goal:
    """A goal of the programme with its targets and the guideline it follows."""

    key: str
    level: str  # which of the goal's rules set the targets
    status: str  # achieve (a target not met), maintain (all met), measure (the starting value is not known)
    name_en: str
    name_zh: str
    text_en: str
    text_zh: str
    targets: tuple[Target, ...]
    due_in_days: int | None
    source: str


@dataclass(frozen=True, slots=True)
class Timing:
    """How often an activity is done: `frequency` times every `period` `unit` (d, wk, mo)."""

    frequency: int
    period: int
    unit: str


@dataclass(frozen=True, slots=True)
class Activity:
    """Something the person or the care team does, with the education topic the app matches articles on."""

    key: str
    kind: str  # lifestyle, medication_review, education, monitoring, referral
    text_en: str
    text_zh: str
    timing: Timing | None
    monitoring_template: str | None  # a template of smartcare/family/monitoring/data/plan_templates.yaml
    topic: str | None
    source: str


@dataclass(frozen=True, slots=True)
class FollowUp:
    """When the programme is reviewed: first after `first_review_in_days`, then every `every_days`."""

    first_review_in_days: int
    every_days: int
    text_en: str
    text_zh: str
    source: str


@dataclass(frozen=True, slots=True)
class Missing:
    """A risk factor that was not known, and the goals it left undecided or without a starting value."""

    field: str
    name_en: str
    name_zh: str
    needed_for: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a goal, activity or schedule was chosen: the facts that fired the rule, in English and Chinese."""

    about: str  # goal:<key>, activity:<key>, follow_up:<key>
    text_en: str
    text_zh: str
    source: str


@dataclass(frozen=True, slots=True)
class Programme:
    """A personalised intervention programme, to be reviewed by a doctor before it is active."""

    goals: tuple[Goal, ...]
    activities: tuple[Activity, ...]
    follow_up: FollowUp
    missing: tuple[Missing, ...]
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class _Outcome:
    value: bool | None
    facts: tuple[tuple[str, str], ...]  # (en, zh) descriptions of the data that decided
    unknown: frozenset[str]  # fields whose absence left the value unknown


@cache
def rules() -> dict[str, Any]:
    """The goal, activity and follow-up rules with their sources, as data."""
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))


def programme(profile: RiskProfile) -> Programme:
    """Build the intervention programme that the rules give for a person's risk factors."""
    _check(profile)
    data = rules()
    values = _values(profile, data)
    goals: list[Goal] = []
    reasons: list[Reason] = []
    missing: dict[str, list[str]] = {}
    for rule in data["goals"]:
        goal, why, needed = _goal(rule, values, data)
        if goal is not None:
            goals.append(goal)
            reasons.append(why)
        for field in needed:
            missing.setdefault(field, []).append(rule["key"])
    made = {goal.key: goal.status for goal in goals}
    activities: list[Activity] = []
    for rule in data["activities"]:
        outcome = _evaluate(rule["when"], values, made, data)
        if outcome.value is True:
            activities.append(_activity(rule))
            reasons.append(_reason(f"activity:{rule['key']}", rule["en"], rule["zh"], outcome, rule["source"]))
    follow_up, why = _follow_up(data["follow_up"], values, made, data)
    reasons.append(why)
    return Programme(tuple(goals), tuple(activities), follow_up, _missing(missing, data), tuple(reasons))


def _check(profile: RiskProfile) -> None:
    if profile.sex is not None and profile.sex not in SEXES:
        raise ValueError(f"sex must be one of {', '.join(SEXES)}, not {profile.sex!r}")
    known = rules()["conditions"]
    unknown = sorted(set(profile.conditions or ()) - set(known))
    if unknown:
        raise ValueError(f"unknown condition keys {', '.join(unknown)}; use {', '.join(known)}")
    if profile.alcohol_units_week is not None and profile.alcohol_units_week < 0:
        raise ValueError("alcohol_units_week cannot be negative")


def _values(profile: RiskProfile, data: Mapping[str, Any]) -> dict[str, Any]:
    values = {field.name: getattr(profile, field.name) for field in fields(profile)}
    units = profile.alcohol_units_week
    values["alcohol_grams_day"] = (None if units is None
                                   else round(units * data["alcohol"]["grams_per_unit"] / 7, 1))
    return values


# Conditions: three-valued logic over the profile (and, for activities and follow-up, the goals already made).

def _evaluate(node: Any, values: Mapping[str, Any], made: Mapping[str, str], data: Mapping[str, Any]) -> _Outcome:
    if node == "always":
        return _Outcome(True, (), frozenset())
    if "all" in node or "any" in node:
        parts = [_evaluate(part, values, made, data) for part in node.get("all", node.get("any"))]
        decisive = False if "all" in node else True
        hits = [part for part in parts if part.value is decisive]
        if hits:
            return _Outcome(decisive, _facts(hits), frozenset())
        if all(part.value is not None for part in parts):
            return _Outcome(not decisive, _facts(parts), frozenset())
        return _Outcome(None, (), frozenset().union(*(part.unknown for part in parts if part.value is None)))
    if "not" in node:
        inner = _evaluate(node["not"], values, made, data)
        return _Outcome(None if inner.value is None else not inner.value, inner.facts, inner.unknown)
    if "has" in node:
        return _has(node["has"], values["conditions"], data)
    if "goal" in node:
        return _goal_made(node, made, data)
    return _compare(node, values, data)


def _goal_made(node: Mapping[str, Any], made: Mapping[str, str], data: Mapping[str, Any]) -> _Outcome:
    rule = next(rule for rule in data["goals"] if rule["key"] == node["goal"])
    status = made.get(node["goal"])
    shown_en = status or "no goal"
    shown_zh = _STATUS_ZH[status] if status else "无此目标"
    fact = (f"{rule['en']} goal: {shown_en}", f"{rule['zh']}目标：{shown_zh}")
    return _Outcome(status in node["status"], (fact,), frozenset())


def _facts(parts: Iterable[_Outcome]) -> tuple[tuple[str, str], ...]:
    return tuple(fact for part in parts for fact in part.facts)


def _has(condition: str, conditions: frozenset[str] | None, data: Mapping[str, Any]) -> _Outcome:
    if conditions is None:
        return _Outcome(None, (), frozenset({"conditions"}))
    names = data["conditions"][condition]
    if condition in conditions:
        return _Outcome(True, ((f"{names['en']} recorded", f"已记录{names['zh']}"),), frozenset())
    return _Outcome(False, ((f"no {names['en']} recorded", f"未记录{names['zh']}"),), frozenset())


def _compare(node: Mapping[str, Any], values: Mapping[str, Any], data: Mapping[str, Any]) -> _Outcome:
    field, op, threshold = node["field"], node["op"], node["value"]
    value = values[field]
    if value is None:
        return _Outcome(None, (), frozenset({field}))
    held = _OPS[op](value, threshold)
    return _Outcome(held, (_describe(field, value, op if held else _NEGATED[op], threshold, data),), frozenset())


def _describe(field: str, value: Any, op: str, threshold: Any, data: Mapping[str, Any]) -> tuple[str, str]:
    names = data["fields"][field]
    if isinstance(value, bool):
        return (f"{names['en']}: {'yes' if value else 'no'}", f"{names['zh']}：{'是' if value else '否'}")
    if isinstance(value, str):
        return f"{names['en']}: {value}", f"{names['zh']}：{names.get('values_zh', {}).get(value, value)}"
    shown, limit = _number(value), _number(threshold)
    unit_en, unit_zh = names.get("unit_en", ""), names.get("unit_zh", "")
    return (f"{names['en']} {shown} {unit_en} ({_SHOWN[op]} {limit})".replace("  ", " "),
            f"{names['zh']} {shown} {unit_zh}（{_SHOWN[op]} {limit}）".replace(" （", "（"))


def _number(value: float) -> str:
    return f"{value:g}"


# Goals.

def _goal(rule: Mapping[str, Any], values: Mapping[str, Any],
          data: Mapping[str, Any]) -> tuple[Goal | None, Reason | None, list[str]]:
    chosen: dict[str, Any] | None = None
    chosen_outcome: _Outcome | None = None
    undecided: list[tuple[dict[str, Any], _Outcome]] = []
    for level in rule["levels"]:
        outcome = _evaluate(level["when"], values, {}, data)
        if outcome.value is True:
            chosen, chosen_outcome = level, outcome
            break
        if outcome.value is None:
            undecided.append((level, outcome))
    kept = _evaluate(rule.get("kept_when", {"any": []}), values, {}, data)
    # An earlier level that might hold only matters when it would set different targets.
    rivals = [(level, outcome) for level, outcome in undecided
              if chosen is None or level["targets"] != chosen["targets"]]
    if rivals or chosen is None:
        candidates = [level for level, _ in rivals] + ([chosen] if chosen else [])
        if not candidates:
            return None, None, []
        # A reading at target under every level that might apply needs no goal, unless the condition is managed.
        met_everywhere = all(target.met is True for level in candidates
                             for target in _targets(level, values, data))
        if met_everywhere and kept.value is not True:
            return None, None, []
        needed = set().union(*(outcome.unknown for _, outcome in rivals))
        for level in candidates:
            needed |= {_start_field(target, data) for target in _targets(level, values, data) if target.met is None}
        return None, None, sorted(needed - {None})
    assert chosen_outcome is not None
    targets = _targets(chosen, values, data)
    unknown_starts = sorted({_start_field(target, data) for target in targets if target.met is None} - {None})
    if any(target.met is False for target in targets):
        status = "achieve"
    elif kept.value is not True:
        return None, None, unknown_starts
    else:
        status = "maintain" if all(target.met for target in targets) else "measure"
    goal = Goal(rule["key"], chosen["key"], status, rule["en"], rule["zh"], chosen["en"], chosen["zh"], targets,
                chosen.get("due_in_days"), chosen["source"])
    facts = chosen_outcome.facts + (kept.facts if status != "achieve" else ())
    facts += tuple(_start_fact(target) for target in targets)
    why = _reason(f"goal:{rule['key']}", f"{chosen['en']} [{status}]", f"{chosen['zh']}【{_STATUS_ZH[status]}】",
                  _Outcome(True, facts, frozenset()), chosen["source"])
    return goal, why, unknown_starts


def _targets(level: Mapping[str, Any], values: Mapping[str, Any], data: Mapping[str, Any]) -> tuple[Target, ...]:
    return tuple(_target(spec, values, data) for spec in level["targets"])


def _target(spec: Mapping[str, Any], values: Mapping[str, Any], data: Mapping[str, Any]) -> Target:
    measure = data["measures"][spec["measure"]]
    start = values[measure["field"]] if "field" in measure else None
    flag = values[measure["flag"]] if "flag" in measure else None
    comparator = spec["comparator"]
    value = spec.get("value")
    change = spec.get("change_percent")
    if change is not None:
        # A relative target is set from the starting value and is by definition not yet met.
        value = None if start is None else round(start * (1 + change / 100), 1)
        met = None if start is None else False
    elif start is not None:
        met = _OPS[_RELATIONS[comparator]](start, value)
    elif flag is not None:
        met = flag != measure["off_when"]
    else:
        met = None
    start_code = _coding(measure["start_code"]) if "start_code" in measure and flag == measure["off_when"] else None
    code = _coding(measure["target_code"]) if "target_code" in measure else None
    return Target(spec["measure"], measure.get("loinc"), measure.get("unit"), measure["en"], measure["zh"],
                  comparator, value, change, code, start, start_code, met)


def _coding(spec: Mapping[str, str]) -> Coding:
    return Coding(spec["system"], spec["code"], spec["display"])


def _start_field(target: Target, data: Mapping[str, Any]) -> str | None:
    measure = data["measures"][target.measure]
    field = measure.get("field") or measure.get("flag")
    return "alcohol_units_week" if field == "alcohol_grams_day" else field


def _start_fact(target: Target) -> tuple[str, str]:
    if target.start is not None:
        shown = f"{_number(target.start)} {target.unit or ''}".strip()
    elif target.start_code is not None:
        shown = target.start_code.display
    elif target.met is not None:
        shown = "at target" if target.met else "not at target"
    else:
        return f"{target.name_en} not known", f"{target.name_zh}未知"
    shown_zh = {"at target": "已达标", "not at target": "未达标"}.get(shown, shown)
    return f"{target.name_en}: {shown}", f"{target.name_zh}：{shown_zh}"


# Activities, follow-up, reasons and the missing list.

def _activity(rule: Mapping[str, Any]) -> Activity:
    timing = rule.get("timing")
    return Activity(rule["key"], rule["kind"], rule["en"], rule["zh"],
                    Timing(timing["frequency"], timing["period"], timing["unit"]) if timing else None,
                    rule.get("monitoring_template"), rule.get("topic"), rule["source"])


def _follow_up(spec: Mapping[str, Any], values: Mapping[str, Any], made: Mapping[str, str],
               data: Mapping[str, Any]) -> tuple[FollowUp, Reason]:
    for schedule in spec["schedules"]:
        outcome = _evaluate(schedule["when"], values, made, data)
        if outcome.value is True:
            plan = FollowUp(spec["first_review_in_days"], schedule["every_days"], schedule["en"], schedule["zh"],
                            schedule["source"])
            return plan, _reason(f"follow_up:{schedule['key']}", schedule["en"], schedule["zh"], outcome,
                                 schedule["source"])
    raise ValueError("rules.yaml: the last follow-up schedule must apply always")


def _reason(about: str, text_en: str, text_zh: str, outcome: _Outcome, source: str) -> Reason:
    if not outcome.facts:
        return Reason(about, text_en, text_zh, source)
    return Reason(about, f"{text_en}: " + "; ".join(en for en, _ in outcome.facts),
                  f"{text_zh}：" + "；".join(zh for _, zh in outcome.facts), source)


def _missing(needed: Mapping[str, list[str]], data: Mapping[str, Any]) -> tuple[Missing, ...]:
    order = list(data["fields"])
    return tuple(Missing(field, data["fields"][field]["en"], data["fields"][field]["zh"], tuple(goals))
                 for field, goals in sorted(needed.items(), key=lambda item: order.index(item[0])))
