"""Checks over the shipped interaction table and the J, N, R, M, G, L, P, D, S and V formulary groups."""

import csv
import json
import re
from pathlib import Path

import pytest

from smartcare.knowledge.drugs import formulary
from smartcare.knowledge.drugs.model import SEVERITIES
from smartcare.knowledge.drugs.records import ATC_PREFIX, CLASS_RULE_PREFIX

DATA = Path(formulary.__file__).parent / "data"
INTERACTIONS_CSV = DATA / "interactions.csv"
DEMO_MEDICATIONS = Path(__file__).parents[2] / "smartcare" / "demo" / "data" / "medications.json"
GROUPS = ("J", "N", "R", "M", "G", "L", "P", "D", "S", "V")
HAN = re.compile(r"[\u4e00-\u9fff]")

# The 15 interactions of Phansalkar S et al., J Am Med Inform Assoc 2012;19:735-43, each with the rows
# that must implement it (see data/README-interactions.md).
ONC_HIGH_PRIORITY = {
    "amphetamines / MAO inhibitors": [("ATC:N06BA", "ATC:N06AF"), ("ATC:R01BA", "ATC:N06AF")],
    "atazanavir / proton pump inhibitors": [("ATC:J05AE08", "ATC:A02BC")],
    "febuxostat / azathioprine, mercaptopurine": [("febuxostat", "azathioprine"), ("febuxostat", "mercaptopurine")],
    "SSRIs / MAO inhibitors": [("ATC:N06AB", "ATC:N06AF"), ("venlafaxine", "ATC:N06AF"), ("duloxetine", "ATC:N06AF")],
    "irinotecan / strong CYP3A4 inhibitors": [
        ("ATC:L01CE02", "clarithromycin"), ("ATC:L01CE02", "itraconazole"), ("ATC:L01CE02", "ATC:J05AE"),
    ],
    "narcotic analgesics / MAO inhibitors": [("ATC:N02AB", "ATC:N06AF"), ("tramadol", "ATC:N06AF")],
    "tricyclic antidepressants / MAO inhibitors": [("ATC:N06AA", "ATC:N06AF")],
    "QT-prolonging agents / QT-prolonging agents": [
        ("ATC:C01BD", "ATC:J01FA"), ("citalopram", "ATC:J01MA"), ("haloperidol", "ATC:J01FA"),
        ("ATC:N05AG02", "ATC:J01FA"), ("ATC:N05AC02", "ATC:C01BD"),
    ],
    "ramelteon / strong CYP1A2 inhibitors": [("ATC:N05CH02", "fluvoxamine")],
    "strong CYP3A4 inducers / protease inhibitors": [("rifampicin", "ATC:J05AE"), ("carbamazepine", "ATC:J05AE")],
    "simvastatin, lovastatin / CYP3A4 and protease inhibitors": [
        ("ATC:C10AA01", "clarithromycin"), ("ATC:C10AA01", "ATC:J05AE"), ("ATC:C10AA02", "itraconazole"),
    ],
    "CYP3A4 and protease inhibitors / ergot alkaloids": [("ATC:N02CA", "clarithromycin"), ("ATC:N02CA", "ATC:J05AE")],
    "tizanidine / CYP1A2 inhibitors": [("tizanidine", "fluvoxamine"), ("tizanidine", "ciprofloxacin")],
    "tranylcypromine / procarbazine": [("ATC:N06AF04", "ATC:L01XB01")],
    "triptans / MAO inhibitors": [("sumatriptan", "ATC:N06AF"), ("sumatriptan", "ATC:N06AG")],
}

MUST_INCLUDE = (
    "amoxicillin amoxicillin-clavulanate ampicillin benzylpenicillin piperacillin-tazobactam cefalexin cefuroxime "
    "ceftriaxone cefixime cefazolin ceftazidime meropenem imipenem-cilastatin aztreonam azithromycin clarithromycin "
    "erythromycin levofloxacin moxifloxacin ciprofloxacin doxycycline minocycline sulfamethoxazole-trimethoprim "
    "nitrofurantoin metronidazole linezolid vancomycin gentamicin amikacin fluconazole itraconazole voriconazole "
    "oseltamivir acyclovir valaciclovir rifampicin isoniazid ethambutol pyrazinamide entecavir tenofovir-disoproxil "
    "paracetamol ibuprofen diclofenac naproxen celecoxib meloxicam indometacin tramadol codeine morphine oxycodone "
    "fentanyl sertraline fluoxetine paroxetine citalopram escitalopram venlafaxine duloxetine mirtazapine "
    "amitriptyline trazodone phenelzine moclobemide lithium haloperidol olanzapine quetiapine risperidone "
    "aripiprazole diazepam alprazolam lorazepam zolpidem carbamazepine valproate phenytoin levetiracetam lamotrigine "
    "gabapentin pregabalin donepezil levodopa-carbidopa sumatriptan salbutamol budesonide fluticasone-salmeterol "
    "tiotropium montelukast theophylline ambroxol loratadine cetirizine chlorphenamine allopurinol febuxostat "
    "colchicine alendronate sildenafil tamsulosin finasteride ethinylestradiol-levonorgestrel methotrexate azathioprine "
    "ciclosporin tacrolimus mycophenolate hydroxychloroquine albendazole"
).split()


