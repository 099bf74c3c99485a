"""The self-care coverage pass (data/lexicon_self_care.yaml): benign, self-limiting complaints and reassuring words are
read (EN and ZH, our own wording) so they are not over-triaged by the "nothing recognised" or "partly read" defaults,
while red-flag look-alikes stay emergencies and babies under 3 months are never reassured."""

import pytest

from smartcare.knowledge.triage import Presentation, assess, text

NEW_KEYS = ("nappy_rash", "newborn_skin", "threadworms", "swimmers_ear", "sticky_eyelids", "subconjunctival_haemorrhage",
            "muscle_strain", "short_term_sleeplessness", "hypnic_jerk", "vasovagal_trigger", "extra_dose_low_risk",
            "extra_dose_bp_tablet")

BENIGN = [
    ("I've got a cold, runny nose and sneezing, otherwise fine", 'self_care', None),
    ('感冒了，流鼻涕打喷嚏，能吃能喝', 'self_care', None),
    ('sore throat for two days, no fever, swallowing is fine', 'self_care', None),
    ('嗓子疼两天了，不发烧，吃东西咽得下', 'self_care', None),
    ('dry cough left over from a cold last week, no fever, breathing fine', 'self_care', None),
    ('感冒以后干咳三天了，不发烧，不喘', 'self_care', None),
    ('blocked nose and my cheeks feel full and achy after a cold', 'self_care', None),
    ('感冒以后鼻子堵，脸颊发胀，鼻涕黄', 'self_care', None),
    ('itchy ear canal after swimming, a bit sore when I pull the ear', 'self_care', None),
    ('游泳以后耳朵里痒，拉耳朵有点疼', 'self_care', None),
    ('crusty eyelashes stuck together in the morning, no pain, vision normal', 'self_care', None),
    ('早上睫毛粘在一起，眼睛黏糊糊的，不疼，看东西正常', 'self_care', None),
    ("burst a blood vessel in my eye, a red patch, doesn't hurt, vision normal", 'self_care', None),
    ('眼白上有一块红，不疼不痒，看东西没问题', 'self_care', None),
    ('I have a stye on my eyelid', 'self_care', None),
    ('眼皮上长了个针眼', 'self_care', None),
    ('painless lump on my eyelid for weeks, a chalazion I think', 'self_care', None),
    ('mouth ulcer on my tongue for three days', 'self_care', None),
    ('嘴里长了个溃疡，三天了', 'self_care', None),
    ('cold sore on my lip again, I get them a couple of times a year', 'self_care', None),
    ('嘴唇上又起疱疹了，每年都会有一两次', 'self_care', None),
    ('my baby is teething and chewing everything, feeding fine', 'self_care', 1.0),
    ('宝宝在长牙，流口水，吃奶正常', 'self_care', 1.0),
    ("nappy rash on his bottom, red but he's happy and feeding fine", 'self_care', 1.0),
    ('宝宝红屁股，尿布疹，精神头好', 'self_care', 1.0),
    ('baby cries every evening for hours, feeding fine and gaining weight', 'routine', 0.3),
    ("milia on my baby's nose", 'self_care', 0.5),
    ('宝宝鼻子上有小白点，粟粒疹', 'self_care', 0.5),
    ("baby acne on her cheeks, she's feeding well", 'self_care', 0.5),
    ('宝宝脸上长了奶癣一样的小痘痘，吃奶挺好', 'self_care', 0.5),
    ('cradle cap, yellow crusty flakes on his scalp', 'self_care', 0.5),
    ('宝宝头上有一层黄色的痂，乳痂', 'self_care', 0.5),
    ('threadworms, itchy bottom at night, saw tiny white worms', 'self_care', 6.0),
    ('孩子晚上屁股痒，看到小白虫，蛲虫', 'self_care', 6.0),
    ('head lice again, caught them at school', 'self_care', 8.0),
    ('孩子头上长虱子了', 'self_care', 8.0),
    # Warts and verrucas: treated at home or by a pharmacist (NICE CKS Warts and verrucae).
    ('verruca on the sole of my foot', 'self_care', None),
    ('脚底长了个跖疣', 'self_care', None),
    ('common warts on my fingers', 'self_care', None),
    ('手指上长了几个瘊子', 'self_care', None),
    ('corn on my little toe from tight shoes', 'self_care', None),
    ('脚底长了老茧，走路有点硌', 'self_care', None),
    ("athlete's foot, itchy cracked skin between my toes", 'self_care', None),
    ('脚气，脚趾缝痒脱皮', 'self_care', None),
    ('twisted my ankle, a bit swollen but I can walk on it', 'self_care', None),
    ('崴了脚，有点肿，走路没问题', 'self_care', None),
    ('pulled a muscle in my back lifting boxes, no numbness', 'self_care', None),
    ('搬东西把腰扭了，腿不麻', 'self_care', None),
    ('strained my shoulder at the gym', 'self_care', None),
    ('lower back pain after gardening, no numbness, can walk', 'self_care', None),
    ('干完活腰疼，腿不麻，走路没问题', 'self_care', None),
    ('tension headache at the end of the working day, same as usual', 'self_care', None),
    ('下班后头有点紧绷绷地疼，和平时一样，歇一会儿就好了', 'self_care', None),
    ('hungover after a party last night', 'self_care', None),
    ('昨晚喝多了，今天宿醉头疼', 'self_care', None),
    ('car sick on long trips', 'self_care', None),
    ('坐车晕车，想吐', 'self_care', None),
    ('jet lag after flying back from New York', 'self_care', None),
    ('刚出差回来倒时差睡不着', 'self_care', None),
    ("couldn't sleep for a few nights because of exam stress", 'self_care', None),
    ('这几天赶项目，晚上睡不好', 'self_care', None),
    ("I jerk awake just as I'm falling asleep", 'self_care', None),
    ('快睡着的时候身体一抖，像踏空了一样惊醒', 'self_care', None),
    ('nosebleed this morning, stopped after 10 minutes of pinching', 'self_care', None),
    ('流鼻血了，捏了十分钟就止住了', 'self_care', None),
    ('small burn on my finger from the oven', 'self_care', None),
    ('做饭被油溅到，手背烫了一下，一小块发红', 'self_care', None),
    ('small cut on my finger from a knife, bleeding stopped', 'self_care', None),
    ('切菜划破了手指，一会儿就止住了', 'self_care', None),
    ('mosquito bites on my legs, itchy', 'self_care', None),
    ('被蚊子叮了好多包，很痒', 'self_care', None),
    ('sunburnt shoulders after the beach', 'self_care', None),
    ('去海边晒伤了，肩膀发红', 'self_care', None),
    ('heartburn after a big meal', 'self_care', None),
    ('吃多了烧心反酸', 'self_care', None),
    ('constipated for 3 days, no pain', 'self_care', None),
    ('便秘三天了，肚子不疼', 'self_care', None),
    ('diarrhoea since yesterday, drinking fine, no blood', 'self_care', None),
    ('拉肚子一天了，能吃能喝，大便没有血', 'self_care', None),
    ('piles, itchy and a bit sore when I poo', 'routine', None),
    ('痔疮犯了，有点疼', 'routine', None),
    ('period pain, same as every month', 'self_care', None),
    ('痛经，每个月都这样', 'self_care', None),
    ('vaginal thrush again, itchy with white discharge', 'routine', None),
    ('白带像豆腐渣，下面痒', 'routine', None),
    ('menopause hot flushes keep waking me', 'routine', None),
    ('更年期潮热出汗', 'routine', None),
    ('fainted at the sight of blood at my blood test, came round straight away and feel fine now', 'routine', None),
    ('抽血的时候看到血晕了一下，马上就醒了，现在没事', 'routine', None),
    ('took my statin twice by mistake this morning, feel fine', 'self_care', None),
    ('不小心多吃了一片他汀，没有不舒服', 'self_care', None),
    ('took an extra blood pressure tablet by mistake, no symptoms', 'routine', None),
    ('早上降压药吃重复了，多吃了一片，没什么感觉', 'routine', None),
    ('accidentally took two vitamin D tablets instead of one', 'self_care', None),
    ('不小心多吃了一粒维生素', 'self_care', None),
    ('fainted at the sight of blood at my blood test', 'urgent', None),
    ('fainted at my blood test, came round straight away, fine now', 'emergency', 70.0),
    ('搬箱子把腰扭了，能走路，腿不麻', 'self_care', None),
    ('my ears are itchy after swimming', 'self_care', None),
    ('I get tension headaches a couple of times a year, same as usual', 'self_care', None),
    ('cold sore again, I get them a couple of times a year, otherwise fine', 'self_care', None),
    ('pulled a muscle in my thigh playing football', 'self_care', None),
    ('just got a cold, sneezing', 'self_care', None),
]

