"""Pregnancy (FDA letter category) and breastfeeding checks for the new lines."""

from smartcare.knowledge.prescribing.rules.base import Finding, Line, Prescription, cite, sentences

PREGNANCY_SEVERITY = {"X": "high", "D": "high", "C": "moderate"}
LACTATION_SEVERITY = {"avoid": "moderate", "caution": "low"}
_CATEGORY_EN = {
    "X": "risks in pregnancy clearly outweigh any benefit",
    "D": "there is evidence of fetal risk; use only when the benefit justifies it",
    "C": "animal data show risk or human data are lacking; use only if the benefit justifies the risk",
}
_CATEGORY_ZH = {
    "X": "孕期使用的风险明显大于获益",
    "D": "有胎儿危害证据，仅在获益足以抵消风险时使用",
    "C": "动物研究显示风险或缺乏人类资料，仅在获益大于风险时使用",
}


def check(prescription: Prescription) -> list[Finding]:
    """Findings for category C/D/X drugs in a pregnant patient and avoid/caution drugs while breastfeeding."""
    findings = []
    patient = prescription.patient
    for line in prescription.lines:
        category = line.drug.pregnancy
        if patient.pregnant and category in PREGNANCY_SEVERITY:
            findings.append(_pregnancy(line, category))
        advice = line.drug.lactation
        if patient.lactating and advice in LACTATION_SEVERITY:
            findings.append(_lactation(line, advice))
    return findings


def _pregnancy(line: Line, category: str) -> Finding:
    note = line.drug.pregnancy_note
    source_en, source_zh = cite(line.drug.source)
    return Finding(
        rule="pregnancy", severity=PREGNANCY_SEVERITY[category], refs=(line.ref,), drugs=(line.drug.key,),
        conditions=(),
        summary_en=f"{line.name_en} in pregnancy: category {category}",
        summary_zh=f"妊娠期使用{line.name_zh}：妊娠分级 {category} 级",
        detail_en=sentences(f"The patient is pregnant and {line.name_en} is category {category}: "
                            f"{_CATEGORY_EN[category]}", note) + source_en,
        detail_zh=f"患者处于妊娠期，{line.name_zh}为 {category} 级：{_CATEGORY_ZH[category]}。{source_zh}",
        advice_en="Choose a medicine with established safety in pregnancy, or record why this one is needed.",
        advice_zh="改用妊娠期安全性明确的药物，或记录必须使用的理由。",
        source=line.drug.source,
        suggestion={"action": "remove", "ref": line.ref} if category == "X" else None,
    )


def _lactation(line: Line, advice: str) -> Finding:
    note = line.drug.lactation_note
    source_en, source_zh = cite(line.drug.source)
    word_en = "should be avoided" if advice == "avoid" else "needs caution"
    word_zh = "应避免使用" if advice == "avoid" else "需谨慎使用"
    return Finding(
        rule="lactation", severity=LACTATION_SEVERITY[advice], refs=(line.ref,), drugs=(line.drug.key,),
        conditions=(),
        summary_en=f"{line.name_en} while breastfeeding {word_en}",
        summary_zh=f"哺乳期{word_zh}{line.name_zh}",
        detail_en=sentences(f"The patient is breastfeeding and {line.name_en} is rated '{advice}' during "
                            "lactation", note) + source_en,
        detail_zh=f"患者处于哺乳期，{line.name_zh}的哺乳期评级为“{word_zh}”。{source_zh}",
        advice_en="Prefer a medicine compatible with breastfeeding, or interrupt feeding while it is taken.",
        advice_zh="优先选择哺乳期可用的药物，或用药期间暂停哺乳。",
        source=line.drug.source,
    )
