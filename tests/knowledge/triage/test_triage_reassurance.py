"""Reassurance pass (data/lexicon_reassurance.yaml, data/rules_reassurance.yaml, and the `harmless` / `explains` fields
read by text.py and engine.py): common harmless, self-limiting findings told by their features (milia and hiccups in
a newborn, a painless blood spot on the white of the eye, pink urine after beetroot, pins and needles after lying on
an arm, a bony bump below a teenager's kneecap, a sore arm after a jab...) and questions about a medicine or vaccine
reach self-care; the same words with a danger feature from the same source stay urgent or emergency.

reassurance.yaml was written for this pass (about two thirds harmless presentations, the rest look-alikes that share
their words) before the engine was run on it, half in Chinese; the data was then fixed by kind."""

import dataclasses

import pytest

from smartcare.knowledge.triage import Presentation, assess
from smartcare.knowledge.triage import text as reader
from smartcare.knowledge.triage.text import Mention
from tests.knowledge.triage.vignette_sets import (
    RANK,
    check_bar,
    check_basics,
    has_chinese,
    load,
)

SC, RT, UR, EM = "self_care", "routine", "urgent", "emergency"
CASES = load("reassurance")


def _level(text: str, age: float | None = None, months: float | None = None, pregnant: bool | None = None) -> str:
    return assess(Presentation(text=text, age_years=age, age_months=months, pregnant=pregnant)).level


def test_reassurance_set_has_both_languages_harmless_cases_and_look_alikes():
    check_basics(CASES)
    assert len(CASES) >= 80
    chinese = sum(has_chinese(c["text"]) for c in CASES)
    assert chinese >= 35 and len(CASES) - chinese >= 35
    assert sum(c["expected"] == EM for c in CASES) >= 15
    assert sum(1 for c in CASES if (c.get("age_months") or 12) < 3) >= 8, "newborns are the heart of this pass"


def test_no_reassurance_emergency_is_under_triaged_and_agreement_is_at_least_90_percent():
    results = check_bar(CASES, bar=0.90)
    harmless = [(case, got) for case, got in results if case["expected"] == SC]
    assert sum(got == SC for _, got in harmless) >= 0.95 * len(harmless)


# (text, age in years, age in months, the harmless key read) -> self-care
HARMLESS = [
    ("my 4 week old has tiny white spots on his nose, feeding well", None, 1, "newborn_skin"),
    ("宝宝一个月，鼻子上好多白色的小点点，吃奶好", None, 1, "newborn_skin"),
    ("my 3 week old gets hiccups after every feed, otherwise content", None, 0.7, "baby_hiccups_sneezing"),
    ("宝宝半个月，吃完奶就打嗝，别的都好", None, 0.5, "baby_hiccups_sneezing"),
    ("one week old girl, a little pinkish blood in her nappy from her vagina, feeding fine", None, 0.25,
     "newborn_hormone_effect"),
    ("宝宝三周，一天拉五六次黄色稀便，吃奶好，体重在长", None, 0.7, "breastfed_stools"),
    ("red patch on the white of my eye, no pain, vision fine", 40, None, "subconjunctival_haemorrhage"),
    ("眼白上有一块鲜红的血，不疼，看东西清楚", 50, None, "subconjunctival_haemorrhage"),
    ("had beetroot for tea and my wee is pink now, feel fine", 30, None, "food_coloured_excreta"),
    ("吃了红心火龙果，今天尿是红的，别的没啥", 28, None, "food_coloured_excreta"),
    ("pins and needles in my hand after sleeping on my arm, gone in a few minutes", 35, None,
     "positional_pins_needles"),
    ("手上长了个瘊子，不疼不痒", 20, None, "common_wart"),
    ("14, sore just below the kneecap after running, bony bump there", 14, None, "osgood_schlatter"),
    ("arm sore where I had my flu jab yesterday, no fever", 60, None, "vaccine_sore_arm"),
    ("降压药和感冒药能一起吃吗", 65, None, "medicine_question"),
    ("熬夜玩手机，眼睛又干又涩", 22, None, "screen_eye_strain"),
]


@pytest.mark.parametrize(("text", "age", "months", "key"), HARMLESS)
def test_harmless_findings_told_by_their_features_reach_self_care(text, age, months, key):
    assert key in reader.read(text).present(), text
    assert _level(text, age, months) == SC, text


