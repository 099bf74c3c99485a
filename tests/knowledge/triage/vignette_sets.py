"""What every triage vignette-set test does: load a set, run it through the engine, print the confusion matrix and
mismatches, check the issue's safety bar (no emergency triaged lower; level agreement >= 85%), and send each case
through the JSON API once. Each set's own test file keeps its history and its shape requirements."""

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from smartcare.knowledge.triage import LEVELS, Assessment, Presentation, assess

HERE = Path(__file__).parent
RANK = {level: i for i, level in enumerate(LEVELS)}  # self_care < routine < urgent < emergency
BAR = 0.85


def load(name: str) -> list[dict[str, Any]]:
    """The cases of tests/knowledge/triage/<name>.yaml."""
    return yaml.safe_load((HERE / f"{name}.yaml").read_text(encoding="utf-8"))


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def presentation(case: dict[str, Any]) -> Presentation:
    return Presentation(text=case["text"], age_years=case.get("age"), age_months=case.get("age_months"),
                        sex=case.get("sex"), pregnant=case.get("pregnant"), answers=case.get("answers") or {})


def age_years(case: dict[str, Any]) -> float | None:
    if case.get("age") is not None:
        return float(case["age"])
    if case.get("age_months") is not None:
        return case["age_months"] / 12
    return None


def matrix(results: list[tuple[dict[str, Any], str]]) -> str:
    """The confusion matrix, expected (rows) by the engine's level (columns), most urgent first."""
    order = list(reversed(LEVELS))
    lines = ["expected \\ got".ljust(16) + "".join(level.rjust(11) for level in order)]
    for expected in order:
        counts = Counter(got for case, got in results if case["expected"] == expected)
        lines.append(expected.ljust(16) + "".join(str(counts[g]).rjust(11) for g in order))
    return "\n".join(lines)


def check_basics(cases: list[dict[str, Any]]) -> None:
    """Unique ids and texts, known levels, every level present, and a reason and guideline for each case."""
    assert len({c["id"] for c in cases}) == len(cases), "duplicate case ids"
    assert len({c["text"] for c in cases}) == len(cases), "duplicate case texts"
    assert set(Counter(c["expected"] for c in cases)) == set(LEVELS)
    for case in cases:
        assert case["expected"] in LEVELS, case["id"]
        assert case.get("rationale") and case.get("guideline"), case["id"]
        assert case["text"].strip() and len(case["text"]) <= 500, case["id"]


def check_shape(cases: list[dict[str, Any]], *, total: int, emergency: int, others: int, per_language: int,
                young_infants: int = 1, infants: int = 0, children: int = 0, elderly: int = 0, over_90: int = 0,
                pregnancies: int = 0, prefix: str | None = None, sexes: bool = False) -> None:
    """A set's shape: check_basics, at least total cases, emergency emergencies and others of each other level,
    per_language cases in each language, and the age groups and pregnancies a fair measure needs."""
    check_basics(cases)
    levels = Counter(c["expected"] for c in cases)
    assert len(cases) >= total
    assert levels["emergency"] >= emergency and min(levels["urgent"], levels["routine"], levels["self_care"]) >= others
    chinese = sum(has_chinese(c["text"]) for c in cases)
    assert chinese >= per_language and len(cases) - chinese >= per_language, "both languages need a real share"
    if prefix is not None:
        assert all(c["id"].startswith(prefix) for c in cases)
    ages = [age_years(c) for c in cases]
    assert all(a is not None for a in ages), "every case states an age"
    young = [c for c in cases if c.get("age_months") is not None and c["age_months"] < 3]
    assert len(young) >= young_infants, "too few infants under 3 months"
    assert sum(1 for a in ages if a < 1) >= infants, "too few infants"
    assert sum(1 for a in ages if 1 <= a < 18) >= children, "too few children"
    assert sum(1 for a in ages if a >= 75) >= elderly, "too few elderly patients"
    assert sum(1 for a in ages if a >= 90) >= over_90, "too few patients over 90"
    if sexes:
        assert all(c.get("sex") in ("male", "female") for c in cases), "every case states a sex"
    assert sum(1 for c in cases if c.get("pregnant")) >= pregnancies, "too few pregnancies"


def check_bar(cases: list[dict[str, Any]], bar: float = BAR) -> list[tuple[dict[str, Any], str]]:
    """Print the matrix, each mismatch with the engine's first reasons and agreement by language; assert no
    emergency is triaged lower and agreement reaches bar (issue 8's 85% unless a set asks for more); each case with
    the level it got."""
    results: list[tuple[dict[str, Any], Assessment]] = [(case, assess(presentation(case))) for case in cases]
    print("\n" + matrix([(case, a.level) for case, a in results]))
    missed = [(case, a) for case, a in results if a.level != case["expected"]]
    for case, a in missed:
        why = "; ".join(r.text_en for r in a.reasons[:3]) or "no reason given"
        print(f"{case['id']}: {case['text']!r} expected {case['expected']} got {a.level} ({why})")
    for label, chinese in (("English", False), ("Chinese", True)):
        part = [(case, a) for case, a in results if has_chinese(case["text"]) == chinese]
        print(f"{label}: {sum(a.level == case['expected'] for case, a in part)}/{len(part)} agree")
    under = [case["id"] for case, a in results if case["expected"] == "emergency" and a.level != "emergency"]
    over = sum(1 for case, a in missed if RANK[a.level] > RANK[case["expected"]])
    agreement = 1 - len(missed) / len(results)
    print(f"agreement {agreement:.1%} ({len(results) - len(missed)}/{len(results)}); over-triaged {over}; "
          f"under-triaged emergencies {under}")
    assert under == [], f"emergencies triaged lower: {under}"
    assert agreement >= bar, f"agreement {agreement:.1%} is under {bar:.0%}"
    return [(case, a.level) for case, a in results]


def check_api(cases: list[dict[str, Any]]) -> None:
    """Every case through POST /api/v1/triage/assess: no server error, the engine's level, 120 for emergencies."""
    from fastapi.testclient import TestClient

    from smartcare.platform.web.app import create_app

    with TestClient(create_app(), base_url="http://testserver") as web:
        for case in cases:
            body = {"text": case["text"], "age": case.get("age"), "age_months": case.get("age_months"),
                    "sex": case.get("sex"), "pregnant": case.get("pregnant")}
            r = web.post("/api/v1/triage/assess", json={k: v for k, v in body.items() if v is not None})
            assert r.status_code == 200, (case["id"], r.status_code, r.text[:300])
            answer = r.json()
            assert answer["level"] == assess(presentation(case)).level, case["id"]
            assert answer["call_emergency"] is (answer["level"] == "emergency"), case["id"]
