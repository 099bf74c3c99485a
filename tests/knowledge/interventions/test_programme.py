"""Intervention programmes: guideline targets by risk, nothing guessed when unknown, and the rules' sources."""

from pathlib import Path

import pytest
import yaml

from smartcare.knowledge.interventions import programme as module
from smartcare.knowledge.interventions.programme import RiskProfile, programme

PLAN_TEMPLATES = Path(module.__file__).parents[2] / "family" / "monitoring" / "data" / "plan_templates.yaml"
NONE_KNOWN = frozenset()


def _goal(result, key):
    return next((goal for goal in result.goals if goal.key == key), None)


def _targets(goal):
    return [(target.measure, target.comparator, target.value) for target in goal.targets]


def _activities(result):
    return {activity.key for activity in result.activities}


def _missing(result):
    return {item.field: item.needed_for for item in result.missing}


# The brief's first case: a 58-year-old man with diabetes who smokes, BP 150/92, LDL 3.8, HbA1c 7.8.

@pytest.fixture
def diabetic_smoker():
    return programme(RiskProfile(age=58, sex="male", smoker=True, systolic_bp=150, diastolic_bp=92, ldl_mmol=3.8,
                                 hba1c_percent=7.8, on_bp_treatment=True, conditions=frozenset({"diabetes"})))


def test_diabetic_smoker_gets_the_diabetes_targets(diabetic_smoker):
    bp = _goal(diabetic_smoker, "blood_pressure")
    assert _targets(bp) == [("systolic", "<", 130), ("diastolic", "<", 80)]
    assert (bp.level, bp.status) == ("diabetes", "achieve")
    assert [(target.loinc, target.unit, target.start) for target in bp.targets] == [
        ("8480-6", "mm[Hg]", 150), ("8462-4", "mm[Hg]", 92)]
    # 2023 Chinese lipid guideline: diabetes at 40 or over is high risk, LDL-C < 2.6 mmol/L.
    ldl = _goal(diabetic_smoker, "ldl")
    assert _targets(ldl) == [("ldl", "<", 2.6)]
    assert (ldl.level, ldl.targets[0].loinc, ldl.targets[0].start) == ("high_risk_diabetes", "22748-8", 3.8)
    hba1c = _goal(diabetic_smoker, "hba1c")
    assert _targets(hba1c) == [("hba1c", "<", 7.0)]
    assert hba1c.targets[0].loinc == "4548-4"
    smoking = _goal(diabetic_smoker, "smoking")
    assert smoking.status == "achieve"
    assert smoking.targets[0].loinc == "72166-2"
    assert (smoking.targets[0].code.code, smoking.targets[0].start_code.code) == ("8517006", "77176002")


def test_diabetic_smoker_gets_reviews_monitoring_and_education(diabetic_smoker):
    activities = _activities(diabetic_smoker)
    assert {"bp_medication_review", "lipid_medication_review", "glucose_medication_review",
            "smoking_medication_review", "smoking_cessation_support"} <= activities
    kinds = {activity.key: activity.kind for activity in diabetic_smoker.activities}
    assert kinds["bp_medication_review"] == "medication_review"
    assert "doctor" in next(a for a in diabetic_smoker.activities if a.key == "bp_medication_review").text_en
    monitoring = {a.key: a for a in diabetic_smoker.activities if a.kind == "monitoring"}
    assert monitoring["bp_home_monitoring_daily"].monitoring_template == "hypertension"
    assert monitoring["glucose_home_monitoring"].monitoring_template == "diabetes"
    topics = {activity.topic for activity in diabetic_smoker.activities}
    assert {"hypertension", "diabetes", "smoking", "cholesterol"} <= topics
    assert (diabetic_smoker.follow_up.first_review_in_days, diabetic_smoker.follow_up.every_days) == (30, 90)


def test_diabetic_smoker_reasons_name_the_facts_that_fired(diabetic_smoker):
    reasons = {reason.about: reason for reason in diabetic_smoker.reasons}
    assert "diabetes recorded" in reasons["goal:blood_pressure"].text_en
    assert "已记录糖尿病" in reasons["goal:blood_pressure"].text_zh
    assert "age 58 years (≥ 40)" in reasons["goal:ldl"].text_en
    assert "中国血脂管理指南（2023年）" in reasons["goal:ldl"].source
    assert {f"activity:{key}" for key in _activities(diabetic_smoker)} <= set(reasons)


