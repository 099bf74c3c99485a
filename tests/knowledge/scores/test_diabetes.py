"""FINDRISC and the Chinese Diabetes Risk Score: every band boundary, whole people, categories and refusals."""

import pytest

from smartcare.knowledge.scores import diabetes
from smartcare.knowledge.scores.base import ScoreInputError

# A person who scores 0 on every FINDRISC item; each test changes what it needs.
FINDRISC_ZERO = {"age": 40, "sex": "female", "bmi": 22.0, "waist": 70.0, "physically_active": True,
                 "vegetables_daily": True, "antihypertensive_medication": False, "high_glucose_history": False,
                 "family_history": "none"}
# A person who scores 0 on every Chinese Diabetes Risk Score item.
CDS_ZERO = {"age": 20, "sex": "female", "bmi": 20.0, "waist": 65.0, "systolic_bp": 100, "family_history": False}


def _findrisc(**change):
    return diabetes.findrisc(**{**FINDRISC_ZERO, **change})


def _cds(**change):
    return diabetes.cds_diabetes_risk(**{**CDS_ZERO, **change})


def _calculator(name):
    return next(c for c in diabetes.CALCULATORS if c.name == name)


def test_the_zero_people_score_zero():
    assert _findrisc().value == 0
    assert _findrisc().category == "low"
    assert _cds().value == 0
    assert _cds().category == "low"


# FINDRISC form, item 1: under 45 years 0, 45-54 2, 55-64 3, over 64 4.
@pytest.mark.parametrize(("age", "points"), [
    (18, 0), (44, 0), (45, 2), (54, 2), (55, 3), (64, 3), (65, 4), (90, 4)])
def test_findrisc_age_boundaries(age, points):
    assert _findrisc(age=age).detail["points"]["age"] == points


# Item 2: lower than 25 kg/m2 0, 25-30 1, higher than 30 3.
@pytest.mark.parametrize(("bmi", "points"), [(24.9, 0), (25.0, 1), (30.0, 1), (30.1, 3), (45.0, 3)])
def test_findrisc_bmi_boundaries(bmi, points):
    assert _findrisc(bmi=bmi).detail["points"]["bmi"] == points


# Item 3: men less than 94 cm 0, 94-102 3, more than 102 4; women less than 80 0, 80-88 3, more than 88 4.
@pytest.mark.parametrize(("sex", "waist", "points"), [
    ("male", 93.9, 0), ("male", 94.0, 3), ("male", 102.0, 3), ("male", 102.1, 4),
    ("female", 79.9, 0), ("female", 80.0, 3), ("female", 88.0, 3), ("female", 88.1, 4),
    ("male", 85.0, 0)])
def test_findrisc_waist_boundaries_by_sex(sex, waist, points):
    assert _findrisc(sex=sex, waist=waist).detail["points"]["waist"] == points


@pytest.mark.parametrize(("change", "item", "points"), [
    ({"physically_active": False}, "physically_active", 2),
    ({"vegetables_daily": False}, "vegetables_daily", 1),
    ({"antihypertensive_medication": True}, "antihypertensive_medication", 2),
    ({"high_glucose_history": True}, "high_glucose_history", 5),
    ({"family_history": "second_degree"}, "family_history", 3),
    ({"family_history": "first_degree"}, "family_history", 5)])
def test_findrisc_yes_no_and_family_items(change, item, points):
    result = _findrisc(**change)
    assert result.detail["points"][item] == points
    assert result.value == points


