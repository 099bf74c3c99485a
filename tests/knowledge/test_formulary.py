"""The drug formulary loads, finds drugs every way a prescriber names them, and refuses bad data."""

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from smartcare.knowledge.drugs import KnowledgeDataError, default, formulary, load
from smartcare.knowledge.drugs.model import SEVERITIES

DEMO_DATA = Path(formulary.__file__).parents[2] / "demo" / "data"
OUR_GROUPS = ("A", "B", "C", "H")
REQUIRED = (
    "metformin glibenclamide gliclazide glimepiride acarbose sitagliptin insulin-glargine insulin-aspart dapagliflozin "
    "empagliflozin omeprazole pantoprazole esomeprazole famotidine domperidone metoclopramide loperamide ondansetron "
    "lactulose warfarin heparin enoxaparin rivaroxaban apixaban dabigatran clopidogrel aspirin ticagrelor amlodipine "
    "nifedipine felodipine diltiazem verapamil valsartan losartan irbesartan telmisartan candesartan captopril "
    "enalapril lisinopril perindopril benazepril sacubitril-valsartan metoprolol bisoprolol atenolol propranolol "
    "carvedilol hydrochlorothiazide indapamide furosemide torasemide spironolactone digoxin amiodarone "
    "isosorbide-mononitrate nitroglycerin atorvastatin rosuvastatin simvastatin pravastatin ezetimibe fenofibrate "
    "levothyroxine methimazole prednisone methylprednisolone dexamethasone hydrocortisone potassium-chloride "
    "calcium-carbonate calcitriol folic-acid ferrous-sulfate"
).split()


@pytest.fixture(scope="module")
def shipped():
    return load()


def _our_drugs():
    for group in OUR_GROUPS:
        raw = yaml.safe_load((formulary.DATA_DIR / "formulary" / f"{group}.yaml").read_text(encoding="utf-8"))
        for record in raw:
            yield group, record


def test_shipped_formulary_holds_at_least_200_medicines(shipped):
    # Counts both helpers' ATC groups: below 200 until J, N, R, M ... are written.
    assert len(shipped.drugs) >= 200


def test_our_groups_hold_the_medicines_the_prescription_audit_relies_on(shipped):
    missing = [key for key in REQUIRED if key not in shipped.drugs]
    assert missing == []
    assert sum(1 for _ in _our_drugs()) >= 100


@pytest.mark.parametrize("group_record", list(_our_drugs()), ids=lambda gr: gr[1]["key"])
def test_each_of_our_drugs_has_an_adult_limit_and_typical_doses_within_a_limit(group_record):
    group, record = group_record
    assert any(code.startswith(group) for code in record["atc"])
    adult = [d for d in record.get("doses", []) if d["population"] == "adult"]
    assert adult, "every medicine needs an adult dose limit"
    for typical in record.get("typical", []):
        limits = [d for d in record["doses"] if d["route"] == typical["route"] and d["unit"] == typical["unit"]
                  and d.get("basis", "fixed") == typical.get("basis", "fixed")]
        assert limits, f"no {typical['route']} limit in {typical['unit']} for the typical dose"
        assert any(typical["dose"] <= (d.get("per_dose_max") or d["per_day_max"]) for d in limits)


@pytest.mark.parametrize(("text", "key"), [
    ("amlodipine", "amlodipine"),
    ("  AMLODIPINE ", "amlodipine"),
    ("氨氯地平", "amlodipine"),
    ("苯磺酸氨氯地平片", "amlodipine"),
    ("Norvasc", "amlodipine"),
    ("amlodipine besylate 5 mg tablets", "amlodipine"),
    ("C08CA01", "amlodipine"),
    ("c08ca01", "amlodipine"),
    ("sacubitril valsartan", "sacubitril-valsartan"),
    ("Glucophage", "metformin"),
    ("盐酸二甲双胍片", "metformin"),
    ("N02BA01", "aspirin"),
    ("B01AC06", "aspirin"),
    ("阿托伐他汀钙片", "atorvastatin"),
    ("甘精胰岛素注射液", "insulin-glargine"),
])
def test_find_by_key_name_chinese_alias_product_name_or_atc(shipped, text, key):
    assert shipped.find(text).key == key


@pytest.mark.parametrize("text", ["", "   ", "no such drug", "Z99ZZ99", "x" * 10_000, "../../etc/passwd"])
def test_find_unknown_or_hostile_text_gives_none(shipped, text):
    assert shipped.find(text) is None


def test_search_by_pinyin_initials_full_pinyin_prefix_and_atc(shipped):
    assert shipped.search("ejsg")[0].key == "metformin"
    assert shipped.search("erjiashuanggua")[0].key == "metformin"
    assert "amlodipine" in [d.key for d in shipped.search("anlv")]
    assert "atorvastatin" in [d.key for d in shipped.search("他汀")]
    assert {d.key for d in shipped.search("C09CA", limit=50)} >= {"valsartan", "losartan", "irbesartan"}
    assert len(shipped.search("a", limit=3)) == 3
    assert shipped.search("") == [] and shipped.search("x" * 1000) == []


