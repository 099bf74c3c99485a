"""The prescription audit against the shipped drug knowledge, one test per case of data/audit_cases.yaml.

Each case names the patient, the order lines and the findings expected (rule, severity, drugs); for every rule
named there the findings of that rule must be exactly those, and the rules listed under `absent` must not
fire at all (the negative cases: a safe prescription gives no finding of that rule).
"""

from collections import Counter
from pathlib import Path

import pytest
import yaml

from smartcare.knowledge.drugs import formulary
from smartcare.knowledge.prescribing import audit as engine
from smartcare.knowledge.prescribing.audit import MedicineOrder, PatientFacts, audit
from smartcare.knowledge.prescribing.rules.base import RULES

CASES_FILE = Path(engine.__file__).parent / "data" / "audit_cases.yaml"
CASES = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
CASE_KEYS = {"name", "source", "patient", "orders", "expect", "absent"}


def _order(raw: dict) -> MedicineOrder:
    return MedicineOrder(**raw)


def _patient(raw: dict | None) -> PatientFacts:
    raw = dict(raw or {})
    current = tuple(_order(line) for line in raw.pop("current", []))
    for listed in ("allergies", "conditions"):
        if listed in raw:
            raw[listed] = tuple(raw[listed])
    return PatientFacts(**raw, current=current)


def _signature(rule: str, severity: str, drugs) -> tuple[str, str, tuple[str, ...]]:
    return rule, severity, tuple(sorted(drugs))


def test_the_table_is_large_named_and_sourced():
    names = [case["name"] for case in CASES]
    assert len(CASES) >= 60
    assert len(names) == len(set(names)), "case names must be unique"
    for case in CASES:
        assert set(case) <= CASE_KEYS, f"{case['name']}: unknown keys {set(case) - CASE_KEYS}"
        assert len(str(case.get("source", ""))) > 10, f"{case['name']} names no source"
        assert case.get("expect") or case.get("absent"), f"{case['name']} asserts nothing"
        for expected in case.get("expect", []):
            assert expected["rule"] in RULES and expected["severity"] in ("high", "moderate", "low")
        assert set(case.get("absent", [])) <= set(RULES)


def test_the_drugs_the_table_orders_are_in_the_formulary():
    shipped = formulary.default()
    missing = sorted({line["medicine"] for case in CASES for line in case["orders"]
                      if shipped.find(line["medicine"]) is None and not case["name"].startswith("unknown")})
    assert missing == []


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_audit_case(case):
    findings = audit([_order(line) for line in case["orders"]], _patient(case.get("patient")),
                     formulary=formulary.default())
    expected = Counter(_signature(e["rule"], e["severity"], e.get("drugs", ())) for e in case.get("expect", []))
    checked_rules = {e["rule"] for e in case.get("expect", [])}
    found = Counter(_signature(f.rule, f.severity, f.drugs) for f in findings if f.rule in checked_rules)
    shown = [(f.rule, f.severity, f.drugs, f.summary_en) for f in findings]
    assert found == expected, f"found {shown}"
    fired = sorted({f.rule for f in findings} & set(case.get("absent", [])))
    assert fired == [], f"rules that must not fire did: {fired}; found {shown}"
    for finding in findings:
        assert finding.summary_en and finding.summary_zh and finding.detail_en and finding.detail_zh
        assert finding.source and finding.source in finding.detail_en
