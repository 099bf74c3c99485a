"""Everyday primary-care complaints (ICPC-2 symptom rubrics as a checklist) are read and leveled, not over-triaged."""

import pytest
import yaml

from smartcare.knowledge.triage import Presentation, assess, read_text
from smartcare.knowledge.triage.text import DATA_DIR, lexicon

# For each symptom of data/lexicon_primary_care.yaml: an English and a Chinese complaint read as it.
READ_AS = {
    "feeling_unwell": ("I've been feeling unwell all week", "这几天浑身不舒服"),
    "excessive_sweating": ("I sweat too much even when it's cold", "手汗特别严重"),
    "infant_colic": ("our baby has colic every evening", "宝宝肠绞痛，晚上哭"),
    "health_worry": ("I'm worried about cancer because of my family", "我担心得癌"),
    "haemorrhoids": ("I think I have piles", "有痔疮，大便时肛门疼"),
    "anal_itch": ("my son has an itchy bottom at night", "孩子晚上屁股痒"),
    "wind": ("passing a lot of wind lately", "最近老放屁"),
    "bloating": ("I feel bloated after meals", "吃完饭肚子胀"),
    "bowel_habit_change": ("there's been a change in my bowel habit", "最近大便习惯改变了"),
    "jaundice": ("the whites of my eyes are yellow", "眼睛发黄"),
    "dental_problem": ("I have a loose tooth", "牙齿松动"),
    "bad_breath": ("my husband says I have bad breath", "口臭很重"),
    "gradual_vision_change": ("my eyesight is getting worse over the years", "看东西越来越模糊"),
    "dry_eyes": ("my eyes feel dry at the computer", "眼睛干涩"),
    "eyelid_problem": ("I have a stye on my eyelid", "长针眼了"),
    "earwax": ("I think I have earwax in my right ear", "耳屎多，耳朵堵"),
    "varicose_veins": ("varicose veins on my legs", "腿上静脉曲张"),
    "foot_pain": ("heel pain in the morning", "脚后跟疼"),
    "hand_problem": ("my trigger finger keeps locking", "手腕腱鞘炎"),
    "leg_cramps": ("leg cramps at night", "晚上小腿抽筋了"),
    "restless_legs": ("restless legs at night", "晚上不宁腿"),
    "tremor": ("a tremor in my hands", "手一直抖"),
    "smell_taste_loss": ("I've lost my sense of smell", "闻不到味道"),
    "child_development": ("my 2 year old isn't talking yet", "孩子两岁了还不会说话"),
    "child_behaviour": ("my son is a very fussy eater", "孩子挑食"),
    "memory_problem": ("I keep forgetting things", "最近记性差，老忘事"),
    "sleep_problem": ("trouble falling asleep for months", "入睡困难，早醒"),
    "jet_lag": ("jet lag after my flight", "倒时差睡不着"),
    "sexual_problem": ("I have erectile problems", "阳痿"),
    "substance_use": ("I want to stop smoking", "想戒烟"),
    "nosebleed": ("had a nosebleed that stopped", "流鼻血"),
    "sinusitis": ("I think it's sinusitis", "鼻窦炎又犯了"),
    "splinter": ("a splinter in my finger", "手上扎了根刺"),
    "corns_calluses": ("corns on my feet", "脚上长了鸡眼"),
    "nail_problem": ("toenails gone thick and yellow over months", "脚指甲变厚发黄"),
    "hair_loss": ("my hair is falling out", "掉头发"),
    "head_lice": ("my daughter has head lice", "孩子头上有虱子"),
    "appetite_loss": ("I have no appetite", "没胃口"),
    "weight_gain": ("I've been gaining weight", "最近长胖了"),
    "stress_incontinence": ("I leak urine when I cough", "咳嗽就漏尿"),
    "pregnancy_question": ("we've been trying for a baby for a year", "备孕一年了"),
    "emergency_contraception": ("I need the morning after pill", "要买紧急避孕药"),
    "contraception": ("I'd like to talk about contraception", "想上环"),
    "pregnancy_sickness": ("morning sickness", "孕吐"),
    "breastfeeding_problem": ("sore nipples when breastfeeding", "涨奶"),
    "premenstrual": ("bad PMS every month", "经前综合征"),
    "menopause": ("hot flushes", "更年期潮热"),
    "vulvovaginal_problem": ("itchy down below", "下面痒，白带有异味"),
    "breast_problem": ("I found a breast lump", "乳房胀痛"),
    "sexual_health": ("I'd like an STI test", "想查性病"),
    "foreskin_problem": ("my son has a tight foreskin", "包皮过长"),
    "social_problem": ("struggling since the bereavement", "失业了"),
}


