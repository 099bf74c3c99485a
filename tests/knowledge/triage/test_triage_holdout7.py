"""A seventh triage vignette set, written unseen (holdout7) as an honest measure of the safety bar.

holdout7.yaml was written by helper h7 from clinical knowledge as ESI-handbook-style teaching cases, without reading
the engine's code, rules or lexicon or any other vignette set (only vignette_sets.py and the shape of
test_triage_holdout5.py). Every expected level comes from ESI v4 reasoning and the guideline cited in the case and
was fixed before the engine was first run: emergency = ESI 1-2 or any red flag (call 120 / ED now), urgent = seen
today (ESI 3, and ESI 4 problems needing a clinician or procedure today), routine = appointment within days,
self_care = home care with safety-net advice. The texts imitate callers, relatives, WeChat messages, colloquial and
dialect-flavoured Chinese, typos and pinyin slips, negations, clinician shorthand with vitals, understatement and
tricky cases both ways (frightening but benign; harmless-sounding but dangerous).
The bar is issue 8's: no emergency case triaged lower than emergency, and level agreement >= 85%.
Run with ``-rxX -s`` to see the confusion matrix and every mismatch with the engine's reasons.

History: its first run (2026-11-27, after the MTS discriminator pass and the context safety screens) gave 61.8%
agreement (97/157), 37 over-triaged and 15 of 59 emergencies under-triaged in one-shot text mode; the bar test is a
strict xfail recording that.
The same-day and reassurance passes (2026-11-27; their authors saw this set's mismatches to learn the kinds and
wrote each kind from its sources) took it to 90.4% with no emergency under-triaged, so the strict xfail is gone.
It is a regression test now; the blind measure of those passes is holdout10.
"""


import pytest

from tests.knowledge.triage.vignette_sets import (
    check_api,
    check_bar,
    check_shape,
    load,
)

CASES = load("holdout7")


def test_the_holdout7_set_covers_every_level_age_group_and_language_and_cites_its_reasons():
    check_shape(CASES, total=120, emergency=45, others=25, per_language=55, young_infants=2, infants=5, children=14, elderly=12, pregnancies=7, sexes=True)


def test_no_holdout7_emergency_is_under_triaged_and_agreement_is_at_least_85_percent():
    check_bar(CASES)


# The API stores nothing: one store is enough to show that no case makes it fail.
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_every_holdout7_case_goes_through_the_json_api_without_a_server_error(engine):
    check_api(CASES)
