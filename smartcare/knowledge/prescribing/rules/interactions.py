"""Drug-drug interactions between new lines, and between a new line and a medicine already taken."""

from smartcare.knowledge.drugs.formulary import Formulary
from smartcare.knowledge.drugs.model import Interaction
from smartcare.knowledge.prescribing.rules.base import Finding, Line, Prescription, cite, pairs, severity_of

SEVERITY_ZH = {"contraindicated": "禁忌联用", "major": "严重", "moderate": "中度", "minor": "轻度"}


def check(prescription: Prescription, *, formulary: Formulary) -> list[Finding]:
    """One finding per interacting pair, from the most severe interaction the table holds for it."""
    findings = []
    for first, second in pairs(prescription):
        if first.drug.key == second.drug.key:
            continue
        found = formulary.interactions_between(first.drug, second.drug)
        if found:
            findings.append(_finding(first, second, found[0]))
    return findings

def _finding(first: Line, second: Line, interaction: Interaction) -> Finding:
    level = interaction.severity
    taken_en = f" {second.name_en} is already being taken." if second.current else ""
    taken_zh = f"患者正在使用{second.name_zh}。" if second.current else ""
    flagged_en = ", an ONC high-priority pair" if interaction.onc_high_priority else ""
    flagged_zh = "，属 ONC 高优先级相互作用" if interaction.onc_high_priority else ""
    source_en, source_zh = cite(interaction.source)
    removable = second if not second.current else first
    suggestion = {"action": "remove", "ref": removable.ref} if level == "contraindicated" else None
    return Finding(
        rule="interaction",
        severity=severity_of(level),
        refs=(first.ref, second.ref),
        drugs=(first.drug.key, second.drug.key),
        conditions=(),
        summary_en=f"{first.name_en} with {second.name_en}: {level} interaction",
        summary_zh=f"{first.name_zh}与{second.name_zh}：{SEVERITY_ZH[level]}相互作用",
        detail_en=(f"{interaction.mechanism_en.rstrip('.')} (rated {level}{flagged_en}).{taken_en}{source_en}"),
        detail_zh=f"{interaction.mechanism_zh.rstrip('。')}（分级：{SEVERITY_ZH[level]}{flagged_zh}）。{taken_zh}{source_zh}",
        advice_en=interaction.management_en,
        advice_zh=interaction.management_zh,
        source=interaction.source,
        suggestion=suggestion,
    )