def test_diabetic_smoker_missing_lists_what_was_not_asked(diabetic_smoker):
    missing = _missing(diabetic_smoker)
    assert {"bmi", "waist_cm", "physically_active", "diet_ok", "alcohol_units_week"} <= set(missing)
    assert "systolic_bp" not in missing


def test_nothing_known_gives_only_missing_entries():
    result = programme(RiskProfile(age=45))
    assert result.goals == ()
    assert result.activities == ()
    missing = _missing(result)
    assert {"systolic_bp", "diastolic_bp", "smoker", "ldl_mmol", "bmi", "waist_cm", "physically_active", "diet_ok",
            "alcohol_units_week", "conditions"} <= set(missing)
    assert "age" not in missing
    assert "blood_pressure" in missing["systolic_bp"]
    names = {item.field: (item.name_en, item.name_zh) for item in result.missing}
    assert names["smoker"] == ("smoking", "吸烟")
    assert result.follow_up.every_days == 180


def test_82_year_old_gets_the_150_90_first_target():
    result = programme(RiskProfile(age=82, systolic_bp=162, diastolic_bp=84,
                                   conditions=frozenset({"hypertension", "diabetes"})))
    bp = _goal(result, "blood_pressure")
    assert _targets(bp) == [("systolic", "<", 150), ("diastolic", "<", 90)]
    assert bp.level == "age_80_and_over"
    assert [target.met for target in bp.targets] == [False, True]
    assert bp.status == "achieve"


@pytest.mark.parametrize(("profile", "level", "systolic", "diastolic"), [
    (dict(age=50, conditions=frozenset({"hypertension"})), "general", 140, 90),
    (dict(age=70, conditions=frozenset({"hypertension"})), "age_65_to_79", 140, 90),
    (dict(age=50, conditions=frozenset({"hypertension", "ckd"}), proteinuria=True), "ckd_with_proteinuria", 130, 80),
    (dict(age=50, conditions=frozenset({"hypertension", "ckd"}), proteinuria=False), "general", 140, 90),
    (dict(age=50, conditions=frozenset({"hypertension", "ascvd"})), "ascvd", 130, 80),
    (dict(age=79, conditions=frozenset({"hypertension", "diabetes"})), "diabetes", 130, 80),
    (dict(age=80, conditions=frozenset({"hypertension", "diabetes"})), "age_80_and_over", 150, 90),
])
def test_blood_pressure_targets(profile, level, systolic, diastolic):
    bp = _goal(programme(RiskProfile(systolic_bp=145, diastolic_bp=85, **profile)), "blood_pressure")
    assert bp.level == level
    assert _targets(bp) == [("systolic", "<", systolic), ("diastolic", "<", diastolic)]


def test_unknown_proteinuria_in_ckd_leaves_the_bp_target_undecided():
    result = programme(RiskProfile(age=50, systolic_bp=145, diastolic_bp=85,
                                   conditions=frozenset({"hypertension", "ckd"})))
    assert _goal(result, "blood_pressure") is None
    assert _missing(result)["proteinuria"] == ("blood_pressure",)


def test_unknown_age_leaves_the_bp_target_undecided():
    result = programme(RiskProfile(systolic_bp=145, diastolic_bp=85, conditions=frozenset({"hypertension"})))
    assert _goal(result, "blood_pressure") is None
    assert "blood_pressure" in _missing(result)["age"]


def test_a_raised_reading_without_a_diagnosis_still_sets_a_goal():
    result = programme(RiskProfile(age=50, systolic_bp=152, diastolic_bp=88, conditions=NONE_KNOWN))
    bp = _goal(result, "blood_pressure")
    assert (bp.level, bp.status) == ("general", "achieve")


def test_a_normal_reading_with_unknown_conditions_asks_for_nothing():
    result = programme(RiskProfile(age=50, systolic_bp=112, diastolic_bp=70))
    assert _goal(result, "blood_pressure") is None
    assert "systolic_bp" not in _missing(result)
    assert "blood_pressure" not in _missing(result).get("conditions", ())


