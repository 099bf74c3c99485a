"""Allergy checks: a new line against the patient's recorded allergies, by drug, allergy class and cross-sensitivity."""

from dataclasses import dataclass

from smartcare.knowledge.drugs.formulary import Formulary
from smartcare.knowledge.drugs.model import AllergyClass, Drug
from smartcare.knowledge.prescribing.rules.base import Finding, Line, Prescription, cite, sentences

# The stated cross-sensitivity risk opens with its level ("Low, about 1-2% ...", "High in ..."); a high or moderate
# risk is a moderate finding, the rest (low, very low, small) a low one. Classes without meaningful
# cross-reactivity are not listed at all (allergy_classes.yaml), so they give no finding.
_MODERATE_RISK_WORDS = ("high", "moderate", "substantial", "significant", "common")


@dataclass(frozen=True)
class _Match:
    """Why a line matched one recorded allergy."""

    substance: str
    allergen: AllergyClass | None
    drug_class: AllergyClass | None
    risk_en: str = ""
    risk_zh: str = ""

    @property
    def cross(self) -> bool:
        """True when the match is through cross-sensitivity to another class, not the drug or its own class."""
        return bool(self.risk_en)


def cross_severity(risk_en: str) -> str:
    """The finding severity for a stated cross-sensitivity risk: moderate for high/moderate risks, else low."""
    opening = risk_en.strip().lower()
    return "moderate" if opening.startswith(_MODERATE_RISK_WORDS) else "low"


def _cross(allergen: AllergyClass, other: AllergyClass) -> tuple[str, str] | None:
    """The risk the allergen's class states for the other class (English, Chinese), or None if it lists none."""
    for index, (key, risk_en) in enumerate(allergen.cross_sensitive):
        if key == other.key:
            zh = allergen.cross_sensitive_zh[index][1] if index < len(allergen.cross_sensitive_zh) else risk_en
            return risk_en, zh
    return None


def _match(line: Line, substance: str, formulary: Formulary) -> _Match | None:
    allergic_to: Drug | None = formulary.find(substance)
    if allergic_to is not None and set(allergic_to.ingredient_keys) & set(line.drug.ingredient_keys):
        return _Match(substance, None, None)
    recorded = formulary.allergy_classes_of(substance)
    own = formulary.allergy_classes_of(line.drug)
    for allergen in recorded:
        for drug_class in own:
            if allergen.key == drug_class.key:
                return _Match(substance, allergen, drug_class)
    for allergen in recorded:
        for drug_class in own:
            risk = _cross(allergen, drug_class)
            if risk is not None:
                return _Match(substance, allergen, drug_class, risk[0], risk[1])
    return None


def check(prescription: Prescription, *, formulary: Formulary) -> list[Finding]:
    """One finding per line and recorded allergy it touches: high for the drug or its class, lower for cross-risk."""
    findings = [_unmatched(substance, prescription) for substance in prescription.patient.allergies
                if prescription.lines and not formulary.allergy_classes_of(substance)
                and formulary.find(substance) is None]
    for line in prescription.lines:
        seen: set[tuple[str, bool]] = set()
        matches = [m for s in prescription.patient.allergies if (m := _match(line, s, formulary)) is not None]
        for match in sorted(matches, key=lambda m: m.cross):
            identity = (match.allergen.key if match.allergen else line.drug.key, match.cross)
            if identity in seen or (match.cross and (identity[0], False) in seen):
                continue
            seen.add(identity)
            findings.append(_cross_finding(line, match) if match.cross else _allergy_finding(line, match))
    return findings


def _recorded(match: _Match) -> tuple[str, str]:
    """How the recorded allergy reads: the class name, with the code or text as recorded if it differs."""
    if match.allergen is None:
        return match.substance, match.substance
    en, zh = match.allergen.name_en, match.allergen.name_zh
    if match.substance.casefold() in (en.casefold(), zh, match.allergen.key):
        return en, zh
    return f"{en} (recorded as {match.substance})", f"{zh}（记录为{match.substance}）"


