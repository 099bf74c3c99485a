"""Paraphrases of the failure patterns an unseen vignette set found: red flags in unfamiliar words (English colloquial,
clinical shorthand, Chinese colloquial and clinical), findings combined across clauses, benign and administrative
complaints recognised instead of defaulting to urgent, and misreadings that over-triaged. Written fresh for each
pattern, in other words than the engine's own vignettes."""

import pytest

from smartcare.knowledge.triage import Presentation, assess


def level(text: str, **known) -> str:
    return assess(Presentation(text=text, **known)).level


def red_flags(text: str, **known) -> set[str]:
    return {f.key for f in assess(Presentation(text=text, **known)).red_flags}


BLEEDING = [
    "cut my hand on a broken glass and the blood keeps spurting out",
    "there's blood pumping out of his thigh with every heartbeat",
    "the cut on her wrist just won't stop bleeding even with a towel pressed on it",
    "bleeding has soaked through the bandage and it does not stop",
    "arterial bleed from a lawnmower injury",
    "切菜切到手指，血往外喷",
    "腿被铁片划开，血一直往外冒，按不住",
    "伤口流血止不住，毛巾都湿透了",
    "头皮破了，血哗哗地流，怎么压都止不住",
    "喷射状出血，前臂割伤",
]
SUICIDAL = [
    "I don't really want to be alive any more",
    "my son says he has been thinking about how he'd end it",
    "honestly my family would be better off without me",
    "I wish I was dead",
    "she told me she wants to end things tonight",
    "pt with suicidal thoughts, has a plan",
    "我真的不想活下去了",
    "活着太累了，想一死了之",
    "他说想去跳楼",
    "最近总想着自我了断",
    "觉得活着没有意义，想结束自己",
]
GI_BLEEDING = [
    "threw up a load of blood this morning",
    "my vomit had blood in it and looked like coffee grounds",
    "my poo has been jet black and sticky like tar for two days",
    "black tarry stools since yesterday",
    "melaena x2 today",
    "早上吐了一口血",
    "呕吐物里有血",
    "这两天大便发黑，像柏油一样",
    "拉的屎是黑色的",
    "解黑便三次",
]
CHILD_POISONING = [
    "my 2 year old drank some bleach from under the sink",
    "toddler got into the dishwasher tablets and swallowed one",
    "my daughter swallowed a button battery",
    "he chewed a laundry pod",
    "kid sipped some antifreeze from the garage",
    "孩子偷喝了84消毒液",
    "3岁宝宝误服了洗衣液",
    "小孩喝了半瓶洁厕灵",
    "儿子把爷爷的降压药吃了一把",
    "宝宝咬破了洗衣凝珠吃了一些",
]
CHOKING_BLUE = [
    "my toddler is choking on a grape and going blue",
    "child choking, face turning purple",
    "my son was eating popcorn and now he can't breathe",
    "baby choked on a piece of apple and her lips are blue",
    "孩子吃花生米噎住了，脸憋得发紫",
    "宝宝吃果冻噎着了，喘不上气",
    "小孩被糖卡住了，憋得说不出话",
    "孩子吃东西呛着了，脸色发青",
    "吃饭时噎住了，脸都紫了",
]
STROKE_ZH = [
    "爷爷吃饭时突然拿不住筷子",
    "妈妈说话含含糊糊的，嘴巴有点歪",
    "奶奶早上起来嘴角歪了",
    "爸爸突然一边脸麻，说话不利索",
    "老伴右边手脚没劲，拿不稳东西",
    "他口眼歪斜半小时了",
    "my dad's face has dropped on one side",
    "she can't hold a cup with her right hand and her speech is slurred",
    "his smile looks lopsided all of a sudden",
]
SPINAL = [
    "he fell off the scaffolding and can't feel his legs",
    "fell down the stairs, now she cannot move her legs",
    "came off a horse, no feeling in his legs",
    "dived into a shallow pool and can't move his legs",
    "从二楼掉下来，腿没有知觉了",
    "工地上从高处摔下，下肢不能动",
    "摔了一跤后腰疼，两条腿动不了",
    "出了车祸，下半身没知觉",
]
ACS = [
    ("my chest is tight and my left arm feels heavy", {"age_years": 56}),
    ("there's a tight band around my chest and my arm is heavy", {"age_years": 61}),
    ("heavy feeling in the chest with tingling down the left arm", {"age_years": 48}),
    ("chest heaviness and left arm heaviness for 30 minutes", {"age_years": 67}),
    ("胸口发紧，左胳膊发沉", {"age_years": 60}),
    ("心口压得慌，左手臂沉沉的", {"age_years": 55}),
    ("胸口闷得慌，左手发麻", {"age_years": 58}),
    ("胸口发沉，胳膊也沉", {"age_years": 63}),
]
ECTOPIC = [
    ("I'm 7 weeks pregnant with pain low down on the right side and I feel faint", {}),
    ("6 weeks pregnant, one-sided pelvic pain and lightheaded", {}),
    ("early pregnancy, sharp stabbing pain lower left side, dizzy", {}),
    ("period is 2 weeks late, pain low on one side and I nearly fainted", {"sex": "female", "age_years": 27}),
    ("怀孕7周，左下腹一侧疼，头晕", {}),
    ("停经六周，小腹一边疼，差点晕倒", {}),
    ("孕6周，右下腹痛，眼前发黑头晕", {}),
    ("早孕，下腹一侧痛得厉害，头很晕", {}),
]


