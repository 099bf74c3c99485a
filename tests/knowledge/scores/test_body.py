"""BMI and waist categories for Chinese adults (WS/T 428-2013) and blood-pressure grades (Chinese guideline 2018)."""

import pytest

from smartcare.knowledge.scores import body
from smartcare.knowledge.scores.base import ScoreInputError


@pytest.mark.parametrize(("weight", "category"), [
    # 170 cm: BMI = weight / 1.7^2 = weight / 2.89.
    (53.4, "normal"),  # 18.48 -> 18.5: the category is read from the BMI as shown, to one decimal
    (53.3, "underweight"),  # 18.44 -> 18.4
    (69.1, "normal"),  # 23.91 -> 23.9
    (69.3, "overweight"),  # 23.98 -> 24.0, the Chinese cut point (24, not the WHO 25)
    (80.8, "obese"),  # 27.96 -> 28.0
    (80.6, "overweight"),  # 27.89 -> 27.9
    (81.0, "obese"),  # 28.03 -> 28.0
])
def test_bmi_bands_use_the_chinese_cut_points_on_the_rounded_bmi(weight, category):
    result = body.bmi_chinese_adult(height=170, weight=weight, age=40)
    assert result.unit == "kg/m2"
    expected_bmi = round(weight / 2.89, 1)
    assert result.value == expected_bmi
    assert result.category == body.bmi_category(expected_bmi)
    assert result.category == category


def test_bmi_boundaries_exactly():
    assert body.bmi_category(18.4) == "underweight"
    assert body.bmi_category(18.5) == "normal"
    assert body.bmi_category(23.9) == "normal"
    assert body.bmi_category(24.0) == "overweight"
    assert body.bmi_category(27.9) == "overweight"
    assert body.bmi_category(28.0) == "obese"


@pytest.mark.parametrize(("sex", "waist", "category"), [
    ("male", 84.9, "normal"), ("male", 85, "pre_central_obesity"), ("male", 89.9, "pre_central_obesity"),
    ("male", 90, "central_obesity"), ("female", 79.9, "normal"), ("female", 80, "pre_central_obesity"),
    ("female", 85, "central_obesity"),
])
def test_waist_categories_differ_by_sex(sex, waist, category):
    result = body.bmi_chinese_adult(height=160, weight=60, age=50, sex=sex, waist=waist)
    assert result.detail["waist_category"] == category


def test_a_waist_without_sex_is_not_categorised_and_says_why():
    result = body.bmi_chinese_adult(height=160, weight=60, age=50, waist=88)
    assert "waist_category" not in result.detail
    assert [n.code for n in result.warnings] == ["waist-needs-sex"]
    assert "性别" in result.warnings[0].text_zh


def test_height_in_metres_converts_through_the_catalogue():
    calculator = next(c for c in body.CALCULATORS if c.name == "bmi-chinese-adult")
    in_cm = calculator.run({"height": 175, "weight": 70, "age": 30})
    in_m = calculator.run({"height": {"value": 1.75, "unit": "m"}, "weight": 70, "age": 30})
    assert in_cm.value == in_m.value == 22.9


def test_children_are_refused_with_the_range():
    with pytest.raises(ScoreInputError) as caught:
        body.bmi_chinese_adult(height=140, weight=35, age=12)
    assert "from 18 to 120" in caught.value.problems["age"]


@pytest.mark.parametrize(("systolic", "diastolic", "category", "grade"), [
    (119, 79, "normal", 0), (120, 79, "high_normal", 0), (119, 80, "high_normal", 0), (139, 89, "high_normal", 0),
    (140, 70, "grade_1", 1), (130, 90, "grade_1", 1), (159, 99, "grade_1", 1), (160, 85, "grade_2", 2),
    (150, 100, "grade_2", 2), (179, 109, "grade_2", 2), (180, 80, "grade_3", 3), (150, 110, "grade_3", 3),
])
def test_bp_grade_takes_the_higher_of_systolic_and_diastolic(systolic, diastolic, category, grade):
    result = body.bp_grade_china(systolic_bp=systolic, diastolic_bp=diastolic)
    assert (result.category, result.value) == (category, grade)
    assert result.detail["hypertension"] is (grade > 0)


def test_isolated_systolic_hypertension_is_flagged():
    assert body.bp_grade_china(systolic_bp=165, diastolic_bp=85).detail["isolated_systolic_hypertension"] is True
    assert body.bp_grade_china(systolic_bp=165, diastolic_bp=95).detail["isolated_systolic_hypertension"] is False


def test_a_normal_reading_on_medicines_is_still_hypertension():
    result = body.bp_grade_china(systolic_bp=128, diastolic_bp=78, on_treatment=True)
    assert result.category == "high_normal"
    assert result.detail["hypertension"] is True
    assert "controlled-on-treatment" in [n.code for n in result.warnings]


def test_impossible_pressures_are_refused():
    with pytest.raises(ScoreInputError, match="lower than the systolic"):
        body.bp_grade_china(systolic_bp=90, diastolic_bp=95)
    with pytest.raises(ScoreInputError) as caught:
        body.bp_grade_china(systolic_bp=400, diastolic_bp=80.5)
    assert set(caught.value.problems) == {"systolic_bp", "diastolic_bp"}
    assert "whole number" in caught.value.problems["diastolic_bp"]
