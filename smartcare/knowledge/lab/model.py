"""The value types of the laboratory knowledge: analytes, reference ranges and the results of its rules."""

from dataclasses import dataclass

LEVELS = ("critical-low", "low", "normal", "high", "critical-high", "abnormal", "unknown")
ACTIONS = ("routine", "see-doctor-soon", "urgent")
FLAGS = ("LL", "L", "N", "H", "HH")


class LabKnowledgeError(ValueError):
    """The shipped laboratory data is inconsistent (a bad edit fails at load, naming the record)."""


@dataclass(frozen=True)
class Answer:
    """One grade of an ordinal (graded) result: its code in the local CodeSystem, labels, and whether it is normal.

    `snomed` is the SNOMED CT concept with exactly this meaning (Negative, Positive), blank for the grades.
    """

    code: str
    en: str
    zh: str
    normal: bool
    snomed: str = ""

    def label(self, zh: bool) -> str:
        """The grade as the reader sees it."""
        return self.zh if zh else self.en


@dataclass(frozen=True)
class Analyte:
    """A measured quantity with its LOINC code, UCUM unit, names and a plain sentence on what it measures.

    An ordinal analyte (a dipstick grade, a qualitative test) has no unit and lists its allowed `answers`, in
    order from the usual result upwards.
    """

    loinc: str
    name_en: str
    name_zh: str
    unit: str | None
    decimals: int
    aliases: tuple[str, ...]
    what_en: str
    what_zh: str
    key: str = ""
    source: str = ""
    answers: tuple[Answer, ...] = ()

    @property
    def ordinal(self) -> bool:
        """True when results are grades (answers) rather than numbers."""
        return bool(self.answers)

    def answer(self, code: str) -> Answer | None:
        """The allowed answer with this code, or None."""
        return next((a for a in self.answers if a.code == code), None)


@dataclass(frozen=True)
class Range:
    """A reference interval with critical limits, in the analyte's unit.

    Values strictly below `low` or above `high` are abnormal; with `high_exclusive` a value equal to `high`
    is already abnormal (decision limits such as total cholesterol "below 5.2 mmol/L"). Values strictly
    beyond a critical limit are critical.
    """

    low: float | None
    high: float | None
    unit: str
    critical_low: float | None
    critical_high: float | None
    source: str
    note: str = ""
    high_exclusive: bool = False


@dataclass(frozen=True)
class DeltaResult:
    """A change from the patient's previous result larger than the analyte's delta limit."""

    loinc: str
    value: float
    previous: float
    change: float
    percent_change: float | None
    limit_percent: float | None
    limit_absolute: float | None
    hours_between: float
    source: str


@dataclass(frozen=True)
class WestgardViolation:
    """One Westgard rule broken by a QC run: the rule, whether it warns or rejects, and the points (indexes)."""

    rule: str
    severity: str
    points: tuple[int, ...]
    message_en: str
    message_zh: str


@dataclass(frozen=True)
class Interpretation:
    """What one result means for this person: level, plain-language meaning, what to do, and the source."""

    loinc: str
    value: float
    unit: str
    flag: str | None
    level: str
    meaning_en: str
    meaning_zh: str
    action: str
    range: Range | None
    source: str


@dataclass(frozen=True)
class GradeInterpretation:
    """What one graded result means: the grade, normal or abnormal, plain-language meaning, what to do, source."""

    loinc: str
    answer: Answer
    flag: str
    level: str
    meaning_en: str
    meaning_zh: str
    action: str
    usual: tuple[Answer, ...]
    source: str


@dataclass(frozen=True)
class PanelFinding:
    """A pattern seen across several results read together (e.g. microcytic anaemia), in both languages."""

    key: str
    panel: str
    meaning_en: str
    meaning_zh: str
    action: str
    analytes: tuple[str, ...]
    source: str
