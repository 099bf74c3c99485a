"""The kinds of emergency the eleventh unseen set (holdout11) showed the engine missed, read by kind from
lexicon_safety11.yaml / rules_safety11.yaml and the tablet count of text.py: a paracetamol (or other) overdose counted
in tablets per day in someone who feels well, a head injury on a blood thinner with vomiting or sleepiness in
non-native English, a fit of five minutes or more (抽筋 in a small child, 反映 for 反应), a board-like belly, and an
infant with several signs of severe dehydration. Each kind is tested with new wordings in English and Chinese and with
look-alikes that must not be raised; and the two misreadings fixed the other way (37.4 asked about in a newborn, a
coin-sized blister on the palm) beside the look-alikes that must stay emergencies. No sentence here is a vignette's
own wording."""

import pytest

from smartcare.knowledge.triage import Presentation, assess
from smartcare.knowledge.triage.text import read


def result(text, age=None, sex=None):
    return assess(Presentation(text=text, age_years=age, sex=sex))


def flags(a):
    return {f.key for f in a.red_flags}


EMERGENCIES = [
    # paracetamol overdose by count, however the person feels (TOXBASE, MHRA 2012: >= 75 mg/kg in 24 h)
    ("took about 16 panadol this morning, feel ok tbh", 24, "rf-s11-paracetamol-overdose"),
    ("i took like 20 paracetemol last nite, dont feel anything", 19, "rf-s11-paracetamol-overdose"),
    ("swallowed 2 packets of paracetamol at lunchtime", 30, "rf-s11-paracetamol-overdose"),
    ("been taking 12 paracetamol a day for my toothache", 40, "rf-s11-paracetamol-overdose"),
    ("she has taken 24 co-codamol over the day", 45, "rf-s11-paracetamol-overdose"),
    ("my 3 year old ate 2 of my paracetamol tablets", 3, "rf-s11-paracetamol-overdose"),
    ("吃了二十片扑热息痛，现在没什么感觉", 22, "rf-s11-paracetamol-overdose"),
    ("昨天晚上吃了一板泰诺林，今天感觉还行", 18, "rf-s11-paracetamol-overdose"),
    ("孩子4岁，偷吃了3片对乙酰氨基酚", 4, "rf-s11-paracetamol-overdose"),
    ("took 15 sertraline an hour ago", 28, None),
    ("吃了十几片安眠药", 35, None),
    # head injury on a blood thinner, vomiting or sleepy (NICE NG232)
    ("my wife 68, she take rivaroxaban, she fall and knock the head, now she want sleep all the time", 68, None),
    ("on xarelto, fell and hit head on the table, seems ok", 58, None),
    ("dad fell, head hit the floor, he's on clexane injections", 60, None),
    ("he hit the head yesterday and today he is very sleepy", 40, "rf-s11-head-injury-drowsy"),
    ("他吃华法林，摔了一跤头着地，现在老想睡觉", 75, None),
    ("孩子从床上掉下来头磕到地上，现在一直想睡觉", 3, "rf-s11-head-injury-drowsy"),
    # status epilepticus: five minutes or more, not stopping, not waking (NICE NG217, APLS)
    ("my son has been fitting for over 5 mins and it won't stop", 7, "rf-s11-status-epilepticus"),
    ("she's been shaking and jerking for ten minutes", 30, "rf-s11-status-epilepticus"),
    ("seizure won't stop, he has epilepsy", 25, "rf-s11-status-epilepticus"),
    ("宝宝抽筋了，叫她没反映", 1, "rf-s11-status-epilepticus"),
    ("孩子2岁发烧抽风，抽了七八分钟了", 2, "rf-s11-status-epilepticus"),
    ("老公癫痫发作，抽搐十几分钟还没停", 40, "rf-s11-status-epilepticus"),
    ("孩子抽筋", 2, "rf-s11-status-epilepticus"),
    # a rigid belly (MTS peritonism)
    ("my belly is rock hard and it hurts so much", 50, None),
    ("stomach pain and my tummy is hard as a board", 45, "rf-s11-rigid-abdomen"),
    ("肚子疼得受不了，肚子硬得像石头一样", 60, "rf-s11-rigid-abdomen"),
    ("胃疼了一晚上 肚子梆硬的跟铁板似的", 55, "rf-s11-rigid-abdomen"),
    ("RIF pain with guarding and rebound", 22, None),
    # severe dehydration in an infant (NICE CG84 red flags, WHO IMCI)
    ("my 8 month old has had diarrhoea all day, no wet nappy all day and her eyes look sunken", 0.7, None),
    ("baby 6 months vomiting, crying with no tears and the soft spot is sunken", 0.5, None),
    ("宝宝10个月 上吐下泻 眼睛凹下去了 哭也没有泪", 0.8, None),
    ("孩子1岁半 拉稀 尿不湿十几个小时都是干的 哭起来没眼泪", 1.5, None),
    # look-alikes that must stay emergencies beside the misreadings fixed
    ("my 3 week old's temperature is 38.2, is that a fever?", 0.06, "rf-infant-fever"),
    ("宝宝20天，体温38.5，这算发烧吗", 0.05, "rf-infant-fever"),
    ("burnt the whole of my palm and fingers, big blisters, bigger than my hand", 30, "rf-serious-burn"),
    ("burnt all the way round my finger with a blister the size of a 10p", 30, "rf-serious-burn"),
]


