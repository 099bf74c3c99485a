"""The audit's vocabulary shared by every rule: order lines, patient facts, findings, the resolved prescription."""

from dataclasses import dataclass

from smartcare.knowledge.drugs.model import Drug
from smartcare.knowledge.prescribing.dosage import Frequency

SEVERITY_RANK = {"high": 0, "moderate": 1, "low": 2}
RULES = ("interaction", "allergy", "duplicate", "dose", "renal", "hepatic", "pregnancy", "lactation", "condition",
         "route", "frequency", "unknown-medicine", "missing-facts")
_FROM_KNOWLEDGE = {"contraindicated": "high", "major": "high", "moderate": "moderate", "minor": "low"}


@dataclass(frozen=True)
class MedicineOrder:
    """One prescription line, or one medicine the patient already takes."""

    medicine: str
    dose: float | None = None
    unit: str | None = None
    frequency: str | None = None
    route: str | None = None
    ref: str = ""
    indication: str | None = None


@dataclass(frozen=True)
class PatientFacts:
    """What the audit knows about the patient; None means not recorded."""

    age_years: float | None = None
    sex: str | None = None
    weight_kg: float | None = None
    height_cm: float | None = None
    egfr: float | None = None
    hepatic: str | None = None
    pregnant: bool = False
    lactating: bool = False
    allergies: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    current: tuple[MedicineOrder, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One problem the audit found, in English and Chinese, with its source and a machine-applicable fix."""

    rule: str
    severity: str
    refs: tuple[str, ...]
    drugs: tuple[str, ...]
    conditions: tuple[str, ...]
    summary_en: str
    summary_zh: str
    detail_en: str
    detail_zh: str
    advice_en: str
    advice_zh: str
    source: str
    suggestion: dict | None = None


@dataclass(frozen=True)
class Line:
    """An order line (or current medicine) matched to its formulary drug, route and frequency."""

    ref: str
    order: MedicineOrder
    drug: Drug
    route: str | None
    frequency: Frequency | None
    current: bool = False

    @property
    def name_en(self) -> str:
        """The drug's English generic name."""
        return self.drug.name_en

    @property
    def name_zh(self) -> str:
        """The drug's Chinese generic name."""
        return self.drug.name_zh


@dataclass(frozen=True)
class Prescription:
    """The resolved prescription the rules read: new lines, current medicines, the patient, body size."""

    lines: tuple[Line, ...]
    current: tuple[Line, ...]
    patient: PatientFacts
    bsa_m2: float | None


def severity_of(knowledge_severity: str) -> str:
    """The FHIR DetectedIssue severity for a knowledge severity (contraindicated/major/moderate/minor)."""
    return _FROM_KNOWLEDGE[knowledge_severity]


def pairs(prescription: Prescription) -> list[tuple[Line, Line]]:
    """Every pair of a new line with a later new line or with a current medicine, in a stable order."""
    lines = prescription.lines
    found = [(a, b) for i, a in enumerate(lines) for b in lines[i + 1:]]
    found += [(a, c) for a in lines for c in prescription.current]
    return found


def cite(source: str) -> tuple[str, str]:
    """The 'Source: ...' sentence in English and Chinese."""
    text = source.strip().rstrip(".")
    return f" Source: {text}.", f"依据：{text}。"


def sentences(*parts: str) -> str:
    """Non-empty parts joined as sentences, each ending with one full stop."""
    return " ".join(f"{part.strip().rstrip('.')}." for part in parts if part and part.strip())


_FACTS = {
    "weight": ("body weight", "体重"),
    "height": ("height (with weight, for body surface area)", "身高（与体重一起用于计算体表面积）"),
    "egfr": ("eGFR (kidney function)", "eGFR（肾功能）"),
}


def missing_fact(line: Line, *, fact: str, why_en: str, why_zh: str, source: str) -> Finding:
    """A low finding asking for a patient fact a rule needs (weight, height, eGFR) to check this line."""
    fact_en, fact_zh = _FACTS[fact]
    source_en, source_zh = cite(source)
    return Finding(
        rule="missing-facts", severity="low", refs=(line.ref,), drugs=(line.drug.key,), conditions=(),
        summary_en=f"Record the patient's {fact_en} to check {line.name_en}",
        summary_zh=f"请记录患者{fact_zh}以核对{line.name_zh}",
        detail_en=sentences(why_en, f"Without the patient's {fact_en} this check could not be made") + source_en,
        detail_zh=f"{why_zh.rstrip('。')}。缺少患者{fact_zh}，无法完成该项审核。{source_zh}",
        advice_en=f"Record the {fact_en} and check the prescription again.",
        advice_zh=f"记录{fact_zh}后重新审核处方。",
        source=source,
    )
