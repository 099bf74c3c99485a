"""Drug-disease contraindications: a new line against the patient's recorded conditions (ICD-10 prefixes)."""

from smartcare.knowledge.drugs.model import ConditionRule
from smartcare.knowledge.prescribing.rules.base import (
    Finding,
    Line,
    Prescription,
    cite,
    sentences,
    severity_of,
)


def check(prescription: Prescription) -> list[Finding]:
    """One finding per drug and condition rule matched by any of the patient's ICD-10 codes."""
    findings = []
    codes = prescription.patient.conditions
    for line in prescription.lines:
        for rule in line.drug.conditions:
            matched = tuple(code for code in codes if code.startswith(rule.icd10_prefixes))
            if matched:
                findings.append(_finding(line, rule, matched))
    return findings


def _finding(line: Line, rule: ConditionRule, matched: tuple[str, ...]) -> Finding:
    codes = ", ".join(matched)
    source_en, source_zh = cite(rule.source)
    level_en = "contraindicated" if rule.severity == "contraindicated" else "a risk"
    level_zh = "禁用" if rule.severity == "contraindicated" else "慎用"
    return Finding(
        rule="condition", severity=severity_of(rule.severity), refs=(line.ref,), drugs=(line.drug.key,),
        conditions=matched,
        summary_en=f"{line.name_en} is {level_en} with the patient's condition ({codes})",
        summary_zh=f"患者所患疾病（{codes}）{level_zh}{line.name_zh}",
        detail_en=sentences(rule.reason_en, f"Recorded condition {codes} matches the rule for "
                            f"{', '.join(rule.icd10_prefixes)} (rated {rule.severity})") + source_en,
        detail_zh=f"{rule.reason_zh.rstrip('。')}。患者记录的诊断 {codes} 属于该规则范围"
                  f"（{', '.join(rule.icd10_prefixes)}）。{source_zh}",
        advice_en="Choose an alternative that is safe with this condition, or record why the benefit outweighs "
                  "the risk.",
        advice_zh="改用对该疾病安全的替代药物，或记录获益大于风险的理由。",
        source=rule.source,
        suggestion={"action": "remove", "ref": line.ref} if rule.severity == "contraindicated" else None,
    )
