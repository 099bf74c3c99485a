"""A tenth triage vignette set, written unseen (holdout10) as an honest blind measure of the safety bar.

holdout10.yaml was written by helper h10 as an experienced emergency triage nurse would judge each call by ESI v4
and the Manchester Triage System, without reading the engine's code, rules or lexicon or any other vignette set
(only vignette_sets.py, the shape of test_triage_holdout9.py and the 45-line header of holdout9.yaml), and without
running the engine, the bench or the API on its cases. Every expected level, with its one-line rationale and the
guideline it rests on, was fixed before anything ran, and cases whose level is genuinely arguable were left out:
emergency = ESI 1-2 or any red flag (call 120 / ED now), urgent = seen today (ESI 3, and ESI 4 problems needing a
clinician or procedure today), routine = appointment within days (including two-week suspected-cancer pathways),
self_care = home or pharmacist care with safety-net advice. 180 cases: 60 emergency and 40 each of urgent, routine
and self_care, exactly half Simplified Chinese (colloquial, Northern/Northeastern, WeChat style) and half English
(callers' own words, relatives, care homes, teenagers' texting, non-native English, clinician shorthand with
vitals); ages from newborns to the over-90s, with pregnancies and postpartum women. It spreads across all of
medicine with common things commonly: the everyday complaints a hotline gets (colds, sore throats, rashes, minor
injuries, medication questions, blood pressure and diabetes reviews, two-week cancer pathways) as well as the
time-critical rarities, and dangerous-but-calm and benign-but-frightening presentations both ways, so it measures
over-triage as well as under-triage. The bar is issue 8's: no emergency case triaged lower than emergency, and
level agreement >= 85%. Run with ``-rxX -s`` to see the confusion matrix and every mismatch with the engine's
reasons.

History: its first run (2026-11-27, engine at b9050f7, before anything was changed for it) gave 75.0% agreement
(135/180) and 6 of 60 emergencies under-triaged: testicular torsion told as "pain in my left ball" (h10-em-09), a
toddler who drank oven cleaner (-18), a man on insulin who cannot be woken properly with a glucose of 1.9 (-20, read
as self-care), a toddler who may have eaten glibenclamide (-37), intussusception (-39) and a thunderclap headache in
Chinese (-54).
Then, without anyone reading it, the same-day pass took it to 77.2% and the reassurance pass to 80.6% (the blind
measure of those two passes; the same 6 emergencies still under-triaged). Then its emergencies were fixed by kind
(lexicon_safety10.yaml, rules_safety10.yaml: torsion in slang, caustic ingestion, glucose values written in the text
and lay words for hard to wake, 'one pill can kill' medicines in a child, intussusception, thunderclap headache,
and snoring pauses and months-long numb feet no longer read as emergencies): 85.0%, none under-triaged. From then
on it is a regression test, not an unseen measure.
"""

import pytest

from tests.knowledge.triage.vignette_sets import check_api, check_bar, check_shape, load

CASES = load("holdout10")


def test_the_holdout10_set_covers_every_level_age_group_and_language_and_cites_its_reasons():
    check_shape(CASES, total=180, emergency=60, others=40, per_language=90, young_infants=8, infants=13, children=36,
                elderly=20, over_90=6, pregnancies=11, prefix="h10-", sexes=True)
    assert all(c["sex"] == "female" for c in CASES if c.get("pregnant")), "only women are pregnant"


def test_no_holdout10_emergency_is_under_triaged_and_agreement_is_at_least_85_percent():
    check_bar(CASES)


# The API stores nothing: one store is enough to show that no case makes it fail.
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_every_holdout10_case_goes_through_the_json_api_without_a_server_error(engine):
    check_api(CASES)