# The same words with a danger feature from the source's own list: never self-care or routine.
LOOK_ALIKES = [
    ("my 4 week old has tiny white spots on his nose and a temperature of 38.5", None, 1, EM),
    ("宝宝一个月，鼻子上有小白点，发烧38度5", None, 1, EM),
    ("my 3 week old gets hiccups after feeds and is now floppy and not feeding", None, 0.7, EM),
    ("宝宝三周，一天拉七八次黄色稀便，尿少，精神差", None, 0.7, EM),
    ("red patch on the white of my eye after a squash ball hit it, vision blurred", 30, None, UR),
    ("眼白上一块红，看东西模糊，怕光", 45, None, UR),
    ("had beetroot yesterday, poo is red and I fainted", 60, None, EM),
    ("吃了火龙果以后尿红，还发烧腰疼", 35, None, UR),
    ("pins and needles after sleeping on my arm and now my face is drooping", 60, None, EM),
    ("被蜜蜂蜇了，嘴唇肿了，喘不上气", 30, None, EM),
    ("stung by a wasp and now my throat feels tight and I'm dizzy", 40, None, EM),
    ("had my jab 10 minutes ago and my lips are swelling", 30, None, EM),
    ("昨晚喝多了，今天吐了好几口血", 40, None, EM),
    ("my toddler swallowed a handful of grandma's heart tablets", 2, None, EM),
    ("sunburnt with big blisters all over my back, shivery and vomiting", 25, None, UR),
    ("cold sore on my lip and the same eye is red and sore", 30, None, UR),
    ("新鞋磨脚起了水泡，我有糖尿病", 60, None, UR),
]


@pytest.mark.parametrize(("text", "age", "months", "least"), LOOK_ALIKES)
def test_look_alikes_with_a_danger_feature_stay_high(text, age, months, least):
    assert RANK[_level(text, age, months)] >= RANK[least], text


def test_a_harmless_finding_explains_only_the_words_it_is_told_in():
    # "sneezes" is the newborn's normal sneezing; a runny nose told apart is still a symptom of its own
    reading = reader.read("my 2 week old sneezes a lot")
    assert {m.key: m.explained for m in reading.mentions} == {"baby_hiccups_sneezing": False, "runny_nose": True}
    assert _level("my 2 week old sneezes a lot", months=0.5) == SC
    reading = reader.read("my 2 week old sneezes a lot, also has a runny nose and a cough")
    assert {m.key for m in reading.mentions if not m.explained} >= {"runny_nose", "cough"}
    assert _level("my 2 week old sneezes a lot, also has a runny nose and a cough", months=0.5) == UR


def test_a_negated_finding_explains_nothing():
    mentions = [Mention(key="subconjunctival_haemorrhage", start=0, end=20, matched="x", negated=True),
                Mention(key="eye_problem", start=5, end=15, matched="y")]
    assert [m.explained for m in reader._explained(mentions)] == [False, False]
    mentions[0] = dataclasses.replace(mentions[0], negated=False)
    assert [m.explained for m in reader._explained(mentions)] == [False, True]
    # an explained word is shown among the findings but counts for no rule or level
    result = assess(Presentation(text="bright red patch on the white of my eye, no pain", age_years=40))
    assert "eye_problem" in {f.key for f in result.findings} and result.level == SC


def test_explains_may_never_name_an_emergency_symptom():
    symptoms = dict(reader.lexicon().symptoms)
    reader.check_explains(symptoms)
    bad = dataclasses.replace(symptoms["newborn_skin"], explains=("confusion",))
    with pytest.raises(ValueError, match="explains confusion"):
        reader.check_explains({**symptoms, "newborn_skin": bad})
    for s in symptoms.values():
        assert all(symptoms[k].level != EM for k in s.explains), s.key


def test_a_harmless_finding_is_read_but_is_not_a_symptom_for_the_any_symptom_rules():
    # rl-young-infant ("a baby under 3 months who is unwell") does not fire on milia alone, and nothing-recognised
    # does not apply either; with a real symptom the infant rules are back.
    result = assess(Presentation(text="tiny white spots on her nose and cheeks", age_months=1))
    assert result.level == SC and not any(r.rule in ("rl-young-infant", "nothing-recognised") for r in result.reasons)
    result = assess(Presentation(text="tiny white spots on her nose and cheeks, vomiting", age_months=1))
    assert result.level == UR and any(r.rule == "rl-young-infant" for r in result.reasons)


def test_pregnancy_sickness_is_a_common_complaint_of_pregnancy_but_hyperemesis_is_not():
    assert _level("11 weeks pregnant with morning sickness, keeping fluids down", 30, pregnant=True) == SC
    assert RANK[_level("怀孕8周，吐得厉害，什么都喝不下，尿很少", 29, pregnant=True)] >= RANK[UR]


def test_common_words_are_not_read_as_typos_of_symptoms():
    assert "haemorrhoids" not in reader.read("stubbed my toe, it's sore but i can walk on it").present()
    assert reader.read("hello doctor, quick question").present() == set()
    assert "abdominal_pain" not in reader.read("bitten by mosquitoes while camping").present()


def test_a_travel_vaccine_question_is_a_travel_clinic_appointment_not_self_care():
    assert _level("going to Kenya in 6 weeks, what jabs and malaria tablets do I need?", 30) == RT
