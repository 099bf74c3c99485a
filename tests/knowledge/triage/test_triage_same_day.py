"""Same-day pass (data/lexicon_same_day.yaml, data/rules_same_day.yaml): presentations that need a clinician TODAY
(appendicitis told as its story, shingles near the eye, a urine infection in pregnancy, a swallowed coin, a metal
fragment in the eye, croup, pneumonia, amber features in a feverish child, an older person drying out, periorbital
cellulitis, a hot joint, possible fractures, wounds, bites, burns, a high INR, HIV exposure...) come out urgent, and
the same words with a danger feature stay emergency.

same_day.yaml was written for this pass before the engine was run on it; the data was then fixed by kind, never by
a case's own words. Its bar: no emergency triaged lower, every urgent case at least urgent, agreement >= 90%."""

import pytest

from smartcare.knowledge.triage import Presentation, assess
from tests.knowledge.triage.vignette_sets import RANK, check_basics, load, matrix, presentation

SC, RT, UR, EM = "self_care", "routine", "urgent", "emergency"
CASES = load("same_day")


def test_same_day_set_has_both_languages_and_look_alikes_on_both_sides():
    check_basics(CASES)
    assert len(CASES) >= 80
    chinese = sum(any("\u4e00" <= ch <= "\u9fff" for ch in c["text"]) for c in CASES)
    assert 0.4 <= chinese / len(CASES) <= 0.6
    assert sum(c["expected"] == EM for c in CASES) >= 12 and sum(c["expected"] in (SC, RT) for c in CASES) >= 10


def test_same_day_set_no_emergency_lower_no_urgent_under_triaged_and_agreement_at_least_90_percent():
    results = [(case, assess(presentation(case)).level) for case in CASES]
    print("\n" + matrix(results))
    missed = [(case, got) for case, got in results if got != case["expected"]]
    for case, got in missed:
        print(f"{case['id']}: {case['text']!r} expected {case['expected']} got {got}")
    under = [case["id"] for case, got in results if case["expected"] in (EM, UR) and RANK[got] < RANK[case["expected"]]]
    assert under == [], f"triaged lower than a clinician would: {under}"
    assert 1 - len(missed) / len(results) >= 0.90


def _level(text: str, age: float, pregnant: bool | None = None) -> tuple[str, list[str]]:
    result = assess(Presentation(text=text, age_years=age, pregnant=pregnant))
    return result.level, [r.rule for r in result.reasons]


# (sentence, age, the rule of this pass that must give "urgent")
SAME_DAY = [
    ("pain began around my belly button and has moved to the lower right of my tummy", 22, "symptom:migratory_abdominal_pain"),
    ("肚子疼从肚脐周围转到右下腹了", 25, "symptom:migratory_abdominal_pain"),
    ("belly ache, hurts when I walk, lost my appetite, temp 37.8", 17, "rl-appendicitis-story"),
    ("blisters on the left side of my forehead going onto the eyelid", 70, "rl-face-blisters-one-side"),
    ("右边额头和鼻尖起了水泡，右眼发红", 66, "rl-face-blisters-one-side"),
    ("my toddler swallowed a penny an hour ago, seems fine", 2, "symptom:swallowed_object"),
    ("孩子吞了一个钢镚，能吃能喝", 5, "symptom:swallowed_object"),
    ("seal-like barking cough in my 2 year old, no noise at rest", 2, "symptom:croup"),
    ("chest infection, the GP heard crackles, fever 38.2, coughing", 50, "rl-pneumonia-clinical"),
    ("4 year old with a fever and breathing faster than usual", 4, "rl-fast-breathing-child"),
    ("孩子发烧六天了", 3, "rl-child-fever-five-days"),
    ("外婆80岁，拉肚子两天，不爱吃饭，没精神", 80, "rl-older-gastro-dehydration"),
    ("after a cold her eyelid is swollen and red, temp 38.4", 6, "rl-periorbital-cellulitis"),
    ("大脚趾突然红肿发烫，疼得盖被子都不行，没受伤", 50, "rl-hot-swollen-joint"),
    ("went over on my ankle, sore right on the ankle bone", 28, "rl-injury-bone-tenderness"),
    ("孩子摔了一跤，胳膊肘肿了", 6, "rl-child-limb-swollen-after-injury"),
    ("burnt my forearm on the oven, blisters the size of my palm", 40, "rl-burn-palm-size"),
    ("a week after my gallbladder surgery the incision is red and weeping", 55, "rl-wound-infection-risk"),
    ("abscess on my back, it's like a golf ball now", 33, "rl-large-abscess"),
    ("孩子没打过疫苗，发烧咳嗽，眼睛红，今天出了红疹子", 3, "rl-measles-suspected"),
    ("dad is on chemo and has had diarrhoea 6 times today, no fever", 68, "rl-chemotherapy-side-effects"),
    ("我的INR查出来是8，没有出血", 72, "symptom:inr_high"),
    ("she told me afterwards she's HIV positive, we didn't use a condom", 30, "symptom:hiv_exposure"),
    ("孩子身上的疹子摸着像砂纸，发烧", 6, "symptom:scarlet_fever_sign"),
    ("被蚊子咬的地方红肿越来越往外扩，发烧了", 40, "rl-bite-or-cut-spreading-redness"),
    ("nosebleed, pinched it for 15 minutes and it's still bleeding", 50, "rl-nosebleed-not-stopping"),
]


