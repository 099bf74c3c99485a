"""Kidney and liver checks: the drug's renal rules against the eGFR, its hepatic rules against Child-Pugh class."""

from collections import defaultdict

from smartcare.knowledge.drugs.model import Drug, OrganRule
from smartcare.knowledge.prescribing.dosage import (
    absolute_amount,
    comparable,
    convert,
    day_multiplier,
    format_amount,
    round_down,
)
from smartcare.knowledge.prescribing.rules.base import (
    Finding,
    Line,
    Prescription,
    cite,
    missing_fact,
    sentences,
)

ACTION_RANK = {"contraindicated": 0, "avoid": 1, "reduce": 2, "caution": 3}
HEPATIC_RANK = {"mild": 1, "moderate": 2, "severe": 3}
HEPATIC_ZH = {"mild": "轻度", "moderate": "中度", "severe": "重度"}
_HEPATIC_CLASS = {"mild": "A", "moderate": "B", "severe": "C"}
_ACTION_EN = {"contraindicated": "is contraindicated", "avoid": "should be avoided", "reduce": "needs a lower dose",
              "caution": "needs caution"}
_ACTION_ZH = {"contraindicated": "禁用", "avoid": "应避免使用", "reduce": "需减量", "caution": "需慎用"}


def renal_rule(drug: Drug, egfr: float) -> OrganRule | None:
    """The renal rule that applies at this eGFR: the strictest action, then the lowest threshold."""
    applicable = [rule for rule in drug.renal if rule.below is not None and egfr < rule.below]
    return min(applicable, key=lambda rule: (ACTION_RANK[rule.action], rule.below or 0), default=None)


def hepatic_rule(drug: Drug, grade: str) -> OrganRule | None:
    """The hepatic rule that applies at this grade of impairment: the strictest action, then the highest grade."""
    applicable = [rule for rule in drug.hepatic
                  if rule.at_least is not None and HEPATIC_RANK[grade] >= HEPATIC_RANK[rule.at_least]]
    return min(applicable, key=lambda rule: (ACTION_RANK[rule.action], -HEPATIC_RANK[rule.at_least or "mild"]),
               default=None)


def dose_unit(drug: Drug) -> str | None:
    """The unit of the drug's adult dose limits, in which organ rules state their reduced daily ceiling."""
    units = [d.unit for d in drug.doses if d.population == "adult" and d.basis == "fixed"]
    units = units or [d.unit for d in drug.doses]
    return units[0] if units else None


def _daily_total(lines: list[Line], unit: str | None, prescription: Prescription) -> float | None:
    """The drug's total daily amount across lines in `unit`, or None when a dose, unit or frequency is missing."""
    if unit is None:
        return None
    total = 0.0
    for line in lines:
        order, per_day = line.order, day_multiplier(line.frequency)
        if order.dose is None or order.unit is None or per_day is None:
            return None
        patient = prescription.patient
        given = absolute_amount(dose=order.dose, unit=order.unit, weight_kg=patient.weight_kg,
                                bsa_m2=prescription.bsa_m2)
        if given is None or not comparable(given[1], unit):
            return None
        total += convert(given[0], given[1], unit) * per_day
    return total


def check(prescription: Prescription) -> list[Finding]:
    """Renal findings (or a request for the eGFR) and hepatic findings for the new lines."""
    patient = prescription.patient
    by_drug: dict[str, list[Line]] = defaultdict(list)
    for line in prescription.lines:
        by_drug[line.drug.key].append(line)
    findings = []
    for lines in by_drug.values():
        drug = lines[0].drug
        if drug.renal and patient.egfr is None:
            findings.append(missing_fact(
                lines[0], fact="egfr", why_en=f"{drug.name_en} has kidney-function dosing rules",
                why_zh=f"{drug.name_zh}需按肾功能调整剂量", source=drug.renal[0].source))
        elif drug.renal and patient.egfr is not None and (rule := renal_rule(drug, patient.egfr)) is not None:
            findings.append(_organ_finding(lines, rule, prescription, renal=True))
        if patient.hepatic and (rule := hepatic_rule(drug, patient.hepatic)) is not None:
            findings.append(_organ_finding(lines, rule, prescription, renal=False))
    return findings


