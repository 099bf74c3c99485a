"""A ninth triage vignette set, written unseen (holdout9) as an honest measure of the safety bar.

holdout9.yaml was written by helper h9 as an experienced emergency triage nurse would judge each call by ESI v4 and
the Manchester Triage System, without reading the engine's code, rules or lexicon or any other vignette set (only
vignette_sets.py, the shape of test_triage_holdout8.py and the 40-line header of holdout8.yaml). Every expected
level, with its one-line rationale and the guideline it rests on, was fixed before the engine was first run, and
cases whose level is genuinely arguable were left out: emergency = ESI 1-2 or any red flag (call 120 / ED now),
urgent = seen today (ESI 3, and ESI 4 problems needing a clinician or procedure today), routine = appointment
within days (including two-week suspected-cancer pathways), self_care = home or pharmacist care with safety-net
advice. About half the texts are Simplified Chinese (colloquial, dialect-flavoured, WeChat style, internet slang)
and half English (callers' own words, relatives, teenagers' slang, non-native English, clinician shorthand with
vitals); ages run from newborns to the over-90s, with pregnancies and postpartum women. The set leans on the areas
a set author tends to forget: psychiatry and intoxication, toxicology (relatives' medicines, household products,
plants, mushrooms, pesticides), the elderly with atypical presentations, travel and infectious disease,
occupational and sports injuries, ENT, eye and dental emergencies, skin, genito-urinary problems, paediatric
rashes, post-operative problems, cancer patients on treatment, chronic-disease flares (asthma, COPD, heart
failure, diabetes, epilepsy, sickle cell) and everyday primary-care questions, with harmless-sounding but
dangerous and frightening but benign presentations both ways, so it measures over-triage as well as under-triage.
The bar is issue 8's: no emergency case triaged lower than emergency, and level agreement >= 85%.
Run with ``-rxX -s`` to see the confusion matrix and every mismatch with the engine's reasons.

History: its first run (2026-11-27, after holdout8's fixes and the variants pass) gave 66.1% agreement (117/177)
and 17 of 64 emergencies under-triaged (h9-em-02, -13, -16, -20, -23, -27, -30, -32, -37, -38, -47, -50, -51, -56,
-57, -60, -62): a toddler who chewed a grandparent's tablets, a febrile newborn whose temperature was only
"measured", hydrofluoric acid, an ectopic told as "pain low down", postpartum psychosis, a button battery in
Chinese, a retinal artery occlusion told as "the lights switched off", bleeding after a tonsillectomy, sepsis and
peritonitis after surgery, a head knock told verb-first with amnesia, dengue with bleeding gums, a baby with chest
recession, stimulant toxicity, a high-voltage shock, and Stevens-Johnson syndrome. Fixed by kind (the holdout9
part of lexicon_safety.yaml; rules_safety.yaml rf-post-operative, rf-fever-with-bleeding, rf-severe-skin-reaction,
rf-postpartum-psychosis, rf-stimulant-toxicity): none under-triaged since, agreement 75.7%, so the bar test is a
strict xfail on agreement.
The same-day and reassurance passes (2026-11-27; their authors saw this set's mismatches to learn the kinds and
wrote each kind from its sources) took it to 91.0% with no emergency under-triaged, so the strict xfail is gone.
It is a regression test now; the blind measure of those passes is holdout10.
"""

import pytest

from tests.knowledge.triage.vignette_sets import check_api, check_bar, check_shape, load

CASES = load("holdout9")


def test_the_holdout9_set_covers_every_level_age_group_and_language_and_cites_its_reasons():
    check_shape(CASES, total=175, emergency=60, others=35, per_language=85, young_infants=5, infants=10, children=30,
                elderly=18, over_90=5, pregnancies=10, prefix="h9-", sexes=True)
    assert all(c["sex"] == "female" for c in CASES if c.get("pregnant")), "only women are pregnant"


def test_no_holdout9_emergency_is_under_triaged_and_agreement_is_at_least_85_percent():
    check_bar(CASES)


# The API stores nothing: one store is enough to show that no case makes it fail.
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_every_holdout9_case_goes_through_the_json_api_without_a_server_error(engine):
    check_api(CASES)