# Already at target: kept as "maintain" for a managed condition, no goal otherwise (decided: a goal the person has
# already met is shown only where the condition is under long-term management).

def test_hypertension_at_target_is_a_maintain_goal_with_weekly_home_readings():
    result = programme(RiskProfile(age=50, systolic_bp=126, diastolic_bp=78, on_bp_treatment=True,
                                   conditions=frozenset({"hypertension"})))
    bp = _goal(result, "blood_pressure")
    assert bp.status == "maintain"
    assert {"bp_home_monitoring_weekly", "hypertension_education"} <= _activities(result)
    assert "bp_medication_review" not in _activities(result)
    weekly = next(a for a in result.activities if a.key == "bp_home_monitoring_weekly")
    assert (weekly.timing.frequency, weekly.timing.unit, weekly.monitoring_template) == (2, "wk", "hypertension")


def test_at_target_without_a_managed_condition_gives_no_goal():
    result = programme(RiskProfile(age=50, systolic_bp=126, diastolic_bp=78, smoker=False, physically_active=True,
                                   diet_ok=True, alcohol_units_week=4, conditions=NONE_KNOWN))
    assert {goal.key for goal in result.goals} == set()
    assert not {"blood_pressure", "smoking", "physical_activity", "salt", "alcohol"} & {
        goal for goals in _missing(result).values() for goal in goals}


def test_known_diagnosis_without_a_reading_is_a_measure_goal():
    result = programme(RiskProfile(age=60, conditions=frozenset({"diabetes"})))
    hba1c = _goal(result, "hba1c")
    assert (hba1c.status, hba1c.targets[0].start, hba1c.targets[0].met) == ("measure", None, None)
    assert _missing(result)["hba1c_percent"] == ("hba1c",)
    assert "hba1c_test_quarterly" in _activities(result)
    assert "glucose_medication_review" not in _activities(result)


# Lipids (中国血脂管理指南 2023): very high < 1.8, high < 2.6, low/moderate < 3.4 mmol/L.

@pytest.mark.parametrize(("profile", "level", "target"), [
    (dict(age=60, conditions=frozenset({"ascvd"})), "very_high_risk", 1.8),
    (dict(age=50, ldl_mmol=5.2, conditions=NONE_KNOWN), "high_risk_ldl", 2.6),
    (dict(age=50, ldl_mmol=3.0, total_cholesterol_mmol=7.4, conditions=NONE_KNOWN), "high_risk_ldl", 2.6),
    (dict(age=50, ckd_egfr=45, conditions=frozenset({"ckd"})), "high_risk_ckd", 2.6),
    (dict(age=50, ten_year_ascvd_risk_percent=12.0, conditions=NONE_KNOWN), "high_risk_estimate", 2.6),
    (dict(age=50, ten_year_ascvd_risk_percent=7.0, conditions=NONE_KNOWN), "low_or_moderate_risk", 3.4),
    (dict(age=50, ten_year_ascvd_risk_percent=3.0, conditions=NONE_KNOWN), "low_or_moderate_risk", 3.4),
])
def test_ldl_target_by_risk_level(profile, level, target):
    values = dict(ldl_mmol=3.9, total_cholesterol_mmol=5.5, ckd_egfr=90) | profile
    ldl = _goal(programme(RiskProfile(**values)), "ldl")
    assert (ldl.level, _targets(ldl)) == (level, [("ldl", "<", target)])


def test_ldl_below_the_low_risk_target_gives_no_goal_but_ascvd_keeps_one():
    low = programme(RiskProfile(age=50, ldl_mmol=2.9, total_cholesterol_mmol=5.0, ckd_egfr=95,
                                ten_year_ascvd_risk_percent=4.0, conditions=NONE_KNOWN))
    assert _goal(low, "ldl") is None
    ascvd = programme(RiskProfile(age=60, ldl_mmol=1.6, on_lipid_treatment=True, conditions=frozenset({"ascvd"})))
    assert _goal(ascvd, "ldl").status == "maintain"


