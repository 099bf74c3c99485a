"""Second variants pass (data/lexicon_variants2.yaml, data/rules_variants2.yaml): ordinary complaints told with the
context a triage nurse uses to keep the level down (mild, brief, long-standing, improving, explained by a harmless
cause, situational, a question or a request) are not over-triaged, and the same words with a red feature added stay
urgent or emergency.

variants2.yaml was written for this pass (about 60% ordinary complaints, the rest urgent and emergency presentations
sharing their words) before the engine was run on it; the data was then fixed by kind, never by a case's own words.
Its bar is stricter than the issue's: no emergency triaged lower and level agreement of at least 90%."""

import pytest
import yaml

from smartcare.knowledge.triage import Presentation, assess
from smartcare.knowledge.triage.text import DATA_DIR
from tests.knowledge.triage.vignette_sets import RANK, check_shape, load, matrix, presentation

SC, RT, UR, EM = "self_care", "routine", "urgent", "emergency"
CASES = load("variants2")


def test_variants2_set_has_the_shape_of_a_fair_measure():
    check_shape(CASES, total=150, emergency=25, others=25, per_language=60, young_infants=1, infants=5, children=15,
                elderly=5, pregnancies=3, prefix="v2-")
    ordinary = sum(1 for c in CASES if c["expected"] in (SC, RT))
    assert 0.55 <= ordinary / len(CASES) <= 0.70, "about 60% ordinary complaints"


def test_no_variants2_emergency_is_under_triaged_and_agreement_is_at_least_90_percent():
    results = [(case, assess(presentation(case)).level) for case in CASES]
    print("\n" + matrix(results))
    missed = [(case, got) for case, got in results if got != case["expected"]]
    for case, got in missed:
        print(f"{case['id']}: {case['text']!r} expected {case['expected']} got {got}")
    under = [case["id"] for case, got in results if case["expected"] == EM and got != EM]
    assert under == [], f"emergencies triaged lower: {under}"
    agreement = 1 - len(missed) / len(results)
    assert agreement >= 0.90, f"agreement {agreement:.1%} is under 90%"
    over = [case["id"] for case, got in missed if RANK[got] > RANK[case["expected"]] and case["expected"] in (SC, RT)]
    assert len(over) <= 0.10 * sum(1 for c in CASES if c["expected"] in (SC, RT)), f"ordinary over-triaged: {over}"


def _assess(text: str, age: float | None = None):
    return assess(Presentation(text=text, age_years=age))


# (complaint, level a nurse gives, key of the second pass read in it, age)
ORDINARY = [
    ("my chest is a bit achy from all this coughing, breathing fine", SC, "cough_chest_strain", 24),
    ("咳嗽咳得太多了，胸口都有点酸", SC, "cough_chest_strain", 26),
    ("odd twinge in my chest now and then for a couple of months, gone in seconds", RT, "fleeting_chest_twinge", 30),
    ("心口有时候扎一下，几秒钟就好，一个多月了", RT, "fleeting_chest_twinge", 32),
    ("I get puffed going up hills, been like that for a year", RT, "breathless_on_exertion", 58),
    ("上楼就有点气喘，半年多了", RT, "breathless_on_exertion", 64),
    ("can't sleep, interview tomorrow", SC, "situational_stress", 27),
    ("快考试了，晚上睡不着", SC, "situational_stress", 16),
    ("he has a couple of tiny red spots on his cheeks, happy and feeding", SC, "few_spots", 0.5),
    ("脸蛋上起了几个小红点，吃奶精神都好", SC, "few_spots", 0.4),
    ("my psoriasis is playing up again on my elbows", SC, "known_skin_flare", 45),
    ("皮炎又犯了，胳膊上一片", SC, "known_skin_flare", 40),
    ("老茧太厚了，走路硌脚", SC, "foot_corn", 55),
    ("碰到床角，小腿紫了一块", SC, "bruised_knock", 35),
    ("大扫除累的，浑身没劲", SC, "exertion_tiredness", 40),
    ("sprained my wrist on Monday, it's a lot better now", SC, "improving", 25),
    ("扭了脚踝，比昨天好一点了，能走", SC, "improving", 22),
    ("my skin gets dry and flaky in cold weather", SC, "weather_context", 50),
    ("换季的时候皮肤干", SC, "weather_context", 33),
    ("ate too much at dinner, feel bloated", SC, "overeating", 30),
    ("晚饭吃撑了，胃胀", SC, "overeating", 28),
    ("do I need a tetanus booster? last one was 15 years ago", RT, "medication_request", 40),
    ("拍的片子结果出来了，想让医生看一下", RT, "medication_request", 55),
    ("my dad's memory is slowly getting worse", RT, "memory_problem", 79),
    ("鼻孔里流了点血，一会儿就好了", SC, "nosebleed", 20),
    ("头还有点疼，睡一觉好多了", SC, "headache", 30),
    ("腰有些酸痛，坐久了", SC, "back_pain", 33),
    ("肚子有点胀，吃了豆子", SC, "bloating", 25),
    ("例假干净后又有一点出血，不疼", RT, "vaginal_bleeding", 29),
    ("tweaked a muscle in my chest doing bench press, hurts when I twist", SC, "chest_muscle_strain", 23),
    ("练胸的时候胸口肌肉拉伤了", SC, "chest_muscle_strain", 25),
    ("throat feels a bit tickly since yesterday", SC, "sore_throat", 31),
    ("need my INR checked, I'm on warfarin", RT, "medication_request", 66),
    ("a little blood when I blow my nose, the air is so dry", SC, "nosebleed", 36),
    ("鼻涕里带点血丝", SC, "nosebleed", 27),
]


