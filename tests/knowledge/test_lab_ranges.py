"""Lab knowledge: analytes, reference intervals by sex and age band, critical limits and flags."""

import json
import math
from pathlib import Path

import pytest

from smartcare.knowledge import lab

DEMO_OBSERVATIONS = Path(__file__).parents[2] / "smartcare" / "demo" / "data" / "observations.json"
ADULT = 40 * 365
ELDERLY = 70 * 365


def test_analytes_cover_the_demo_observations_with_the_same_codes_and_units():
    labs = json.loads(DEMO_OBSERVATIONS.read_text(encoding="utf-8"))["labs"]
    for entry in labs.values():
        item = lab.analyte(entry["loinc"])
        assert item is not None, entry["loinc"]
        assert item.unit == entry["unit"][0]


def test_analyte_is_found_by_loinc_english_chinese_name_and_alias():
    assert lab.analyte("718-7").name_zh == "血红蛋白"
    assert lab.analyte("hb").loinc == "718-7"
    assert lab.analyte("血红蛋白").loinc == "718-7"
    assert lab.analyte(" LDL-C ").loinc == "22748-8"
    assert lab.analyte("no-such-test") is None
    assert lab.analyte("x" * 1000) is None
    assert len(lab.analytes()) >= 60


def test_haemoglobin_interval_differs_by_sex_and_by_paediatric_band():
    male = lab.reference_range("718-7", sex="male", age_days=ADULT)
    assert (male.low, male.high) == (130, 175)
    female = lab.reference_range("718-7", sex="female", age_days=ADULT)
    assert (female.low, female.high) == (115, 150)
    toddler = lab.reference_range("718-7", sex="female", age_days=500)
    assert (toddler.low, toddler.high) == (107, 141)
    assert "WS/T 779" in toddler.source


def test_creatinine_interval_widens_for_the_elderly():
    assert lab.reference_range("14682-9", sex="male", age_days=ADULT).high == 97
    assert lab.reference_range("14682-9", sex="male", age_days=ELDERLY).high == 111


def test_unknown_sex_spans_both_intervals_and_says_so():
    rng = lab.reference_range("718-7", sex="unknown", age_days=ADULT)
    assert (rng.low, rng.high) == (115, 175)
    assert "sex unknown" in rng.note


def test_neonate_gets_no_adult_interval_and_psa_has_none_for_women():
    assert lab.reference_range("6690-2", sex="male", age_days=3).low is None
    assert lab.reference_range("2857-1", sex="female", age_days=ADULT) is None
    assert lab.reference_range("0000-0", sex="male", age_days=ADULT) is None


def test_critical_limits_come_with_the_range_and_change_for_children():
    adult = lab.reference_range("2823-3", sex="male", age_days=ADULT)
    child = lab.reference_range("2823-3", sex="male", age_days=5 * 365)
    assert (adult.critical_low, adult.critical_high) == (2.8, 6.2)
    assert child.critical_high == 6.4


@pytest.mark.parametrize(("value", "expected"), [
    (2.7, "LL"), (2.8, "L"), (3.49, "L"), (3.5, "N"), (5.3, "N"), (5.31, "H"), (6.2, "H"), (6.21, "HH")])
def test_potassium_flags_at_the_boundaries(value, expected):
    rng = lab.reference_range("2823-3", sex="female", age_days=ADULT)
    assert lab.flag(value, rng) == expected


def test_decision_limit_stated_as_below_flags_the_limit_itself():
    rng = lab.reference_range("14647-2", sex="male", age_days=ADULT)
    assert lab.flag(5.19, rng) == "N"
    assert lab.flag(5.2, rng) == "H"


def test_critical_limits_win_over_a_missing_interval():
    rng = lab.Range(low=None, high=None, unit="s", critical_low=None, critical_high=27, source="x")
    assert lab.flag(28, rng) == "HH"
    assert lab.flag(12, rng) == "N"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "5", True])
def test_flag_rejects_values_that_are_not_finite_numbers(bad):
    rng = lab.reference_range("2823-3", sex="male", age_days=ADULT)
    with pytest.raises(ValueError):
        lab.flag(bad, rng)


@pytest.mark.parametrize(("sex", "age_days"), [("robot", ADULT), ("male", -1), ("male", 200 * 365), ("male", 1.5)])
def test_reference_range_rejects_bad_sex_or_age(sex, age_days):
    with pytest.raises(ValueError):
        lab.reference_range("2823-3", sex=sex, age_days=age_days)
