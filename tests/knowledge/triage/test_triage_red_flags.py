"""Each red flag sends the person to emergency with the right first-aid guide; lower levels follow the rules."""

import pytest

from smartcare.knowledge.triage import DISCLAIMER_EN, Presentation, assess


def triage(text: str, **known):
    return assess(Presentation(text=text, **known))


@pytest.mark.parametrize("text, known, rule, first_aid", [
    ("collapsed and not breathing", {"age_years": 50}, "rf-not-breathing", ("cpr-adult",)),
    ("baby not breathing", {"age_months": 4}, "rf-not-breathing", ("cpr-infant",)),
    ("my son is unresponsive", {"age_years": 6}, "rf-not-breathing", ("cpr-child",)),
    ("very confused and drowsy", {}, "rf-altered-consciousness", ()),
    ("struggling to breathe", {}, "rf-breathing", ()),
    ("choking on a grape", {}, "rf-choking", ("choking",)),
    ("chest pain with sweating", {"age_years": 35}, "rf-chest-pain-risk", ("heart-attack",)),
    ("chest pain", {"age_years": 55}, "rf-chest-pain-risk", ("heart-attack",)),
    ("face drooping and slurred speech", {}, "rf-stroke", ("stroke",)),
    ("allergic reaction, now wheezing", {}, "rf-anaphylaxis", ("anaphylaxis",)),
    ("heavy bleeding from a cut that won't stop", {}, "rf-severe-bleeding", ("severe-bleeding",)),
    ("vomiting blood", {}, "rf-gi-bleeding", ()),
    ("having a fit", {}, "rf-seizure", ("seizure",)),
    ("I keep thinking about suicide", {}, "rf-suicide", ()),
    ("fever 38.1", {"age_months": 2}, "rf-infant-fever", ()),
    ("fever and stiff neck", {"age_years": 20}, "rf-meningitis", ()),
    ("thunderclap headache", {}, "rf-thunderclap-headache", ()),
    ("vaginal bleeding", {"pregnant": True, "sex": "female"}, "rf-pregnancy-bleeding-pain", ()),
    ("severe headache and blurred vision", {"pregnant": True}, "rf-pre-eclampsia", ()),
    ("took too many pills", {}, "rf-poisoning", ("poisoning",)),
    ("car crash", {}, "rf-major-trauma", ("severe-bleeding", "fracture")),
    ("hit my head and vomited", {}, "rf-head-injury", ()),
    ("chemical burn on the arm", {}, "rf-serious-burn", ("burns",)),
    ("electric shock from a socket", {}, "rf-electric-shock", ("electric-shock",)),
    ("pulled out of the pool, near drowning", {}, "rf-drowning", ("drowning",)),
    ("bitten by a snake", {}, "rf-snake-bite", ("snake-bite",)),
    ("heat stroke and confused", {}, "rf-heat-stroke", ("heat-stroke",)),
    ("low blood sugar", {}, "rf-hypoglycaemia", ("hypoglycaemia",)),
    ("testicle pain", {"sex": "male"}, "rf-testicular-pain", ()),
    ("bleach in eye", {}, "rf-eye-injury", ()),
    ("severe abdominal pain", {}, "rf-severe-abdominal-pain", ()),
    ("back pain and numb groin", {}, "rf-cauda-equina", ()),
    ("fainted with palpitations", {}, "rf-cardiac-syncope", ()),
    ("palpitations and short of breath", {}, "rf-palpitations-unstable", ()),
    ("swollen calf and short of breath", {}, "rf-blood-clot-lung", ()),
    ("temperature 41.2", {}, "rf-very-high-temperature", ()),
])
def test_each_red_flag_means_emergency_with_its_first_aid(text, known, rule, first_aid):
    result = triage(text, **known)
    assert result.level == "emergency" and result.call_emergency
    flag = next(f for f in result.red_flags if f.key == rule)
    assert flag.first_aid == first_aid and flag.source and flag.reason_zh
    assert result.departments[0].key == "emergency" and len(result.departments) == 1
    assert result.follow_up == ()