# Each total is the sum of the points listed in its comment, from the form's table.
@pytest.mark.parametrize(("change", "total", "category", "estimate"), [
    ({"age": 55, "bmi": 25.0, "antihypertensive_medication": True}, 6, "low", "about 1 in 100"),  # 3+1+2
    ({"age": 55, "bmi": 25.0, "physically_active": False, "vegetables_daily": False}, 7,  # 3+1+2+1
     "slightly_elevated", "about 1 in 25"),
    ({"high_glucose_history": True, "family_history": "first_degree", "vegetables_daily": False}, 11,  # 5+5+1
     "slightly_elevated", "about 1 in 25"),
    ({"high_glucose_history": True, "family_history": "first_degree", "physically_active": False}, 12,  # 5+5+2
     "moderate", "about 1 in 6"),
    ({"high_glucose_history": True, "family_history": "first_degree", "age": 65}, 14,  # 5+5+4
     "moderate", "about 1 in 6"),
    ({"high_glucose_history": True, "family_history": "first_degree", "age": 65, "vegetables_daily": False}, 15,
     "high", "about 1 in 3"),  # 5+5+4+1
    ({"high_glucose_history": True, "family_history": "first_degree", "age": 65, "bmi": 31.0,
      "physically_active": False, "vegetables_daily": False}, 20, "high", "about 1 in 3"),  # 5+5+4+3+2+1
    ({"high_glucose_history": True, "family_history": "first_degree", "age": 65, "bmi": 31.0, "sex": "male",
      "waist": 103.0}, 21, "very_high", "about 1 in 2"),  # 5+5+4+3+4
])
def test_findrisc_category_boundaries(change, total, category, estimate):
    result = _findrisc(**change)
    assert (result.value, result.category, result.detail["ten_year_risk"]) == (total, category, estimate)


def test_findrisc_highest_possible_total_is_26():
    result = _findrisc(age=70, sex="male", bmi=35.0, waist=110.0, physically_active=False, vegetables_daily=False,
                       antihypertensive_medication=True, high_glucose_history=True, family_history="first_degree")
    assert result.value == 26  # 4+3+4+2+1+2+5+5
    assert result.category == "very_high"
    assert result.detail["ten_year_risk_zh"] == "约1/2"


def test_findrisc_whole_person_a_58_year_old_man():
    # Worked by hand from the form's table: age 55-64 3, BMI 28.4 (25-30) 1, waist 99 cm (94-102, man) 3,
    # not active daily 2, vegetables daily 0, blood-pressure medicines 2, no high glucose 0, father diabetic 5 = 16.
    result = diabetes.findrisc(age=58, sex="male", bmi=28.4, waist=99.0, physically_active=False,
                               vegetables_daily=True, antihypertensive_medication=True, high_glucose_history=False,
                               family_history="first_degree")
    assert result.value == 16
    assert result.category == "high"
    assert result.detail["ten_year_risk"] == "about 1 in 3"
    assert result.detail["points"] == {"age": 3, "bmi": 1, "waist": 3, "physically_active": 2, "vegetables_daily": 0,
                                       "antihypertensive_medication": 2, "high_glucose_history": 0,
                                       "family_history": 5}


def test_findrisc_whole_person_a_47_year_old_woman_over_json():
    # Worked by hand from the form's table: age 45-54 2, BMI 31.2 (over 30) 3, waist 86 cm (80-88, woman) 3,
    # active daily 0, no vegetables daily 1, no medicines 0, high glucose in pregnancy 5, an aunt diabetic 3 = 17.
    result = _calculator("findrisc").run({
        "age": 47, "sex": "female", "bmi": 31.2, "waist": 86, "physically_active": True, "vegetables_daily": False,
        "antihypertensive_medication": False, "high_glucose_history": True, "family_history": "second_degree"})
    assert (result.value, result.category) == (17, "high")
    assert result.as_json(zh=True)["detail"]["ten_year_risk_zh"] == "约1/3"


def test_findrisc_waist_in_inches_is_converted():
    # 40 inches is 101.6 cm: a man's 94-102 band, 3 points.
    result = _calculator("findrisc").run({**FINDRISC_ZERO, "sex": "male", "waist": {"value": 40, "unit": "[in_i]"}})
    assert result.detail["points"]["waist"] == 3
    assert result.inputs["waist"] == pytest.approx(101.6)


def test_findrisc_warns_outside_the_ages_it_was_derived_on():
    assert "outside-study-ages" in {n.code for n in _findrisc(age=30).warnings}
    assert "outside-study-ages" in {n.code for n in _findrisc(age=70).warnings}
    assert "outside-study-ages" not in {n.code for n in _findrisc(age=50).warnings}


