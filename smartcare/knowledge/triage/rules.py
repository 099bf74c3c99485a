"""Triage rules as data: loading data/rules.yaml, the small condition language, and the list for the rules page."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from smartcare.knowledge.triage.text import DATA_DIR

# Levels from least to most urgent; modelled on ESI (emergency ~ ESI 1-2, urgent ~ ESI 3 and same-day ESI 4,
# routine ~ ESI 4-5 that can wait days, self_care ~ ESI 5 that is usually managed at home).
LEVELS = ("self_care", "routine", "urgent", "emergency")
FACTS = frozenset({"age_years", "age_months", "sex", "pregnant", "temperature", "duration_days", "severity", "onset",
                   "pain", "any_symptom", "heart_rate", "resp_rate", "spo2", "systolic_bp", "diastolic_bp", "gcs",
                   "gestation_weeks", "only_minor", "benign_finding",
                   "only_pregnancy_common", "tablets_taken"})
_COMPARISON = re.compile(r"^([a-z_][a-z0-9_]*)\s*(>=|<=|==|!=|<|>)\s*([A-Za-z0-9_.\-]+)$")


@dataclass(frozen=True)
class Rule:
    """One triage rule: when it fires, the level it gives, why (EN/ZH), first aid and its sources."""

    id: str
    level: str
    red_flag: bool
    when: Mapping[str, Any]
    condition_en: str
    condition_zh: str
    reason_en: str
    reason_zh: str
    first_aid: tuple[str, ...]
    first_aid_by_age: Mapping[str, tuple[str, ...]]
    source: tuple[str, ...]


def rank(level: str) -> int:
    """The urgency rank of a level (self_care 0 ... emergency 3)."""
    return LEVELS.index(level)


def _atom(item: str, facts: Mapping[str, Any]) -> bool:
    m = _COMPARISON.match(item)
    if not m:
        return bool(facts.get(item))
    name, op, wanted = m.groups()
    have = facts.get(name)
    if have is None:
        return False
    try:
        value: Any = float(wanted)
        have = float(have)
    except (TypeError, ValueError):
        value, have = wanted, str(have)
    return {">=": have >= value, "<=": have <= value, ">": have > value, "<": have < value, "==": have == value,
            "!=": have != value}[op]


def _item(item: Any, facts: Mapping[str, Any]) -> bool:
    return holds(item, facts) if isinstance(item, Mapping) else _atom(str(item), facts)


def holds(when: Mapping[str, Any], facts: Mapping[str, Any]) -> bool:
    """Whether a condition ({all, any, none} lists of facts, comparisons or nested conditions) holds for facts."""
    if not all(_item(i, facts) for i in when.get("all", ())):
        return False
    if "any" in when and not any(_item(i, facts) for i in when["any"]):
        return False
    return not any(_item(i, facts) for i in when.get("none", ()))


def atoms(when: Mapping[str, Any]) -> list[str]:
    """Every fact or comparison a condition mentions (outside its `none` lists), in order."""
    found: list[str] = []
    for part in ("all", "any"):
        for item in when.get(part, ()):
            found += atoms(item) if isinstance(item, Mapping) else [str(item)]
    return found


def fact_names(when: Mapping[str, Any]) -> set[str]:
    """The fact and symptom names a condition refers to, including inside `none` lists."""
    names: set[str] = set()
    for part in ("all", "any", "none"):
        for item in when.get(part, ()):
            if isinstance(item, Mapping):
                names |= fact_names(item)
            else:
                m = _COMPARISON.match(str(item))
                names.add(m.group(1) if m else str(item))
    return names


def _sources(value: Any) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list) else (str(value),)


@lru_cache(maxsize=1)
def load_rules() -> tuple[Rule, ...]:
    """The shipped rules (rules.yaml, then the further files rules_*.yaml in name order), red flags first, in file
    order. A further file holds its own ``rules`` list (and its own YAML anchors)."""
    rows = []
    for path in [DATA_DIR / "rules.yaml", *sorted(DATA_DIR.glob("rules_*.yaml"))]:
        rows += yaml.safe_load(path.read_text(encoding="utf-8")).get("rules") or []
    rules = []
    for row in rows:
        if row["level"] not in LEVELS or (row.get("red_flag") and row["level"] != "emergency"):
            raise ValueError(f"rules.yaml: {row['id']} has a wrong level")
        by_age = {k: tuple(v) for k, v in (row.get("first_aid_by_age") or {}).items()}
        rules.append(Rule(id=row["id"], level=row["level"], red_flag=bool(row.get("red_flag")), when=row["when"],
                          condition_en=row["condition_en"], condition_zh=row["condition_zh"],
                          reason_en=row["reason_en"], reason_zh=row["reason_zh"],
                          first_aid=tuple(row.get("first_aid") or ()), first_aid_by_age=by_age,
                          source=_sources(row["source"])))
    if len({r.id for r in rules}) != len(rules):
        raise ValueError("rules.yaml: duplicate rule id")
    return tuple(sorted(rules, key=lambda r: not r.red_flag))


def list_rules() -> list[dict[str, Any]]:
    """Every rule for the clinician-facing rules page: id, level, red flag, condition and reason in EN/ZH, sources."""
    return [{"id": r.id, "level": r.level, "red_flag": r.red_flag, "condition_en": r.condition_en,
             "condition_zh": r.condition_zh, "reason_en": r.reason_en, "reason_zh": r.reason_zh,
             "first_aid": sorted({*r.first_aid, *(k for keys in r.first_aid_by_age.values() for k in keys)}),
             "source": list(r.source)} for r in load_rules()]
