"""A fourth triage vignette set, written unseen (holdout4, 2026-11-27) as the honest measure of the safety bar.

holdout_2026_11_27.yaml was written without reading the engine's rules, lexicon or the earlier vignette sets (only the
package docstring and the shape of test_triage_final.py). Each expected level comes from ESI v4 reasoning and the
guideline cited in the case, and was fixed before the engine was first run: emergency = ESI 1-2 or any red flag,
urgent = seen today, routine = within days, self_care = home care. The wording imitates hotline callers in a Chinese
city and clinicians' shorthand: typos, negations, vague and multi-problem complaints.
The bar is issue 8's: no emergency case triaged lower than emergency, and level agreement >= 85%.
Run with ``-rxX -s`` to see the confusion matrix and every mismatch with the engine's reasons.

History: its one unseen run (2026-11-27) gave 73.1% agreement with 7 of 46 emergencies under-triaged. The engine was
then fixed from a summary of its failure patterns (the fixer did not read this set) and meets the bar here (85.7%,
none under-triaged); the summary named some of its phrasings, so the set is no longer unseen.
"""

from collections import Counter
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from smartcare.knowledge.triage import LEVELS, Presentation, assess

CASES: list[dict] = yaml.safe_load((Path(__file__).parent / "holdout_2026_11_27.yaml").read_text(encoding="utf-8"))
RANK = {level: i for i, level in enumerate(LEVELS)}  # self_care < routine < urgent < emergency


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _as_presentation(case: dict) -> Presentation:
    return Presentation(text=case["text"], age_years=case.get("age"), age_months=case.get("age_months"),
                        sex=case.get("sex"), pregnant=case.get("pregnant"), answers=case.get("answers") or {})


def _age_years(case: dict) -> float | None:
    if case.get("age") is not None:
        return float(case["age"])
    if case.get("age_months") is not None:
        return case["age_months"] / 12
    return None


def _matrix(results: list[tuple[dict, str]]) -> str:
    order = list(reversed(LEVELS))
    lines = ["expected \\ got".ljust(16) + "".join(level.rjust(11) for level in order)]
    for expected in order:
        counts = Counter(got for case, got in results if case["expected"] == expected)
        lines.append(expected.ljust(16) + "".join(str(counts[g]).rjust(11) for g in order))
    return "\n".join(lines)


def test_the_unseen_set_covers_every_level_age_group_and_language_and_cites_its_reasons():
    assert len(CASES) >= 100
    assert len({c["id"] for c in CASES}) == len(CASES), "duplicate case ids"
    assert len({c["text"] for c in CASES}) == len(CASES), "duplicate case texts"
    levels = Counter(c["expected"] for c in CASES)
    assert set(levels) == set(LEVELS)
    assert levels["emergency"] >= 35 and min(levels["urgent"], levels["routine"], levels["self_care"]) >= 20
    chinese = sum(_has_chinese(c["text"]) for c in CASES)
    assert chinese >= 45 and len(CASES) - chinese >= 45, "both languages need a real share"
    assert any(c.get("age_months") is not None and c["age_months"] < 3 for c in CASES), "no young infant"
    ages = [_age_years(c) for c in CASES]
    assert all(a is not None for a in ages), "every case states an age"
    assert sum(1 for a in ages if a < 1) >= 3, "too few infants"
    assert sum(1 for a in ages if 1 <= a < 18) >= 10, "too few children"
    assert sum(1 for a in ages if a >= 75) >= 8, "too few elderly patients"
    assert sum(1 for c in CASES if c.get("pregnant")) >= 5, "too few pregnancies"
    for case in CASES:
        assert case["expected"] in LEVELS, case["id"]
        assert case.get("rationale") and case.get("guideline"), case["id"]
        assert case["text"].strip() and len(case["text"]) <= 500, case["id"]


def test_no_emergency_is_under_triaged_and_agreement_is_at_least_85_percent():
    results = [(case, assess(_as_presentation(case))) for case in CASES]
    print("\n" + _matrix([(case, a.level) for case, a in results]))
    missed = [(case, a) for case, a in results if a.level != case["expected"]]
    for case, a in missed:
        why = "; ".join(r.text_en for r in a.reasons[:3]) or "no reason given"
        print(f"{case['id']}: {case['text']!r} expected {case['expected']} got {a.level} ({why})")
    for label, chinese in (("English", False), ("Chinese", True)):
        part = [(case, a) for case, a in results if _has_chinese(case["text"]) == chinese]
        print(f"{label}: {sum(a.level == case['expected'] for case, a in part)}/{len(part)} agree")
    under = [case["id"] for case, a in results if case["expected"] == "emergency" and a.level != "emergency"]
    over = sum(1 for case, a in missed if RANK[a.level] > RANK[case["expected"]])
    agreement = 1 - len(missed) / len(results)
    print(f"agreement {agreement:.1%} ({len(results) - len(missed)}/{len(results)}); over-triaged {over}; "
          f"under-triaged emergencies {under}")
    assert under == [], f"emergencies triaged lower: {under}"
    assert agreement >= 0.85, f"agreement {agreement:.1%} is under 85%"


def test_every_unseen_case_goes_through_the_json_api_without_a_server_error(engine):
    from smartcare.platform.web.app import create_app

    with TestClient(create_app(), base_url="http://testserver") as web:
        for case in CASES:
            body = {"text": case["text"], "age": case.get("age"), "age_months": case.get("age_months"),
                    "sex": case.get("sex"), "pregnant": case.get("pregnant")}
            r = web.post("/api/v1/triage/assess", json={k: v for k, v in body.items() if v is not None})
            assert r.status_code == 200, (case["id"], r.status_code, r.text[:300])
            answer = r.json()
            assert answer["level"] in LEVELS, case["id"]
            assert answer["level"] == assess(_as_presentation(case)).level, case["id"]
            if answer["level"] == "emergency":
                assert answer["call_emergency"] is True, case["id"]
