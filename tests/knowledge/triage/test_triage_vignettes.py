"""The safety bar: the vignette suite (ESI handbook style) with no under-triaged emergency and >= 85% agreement."""

from collections import Counter
from pathlib import Path

import yaml

from smartcare.knowledge.triage import LEVELS, Presentation, assess

CASES = yaml.safe_load((Path(__file__).parent / "vignettes.yaml").read_text(encoding="utf-8"))


def _triaged() -> list[tuple[dict, str]]:
    return [(c, assess(Presentation(text=c["text"], age_years=c.get("age"), age_months=c.get("age_months"),
                                    sex=c.get("sex"), pregnant=c.get("pregnant"),
                                    answers=c.get("answers") or {})).level) for c in CASES]


def test_the_suite_spans_levels_ages_and_languages():
    assert len(CASES) >= 80 and len({c["id"] for c in CASES}) == len(CASES)
    assert set(Counter(c["expected"] for c in CASES)) == set(LEVELS)
    assert sum(1 for c in CASES if any("\u4e00" <= ch <= "\u9fff" for ch in c["text"])) >= 30
    assert any((c.get("age") or 99) < 1 or "month" in c["text"] or "个月" in c["text"] for c in CASES)


def test_no_emergency_is_under_triaged_and_agreement_is_at_least_85_percent():
    results = _triaged()
    order = list(reversed(LEVELS))
    print("\nexpected \\ got".ljust(16) + "".join(g.rjust(11) for g in order))
    for expected in order:
        print(expected.ljust(16) + "".join(
            str(sum(1 for c, got in results if c["expected"] == expected and got == g)).rjust(11) for g in order))
    under = [c["id"] for c, got in results if c["expected"] == "emergency" and got != "emergency"]
    agreement = sum(1 for c, got in results if c["expected"] == got) / len(results)
    print(f"agreement {agreement:.1%}")
    assert under == []
    assert agreement >= 0.85