def _allergy_finding(line: Line, match: _Match) -> Finding:
    recorded_en, recorded_zh = _recorded(match)
    if match.allergen is None:
        what_en = f"the patient is allergic to {match.substance}, which {line.name_en} contains"
        what_zh = f"患者对{match.substance}过敏，{line.name_zh}含有该成分"
        source = line.drug.source
    else:
        what_en = f"the patient is allergic to {match.allergen.name_en} and {line.name_en} is one of them"
        what_zh = f"患者对{match.allergen.name_zh}过敏，{line.name_zh}属于该类"
        source = match.allergen.source
    source_en, source_zh = cite(source)
    return Finding(
        rule="allergy", severity="high", refs=(line.ref,), drugs=(line.drug.key,), conditions=(match.substance,),
        summary_en=f"Allergy: {line.name_en} with a recorded allergy to {recorded_en}",
        summary_zh=f"过敏：患者记录对{recorded_zh}过敏，处方含{line.name_zh}",
        detail_en=sentences(what_en[0].upper() + what_en[1:]) + source_en,
        detail_zh=f"{what_zh}。{source_zh}",
        advice_en="Do not give it; choose a drug from an unrelated class and confirm the allergy history.",
        advice_zh="不应使用；改用无关类别的药物，并核实过敏史。",
        source=source,
        suggestion={"action": "remove", "ref": line.ref},
    )


def _cross_finding(line: Line, match: _Match) -> Finding:
    allergen, drug_class = match.allergen, match.drug_class
    if allergen is None or drug_class is None:
        raise ValueError("a cross-sensitivity match names both classes")
    source_en, source_zh = cite(allergen.source)
    return Finding(
        rule="allergy", severity=cross_severity(match.risk_en), refs=(line.ref,), drugs=(line.drug.key,),
        conditions=(match.substance,),
        summary_en=f"Possible cross-allergy: {line.name_en} ({drug_class.name_en}) with an allergy to "
                   f"{allergen.name_en}",
        summary_zh=f"可能交叉过敏：{line.name_zh}（{drug_class.name_zh}）与{allergen.name_zh}过敏史",
        detail_en=sentences(f"Cross-sensitivity between {allergen.name_en} and {drug_class.name_en}: "
                            f"{match.risk_en}") + source_en,
        detail_zh=f"{allergen.name_zh}与{drug_class.name_zh}之间的交叉过敏：{match.risk_zh.rstrip('。')}。{source_zh}",
        advice_en="Give it only if no unrelated alternative suits, knowing the reaction's type and severity, and "
                  "watch the first dose.",
        advice_zh="仅在无合适的无关类别替代药时使用，需了解既往反应类型和严重程度，并观察首剂反应。",
        source=allergen.source,
    )


def _unmatched(substance: str, prescription: Prescription) -> Finding:
    source = "SmartCare allergy classes (smartcare/knowledge/drugs/data/allergy_classes.yaml)"
    return Finding(
        rule="missing-facts", severity="low", refs=tuple(line.ref for line in prescription.lines), drugs=(),
        conditions=(substance,),
        summary_en=f"Recorded allergy {substance!r} could not be checked",
        summary_zh=f"过敏记录“{substance}”无法自动核对",
        detail_en=f"{substance!r} matches no drug, SNOMED CT substance code or allergy class the audit knows, so "
                  f"the prescription was not checked against it. Source: {source}.",
        detail_zh=f"“{substance}”与已知的药物、SNOMED CT 物质编码或过敏类别均不匹配，处方未能据此核对。依据：{source}。",
        advice_en="Record the allergy with its SNOMED CT code or the drug's generic name, or check it by hand.",
        advice_zh="请用 SNOMED CT 编码或药物通用名记录该过敏，或人工核对。",
        source=source,
    )