@pytest.mark.parametrize("case", SAME_DAY, ids=lambda c: c[0][:40])
def test_same_day_presentation_is_urgent_for_its_reason(case):
    sentence, age, rule = case
    level, rules = _level(sentence, age)
    assert level == UR, (sentence, level, rules)
    assert rule in rules, (sentence, rules)


def test_urine_infection_in_pregnancy_told_in_lay_words_is_urgent():
    for sentence in ("it burns when I pee and I keep needing to go", "尿尿火辣辣的，老想上厕所"):
        level, rules = _level(sentence, 28, pregnant=True)
        assert level == UR and "rl-pregnancy-urine" in rules, (sentence, rules)
        assert _level(sentence, 28, pregnant=False)[0] == RT


def test_metal_in_the_eye_while_grinding_is_urgent_and_with_loss_of_sight_an_emergency():
    assert _level("用角磨机的时候有东西崩进眼里了，磨得慌", 40)[0] == UR
    assert _level("grinding steel and something flew into my eye, watering", 40)[0] == UR
    level, rules = _level("grinding steel and something flew into my eye, now I can't see out of it", 40)
    assert level == EM and "rf-eye-injury-vision-loss" in rules


# Look-alikes: the same words with the feature that makes it an emergency stay emergency.
DANGER = [
    ("barking cough and noisy breathing even when he's resting, pulling in under his ribs", 2),
    ("孩子咳嗽像狗叫，吸气时有响声，嘴唇发紫", 2),
    ("swallowed a coin and now he's drooling and can't swallow", 4),
    ("孩子吞了硬币，现在喘不上气，脸发紫", 3),
    ("eyelid swollen and red with a fever, and now his eye is bulging and it hurts to move it", 7),
    ("眼皮红肿发烧，眼球突出，看东西重影", 8),
    ("pain moved to my lower right and now I've fainted and my belly is rigid", 30),
    ("fell on my wrist, it looks bent, fingers white and cold", 35),
    ("chemo last week, diarrhoea and a temperature of 38.5", 60),
    ("on warfarin, INR 9 and I'm vomiting blood", 75),
    ("older man with diarrhoea, now confused and can't be woken properly", 85),
    ("pneumonia and can't breathe, lips blue", 60),
]


@pytest.mark.parametrize("case", DANGER, ids=lambda c: c[0][:40])
def test_look_alike_with_a_danger_feature_stays_emergency(case):
    sentence, age = case
    level, rules = _level(sentence, age)
    assert level == EM, (sentence, level, rules)


# Look-alikes the other way: the harmless version of the same words is not lifted to urgent by this pass.
HARMLESS = [
    ("had my appendix out years ago, now a bit of heartburn after meals", 40),
    ("swallowed a bit of chewing gum", 8),
    ("my lower right back aches after gardening", 45),
    ("breathing fast after running for the bus, fine a minute later", 30),
    ("想打个肺炎疫苗", 65),
    ("宝宝8个月，尿不湿换得勤，吃奶好", 0.7),
]


@pytest.mark.parametrize("case", HARMLESS, ids=lambda c: c[0][:40])
def test_harmless_look_alike_is_not_made_urgent_by_the_same_day_rules(case):
    sentence, age = case
    result = assess(Presentation(text=sentence, age_years=age))
    mine = {"symptom:migratory_abdominal_pain", "symptom:swallowed_object", "rl-appendicitis-story",
            "rl-fast-breathing-child", "rl-chest-infection-signs", "rl-pneumonia-clinical"}
    assert not mine & {r.rule for r in result.reasons}, (sentence, [r.rule for r in result.reasons])
    assert result.level != EM
