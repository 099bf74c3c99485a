"""The audit engine over a small formulary built here: input checks, ordering, dose arithmetic and suggestions.

The clinical cases against the shipped knowledge are in test_audit_table.py; these tests pin the engine's
own behaviour with made-up drugs whose figures are chosen to make the arithmetic obvious.
"""

import math

import pytest

from smartcare.knowledge.drugs import (
    AllergyClass,
    ConditionRule,
    DoseLimit,
    Drug,
    Form,
    Formulary,
    Interaction,
    OrganRule,
    TypicalDose,
)
from smartcare.knowledge.prescribing.audit import Finding, MedicineOrder, PatientFacts, audit, suggest_dose

SRC = "test source"

ANALGESIC = Drug(
    key="analgesic", name_en="Analgesic", name_zh="止痛药", atc=("N02BE71",), source=SRC, aliases=("止痛片",),
    forms=(Form("tablet", 500, "mg", "oral"),),
    doses=(
        DoseLimit("adult", "oral", "mg", per_dose_min=500, per_dose_max=1000, per_day_max=4000, min_age_years=12,
                  source="adult limit source"),
        DoseLimit("elderly", "oral", "mg", per_dose_max=1000, per_day_max=3000, min_age_years=65,
                  source="elderly limit source"),
        DoseLimit("paediatric", "oral", "mg", basis="per_kg", per_dose_max=15, per_day_max=60, cap_per_dose=500,
                  cap_per_day=2000, source="child limit source"),
    ),
    hepatic=(OrganRule("avoid", "Avoid in severe liver disease.", "重度肝病避免使用。", "hepatic source",
                       at_least="severe"),),
    lactation="caution",
    typical=(
        TypicalDose("Pain", "疼痛", (), 1000, "mg", "QID", "oral", source="typical adult"),
        TypicalDose("Pain", "疼痛", (), 15, "mg", "QID", "oral", basis="per_kg", source="typical child"),
    ),
)
CYTOTOXIC = Drug(
    key="cytotoxic", name_en="Cytotoxic", name_zh="细胞毒药", atc=("L01XX99",), source=SRC,
    forms=(Form("injection", 100, "mg", "intravenous"),),
    doses=(DoseLimit("adult", "intravenous", "mg", basis="per_m2", per_dose_max=100, per_day_max=100),),
)
WEEKLY = Drug(
    key="weekly", name_en="Weekly", name_zh="周服药", atc=("L04AX98",), source=SRC,
    forms=(Form("tablet", 2.5, "mg", "oral"),),
    doses=(DoseLimit("adult", "oral", "mg", per_dose_max=25, per_day_max=25),),
    typical=(TypicalDose("Arthritis", "关节炎", ("M05", "M06"), 7.5, "mg", "QW", "oral", source="weekly source"),),
)
RENAL = Drug(
    key="renal", name_en="Renal", name_zh="肾排药", atc=("A10BA98",), source=SRC,
    forms=(Form("tablet", 500, "mg", "oral"),),
    doses=(DoseLimit("adult", "oral", "mg", per_dose_max=1000, per_day_max=2000),),
    renal=(OrganRule("contraindicated", "No.", "禁用。", "renal source", below=30),
           OrganRule("reduce", "Halve.", "减半。", "renal source", below=45, max_per_day=1000)),
    typical=(TypicalDose("Diabetes", "糖尿病", ("E11",), 1000, "mg", "BID", "oral", source="typical renal"),),
)
YOUNG = Drug(
    key="young", name_en="Young", name_zh="限龄药", atc=("R05DA98",), source=SRC,
    doses=(DoseLimit("adult", "oral", "mg", per_dose_max=60, per_day_max=240, min_age_years=12,
                     source="age limit source"),),
)
SYRUP = Drug(
    key="syrup", name_en="Syrup", name_zh="糖浆药", atc=("R05CA98",), source=SRC,
    doses=(DoseLimit("adult", "oral", "mg", per_dose_max=10, per_day_max=30),),
    conditions=(ConditionRule(("J45", "J46"), "contraindicated", "Worsens asthma", "加重哮喘", "condition source"),),
    pregnancy="D", allergy_classes=("syrups",),
)
PARTNER = Drug(key="partner", name_en="Partner", name_zh="伴药", atc=("C01DA98",), source=SRC,
               allergy_classes=("partners",))
