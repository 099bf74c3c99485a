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


import pytest

from tests.knowledge.triage.vignette_sets import (
    check_api,
    check_bar,
    check_shape,
    load,
)

CASES = load("holdout_2026_11_27")


def test_the_unseen_set_covers_every_level_age_group_and_language_and_cites_its_reasons():
    check_shape(CASES, total=100, emergency=35, others=20, per_language=45, young_infants=1, infants=3, children=10, elderly=8, pregnancies=5)


def test_no_emergency_is_under_triaged_and_agreement_is_at_least_85_percent():
    check_bar(CASES)


# The API stores nothing: one store is enough to show that no case makes it fail.
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_every_unseen_case_goes_through_the_json_api_without_a_server_error(engine):
    check_api(CASES)
