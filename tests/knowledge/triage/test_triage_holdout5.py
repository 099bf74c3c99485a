"""A fifth triage vignette set, written unseen (holdout5, 2026-11-27) as the honest measure of the safety bar.

holdout5.yaml was written without reading the engine's rules, lexicon or any other vignette set (only the package
docstring and the test structure of test_triage_unseen.py). Every expected level comes from ESI v4 reasoning and the
guideline cited in the case, fixed before the engine was first run: emergency = ESI 1-2 or any red flag, urgent = seen
today, routine = within days, self_care = home care. The texts imitate callers to a Chinese city's hotline or a kiosk
and clinicians' shorthand: typos, negations, vague and multi-problem complaints, metaphors and euphemisms.
The bar is issue 8's: no emergency case triaged lower than emergency, and level agreement >= 85%.

History: its one unseen run (2026-11-27) gave 70.4% agreement with 8 of 47 emergencies under-triaged. The engine was
then fixed from the kinds of failure it showed (lexicon_safety.yaml and the rules it cites), so the set is now a
regression test and no longer an unseen measure; holdout6 was written after it for that.
Run with ``-rxX -s`` to see the confusion matrix and every mismatch with the engine's reasons.
"""


import pytest

from tests.knowledge.triage.vignette_sets import (
    check_api,
    check_bar,
    check_shape,
    load,
)

CASES = load("holdout5")


def test_the_holdout5_set_covers_every_level_age_group_and_language_and_cites_its_reasons():
    check_shape(CASES, total=100, emergency=35, others=20, per_language=45, young_infants=1, infants=3, children=10, elderly=8, pregnancies=5)


def test_no_holdout5_emergency_is_under_triaged_and_agreement_is_at_least_85_percent():
    check_bar(CASES)


# The API stores nothing: one store is enough to show that no case makes it fail.
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_every_holdout5_case_goes_through_the_json_api_without_a_server_error(engine):
    check_api(CASES)