# 中国糖尿病风险评分表, 年龄: 20~24 0; 25~34 4; 35~39 8; 40~44 11; 45~49 12; 50~54 13; 55~59 15; 60~64 16; 65~74 18.
@pytest.mark.parametrize(("age", "points"), [
    (20, 0), (24, 0), (25, 4), (34, 4), (35, 8), (39, 8), (40, 11), (44, 11), (45, 12), (49, 12), (50, 13),
    (54, 13), (55, 15), (59, 15), (60, 16), (64, 16), (65, 18), (74, 18)])
def test_cds_age_boundaries(age, points):
    assert _cds(age=age).detail["points"]["age"] == points


# 收缩压: <110 0; 110~119 1; 120~129 3; 130~139 6; 140~149 7; 150~159 8; >=160 10.
@pytest.mark.parametrize(("sbp", "points"), [
    (109, 0), (110, 1), (119, 1), (120, 3), (129, 3), (130, 6), (139, 6), (140, 7), (149, 7), (150, 8), (159, 8),
    (160, 10), (220, 10)])
def test_cds_systolic_boundaries(sbp, points):
    assert _cds(systolic_bp=sbp).detail["points"]["systolic_bp"] == points


# 体质指数: <22.0 0; 22.0~23.9 1; 24.0~29.9 3; >=30.0 5.
@pytest.mark.parametrize(("bmi", "points"), [
    (21.9, 0), (22.0, 1), (23.9, 1), (24.0, 3), (29.9, 3), (30.0, 5)])
def test_cds_bmi_boundaries(bmi, points):
    assert _cds(bmi=bmi).detail["points"]["bmi"] == points


# 腰围: 男 <75.0 / 女 <70.0 0; 75.0~79.9 / 70.0~74.9 3; 80.0~84.9 / 75.0~79.9 5; 85.0~89.9 / 80.0~84.9 7;
# 90.0~94.9 / 85.0~89.9 8; >=95.0 / >=90.0 10.
@pytest.mark.parametrize(("sex", "waist", "points"), [
    ("male", 74.9, 0), ("male", 75.0, 3), ("male", 79.9, 3), ("male", 80.0, 5), ("male", 84.9, 5), ("male", 85.0, 7),
    ("male", 89.9, 7), ("male", 90.0, 8), ("male", 94.9, 8), ("male", 95.0, 10),
    ("female", 69.9, 0), ("female", 70.0, 3), ("female", 74.9, 3), ("female", 75.0, 5), ("female", 79.9, 5),
    ("female", 80.0, 7), ("female", 84.9, 7), ("female", 85.0, 8), ("female", 89.9, 8), ("female", 90.0, 10)])
def test_cds_waist_boundaries_by_sex(sex, waist, points):
    assert _cds(sex=sex, waist=waist).detail["points"]["waist"] == points


def test_cds_family_history_scores_6_and_male_sex_2():
    assert _cds(family_history=True).detail["points"]["family_history"] == 6
    assert _cds(family_history=True).value == 6
    assert _cds(sex="male").detail["points"]["sex"] == 2
    assert _cds(sex="male").value == 2


def test_cds_screen_from_25():
    below = _cds(age=65, family_history=True)  # 18+6
    assert (below.value, below.category) == (24, "low")
    at = _cds(age=65, family_history=True, bmi=22.0)  # 18+6+1
    assert (at.value, at.category) == (25, "screen")
    assert at.detail["screen_from"] == 25


def test_cds_whole_person_a_52_year_old_man():
    # Worked by hand from the guideline's table: age 50~54 13, male 2, BMI 26.3 (24.0~29.9) 3,
    # waist 88 cm (man 85.0~89.9) 7, systolic 136 (130~139) 6, no family history 0 = 31: screen with an OGTT.
    result = diabetes.cds_diabetes_risk(age=52, sex="male", bmi=26.3, waist=88.0, systolic_bp=136,
                                        family_history=False)
    assert (result.value, result.category) == (31, "screen")
    assert result.detail["points"] == {"age": 13, "sex": 2, "bmi": 3, "waist": 7, "systolic_bp": 6,
                                       "family_history": 0}