SYRUP_ALLERGY = AllergyClass("syrups", "Syrups", "糖浆类", ("111111111",), "allergy source",
                             cross_sensitive=(("partners", "Low, rare"),), cross_sensitive_zh=(("partners", "低"),))
PARTNER_ALLERGY = AllergyClass("partners", "Partners", "伴药类", (), "allergy source")
FORMULARY = Formulary(
    drugs={d.key: d for d in (ANALGESIC, CYTOTOXIC, WEEKLY, RENAL, YOUNG, SYRUP, PARTNER)},
    allergy_classes={"syrups": SYRUP_ALLERGY, "partners": PARTNER_ALLERGY},
    interactions=[
        Interaction("syrup", "ATC:C01DA", "contraindicated", "Both prolong QT", "均延长QT", "Do not combine.",
                    "禁止联用。", "interaction source"),
        Interaction("analgesic", "partner", "minor", "Slight effect", "轻微影响", "Monitor.", "监测。", "minor source"),
    ],
)
ADULT = PatientFacts(age_years=40, weight_kg=70, height_cm=175, egfr=90)


def run(*orders: MedicineOrder, patient: PatientFacts = ADULT) -> list[Finding]:
    return audit(list(orders), patient, formulary=FORMULARY)


def of(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


@pytest.mark.parametrize(("order", "message"), [
    (MedicineOrder("analgesic", -5, "mg"), "outside"),
    (MedicineOrder("analgesic", 0, "mg"), "outside"),
    (MedicineOrder("analgesic", math.nan, "mg"), "finite"),
    (MedicineOrder("analgesic", math.inf, "mg"), "finite"),
    (MedicineOrder("analgesic", 500, "bananas"), "dose unit"),
    (MedicineOrder("analgesic", 500), "needs a unit"),
    (MedicineOrder("analgesic", "500", "mg"), "number"),
    (MedicineOrder("analgesic", True, "mg"), "number"),
    (MedicineOrder(""), "empty"),
    (MedicineOrder("x" * 500), "longer than"),
    (MedicineOrder("analgesic\x00"), "control characters"),
    (MedicineOrder("analgesic", 500, "mg", "QD; DROP TABLE orders"), "not a frequency or route"),
    (MedicineOrder("analgesic", 500, "mg", route="<script>"), "not a frequency or route"),
    (MedicineOrder("analgesic", indication="diabetes"), "ICD-10"),
])
def test_nonsense_order_lines_are_refused_with_a_clear_message(order, message):
    with pytest.raises(ValueError, match=message):
        run(order)


@pytest.mark.parametrize(("patient", "message"), [
    (PatientFacts(age_years=-1), "age_years"),
    (PatientFacts(weight_kg=0), "weight_kg"),
    (PatientFacts(weight_kg=math.nan), "finite"),
    (PatientFacts(egfr=1e9), "egfr"),
    (PatientFacts(sex="x"), "sex"),
    (PatientFacts(hepatic="terrible"), "Child-Pugh"),
    (PatientFacts(pregnant="yes"), "pregnant"),
    (PatientFacts(conditions=("not a code",)), "ICD-10"),
    (PatientFacts(allergies=("a" * 300,)), "longer than"),
    (PatientFacts(current=("aspirin",)), "MedicineOrder"),
])
def test_nonsense_patient_facts_are_refused(patient, message):
    with pytest.raises(ValueError, match=message):
        run(MedicineOrder("analgesic"), patient=patient)


def test_line_limits_and_duplicate_refs_are_refused():
    with pytest.raises(ValueError, match="more than 100"):
        run(*[MedicineOrder("analgesic", ref=str(i)) for i in range(101)])
    with pytest.raises(ValueError, match="used by another line"):
        run(MedicineOrder("analgesic", ref="a"), MedicineOrder("weekly", ref="a"))
    with pytest.raises(ValueError, match="must be a list"):
        audit("analgesic", ADULT, formulary=FORMULARY)


def test_current_medicines_keep_units_the_audit_does_not_check():
    patient = PatientFacts(age_years=40, current=(MedicineOrder("partner", 1, "tablet", "BID"),))
    assert run(MedicineOrder("weekly", 10, "mg", "QW"), patient=patient) == []


def test_unknown_medicine_is_named_and_near_names_offered():
    [finding] = run(MedicineOrder("analgesix", ref="l1"))
    assert (finding.rule, finding.severity, finding.refs) == ("unknown-medicine", "moderate", ("l1",))
    assert "'analgesix'" in finding.summary_en and "analgesix" in finding.summary_zh


def test_lines_without_refs_are_numbered_and_current_medicines_prefixed():
    findings = run(MedicineOrder("syrup"), MedicineOrder("analgesic"),
                   patient=PatientFacts(current=(MedicineOrder("partner", ref="MedicationRequest/7"),)))
    refs = {f.refs for f in of(findings, "interaction")}
    assert refs == {("line-1", "current:MedicationRequest/7"), ("line-2", "current:MedicationRequest/7")}


def test_findings_come_most_severe_first_and_in_a_stable_order():
    orders = [MedicineOrder("analgesic", 2000, "mg", "QID", ref="a"), MedicineOrder("partner", ref="b"),
              MedicineOrder("syrup", 5, "mg", "TID", ref="c")]
    patient = PatientFacts(age_years=40, pregnant=True, lactating=True, conditions=("J45.9",))
    findings = audit(orders, patient, formulary=FORMULARY)
    ranks = [{"high": 0, "moderate": 1, "low": 2}[f.severity] for f in findings]
    assert ranks == sorted(ranks)
    assert findings == audit(orders, patient, formulary=FORMULARY)
    reordered = audit(list(reversed(orders)), patient, formulary=FORMULARY)
    assert {(f.rule, f.severity, frozenset(f.refs)) for f in reordered} == {
        (f.rule, f.severity, frozenset(f.refs)) for f in findings}
    assert [f.rule for f in findings] == ["interaction", "dose", "pregnancy", "condition", "interaction", "lactation"]


def test_contraindicated_interaction_by_class_suggests_removing_the_new_line():
    patient = PatientFacts(current=(MedicineOrder("partner"),))
    [finding] = run(MedicineOrder("syrup", ref="new"), patient=patient)
    assert (finding.rule, finding.severity, finding.drugs) == ("interaction", "high", ("syrup", "partner"))
    assert finding.suggestion == {"action": "remove", "ref": "new"}
    assert "interaction source" in finding.detail_en and "interaction source" in finding.detail_zh


def test_child_dose_is_checked_per_kg_with_the_figures_in_the_text():
    child = PatientFacts(age_years=3, weight_kg=10)
    [finding] = run(MedicineOrder("analgesic", 500, "mg", "QID", ref="x"), patient=child)
    assert (finding.rule, finding.severity) == ("dose", "high")
    assert "500 mg (50 mg/kg)" in finding.detail_en and "150 mg (15 mg/kg/kg x 10 kg)" not in finding.detail_en
    assert "150 mg (15 mg/kg x 10 kg)" in finding.detail_en
    assert finding.suggestion == {"action": "change-dose", "ref": "x", "dose": 150, "unit": "mg", "frequency": "QID"}


def test_a_heavy_childs_dose_is_held_to_the_cap():
    child = PatientFacts(age_years=11, weight_kg=60)
    [finding] = run(MedicineOrder("analgesic", 800, "mg", "TID", ref="x"), patient=child)
    assert "capped at 500 mg" in finding.detail_en
    assert finding.suggestion["dose"] == 500


def test_a_dose_ordered_per_kg_is_multiplied_by_the_weight():
    assert run(MedicineOrder("analgesic", 15, "mg/kg", "QID"), patient=PatientFacts(age_years=3, weight_kg=10)) == []
    [finding] = run(MedicineOrder("analgesic", 20, "mg/kg", "QID"), patient=PatientFacts(age_years=3, weight_kg=10))
    assert finding.rule == "dose" and "200 mg (20 mg/kg)" in finding.detail_en


def test_a_child_without_a_weight_gets_a_missing_facts_finding():
    [finding] = run(MedicineOrder("analgesic", 250, "mg", "QID"), patient=PatientFacts(age_years=4))
    assert (finding.rule, finding.severity) == ("missing-facts", "low")
    assert "weight" in finding.summary_en and "体重" in finding.summary_zh


def test_adult_limits_apply_from_their_minimum_age_and_elderly_limits_from_65():
    assert run(MedicineOrder("analgesic", 1000, "mg", "QID"), patient=PatientFacts(age_years=13, weight_kg=40)) == []
    [finding] = run(MedicineOrder("analgesic", 1000, "mg", "QID"), patient=PatientFacts(age_years=80))
    assert "4000 mg a day exceeds the daily maximum of 3000 mg" in finding.detail_en
    assert "elderly limit source" in finding.detail_en


def test_a_patient_below_every_limits_minimum_age_is_flagged():
    [finding] = run(MedicineOrder("young", 15, "mg", "QID"), patient=PatientFacts(age_years=8, weight_kg=25))
    assert (finding.rule, finding.severity) == ("dose", "high")
    assert "under 12 years" in finding.summary_en and "age limit source" in finding.detail_en


def test_per_m2_doses_use_the_body_surface_area_and_need_a_height():
    patient = PatientFacts(age_years=50, weight_kg=80, height_cm=180)  # BSA 2.0 m2
    assert run(MedicineOrder("cytotoxic", 200, "mg", "QD", "iv"), patient=patient) == []
    [finding] = run(MedicineOrder("cytotoxic", 250, "mg", "QD", "iv"), patient=patient)
    assert finding.rule == "dose" and "125 mg/m2" in finding.detail_en
    [missing] = run(MedicineOrder("cytotoxic", 200, "mg", "QD", "iv"), patient=PatientFacts(age_years=50, weight_kg=80))
    assert missing.rule == "missing-facts" and "height" in missing.summary_en


def test_low_dose_and_incomparable_unit_are_low_findings():
    [low] = run(MedicineOrder("analgesic", 250, "mg", "QID"))
    assert (low.rule, low.severity) == ("dose", "low")
    [unit] = run(MedicineOrder("analgesic", 10, "mL", "QID"))
    assert (unit.rule, unit.severity) == ("dose", "low") and "mL" in unit.summary_en


def test_the_daily_total_adds_lines_of_the_same_ingredient():
    findings = run(MedicineOrder("analgesic", 1000, "mg", "QID", ref="a"), MedicineOrder("止痛片", 500, "mg", "Q6H", ref="b"))
    [dose] = of(findings, "dose")
    assert dose.refs == ("a", "b") and "6000 mg a day" in dose.detail_en
    [duplicate] = of(findings, "duplicate")
    assert duplicate.severity == "high" and duplicate.suggestion == {"action": "remove", "ref": "b"}


def test_unknown_frequency_and_weekly_drug_taken_daily_are_high():
    [unknown] = run(MedicineOrder("analgesic", 500, "mg", "Q5D"))
    assert (unknown.rule, unknown.severity) == ("frequency", "high")
    findings = run(MedicineOrder("weekly", 10, "mg", "QD", ref="w"))
    [weekly] = of(findings, "frequency")
    assert weekly.severity == "high" and weekly.suggestion["frequency"] == "QW"
    assert run(MedicineOrder("weekly", 10, "mg", "QW")) == []


def test_renal_rules_choose_the_strictest_applicable_action():
    order = MedicineOrder("renal", 1000, "mg", "BID", ref="r")
    [contra] = run(order, patient=PatientFacts(egfr=20))
    assert (contra.rule, contra.severity) == ("renal", "high") and contra.suggestion["action"] == "remove"
    [reduce] = run(order, patient=PatientFacts(egfr=40))
    assert reduce.severity == "high" and reduce.suggestion == {
        "action": "change-dose", "ref": "r", "dose": 500, "unit": "mg", "frequency": "BID"}
    [within] = run(MedicineOrder("renal", 500, "mg", "BID"), patient=PatientFacts(egfr=40))
    assert within.severity == "low" and "within" in within.detail_en
    assert run(order, patient=PatientFacts(egfr=60)) == []
    [missing] = run(order, patient=PatientFacts())
    assert (missing.rule, missing.severity) == ("missing-facts", "low") and "eGFR" in missing.summary_en


def test_hepatic_lactation_pregnancy_condition_and_allergy_rules():
    [hepatic] = run(MedicineOrder("analgesic", 500, "mg", "QID"), patient=PatientFacts(hepatic="severe"))
    assert (hepatic.rule, hepatic.severity) == ("hepatic", "high")
    assert run(MedicineOrder("analgesic", 500, "mg", "QID"), patient=PatientFacts(hepatic="moderate")) == []
    [lactation] = run(MedicineOrder("analgesic"), patient=PatientFacts(lactating=True))
    assert (lactation.rule, lactation.severity) == ("lactation", "low")
    findings = run(MedicineOrder("syrup"), patient=PatientFacts(pregnant=True, conditions=("J45.0",),
                                                                allergies=("111111111",)))
    assert {(f.rule, f.severity) for f in findings} == {("pregnancy", "high"), ("condition", "high"),
                                                        ("allergy", "high")}
    [condition] = of(findings, "condition")
    assert condition.conditions == ("J45.0",)
    [cross] = run(MedicineOrder("partner"), patient=PatientFacts(allergies=("syrups",)))
    assert (cross.rule, cross.severity) == ("allergy", "low")


def test_route_not_stocked_is_moderate_and_chinese_routes_are_understood():
    [finding] = run(MedicineOrder("analgesic", route="静脉滴注"))
    assert (finding.rule, finding.severity) == ("route", "moderate") and "intravenous" in finding.summary_en
    assert run(MedicineOrder("analgesic", route="口服")) == []


def test_every_finding_says_why_and_cites_its_source_in_both_languages():
    orders = [MedicineOrder("analgesic", 5000, "mg", "QID", "iv"), MedicineOrder("syrup"), MedicineOrder("nothing")]
    patient = PatientFacts(age_years=70, pregnant=True, lactating=True, conditions=("J45",), egfr=None,
                           allergies=("syrups",), current=(MedicineOrder("partner"),))
    findings = run(*orders, patient=patient)
    assert len(findings) >= 7
    for finding in findings:
        assert finding.summary_en and finding.summary_zh and finding.advice_en and finding.advice_zh
        assert finding.source in finding.detail_en and finding.source in finding.detail_zh


def test_suggest_dose_sizes_the_usual_dose_to_the_patient():
    adult = suggest_dose("analgesic", PatientFacts(age_years=40), formulary=FORMULARY)
    assert (adult["dose"], adult["unit"], adult["frequency"]) == (1000, "mg", "QID")
    child = suggest_dose("止痛片", PatientFacts(age_years=5, weight_kg=18), formulary=FORMULARY)
    assert (child["dose"], child["basis"], child["per_basis"]) == (270, "per_kg", 15)
    heavy = suggest_dose("analgesic", PatientFacts(age_years=11, weight_kg=60), formulary=FORMULARY)
    assert heavy["dose"] == 500 and heavy["notes_en"] == ["Held to the maximum dose for this patient."]
    assert suggest_dose("analgesic", PatientFacts(age_years=5), formulary=FORMULARY) is None
    reduced = suggest_dose("renal", PatientFacts(egfr=40), indication="E11.9", formulary=FORMULARY)
    assert reduced["dose"] == 500 and reduced["notes_en"] == ["Halve.", "Held to the maximum dose for this patient."]
    assert suggest_dose("renal", PatientFacts(egfr=20), formulary=FORMULARY) is None
    assert suggest_dose("renal", PatientFacts(age_years=6, weight_kg=20, egfr=90), formulary=FORMULARY) is None
    assert suggest_dose("weekly", PatientFacts(), indication="I10", formulary=FORMULARY) is None
    assert suggest_dose("nothing", PatientFacts(), formulary=FORMULARY) is None
    with pytest.raises(ValueError, match="ICD-10"):
        suggest_dose("analgesic", PatientFacts(), indication="pain", formulary=FORMULARY)
