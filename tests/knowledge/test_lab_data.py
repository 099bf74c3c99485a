"""Lab knowledge data: every record loads, carries a source and both languages, and codes are consistent."""

from pathlib import Path

import pytest
import yaml

from smartcare.knowledge import lab
from smartcare.knowledge.lab import data

ORDER_LAB = Path(__file__).parents[2] / "smartcare" / "knowledge" / "orders" / "data" / "lab.yaml"


def loinc_check_digit_ok(code: str) -> bool:
    """LOINC's mod-10 check digit."""
    number, check = code.split("-")
    total = 0
    for position, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value // 10 + value % 10
    return (10 - total % 10) % 10 == int(check)


def records(name, field):
    return data.read(name)[field]


def test_every_analyte_matches_the_order_catalogue_code_and_unit():
    catalogue = {t["loinc"]: t for t in yaml.safe_load(ORDER_LAB.read_text(encoding="utf-8"))["tests"]}
    for item in lab.analytes():
        assert loinc_check_digit_ok(item.loinc), item.loinc
        assert item.loinc in catalogue, item.loinc
        assert catalogue[item.loinc]["unit"] == item.unit, item.loinc
        assert item.what_en and item.what_zh and item.source


@pytest.mark.parametrize(("name", "field"), [("analytes.yaml", "analytes"), ("ranges.yaml", "ranges"),
                                             ("critical.yaml", "critical"), ("deltas.yaml", "deltas"),
                                             ("interpretation.yaml", "analytes"), ("panels.yaml", "findings"),
                                             ("conversions.yaml", "molar_mass"), ("conversions.yaml", "affine")])
def test_every_record_has_a_source(name, field):
    for record in records(name, field):
        assert str(record.get("source", "")).strip(), record


def test_every_text_has_english_and_chinese():
    for record in records("analytes.yaml", "analytes"):
        assert record["en"] and record["zh"] and record["what_en"] and record["what_zh"]
    default = data.read("interpretation.yaml")["default"]
    texts = [value for value in default.values() if isinstance(value, dict)]
    for record in records("interpretation.yaml", "analytes"):
        texts += [record[level] for level in ("low", "high", "critical_low", "critical_high") if level in record]
    for record in records("panels.yaml", "findings"):
        texts.append(record)
        texts += record.get("categories", [])
        texts += record.get("targets", {}).values()
    for text in texts:
        assert text["en"].strip() and text["zh"].strip(), text
        assert any("\u4e00" <= char <= "\u9fff" for char in text["zh"]), text


def test_each_side_of_an_interval_has_its_own_explanation():
    _, table = data.interpretation_table()
    for loinc, bands in data.range_table().items():
        if any(band.low is not None for band in bands):
            assert "low" in table.get(loinc, {}), f"{loinc} has a low limit but no low text"
        if any(band.high is not None for band in bands):
            assert "high" in table.get(loinc, {}), f"{loinc} has a high limit but no high text"


def test_critical_limits_lie_outside_the_reference_interval():
    for loinc in data.critical_table():
        for age in (5 * 365, 40 * 365):
            for sex in ("male", "female"):
                rng = lab.reference_range(loinc, sex=sex, age_days=age)
                if rng is None:
                    continue
                if rng.critical_low is not None and rng.low is not None:
                    assert rng.critical_low < rng.low, loinc
                if rng.critical_high is not None and rng.high is not None:
                    assert rng.critical_high > rng.high, loinc


def test_every_adult_analyte_with_an_order_catalogue_interval_has_one_here():
    catalogue = yaml.safe_load(ORDER_LAB.read_text(encoding="utf-8"))["tests"]
    for test in catalogue:
        if test["ranges"] and lab.analyte(test["loinc"]):
            sex = test["ranges"][0].get("sex", "male")
            assert lab.reference_range(test["loinc"], sex=sex, age_days=40 * 365) is not None, test["loinc"]