@pytest.mark.parametrize(("text", "age", "flag"), EMERGENCIES)
def test_kind_is_an_emergency(text, age, flag):
    a = result(text, age)
    assert a.level == "emergency", (text, a.level, [f.key for f in a.findings])
    if flag:
        assert flag in flags(a), (text, flags(a))


NOT_EMERGENCIES = [
    # a normal dose of paracetamol, a regimen, a question, a count spread over days
    ("took 2 paracetamol for a headache 4 hours ago", 30),
    ("how many paracetamol can I take in a day?", 30),
    ("吃了两片扑热息痛，头还是有点疼", 30),
    ("这五天一共吃了十片布洛芬，牙还疼", 35),
    ("took 8 paracetamol over the last 2 days for my back", 40),
    # a head knock without a blood thinner or danger sign; sleepy without a head injury
    ("hit my head on the cupboard door, small bump, no other problems", 30),
    ("孩子头磕到桌子角，起了个包，玩得挺好", 4),
    ("I'm sleepy all the time since the new baby", 32),
    ("on clopidogrel, can I take ibuprofen for my knee?", 60),
    # cramps are not fits; smoking for five minutes is no fit
    ("腿抽筋5分钟了还没好", 50),
    ("小腿肚子抽筋十分钟", 45),
    ("calf cramp for 5 minutes last night, fine now", 40),
    ("他抽烟抽了十分钟", 40),
    # a hard belly without pain, constipation; hard as a board about a bed or muscles
    ("宝宝3个月，三天没拉，肚子有点胀，吃奶好", 0.25),
    ("the hotel bed was hard as a board and my back aches", 40),
    ("大便硬得像石头，好几天没拉了", 30),
    # dehydration with one mild sign, an adult with no tears (dry eyes)
    ("my 2 year old has diarrhoea, still drinking, a few less wet nappies", 2),
    ("my eyes are dry, no tears when I cry", 45),
    # the misreadings fixed: a newborn's normal temperature asked about, a coin-sized blister on the palm
    ("my 3 week old baby is 37.4 under the arm and feeding well, is that a fever?", 0.06),
    ("宝宝18天，腋下37.3度，吃奶好，这算发烧吗", 0.05),
    ("burnt my palm on the kettle, blister the size of a 5p, stings", 30),
    ("手心被锅烫了，起了个黄豆大小的水泡", 30),
    # heavy periods over months are routine (not soaking a pad an hour)
    ("periods heavy and painful for months, not dizzy", 38),
]


@pytest.mark.parametrize(("text", "age"), NOT_EMERGENCIES)
def test_look_alike_is_not_an_emergency(text, age):
    a = result(text, age)
    assert a.level != "emergency", (text, [f.key for f in a.red_flags])


def test_a_small_blister_on_the_palm_is_seen_today_and_a_newborn_asked_about_is_not_sent_in():
    assert result("burnt my palm on the oven door, blister about the size of a 10p, really stings", 32).level == "urgent"
    assert result("my 2 week old's temp is 37.2, feeding well, is that a fever?", 0.04).level == "self_care"


def test_a_head_knock_on_clopidogrel_is_seen_today():
    assert result("on clopidogrel, bumped my head on a shelf, feel ok", 55).level == "urgent"


@pytest.mark.parametrize(("text", "count"), [
    ("took like 30 paracetomol 4 hrs ago", 30),
    ("swallowed 2 packets of panadol", 32),
    ("took 3 or 4 tablets of paracetamol", 4),
    ("took 20 paracetamol over 2 days", 10),
    ("been taking 12 paracetamol a day", 12),
    ("吃了十几片对乙酰氨基酚", 12),
    ("吃了两板安眠药", 20),
    ("这三天一共吃了二十片布洛芬", 6.7),
    ("paracetamol x 24", 24),
])
def test_the_reader_counts_tablets_taken_in_a_day(text, count):
    assert read(text).tablets_taken == count


@pytest.mark.parametrize("text", ["I take 12 tablets a day for my heart", "how many paracetamol can I take",
                                  "我每天吃三种药", "took the dog for a walk 20 minutes"])
def test_a_regimen_or_a_question_is_no_count_of_tablets_taken(text):
    assert read(text).tablets_taken is None


@pytest.mark.parametrize(("text", "emergency"), [
    ("periods really heavy n painful for about a year, changing pad every 2 hrs on heavy days, not dizzy", False),
    ("I have to change my pad every hour", True),
    ("going through a pad in an hour since this morning", True),
    ("soaking through a pad every half hour", True),
])
def test_soaking_a_pad_an_hour_is_heavy_bleeding_and_every_two_hours_is_not(text, emergency):
    # RCOG Green-top 63 / MTS: soaking a pad in an hour or less is heavy; every two hours is a heavy period.
    got = assess(Presentation(text=text, age_years=30, sex="female"))
    assert (got.level == "emergency") is emergency, [r.rule for r in got.reasons]
