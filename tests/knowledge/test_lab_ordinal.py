"""Graded lab results: the urine strip in the order catalogue and the lab knowledge, grades as analyzers write
them, the normal/abnormal flag, the explanation of each grade and the strip read together."""

import pytest

from smartcare.knowledge import lab
from smartcare.knowledge.lab import data
from smartcare.knowledge.orders import catalogue
from tests.knowledge.test_order_catalogue import verhoeff_ok

STRIP = {"urine-ph": "5803-2", "urine-sg": "5811-5", "urine-protein": "20454-5", "urine-glucose": "25428-4",
         "urine-ketones": "2514-8", "urine-blood": "5794-3", "urine-leukocyte-esterase": "5799-2",
         "urine-nitrite": "5802-4", "urine-bilirubin": "5770-3", "urine-urobilinogen": "5818-0"}
PROTEIN, GLUCOSE, LEUKOCYTES, NITRITE, UROBILINOGEN = "20454-5", "25428-4", "5799-2", "5802-4", "5818-0"
FAECAL_BLOOD = "57905-2"


def test_the_urinalysis_panel_lists_the_strip_members_so_it_can_be_resulted():
    panel = catalogue.find_order("urinalysis")
    assert panel.code == "24356-8"
    assert {t.key: t.loinc for t in panel.tests} == STRIP
    for test in panel.tests:
        assert test.specimen.key == "urine" and "Test strip" in test.name_en
        item = lab.analyte(test.loinc)
        assert item is not None and item.unit == test.unit, test.key
    assert {t.key for t in panel.tests if t.unit} == {"urine-ph", "urine-sg"}
    assert catalogue.search_orders("尿常规")[0].key == "urinalysis"


def test_the_graded_members_and_the_faecal_blood_test_have_ordered_answers_in_both_languages():
    for loinc in [*STRIP.values(), FAECAL_BLOOD]:
        item = lab.analyte(loinc)
        if item.unit:
            continue
        assert item.ordinal and item.answers[0].normal, loinc
        assert [a for a in item.answers if not a.normal], loinc
        for answer in item.answers:
            assert answer.en and any("\u4e00" <= ch <= "\u9fff" or ch in "+" for ch in answer.zh), answer
    assert [a.code for a in lab.analyte(PROTEIN).answers] == ["neg", "trace", "1+", "2+", "3+", "4+"]
    assert [a.code for a in lab.analyte(NITRITE).answers] == ["neg", "pos"]
    assert [a.code for a in lab.analyte(FAECAL_BLOOD).answers] == ["neg", "pos"]
    assert {a.code for a in lab.analyte(UROBILINOGEN).answers if a.normal} == {"neg", "normal"}
    assert lab.analyte("尿蛋白").loinc == PROTEIN and lab.analyte("亚硝酸盐").loinc == NITRITE


def test_snomed_is_used_only_for_exactly_negative_and_positive():
    answers = {a.code: a for scale in data.ordinal_data().scales.values() for a in scale}
    assert {code: a.snomed for code, a in answers.items() if a.snomed} == {"neg": "260385009", "pos": "10828004"}
    assert all(verhoeff_ok(a.snomed) for a in answers.values() if a.snomed)
    assert lab.ordinal_system() == "https://smartcare.example/fhir/CodeSystem/lab-ordinal"


@pytest.mark.parametrize(("loinc", "text", "code"), [
    (PROTEIN, "NEG", "neg"), (PROTEIN, "negative", "neg"), (PROTEIN, "阴性", "neg"), (PROTEIN, "+-", "trace"),
    (PROTEIN, "±", "trace"), (PROTEIN, "Trace", "trace"), (PROTEIN, "+", "1+"), (PROTEIN, " 1+ ", "1+"),
    (PROTEIN, "++", "2+"), (PROTEIN, "+++", "3+"), (PROTEIN, "4+", "4+"), (LEUKOCYTES, "++", "2+"),
    (NITRITE, "+", "pos"), (NITRITE, "POS", "pos"), (NITRITE, "Positive", "pos"), (NITRITE, "阳性", "pos"),
    (NITRITE, "neg", "neg"), (UROBILINOGEN, "Normal", "normal"), (UROBILINOGEN, "NORM", "normal"),
    (FAECAL_BLOOD, "positive", "pos"),
])
def test_grades_are_read_however_analyzers_and_people_spell_them(loinc, text, code):
    assert lab.grade(loinc, text).code == code


@pytest.mark.parametrize(("loinc", "text"), [
    (PROTEIN, "Positive"), (PROTEIN, "5+"), (NITRITE, "2+"), (NITRITE, "trace"), (LEUKOCYTES, "4+"),
    (PROTEIN, "Normal"), (PROTEIN, ""), (PROTEIN, "x" * 10_000), (PROTEIN, "<script>"), ("718-7", "NEG"),
    ("nothing", "NEG"),
])
def test_a_text_that_is_no_grade_of_the_test_is_not_read_as_one(loinc, text):
    assert lab.grade(loinc, text) is None


