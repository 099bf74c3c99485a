"""Consumer drug knowledge: the data files, search by any name, a drug's interaction pairs and the together-checker."""

from pathlib import Path

import pytest
import yaml

from smartcare.knowledge.drugs import consumer
from smartcare.knowledge.drugs.consumer import CONSUMER_DIR, ConsumerDataError, UnknownDrugs, load_entries
from smartcare.knowledge.drugs.formulary import DATA_DIR, default


def _formulary_files() -> dict[str, list[str]]:
    return {path.stem: [entry["key"] for entry in yaml.safe_load(path.read_text(encoding="utf-8"))]
            for path in sorted((DATA_DIR / "formulary").glob("*.yaml"))}


def test_every_consumer_file_loads_and_names_only_formulary_drugs_in_their_own_letter():
    entries = load_entries()
    assert entries, "no consumer drug data found"
    assert consumer.problems(entries, default()) == []
    for info in entries.values():
        for field in ("uses", "how", "common", "serious"):
            assert getattr(info, f"{field}_en") and getattr(info, f"{field}_zh"), (info.key, field)
        assert len(info.avoid_en) == len(info.avoid_zh), info.key
        assert info.source.strip(), info.key


def test_no_drug_is_described_twice_across_files():
    seen: dict[str, str] = {}
    for path in sorted(CONSUMER_DIR.glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            assert entry["key"] not in seen, f"{entry['key']} in {path.name} and {seen[entry['key']]}"
            seen[entry["key"]] = path.name


def test_every_formulary_drug_of_a_written_letter_has_consumer_data():
    """Letters whose consumer file is still missing are skipped; once all exist this covers the whole formulary."""
    entries = load_entries()
    missing = [f"{letter}: {key}" for letter, keys in _formulary_files().items()
               if (CONSUMER_DIR / f"{letter}.yaml").exists() for key in keys if key not in entries]
    assert missing == []


def test_chinese_and_english_text_differ_so_neither_is_a_copy_of_the_other():
    for info in load_entries().values():
        assert info.uses_en != info.uses_zh
        assert any("\u4e00" <= ch <= "\u9fff" for ch in info.uses_zh), info.key


def test_a_duplicate_key_or_an_entry_without_chinese_is_refused(tmp_path: Path):
    entry = {"key": "digoxin", "uses_en": "x", "uses_zh": "用", "how_en": ["a"], "how_zh": ["a"],
             "common_en": ["a"], "common_zh": ["a"], "serious_en": ["a"], "serious_zh": ["a"], "source": "s"}
    (tmp_path / "C.yaml").write_text(yaml.safe_dump([entry, entry], allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConsumerDataError, match="already described"):
        load_entries(tmp_path)
    (tmp_path / "C.yaml").write_text(yaml.safe_dump([{**entry, "uses_zh": " "}], allow_unicode=True),
                                     encoding="utf-8")
    with pytest.raises(ConsumerDataError, match="uses_zh"):
        load_entries(tmp_path)


@pytest.mark.parametrize("query", ["Lanoxin", "地高辛", "digoxin", "Digoxin 0.25 mg tablets", "dgx", "digaoxin",
                                   "digoxn", "digoxine"])
def test_digoxin_is_found_first_by_brand_chinese_pinyin_initials_and_typos(query):
    assert consumer.default().search(query)[0].key == "digoxin"


@pytest.mark.parametrize(("query", "key"), [("华发林", "warfarin"), ("warfrin", "warfarin"), ("Coumadin", "warfarin"),
                                            ("metfromin", "metformin"), ("阿斯匹林", "aspirin"), ("Lipitor", "atorvastatin")])
def test_misspelt_or_brand_names_find_the_drug(query, key):
    assert key in [d.key for d in consumer.default().search(query)[:3]]


@pytest.mark.parametrize("query", ["", "   ", "<script>alert(1)</script>", "x" * 5000, "'; DROP TABLE drugs; --",
                                   "\x00\x01", "qqqqzzzz"])
def test_hostile_or_meaningless_queries_find_nothing_and_do_not_fail(query):
    assert consumer.default().search(query) == []


def test_warfarin_pairs_come_from_the_interaction_table_with_their_source():
    knowledge = consumer.default()
    pairings = knowledge.pairings("warfarin")
    with_aspirin = [p for p in pairings if "aspirin" in {d.key for d in p.partners}]
    assert with_aspirin
    table = set(knowledge.formulary.interactions)
    assert all(p.rule in table for p in pairings)
    assert with_aspirin[0].rule.severity == "major"
    assert "warfarin" not in {d.key for p in pairings for d in p.partners}


def test_the_checker_finds_a_known_pair_with_the_rule_source_whatever_the_names_used():
    findings = consumer.default().check_together(["华法林", "Bayaspirin"])
    assert [(f.first.key, f.second.key, f.kind) for f in findings] == [("warfarin", "aspirin", "interaction")]
    rule = findings[0].rules[0]
    assert rule.severity == "major" and rule.source.strip()


def test_the_checker_flags_a_contraindicated_pair_before_lesser_ones():
    findings = consumer.default().check_together(["simvastatin", "clarithromycin", "warfarin", "aspirin"])
    assert findings[0].severity == "contraindicated"
    assert {findings[0].first.key, findings[0].second.key} == {"simvastatin", "clarithromycin"}


def test_the_checker_flags_the_same_ingredient_in_two_products():
    findings = consumer.default().check_together(["losartan", "losartan-hydrochlorothiazide"])
    assert any(f.kind == "duplicate" and f.shared == ("losartan",) for f in findings)


def test_a_pair_the_table_does_not_list_gives_no_finding():
    assert consumer.default().check_together(["omeprazole", "folic-acid"]) == []


def test_the_checker_refuses_unknown_names_with_suggestions():
    with pytest.raises(UnknownDrugs) as caught:
        consumer.default().check_together(["warfarin", "asprin", "<b>nothing</b>"])
    assert caught.value.names == ["asprin", "<b>nothing</b>"]
    assert [d.key for d in caught.value.suggestions["asprin"]][:1] == ["aspirin"]


def test_the_checker_refuses_more_than_the_limit():
    keys = [d.key for d in list(consumer.default().formulary.drugs.values())[: consumer.MAX_CHECKED + 1]]
    with pytest.raises(ValueError):
        consumer.default().check_together(keys)
