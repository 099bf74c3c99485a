"""The kinds of emergency the tenth unseen set (holdout10) showed the engine missed, read by kind from
lexicon_safety10.yaml / rules_safety10.yaml: torsion in lay words, caustic and "one pill can kill" ingestions in small
children, hypoglycaemia from a glucose reading in the text with lay words for altered consciousness, intussusception,
a thunderclap headache, and a stop in breathing that is not the pauses of snoring. Each kind is tested with new
wordings in English and Chinese, and with look-alikes that must not be raised (or, the other way, must stay an
emergency). No sentence here is a vignette's own wording."""

import pytest

from smartcare.knowledge.triage import Presentation, assess


def result(text, age=None, sex=None):
    return assess(Presentation(text=text, age_years=age, sex=sex))


def flags(a):
    return {f.key for f in a.red_flags}


EMERGENCIES = [
    # drooling because the child will not (cannot) swallow, with fever: a swelling airway (MTS, NICE CKS Sore throat)
    ("my 3 year old has a high fever, drooling a lot and won't swallow, sitting leaning forward", 3, None),
    ("孩子3岁，发高烧，一直流口水，不肯咽东西，坐着往前趴", 3, None),
    ("my 2 year old won't swallow and is drooling, fever", 2, None),
    # testicular torsion told in slang or with one side (NICE CKS Scrotal pain and swelling)
    ("Woke at 4 with really bad pain in my right ball, came on out of nowhere, been sick once", 15, "male"),
    ("My left nut is killing me since this morning and I feel sick", 16, "male"),
    ("pain in my nuts since lunchtime, really bad", 15, "male"),
    ("one of my balls is swollen and really painful", 17, "male"),
    ("my son's testicle is pulled up high and it hurts", 12, "male"),
    ("儿子13岁，半夜左边蛋蛋突然疼得厉害，还吐了", 13, "male"),
    ("男孩15岁，睾丸突然疼，疼得走不了路", 15, "male"),
    ("下面一侧突然疼，疼得直冒汗", 16, "male"),
    # ovarian torsion: sudden one-sided pelvic pain with vomiting
    ("女，25岁，右下腹突然剧痛，吐了两次", 25, "female"),
    ("Sudden severe pain in my lower left side, I've been sick twice", 28, "female"),
    # a caustic cleaner in a child's mouth (TOXBASE corrosives)
    ("My toddler licked the drain cleaner, he's crying and drooling", 2, None),
    ("My 3 year old bit into a dishwasher tablet, his mouth looks white and he keeps spitting", 3, None),
    ("She had a sip of the toilet cleaner and now she's drooling", 4, None),
    ("孩子3岁，把管道疏通剂喝了一口，一直流口水", 3, None),
    ("宝宝2岁，舔了烤箱清洁剂，嘴巴红了，哭闹不肯咽东西", 2, None),
    # one pill can kill: any amount in a child under 6
    ("My 2 year old may have eaten a couple of grandad's gliclazide, seems absolutely fine", 2, None),
    ("My 18 month old got into his nan's methadone", 1.5, None),
    ("3 year old swallowed one of my amlodipine tablets", 3, None),
    ("2yo swallowed a clonidine tablet from her brother's packet", 2, None),
    ("宝宝1岁半，把爷爷的倍他乐克咬了半片", 1.5, None),
    ("孩子4岁，偷吃了奶奶的降压药硝苯地平一片，现在没事", 4, None),
    ("孩子3岁，吞了一片阿米替林", 3, None),
    # severe hypoglycaemia: a low reading in the text, impaired consciousness in lay words (ADA 2024, JBDS)
    ("Type 1 diabetic, BM 2.1, sweaty and not making much sense", 30, None),
    ("on insulin, her meter reads 2.4, very shaky", 70, "female"),
    ("glucose 45 mg/dl and he's pale", 58, "male"),
    ("dad is on insulin and we can't get him to wake up properly", 79, "male"),
    ("he won't wake up properly and is just mumbling", 50, "male"),
    ("老爸打胰岛素的，叫了半天才醒，血糖1.9", 75, "male"),
    ("奶奶有糖尿病，迷迷糊糊的，说胡话，测了下血糖2.2", 80, "female"),
    ("血糖仪显示2.3，出冷汗，手抖", 55, None),
    # intussusception (APLS): redcurrant-jelly stool, bouts of screaming with the legs drawn up and vomiting
    ("My 9 month old has redcurrant jelly in his nappy", 0.75, None),
    ("11 month old screaming in bouts, pulls his legs up, vomiting and pale", 0.9, None),
    ("宝宝1岁，大便像果酱一样", 1, None),
    ("孩子10个月，阵发性哭闹，哭时腿往肚子上缩，吐了三次，脸色苍白", None, None),
    # thunderclap headache (NICE NG228): maximal at once, worst ever, exploding
    ("Sudden headache, at its worst within seconds, worst ever", 45, None),
    ("My head felt like it exploded while I was lifting weights, then I vomited", 38, None),
    ("worst headache of my life came on while straining on the toilet", 50, None),
    ("头像被人用棍子打了一下一样疼，突然发作", 50, None),
    ("头痛，一下子疼到最厉害", 45, None),
    ("跑步的时候头突然像炸开一样，想吐", 35, None),
    # a baby or an awake person who stops breathing stays an emergency (AAP BRUE 2016)
    ("My baby stops breathing for a few seconds and goes floppy", None, None),
    ("my 3 month old stopped breathing for 20 seconds and went blue", 0.25, None),
    ("宝宝2个月，睡觉时停止呼吸了几秒", 0.17, None),
    ("My dad stopped breathing for a few seconds and is now very drowsy", 80, None),
    ("他刚才不呼吸了", 70, None),
    # numbness that must stay an emergency beside the neuropathy look-alike
    ("Sudden numbness down one side of my body and my face", 60, None),
    ("both legs suddenly went numb after I fell off a ladder", 40, None),
    ("I've had numb feet for months but today suddenly I can't move my legs", 66, None),
    ("两条腿突然发麻，站不起来", 50, None),
]