@pytest.mark.parametrize("case", ORDINARY, ids=lambda c: c[0][:40])
def test_ordinary_complaint_in_context_gets_the_nurses_level(case):
    sentence, level, key, age = case
    result = _assess(sentence, age)
    assert key in {f.key for f in result.findings if f.present}, sentence
    assert result.level == level, (sentence, result.level, [r.rule for r in result.reasons])


# Look-alikes: the same words with a red feature stay urgent or emergency (the covered key is still seen by rules).
DANGER = [
    ("chest is sore from coughing and I have a fever of 39 and feel breathless", {UR, EM}, 30),
    ("chest is sore from coughing", {EM}, 55),
    ("chest twinges since this morning", {UR, EM}, 30),
    ("chest twinges on and off for months, now short of breath and sweating", {EM}, 30),
    ("胸口有时候扎一下，今天开始心慌出汗", {UR, EM}, 35),
    ("short of breath on the stairs since yesterday", {UR, EM}, 60),
    ("short of breath on the stairs for months, getting worse", {UR, EM}, 60),
    ("short of breath on the stairs for months and now my calf is swollen on one side", {UR, EM}, 60),
    ("爬楼梯气短，两天了", {UR, EM}, 60),
    ("nervous before my exam and I want to kill myself", {EM}, 17),
    ("明天考试，不想活了", {EM}, 17),
    ("a few spots on his face and a fever, the spots don't fade when pressed", {EM}, 2),
    ("a few spots on my face since starting amoxicillin", {UR, EM}, 30),
    ("my eczema is flaring and weeping with a fever", {UR, EM}, 30),
    ("湿疹又犯了，发烧38.5度", {UR, EM}, 6),
    ("磕到桌角，腿上青了一块", {UR, EM}, 80),
    ("my knee is much better but my calf is swollen and red on one side", {UR, EM}, 30),
    ("my knee is much better but I fell again today and hit my head", {UR, EM}, 70),
    ("孩子鼻子出了好多血，止不住", {EM}, 4),
    ("头有点疼，突然剧烈，一生中最疼", {EM}, 30),
    ("胃有点胀，还吐了，没排气没大便，肚子很疼", {UR, EM}, 30),
    ("天气干燥，喘不上气", {EM}, 30),
    ("tetanus jab after a rusty nail went deep into my foot", {UR, EM}, 30),
    ("被生锈的铁钉扎得很深，要不要打破伤风针", {UR, EM}, 30),
    ("胸片结果出来了，现在胸口很疼，出冷汗", {EM}, 60),
    ("月经中间出血很多，头晕", {UR, EM}, 30),
    ("my dad's memory has been getting worse suddenly since yesterday", {UR, EM}, 80),
    ("tired after moving house and now my chest feels tight", {UR, EM}, 50),
    ("累着了，突然说话不清楚，嘴歪", {EM}, 66),
    ("pulled a muscle in my chest lifting and now crushing chest pain with sweating", {EM}, 30),
    ("pulled a muscle in my chest at the gym", {UR, EM}, 45),
    ("scratchy throat, now I can't swallow my saliva and I'm drooling", {UR, EM}, 30),
    ("on warfarin, blood in my snot and it won't stop", {UR, EM}, 70),
    ("on warfarin, had a small nosebleed this morning", {UR, EM}, 68),
    ("鼻涕里有血，止不住", {UR, EM}, 40),
]


@pytest.mark.parametrize("case", DANGER, ids=lambda c: c[0][:40])
def test_look_alike_with_a_red_feature_stays_urgent_or_emergency(case):
    sentence, allowed, age = case
    assert _assess(sentence, age).level in allowed, sentence


# The urgent side of the pass: lay wordings that were not read at all.
URGENT = [
    ("red swollen hot patch on my arm and I've got a temperature", "skin_infection", 50),
    ("fell off the trampoline, his arm looks a bit crooked", "suspected_fracture", 9),
    ("baby has a temperature of 38.4 and isn't feeding as well as usual", "poor_intake", 0.4),
    ("宝宝发烧38.5度，吃奶没以前好", "poor_intake", 0.5),
    ("stood on a rusty nail in the garden", "deep_wound", 35),
]


@pytest.mark.parametrize("case", URGENT, ids=lambda c: c[0][:40])
def test_urgent_lay_wording_is_read_and_seen_today(case):
    sentence, key, age = case
    result = _assess(sentence, age)
    assert key in {f.key for f in result.findings if f.present}, sentence
    assert result.level in (UR, EM), (sentence, result.level)


def test_harmless_words_inside_longer_ones_are_not_read_as_symptoms():
    assert "runny_nose" not in {f.key for f in _assess("要不要打破伤风针", 30).findings}
    assert "chest_pain" not in {f.key for f in _assess("拍了胸片，结果出来了", 50).findings}
    assert not _assess("天气干燥，手上皮肤干裂", 60).not_understood


def test_every_new_key_has_a_complaint_read_as_it_and_lowers_no_emergency_key():
    raw = yaml.safe_load((DATA_DIR / "lexicon_variants2.yaml").read_text(encoding="utf-8"))
    tested = {c[2] for c in ORDINARY}
    assert {row["key"] for row in raw["symptoms"]} <= tested
    levels = {row["key"]: row["level"] for row in raw["symptoms"]}
    from smartcare.knowledge.triage.text import lexicon

    symptoms = lexicon().symptoms
    for row in raw["symptoms"]:
        assert all(symptoms[k].level != EM for k in row.get("covers", ())), row["key"]
        assert levels[row["key"]] != EM