@pytest.fixture(scope="module")
def shipped() -> formulary.Formulary:
    return formulary.load()


@pytest.fixture(scope="module")
def raw_rows() -> list[dict[str, str]]:
    with INTERACTIONS_CSV.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _pair(a: str, b: str) -> frozenset[str]:
    return frozenset((a, b))


def test_every_onc_high_priority_interaction_is_in_the_table_and_flagged(shipped):
    rules = {_pair(rule.a, rule.b): rule for rule in shipped.interactions}
    for name, pairs in ONC_HIGH_PRIORITY.items():
        for a, b in pairs:
            rule = rules.get(_pair(a, b))
            assert rule is not None, f"ONC item {name!r}: no row for {a} / {b}"
            assert rule.onc_high_priority, f"ONC item {name!r}: {a} / {b} is not flagged onc_high_priority"
            assert rule.severity in ("contraindicated", "major"), f"ONC item {name!r}: {a} / {b} is {rule.severity}"
    assert len(ONC_HIGH_PRIORITY) == 15


def test_onc_rows_cite_the_paper(shipped):
    flagged = [rule for rule in shipped.interactions if rule.onc_high_priority]
    assert flagged
    for rule in flagged:
        assert "Phansalkar" in rule.source, f"{rule.a} / {rule.b} is flagged ONC but does not cite the paper"


def test_every_side_is_a_formulary_key_or_a_well_formed_atc_class(shipped):
    for rule in shipped.interactions:
        for side in (rule.a, rule.b):
            if side.startswith(CLASS_RULE_PREFIX):
                assert ATC_PREFIX.match(side.removeprefix(CLASS_RULE_PREFIX)), f"bad ATC class {side!r}"
            else:
                assert side in shipped.drugs, f"{side!r} is not a drug of the formulary"


def test_no_pair_is_listed_twice_in_either_order(raw_rows):
    pairs = [_pair(row["a"], row["b"]) for row in raw_rows]
    duplicates = {tuple(sorted(p)) for p in pairs if pairs.count(p) > 1}
    assert not duplicates
    assert all(row["a"] != row["b"] for row in raw_rows)


def test_rows_have_valid_severity_both_languages_and_a_source(raw_rows):
    assert len(raw_rows) >= 150
    for row in raw_rows:
        where = f"{row['a']} / {row['b']}"
        assert row["severity"] in SEVERITIES, where
        assert row["onc_high_priority"] in ("true", "false"), where
        assert len(row["source"]) >= 10, where
        assert HAN.search(row["mechanism_zh"]) and HAN.search(row["management_zh"]), where
        assert not HAN.search(row["mechanism_en"] + row["management_en"]), where


def test_the_audit_finds_label_interactions_between_real_prescriptions(shipped):
    def between(x: str, y: str) -> list[str]:
        return [rule.severity for rule in shipped.interactions_between(shipped.find(x), shipped.find(y))]

    assert between("sertraline", "phenelzine") == ["contraindicated"]
    assert between("Bactrim", "甲氨蝶呤") == ["major"]
    assert between("metronidazole", "warfarin") == ["major"]
    assert between("tizanidine", "环丙沙星") == ["contraindicated"]
    assert between("amoxicillin", "paracetamol") == []


def test_interactions_reach_combination_products_through_their_ingredients(shipped):
    inhaler = shipped.find("Seretide")
    assert inhaler is not None and inhaler.key == "fluticasone-salmeterol"
    severities = {rule.severity for rule in shipped.interactions_between(inhaler, shipped.find("clarithromycin"))}
    assert severities == {"major"}


def test_the_required_medicines_are_in_the_formulary(shipped):
    missing = [key for key in MUST_INCLUDE if key not in shipped.drugs]
    assert not missing


def test_demo_medications_of_these_groups_have_formulary_entries(shipped):
    demo = json.loads(DEMO_MEDICATIONS.read_text(encoding="utf-8"))["drugs"]
    codes = {code for drug in shipped.drugs.values() for code in drug.atc}
    wanted = [d["atc"] for d in demo.values() if d["atc"][0] in GROUPS]
    assert wanted
    assert [code for code in wanted if code not in codes] == []


def test_methotrexate_is_offered_once_weekly_only(shipped):
    methotrexate = shipped.drugs["methotrexate"]
    assert {dose.frequency for dose in methotrexate.typical} == {"QW"}
    assert all(limit.per_day_max <= 25 for limit in methotrexate.doses if limit.basis == "fixed")


def test_paediatric_antipyretic_limits_match_the_guidelines(shipped):
    paracetamol = next(d for d in shipped.drugs["paracetamol"].doses if d.population == "paediatric")
    ibuprofen = next(d for d in shipped.drugs["ibuprofen"].doses if d.population == "paediatric")
    assert (paracetamol.basis, paracetamol.per_dose_max, paracetamol.per_day_max) == ("per_kg", 15, 75)
    assert (ibuprofen.basis, ibuprofen.per_dose_max, ibuprofen.per_day_max) == ("per_kg", 10, 40)
    assert max(d.per_day_max for d in shipped.drugs["paracetamol"].doses if d.population == "adult") == 4000