@pytest.mark.parametrize(("text", "age", "sex"), EMERGENCIES)
def test_kind_is_an_emergency(text, age, sex):
    a = result(text, age, sex)
    assert a.level == "emergency", (text, a.level, [f.key for f in a.findings])


NOT_EMERGENCIES = [
    # snoring with pauses in sleep is sleep apnoea: a routine referral (NICE NG202)
    ("My husband snores like a train and stops breathing for a few seconds in his sleep, then gasps", 55, "male"),
    ("I snore and my partner says I stop breathing for a bit at night, always tired at work", 48, "male"),
    ("老公打呼噜很响，睡觉时停止呼吸几秒钟，白天老犯困", 45, "male"),
    ("打呼噜，睡觉的时候呼吸停一会儿又接上", 50, "male"),
    # numb feet over months in diabetes is neuropathy: a routine review (NICE NG19)
    ("type 2 diabetic, over the last few months both feet have gone numb and tingly", 66, "female"),
    ("my feet have been numb and tingling for a couple of years, diabetic", 60, None),
    ("糖尿病十年，这几个月两只脚慢慢发麻，像穿着袜子", 65, None),
    # "ball" of the foot and sport are not a testicle
    ("kicked the ball and hurt my ankle", 20, "male"),
    ("pain in the ball of my foot when I run", 35, "male"),
    # naming one's own medicine is no ingestion
    ("I take amlodipine, can I take ibuprofen with it?", 60, None),
    ("我吃的是氨氯地平，能和感冒药一起吃吗", 60, None),
    ("My 5 year old takes propranolol for her birthmark, when is the next check?", 5, None),
    # a cleaner that touched the skin or was only used
    ("I cleaned the oven with oven cleaner and my hands are a bit dry", 40, None),
    ("My 2 year old got oven cleaner on his hand, we washed it off, skin looks fine", 2, None),
    # colic: crying in the evening with the legs pulled up, feeding and growing well
    ("baby cries in the evenings, pulls his legs up, feeding well and gaining weight", 0.25, None),
    ("宝宝2个月，每天傍晚哭闹，腿往肚子上缩，吃奶好，体重长得好", 0.17, None),
    # a high glucose is not a hypo; an ordinary headache is not thunderclap
    ("My sugar was 12 this morning, feel fine", 50, None),
    ("血糖12.5，没什么不舒服", 60, None),
    ("I get dull headaches most days, they build up slowly over the afternoon", 35, None),
    ("This is the worst cold ever", 30, None),
    ("头有点疼，慢慢加重，休息一下就好了", 30, None),
]


@pytest.mark.parametrize(("text", "age", "sex"), NOT_EMERGENCIES)
def test_look_alike_is_not_an_emergency(text, age, sex):
    a = result(text, age, sex)
    assert a.level != "emergency", (text, [f.key for f in a.red_flags])


@pytest.mark.parametrize(("text", "age", "flag"), [
    ("My 2 year old got hold of the oven spray and I think he drank some, now drooling", 2, "rf-s10-caustic-ingestion"),
    ("孩子2岁，可能吃了几粒格列本脲，现在看着挺好的，还在玩", 2, "rf-s10-one-pill-child"),
    ("宝宝8个月，拉出来像果酱一样的便便，一阵一阵地哭", None, "rf-s10-intussusception"),
    ("头一下子就疼到最厉害，这辈子没这么疼过", 40, "rf-s10-thunderclap"),
    ("my 6 week old baby stops breathing in her sleep", 0.12, "rf-s10-breathing-stops"),
])
def test_the_kind_names_its_reason(text, age, flag):
    assert flag in flags(result(text, age))


def test_a_low_reading_is_read_as_hypoglycaemia_and_a_high_one_is_not():
    assert "rf-hypoglycaemia" in flags(result("His sugar reads 1.9 and he's sweaty", 77))
    assert "rf-hypoglycaemia" in flags(result("血糖只有1.9，出冷汗", 70))
    assert "rf-hypoglycaemia" not in flags(result("His sugar reads 11.9 today", 77))
    assert "rf-hypoglycaemia" not in flags(result("血糖12.5，没什么不舒服", 60))


def test_sleep_apnoea_is_routine_and_a_toddler_with_pauses_is_not():
    assert result("I snore loudly and stop breathing for a few seconds at night, 40", 40).level == "routine"
    assert result("My 1 year old snores and stops breathing for a few seconds at night", 1).level == "emergency"


@pytest.mark.parametrize("text", ["宝宝8个月，长牙，发烧39.5度，一直睡", "my 8 month old has a fever and has been sleeping all day"])
def test_a_feverish_baby_who_sleeps_all_day_is_seen_today(text):
    # NICE NG143 amber: decreased activity, wakes only with prolonged stimulation.
    assert assess(Presentation(text=text, age_years=0.7)).level in ("urgent", "emergency")
