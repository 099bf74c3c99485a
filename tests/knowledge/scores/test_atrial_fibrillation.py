"""CHA2DS2-VASc and HAS-BLED: each item's points, the age boundaries, categories by sex, totals and refusals."""

import pytest

from smartcare.knowledge.scores import CALCULATORS, ScoreInputError, calculate
from smartcare.knowledge.scores.atrial_fibrillation import cha2ds2_vasc, has_bled

# A 50-year-old man with none of the risk factors scores 0; each test adds what it checks.
NO_STROKE_RISK = {"age": 50, "sex": "male", "congestive_heart_failure": False, "hypertension": False,
                  "diabetes": False, "stroke_tia_thromboembolism": False, "vascular_disease": False}
NO_BLEEDING_RISK = {"uncontrolled_hypertension": False, "abnormal_renal_function": False,
                    "abnormal_liver_function": False, "stroke": False, "bleeding": False, "labile_inr": False,
                    "age": 50, "antiplatelets_or_nsaids": False, "alcohol": False}


def test_no_risk_factor_scores_0_and_needs_no_antithrombotic():
    result = cha2ds2_vasc(**NO_STROKE_RISK)
    assert (result.value, result.category) == (0, "low")
    assert set(result.detail["points"].values()) == {0}


@pytest.mark.parametrize(("item", "points"), [
    ("congestive_heart_failure", 1), ("hypertension", 1), ("diabetes", 1), ("stroke_tia_thromboembolism", 2),
    ("vascular_disease", 1)])
def test_each_condition_adds_its_points(item, points):
    result = cha2ds2_vasc(**{**NO_STROKE_RISK, item: True})
    assert result.value == points
    assert result.detail["points"][item] == points


@pytest.mark.parametrize(("age", "points"), [(18, 0), (64, 0), (65, 1), (74, 1), (75, 2), (120, 2)])
def test_age_scores_1_from_65_and_2_from_75(age, points):
    result = cha2ds2_vasc(**{**NO_STROKE_RISK, "age": age})
    assert (result.value, result.detail["points"]["age"]) == (points, points)


def test_female_sex_adds_1():
    result = cha2ds2_vasc(**{**NO_STROKE_RISK, "sex": "female"})
    assert (result.value, result.detail["points"]["female"]) == (1, 1)


# ESC 2020: no antithrombotic at 0 (men) or 1 (women); consider anticoagulation at 1 (men) or 2 (women);
# anticoagulation recommended from 2 (men) or 3 (women).
@pytest.mark.parametrize(("sex", "change", "total", "category"), [
    ("male", {}, 0, "low"),
    ("male", {"hypertension": True}, 1, "consider"),
    ("male", {"age": 75}, 2, "recommended"),
    ("male", {"stroke_tia_thromboembolism": True}, 2, "recommended"),
    ("female", {}, 1, "low"),
    ("female", {"hypertension": True}, 2, "consider"),
    ("female", {"age": 70}, 2, "consider"),
    ("female", {"age": 75}, 3, "recommended"),
    ("female", {"diabetes": True, "vascular_disease": True}, 3, "recommended"),
])
def test_categories_need_one_point_more_in_women(sex, change, total, category):
    result = cha2ds2_vasc(**{**NO_STROKE_RISK, "sex": sex, **change})
    assert (result.value, result.category) == (total, category)


def test_worked_example_and_the_highest_score():
    # Worked by hand from the published points: a 72-year-old woman with hypertension and diabetes scores
    # age 65-74 (1) + hypertension (1) + diabetes (1) + female (1) = 4: anticoagulation recommended.
    result = cha2ds2_vasc(**{**NO_STROKE_RISK, "age": 72, "sex": "female", "hypertension": True, "diabetes": True})
    assert (result.value, result.category) == (4, "recommended")
    everything = {**NO_STROKE_RISK, "age": 80, "sex": "female",
                  **{k: True for k, v in NO_STROKE_RISK.items() if v is False}}
    result = cha2ds2_vasc(**everything)
    assert result.value == 9 == sum(result.detail["points"].values())