def _state(rule: OrganRule, prescription: Prescription, *, renal: bool) -> tuple[str, str]:
    patient = prescription.patient
    if renal:
        egfr = format_amount(patient.egfr or 0)
        return (f"eGFR {egfr} mL/min/1.73 m2 is below {format_amount(rule.below or 0)}",
                f"eGFR {egfr} mL/min/1.73 m2，低于 {format_amount(rule.below or 0)}")
    grade = patient.hepatic or ""
    return (f"{grade} hepatic impairment (Child-Pugh {_HEPATIC_CLASS[grade]}) reaches the rule's threshold "
            f"of {rule.at_least}",
            f"{HEPATIC_ZH[grade]}肝功能损害（Child-Pugh {_HEPATIC_CLASS[grade]} 级）达到规则阈值"
            f"（{HEPATIC_ZH[rule.at_least or 'mild']}）")


def _organ_finding(lines: list[Line], rule: OrganRule, prescription: Prescription, *, renal: bool) -> Finding:
    drug = lines[0].drug
    kind = "renal" if renal else "hepatic"
    organ_en, organ_zh = ("kidney function", "肾功能") if renal else ("liver function", "肝功能")
    state_en, state_zh = _state(rule, prescription, renal=renal)
    severity = "high" if rule.action in ("contraindicated", "avoid") else "low"
    suggestion = {"action": "remove", "ref": lines[-1].ref} if severity == "high" else None
    figures_en = figures_zh = ""
    if rule.action == "reduce" and rule.max_per_day is not None:
        unit = dose_unit(drug)
        total = _daily_total(lines, unit, prescription)
        ceiling = f"{format_amount(rule.max_per_day)} {unit}/day"
        ceiling_zh = f"{format_amount(rule.max_per_day)} {unit}"
        if total is not None and total > rule.max_per_day * (1 + 1e-9):
            severity = "high"
            figures_en = f"{format_amount(total)} {unit}/day exceeds the {ceiling} limit at this {organ_en}"
            figures_zh = f"每日{format_amount(total)} {unit}，超过该{organ_zh}下每日{ceiling_zh}的上限"
            suggestion = _reduced(lines, rule.max_per_day, unit)
        elif total is not None:
            figures_en = f"{format_amount(total)} {unit}/day is within the {ceiling} limit at this {organ_en}"
            figures_zh = f"每日{format_amount(total)} {unit}，未超过该{organ_zh}下每日{ceiling_zh}的上限"
    source_en, source_zh = cite(rule.source)
    return Finding(
        rule=kind, severity=severity, refs=tuple(line.ref for line in lines), drugs=(drug.key,), conditions=(),
        summary_en=f"{drug.name_en} {_ACTION_EN[rule.action]} at the patient's {organ_en}",
        summary_zh=f"按患者{organ_zh}，{drug.name_zh}{_ACTION_ZH[rule.action]}",
        detail_en=sentences(f"{state_en}, where {drug.name_en} {_ACTION_EN[rule.action]}", figures_en) + source_en,
        detail_zh=f"{state_zh}，此时{drug.name_zh}{_ACTION_ZH[rule.action]}。"
                  + (f"{figures_zh}。" if figures_zh else "") + source_zh,
        advice_en=rule.advice_en, advice_zh=rule.advice_zh, source=rule.source, suggestion=suggestion,
    )


def _reduced(lines: list[Line], max_per_day: float, unit: str | None) -> dict | None:
    if len(lines) != 1:
        return None
    line = lines[0]
    per_day = day_multiplier(line.frequency)
    if not per_day:
        return None
    frequency = line.frequency.code if line.frequency else None
    return {"action": "change-dose", "ref": line.ref, "dose": round_down(max_per_day / per_day), "unit": unit,
            "frequency": frequency}
