"""The discriminator coverage pass (lexicon_discriminators.yaml, rules_discriminators.yaml): each MTS red/orange
discriminator or ESI high-risk situation told in everyday English and Chinese gives an emergency, and the harmless
look-alikes of each do not. Sentences are written for this test, not taken from any vignette set."""

import pytest

from smartcare.knowledge.triage import Presentation, assess, read_text


def result(text, **kw):
    return assess(Presentation(text=text, **kw))


def flags(a):
    return {f.key for f in a.red_flags}


EMERGENCIES = [
    # airway compromise and stridor in lay words, inadequate breathing
    ("making a whistling sound every time he breathes in", {"age_years": 2}, "rf-breathing"),
    ("孩子吸气的时候有哨音，口水一直往外流", {"age_years": 4}, "rf-breathing"),
    ("grandpa is barely breathing and very pale", {"age_years": 88}, "rf-breathing"),
    ("呼吸很弱，好像快没气了", {"age_years": 80}, "rf-breathing"),
    # exsanguinating haemorrhage
    ("there's blood everywhere and it just won't stop", {"age_years": 30}, "rf-severe-bleeding"),
    ("毛巾都被血湿透了", {"age_years": 45}, "rf-severe-bleeding"),
    # shock
    ("she has been vomiting all day and her skin is cold and clammy", {"age_years": 50}, "rf-shock"),
    ("his legs look mottled and he has a fever", {"age_years": 1}, "rf-shock"),
    ("手脚冰凉，脸色苍白，出冷汗", {"age_years": 60}, "rf-shock"),
    ("拉肚子一天了，皮肤发花", {"age_years": 70}, "rf-shock"),
    # unresponsive or hard to rouse
    ("my son keeps drifting off and won't stay awake", {"age_years": 6}, "rf-altered-consciousness"),
    ("老人叫半天才应一声", {"age_years": 86}, "rf-altered-consciousness"),
    ("孩子怎么叫都不醒", {"age_years": 3}, "rf-not-breathing"),
    # currently fitting, fits lasting over five minutes
    ("her eyes rolled up and her arms and legs are jerking", {"age_years": 2}, "rf-seizure"),
    ("he has been jerking for more than 5 minutes", {"age_years": 30}, "rf-seizure"),
    ("孩子翻白眼，手脚一直抽", {"age_years": 1}, "rf-seizure"),
    ("抽了十分钟还没停", {"age_years": 25}, "rf-seizure"),
    # purpuric rash
    ("she has purple blotches on her legs", {"age_years": 3}, "rf-meningitis"),
    ("the spots don't fade when I press a glass on them", {"age_years": 5}, "rf-meningitis"),
    ("身上有紫色的小点点，按了不褪色", {"age_years": 4}, "rf-meningitis"),
    # cold (hypothermia)
    ("found him outside in the snow, ice cold to touch and mumbling", {"age_years": 79}, "rf-hypothermia"),
    ("老人在外面冻了一夜，浑身冰凉", {"age_years": 82}, "rf-hypothermia"),
    ("体温35度都不到，人发抖", {"age_years": 70}, "rf-hypothermia"),
    # severe pain out of proportion
    ("small cut on my leg yesterday but the pain is way out of proportion now", {"age_years": 45}, "rf-pain-out-of-proportion-limb"),
    ("疼得满地打滚", {"age_years": 35}, "rf-severe-abdominal-pain"),
    # chemical and penetrating eye injury
    ("splashed bleach in my eye while cleaning", {"age_years": 35}, "rf-eye-injury"),
    ("lime powder blew into his eyes on the building site", {"age_years": 40}, "rf-eye-injury"),
    ("a nail flew up and got stuck in his eye", {"age_years": 30}, "rf-eye-injury"),
    ("石灰溅到眼睛里了", {"age_years": 50}, "rf-eye-injury"),
    ("孩子眼睛被剪刀扎了", {"age_years": 5}, "rf-eye-injury"),
    # tongue, lip and throat swelling (angioedema)
    ("my tongue feels huge and I sound strange", {"age_years": 40}, "rf-anaphylaxis"),
    ("嘴唇肿起来了，舌头发胀", {"age_years": 40}, "rf-anaphylaxis"),
    # heavy vaginal bleeding, postpartum haemorrhage
    ("soaking through a pad every hour since this morning", {"age_years": 38}, "rf-heavy-vaginal-bleeding"),
    ("一小时湿透一片卫生巾", {"age_years": 35}, "rf-heavy-vaginal-bleeding"),
    ("月经量特别大，有血块，头晕", {"age_years": 42}, "rf-heavy-vaginal-bleeding"),
    ("gave birth five days ago and passing big clots", {"age_years": 31}, "rf-postpartum-haemorrhage"),
    ("产后出血很多", {"age_years": 29}, "rf-postpartum-haemorrhage"),
    # preterm labour
    ("I'm 30 weeks and getting tightenings every few minutes", {"age_years": 30}, "rf-pregnancy-bleeding-pain"),
    ("怀孕31周，每隔几分钟发紧一次", {"age_years": 27}, "rf-pregnancy-bleeding-pain"),
    # dangerous mechanism of injury
    ("fell from the third floor balcony", {"age_years": 30}, "rf-major-trauma"),
    ("fell about 4 metres off scaffolding onto concrete", {"age_years": 50}, "rf-major-trauma"),
    ("knocked off his motorbike by a lorry", {"age_years": 30}, "rf-major-trauma"),
    ("从三楼摔下来了", {"age_years": 30}, "rf-major-trauma"),
    ("从几米高的架子上摔下来", {"age_years": 40}, "rf-major-trauma"),
    ("fell off a roof and can't feel his legs", {"age_years": 40}, "rf-spinal-injury"),
    # bilious vomiting in a child
    ("my baby is vomiting green stuff", {"age_months": 3}, "rf-bilious-vomiting"),
    ("宝宝吐绿色的水", {"age_months": 2}, "rf-bilious-vomiting"),
    # severe dehydration or a floppy child
    ("no wet nappy since yesterday and she looks pale", {"age_months": 9}, "rf-severe-dehydration-child"),
    ("孩子眼窝凹陷，哭没有眼泪，软塌塌的", {"age_years": 1}, "rf-severe-dehydration-child"),
    ("宝宝发烧，抱起来软软的", {"age_months": 7}, "rf-floppy-child"),
    # carbon monoxide
    ("we use a gas heater and the whole family has a headache and feels dizzy", {"age_years": 40}, "rf-carbon-monoxide"),
    ("屋里烧炭火取暖，一家人都头晕恶心", {"age_years": 50}, "rf-carbon-monoxide"),
    ("煤气热水器洗澡后头晕", {"age_years": 20}, "rf-carbon-monoxide"),
    # a child's ingestion, overdose counts
    ("my toddler got into grandma's pills", {"age_years": 2}, "rf-poisoning"),
    ("孩子把奶奶的降压药吃了几片", {"age_years": 4}, "rf-poisoning"),
    ("she took a whole pack of paracetamol", {"age_years": 17}, "rf-poisoning"),
    ("把一整板药都吃了", {"age_years": 30}, "rf-poisoning"),
    # rigid abdomen
    ("her belly is hard as a board", {"age_years": 60}, "rf-severe-abdominal-pain"),
    ("肚子硬得像木板", {"age_years": 60}, "rf-severe-abdominal-pain"),
    # abdominal pain with atrial fibrillation (mesenteric ischaemia)
    ("I have atrial fibrillation and sudden terrible stomach pain", {"age_years": 78}, "rf-mesenteric-ischaemia"),
    ("有房颤，肚子疼得厉害，但是按着不怎么疼", {"age_years": 75}, "rf-mesenteric-ischaemia"),
    # "indigestion" as a heart attack
    ("diabetic, feels like indigestion and is sweating a lot", {"age_years": 65}, "rf-atypical-acs"),
    ("糖尿病，胃不舒服，出了一身冷汗", {"age_years": 68}, "rf-atypical-acs"),
    # hyperglycaemia with ketosis
    ("my meter just says HI and I keep being sick", {"age_years": 25}, "rf-hyperglycaemia-ketosis"),
    ("ketones are 3.4 and my stomach hurts", {"age_years": 19}, "rf-hyperglycaemia-ketosis"),
    ("血糖仪显示HI，一直吐", {"age_years": 40}, "rf-hyperglycaemia-ketosis"),
    # acute psychosis with danger
    ("he thinks the neighbours are trying to kill him and has a knife", {"age_years": 30}, "rf-psychosis-danger"),
    ("她说有人要害她，拿着菜刀要出去", {"age_years": 40}, "rf-psychosis-danger"),
    # signs of meningism, a bulging fontanelle or an unusual cry in an ill baby
    ("he can't bend his neck forward and has a high fever", {"age_years": 20}, "rf-meningitis"),
    ("头疼发烧，怕光", {"age_years": 20}, "rf-meningism"),
    ("the soft spot on her head is bulging", {"age_months": 5}, "rf-bulging-fontanelle"),
    ("宝宝发烧，哭声很尖", {"age_months": 4}, "rf-bulging-fontanelle"),
    # priapism, imminent birth or cord prolapse
    ("my erection won't go away, it's been 5 hours", {"age_years": 30}, "rf-priapism"),
    ("阴茎一直勃起好几个小时消不下去", {"age_years": 30}, "rf-priapism"),
    ("I can see the baby's head", {"age_years": 30}, "rf-imminent-birth"),
    ("脐带掉出来了", {"age_years": 30}, "rf-imminent-birth"),
    # hypoglycaemia by number, acute limb ischaemia, exhaustion from breathing, smoke inhalation
    ("my sugar is 2.3 and I'm shaky", {"age_years": 50}, "rf-hypoglycaemia"),
    ("血糖只有2.5", {"age_years": 60}, "rf-hypoglycaemia"),
    ("my foot is suddenly cold, white and numb", {"age_years": 70}, "rf-acute-limb-ischaemia"),
    ("腿突然发白发凉，还麻", {"age_years": 75}, "rf-acute-limb-ischaemia"),
    ("he's getting really tired from breathing so hard", {"age_years": 1}, "rf-breathing"),
    ("吸了很多浓烟，咳黑痰", {"age_years": 40}, "rf-serious-burn"),
]