def test_ascvd_without_lipid_treatment_gets_a_medication_review_even_at_target():
    result = programme(RiskProfile(age=60, ldl_mmol=1.7, on_lipid_treatment=False, conditions=frozenset({"ascvd"})))
    assert _goal(result, "ldl").status == "maintain"
    assert "lipid_medication_review" in _activities(result)


def test_ldl_without_a_risk_level_is_not_guessed():
    result = programme(RiskProfile(age=50, ldl_mmol=3.0, total_cholesterol_mmol=5.0, ckd_egfr=90,
                                   conditions=NONE_KNOWN))
    assert _goal(result, "ldl") is None
    assert _missing(result)["ten_year_ascvd_risk_percent"] == ("ldl",)


# HbA1c: < 7.0% for most adults (CDS 2020); < 8.0% for an older person with complex health (ADA 2024, table 13.1).

def test_older_frail_person_with_diabetes_gets_the_relaxed_hba1c_target():
    result = programme(RiskProfile(age=76, frail=True, hba1c_percent=7.6, conditions=frozenset({"diabetes"})))
    hba1c = _goal(result, "hba1c")
    assert (hba1c.level, _targets(hba1c), hba1c.status) == ("older_complex_health", [("hba1c", "<", 8.0)], "maintain")
    assert "hba1c_test_half_yearly" in _activities(result)


def test_older_person_with_unknown_frailty_is_asked_for_it():
    result = programme(RiskProfile(age=76, hba1c_percent=7.6, conditions=frozenset({"diabetes"})))
    assert _goal(result, "hba1c") is None
    assert _missing(result)["frail"] == ("hba1c",)


def test_hba1c_in_the_diabetes_range_without_a_diagnosis_is_referred():
    result = programme(RiskProfile(age=50, hba1c_percent=6.8, conditions=NONE_KNOWN))
    assert _goal(result, "hba1c") is None
    assert "diabetes_confirm_referral" in _activities(result)


# Weight: lose 5% in 6 months when BMI >= 24 or waist >= 90 cm (men) / >= 85 cm (women).

def test_bmi_26_and_70_kg_gives_a_target_of_66_5_kg():
    # 70 kg x (1 - 5/100) = 66.5 kg.
    result = programme(RiskProfile(bmi=26, weight_kg=70, sex="female", waist_cm=80))
    weight = _goal(result, "body_weight")
    target = weight.targets[0]
    assert (target.comparator, target.value, target.start, target.unit, target.loinc) == ("<=", 66.5, 70, "kg",
                                                                                          "29463-7")
    assert (weight.status, weight.due_in_days) == ("achieve", 180)
    assert {"weight_plan", "weight_monitoring"} <= _activities(result)
    assert _goal(result, "waist") is None


@pytest.mark.parametrize(("sex", "waist", "weight_goal"), [
    ("male", 92, True), ("male", 88, False), ("female", 86, True), ("female", 84, False)])
def test_waist_alone_triggers_the_weight_goal(sex, waist, weight_goal):
    result = programme(RiskProfile(bmi=22.5, weight_kg=64, sex=sex, waist_cm=waist))
    assert (_goal(result, "body_weight") is not None) is weight_goal
    assert (_goal(result, "waist") is not None) is weight_goal
    if weight_goal:
        assert _goal(result, "waist").targets[0].loinc == "8280-0"


def test_overweight_without_a_weight_is_a_measure_goal():
    result = programme(RiskProfile(bmi=29))
    weight = _goal(result, "body_weight")
    assert (weight.status, weight.targets[0].value) == ("measure", None)
    assert "weight_kg" in _missing(result)


def test_normal_bmi_with_unknown_waist_asks_for_the_waist():
    result = programme(RiskProfile(bmi=22, weight_kg=60, sex="male"))
    assert _goal(result, "body_weight") is None
    assert "body_weight" in _missing(result)["waist_cm"]


# Lifestyle: activity 150 min a week, salt < 5 g, alcohol <= 15 g a day (Dietary Guidelines for Chinese 2022).