def test_exact_match_ranks_before_prefix_matches(shipped):
    results = shipped.search("valsartan")
    assert results[0].key == "valsartan"
    assert "sacubitril-valsartan" in [d.key for d in results]


def test_in_class_lists_every_drug_with_the_prefix(shipped):
    arbs = {d.key for d in shipped.in_class("C09CA")}
    assert {"valsartan", "losartan", "irbesartan", "telmisartan", "candesartan"} <= arbs
    assert "sacubitril-valsartan" not in arbs
    assert {d.key for d in shipped.in_class("ATC:C09CA")} == arbs
    assert "aspirin" in {d.key for d in shipped.in_class("N02B")}
    with pytest.raises(ValueError, match="not an ATC"):
        shipped.in_class("C9")


def _write_interactions(folder: Path, rows: str) -> None:
    (folder / "interactions").mkdir(parents=True)
    header = "a,b,severity,mechanism_en,mechanism_zh,management_en,management_zh,source,onc_high_priority\n"
    (folder / "interactions" / "test.csv").write_text(header + textwrap.dedent(rows), encoding="utf-8")


def test_interactions_between_matches_both_orders_classes_and_ingredients(tmp_path):
    _write_interactions(tmp_path, """\
        warfarin,ATC:B01AC,major,Additive bleeding,出血叠加,Avoid,避免,Test source,true
        ATC:C09CA,potassium-chloride,moderate,Hyperkalaemia,高钾,Check potassium,监测血钾,Test source,
        ATC:C09,ATC:C03DA,major,Hyperkalaemia,高钾,Check potassium,监测血钾,Test source,false
        valsartan,spironolactone,minor,Duplicate pair as keys,重复,Nothing,无,Test source,false
        """)
    f = load(extra_dirs=[tmp_path])

    def ours(a, b):
        return [i for i in f.interactions_between(f.find(a), f.find(b)) if i.source == "Test source"]

    both = ours("warfarin", "aspirin")
    assert [i.severity for i in both] == ["major"] and both[0].onc_high_priority
    assert ours("aspirin", "warfarin") == both
    assert [i.a for i in ours("potassium-chloride", "sacubitril-valsartan")] == ["ATC:C09CA"]
    assert [i.severity for i in ours("valsartan", "spironolactone")] == ["major", "minor"]
    assert ours("amlodipine", "metformin") == []
    everything = f.interactions_between(f.find("valsartan"), f.find("spironolactone"))
    assert len(everything) == len(set(everything))
    assert [SEVERITIES.index(i.severity) for i in everything] == sorted(SEVERITIES.index(i.severity) for i in everything)


def test_allergy_classes_of_snomed_code_name_or_drug(shipped):
    assert [c.key for c in shipped.allergy_classes_of("764146007")] == ["penicillins"]
    assert [c.key for c in shipped.allergy_classes_of("387406002")] == ["sulfonamide-antibiotics"]
    assert [c.key for c in shipped.allergy_classes_of("387458008")] == ["salicylates"]
    assert [c.key for c in shipped.allergy_classes_of("青霉素类")] == ["penicillins"]
    assert [c.key for c in shipped.allergy_classes_of("aspirin")] == ["salicylates"]
    assert [c.key for c in shipped.allergy_classes_of(shipped.find("heparin"))] == ["heparins"]
    assert shipped.allergy_classes_of("123") == []


def test_cross_sensitivities_carry_their_risk_and_sulfonamides_explain_instead_of_alerting(shipped):
    penicillins = shipped.allergy_classes["penicillins"]
    risks = dict(penicillins.cross_sensitive)
    assert "1-2%" in risks["cephalosporins"] and "monobactams" not in risks
    assert dict(penicillins.cross_sensitive_zh)["cephalosporins"]
    sulfa = shipped.allergy_classes["sulfonamide-antibiotics"]
    assert sulfa.cross_sensitive == () and "No meaningful cross-reactivity" in sulfa.note_en
    assert "nsaids" in dict(shipped.allergy_classes["salicylates"].cross_sensitive)


def test_every_demo_allergy_code_maps_to_a_class(shipped):
    substances = json.loads((DEMO_DATA / "allergies.json").read_text(encoding="utf-8"))["substances"]
    medication_codes = [s["code"] for s in substances if s["category"] == "medication"]
    assert medication_codes
    assert [code for code in medication_codes if not shipped.allergy_classes_of(code)] == []


def test_every_demo_medication_is_in_the_formulary(shipped):
    drugs = json.loads((DEMO_DATA / "medications.json").read_text(encoding="utf-8"))["drugs"]
    missing = [d["atc"] for d in drugs.values() if shipped.find(d["atc"]) is None]
    assert missing == []


