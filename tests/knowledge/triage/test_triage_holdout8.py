"""An eighth triage vignette set, written unseen (holdout8) as an honest measure of the safety bar.

holdout8.yaml was written by helper h8 as an experienced emergency triage nurse would judge each call by ESI v4 and
the Manchester Triage System, without reading the engine's code, rules or lexicon or any other vignette set (only
vignette_sets.py, the shape of test_triage_holdout7.py and the 35-line header of holdout7.yaml). Every expected
level, with its one-line rationale and the guideline it rests on, was fixed before the engine was first run, and
cases whose level is genuinely arguable were left out: emergency = ESI 1-2 or any red flag (call 120 / ED now),
urgent = seen today (ESI 3, and ESI 4 problems needing a clinician or procedure today), routine = appointment
within days (including two-week suspected-cancer pathways), self_care = home or pharmacist care with safety-net
advice. About half the texts are Simplified Chinese (colloquial, dialect-flavoured, WeChat style, typos) and half
English (callers' own words, relatives, typos, clinician shorthand with vitals); ages run from newborns to the
over-90s, with pregnancies, harmless-sounding but dangerous and frightening but benign presentations. The
non-emergency half is the everyday traffic of a primary-care or triage line (colds, rashes, back pain, UTIs,
medication questions, chronic-disease reviews, minor injuries, skin, eyes, ears, teeth, non-acute mental health,
paperwork), so the set measures over-triage as well as under-triage.
The bar is issue 8's: no emergency case triaged lower than emergency, and level agreement >= 85%.
Run with ``-rxX -s`` to see the confusion matrix and every mismatch with the engine's reasons.

History: its first run (2026-11-27, after post-negation, the reading of questions with no symptom and part of the
primary-care variants pass, none of which had seen this set) gave 79.9% agreement (139/174) and 8 of 63 emergencies
under-triaged (h8-em-25, -31, -32, -41, -49, -55, -58, -62: a newborn or an old man who can hardly be woken, a fit
told as "抽了一下", both legs numb after a fall, a face burnt in a gas explosion with a hoarse voice, an infant
dehydrated and listless, a sudden painless blackout of one eye). Those were fixed by kind (lexicon_safety.yaml,
rules_safety.yaml), after which the bar holds: 86.8%, none under-triaged.
"""


import pytest

from tests.knowledge.triage.vignette_sets import (
    check_api,
    check_bar,
    check_shape,
    load,
)

CASES = load("holdout8")


def test_the_holdout8_set_covers_every_level_age_group_and_language_and_cites_its_reasons():
    check_shape(CASES, total=150, emergency=50, others=30, per_language=75, young_infants=4, infants=8, children=20, elderly=12, over_90=2, pregnancies=8, prefix="h8-", sexes=True)


def test_no_holdout8_emergency_is_under_triaged_and_agreement_is_at_least_85_percent():
    check_bar(CASES)


# The API stores nothing: one store is enough to show that no case makes it fail.
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_every_holdout8_case_goes_through_the_json_api_without_a_server_error(engine):
    check_api(CASES)
