"""Second round of paraphrases, for the failure patterns of a fourth unseen vignette set: stroke and heart attack in
lay words and metaphors, late-pregnancy euphemisms, indirect suicidal talk, severity words that raise a recognised
symptom, everyday benign complaints, travel read as context (not duration), infants' nappies, findings that are not
there, older people after a fall, and the safety floor for partly understood text. Each pattern has its own sentences,
English and Chinese, and look-alikes that must not fire. Written fresh, not copied from any vignette set."""

import pytest

from smartcare.knowledge.triage import Presentation, assess, read_text
from smartcare.knowledge.triage.rules import rank


def result(text: str, **known):
    return assess(Presentation(text=text, **known))


def flags(text: str, **known) -> set[str]:
    return {f.key for f in result(text, **known).red_flags}


# --- 1. stroke in lay words --------------------------------------------------------------------------------------
STROKE = [
    "all of a sudden Dad can't lift his left arm",
    "she cannot raise her right arm and it came on an hour ago",
    "his words are coming out all mushed up",
    "Mum's speech sounds slurred and thick",
    "my face looks droopy on the left",
    "grandad's arm just went limp at dinner",
    "我爸胳膊突然抬不起来了",
    "奶奶说话含含糊糊的",
    "他嘴角往一边歪",
    "妈妈舌头发硬，讲话含糊",
    "爷爷右手突然使不上劲",
    "his smile has gone lopsided and he can't get his words out right",
    "婆婆一边嘴角耷拉下来了",
    "老爸说话突然不利索了，右手拿不住碗",
]


@pytest.mark.parametrize("text", STROKE)
def test_stroke_in_lay_words_is_an_emergency(text):
    assert "rf-stroke" in flags(text, age_years=70)


@pytest.mark.parametrize("text", [
    "my face is swollen on one side from a bad tooth",
    "I have a bruise on my arm from the door",
    "半边脸肿了，牙龈脓肿",
    "嘴唇上长了疱疹",
    "hurt my knee jumping off the trampoline",
    "I can't lift my arm above my head since I hurt my shoulder at tennis",
])
def test_look_alikes_are_not_a_stroke(text):
    assert "rf-stroke" not in flags(text, age_years=35)


# --- 2. chest pain by metaphor, and no "sweating alone -> self-care" --------------------------------------------
CHEST = [
    "feels like an elephant sitting on my chest and I'm sweating",
    "a heavy weight pressing down on my chest, clammy",
    "like someone is sitting on my chest, drenched in sweat",
    "squeezing in my chest with an ache going down my left arm",
    "pressure on my chest that goes into my jaw, sweaty",
    "胸口像压了块大石头，出了一身冷汗",
    "心口像被攥住一样，满头大汗",
    "胸口发紧，疼到左胳膊，出冷汗",
    "胸口像被箍住，牵到下巴",
    "chest feels like it's in a vice, pain into my left arm",
    "胸口像有块石头压着，左胳膊也疼，出汗",
]


@pytest.mark.parametrize("text", CHEST)
def test_chest_pain_by_metaphor_with_risk_features_is_an_emergency(text):
    assert result(text, age_years=60, sex="male").level == "emergency"


@pytest.mark.parametrize("text", [
    "I'm sweating and my heart feels funny",
    "sweaty, and something is wrong with my chest",
    "出汗，心口说不上来的难受",
    "clammy and my arm is odd",
    "出冷汗，头里面怪怪的",
])
def test_sweating_with_a_part_not_understood_is_never_self_care(text):
    a = result(text, age_years=55)
    assert rank(a.level) >= rank("routine") and a.follow_up
    assert any(r.rule == "partly-read" for r in a.reasons) or rank(a.level) >= rank("urgent")


@pytest.mark.parametrize("text", [
    "sweating a lot at night in this heat, otherwise fine",
    "I sweat a lot at the gym",
    "天太热，出了很多汗，别的都好",
    "a pimple on my chin",
    "hiccups since lunch",
])
def test_benign_text_that_is_fully_read_stays_self_care(text):
    assert result(text, age_years=30).level == "self_care"


def test_nothing_understood_is_urgent():
    assert result("the thing with the stuff again", age_years=40).level == "urgent"


# --- 3. late-pregnancy euphemisms --------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "怀孕36周，下面出血了，肚子疼",
    "孕34周，肚子一阵一阵发紧，下面见血",
    "33 weeks pregnant, bleeding down there and tummy pain",
    "pregnant 35 weeks, blood when I wiped and belly cramps",
    "孕32周，下面流了血，肚子发硬",
])
def test_bleeding_in_late_pregnancy_with_pain_is_an_emergency(text):
    assert result(text, sex="female").level == "emergency"


