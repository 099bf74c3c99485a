"""A twelfth triage vignette set, written unseen (holdout12) as an honest blind measure of the safety bar.

holdout12.yaml was written by helper h12 as an experienced emergency triage nurse would judge each call by ESI v4
and the Manchester Triage System, without reading the engine's code, rules or lexicon or any other vignette set
(only vignette_sets.py, the shape of test_triage_holdout11.py and the 45-line header of holdout11.yaml). Every
expected level, with its one-line rationale and the guideline it rests on, was fixed before the engine was first
run, and cases whose level is genuinely arguable were left out: emergency = ESI 1-2 or any red flag (call 120 / ED
now), urgent = seen today, routine = appointment within days (including two-week suspected-cancer pathways),
self_care = home or pharmacist care with safety-net advice.
Its mix differs from holdout11's: more than half of the texts come from a worried relative or a carer, many for
someone who cannot speak for themselves (dementia, learning disability, aphasia after a stroke, babies and
toddlers); it leans on atypical presentations of serious illness (painless MI in the old, sepsis as confusion, DKA
as a teenager's tummy ache, ectopic as shoulder-tip pain, a calm thunderclap headache, torsion as belly pain,
meningococcal spots), on time-course words that decide the level, on long rambling messages with the danger in the
middle, on Chinese in traditional characters with Hong Kong and Taiwan wording and internet slang, and on benign
things that sound frightening (hiccups, old floaters, a vasovagal faint, a known migraine, coffee ectopics).
The bar is issue 8's: no emergency case triaged lower than emergency, and level agreement >= 85%.
Run with ``-rxX -s`` to see the confusion matrix and every mismatch with the engine's reasons.

History: its first run (2026-11-27, engine at a705682, nothing changed for it) gave 71.7% agreement (129/180) and 8
of 60 emergencies under-triaged: atypical heart attack without pain in a diabetic of 79 (h12-em-02), a 6-week-old at
38.3 "under the arm" (-11), sepsis as new confusion in Cantonese (-31), a man who cannot speak clutching his chest,
sweating and grey (-39), pre-eclampsia (-46), anaphylaxis in Cantonese (-48) and intussusception (-53) in
traditional characters, and a cirrhotic vomiting a bowl of fresh blood (-56); 22 of the 40 self-care cases were
triaged higher, many as "nothing recognised". Then the engine was fixed by kind (lexicon_safety12.yaml,
rules_safety12.yaml, and text.py: traditional characters converted to simplified with OpenCC's t2s table and
Cantonese words mapped to Mandarin, a temperature read from the thermometer or its site, 三个礼拜 after birth as an
age, a normal bodily function in a list denied): atypical ACS, clutching the chest, haematemesis told as a bowlful,
bleeding or confusion in cirrhosis, abscess and spreading cellulitis, mastitis with fever, scalds, needlestick
injuries (抽完血 had been read as a fit), worsening heart failure, development questions, carpal tunnel, a change in
bowel habit, harmless findings lifted again by their danger features (skipped beats after coffee, a blocked ear after
a flight, a usual migraine, sickness in pregnancy keeping fluids down, a triggered faint under 40, a well newborn's
sneezes, hiccups, milia and snuffles): 97.2% (175/180), none under-triaged. Still apart: heart failure with swollen
ankles and breathlessness is called emergency by rf-blood-clot-lung (-ur-17, expected urgent), long-standing
floaters and a knock with a bruise at 85 stay routine as earlier tests decided, and a rambling question about
constipation on holiday stays routine for its unread "eyes". From then on it is a regression test, not an unseen
measure.
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

CASES = load("holdout12")

# Characters written only in traditional Chinese (their simplified forms differ), so a text tagged "traditional"
# really is, and Cantonese particles that only Hong Kong writing uses.
TRADITIONAL_ONLY = set("個這裡頭週話後體會說們醫覺藥動時還沒過邊來點發燒腫壓嗎寶媽爺臉")
CANTONESE = set("喺咗冇嚟啱嘅嘢唔佢哋")
SLANG = ("蚌埠住了", "破防", "emm", "救命", "谁懂")


def themed(theme: str) -> list[dict]:
    return [c for c in CASES if theme in c["themes"]]


def test_the_holdout12_set_covers_every_level_age_group_and_language_and_cites_its_reasons():
    check_shape(CASES, total=180, emergency=60, others=40, per_language=90, young_infants=7, infants=15, children=34,
                elderly=24, over_90=6, pregnancies=12, prefix="h12-", sexes=True)
    assert all(c["sex"] == "female" for c in CASES if c.get("pregnant")), "only women are pregnant"
    assert all(c.get("age_months") is None or c["age_months"] < 24 for c in CASES), "months only for the very young"


def test_the_holdout12_set_covers_relatives_and_carers_speaking_for_those_who_cannot_speak():
    voices = [c for c in CASES if c["style"] in ("relative", "carer")]
    assert len(voices) > len(CASES) // 2, "more than half written by a relative or a carer"
    voiceless = themed("voiceless")
    assert len(voiceless) >= 35, "at least 35 patients who cannot speak for themselves"
    adults = [c for c in voiceless if age_years(c) >= 18]
    assert len(adults) >= 8, "adults who cannot speak (dementia, learning disability, aphasia), not only babies"
    assert sum(c["expected"] == "emergency" for c in voiceless) >= 15


def test_the_holdout12_set_covers_danger_hidden_in_atypical_stories_long_messages_and_time_words():
    atypical = themed("atypical")
    assert len(atypical) >= 15 and all(c["expected"] == "emergency" for c in atypical), "atypical = serious"
    assert min(sum(map(has_chinese, (c["text"] for c in atypical))),
               sum(not has_chinese(c["text"]) for c in atypical)) >= 6, "atypical cases in both languages"
    rambling = [c for c in CASES if c["style"] == "rambling"]
    assert len(rambling) >= 10 and {c["expected"] for c in rambling} >= {"emergency", "self_care"}
    assert all(len(c["text"]) >= (100 if has_chinese(c["text"]) else 300) for c in rambling), "rambling is long"
    timed = themed("time-course")
    assert len(timed) >= 40 and len({c["expected"] for c in timed}) == 4, "time words at every level"


def test_the_holdout12_set_covers_chinese_in_traditional_characters_and_internet_slang():
    traditional = themed("traditional")
    assert len(traditional) >= 20
    assert all(set(c["text"]) & TRADITIONAL_ONLY for c in traditional), "traditional texts use traditional forms"
    assert sum(bool(set(c["text"]) & CANTONESE) for c in traditional) >= 10, "Hong Kong Cantonese writing"
    assert len({c["expected"] for c in traditional}) == 4
    slang = themed("slang")
    assert len(slang) >= 10 and all(any(s in c["text"] for s in SLANG) for c in slang)
    assert sum(c["expected"] == "emergency" for c in slang) >= 3, "slang must not hide an emergency"


def test_the_holdout12_set_covers_frightening_sounding_benign_cases_and_number_cases():
    scary = themed("benign-scary")
    assert len(scary) >= 12 and all(c["expected"] in ("self_care", "routine") for c in scary)
    numbers = themed("numbers")
    assert len(numbers) >= 15 and all(any(ch.isdigit() for ch in c["text"]) for c in numbers)
    assert len({c["expected"] for c in numbers}) == 4


def test_no_holdout12_emergency_is_under_triaged_and_agreement_is_at_least_85_percent():
    check_bar(CASES)


# The API stores nothing: one store is enough to show that no case makes it fail.
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_every_holdout12_case_goes_through_the_json_api_without_a_server_error(engine):
    check_api(CASES)
