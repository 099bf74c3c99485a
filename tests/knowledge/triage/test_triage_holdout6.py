"""A sixth triage vignette set, written unseen (holdout6) as an honest measure of the safety bar.

holdout6.yaml was written by a clinician-educator in the style of ESI v4 handbook teaching cases, without reading the
engine's rules, lexicon or questions or any other vignette set (only vignette_sets.py and the shape of
test_triage_holdout5.py). Every expected level comes from ESI v4 reasoning and the guideline cited in the case, fixed
before the engine was ever run on it: emergency = ESI 1-2 or any red flag (call 120 now), urgent = seen today (ESI 3,
and ESI 4 problems needing a clinician or procedure today), routine = within days, self_care = home care with
safety-net advice. The texts are patients and relatives in their own words, colloquial Chinese, typos, negations,
metaphors, multi-problem complaints and clinicians' shorthand, with tricky cases both ways (benign but frightening,
harmless-sounding but dangerous). The bar is issue 8's: no emergency case triaged lower than emergency, and level
agreement >= 85%.

History: its first run (2026-11-27, after the holdout5 safety additions and the primary-care lexicon) gave 66.2%
agreement (102/154), 29 over-triaged and 19 of 56 emergencies under-triaged; the bar test is a strict xfail recording
that. The failures were then fixed by kind (lexicon_discriminators.yaml, lexicon_safety.yaml), so from then on this set
is a regression test, not an unseen measure; holdout7 was written for that. The same-day pass (lexicon_same_day.yaml,
rules_same_day.yaml, written by kind from the sources' same-day lists) took it to 85.1%, over the bar.
Run with ``-s`` to see the confusion matrix and every mismatch with the engine's reasons.
"""


import pytest

from tests.knowledge.triage.vignette_sets import (
    check_api,
    check_bar,
    check_shape,
    load,
)

CASES = load("holdout6")


def test_the_holdout6_set_covers_every_level_age_group_and_language_and_cites_its_reasons():
    check_shape(CASES, total=110, emergency=40, others=22, per_language=50, young_infants=1, infants=4, children=12, elderly=10, pregnancies=6)


def test_no_holdout6_emergency_is_under_triaged_and_agreement_is_at_least_85_percent():
    check_bar(CASES)


# The API stores nothing: one store is enough to show that no case makes it fail.
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_every_holdout6_case_goes_through_the_json_api_without_a_server_error(engine):
    check_api(CASES)