def test_a_grade_other_than_the_usual_is_abnormal_with_no_critical_limit():
    assert lab.grade_flag(lab.grade(PROTEIN, "neg")) == "N"
    assert lab.grade_flag(lab.grade(PROTEIN, "trace")) == "A"
    assert lab.grade_flag(lab.grade(UROBILINOGEN, "normal")) == "N"
    assert lab.grade_flag(lab.grade(UROBILINOGEN, "2+")) == "A"
    for loinc in STRIP.values():
        assert loinc not in data.critical_table()


def test_each_graded_test_explains_an_abnormal_grade_in_english_and_chinese_with_what_to_do():
    _, table = data.interpretation_table()
    for loinc in [PROTEIN, GLUCOSE, "2514-8", "5794-3", LEUKOCYTES, NITRITE, "5770-3", UROBILINOGEN, FAECAL_BLOOD]:
        text = table[loinc]["abnormal"]
        assert text["en"] and any("\u4e00" <= ch <= "\u9fff" for ch in text["zh"]) and table[loinc]["source"]
        assert text["action"] in ("routine", "see-doctor-soon")
    meaning = lab.interpret_grade(LEUKOCYTES, "2+")
    assert meaning.level == "abnormal" and meaning.flag == "A" and meaning.action == "see-doctor-soon"
    assert "infection" in meaning.meaning_en and "感染" in meaning.meaning_zh and "EAU" in meaning.source
    usual = lab.interpret_grade(LEUKOCYTES, "neg")
    assert usual.level == "normal" and usual.action == "routine" and "Simerville" in usual.source
    assert [a.en for a in usual.usual] == ["Negative"]


@pytest.mark.parametrize(("loinc", "code"), [(LEUKOCYTES, "pos"), (NITRITE, "2+"), ("718-7", "neg"), ("x", "neg")])
def test_explaining_a_grade_the_test_does_not_have_is_refused(loinc, code):
    with pytest.raises(ValueError):
        lab.interpret_grade(loinc, code)


def test_nitrite_with_leukocyte_esterase_reads_as_a_likely_urinary_infection():
    [finding] = lab.interpret_grades({NITRITE: "pos", LEUKOCYTES: "2+"})
    assert finding.key == "urinary-tract-infection" and finding.action == "see-doctor-soon"
    assert "urinary tract infection" in finding.meaning_en and "尿路感染" in finding.meaning_zh
    assert "EAU" in finding.source and "Simerville" in finding.source
    assert lab.interpret_grades({NITRITE: "pos", LEUKOCYTES: "neg"}) == []
    assert lab.interpret_grades({NITRITE: "neg", LEUKOCYTES: "3+"}) == []


def test_glucose_in_urine_asks_for_a_blood_glucose_check():
    [finding] = lab.interpret_grades({"urine glucose": "1+"})
    assert finding.key == "glucosuria" and "blood glucose" in finding.meaning_en


def test_protein_found_again_asks_for_a_kidney_check_and_once_for_a_repeat_test():
    [once] = lab.interpret_grades({PROTEIN: "2+"})
    assert once.key == "proteinuria-once" and once.action == "routine"
    [again] = lab.interpret_grades({PROTEIN: "1+"}, earlier={PROTEIN: ["neg", "2+"]})
    assert again.key == "proteinuria-repeated" and again.action == "see-doctor-soon" and "KDIGO" in again.source
    assert lab.interpret_grades({PROTEIN: "trace"}) == []
    assert lab.interpret_grades({PROTEIN: "1+"}, earlier={PROTEIN: ["neg", "trace"]})[0].key == "proteinuria-once"


@pytest.mark.parametrize("grades", [{}, {"718-7": "2+"}, {PROTEIN: "9+"}, {NITRITE: 1}, {1: "pos"},
                                    {"x" * 10_000: "neg"}])
def test_patterns_ignore_what_is_not_a_grade(grades):
    assert lab.interpret_grades(grades) == []


def test_too_many_grades_are_refused():
    with pytest.raises(ValueError):
        lab.interpret_grades({str(n): "neg" for n in range(500)})


def test_urine_ph_and_specific_gravity_are_numbers_with_the_usual_limits():
    assert lab.flag(8.5, lab.reference_range("5803-2", sex=None, age_days=None)) == "H"
    assert lab.flag(6.0, lab.reference_range("5803-2", sex="female", age_days=30 * 365)) == "N"
    assert lab.flag(1.003, lab.reference_range("5811-5", sex="male", age_days=30 * 365)) == "L"
    assert lab.analyte("5811-5").unit == "1" and not lab.analyte("5811-5").ordinal