def test_chest_pain_in_a_young_adult_without_risk_features_is_seen_today_not_booked_for_later():
    result = triage("chest pain when I press on it", age_years=24)
    assert result.level == "urgent" and not result.red_flags
    assert "cardiology" in [d.key for d in result.departments]
    assert {q.id for q in result.follow_up} >= {"chest_pain_spreads", "sweating"}


def test_answering_a_follow_up_question_can_raise_the_level():
    first = triage("chest pain", age_years=24)
    again = triage("chest pain", age_years=24, answers={"sweating": "yes"})
    assert first.level == "urgent" and again.level == "emergency"
    assert "chest_pain_spreads" not in {q.id for q in triage("chest pain", age_years=24,
                                                              answers={"chest_pain_spreads": False}).follow_up}


def test_fever_thresholds_depend_on_age():
    assert triage("fever 38.5", age_months=2).level == "emergency"
    assert triage("fever 39.2", age_months=4).level == "urgent"
    assert triage("fever 38.5, playing normally", age_years=3).level == "self_care"
    assert triage("fever for 6 days", age_years=3).level == "urgent"


def test_children_go_to_paediatrics_and_pregnancy_to_obstetrics():
    assert triage("cough and runny nose", age_years=4).departments[0].key == "paediatrics"
    assert triage("headache", pregnant=True, sex="female").departments[0].key == "obstetrics-gynaecology"


def test_a_man_is_never_taken_as_pregnant():
    result = triage("my wife is pregnant and I have a cough", sex="male")
    assert not any(d.key == "obstetrics-gynaecology" for d in result.departments)


def test_every_result_says_why_and_carries_the_disclaimer():
    result = triage("拉肚子三天了", age_years=30)
    assert result.reasons and all(r.source for r in result.reasons)
    assert result.disclaimer_en == DISCLAIMER_EN and "ESI" in result.disclaimer_en and "120" in result.disclaimer_zh
    assert any(f.key == "diarrhoea" and f.matched == "拉肚子" for f in result.findings)
    assert result.conditions[0].key == "gastroenteritis" and result.conditions[0].icd10 == ("A09",)


def test_text_that_names_no_symptom_is_seen_today_and_asks_the_high_risk_screen():
    result = triage("I just don't feel right")
    assert result.level == "urgent" and result.reasons[0].rule == "nothing-recognised"
    assert "120" in result.advice_en and "120" in result.advice_zh and "today" in result.advice_en
    assert [q.id for q in result.follow_up][:2] == ["breathing_at_rest", "stroke_signs"]


def test_text_with_only_qualifiers_and_no_symptom_is_never_left_at_routine_or_self_care():
    for text in ("sudden and severe", "突然很厉害", "it came on suddenly an hour ago"):
        result = triage(text)
        assert result.level == "urgent" and result.follow_up, text


def test_a_partly_read_complaint_says_so_and_asks_the_high_risk_screen_first():
    result = triage("headache, and something else is wrong with my uncle's side", age_years=40)
    assert any(r.rule == "partly-read" for r in result.reasons)
    assert [q.id for q in result.follow_up][:2] == ["breathing_at_rest", "stroke_signs"]


def test_severity_answers_and_sudden_onset_raise_the_level():
    assert triage("cough", age_years=30).level == "self_care"
    assert triage("cough", age_years=30, answers={"severity": 8}).level == "urgent"
    assert triage("cough", age_years=30, answers={"onset": "sudden"}).level == "routine"
    assert triage("worst ever cough", age_years=30).level == "urgent"


