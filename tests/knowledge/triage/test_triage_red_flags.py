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


def test_text_that_names_no_symptom_asks_the_high_risk_screen():
    result = triage("I just don't feel right")
    assert result.level == "routine" and result.reasons[0].rule == "nothing-recognised"
    assert [q.id for q in result.follow_up][:2] == ["breathing_at_rest", "stroke_signs"]
