"""An eleventh triage vignette set, written unseen (holdout11) as an honest blind measure of the safety bar.

holdout11.yaml was written by helper h11 as an experienced emergency triage nurse would judge each call by ESI v4
and the Manchester Triage System, without reading the engine's code, rules or lexicon or any other vignette set
(only vignette_sets.py, the shape of test_triage_holdout9.py and the 45-line header of holdout9.yaml). Every
expected level, with its one-line rationale and the guideline it rests on, was fixed before the engine was first
run, and cases whose level is genuinely arguable were left out: emergency = ESI 1-2 or any red flag (call 120 / ED
now), urgent = seen today, routine = appointment within days (including two-week suspected-cancer pathways),
self_care = home or pharmacist care with safety-net advice.
Its mix differs from the earlier sets: more than a third of the texts are typed as people type on a phone (no
punctuation, typos, abbreviations, pinyin initials, mixed Chinese-English, voice-to-text errors), at least 20 are
clinician handovers with vitals, and the set leans on children under 5 and people over 80, on dangers that sit in a
number (vitals, glucose, a newborn's temperature, days of fever, tablets taken) and on negated danger words.
The bar is issue 8's: no emergency case triaged lower than emergency, and level agreement >= 85%.
Run with ``-rxX -s`` to see the confusion matrix and every mismatch with the engine's reasons.

History: its first run (2026-11-27, engine at c450fd6, after the same-day, reassurance and holdout10 passes, nothing
changed for it) gave 80.6% agreement (145/180) and 5 of 60 emergencies under-triaged: 30 paracetamol taken 4 hours
ago by someone who feels fine (h11-em-08), a man on warfarin who hit his head and now vomits and wants to sleep, in
non-native English (-16), a one-year-old fitting for five minutes in phone Chinese (-35), a board-rigid belly in
Sichuanese (-45) and a 9-month-old with a day of dry nappies, sunken eyes and no tears (-54).
Then its emergencies were fixed by kind (lexicon_safety11.yaml, rules_safety11.yaml and a tablet-count reader in
text.py: paracetamol and other overdoses counted in tablets, head injury on a blood thinner with drowsiness, a fit of
five minutes or more, a board-rigid belly, severe dehydration in a child under 5), and three misreadings the other way
(a newborn's 37.4 asked about, a coin-sized palm blister, a pad changed every two hours): 85.0%, none under-triaged.
From then on it is a regression test, not an unseen measure.
"""

import pytest

from tests.knowledge.triage.vignette_sets import (
    age_years,
    check_api,
    check_bar,
    check_shape,
    has_chinese,
    load,
)

CASES = load("holdout11")


def test_the_holdout11_set_covers_every_level_age_group_and_language_and_cites_its_reasons():
    check_shape(CASES, total=180, emergency=60, others=40, per_language=90, young_infants=7, infants=15, children=34,
                elderly=24, over_90=6, pregnancies=12, prefix="h11-", sexes=True)
    assert all(c["sex"] == "female" for c in CASES if c.get("pregnant")), "only women are pregnant"


def test_the_holdout11_set_covers_phone_typing_handovers_small_children_and_the_very_old():
    styles = [c["style"] for c in CASES]
    assert styles.count("phone") >= len(CASES) // 3, "at least a third typed as on a phone"
    texts = [c["text"] for c in CASES if c["style"] == "handover"]
    assert len(texts) >= 20, "at least 20 clinician handovers"
    assert min(sum(map(has_chinese, texts)), sum(not has_chinese(t) for t in texts)) >= 8, "handovers in both languages"
    ages = [age_years(c) for c in CASES]
    assert sum(1 for a in ages if a < 5) >= 25, "at least 25 children under 5"
    assert sum(1 for a in ages if a >= 80) >= 15, "at least 15 people over 80"


def test_no_holdout11_emergency_is_under_triaged_and_agreement_is_at_least_85_percent():
    check_bar(CASES)


# The API stores nothing: one store is enough to show that no case makes it fail.
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_every_holdout11_case_goes_through_the_json_api_without_a_server_error(engine):
    check_api(CASES)
