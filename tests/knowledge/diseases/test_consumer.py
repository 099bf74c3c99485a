"""Consumer condition pages: every data file is valid and consistent, and search finds pages the way people ask."""

import re
from pathlib import Path

import pytest
import yaml

from smartcare.knowledge.diseases import consumer, icd10, icd10cm

FILES = sorted(consumer.DATA_DIR.glob("*.yaml"))
ENTRIES = [(path.name, item) for path in FILES for item in yaml.safe_load(path.read_text(encoding="utf-8"))]
TEXT_FIELDS = ("name", "what")
LIST_FIELDS = ("symptoms", "see_doctor", "self_care", "prevention")
HAN = re.compile(r"[\u3400-\u9fff]")


def test_every_file_loads_into_pages():
    assert len(consumer.load()) == len(ENTRIES)


def test_enough_pages_in_total():
    # part_b.yaml is written alongside part_a.yaml; the full set of at least 150 applies once it exists.
    minimum = 150 if (consumer.DATA_DIR / "part_b.yaml").exists() else 75
    assert len(ENTRIES) >= minimum


def test_keys_are_unique_across_files():
    seen: dict[str, str] = {}
    for name, item in ENTRIES:
        assert item["key"] not in seen, f"{item['key']} is in {seen.get(item['key'])} and {name}"
        seen[item["key"]] = name


@pytest.mark.parametrize(("name", "item"), ENTRIES, ids=[i["key"] for _, i in ENTRIES])
def test_entry_is_complete_in_both_languages(name, item):
    for field in TEXT_FIELDS:
        assert item[f"{field}_en"].strip() and item[f"{field}_zh"].strip()
        assert HAN.search(item[f"{field}_zh"]), f"{field}_zh is not Chinese"
    for field in LIST_FIELDS:
        assert item[f"{field}_en"] and item[f"{field}_zh"], field
        assert all(str(x).strip() for x in item[f"{field}_en"] + item[f"{field}_zh"])
    assert bool(item["emergency_en"]) == bool(item["emergency_zh"])
    assert item["sources"] and all(str(s).strip() for s in item["sources"])
    assert item["departments"] and all(d in consumer.DEPARTMENTS for d in item["departments"])


@pytest.mark.parametrize(("name", "item"), ENTRIES, ids=[i["key"] for _, i in ENTRIES])
def test_entry_codes_are_well_formed(name, item):
    for code in item["icd10"]:
        assert consumer.CODE_FORMAT.fullmatch(code), code


def test_part_a_codes_exist_in_icd10_cm_or_the_curated_who_set():
    part_a = yaml.safe_load((consumer.DATA_DIR / "part_a.yaml").read_text(encoding="utf-8"))
    unknown = [c for item in part_a for c in item["icd10"] if not (icd10cm.find(c) or icd10.find(c))]
    assert unknown == []


def test_a_broken_file_is_refused_with_its_name(tmp_path: Path):
    good = yaml.safe_load(FILES[0].read_text(encoding="utf-8"))[0]
    (tmp_path / "one.yaml").write_text(yaml.safe_dump([good], allow_unicode=True), encoding="utf-8")
    (tmp_path / "two.yaml").write_text(yaml.safe_dump([{**good, "departments": ["astrology"]}], allow_unicode=True),
                                       encoding="utf-8")
    with pytest.raises(consumer.ConsumerDataError, match="two.yaml"):
        consumer.load(tmp_path)


def test_a_repeated_key_is_refused(tmp_path: Path):
    good = yaml.safe_load(FILES[0].read_text(encoding="utf-8"))[0]
    for name in ("one.yaml", "two.yaml"):
        (tmp_path / name).write_text(yaml.safe_dump([good], allow_unicode=True), encoding="utf-8")
    with pytest.raises(consumer.ConsumerDataError, match="also in one.yaml"):
        consumer.load(tmp_path)


def keys(query: str) -> list[str]:
    return [m.page.key for m in consumer.search(query)]


@pytest.mark.parametrize(("query", "key"), [
    ("high blood pressure", "hypertension"),
    ("Hypertension", "hypertension"),
    ("高血压", "hypertension"),
    ("血压高", "hypertension"),
    ("gaoxueya", "hypertension"),
    ("gxy", "hypertension"),
    ("diabetis", "type-2-diabetes"),
    ("tangniaobing", "type-2-diabetes"),
    ("e11.9", "type-2-diabetes"),
    ("E119", "type-2-diabetes"),
    ("heart attack", "heart-attack"),
    ("心梗", "heart-attack"),
    ("stomach flu", "gastroenteritis"),
    ("拉肚子", "gastroenteritis"),
    ("pink eye", "conjunctivitis"),
    ("hives", "urticaria"),
    ("慢阻肺", "copd"),
    ("xinguan", "covid-19"),
    ("shingels", "shingles"),
    ("athletes foot", "fungal-skin-infection"),
    ("astma", "asthma"),
    ("蛀牙", "tooth-decay"),
])
def test_search_finds_the_page_first(query, key):
    assert keys(query)[0] == key


@pytest.mark.parametrize("query", ["", "   ", "<script>alert(1)</script>", "x" * 5000, "qqqqzzzz", "|||"])
def test_search_survives_hostile_or_empty_queries(query):
    assert len(consumer.search(query)) <= consumer.MAX_LIMIT


def test_by_icd10_picks_the_longest_listed_prefix():
    assert consumer.by_icd10("E11.9").key == "type-2-diabetes"
    assert consumer.by_icd10("I21.4").key == "heart-attack"
    assert consumer.by_icd10("J45.909").key == "asthma"
    assert consumer.by_icd10("Q99.9") is None
    assert consumer.by_icd10("x" * 100) is None


def test_consumer_page_for_gives_a_key_for_a_problem_list_link():
    assert consumer.consumer_page_for("I10") == "hypertension"
    assert consumer.consumer_page_for("K35.80") == "appendicitis"
    assert consumer.consumer_page_for("") is None


def test_pages_are_grouped_by_body_system():
    groups = {chapter.id: [p.key for p in pages] for chapter, pages in consumer.by_chapter()}
    assert "hypertension" in groups["IX"]
    assert "asthma" in groups["X"]
    assert "eczema" in groups["XII"]