RED_FLAG_LOOK_ALIKES = [
    ('fainted at the sight of blood and still not fully awake', 'emergency', None),
    ('晕血晕倒了，到现在还叫不醒', 'emergency', None),
    ("nosebleed that won't stop for 30 minutes", 'emergency', None),
    ('流鼻血半个小时了还止不住', 'emergency', None),
    ('cold sore in a newborn', 'emergency', None),
    ('新生儿嘴上起了疱疹', 'emergency', None),
    # Milia are harmless at any age, a newborn's included (NHS: skin rashes in babies); what a baby under 3 months
    # must not be reassured about is fever, feeding or breathing (below and in the red-flag tests).
    ("milia on my baby's nose", 'self_care', 0.1),
    ('宝宝鼻子上有粟粒疹', 'self_care', 0.1),
    ("milia on my baby's nose and she's feeding poorly with a temperature of 38", 'emergency', 0.1),
    ('宝宝鼻子上有粟粒疹，发烧38度，不肯吃奶', 'emergency', 0.1),
    ('pulled a muscle in my chest lifting and now crushing chest pain with sweating', 'emergency', None),
    ('my toddler swallowed some of my blood pressure tablets', 'emergency', None),
    ('孩子误吃了奶奶的降压药', 'emergency', None),
    ('took 20 of my blood pressure tablets', 'emergency', None),
    ('vomited blood after a cold', 'emergency', None),
    ('threadworms and blood in my poo with dizziness and fainting', 'emergency', None),
    ('hit my head and was knocked out, now cannot stay awake', 'emergency', None),
    ('fainted for no reason while walking', 'urgent', None),
    ("I feel like I can't breathe with a cold", 'emergency', None),
    ("nappy rash and a purple rash that doesn't fade when pressed", 'emergency', None),
    ('睡觉时一抽一抽的，叫不醒', 'emergency', None),
    ('took an extra blood pressure tablet by mistake and now I feel faint and dizzy', 'urgent', None),
    ("strained my back lifting and now can't feel my legs and can't pee", 'emergency', None),
    ('pulled a muscle in my back and have numbness around my bottom and lost control of my bladder', 'emergency', None),
]


