"""The final, honest measure of the triage safety bar: a third vignette set nobody tuned the engine against.

holdout_final.yaml was written without reading the engine's rules, lexicon or the other vignette sets; each expected
level comes from ESI v4 reasoning and the guideline cited in the case, fixed before the engine was first run. The bar
is issue 8's: no emergency case may be triaged lower than emergency, and level agreement must be >= 85%.
Run with ``-rxX -s`` to see the confusion matrix and every mismatch with the engine's reasons.

History: its one unseen run (2026-11-27) gave 74.0% agreement with 10 of 51 emergencies under-triaged. The engine
was then fixed from a summary of the failure patterns (its fixer did not read this file), and it now meets the bar
(87.0%, none under-triaged). Because that summary named some of its phrasings, this set is no longer unseen: the
next fresh set is the honest measure.
"""

from collections import Counter

import pytest

from tests.knowledge.triage.vignette_sets import check_api, check_bar, check_basics, has_chinese, load

CASES = load("holdout_final")


def test_the_final_set_covers_every_level_age_group_and_language_and_cites_its_reasons():
    check_basics(CASES)
    levels = Counter(c["expected"] for c in CASES)
    assert len(CASES) >= 100
    assert levels["emergency"] >= 35 and min(levels["urgent"], levels["routine"], levels["self_care"]) >= 20
    assert sum(has_chinese(c["text"]) for c in CASES) >= 45
    assert any(c.get("age_months") is not None and c["age_months"] < 3 for c in CASES), "no young infant"
    assert any(c.get("age") is not None and c["age"] < 12 for c in CASES), "no child"
    assert any((c.get("age") or 0) >= 75 for c in CASES), "no elderly patient"
    assert sum(1 for c in CASES if c.get("pregnant")) >= 5, "too few pregnancies"


def test_no_emergency_is_under_triaged_and_agreement_is_at_least_85_percent():
    check_bar(CASES)


# The API stores nothing: one store is enough to show that no case makes it fail.
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_every_final_case_goes_through_the_json_api_without_a_server_error(engine):
    check_api(CASES)
