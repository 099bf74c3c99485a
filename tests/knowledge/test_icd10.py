"""ICD-10 table: coverage, lookup, chapters and the search a doctor types into."""

import json
from pathlib import Path

import pytest

from smartcare.knowledge.diseases import icd10

DEMO_CONDITIONS = Path(__file__).parents[2] / "smartcare" / "demo" / "data" / "conditions.json"


def _demo_codes() -> dict[str, str]:
    data = json.loads(DEMO_CONDITIONS.read_text(encoding="utf-8"))
    codes = {}
    for item in data["chronic"]:
        codes[item["icd10"]] = item["display"]
        for code, display, *_ in item.get("stages", []):
            codes[code] = display
    screening = [v for v in data["screening"].values() if isinstance(v, dict)]
    for item in [*data["acute_outpatient"]["episodes"], *data["admissions"]["reasons"], *screening]:
        codes[item["icd10"]] = item["display"]
    return codes


def test_every_demo_condition_code_is_in_the_table_with_the_same_english_title():
    for code, display in _demo_codes().items():
        diagnosis = icd10.find(code)
        assert diagnosis is not None, code
        assert diagnosis.title_en == display, code


@pytest.mark.parametrize("code", [
    "A00", "A01", "A03", "A09", "A15", "A16", "A17", "A18", "A19", "A20", "A36", "A37", "A39", "A75", "A82",
    "A90", "A91", "A92", "A95", "A97", "A98", "B01", "B05", "B06", "B15", "B16", "B17", "B18", "B19", "B20",
    "B24", "B26", "B50", "B51", "B54", "B65", "J09", "J10", "J11", "U07.1",
])
def test_notifiable_infectious_diseases_are_covered(code):
    assert icd10.find(code) is not None


def test_table_covers_all_chapters_and_at_least_700_codes():
    rows = icd10.diagnoses()
    assert len(rows) >= 700
    assert [c.id for c in icd10.chapters()] == [
        "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV", "XVI",
        "XVII", "XVIII", "XIX", "XX", "XXI", "XXII"]
    assert {d.chapter for d in rows} == {c.id for c in icd10.chapters()} - {"XX"}


def test_rows_are_consistent_with_their_chapter_block_and_parent():
    codes = {d.code: d for d in icd10.diagnoses()}
    for diagnosis in codes.values():
        assert icd10.is_valid_code(diagnosis.code)
        assert diagnosis.title_en and diagnosis.title_zh
        assert icd10.chapter_of(diagnosis.code)[0] == diagnosis.chapter
        assert icd10.block_of(diagnosis.code).range == diagnosis.block
        if "." in diagnosis.code:
            parent = codes.get(diagnosis.code.split(".")[0])
            assert parent is not None and not parent.leaf, diagnosis.code


def test_find_ignores_case_spaces_and_the_dot():
    assert icd10.find("E119").code == "E11.9"
    assert icd10.find(" e11.9 ").code == "E11.9"
    assert icd10.find("I10").title_zh == "特发性(原发性)高血压"
    assert icd10.find("E11").leaf is False
    assert icd10.find("E11.9").leaf is True
    assert icd10.find("Z99.99") is None


def test_chapter_of_well_formed_codes_even_outside_the_table():
    assert icd10.chapter_of("I10") == ("IX", "Diseases of the circulatory system", "循环系统疾病")
    assert icd10.chapter_of("D50.9")[0] == "III"
    assert icd10.chapter_of("D48")[0] == "II"
    assert icd10.chapter_of("H60")[0] == "VIII"
    assert icd10.chapter_of("W19")[0] == "XX"
    assert icd10.chapter_of("U07.1")[0] == "XXII"
    assert icd10.chapter_of("hello") is None


@pytest.mark.parametrize(("code", "valid"), [
    ("A00", True), ("Z99.9", True), ("E11.65", True), ("e11.9", True), ("E11.", False), ("E1", False),
    ("E11.123", False), ("11.9", False), ("", False), ("E11.9; DROP TABLE", False), ("E" * 10000, False),
])
def test_is_valid_code_checks_the_shape(code, valid):
    assert icd10.is_valid_code(code) is valid


def test_search_ranks_exact_code_then_code_prefix():
    results = icd10.search("E11")
    assert results[0].code == "E11"
    assert all(d.code.startswith("E11") for d in results[:11])
    assert icd10.search("e119")[0].code == "E11.9"


def test_search_by_chinese_full_pinyin_and_initials_finds_hypertension_first():
    assert icd10.search("高血压")[0].code == "I10"
    assert icd10.search("gaoxueya")[0].code == "I10"
    assert "I10" in [d.code for d in icd10.search("gxy")[:3]]


def test_search_english_words_all_prefix_match():
    results = icd10.search("diab mell", limit=50)
    assert results
    for diagnosis in results:
        words = diagnosis.title_en.lower().split()
        assert any(w.startswith("diab") for w in words) and any(w.startswith("mell") for w in words)
    assert icd10.search("copd")[0].code.startswith("J44")


def test_search_respects_the_limit():
    assert len(icd10.search("a", limit=5)) == 5
    assert icd10.search("肺炎", limit=0) == []


@pytest.mark.parametrize("hostile", [
    "", "   ", "x" * 10_000, "'; DROP TABLE diagnoses; --", ".*", "(((", "[a-", "\\", "|", "%_%", "\x00",
    "高" * 5000, "🙂",
])
def test_hostile_search_input_returns_a_list_without_error(hostile):
    assert isinstance(icd10.search(hostile), list)


def test_non_text_input_is_rejected_quietly():
    assert icd10.search(None) == []  # type: ignore[arg-type]
    assert icd10.find(None) is None  # type: ignore[arg-type]
    assert icd10.is_valid_code(42) is False  # type: ignore[arg-type]