def test_cds_whole_person_a_30_year_old_woman_over_json():
    # Worked by hand from the guideline's table: age 25~34 4, female 0, BMI 21.5 (<22.0) 0, waist 68 cm
    # (woman <70.0) 0, systolic 112 (110~119) 1, mother diabetic 6 = 11: low.
    result = _calculator("cds-diabetes-risk").run({"age": 30, "sex": "female", "bmi": 21.5, "waist": 68,
                                                   "systolic_bp": 112, "family_history": True})
    assert (result.value, result.category) == (11, "low")
    assert _calculator("cds-diabetes-risk").label(result.category, zh=True) == "低风险"


def test_cds_highest_possible_total_is_51():
    # 65~74 18, male 2, BMI >=30.0 5, waist >=95.0 10, systolic >=160 10, family history 6.
    result = _cds(age=70, sex="male", bmi=32.0, waist=100.0, systolic_bp=170, family_history=True)
    assert (result.value, result.category) == (51, "screen")


def test_cds_systolic_in_kilopascals_is_converted():
    # 18.0 kPa is 135.0 mmHg: the 130~139 band, 6 points.
    result = _calculator("cds-diabetes-risk").run({**CDS_ZERO, "systolic_bp": {"value": 18.0, "unit": "kPa"}})
    assert result.detail["points"]["systolic_bp"] == 6


@pytest.mark.parametrize("age", [19, 75, 80])
def test_cds_refuses_ages_outside_20_to_74(age):
    with pytest.raises(ScoreInputError) as caught:
        _cds(age=age)
    assert caught.value.problems == {
        "age": f"{age} is outside the range this calculator is defined for (from 20 to 74 a)"}


@pytest.mark.parametrize("name", ["findrisc", "cds-diabetes-risk"])
def test_a_missing_item_is_refused(name):
    zero = FINDRISC_ZERO if name == "findrisc" else CDS_ZERO
    raw = {k: v for k, v in zero.items() if k not in ("waist", "family_history")}
    with pytest.raises(ScoreInputError) as caught:
        _calculator(name).run(raw)
    assert caught.value.problems == {"waist": "is required", "family_history": "is required"}


def test_the_typed_function_refuses_a_missing_item_too():
    with pytest.raises(ScoreInputError) as caught:
        _findrisc(high_glucose_history=None)
    assert caught.value.problems == {"high_glucose_history": "is required"}


@pytest.mark.parametrize("waist", [39.9, 200.5])
def test_waist_out_of_range_is_refused(waist):
    for run in (_findrisc, _cds):
        with pytest.raises(ScoreInputError) as caught:
            run(waist=waist)
        assert caught.value.problems == {
            "waist": f"{waist:g} is outside the range this calculator is defined for (from 40 to 200 cm)"}


def test_bmi_given_as_text_is_refused():
    with pytest.raises(ScoreInputError) as caught:
        _findrisc(bmi="27")
    assert caught.value.problems == {"bmi": "must be a number"}
    with pytest.raises(ScoreInputError) as caught:
        _calculator("cds-diabetes-risk").run({**CDS_ZERO, "bmi": "27.5"})
    assert caught.value.problems == {"bmi": "must be a number"}


def test_an_unknown_family_answer_and_a_fractional_age_are_refused():
    with pytest.raises(ScoreInputError) as caught:
        _findrisc(family_history="sibling", age=50.5)
    assert caught.value.problems == {"family_history": "must be one of none, second_degree, first_degree",
                                     "age": "must be a whole number"}


def test_both_calculators_are_catalogued_with_their_sources():
    names = {c.name: c for c in diabetes.CALCULATORS}
    assert set(names) == {"findrisc", "cds-diabetes-risk"}
    assert set(names["findrisc"].categories) == {"low", "slightly_elevated", "moderate", "high", "very_high"}
    assert set(names["cds-diabetes-risk"].categories) == {"low", "screen"}
    assert "Lindström J, Tuomilehto J" in names["findrisc"].source
    assert "Diabetes Care 2013;36:3944-52" in names["cds-diabetes-risk"].source
    assert "中国2型糖尿病防治指南" in names["cds-diabetes-risk"].source
