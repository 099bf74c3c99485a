"""Lab knowledge: one result explained for the patient, and panels read together (CBC, lipids, liver ...)."""

import math

import pytest

from smartcare.knowledge import lab

ADULT = 40 * 365


def keys(results, **kwargs):
    return [f.key for f in lab.interpret_panel(results, sex=kwargs.pop("sex", "female"), age_days=ADULT, **kwargs)]


def test_interpretation_gives_level_text_in_both_languages_and_action():
    low = lab.interpret("718-7", 100, sex="female", age_days=ADULT)
    assert (low.flag, low.level, low.action) == ("L", "low", "see-doctor-soon")
    assert "naemia" in low.meaning_en and "贫血" in low.meaning_zh
    assert "WS/T 405" in low.source
    normal = lab.interpret("718-7", 130, sex="female", age_days=ADULT)
    assert (normal.level, normal.action) == ("normal", "routine")


def test_critical_value_is_urgent():
    result = lab.interpret("2823-3", 6.8, sex="male", age_days=ADULT)
    assert (result.flag, result.level, result.action) == ("HH", "critical-high", "urgent")
    assert "now" in result.meaning_en


def test_analyte_without_an_interval_for_the_patient_is_unknown_not_normal():
    assert lab.interpret("5902-2", 13, sex="male", age_days=ADULT).level == "unknown"
    assert lab.interpret("2857-1", 2, sex="female", age_days=ADULT).level == "unknown"
    assert lab.interpret("5902-2", 30, sex="male", age_days=ADULT).level == "critical-high"


@pytest.mark.parametrize(("loinc", "value"), [("0000-0", 1.0), ("718-7", math.nan), ("718-7", math.inf)])
def test_interpret_rejects_unknown_analytes_and_non_finite_values(loinc, value):
    with pytest.raises(ValueError):
        lab.interpret(loinc, value, sex="male", age_days=ADULT)


def test_low_haemoglobin_with_small_cells_is_microcytic_anaemia():
    assert keys({"718-7": 95, "787-2": 70}) == ["microcytic-anaemia"]
    assert keys({"718-7": 95, "787-2": 108}) == ["macrocytic-anaemia"]
    assert keys({"718-7": 95, "787-2": 90}) == ["normocytic-anaemia"]
    assert keys({"718-7": 130, "787-2": 70}) == []


def test_leukocytosis_with_neutrophilia_and_thrombocytopenia():
    assert keys({"6690-2": 15, "751-8": 12, "777-3": 90}) == ["leukocytosis-neutrophilia", "thrombocytopenia"]
    assert keys({"777-3": 30}) == ["severe-thrombocytopenia"]
    assert keys({"751-8": 0.3}) == ["severe-neutropenia"]
    assert lab.interpret_panel({"751-8": 0.3}, sex="male", age_days=ADULT)[0].action == "urgent"


def test_ldl_is_judged_against_the_target_for_the_patients_risk():
    assert keys({"22748-8": 3.0}) == ["ldl-at-target"]
    high_risk = lab.interpret_panel({"22748-8": 3.0}, sex="male", age_days=ADULT, ldl_risk="very-high")
    assert high_risk[0].key == "ldl-above-target"
    assert "1.8" in high_risk[0].meaning_en and "极高危" in high_risk[0].meaning_zh
    assert keys({"22748-8": 5.1}) == ["ldl-very-high", "ldl-above-target"]
    assert keys({"14927-8": 6.0, "14646-4": 0.8}) == ["triglycerides-very-high", "hdl-low"]


def test_liver_pattern_from_the_r_ratio():
    assert keys({"1742-6": 400, "6768-6": 90}) == ["hepatocellular-pattern"]
    assert keys({"1742-6": 60, "6768-6": 300}) == ["cholestatic-pattern"]
    assert keys({"1742-6": 160, "6768-6": 150}) == ["mixed-liver-pattern"]
    assert keys({"1742-6": 30, "6768-6": 80}) == []


def test_kidney_category_and_albuminuria():
    findings = lab.interpret_panel({"62238-1": 50, "9318-7": 120}, sex="male", age_days=ADULT)
    assert [f.key for f in findings] == ["egfr-category", "albuminuria-moderate"]
    assert "G3a" in findings[0].meaning_en
    assert lab.interpret_panel({"62238-1": 10}, sex="male", age_days=ADULT)[0].action == "urgent"
    assert keys({"62238-1": 95}) == []


def test_diabetes_thresholds_of_ada_and_the_chinese_diabetes_society():
    assert keys({"14771-0": 7.2, "4548-4": 6.8}) == ["diabetes-confirmed-same-sample"]
    assert keys({"14771-0": 7.2}) == ["diabetes-range-fasting"]
    assert keys({"14771-0": 6.3}) == ["impaired-fasting-glucose"]
    assert keys({"14771-0": 5.8}) == ["ada-prediabetes-fasting"]
    assert keys({"4548-4": 6.0}) == ["prediabetes-hba1c"]
    assert keys({"14749-6": 12.0}) == ["diabetes-range-random"]
    assert keys({"14771-0": 5.0, "4548-4": 5.2}) == []


def test_panel_accepts_names_and_ignores_unknown_analytes():
    assert keys({"Hb": 95, "MCV": 70, "urine colour": 1.0}) == ["microcytic-anaemia"]


@pytest.mark.parametrize("results", [{"718-7": math.nan}, {"718-7": "95"}, [("718-7", 95)]])
def test_panel_rejects_hostile_input(results):
    with pytest.raises(ValueError):
        lab.interpret_panel(results, sex="male", age_days=ADULT)


def test_panel_rejects_an_unknown_risk_category():
    with pytest.raises(ValueError):
        lab.interpret_panel({"22748-8": 3.0}, sex="male", age_days=ADULT, ldl_risk="huge")
