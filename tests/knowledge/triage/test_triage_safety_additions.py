"""The safety additions (lexicon_safety.yaml and the rules it feeds): emergencies that no single symptom word names,
and the harmless look-alikes that must not trip them. Each emergency sentence is new wording, not a vignette's."""

import pytest

from smartcare.knowledge.triage import Presentation, assess, read_text


def result(text, **kw):
    return assess(Presentation(text=text, **kw))


def flags(a):
    return {f.key for f in a.red_flags}


@pytest.mark.parametrize(("text", "age", "flag"), [
    # veiled suicidal talk (AFSP warning signs: saying goodbye, being a burden, looking for a way)
    ("I just want to go to sleep and never wake up, I've written letters to my family", 34, "rf-suicide"),
    ("how many sleeping pills would it take to not wake up", 19, "rf-suicide"),
    ("she keeps saying she is a burden to everyone and has put her affairs in order", 81, "rf-suicide"),
    ("最近总说睡过去就好了，还给孩子写了信", 45, "rf-suicide"),
    ("他问我吃多少片安眠药会死", 52, "rf-suicide"),
    # an overdose in someone who feels well
    ("took 24 of my mum's sleeping tablets an hour ago, feel fine", 17, "rf-poisoning"),
    ("一个小时前吃了30片布洛芬，现在没什么感觉", 22, "rf-poisoning"),
    # danger to others
    ("my son is waving a knife at us and says the neighbours are poisoning him", 27, "rf-danger-to-others"),
    ("我老公喝了酒扬言要杀了全家", 40, "rf-danger-to-others"),
    # the airway: stridor, drooling with dysphagia
    ("high-pitched noise when breathing in, barking cough, he looks scared", 3, "rf-child-airway"),
    ("孩子发烧，嗓子疼得咽不下口水，一直流口水", 6, "rf-child-airway"),
    # diabetic ketoacidosis
    ("type 1 diabetic, vomiting since last night, breath smells like nail polish remover", 24, "rf-diabetic-ketoacidosis"),
    ("女儿这两周老是喝水老是尿，今天吐了三次，肚子疼", 9, "rf-diabetic-ketoacidosis"),
    # confusion in everyday words; hypoglycaemia in a diabetic who is sweaty and shaky
    ("grandad is talking gibberish and doesn't recognise me", 84, "rf-altered-consciousness"),
    ("婆婆今天说话颠三倒四的，认不出家里人了", 79, "rf-altered-consciousness"),
    ("on insulin, suddenly sweaty and shaking", 61, "rf-hypoglycaemia"),
    # aortic dissection
    ("tearing pain in my chest going through to my back", 66, "rf-aortic-dissection"),
    ("突然胸口撕裂样疼，疼到后背", 58, "rf-aortic-dissection"),
    ("sudden back pain, bp 200/115", 70, "rf-aortic-dissection"),
    # cauda equina
    ("bad back for a week and now I can't pass urine", 44, "rf-cauda-equina"),
    ("腰疼了几天，两条腿都发麻", 51, "rf-cauda-equina"),
    # fever with a weak immune system
    ("had chemo last week, temperature 38.3 tonight, feel ok otherwise", 57, "rf-neutropenic-fever"),
    ("肾移植术后，今天发烧了", 48, "rf-neutropenic-fever"),
    # kinds holdout7 showed, in new wording
    ("my jaw and left arm ache and I feel sick, I'm 71", 71, "rf-acs-equivalent"),
    ("外婆有糖尿病，刚才突然没力气，一身冷汗", 79, "rf-acs-equivalent"),
    ("he skipped dialysis twice this week and now feels very weak", 63, "rf-missed-dialysis"),
    ("错过了透析，现在心慌、手发麻", 70, "rf-missed-dialysis"),
    ("全家昨晚吃了自己采的野生菌，今天都在拉肚子", 45, "rf-mushroom-poisoning"),
    ("the vision in my left eye went dark about an hour ago", 60, "rf-stroke"),
    ("my back has been bad for days and I can't feel my bottom properly", 45, "rf-cauda-equina"),
    ("someone got me in the side with a knife, only a small cut", 24, "rf-major-trauma"),
    ("sore throat, can't swallow, drooling, voice muffled", 35, "rf-child-airway"),
])
def test_emergencies_no_single_word_names_are_red_flags(text, age, flag):
    a = result(text, age_years=age)
    assert a.level == "emergency" and flag in flags(a), (a.level, flags(a), [r.rule for r in a.reasons])


def test_the_suicide_flag_offers_the_psychological_assistance_hotline():
    a = result("不想活了", age_years=30)
    flag = next(f for f in a.red_flags if f.key == "rf-suicide")
    assert "12356" in flag.reason_en and "12356" in flag.reason_zh


@pytest.mark.parametrize(("text", "age", "level"), [
    ("grinding metal and something flew into my eye, it's watering and sore", 38, "urgent"),
    ("itchy rash all over since starting amoxicillin on Monday, breathing fine", 29, "urgent"),
    ("2 year old with fever 38.9 since yesterday, much less playful than usual", 2, "urgent"),
    ("孩子发烧两天了，不爱玩，喝水少", 3, "urgent"),
    ("my father has stopped eating this week and is very weak", 86, "urgent"),
    ("12岁孩子最近老是口渴，喝水特别多，尿也多", 12, "urgent"),
    ("hearing voices telling him he is being watched", 23, "urgent"),
])
def test_urgent_details_are_seen_today(text, age, level):
    assert result(text, age_years=age).level == level


