"""Order catalogue: codes are well formed (LOINC mod-10, SNOMED Verhoeff), references resolve, search works."""

import json
import re
from pathlib import Path

import pytest

from smartcare.knowledge.orders import catalogue

DEMO_DATA = Path(__file__).parents[2] / "smartcare" / "demo" / "data"
LAB_UNITS = {"g/L", "10*9/L", "10*12/L", "%", "fL", "U/L", "umol/L", "mmol/L", "mL/min/{1.73_m2}", "mg/g", "s",
             "{INR}", "mg{FEU}/L", "[pH]", "mm[Hg]", "m[IU]/L", "m[IU]/mL", "pmol/L", "ng/mL", "ng/L", "pg/mL",
             "mg/L", "U/mL", "1"}
HL7_SPECIMEN_TYPES = {"SER", "PLAS", "BLD", "BLDA", "UR", "STL", "SPT", ""}


def loinc_check_digit_ok(code: str) -> bool:
    """LOINC's mod-10 check digit (the Luhn scheme over the number part)."""
    number, check = code.split("-")
    total = 0
    for position, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value // 10 + value % 10
    return (10 - total % 10) % 10 == int(check)


def verhoeff_ok(number: str) -> bool:
    """SNOMED CT identifiers end in a Verhoeff check digit."""
    d = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
         [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
         [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
         [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
    p = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4]]
    for _ in range(6):
        p.append([p[1][x] for x in p[-1]])
    c = 0
    for position, digit in enumerate(reversed(number)):
        c = d[c][p[position % 8][int(digit)]]
    return c == 0


def test_check_digit_helpers_accept_known_codes_and_reject_typos():
    assert loinc_check_digit_ok("58410-2") and not loinc_check_digit_ok("58410-3")
    assert verhoeff_ok("268400002") and not verhoeff_ok("268400003")


def test_lab_codes_are_valid_unique_loinc_codes():
    codes = [t.loinc for t in catalogue.lab_tests()] + [p.loinc for p in catalogue.lab_panels() if p.loinc]
    assert len(codes) == len(set(codes))
    for code in codes:
        assert re.fullmatch(r"\d{1,6}-\d", code) and loinc_check_digit_ok(code), code


def test_imaging_loinc_and_all_snomed_codes_carry_correct_check_digits():
    for procedure in catalogue.imaging_procedures():
        assert procedure.loinc is None or loinc_check_digit_ok(procedure.loinc), procedure.key
        assert verhoeff_ok(procedure.body_part.snomed), procedure.body_part.term
    for procedure in catalogue.procedures():
        assert procedure.snomed is None or verhoeff_ok(procedure.snomed), procedure.key
    for test in catalogue.lab_tests():
        assert verhoeff_ok(test.specimen.snomed), test.specimen.key
        assert test.specimen.hl7 in HL7_SPECIMEN_TYPES


def test_lab_tests_have_ucum_units_and_sane_reference_ranges():
    for test in catalogue.lab_tests():
        assert test.unit is None or test.unit in LAB_UNITS, test.key
        assert test.tat_hours > 0
        for reference in test.ranges:
            assert test.unit is not None, test.key
            assert reference.low is not None or reference.high is not None, test.key
            if reference.low is not None and reference.high is not None:
                assert reference.low < reference.high, test.key
            assert reference.sex in (None, "male", "female")


def test_the_common_chinese_lab_menu_is_there():
    for key, loinc in [("cbc", "58410-2"), ("urinalysis", "24356-8"), ("liver", "24325-3"), ("renal", "24362-6"),
                       ("electrolytes", "24326-1"), ("lipid", "24331-1"), ("glucose", "14771-0"),
                       ("hba1c", "4548-4"), ("pt", "5902-2"), ("inr", "6301-6"), ("aptt", "14979-9"),
                       ("fibrinogen", "3255-7"), ("tsh", "3016-3"), ("troponin-i", "10839-9"),
                       ("hs-troponin-t", "67151-1"), ("ck-mb", "13969-1"), ("bnp", "30934-4"),
                       ("nt-probnp", "33762-6"), ("crp", "1988-5"), ("procalcitonin", "33959-8"),
                       ("hbsag", "5196-1"), ("psa", "2857-1")]:
        assert catalogue.find_order(key).code == loinc, key
    assert catalogue.find_order("stool-routine").name_zh.startswith("粪常规")


def test_codes_shared_with_the_demo_observations_agree():
    demo = json.loads((DEMO_DATA / "observations.json").read_text(encoding="utf-8"))
    for key, item in {**demo["labs"], **demo["panels"]}.items():
        order = catalogue.find_order(key)
        if order is not None:
            assert order.code == item["loinc"], key


def test_panel_members_share_the_panel_specimen_family():
    for panel in catalogue.lab_panels():
        for test in panel.tests:
            assert test.specimen.key in {panel.specimen.key, "serum", "urine"}, (panel.key, test.key)


def test_imaging_uses_dicom_modalities_and_body_part_terms():
    modalities = {p.modality for p in catalogue.imaging_procedures()}
    assert modalities == set(catalogue.MODALITIES)
    for procedure in catalogue.imaging_procedures():
        assert re.fullmatch(r"[A-Z]{1,16}", procedure.body_part.term)
        assert procedure.name_zh
    assert catalogue.find_order("xr-chest-pa").name_zh == "胸部正位片"
    assert catalogue.find_order("ct-head").name_zh == "头颅CT平扫"
    assert catalogue.find_order("ctpa").contrast is True


def test_referrals_go_to_departments_of_the_directory():
    facilities = json.loads((DEMO_DATA / "facilities.json").read_text(encoding="utf-8"))
    departments = {d["key"] for d in facilities["departments"]}
    assert catalogue.referrals()
    for referral in catalogue.referrals():
        assert referral.department in departments, referral.key
    for procedure in catalogue.procedures():
        assert procedure.department in departments, procedure.key


def test_find_order_by_key_or_code_in_any_case():
    assert catalogue.find_order("CBC").key == "cbc"
    assert catalogue.find_order("58410-2").key == "cbc"
    assert catalogue.find_order("268400002").key == "ecg-12-lead"
    assert catalogue.find_order("nothing") is None
    assert catalogue.find_order("x" * 10_000) is None


def test_search_by_english_chinese_pinyin_and_code():
    assert catalogue.search_orders("血常规")[0].key == "cbc"
    assert catalogue.search_orders("xcg")[0].key == "cbc"
    assert catalogue.search_orders("xuechanggui")[0].key == "cbc"
    assert catalogue.search_orders("58410-2")[0].key == "cbc"
    assert catalogue.search_orders("gastroscopy")[0].key == "gastroscopy"
    assert {o.kind for o in catalogue.search_orders("ct", kind="imaging", limit=50)} == {"imaging"}


def test_search_rejects_an_unknown_kind():
    with pytest.raises(ValueError):
        catalogue.search_orders("cbc", kind="surgery")


@pytest.mark.parametrize("hostile", ["", " ", "x" * 10_000, "'; DROP TABLE orders; --", ".*", "[(", "|", "\x00"])
def test_hostile_search_input_returns_a_list(hostile):
    assert isinstance(catalogue.search_orders(hostile), list)