@pytest.mark.parametrize("text, known", [
    ("HR 180, palpitations", {"age_years": 35}),
    ("pulse 36 and dizzy", {"age_years": 80}),
    ("SpO2 86% on room air, cough", {"age_years": 70}),
    ("血氧88，咳嗽发烧", {"age_years": 75}),
    ("BP 80/45, feels weak", {"age_years": 60}),
    ("RR 34, cough", {"age_years": 50}),
])
def test_danger_zone_vital_signs_in_the_text_are_an_emergency(text, known):
    result = triage(text, **known)
    assert result.level == "emergency" and any(f.key == "rf-danger-vitals" for f in result.red_flags)


def test_vital_sign_thresholds_depend_on_age():
    assert triage("HR 110, cough", age_years=30).level == "urgent"
    assert triage("HR 150, cough", age_years=1).level == "self_care"
    assert triage("HR 170, cough", age_years=1).level == "urgent"
    assert triage("HR 130, cough", age_years=1).level == "self_care"


@pytest.mark.parametrize("text, known, level", [
    ("孕36周，血压170/115", {"sex": "female"}, "emergency"),
    ("34 weeks pregnant, BP 145/95, headache", {"sex": "female"}, "emergency"),
    ("34 weeks pregnant, BP 145/95, feel fine", {"sex": "female"}, "urgent"),
    ("pregnant 34/40, headache and seeing flashing lights", {"sex": "female"}, "emergency"),
    ("30 weeks pregnant, terrible headache and puffy face", {"sex": "female"}, "emergency"),
])
def test_blood_pressure_and_pre_eclampsia_signs_in_pregnancy(text, known, level):
    assert triage(text, **known).level == level


@pytest.mark.parametrize("text, known, rule", [
    ("65M c/o central CP x 1hr, N/V, hx HTN", {}, "rf-chest-pain-risk"),
    ("胸口闷得慌，出冷汗", {"age_years": 50}, "rf-chest-pain-risk"),
    ("wife says my speech is slurred and my right arm feels heavy", {"age_years": 70}, "rf-stroke"),
    ("左边胳膊和腿突然没劲", {"age_years": 68}, "rf-stroke"),
    ("her right side went numb suddenly", {"age_years": 60}, "rf-stroke"),
    ("I'm pregnant and bleeding", {"sex": "female"}, "rf-pregnancy-bleeding-pain"),
    ("孕12周，阴道流血", {"sex": "female"}, "rf-pregnancy-bleeding-pain"),
    ("period is late, pain in the lower tummy on one side and I feel faint", {"age_years": 24}, "rf-possible-ectopic"),
    ("my son has sudden terrible pain in his testicles", {"age_years": 12}, "rf-testicular-pain"),
    ("fell off a ladder, bone poking through the skin of my shin", {"age_years": 40}, "rf-open-fracture"),
    ("grandad has a fever and is muddled today", {"age_years": 85}, "rf-altered-consciousness"),
    ("she said life isn't worth living and wrote a goodbye note", {"age_years": 30}, "rf-suicide"),
    ("最近总觉得活着没意思", {"age_years": 25}, "rf-suicide"),
    ("back pain and numb between my legs", {"age_years": 45}, "rf-cauda-equina"),
    ("red painful eye, halos round lights, vomiting", {"age_years": 60}, "rf-angle-closure"),
    ("toddler pulled hot tea over his chest and arm, big blisters", {"age_years": 2}, "rf-serious-burn"),
    ("burned my face with hot oil", {"age_years": 30}, "rf-serious-burn"),
    ("5 week old baby temp 38.1", {}, "rf-infant-fever"),
    ("croup, stridor at rest", {"age_years": 2}, "rf-breathing"),
    ("ate shrimp, now my throat feels tight", {"age_years": 30}, "rf-anaphylaxis"),
])
def test_combinations_are_red_flags(text, known, rule):
    result = triage(text, **known)
    assert result.level == "emergency" and rule in [f.key for f in result.red_flags], [r.rule for r in result.reasons]


