"""The safety bar on a held-out vignette set written without looking at the engine's data or tuning vignettes.

Expected levels come from ESI v4 reasoning and the guideline cited in each case (holdout.yaml), decided before the
engine was run. The bar is the issue's: no emergency case triaged lower than emergency, level agreement >= 85%.
"""

from collections import Counter
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from smartcare.knowledge.triage import LEVELS, Presentation, assess

CASES = yaml.safe_load((Path(__file__).parent / "holdout.yaml").read_text(encoding="utf-8"))


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _presentation(case: dict) -> Presentation:
    return Presentation(text=case["text"], age_years=case.get("age"), age_months=case.get("age_months"),
                        sex=case.get("sex"), pregnant=case.get("pregnant"), answers=case.get("answers") or {})


def _triaged() -> list[tuple[dict, object]]:
    return [(case, assess(_presentation(case))) for case in CASES]


def test_the_holdout_set_spans_levels_ages_languages_and_cites_its_reasons():
    assert len(CASES) >= 80 and len({c["id"] for c in CASES}) == len(CASES)
    levels = Counter(c["expected"] for c in CASES)
    assert set(levels) == set(LEVELS) and levels["emergency"] >= 25
    assert sum(1 for c in CASES if _chinese(c["text"])) >= 35
    assert any(c.get("age_months") is not None and c["age_months"] < 3 for c in CASES)
    assert any((c.get("age") or 0) >= 75 for c in CASES)
    assert any(c.get("pregnant") or "孕" in c["text"] or "pregnant" in c["text"] for c in CASES)
    assert all(c.get("rationale") and c.get("guideline") for c in CASES)


def test_no_emergency_is_under_triaged_and_agreement_is_at_least_85_percent():
    results = _triaged()
    order = list(reversed(LEVELS))
    print("\nexpected \\ got".ljust(16) + "".join(g.rjust(11) for g in order))
    for expected in order:
        print(expected.ljust(16) + "".join(
            str(sum(1 for c, a in results if c["expected"] == expected and a.level == g)).rjust(11) for g in order))
    missed = [(c, a) for c, a in results if c["expected"] != a.level]
    for c, a in missed:
        why = "; ".join(r.text_en for r in a.reasons[:3])
        print(f"{c['id']}: {c['text']!r} expected {c['expected']} got {a.level} ({why})")
    for language, chinese in (("en", False), ("zh", True)):
        part = [(c, a) for c, a in results if _chinese(c["text"]) == chinese]
        print(f"{language}: {sum(1 for c, a in part if c['expected'] == a.level)}/{len(part)} agree")
    under = [c["id"] for c, a in results if c["expected"] == "emergency" and a.level != "emergency"]
    agreement = 1 - len(missed) / len(results)
    print(f"agreement {agreement:.1%} ({len(results) - len(missed)}/{len(results)}); under-triaged emergencies {under}")
    assert under == []
    assert agreement >= 0.85


def test_every_holdout_case_goes_through_the_json_api_without_a_server_error(engine):
    from smartcare.platform.web.app import create_app

    with TestClient(create_app(), base_url="http://testserver") as web:
        for case in CASES:
            body = {"text": case["text"], "age": case.get("age"), "age_months": case.get("age_months"),
                    "sex": case.get("sex"), "pregnant": case.get("pregnant")}
            r = web.post("/api/v1/triage/assess", json={k: v for k, v in body.items() if v is not None})
            assert r.status_code == 200, (case["id"], r.status_code, r.text[:300])
            assert r.json()["level"] == assess(_presentation(case)).level, case["id"]
