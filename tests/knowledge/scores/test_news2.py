"""NEWS2 (Royal College of Physicians, 2017): every boundary of the scoring chart, the bands and the data's source."""

from dataclasses import replace

import pytest

from smartcare.knowledge.scores import news2

# A set that scores 0 on every parameter; each test changes one parameter.
CALM = news2.VitalSet(respiratory_rate=16, spo2=97, spo2_scale=1, on_oxygen=False, systolic_bp=125, pulse=72,
                      consciousness="A", temperature=36.8)


def _points(parameter: str, **change) -> int:
    return news2.score(replace(CALM, **change)).points[parameter]


@pytest.mark.parametrize(("value", "points"), [
    (8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (4, 3), (40, 3)])
def test_respiration_rate_boundaries(value, points):
    assert _points("respiratory_rate", respiratory_rate=value) == points


@pytest.mark.parametrize(("value", "points"), [(91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)])
def test_spo2_scale_1_boundaries(value, points):
    assert _points("spo2", spo2=value) == points


@pytest.mark.parametrize(("value", "oxygen", "points"), [
    (83, False, 3), (84, False, 2), (85, False, 2), (86, False, 1), (87, False, 1), (88, False, 0), (92, True, 0),
    (93, False, 0), (100, False, 0), (93, True, 1), (94, True, 1), (95, True, 2), (96, True, 2), (97, True, 3)])
def test_spo2_scale_2_boundaries_depend_on_air_or_oxygen_above_92(value, oxygen, points):
    assert _points("spo2", spo2=value, spo2_scale=2, on_oxygen=oxygen) == points


def test_oxygen_scores_2_and_air_0():
    assert _points("air_or_oxygen", on_oxygen=True) == 2
    assert _points("air_or_oxygen") == 0


@pytest.mark.parametrize(("value", "points"), [
    (90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)])
def test_systolic_pressure_boundaries(value, points):
    assert _points("systolic_bp", systolic_bp=value) == points


@pytest.mark.parametrize(("value", "points"), [
    (40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3)])
def test_pulse_boundaries(value, points):
    assert _points("pulse", pulse=value) == points


@pytest.mark.parametrize(("level", "points"), [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)])
def test_new_confusion_and_vpu_score_3(level, points):
    assert _points("consciousness", consciousness=level) == points


@pytest.mark.parametrize(("value", "points"), [
    (35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1), (39.1, 2), (34.0, 3), (41.0, 2),
    (36.05, 0), (35.04, 3)])
def test_temperature_boundaries_at_one_decimal(value, points):
    assert _points("temperature", temperature=value) == points


@pytest.mark.parametrize(("vitals", "total", "band"), [
    # All calm: 0, routine 12-hourly observation.
    (CALM, 0, "zero"),
    # RR 22 (2) + pulse 95 (1) + temperature 38.4 (1) = 4, low.
    (replace(CALM, respiratory_rate=22, pulse=95, temperature=38.4), 4, "low"),
    # Only new confusion: a single red 3, total 3, low-medium (urgent ward-based response).
    (replace(CALM, consciousness="C"), 3, "low-medium"),
    # RR 23 (2) + SpO2 94 (1) + oxygen (2) = 5, medium.
    (replace(CALM, respiratory_rate=23, spo2=94, on_oxygen=True), 5, "medium"),
    # Pneumonia with sepsis: RR 26 (3), SpO2 93 on scale 1 (2), oxygen (2), SBP 98 (2), pulse 118 (2),
    # alert (0), temperature 39.2 (2) = 13, high.
    (news2.VitalSet(26, 93, 1, True, 98, 118, "A", 39.2), 13, "high"),
    # Hypercapnic COPD on oxygen at 90% on scale 2 scores 0 for saturation: oxygen (2) + RR 21 (2) = 4, low.
    (news2.VitalSet(21, 90, 2, True, 130, 80, "A", 37.0), 4, "low"),
    # The highest possible score is 20.
    (news2.VitalSet(30, 80, 1, True, 80, 140, "U", 34.0), 20, "high"),
])
def test_totals_and_clinical_response_bands(vitals, total, band):
    result = news2.score(vitals)
    assert (result.total, result.band) == (total, band)


def test_monitoring_intervals_follow_the_bands():
    minutes = {news2.score(v).band: news2.score(v).minutes for v in (
        CALM, replace(CALM, pulse=95), replace(CALM, consciousness="V"),
        replace(CALM, respiratory_rate=23, spo2=94, on_oxygen=True), news2.VitalSet(26, 93, 1, True, 98, 118, "A", 39.2))}
    assert minutes == {"zero": 720, "low": 360, "low-medium": 60, "medium": 60, "high": 30}


def test_a_red_score_within_a_medium_total_stays_medium():
    result = news2.score(replace(CALM, consciousness="V", pulse=95, temperature=38.5))
    assert (result.total, result.band, result.red) == (5, "medium", True)


def test_the_chart_cites_its_source_and_limits():
    chart = news2.chart()
    assert "Royal College of Physicians" in chart["source"] and "2017" in chart["source"]
    assert "16" in chart["applies"]


@pytest.mark.parametrize("change", [{"spo2_scale": 3}, {"consciousness": "X"}])
def test_impossible_inputs_raise(change):
    with pytest.raises(ValueError):
        news2.score(replace(CALM, **change))