def test_stroke_result_warns_about_valve_disease_and_cites_its_sources():
    result = calculate("cha2ds2-vasc", NO_STROKE_RISK)
    assert "mechanical heart valve" in " ".join(n.text for n in result.warnings)
    assert "Lip GYH" in result.source and "Chest 2010" in result.source and "2020 ESC" in result.source
    labels = CALCULATORS["cha2ds2-vasc"].categories
    assert set(labels) == {"low", "consider", "recommended"} and all(zh for _, zh in labels.values())


@pytest.mark.parametrize(("change", "field", "text"), [
    ({"age": 17}, "age", "from 18 to 120 a"),
    ({"age": 70.5}, "age", "whole number"),
    ({"sex": "other"}, "sex", "one of female, male"),
    ({"hypertension": "yes"}, "hypertension", "true or false"),
])
def test_stroke_score_refusals(change, field, text):
    with pytest.raises(ScoreInputError) as caught:
        cha2ds2_vasc(**{**NO_STROKE_RISK, **change})
    assert text in caught.value.problems[field]


def test_a_missing_risk_factor_is_refused_not_taken_as_absent():
    inputs = {k: v for k, v in NO_STROKE_RISK.items() if k != "diabetes"}
    with pytest.raises(ScoreInputError) as caught:
        calculate("cha2ds2-vasc", inputs)
    assert caught.value.problems == {"diabetes": "is required"}


def test_no_bleeding_risk_factor_scores_0_low():
    result = has_bled(**NO_BLEEDING_RISK)
    assert (result.value, result.category) == (0, "low")


@pytest.mark.parametrize("item", [
    "uncontrolled_hypertension", "abnormal_renal_function", "abnormal_liver_function", "stroke", "bleeding",
    "labile_inr", "antiplatelets_or_nsaids", "alcohol"])
def test_each_bleeding_risk_factor_scores_1(item):
    result = has_bled(**{**NO_BLEEDING_RISK, item: True})
    assert (result.value, result.detail["points"][item]) == (1, 1)


@pytest.mark.parametrize(("age", "points"), [(64, 0), (65, 0), (66, 1), (90, 1)])
def test_elderly_means_over_65(age, points):
    result = has_bled(**{**NO_BLEEDING_RISK, "age": age})
    assert (result.value, result.detail["points"]["elderly"]) == (points, points)


@pytest.mark.parametrize(("change", "total", "category"), [
    ({"uncontrolled_hypertension": True, "age": 70}, 2, "low"),
    ({"uncontrolled_hypertension": True, "age": 70, "antiplatelets_or_nsaids": True}, 3, "high"),
    # Renal and liver count one each, as do drugs and alcohol.
    ({"abnormal_renal_function": True, "abnormal_liver_function": True}, 2, "low"),
    ({"abnormal_renal_function": True, "abnormal_liver_function": True, "alcohol": True}, 3, "high"),
])
def test_high_bleeding_risk_from_3(change, total, category):
    result = has_bled(**{**NO_BLEEDING_RISK, **change})
    assert (result.value, result.category) == (total, category)


def test_the_highest_bleeding_score_is_9_and_warns_not_to_withhold_anticoagulation_for_it():
    everything = {**{k: True for k, v in NO_BLEEDING_RISK.items() if v is False}, "age": 80}
    result = calculate("has-bled", everything)
    assert (result.value, result.category) == (9, "high")
    assert "not by itself a reason to withhold anticoagulation" in result.warnings[0].text
    assert "Pisters R" in result.source and "Chest" in result.source


@pytest.mark.parametrize(("change", "field", "text"), [
    ({"age": 17}, "age", "from 18 to 120 a"),
    ({"labile_inr": 1}, "labile_inr", "true or false"),
])
def test_bleeding_score_refusals(change, field, text):
    with pytest.raises(ScoreInputError) as caught:
        has_bled(**{**NO_BLEEDING_RISK, **change})
    assert text in caught.value.problems[field]
