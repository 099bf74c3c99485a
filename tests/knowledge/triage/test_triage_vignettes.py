"""The safety bar: the vignette suite (ESI handbook style) with no under-triaged emergency and >= 85% agreement."""

from collections import Counter

from tests.knowledge.triage.vignette_sets import check_bar, has_chinese, load

CASES = load("vignettes")


def test_the_suite_spans_levels_ages_and_languages():
    assert len(CASES) >= 80 and len({c["id"] for c in CASES}) == len(CASES)
    assert set(Counter(c["expected"] for c in CASES)) == {"emergency", "urgent", "routine", "self_care"}
    assert sum(1 for c in CASES if has_chinese(c["text"])) >= 30
    assert any((c.get("age") or 99) < 1 or "month" in c["text"] or "个月" in c["text"] for c in CASES)


def test_no_emergency_is_under_triaged_and_agreement_is_at_least_85_percent():
    check_bar(CASES)
