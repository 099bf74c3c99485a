"""Lab knowledge: UCUM conversions with worked figures, analyte-specific molar <-> mass, hostile units."""

import math

import pytest

from smartcare.knowledge import lab

GLUCOSE, CHOLESTEROL, TRIGLYCERIDES, CREATININE = "14771-0", "14647-2", "14927-8", "14682-9"


@pytest.mark.parametrize(("value", "source", "target", "loinc", "expected"), [
    (5.5, "mmol/L", "mg/dL", GLUCOSE, 99.1),
    (5.2, "mmol/L", "mg/dL", CHOLESTEROL, 201.1),
    (1.7, "mmol/L", "mg/dL", TRIGLYCERIDES, 150.6),
    (88.4, "umol/L", "mg/dL", CREATININE, 1.0),
    (17.1, "umol/L", "mg/dL", "14631-6", 1.0),
    (2.5, "mmol/L", "mg/dL", "2000-8", 10.0),
    (420, "umol/L", "mg/dL", "14933-6", 7.06),
    (126, "mg/dL", "mmol/L", GLUCOSE, 6.99),
    (48, "mmol/mol", "%", "4548-4", 6.54),
    (3, "mg/mmol", "mg/g", "9318-7", 26.5),
])
def test_worked_conversions(value, source, target, loinc, expected):
    assert lab.convert(value, source, target, loinc=loinc) == pytest.approx(expected, abs=0.06)


def test_conversions_within_one_kind_need_no_analyte():
    assert lab.convert(13.5, "g/dL", "g/L") == pytest.approx(135)
    assert lab.convert(7500, "/uL", "10*9/L") == pytest.approx(7.5)
    assert lab.convert(40, "mm[Hg]", "kPa") == pytest.approx(5.33, abs=0.01)
    assert lab.convert(1, "ukat/L", "U/L") == pytest.approx(60)
    assert lab.convert(0.45, "L/L", "%") == pytest.approx(45)
    assert lab.convert(0.5, "mg{FEU}/L", "ng{FEU}/mL") == pytest.approx(500)


def test_display_forms_from_lab_sheets_are_understood():
    assert lab.convert(100, "µmol/L", "umol/L") == 100
    assert lab.convert(99, "MG/DL", "mmol/L", loinc=GLUCOSE) == pytest.approx(5.5, abs=0.01)
    assert lab.convert(6.5, "×10⁹/L", "10*9/L") == 6.5
    assert lab.convert(90, "mL/min/1.73m2", "mL/min/{1.73_m2}") == 90
    assert lab.convert(4.0, "uIU/mL", "m[IU]/L") == pytest.approx(4.0)


def test_round_trip_returns_the_original_value():
    mg = lab.convert(7.0, "mmol/L", "mg/dL", loinc=GLUCOSE)
    assert lab.convert(mg, "mg/dL", "mmol/L", loinc=GLUCOSE) == pytest.approx(7.0)


@pytest.mark.parametrize(("source", "target", "loinc"), [
    ("mmol/L", "mg/dL", None),
    ("mmol/L", "mg/dL", "718-7"),
    ("g/L", "10*9/L", None),
    ("mg{FEU}/L", "mg/L", None),
    ("furlong/fortnight", "mg/dL", GLUCOSE),
    ("", "mg/dL", GLUCOSE),
    ("m" * 500, "mg/dL", GLUCOSE),
])
def test_impossible_conversions_raise_value_error(source, target, loinc):
    with pytest.raises(ValueError):
        lab.convert(5.0, source, target, loinc=loinc)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "5.5", None])
def test_conversion_rejects_values_that_are_not_finite_numbers(bad):
    with pytest.raises(ValueError):
        lab.convert(bad, "mmol/L", "mg/dL", loinc=GLUCOSE)