@pytest.mark.parametrize(("text", "key"), [
    ("cut my finger with a knife while chopping onions", "violence_risk"),
    ("拿刀切菜的时候切到手了", "violence_risk"),
    ("violent vomiting since lunch", "violence_risk"),
    ("the pain brought tears to my eyes when I stood up", "tearing_pain"),
    ("把胶布撕开的时候有点疼", "tearing_pain"),
    ("fluid retention in my ankles", "urinary_retention"),
    ("no trouble passing urine", "urinary_retention"),
    ("小便次数多，没有尿不出来", "urinary_retention"),
    ("baby has noisy breathing with her cold", "noisy_breathing"),
    ("clammy and my arm is odd", "poisoning"),
    ("my 4 year old's vaccines are up to date", "medication_request"),
    ("stubbed my toe on the bed", "major_trauma"),
    ("咽部有异物感两个月", "eye_foreign_body"),
])
def test_harmless_look_alikes_do_not_read_as_the_serious_symptom(text, key):
    assert key not in read_text(text).present()


def test_teething_drooling_with_a_low_fever_is_not_an_airway_emergency():
    a = result("teething, drooling a lot, temperature 38.1, feeding well", age_months=8)
    assert a.level != "emergency"


@pytest.mark.parametrize("text", [
    "pregnant 20 weeks, heartburn after meals",
    "怀孕12周，早上有点恶心",
    "孕28周，最近有点便秘",
])
def test_the_common_complaints_of_pregnancy_are_not_lifted_by_pregnancy_alone(text):
    a = result(text, age_years=29, sex="female", pregnant=True)
    assert a.level == "self_care" and "rl-pregnancy" not in {r.rule for r in a.reasons}


def test_vomiting_in_pregnancy_is_still_checked():
    a = result("怀孕9周，吐得厉害，喝水都吐", age_years=27, sex="female", pregnant=True)
    assert a.level in ("urgent", "emergency")


@pytest.mark.parametrize(("text", "level"), [
    ("my knees have been creaky for about two years", "routine"),
    ("something feels off for 6 months", "routine"),
    ("something feels off since this morning", "urgent"),
    ("something suddenly feels very wrong, it's been 2 months", "urgent"),
])
def test_an_unrecognised_complaint_is_routine_only_when_long_standing_and_nothing_sudden_or_severe(text, level):
    a = result(text, age_years=50)
    assert a.level == level, [r.rule for r in a.reasons]
    assert any(q.id in ("breathing_at_rest", "chest_pain_now") for q in a.follow_up), "the safety screen is asked"


def _pending(a):
    return [q.id for q in a.safety_screen_pending]


def test_a_young_child_gets_the_child_screen_and_an_adult_does_not():
    child = result("been sick three times since lunch", age_years=2)
    assert {"child_unresponsive", "child_green_vomit", "child_swallowed"} <= set(_pending(child))
    assert "child_rash_not_fading" not in _pending(child), "asked only with a fever or a rash"
    adult = result("been sick three times since lunch", age_years=30)
    assert not any(q.startswith("child_") for q in _pending(adult))


@pytest.mark.parametrize(("question", "flag"), [
    ("child_unresponsive", "rf-altered-consciousness"),
    ("child_green_vomit", "rf-bilious-vomiting"),
    ("child_swallowed", "rf-poisoning"),
])
def test_a_yes_on_the_child_screen_is_an_emergency(question, flag):
    a = result("孩子今天吐了两次", age_years=1, answers={question: "yes"})
    assert a.level == "emergency" and flag in flags(a)


def test_a_pregnancy_gets_its_screen_by_weeks_and_a_yes_is_acted_on():
    early = result("怀孕8周，有点胃不舒服", age_years=29, sex="female")
    assert "pregnancy_bleeding" in _pending(early)
    assert "pregnancy_movements" not in _pending(early) and "pregnancy_fluid" not in _pending(early)
    late = result("怀孕30周，有点胃不舒服", age_years=29, sex="female")
    assert {"pregnancy_bleeding", "pregnancy_fluid", "pregnancy_movements", "pregnancy_headache_vision"} <= set(
        _pending(late))
    assert result("30 weeks pregnant, heartburn", age_years=29, sex="female",
                  answers={"pregnancy_fluid": "yes"}).level == "emergency"
    assert result("30 weeks pregnant, heartburn", age_years=29, sex="female",
                  answers={"pregnancy_movements": "yes"}).level == "urgent"
    bled = result("had my baby last week, tired", age_years=31, sex="female", answers={"postpartum_heavy_bleeding": "yes"})
    assert bled.level == "emergency"


def test_answering_the_whole_screen_calmly_ends_the_provisional_state():
    a = result("怀孕30周，有点胃不舒服", age_years=29, sex="female")
    calm = {q.id: "no" for q in a.safety_screen_pending}
    settled = result("怀孕30周，有点胃不舒服", age_years=29, sex="female", answers=calm)
    assert settled.safety_screen_pending == () and not settled.provisional


def test_jaundice_on_the_first_day_is_an_emergency_and_in_the_first_two_weeks_urgent():
    first = assess(Presentation(text="宝宝脸都黄了", age_months=0.02))
    assert first.level == "emergency" and "rf-neonatal-jaundice-first-day" in flags(first)
    week = assess(Presentation(text="baby looks yellow, feeding well", age_months=0.25))
    assert week.level == "urgent"


@pytest.mark.parametrize(("text", "key", "absent"), [
    ("I broke out in a cold sweat and my arm hurts", "sweating", "runny_nose"),
    ("got a cold sore on my lip", "cold_sore", "runny_nose"),
    ("pulled a muscle in my chest at the gym", "chest_pain", None),
    ("taking multivitamins every day", None, "pregnancy"),
    ("my baby is dribbling a lot, teething", None, "urinary_symptoms"),
])
def test_longer_phrases_win_over_their_harmless_beginnings(text, key, absent):
    present = read_text(text).present()
    assert key is None or key in present
    assert absent is None or absent not in present
