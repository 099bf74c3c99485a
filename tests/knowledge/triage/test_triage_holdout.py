"""The safety bar on a held-out vignette set written without looking at the engine's data or tuning vignettes.

Expected levels come from ESI v4 reasoning and the guideline cited in each case (holdout.yaml), decided before the
engine was run. The bar is the issue's: no emergency case triaged lower than emergency, level agreement >= 85%.
"""

from collections import Counter

import pytest

from tests.knowledge.triage.vignette_sets import check_api, check_bar, check_basics, has_chinese, load

CASES = load("holdout")


def test_the_holdout_set_spans_levels_ages_languages_and_cites_its_reasons():
    check_basics(CASES)
    assert len(CASES) >= 80 and Counter(c["expected"] for c in CASES)["emergency"] >= 25
    assert sum(1 for c in CASES if has_chinese(c["text"])) >= 35
    assert any(c.get("age_months") is not None and c["age_months"] < 3 for c in CASES)
    assert any((c.get("age") or 0) >= 75 for c in CASES)
    assert any(c.get("pregnant") or "孕" in c["text"] or "pregnant" in c["text"] for c in CASES)


def test_no_emergency_is_under_triaged_and_agreement_is_at_least_85_percent():
    check_bar(CASES)


# The API stores nothing: one store is enough to show that no case makes it fail.
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_every_holdout_case_goes_through_the_json_api_without_a_server_error(engine):
    check_api(CASES)