@pytest.mark.parametrize("text, known", [
    ("4 month old temperature 39.3", {}),
    ("fever for 5 days", {"age_years": 2}),
    ("fish bone stuck in my throat since dinner, breathing fine", {"age_years": 40}),
    ("扁桃体一边肿得很大，张不开嘴，嗓子疼", {"age_years": 25}),
    ("barking cough at night", {"age_years": 2}),
    ("swollen painful left calf", {"age_years": 50}),
    ("孩子拉肚子呕吐，一天没尿了", {"age_years": 1}),
    ("diabetic with a foot ulcer, red and swollen", {"age_years": 60}),
    ("poked in the eye by a branch, blurry", {"age_years": 40}),
    ("suddenly deaf in my left ear since this morning", {"age_years": 50}),
    ("孕20周，尿频尿痛", {"sex": "female"}),
    ("pregnant, vomiting all day, can't keep water down", {"sex": "female"}),
    ("右上腹痛，发烧", {"age_years": 45}),
    ("twisted my ankle and can't put any weight on it", {"age_years": 30}),
])
def test_same_day_problems_are_urgent_not_emergencies(text, known):
    assert triage(text, **known).level == "urgent"


@pytest.mark.parametrize("text, known", [
    ("baby drooling a lot, teething, temp 37.3", {"age_months": 7}),
    ("burned my finger on the kettle, small red patch", {"age_years": 30}),
    ("sprained my ankle, can walk on it fine", {"age_years": 25}),
    ("stiff neck after sleeping awkwardly", {"age_years": 30}),
    ("mouth ulcer for 4 days", {"age_years": 30}),
    ("period cramps same as usual", {"age_years": 22, "sex": "female"}),
    ("got sunburnt at the beach", {"age_years": 20}),
    ("dandruff", {"age_years": 20}),
    ("脚气，脚趾缝很痒", {"age_years": 30}),
    ("晕船，想买点药", {"age_years": 30}),
    ("kid bumped his head on the table, cried straight away, now playing normally", {"age_years": 4}),
    ("back ache after gardening yesterday", {"age_years": 35}),
    ("my eyes are red and itchy, hay fever", {"age_years": 25}),
])
def test_minor_complaints_without_red_flags_or_risk_factors_are_self_care(text, known):
    result = triage(text, **known)
    assert result.level == "self_care" and not result.red_flags, [r.rule for r in result.reasons]


def test_drooling_or_a_throat_foreign_body_is_not_anaphylaxis():
    for text in ("drooling", "fish bone in my throat", "can swallow my spit ok"):
        assert "rf-anaphylaxis" not in [f.key for f in triage(text).red_flags], text


def test_risk_factors_lift_minor_complaints():
    assert triage("back ache for 3 weeks", age_years=35).level == "routine"
    assert triage("back ache", age_years=70).level == "routine"
    assert triage("mouth ulcer for 4 weeks", age_years=30).level == "routine"
    assert triage("small burn with a blister", age_years=30).level == "routine"
    assert triage("burned my hand on the stove", age_years=30).level == "emergency"


def test_every_interview_below_emergency_ends_with_the_safety_screen():
    from smartcare.knowledge.triage import safety_screen

    answers: dict = {}
    for _ in range(10):  # answer whatever is asked with "no" / mild, until nothing is left
        result = assess(Presentation(text="dandruff for a month", age_years=30, sex="female", answers=answers))
        if not result.follow_up:
            break
        for q in result.follow_up:
            answers[q.id] = {"yes_no": False, "scale": 2}.get(q.kind, q.options[-1]["value"] if q.options else 2)
    assert set(safety_screen()) <= set(answers), "every safety-screen question was asked"
    assert not result.follow_up and result.level in ("routine", "self_care")


@pytest.mark.parametrize(("question", "rule"), [("self_harm", "rf-suicide"),
                                                ("bleeding_uncontrolled", "rf-severe-bleeding")])
def test_a_yes_on_the_safety_screen_is_an_emergency_whatever_the_words_said(question, rule):
    result = assess(Presentation(text="dandruff for a month", age_years=30, answers={question: True}))
    assert result.level == "emergency" and rule in {f.key for f in result.red_flags}