def test_every_new_symptom_has_english_and_chinese_sentences_here():
    path = DATA_DIR / "lexicon_primary_care.yaml"
    keys = {row["key"] for row in yaml.safe_load(path.read_text(encoding="utf-8"))["symptoms"]}
    assert keys == set(READ_AS)
    assert keys <= set(lexicon().symptoms)


@pytest.mark.parametrize(("key", "text"), [(k, t) for k, pair in READ_AS.items() for t in pair])
def test_everyday_complaint_is_read_as_its_symptom(key, text):
    assert key in read_text(text).present()


@pytest.mark.parametrize(("text", "level"), [
    ("toenails gone thick and yellow over months", "routine"),
    ("I find it harder to hear the TV these days", "routine"),
    ("我爸最近耳背", "routine"),
    ("I keep forgetting things", "routine"),
    ("heel pain in the morning", "routine"),
    ("晚上小腿抽筋了", "self_care"),
    ("嘴里长了个小白泡", "self_care"),
    ("need a repeat of my tablets", "routine"),
    ("要开病假条", "routine"),
    ("HbA1c result", "routine"),
    ("怀孕24周，问一下糖耐什么时候做", "routine"),
    ("had a nosebleed that stopped", "self_care"),
    ("earwax", "self_care"),
    ("肚子胀", "self_care"),
    ("jet lag", "self_care"),
    ("夜尿多，尿线细", "routine"),
    ("I leak urine when I cough", "routine"),
    ("便密", "self_care"),
])
def test_typical_primary_care_complaint_gets_its_level(text, level):
    assert assess(Presentation(text=text)).level == level


@pytest.mark.parametrize(("text", "key"), [
    ("no hearing loss", "hearing_loss"),
    ("没有耳背", "hearing_loss"),
    ("no nosebleed", "nosebleed"),
    ("没有流鼻血", "nosebleed"),
    ("no jaundice", "jaundice"),
    ("皮肤没有发黄", "jaundice"),
    ("not bloated", "bloating"),
    ("no hair loss", "hair_loss"),
    ("没有脱发", "hair_loss"),
    ("no night sweats", "excessive_sweating"),
])
def test_a_denied_complaint_is_not_present(text, key):
    assert key not in read_text(text).present()


@pytest.mark.parametrize(("text", "key"), [
    ("toenails gone thick and yellow over months", "jaundice"),
    ("can't pee at all", "stress_incontinence"),
    ("can't pee at all", "urinary_symptoms"),
    ("I can't stay awake and I'm drowsy", "sleep_problem"),
    ("孩子突然抽筋了", "leg_cramps"),
    ("he's not talking and won't wake up", "child_development"),
    ("chest pain when I cough", "stress_incontinence"),
    ("I want to cut down on drinking", "wound"),
    ("fallen arches", "fall"),
    ("pain in the ball of my foot", "abdominal_pain"),
    ("my vision went suddenly", "gradual_vision_change"),
    ("突然看不见了", "gradual_vision_change"),
    ("胸口疼", "breast_problem"),
    ("I'm tired of this cough", "sleep_problem"),
])
def test_look_alikes_are_not_read_as_the_new_symptom(text, key):
    assert key not in read_text(text).present()


def test_serious_words_still_win_over_everyday_ones():
    assert assess(Presentation(text="孩子突然抽筋了，口吐白沫")).level == "emergency"
    assert "seizure" in read_text("孩子突然抽筋了").present()
    assert assess(Presentation(text="nosebleed that won't stop bleeding")).level == "emergency"
    assert "pregnancy" in read_text("pregnancy test positive, pain low down on one side").present()
    assert "heart_risk" in read_text("chest pain, trying to quit smoking").present()
    assert assess(Presentation(text="morning after pill")).level == "urgent"
    assert assess(Presentation(text="back pain and suddenly wet myself, numb groin")).level != "routine"