@pytest.mark.parametrize(("text", "kw", "flag"), EMERGENCIES)
def test_each_discriminator_in_lay_words_is_an_emergency(text, kw, flag):
    a = result(text, **kw)
    assert a.level == "emergency" and flag in flags(a), (a.level, flags(a), [r.rule for r in a.reasons])


@pytest.mark.parametrize(("text", "kw"), [
    ("I was cooking dinner and cut my finger", {"age_years": 30}),
    ("we cooked a big meal and now I have heartburn", {"age_years": 40}),
    ("I get leg cramps at night", {"age_years": 50}),
    ("腿抽筋了", {"age_years": 50}),
    ("他抽烟抽了五分钟", {"age_years": 40}),
    ("切菜时刀割了手指，小伤口", {"age_years": 30}),
    ("coughing up green phlegm", {"age_years": 30}),
    ("green snot and a cough", {"age_years": 4}),
    ("she looks a bit pale and tired", {"age_years": 30}),
    ("手脚冰凉，冬天一直这样", {"age_years": 30}),
    ("the rash fades when I press a glass on it", {"age_years": 4}),
    ("疹子按了会褪色", {"age_years": 4}),
    ("I got shampoo in my eye", {"age_years": 6}),
    ("sand from the beach in my eye", {"age_years": 8}),
    ("my tongue has a thick white coating", {"age_years": 40}),
    ("cold sore on my lip", {"age_years": 30}),
    ("I'm 30 weeks into my training and my knee hurts", {"age_years": 30}),
    ("从床上摔下来了，哭了一会儿就好了", {"age_months": 10}),
    ("she fell 2 days ago and bruised her arm", {"age_years": 30}),
    ("knocked off work early with a headache", {"age_years": 30}),
    ("我有房颤，来开药", {"age_years": 70}),
    ("a knife slipped and I cut my thumb", {"age_years": 30}),
    ("切菜的时候菜刀切到手了", {"age_years": 30}),
    ("我们都感冒了，流鼻涕", {"age_years": 30}),
    ("全家都拉肚子，吐了", {"age_years": 30}),
    ("indigestion after a big meal", {"age_years": 30}),
    ("胃不舒服，有点胀气", {"age_years": 30}),
    ("血糖控制了30年", {"age_years": 60}),
    ("my blood sugar was 7.8 this morning", {"age_years": 60}),
    ("I'm consulting about my blood pressure tablets", {"age_years": 60}),
    ("I'm writing to ask about my repeat prescription", {"age_years": 60}),
    ("migraine with vomiting and I can't stand the light", {"age_years": 30}),
    ("I have the urge to push but nothing comes, constipated", {"age_years": 60}),
    ("my blood sugar 2 hours after eating was 9", {"age_years": 60}),
    ("血糖2小时后是9", {"age_years": 60}),
    ("my fingers go white and cold in winter", {"age_years": 30}),
    ("morning erection, is that normal", {"age_years": 16}),
])
def test_look_alikes_do_not_raise_a_red_flag(text, kw):
    a = result(text, **kw)
    assert a.level != "emergency" and not a.red_flags, (a.level, flags(a), text)


def test_cooking_is_never_read_as_choking_and_pain_like_a_knife_is_no_wound():
    assert "choking" not in read_text("I was cooking tea for the kids").present()
    assert "wound" not in read_text("胃疼像刀割一样").present()
    assert "wound" in read_text("手被刀割了一下").present()


def test_plenty_of_urine_in_a_well_baby_is_not_read_as_diabetes():
    assert "high_blood_sugar" not in read_text("宝宝吃得好，尿也多").present()
    assert "high_blood_sugar" in read_text("最近老是口渴，喝水多尿也多").present()


def test_a_fuel_heater_indoors_without_symptoms_is_same_day_not_an_emergency():
    a = result("the carbon monoxide detector went off but we all feel fine", age_years=40)
    assert a.level == "urgent" and not a.red_flags