@pytest.mark.parametrize("text", [
    "怀孕37周，破水了",
    "孕36周，下面一直流水",
    "怀孕35周，肚子一阵一阵发硬",
    "39 weeks and my waters have gone",
    "36 weeks, bump keeps going hard every five minutes",
    "孕38周，羊水流出来了",
])
def test_waters_and_contractions_in_pregnancy_are_at_least_urgent(text):
    a = result(text, sex="female")
    assert rank(a.level) >= rank("urgent")
    assert "waters_broken" in read_text(text).present()


@pytest.mark.parametrize("text", [
    "怀孕38周，孩子不动了",
    "孕32周，今天胎动没了",
    "34 weeks pregnant and the baby has stopped moving",
    "30 weeks pregnant, haven't felt the baby move since yesterday",
    "孕36周，宝宝一天没动静",
    "I'm 29 weeks pregnant and the baby isn't kicking at all today",
    "孕37周，宝宝从昨晚就没动静了",
])
def test_absent_fetal_movements_are_an_emergency(text):
    assert "rf-absent-fetal-movement" in flags(text, sex="female")


@pytest.mark.parametrize("text", [
    "30 weeks pregnant, baby moving well",
    "孕30周，胎动正常",
    "32 weeks pregnant, baby kicking lots",
    "孕28周，胎动挺好的，就是腰酸",
    "my toddler won't stop moving, can't sit still",
])
def test_normal_fetal_movements_do_not_fire(text):
    assert "rf-absent-fetal-movement" not in flags(text, sex="female")


@pytest.mark.parametrize("text", ["孕33周，今天胎动比平时少", "30 weeks pregnant, the baby is not moving much today"])
def test_reduced_but_present_movements_are_urgent_not_absent(text):
    a = result(text, sex="female")
    assert a.level == "urgent" and "rf-absent-fetal-movement" not in {f.key for f in a.red_flags}


# --- 4. indirect suicidal talk -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "I don't want to be here anymore",
    "I keep thinking of jumping off the bridge",
    "everyone would be better without me",
    "she has said goodbye to everyone and given her things away",
    "he's been giving away all his stuff",
    "我不想活了",
    "想从楼上跳下去",
    "觉得活着没意思",
    "他最近在交代后事",
    "没有我大家会更轻松",
    "写了遗书",
    "I just want it all to stop, I have pills ready",
    "she texted that everyone is better off without her",
    "儿子说活着没盼头，想从桥上跳下去",
])
def test_indirect_suicidal_talk_is_an_emergency(text):
    assert "rf-suicide" in flags(text, age_years=30)


@pytest.mark.parametrize("text", [
    "I can't go on holiday next week because of my knee",
    "hurt my ankle jumping off a wall",
    "said goodbye to my friends at the airport and now have a cold",
    "孩子从沙发上跳下来，脚崴了",
    "I'd rather be here than at work, sore throat",
    "I've been thinking of jumping off the sofa to scare my brother",
])
def test_look_alikes_are_not_suicidal(text):
    assert "rf-suicide" not in flags(text, age_years=30)


# --- 5. severity words raise a recognised symptom ----------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "asthma attack and my blue inhaler isn't helping",
    "wheezy, reliever not working, can only say a few words",
    "哮喘发作，喷了药也不管用",
    "哮喘犯了，只能说几个字",
    "wheezing badly and ten puffs of ventolin did nothing",
    "喘得厉害，万托林不管用",
])
def test_asthma_not_relieved_is_an_emergency(text):
    assert result(text, age_years=25).level == "emergency"


@pytest.mark.parametrize("text", [
    "mild asthma, my inhaler is helping",
    "need a new blue inhaler prescription",
    "哮喘，用了喷雾好多了",
    "my inhaler isn't helping my cough",
])
def test_asthma_that_responds_is_not_an_emergency(text):
    assert result(text, age_years=25).level != "emergency"


@pytest.mark.parametrize("text", [
    "88 year old writhing with tummy pain, vomiting, no poo or wind for 2 days",
    "老人肚子疼得打滚，吐，不排气不排便",
    "stomach pain and throwing up, hasn't passed wind since yesterday",
    "腹痛，呕吐，两天没大便没放屁",
    "belly pain, vomiting, not opened bowels and not passing wind",
])
def test_abdominal_pain_vomiting_and_no_stool_or_wind_is_an_emergency(text):
    assert "rf-bowel-obstruction" in flags(text, age_years=80)


def test_constipation_alone_is_not_bowel_obstruction():
    assert "rf-bowel-obstruction" not in flags("a bit constipated, no pain, no vomiting", age_years=70)


# --- 6. everyday benign complaints -------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "I have a bruise on my leg",
    "loose stools twice today, otherwise fine",
    "I've had hiccups for an hour",
    "my baby is teething",
    "a mouth ulcer on my tongue",
    "lots of mosquito bites on my legs",
    "eaten alive by mosquitoes last night",
    "mild sunburn on my shoulders",
    "sunburnt shoulder",
    "a pimple on my chin",
    "dry skin on my hands",
    "a cold sore on my lip",
    "腿上有块淤青",
    "今天拉了两次稀",
    "打嗝打了一个小时",
    "口腔溃疡",
    "被蚊子咬了好多包",
    "脸上长了个痘痘",
    "皮肤干燥",
    "嘴唇上长了疱疹",
])
def test_everyday_complaints_are_self_care(text):
    a = result(text, age_years=0.7 if "teething" in text else 30)
    assert a.level == "self_care", (text, a.level)


