"""Dose arithmetic: frequency codes, units, per-kg and per-m2 amounts, and rounding of suggested doses."""

import pytest

from smartcare.knowledge.prescribing import dosage


@pytest.mark.parametrize(("text", "code", "per_day"), [
    ("QD", "QD", 1), ("qd", "QD", 1), ("BID", "BID", 2), ("tid", "TID", 3), ("QID", "QID", 4),
    ("Q4H", "Q4H", 6), ("q6h", "Q6H", 4), ("Q8H", "Q8H", 3), ("Q12H", "Q12H", 2), ("Q24H", "QD", 1),
    ("QN", "QN", 1), ("QOD", "QOD", 0.5), ("STAT", "STAT", 1), ("once daily", "QD", 1),
    ("Twice  daily", "BID", 2), ("every 8 hours", "Q8H", 3), ("每日2次", "BID", 2), ("每日三次", "TID", 3),
    ("每8小时", "Q8H", 3), ("每晚", "QN", 1), ("每周1次", "QW", 1 / 7), ("立即", "STAT", 1),
])
def test_frequency_codes_give_administrations_per_day(text, code, per_day):
    frequency = dosage.parse_frequency(text)
    assert frequency is not None
    assert frequency.code == code
    assert frequency.per_day == pytest.approx(per_day)


def test_weekly_and_as_needed_frequencies():
    weekly = dosage.parse_frequency("QW")
    as_needed = dosage.parse_frequency("必要时")
    assert weekly is not None and not weekly.daily_or_more
    assert as_needed is not None and as_needed.code == "PRN" and as_needed.per_day is None
    assert dosage.day_multiplier(weekly) == 1
    assert dosage.day_multiplier(as_needed) is None
    assert dosage.day_multiplier(dosage.parse_frequency("QID")) == 4


@pytest.mark.parametrize("text", ["Q0H", "Q25H", "sometimes", "5 times a fortnight", ""])
def test_unknown_frequencies_are_none(text):
    assert dosage.parse_frequency(text) is None


@pytest.mark.parametrize(("text", "unit", "basis"), [
    ("mg", "mg", "fixed"), ("g", "g", "fixed"), ("mcg", "ug", "fixed"), ("µg", "ug", "fixed"),
    ("IU", "[iU]", "fixed"), ("[iU]", "[iU]", "fixed"), ("mL", "mL", "fixed"), ("mg/kg", "mg", "per_kg"),
    ("mg/m2", "mg", "per_m2"), ("ug/kg", "ug", "per_kg"), ("毫克", "mg", "fixed"),
])
def test_units_parse_to_ucum_and_basis(text, unit, basis):
    assert dosage.parse_unit(text) == (unit, basis)


@pytest.mark.parametrize("text", ["banana", "mg/day", "tablets", "mg/kg/kg"])
def test_unknown_units_are_refused(text):
    with pytest.raises(ValueError, match="dose unit"):
        dosage.parse_unit(text)


def test_mass_units_convert_and_others_do_not():
    assert dosage.convert(1, "g", "mg") == 1000
    assert dosage.convert(500, "mcg", "mg") == pytest.approx(0.5)
    assert dosage.convert(2, "mg", "ug") == pytest.approx(2000)
    assert dosage.comparable("mg", "g") and not dosage.comparable("mg", "mL")
    assert not dosage.comparable("mg", "{puff}")
    with pytest.raises(ValueError, match="cannot convert"):
        dosage.convert(5, "mL", "mg")


def test_per_kg_and_per_m2_doses_become_absolute_amounts():
    assert dosage.absolute_amount(dose=15, unit="mg/kg", weight_kg=10, bsa_m2=None) == (150, "mg")
    assert dosage.absolute_amount(dose=15, unit="mg/kg", weight_kg=None, bsa_m2=None) is None
    bsa = dosage.body_surface_area(weight_kg=80, height_cm=180)
    assert bsa == pytest.approx(2.0)  # Mosteller: sqrt(180 x 80 / 3600) = 2.0 m2
    assert dosage.absolute_amount(dose=100, unit="mg/m2", weight_kg=80, bsa_m2=bsa) == (pytest.approx(200), "mg")
    assert dosage.body_surface_area(weight_kg=80, height_cm=None) is None


@pytest.mark.parametrize(("value", "expected"), [
    (150, 150), (187.5, 187), (1666.67, 1660), (0.04567, 0.0456), (4000, 4000), (33.3333, 33.3),
])
def test_suggested_doses_round_down_to_three_significant_figures(value, expected):
    assert dosage.round_down(value) == pytest.approx(expected)
    assert dosage.round_down(value) <= value


def test_amounts_print_without_noise():
    assert dosage.format_amount(1000.0) == "1000"
    assert dosage.format_amount(0.25) == "0.25"
    assert dosage.format_amount(187.5) == "187.5"
    assert dosage.format_amount(33.33333) == "33.33"