def _level(sentence: str, age: float | None) -> str:
    return assess(Presentation(text=sentence, age_years=age)).level


@pytest.mark.parametrize(("sentence", "expected", "age"), BENIGN)
def test_benign_complaint_gets_its_self_care_level(sentence, expected, age):
    assert _level(sentence, age) == expected


@pytest.mark.parametrize(("sentence", "expected", "age"), RED_FLAG_LOOK_ALIKES)
def test_red_flag_look_alike_is_not_reassured(sentence, expected, age):
    assert _level(sentence, age) == expected


def test_new_benign_keys_are_self_care_or_routine():
    symptoms = text.lexicon().symptoms
    for key in NEW_KEYS:
        assert symptoms[key].level in {"self_care", "routine"}, key


def test_a_cold_is_not_read_from_a_cold_sweat_or_cold_hands():
    for sentence in ("cold sweat and clammy", "she has cold hands and feet"):
        assert "runny_nose" not in text.read(sentence).present(), sentence


def test_a_faint_is_covered_only_when_a_quick_recovery_is_told():
    assert "vasovagal_trigger" not in text.read("fainted at my blood test").present()
    assert "vasovagal_trigger" in text.read("fainted at my blood test, came round straight away").present()
    assert "vasovagal_trigger" not in text.read("fainted at my blood test, came round but still drowsy").present()


def test_muscle_strain_is_never_read_in_the_chest():
    assert "muscle_strain" not in text.read("strained my back and chest is tight").present()


def test_reassurance_words_are_read_as_otherwise_well():
    for sentence in ("feeding fine", "playing as normal", "精神头好", "吃饭睡觉都正常", "人很清醒", "不影响什么",
                     "歇一会儿就好了", "一会儿就止住了", "I get them a couple of times a year"):
        assert "reassurance" in text.read(sentence).present(), sentence
