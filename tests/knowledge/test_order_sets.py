"""Order sets: every item resolves, prefixes are real ICD-10 categories, lookup by diagnosis works."""

import importlib.util

import pytest

from smartcare.knowledge.diseases import icd10
from smartcare.knowledge.orders import catalogue, order_sets

UNITS = {"mg", "g", "ug", "mg/kg", "{inhalation}"}
EXPECTED = ("hypertension-initial", "hypertension-follow-up", "diabetes-annual-review", "cap-outpatient",
            "cap-admission", "chest-pain-acs", "copd-exacerbation", "asthma-review", "heart-failure",
            "ckd-follow-up", "antenatal-first-visit", "paediatric-fever", "acute-ischaemic-stroke",
            "urinary-tract-infection", "gout", "hypothyroidism", "hyperthyroidism")


def test_the_agreed_order_sets_exist():
    assert {s.key for s in order_sets.order_sets()} == set(EXPECTED)


def test_every_order_resolves_in_the_catalogue():
    for order_set in order_sets.order_sets():
        assert order_set.orders, order_set.key
        for order in order_set.orders:
            assert catalogue.find_order(order.key) is order
            assert order.kind in catalogue.KINDS


def test_every_icd10_prefix_is_a_code_of_the_table():
    for order_set in order_sets.order_sets():
        for prefix in order_set.icd10_prefixes:
            assert icd10.is_valid_code(prefix) and icd10.find(prefix) is not None, (order_set.key, prefix)


def test_medications_are_complete_and_sourced():
    for order_set in order_sets.order_sets():
        assert order_set.source and order_set.name_zh and order_set.name_en
        for medication in order_set.medications:
            assert order_sets.DRUG_KEY.fullmatch(medication.drug)
            assert medication.unit in UNITS, (order_set.key, medication.unit)
            assert medication.frequency in order_sets.FREQUENCIES
            assert medication.route in order_sets.ROUTES
            assert medication.note_en and medication.note_zh


@pytest.mark.skipif(importlib.util.find_spec("smartcare.knowledge.drugs.formulary") is None,
                    reason="the formulary module is not there yet")
def test_medication_keys_are_formulary_drugs():
    from smartcare.knowledge.drugs import formulary

    known = formulary.default()
    unknown = sorted({m.drug for s in order_sets.order_sets() for m in s.medications if known.find(m.drug) is None})
    assert unknown == [], f"drug keys the formulary does not know: {unknown}"


@pytest.mark.parametrize(("code", "expected"), [
    ("I10", "hypertension-initial"), ("E11.9", "diabetes-annual-review"), ("e119", "diabetes-annual-review"),
    ("J18.9", "cap-outpatient"), ("J44.1", "copd-exacerbation"), ("I21.4", "chest-pain-acs"),
    ("I50.9", "heart-failure"), ("N18.3", "ckd-follow-up"), ("Z34.0", "antenatal-first-visit"),
    ("I63.9", "acute-ischaemic-stroke"), ("N39.0", "urinary-tract-infection"), ("M10.9", "gout"),
    ("E03.9", "hypothyroidism"), ("E05.0", "hyperthyroidism"), ("J45.9", "asthma-review"),
])
def test_order_sets_for_a_diagnosis(code, expected):
    assert expected in [s.key for s in order_sets.order_sets_for(code)]


def test_the_most_specific_prefix_comes_first():
    assert order_sets.order_sets_for("I11.0")[0].key == "heart-failure"


@pytest.mark.parametrize("hostile", ["", "K00", "x" * 10_000, "I10'; --", "I", None])
def test_unknown_or_hostile_codes_give_no_order_sets(hostile):
    assert order_sets.order_sets_for(hostile) == []


def test_order_set_by_key():
    assert order_sets.order_set("gout").name_zh.startswith("痛风")
    assert order_sets.order_set("missing") is None
