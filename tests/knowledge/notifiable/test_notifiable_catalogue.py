"""The notifiable-disease list: China's 2025 list as the law counts it, and how diagnoses and results are matched."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from smartcare.knowledge.diseases.icd10 import chapter_of, is_valid_code
from smartcare.knowledge.notifiable import DEFAULT_LIST, NotifiableListInvalid, load, parse
from smartcare.knowledge.orders.catalogue import lab_tests

CHINA = load()


def test_the_2025_law_lists_forty_diseases_two_in_class_a_twenty_seven_in_b_and_eleven_in_c():
    # Law on the Prevention and Control of Infectious Diseases, revised 2025-04-30, in force 2025-09-01.
    assert Counter(d.disease_class for d in CHINA.diseases) == {"A": 2, "B": 27, "C": 11}
    assert {d.id for d in CHINA.diseases if d.disease_class == "A"} == {"plague", "cholera"}
    assert CHINA.disease("novel-influenza").name_zh == "人感染新亚型流感"


def test_class_a_sars_and_pulmonary_anthrax_are_reported_within_two_hours_the_rest_within_a_day():
    assert CHINA.match_diagnosis("A00.9").report_within == timedelta(hours=2)
    assert CHINA.match_diagnosis("U04.9").report_within == timedelta(hours=2)
    pulmonary = CHINA.match_diagnosis("A22.1")
    assert pulmonary.urgent and "managed and reported as Class A" in pulmonary.reason_en
    assert CHINA.match_diagnosis("A22.0").report_within == timedelta(hours=24)
    assert CHINA.match_diagnosis("J10.1").report_within == timedelta(hours=24)


def test_the_longest_code_prefix_decides_and_national_extensions_match_their_who_category():
    assert CHINA.match_diagnosis("A06.0").disease.id == "dysentery"
    assert CHINA.match_diagnosis("A06.2").disease.id == "infectious-diarrhoea"
    assert CHINA.match_diagnosis("a01.000x001").disease.id == "typhoid"
    hepatitis_b = CHINA.match_diagnosis("B18.1")
    assert (hepatitis_b.disease.id, hepatitis_b.subtype.id) == ("viral-hepatitis", "hepatitis-b")
    assert hepatitis_b.reason_zh == "ICD-10 B18.1 为乙型肝炎（B类）"


@pytest.mark.parametrize("code", ["I10", "E11.9", "J18.9", "A06.4", ""])
def test_a_diagnosis_that_is_not_notifiable_matches_nothing(code):
    assert CHINA.match_diagnosis(code) is None


def test_only_a_positive_result_of_a_listed_test_starts_a_report():
    positive = CHINA.match_result("94500-6", answer_codes={"10828004"})
    assert (positive.disease.id, positive.classification) == ("covid-19", "confirmed")
    assert CHINA.match_result("94500-6", answer_codes={"260385009"}) is None
    assert CHINA.match_result("94500-6", answer_codes=set(), answer_text="Detected").disease.id == "covid-19"
    hbsag = CHINA.match_result("5196-1", answer_codes={"pos"})
    assert (hbsag.subtype.id, hbsag.classification) == ("hepatitis-b", "positive-screen")
    assert CHINA.match_result("718-7", answer_codes={"10828004"}) is None


def test_the_deadline_runs_from_the_moment_of_diagnosis():
    diagnosed = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert CHINA.deadline(CHINA.match_diagnosis("A20.0"), diagnosed) == datetime(2026, 3, 2, 11, 30, tzinfo=UTC)


def test_every_code_in_the_list_is_an_icd10_code_of_the_infections_or_emergency_chapters_and_every_lab_code_is_orderable():
    codes = [(d.id, code) for d in CHINA.diseases for code in d.icd10 + d.urgent_icd10]
    assert [pair for pair in codes if not is_valid_code(pair[1])] == []
    chapters = {(chapter_of(code) or ("?",))[0] for _, code in codes}
    assert chapters <= {"I", "X", "XXI", "XXII"}
    orderable = {test.loinc for test in lab_tests() if test.loinc}
    assert sorted(set(CHINA.labs) - orderable) == []


def test_each_disease_names_its_diagnostic_standard_and_the_list_its_source():
    assert [d.id for d in CHINA.diseases if not d.standard] == []
    assert "2025" in CHINA.source and "传染病防治法" in CHINA.source


def _list_with(**change) -> dict:
    raw = yaml.safe_load(DEFAULT_LIST.read_text(encoding="utf-8"))
    raw.update(change)
    return raw


def test_another_countrys_list_replaces_chinas_with_its_own_limits():
    other = parse(_list_with(id="other", time_limits={"urgent_hours": 24, "standard_hours": 168},
                             diseases=[{"id": "measles", "class": "A", "en": "Measles", "zh": "麻疹",
                                        "icd10": ["B05"], "classifications": ["confirmed"]}]))
    assert other.match_diagnosis("B05.9").report_within == timedelta(hours=24)
    assert other.match_diagnosis("A00.9") is None


@pytest.mark.parametrize(("change", "message"), [
    ({"diseases": [{"id": "x", "class": "D", "en": "X", "zh": "X", "icd10": ["A00"], "classifications": []}]},
     "class must be one of"),
    ({"diseases": [{"id": "x", "class": "A", "en": "X", "zh": "X", "icd10": ["A00"],
                    "classifications": ["probable"]}]}, "unknown classification probable"),
    ({"diseases": [{"id": "x", "class": "A", "en": "X", "zh": "X", "icd10": [],
                    "classifications": ["confirmed"]}]}, "'icd10' must be a list of codes"),
    ({"diseases": "none"}, "needs a 'diseases' list"),
])
def test_a_list_that_does_not_hold_together_is_refused_with_the_reason(change, message):
    with pytest.raises(NotifiableListInvalid, match=message):
        parse(_list_with(**change))


def test_an_unreadable_list_file_is_refused(tmp_path):
    broken = tmp_path / "list.yaml"
    broken.write_text("diseases: [unclosed", encoding="utf-8")
    with pytest.raises(NotifiableListInvalid, match="cannot read"):
        load(broken)


def test_names_with_commas_are_read_whole():
    assert CHINA.disease("hand-foot-mouth").name_en == "Hand, foot and mouth disease"
    assert CHINA.match_diagnosis("B19").subtype.name_en == "Viral hepatitis, unspecified"


def test_a_stray_key_from_an_unquoted_comma_is_refused():
    entry = {"id": "x", "class": "C", "en": "Hand", "foot and mouth disease": None, "zh": "手足口病",
             "icd10": ["B08.4"], "classifications": ["clinical"]}
    with pytest.raises(NotifiableListInvalid, match="unknown key foot and mouth disease"):
        parse(_list_with(diseases=[entry]))
