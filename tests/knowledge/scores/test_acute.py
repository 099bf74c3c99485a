"""NEWS2 as a calculator (wrapping the charted score, refusals) and qSOFA: boundaries, totals, warning, refusals."""

import pytest

from smartcare.knowledge.scores import NotApplicable, ScoreInputError, calculate
from smartcare.knowledge.scores.acute import national_early_warning_score, qsofa

# An adult whose observations score 0 on every NEWS2 parameter; each test changes what it checks.
CALM = {"respiratory_rate": 16, "spo2": 97, "spo2_scale": 1, "on_oxygen": False, "systolic_bp": 125, "pulse": 72,
        "consciousness": "A", "temperature": 36.8, "age": 45}


def test_calm_observations_score_0_with_12_hourly_monitoring():
    result = calculate("news2", CALM)
    assert (result.value, result.category) == (0, "zero")
    assert result.detail["monitoring_minutes"] == 720 and result.detail["response"] == "routine"
    assert "Royal College of Physicians" in result.source


def test_worked_example_sepsis_scores_high_with_points_per_parameter():
    # Worked by hand from the RCP 2017 chart: RR 26 (3), SpO2 93% on scale 1 (2), on oxygen (2), systolic 98 (2),
    # pulse 118 (2), alert (0), temperature 39.2 (2) = 13: emergency response.
    result = national_early_warning_score(**{**CALM, "respiratory_rate": 26, "spo2": 93, "on_oxygen": True,
                                             "systolic_bp": 98, "pulse": 118, "temperature": 39.2})
    assert (result.value, result.category) == (13, "high")
    assert result.detail["points"] == {"respiratory_rate": 3, "spo2": 2, "air_or_oxygen": 2, "systolic_bp": 2,
                                       "pulse": 2, "consciousness": 0, "temperature": 2}
    assert result.detail["response"] == "emergency" and result.detail["red_score"] is True


def test_a_single_red_score_is_low_medium():
    result = calculate("news2", {**CALM, "consciousness": "C"})
    assert (result.value, result.category, result.detail["monitoring_minutes"]) == (3, "low-medium", 60)


def test_spo2_scale_2_scores_a_prescribed_88_to_92_percent_as_0_and_warns():
    # Hypercapnic COPD on oxygen at 90%: scale 2 gives saturation 0, so oxygen (2) + RR 21 (2) = 4, low;
    # the same readings on scale 1 score 3 more for the saturation (7, high).
    copd = {**CALM, "respiratory_rate": 21, "spo2": 90, "on_oxygen": True, "age": 70}
    scale_2 = calculate("news2", {**copd, "spo2_scale": 2})
    scale_1 = calculate("news2", copd)
    assert (scale_2.value, scale_2.category, scale_2.detail["points"]["spo2"]) == (4, "low", 0)
    assert (scale_1.value, scale_1.category, scale_1.detail["points"]["spo2"]) == (7, "high", 3)
    assert "spo2-scale-2" in {n.code for n in scale_2.warnings}
    assert "spo2-scale-2" not in {n.code for n in scale_1.warnings}


def test_scale_2_on_oxygen_above_92_percent_scores_again():
    result = calculate("news2", {**CALM, "spo2": 97, "spo2_scale": 2, "on_oxygen": True})
    assert result.detail["points"]["spo2"] == 3


def test_refused_in_pregnancy():
    with pytest.raises(NotApplicable, match="not validated in pregnancy"):
        calculate("news2", {**CALM, "pregnant": True})


def test_pregnant_defaults_to_false():
    assert calculate("news2", CALM).inputs["pregnant"] is False


@pytest.mark.parametrize(("change", "field", "text"), [
    ({"age": 15}, "age", "from 16 to 120 a"),
    ({"spo2_scale": 3}, "spo2_scale", "from 1 to 2"),
    ({"consciousness": "X"}, "consciousness", "one of A, C, V, P, U"),
    ({"temperature": 50}, "temperature", "from 25 to 45 Cel"),
    ({"respiratory_rate": 16.5}, "respiratory_rate", "whole number"),
])
def test_news2_refusals(change, field, text):
    with pytest.raises(ScoreInputError) as caught:
        national_early_warning_score(**{**CALM, **change})
    assert text in caught.value.problems[field]


# qSOFA: an adult with suspected infection meeting no criterion; each test changes one reading.
WELL = {"respiratory_rate": 16, "gcs": 15, "systolic_bp": 120, "age": 60}


@pytest.mark.parametrize(("change", "item", "points"), [
    ({"respiratory_rate": 21}, "respiratory_rate", 0), ({"respiratory_rate": 22}, "respiratory_rate", 1),
    ({"gcs": 15}, "altered_mentation", 0), ({"gcs": 14}, "altered_mentation", 1),
    ({"gcs": 3}, "altered_mentation", 1),
    ({"systolic_bp": 101}, "systolic_bp", 0), ({"systolic_bp": 100}, "systolic_bp", 1),
])
def test_qsofa_boundaries(change, item, points):
    result = qsofa(**{**WELL, **change})
    assert (result.value, result.detail["points"][item]) == (points, points)


@pytest.mark.parametrize(("change", "total", "category"), [
    ({}, 0, "low"),
    ({"respiratory_rate": 24}, 1, "low"),
    ({"respiratory_rate": 24, "systolic_bp": 95}, 2, "high"),
    ({"gcs": 13, "systolic_bp": 90}, 2, "high"),
    ({"respiratory_rate": 30, "gcs": 10, "systolic_bp": 80}, 3, "high"),
])
def test_qsofa_is_positive_from_2(change, total, category):
    result = calculate("qsofa", {**WELL, **change})
    assert (result.value, result.category) == (total, category)


@pytest.mark.parametrize("change", [{}, {"respiratory_rate": 30, "gcs": 10, "systolic_bp": 80}])
def test_every_qsofa_result_warns_it_is_not_a_screening_tool(change):
    result = qsofa(**{**WELL, **change})
    assert [n.code for n in result.warnings] == ["not-screening"]
    assert "not a screening tool for sepsis" in result.warnings[0].text and result.warnings[0].text_zh
    assert "Seymour CW" in result.source and "Singer M" in result.source


@pytest.mark.parametrize(("change", "field", "text"), [
    ({"gcs": 16}, "gcs", "from 3 to 15"),
    ({"gcs": 2}, "gcs", "from 3 to 15"),
    ({"age": 17}, "age", "from 18 to 120 a"),
    ({"systolic_bp": 20}, "systolic_bp", "from 40 to 300 mm[Hg]"),
])
def test_qsofa_refusals(change, field, text):
    with pytest.raises(ScoreInputError) as caught:
        qsofa(**{**WELL, **change})
    assert text in caught.value.problems[field]