def test_default_includes_the_imported_sets_of_the_knowledge_dir(tmp_path, monkeypatch):
    _write_interactions(tmp_path, "warfarin,aspirin,major,Bleeding,出血,Avoid,避免,Test source,true\n")
    monkeypatch.setenv("SMARTCARE_KNOWLEDGE_DIR", str(tmp_path))
    default.cache_clear()
    try:
        f = default()
        found = f.interactions_between(f.find("warfarin"), f.find("aspirin"))
        assert [i.mechanism_en for i in found if i.a == "warfarin" and i.b == "aspirin"] == ["Bleeding"]
        assert default() is f
    finally:
        default.cache_clear()


GOOD = {"key": "testdrug", "name_en": "Testdrug", "name_zh": "测试药", "atc": ["C09AA99"], "source": "Test label"}


@pytest.mark.parametrize(("change", "message"), [
    ({"atc": ["C9AA05"]}, "malformed ATC code"),
    ({"source": ""}, "source"),
    ({"pregnancy": "E"}, "pregnancy"),
    ({"lactation": "maybe"}, "lactation"),
    ({"doses": [{"population": "adults", "route": "oral", "unit": "mg", "per_day_max": 10}]}, "population"),
    ({"doses": [{"population": "adult", "route": "oral", "unit": "mg", "basis": "per_lb", "per_day_max": 1}]}, "basis"),
    ({"doses": [{"population": "adult", "route": "oral", "unit": "mg", "per_dose_max": 20, "per_day_max": 10}]},
     "per_dose_max is above per_day_max"),
    ({"conditions": [{"icd10_prefixes": ["J45"], "severity": "severe", "reason_en": "x", "reason_zh": "x",
                      "source": "Test"}]}, "severity"),
    ({"typical": [{"indication_en": "x", "indication_zh": "x", "dose": 1, "unit": "mg", "frequency": "Q2D",
                   "route": "oral"}]}, "frequency"),
    ({"allergy_classes": ["no-such-class"]}, "unknown allergy class"),
    ({"ingredients": ["no-such-drug"]}, "ingredient"),
    ({"unknown_field": 1}, "unknown_field"),
    ({"name_zh": "氨氯地平"}, "already used by drug 'amlodipine'"),
])
def test_bad_drug_data_is_refused_naming_file_and_record(tmp_path, change, message):
    (tmp_path / "formulary").mkdir()
    path = tmp_path / "formulary" / "bad.yaml"
    path.write_text(yaml.safe_dump([{**GOOD, **change}], allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match=message) as caught:
        load(extra_dirs=[tmp_path])
    assert str(path) in str(caught.value) and "testdrug" in str(caught.value)


def test_duplicate_keys_in_one_file_are_refused(tmp_path):
    (tmp_path / "formulary").mkdir()
    (tmp_path / "formulary" / "dup.yaml").write_text(yaml.safe_dump([GOOD, GOOD]), encoding="utf-8")
    with pytest.raises(KnowledgeDataError, match="record 2 'testdrug': duplicate drug key"):
        load(extra_dirs=[tmp_path])


@pytest.mark.parametrize(("row", "message"), [
    ("warfarin,no-such-drug,major,m,m,m,m,Test source,false", "line 2: 'no-such-drug' is not a drug"),
    ("warfarin,ATC:C9,major,m,m,m,m,Test source,false", "line 2: .*malformed ATC class prefix"),
    ("warfarin,aspirin,serious,m,m,m,m,Test source,false", "line 2: severity"),
    ("warfarin,aspirin,major,m,m,m,m,,false", "line 2: source"),
    ("warfarin,aspirin,major,m,m,m,m,Test source,perhaps", "line 2: onc_high_priority"),
])
def test_bad_interactions_are_refused_with_their_line(tmp_path, row, message):
    _write_interactions(tmp_path, row + "\n")
    with pytest.raises(KnowledgeDataError, match=message):
        load(extra_dirs=[tmp_path])


def test_bad_shipped_allergy_classes_are_refused(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "formulary").mkdir(parents=True)
    (data / "allergy_classes.yaml").write_text(yaml.safe_dump([{
        "key": "penicillins", "name_en": "Penicillins", "name_zh": "青霉素类", "source": "Test",
        "cross_sensitive": [{"class": "no-such-class", "risk_en": "x", "risk_zh": "x"}],
    }], allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(formulary, "DATA_DIR", data)
    formulary._shipped.cache_clear()
    try:
        with pytest.raises(KnowledgeDataError, match="unknown cross-sensitive class 'no-such-class'"):
            load()
    finally:
        monkeypatch.undo()
        formulary._shipped.cache_clear()


def test_malformed_yaml_is_refused_naming_the_file(tmp_path):
    (tmp_path / "formulary").mkdir()
    (tmp_path / "formulary" / "broken.yaml").write_text("- key: [unclosed\n", encoding="utf-8")
    with pytest.raises(KnowledgeDataError, match="broken.yaml: not valid YAML"):
        load(extra_dirs=[tmp_path])
