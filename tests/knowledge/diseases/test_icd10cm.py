"""Every ICD-10-CM code is searchable by code; words, Chinese, pinyin and typos find the right codes."""

import simple_icd_10_cm as cm

from smartcare.knowledge.diseases import icd10cm


def test_every_code_of_the_code_set_is_found_by_its_own_code():
    all_codes = [c for c in cm.get_all_codes(with_dots=True) if not cm.is_chapter_or_block(c)]
    assert len(all_codes) > 90_000
    missing = [c for c in all_codes if not icd10cm.search(c, limit=1) or icd10cm.search(c, limit=1)[0].code != c]
    assert missing == []
    assert icd10cm.count() == len(all_codes)


def test_codes_are_found_without_the_dot_and_in_lower_case():
    assert icd10cm.search("e119")[0].code == "E11.9"
    assert icd10cm.search("s52521a")[0].code == "S52.521A"
    assert icd10cm.find(" e11.9 ").code == "E11.9"


def test_code_prefix_lists_codes_below_it():
    found = [c.code for c in icd10cm.search("I21", limit=50)]
    assert found[0] == "I21"
    assert "I21.4" in found


def test_english_words_find_the_category_first():
    assert icd10cm.search("type 2 diabetes mellitus")[0].code == "E11"
    assert "J44" in [c.code for c in icd10cm.search("copd")]


def test_typos_are_forgiven():
    assert "E11" in [c.code for c in icd10cm.search("type 2 diabetis")]


def test_chinese_titles_come_from_the_curated_who_set():
    found = icd10cm.find("E11.9")
    assert found.title_zh == "2型糖尿病不伴有并发症"
    assert icd10cm.find("S52.521A").title_zh == ""
    assert icd10cm.search("糖尿病")[0].code.startswith("E1")


def test_pinyin_and_initials_find_codes():
    assert icd10cm.search("gaoxueya")[0].code.startswith("I1")
    assert icd10cm.search("gxy")[0].code.startswith("I1")


def test_parents_run_from_chapter_to_category():
    kinds = [(p.kind, p.code) for p in icd10cm.parents("E11.9")]
    assert kinds == [("chapter", "4"), ("block", "E08-E13"), ("code", "E11")]
    below = [c.code for c in icd10cm.children("E11")]
    assert "E11.9" in below
    assert "E11.00" not in below  # a grandchild, listed on E11.0's page


def test_hostile_queries_return_quietly():
    for query in ["", " ", "<b>x</b>", "|" * 50, "a", "of the", "x" * 10_000, "\x00\x01"]:
        assert len(icd10cm.search(query)) <= icd10cm.MAX_LIMIT
    assert icd10cm.find("x" * 100) is None
    assert icd10cm.parents("nope") == []