def test_lifestyle_goals():
    result = programme(RiskProfile(physically_active=False, diet_ok=False, alcohol_units_week=21))
    assert _targets(_goal(result, "physical_activity")) == [("physical_activity", ">=", 150)]
    assert _targets(_goal(result, "salt")) == [("salt", "<", 5)]
    # 21 UK units x 8 g / 7 days = 24 g a day, above 15 g.
    alcohol = _goal(result, "alcohol")
    assert (_targets(alcohol), alcohol.targets[0].start) == ([("alcohol", "<=", 15)], 24.0)
    assert {"exercise_plan", "diet_plan", "alcohol_plan"} <= _activities(result)
    assert {"exercise", "diet", "alcohol"} <= {activity.topic for activity in result.activities}
    assert "中国居民膳食指南（2022）" in alcohol.source


def test_heavy_drinking_flag_is_read_when_the_amount_is_not_known():
    assert _goal(programme(RiskProfile(heavy_drinking=True)), "alcohol").status == "achieve"
    assert _goal(programme(RiskProfile(heavy_drinking=False)), "alcohol") is None
    # 14 units x 8 / 7 = 16 g a day: the amount decides over the flag.
    assert _goal(programme(RiskProfile(alcohol_units_week=14, heavy_drinking=False)), "alcohol") is not None


def test_very_high_blood_pressure_is_referred_today():
    result = programme(RiskProfile(age=50, systolic_bp=184, diastolic_bp=100, conditions=NONE_KNOWN))
    referral = next(a for a in result.activities if a.key == "bp_very_high_referral")
    assert referral.kind == "referral"
    assert "today" in referral.text_en


def test_poor_adherence_asks_for_a_medication_review():
    result = programme(RiskProfile(adherence_ok=False))
    assert "adherence_review" in _activities(result)


def test_wrong_input_is_refused():
    with pytest.raises(ValueError, match="sex"):
        programme(RiskProfile(sex="m"))
    with pytest.raises(ValueError, match="heart_failure"):
        programme(RiskProfile(conditions=frozenset({"heart_failure"})))


# Consistency of the rules.

def _rules_with_text():
    data = module.rules()
    for goal in data["goals"]:
        yield f"goal {goal['key']}", goal
        for level in goal["levels"]:
            yield f"goal {goal['key']} level {level['key']}", level
    for activity in data["activities"]:
        yield f"activity {activity['key']}", activity
    for schedule in data["follow_up"]["schedules"]:
        yield f"follow-up {schedule['key']}", schedule


def test_every_rule_has_both_languages_and_a_source():
    for name, rule in _rules_with_text():
        assert rule.get("en") and rule.get("zh"), name
        assert any("\u4e00" <= char <= "\u9fff" for char in rule["zh"]), name
        if "levels" not in rule:
            assert len(rule.get("source", "")) > 20, name


def test_rules_refer_only_to_known_fields_measures_goals_and_templates():
    data = module.rules()
    fields = set(data["fields"])
    goals = {goal["key"] for goal in data["goals"]}
    templates = set(yaml.safe_load(PLAN_TEMPLATES.read_text(encoding="utf-8"))["templates"])
    profile_fields = set(RiskProfile.__dataclass_fields__) | {"alcohol_grams_day"}
    assert fields == profile_fields

    def walk(node):
        if node == "always":
            return
        assert isinstance(node, dict) and len(node) in (1, 2, 3), node
        if "all" in node or "any" in node:
            for part in node.get("all", node.get("any")):
                walk(part)
        elif "not" in node:
            walk(node["not"])
        elif "has" in node:
            assert node["has"] in data["conditions"]
        elif "goal" in node:
            assert node["goal"] in goals and set(node["status"]) <= set(module.STATUSES)
        else:
            assert node["field"] in fields and node["op"] in module._OPS

    for goal in data["goals"]:
        walk(goal.get("kept_when", "always"))
        for level in goal["levels"]:
            walk(level["when"])
            assert {target["measure"] for target in level["targets"]} <= set(data["measures"])
    for activity in data["activities"]:
        walk(activity["when"])
        assert activity["kind"] in module.KINDS
        assert activity.get("monitoring_template") in templates | {None}
    for schedule in data["follow_up"]["schedules"]:
        walk(schedule["when"])
    assert data["follow_up"]["schedules"][-1]["when"] == "always"