@pytest.mark.parametrize("text", BLEEDING)
def test_spurting_or_unstoppable_bleeding_is_an_emergency(text):
    assert level(text) == "emergency"
    assert "rf-severe-bleeding" in red_flags(text) or red_flags(text)


@pytest.mark.parametrize("text", SUICIDAL)
def test_suicidal_thoughts_in_plain_words_are_an_emergency(text):
    assert level(text) == "emergency"


@pytest.mark.parametrize("text", GI_BLEEDING)
def test_vomited_blood_and_black_tarry_stools_are_an_emergency(text):
    assert level(text, age_years=50) == "emergency"
    assert "rf-gi-bleeding" in red_flags(text, age_years=50)


@pytest.mark.parametrize("text", CHILD_POISONING)
def test_a_child_who_swallowed_a_household_chemical_is_an_emergency(text):
    assert level(text, age_years=3) == "emergency"


@pytest.mark.parametrize("text", CHOKING_BLUE)
def test_a_choking_child_turning_blue_is_an_emergency(text):
    assert level(text, age_years=4) == "emergency"


@pytest.mark.parametrize("text", STROKE_ZH)
def test_stroke_signs_in_everyday_words_are_an_emergency(text):
    assert level(text, age_years=70) == "emergency"
    assert "rf-stroke" in red_flags(text, age_years=70)


@pytest.mark.parametrize("text", SPINAL)
def test_cannot_feel_or_move_the_legs_after_an_injury_is_an_emergency(text):
    assert level(text, age_years=35) == "emergency"


@pytest.mark.parametrize(("text", "known"), ACS)
def test_tight_chest_with_a_heavy_arm_is_the_heart_attack_rule(text, known):
    assert "rf-chest-pain-risk" in red_flags(text, **known)


@pytest.mark.parametrize(("text", "known"), ECTOPIC)
def test_early_pregnancy_one_sided_pain_and_faintness_is_an_emergency(text, known):
    assert "rf-possible-ectopic" in red_flags(text, **known)


BENIGN = [
    ("ringing in my ears on and off for a month", "routine"),
    ("耳朵嗡嗡响好几个星期了", "routine"),
    ("tinnitus both ears for months", "routine"),
    ("my period is a week late, no pain and no bleeding", "routine"),
    ("例假推迟了一周，肚子不疼也没出血", "routine"),
    ("月经晚了十来天", "routine"),
    ("my fingers are stiff first thing in the morning", "routine"),
    ("早上起来手指关节僵硬", "routine"),
    ("morning stiffness in my knees", "routine"),
    ("my wife says I snore really loudly", "routine"),
    ("睡觉打鼾特别响", "routine"),
    ("老公打呼噜很厉害", "routine"),
    ("I'm due my routine antenatal check", "routine"),
    ("我要去做常规产检", "routine"),
    ("need a prescription renewal for my inhaler", "routine"),
    ("I've run out of my thyroid tablets and need a repeat", "routine"),
    ("降压药快吃完了，想来续药", "routine"),
    ("need a sick note for work", "routine"),
    ("想开个健康证", "routine"),
    ("my legs are really sore after running a half marathon yesterday", "self_care"),
    ("calves aching from the gym", "self_care"),
    ("爬山后腿酸", "self_care"),
    ("健身完肌肉酸痛", "self_care"),
    ("bumped my head on the kitchen cupboard, no headache, feel fine", "self_care"),
    ("头磕了一下柜门，没晕也没吐，现在没事", "self_care"),
    ("lots of dandruff lately", "self_care"),
    ("头皮屑特别多", "self_care"),
]


@pytest.mark.parametrize(("text", "expected"), BENIGN)
def test_benign_and_routine_complaints_are_recognised_not_left_urgent(text, expected):
    assert level(text, age_years=35) == expected


COMBINED = [
    ("fell off my bike onto my wrist and now it looks bent", "urgent"),
    ("tripped and landed on my arm, it's at a funny angle and swollen", "urgent"),
    ("摔倒时手撑地，手腕变形了", "urgent"),
    ("rolled my ankle playing football and can't walk on it", "urgent"),
    ("崴了脚，脚不能着地", "urgent"),
    ("sprained my ankle and can't put any weight on it", "urgent"),
    ("cough and a temperature of 38.4", "routine"),
    ("coughing for two days with fever 38.2", "routine"),
    ("咳嗽两天，发烧38.3度", "routine"),
    ("cough, fever 38.4 and now I'm short of breath", "urgent"),
    ("咳嗽发烧39.5度", "urgent"),
    ("painful swollen lump beside my anus and I have a fever", "urgent"),
    ("肛门旁边长了个包，很痛，还发烧38.5", "urgent"),
    ("肛周脓肿，发热", "urgent"),
    ("boil near my bottom, really painful, feverish 38.6", "urgent"),
]