# --- 7. travel is context, not duration --------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "fever, back from Nigeria a week ago",
    "got back from Africa 10 days ago and now I have a temperature",
    "从东南亚回来一周，发烧",
    "上周从非洲回来，现在发烧",
    "high temperature since yesterday, I was in Ghana for work last month",
    "去肯尼亚出差回来两周，今天开始发热",
])
def test_fever_after_travel_to_a_malaria_area_is_urgent(text):
    a = result(text, age_years=35)
    assert a.level == "urgent" and any(r.rule == "rl-malaria-travel-fever" for r in a.reasons)


@pytest.mark.parametrize("text, days", [
    ("fever, back from Nigeria a week ago", None),
    ("从东南亚回来一周，发烧", None),
    ("sore throat since yesterday, got back from holiday two weeks ago", 1.0),
    ("got back from a trip 3 weeks ago, cough for 2 days", 2.0),
    ("出差回来一个月了，咳嗽三天", 3.0),
])
def test_a_span_of_time_about_the_journey_is_not_the_duration(text, days):
    assert read_text(text).duration_days == days


@pytest.mark.parametrize("text", ["back from Thailand last week, mild sunburn",
                                  "hay fever, sneezing, back from Spain a week ago"])
def test_travel_without_fever_is_not_raised(text):
    a = result(text, age_years=30)
    assert a.level == "self_care" and "sprain" not in read_text(text).present()


# --- 8. nappies and reassurances ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "my baby's nappies are drier than usual and he has diarrhoea",
    "fewer wet nappies, not drinking much",
    "宝宝尿布比平时干，拉肚子",
    "尿不湿一上午都是干的，吐了两次",
    "hardly any wet nappies today and vomiting",
])
def test_dry_nappies_in_an_infant_are_urgent(text):
    a = result(text, age_years=0.7)
    assert "dehydration" in read_text(text).present() and rank(a.level) >= rank("urgent")


@pytest.mark.parametrize("text", [
    "runny nose, but can eat and drink and is playing normally",
    "slight cough, eating and drinking well",
    "流鼻涕，能吃能喝，精神好",
    "有点咳嗽，吃喝正常，玩得挺好",
    "sneezing, otherwise well",
])
def test_reassurances_raise_nothing(text):
    assert result(text, age_years=4).level == "self_care"


# --- 9. findings that are not there ------------------------------------------------------------------------------
def test_dental_swelling_is_urgent_dental_infection_not_stroke():
    for text in ("my face is swollen on one side from a bad tooth", "牙疼三天，半边脸肿了"):
        a = result(text, age_years=30)
        assert a.level == "urgent" and "rf-stroke" not in {f.key for f in a.red_flags}, text


def test_mosquitoes_are_not_abdominal_pain_and_sunburn_not_joint_pain():
    assert "abdominal_pain" not in read_text("eaten alive by mosquitoes last night").present()
    assert "joint_pain" not in read_text("sunburnt shoulder").present()


@pytest.mark.parametrize("text", [
    "38 weeks pregnant, both ankles a bit swollen at the end of the day",
    "孕36周，两只脚有点肿，晚上明显",
    "35 weeks, both my feet swell up in the evening",
])
def test_both_ankles_swelling_in_late_pregnancy_is_not_a_clot(text):
    a = result(text, sex="female")
    assert not any(r.rule == "rl-dvt" for r in a.reasons)


@pytest.mark.parametrize("text", [
    "30 weeks pregnant, my left calf is swollen and painful",
    "孕30周，左腿肿，小腿疼",
])
def test_one_painful_leg_in_pregnancy_is_still_a_clot_concern(text):
    a = result(text, sex="female")
    assert any(r.rule == "rl-dvt" for r in a.reasons) and rank(a.level) >= rank("urgent")


# --- 10. older people after a fall, and vague decline ------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "fell yesterday and my ribs hurt when I cough",
    "had a fall on the stairs, now my side hurts when I breathe in",
    "昨天摔了一跤，咳嗽时肋骨疼",
    "老人摔倒后胸口一碰就疼",
    "slipped in the bathroom, hip is sore",
])
def test_older_person_after_a_fall_is_urgent(text):
    assert rank(result(text, age_years=80).level) >= rank("urgent")


@pytest.mark.parametrize("text", [
    "Mum is not herself, off her food and more sleepy",
    "grandad is more confused than usual today",
    "奶奶这两天糊涂了，老是犯困",
    "外公突然认不出人",
    "she is much drowsier than normal and muddled",
])
def test_new_confusion_or_drowsiness_in_an_older_person_is_at_least_urgent(text):
    assert rank(result(text, age_years=85).level) >= rank("urgent")