@pytest.mark.parametrize(("text", "expected"), COMBINED)
def test_findings_are_combined_across_clauses(text, expected):
    assert level(text, age_years=30) == expected


def test_arm_pain_with_deformity_after_injury_is_not_self_care():
    assert level("arm hurts after a fall and it looks deformed", age_years=40) == "urgent"


MISREADINGS = [
    ("toothache and can't open my mouth wide", "urgent"),
    ("牙疼，嘴张不大", "urgent"),
    ("智齿发炎，嘴巴张不开", "urgent"),
    ("rubbed a blister on my heel from new shoes", "self_care"),
    ("脚上磨了个水泡", "self_care"),
    ("runny nose and sneezing, I'm 20 weeks pregnant", "self_care"),
    ("怀孕了，有点流鼻涕打喷嚏", "self_care"),
]


@pytest.mark.parametrize(("text", "expected"), MISREADINGS)
def test_misreadings_no_longer_over_triage(text, expected):
    assert level(text, age_years=28) == expected
    assert "rf-stroke" not in red_flags(text, age_years=28)


@pytest.mark.parametrize("text", ["chest hurts when I cough, fever 38.5 and cough for three days",
                                  "咳嗽的时候胸口疼，发烧38.6度，咳了三天"])
def test_chest_pain_from_coughing_with_fever_is_not_the_heart_attack_rule(text):
    found = assess(Presentation(text=text, age_years=45))
    assert found.level == "urgent"
    assert "rf-chest-pain-risk" not in {f.key for f in found.red_flags}


def test_chest_pain_from_coughing_still_an_emergency_with_danger_signs():
    assert level("chest hurts when I cough, fever 38.5, sweating and can't breathe", age_years=45) == "emergency"


@pytest.mark.parametrize("text", [
    "胸口不疼，有点咳嗽", "my chest is not tight, just a runny nose", "大便不黑，有点拉肚子",
    "I want to live, I just feel a bit low", "fish bone stuck in my throat, breathing fine",
    "鱼刺卡在嗓子里，呼吸正常", "no blood spurting, a small graze on my knee",
    "chest infection and sore throat", "back pain and a chest infection", "ate a handful of sunflower seeds, tummy ache",
    "晚上天黑后小便疼", "呕吐后喝了点咖啡", "vomited after my blood test", "at the end it hurts more when I pee",
    "sprained thumb, can't grip", "胸口不闷，就是有点咳", "my period is late",
])
def test_negated_or_harmless_wordings_raise_no_red_flag(text):
    assert level(text, age_years=30) != "emergency"


MORE = [
    ("I can't get the bleeding to stop from my leg wound", {}, "emergency"),
    ("there's blood squirting from the cut on his wrist", {}, "emergency"),
    ("血止都止不住，伤口很深", {}, "emergency"),
    ("I've been thinking life isn't worth it and I've got pills saved up", {}, "emergency"),
    ("I just want to disappear and never wake up", {}, "emergency"),
    ("我觉得自己活着是多余的", {}, "emergency"),
    ("I have been passing black sticky poo", {"age_years": 60}, "emergency"),
    ("今天吐了两次血", {}, "emergency"),
    ("便便是黑色的，还头晕", {}, "emergency"),
    ("my kid drank some drain cleaner", {"age_years": 4}, "emergency"),
    ("宝宝把洗洁精喝了", {"age_years": 2}, "emergency"),
    ("孩子吃葡萄噎住了，脸发紫", {"age_years": 3}, "emergency"),
    ("爷爷左手拿不住碗", {"age_years": 80}, "emergency"),
    ("外婆突然半边脸发麻", {"age_years": 75}, "emergency"),
    ("he fell 4 metres off a ladder and can't feel his feet", {"age_years": 40}, "emergency"),
    ("骑电动车摔了，腿没知觉", {"age_years": 40}, "emergency"),
    ("pressure in my chest and my left arm is heavy and tingly", {"age_years": 59}, "emergency"),
    ("胸口像压了块石头，左臂发沉", {"age_years": 66}, "emergency"),
    ("8 weeks pregnant, pain in my right lower tummy, feel like fainting", {}, "emergency"),
    ("怀孕两个月，一侧小肚子剧痛，头晕眼花", {}, "emergency"),
    ("buzzing in my ears since the concert last week", {"age_years": 25}, "routine"),
    ("I snore and my partner says I stop breathing at night", {"age_years": 50}, "routine"),
    ("legs aching after a long hike", {"age_years": 30}, "self_care"),
    ("倒立后头碰了一下地，没事", {"age_years": 30}, "self_care"),
    ("手腕摔了以后看着歪了", {"age_years": 30}, "urgent"),
    ("牙龈肿，嘴张不开，发烧", {"age_years": 30}, "urgent"),
    ("coughing a lot, chest sore from coughing, temp 38.3", {"age_years": 50}, "urgent"),
    ("my 6 week pregnant wife has a cold and a runny nose", {}, "self_care"),
]


@pytest.mark.parametrize(("text", "known", "expected"), MORE)
def test_more_wordings_of_the_same_patterns(text, known, expected):
    assert level(text, **known) == expected
