"""Validation of the drug knowledge files: raw YAML/CSV records in, model dataclasses out.

Every check lives here so the shipped data, imported sets and the CSV importer refuse bad data
with the same clear message naming the file and the record.
"""

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from smartcare.knowledge.drugs.model import (
    BASES,
    FREQUENCIES,
    HEPATIC_GRADES,
    LACTATION,
    ORGAN_ACTIONS,
    POPULATIONS,
    PREGNANCY_CATEGORIES,
    SEVERITIES,
    AllergyClass,
    ConditionRule,
    DoseLimit,
    Drug,
    Form,
    Interaction,
    OrganRule,
    TypicalDose,
)

KEY_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
# WHO ATC: anatomical group letter, therapeutic 2 digits, pharmacological and chemical letters, substance 2 digits.
ATC_CODE = re.compile(r"^[A-Z]\d{2}[A-Z]{2}\d{2}$")
ATC_PREFIX = re.compile(r"^[A-Z](\d{2}([A-Z]([A-Z](\d{2})?)?)?)?$")
CLASS_RULE_PREFIX = "ATC:"
MAX_CSV_BYTES = 64 * 1024 * 1024

Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN, max_length=80)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Prose = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Source = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]
Word = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]*$", max_length=40)]
Unit = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\[\]{}/%._]+$", max_length=30)]
Icd10Prefix = Annotated[str, StringConstraints(pattern=r"^[A-Z](\d{1,2}(\.\d{1,3})?)?$")]
Snomed = Annotated[str, StringConstraints(pattern=r"^\d{6,18}$")]
Amount = Annotated[float, Field(gt=0, lt=10_000_000)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FormRecord(_Record):
    """A product form as written in a formulary file."""

    form: Name
    strength: Amount
    unit: Unit
    route: Word


class DoseRecord(_Record):
    """A dose limit as written in a formulary file, checked for consistency."""

    population: Literal[POPULATIONS]
    route: Word
    unit: Unit
    basis: Literal[BASES] = "fixed"
    per_dose_min: Amount | None = None
    per_dose_max: Amount | None = None
    per_day_max: Amount | None = None
    cap_per_dose: Amount | None = None
    cap_per_day: Amount | None = None
    min_age_years: Annotated[float, Field(ge=0, le=120)] | None = None
    note: Text = ""
    source: Text = ""

    @model_validator(mode="after")
    def _consistent(self) -> "DoseRecord":
        if self.per_dose_max is None and self.per_day_max is None:
            raise ValueError("a dose limit needs per_dose_max or per_day_max")
        if self.per_dose_min and self.per_dose_max and self.per_dose_min > self.per_dose_max:
            raise ValueError("per_dose_min is above per_dose_max")
        if self.per_dose_max and self.per_day_max and self.per_dose_max > self.per_day_max:
            raise ValueError("per_dose_max is above per_day_max")
        if self.basis == "fixed" and (self.cap_per_dose or self.cap_per_day):
            raise ValueError("cap_per_dose/cap_per_day apply only to per_kg or per_m2 doses")
        return self


class RenalRecord(_Record):
    """A renal rule as written in a formulary file."""

    below: Annotated[float, Field(gt=0, le=200)]
    action: Literal[ORGAN_ACTIONS]
    max_per_day: Amount | None = None
    advice_en: Prose
    advice_zh: Prose
    source: Source


class HepaticRecord(_Record):
    """A hepatic rule as written in a formulary file."""

    at_least: Literal[HEPATIC_GRADES]
    action: Literal[ORGAN_ACTIONS]
    max_per_day: Amount | None = None
    advice_en: Prose
    advice_zh: Prose
    source: Source


class ConditionRecord(_Record):
    """A condition rule as written in a formulary file."""

    icd10_prefixes: list[Icd10Prefix] = Field(min_length=1, max_length=50)
    severity: Literal[SEVERITIES]
    reason_en: Prose
    reason_zh: Prose
    source: Source


class TypicalRecord(_Record):
    """A typical dose as written in a formulary file."""

    indication_en: Name
    indication_zh: Name
    icd10_prefixes: list[Icd10Prefix] = Field(default_factory=list, max_length=50)
    dose: Amount
    unit: Unit
    frequency: Literal[FREQUENCIES]
    route: Word
    basis: Literal[BASES] = "fixed"
    source: Text = ""


class DrugRecord(_Record):
    """One drug as written in a formulary file or built from an imported CSV row."""

    key: Key
    name_en: Name
    name_zh: Name
    atc: list[str] = Field(min_length=1, max_length=10)
    aliases: list[Name] = Field(default_factory=list, max_length=100)
    forms: list[FormRecord] = Field(default_factory=list, max_length=100)
    doses: list[DoseRecord] = Field(default_factory=list, max_length=100)
    renal: list[RenalRecord] = Field(default_factory=list, max_length=20)
    hepatic: list[HepaticRecord] = Field(default_factory=list, max_length=20)
    pregnancy: Literal[PREGNANCY_CATEGORIES] | None = None
    pregnancy_note: Text = ""
    lactation: Literal[LACTATION] | None = None
    lactation_note: Text = ""
    conditions: list[ConditionRecord] = Field(default_factory=list, max_length=50)
    allergy_classes: list[Key] = Field(default_factory=list, max_length=20)
    typical: list[TypicalRecord] = Field(default_factory=list, max_length=50)
    ingredients: list[Key] = Field(default_factory=list, max_length=20)
    source: Source

    @field_validator("atc")
    @classmethod
    def _atc_codes(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if not isinstance(code, str) or not ATC_CODE.match(code):
                raise ValueError(f"malformed ATC code {code!r} (WHO format letter, 2 digits, 2 letters, 2 digits: C09AA05)")
        return codes


class CrossRecord(_Record):
    """A cross-sensitivity of an allergy class as written in allergy_classes.yaml."""

    class_: Key = Field(alias="class")
    risk_en: Prose
    risk_zh: Prose


class AllergyClassRecord(_Record):
    """One allergy class as written in allergy_classes.yaml."""

    key: Key
    name_en: Name
    name_zh: Name
    snomed: list[Snomed] = Field(default_factory=list, max_length=100)
    cross_sensitive: list[CrossRecord] = Field(default_factory=list, max_length=30)
    note_en: Text = ""
    note_zh: Text = ""
    source: Source


def _side(value: str) -> str:
    if value.startswith(CLASS_RULE_PREFIX):
        prefix = value[len(CLASS_RULE_PREFIX):]
        if not ATC_PREFIX.match(prefix):
            raise ValueError(f"malformed ATC class prefix {prefix!r} (1, 3, 4, 5 or 7 characters of a WHO ATC code)")
        return value
    if not re.match(KEY_PATTERN, value) or len(value) > 80:
        raise ValueError(f"{value!r} is neither a formulary key nor ATC:<prefix>")
    return value


Side = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=90)]


class InteractionRecord(_Record):
    """One interaction row as written in an interactions CSV."""

    a: Side
    b: Side
    severity: Literal[SEVERITIES]
    mechanism_en: Prose
    mechanism_zh: Prose
    management_en: Prose
    management_zh: Prose
    source: Source
    onc_high_priority: bool = False

    @field_validator("a", "b")
    @classmethod
    def _sides(cls, value: str) -> str:
        return _side(value)

    @field_validator("onc_high_priority", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        if isinstance(value, str):
            flag = value.strip().lower()
            if flag in {"", "false", "no", "0"}:
                return False
            if flag in {"true", "yes", "1"}:
                return True
        return value


class KnowledgeDataError(ValueError):
    """Bad drug knowledge data: the message names the file and the record."""


def _problems(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "record"
        given = error.get("input")
        shown = f" (given {given!r:.80})" if isinstance(given, str | int | float) else ""
        parts.append(f"{where}: {error['msg']}{shown}")
    return "; ".join(parts)


def _label(raw: Any, index: int) -> str:
    key = raw.get("key") if isinstance(raw, Mapping) else None
    shown = f" {key!r}" if isinstance(key, str) and len(key) <= 80 else ""
    return f"record {index + 1}{shown}"


def _records(raw: Any, origin: str, what: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise KnowledgeDataError(f"{origin}: expected a list of {what}, found {type(raw).__name__}")
    return raw


def to_drug(record: DrugRecord) -> Drug:
    """The model's Drug for a validated record."""
    return Drug(
        key=record.key, name_en=record.name_en, name_zh=record.name_zh, atc=tuple(record.atc), source=record.source,
        aliases=tuple(record.aliases),
        forms=tuple(Form(**f.model_dump()) for f in record.forms),
        doses=tuple(DoseLimit(**d.model_dump()) for d in record.doses),
        renal=tuple(OrganRule(**r.model_dump()) for r in record.renal),
        hepatic=tuple(OrganRule(**h.model_dump()) for h in record.hepatic),
        pregnancy=record.pregnancy, pregnancy_note=record.pregnancy_note,
        lactation=record.lactation, lactation_note=record.lactation_note,
        conditions=tuple(
            ConditionRule(**{**c.model_dump(), "icd10_prefixes": tuple(c.icd10_prefixes)}) for c in record.conditions
        ),
        allergy_classes=tuple(record.allergy_classes),
        typical=tuple(
            TypicalDose(**{**t.model_dump(), "icd10_prefixes": tuple(t.icd10_prefixes)}) for t in record.typical
        ),
        ingredients=tuple(record.ingredients),
    )


def parse_drug(raw: Any, *, origin: str, label: str) -> Drug:
    """One drug from its raw mapping; KnowledgeDataError naming `origin` and `label` if it is bad."""
    if not isinstance(raw, Mapping):
        raise KnowledgeDataError(f"{origin}: {label}: expected a mapping of drug fields")
    try:
        return to_drug(DrugRecord.model_validate(raw))
    except ValidationError as exc:
        raise KnowledgeDataError(f"{origin}: {label}: {_problems(exc)}") from None


def parse_drugs(raw: Any, *, origin: str) -> list[Drug]:
    """The drugs of one formulary file (a YAML list), refusing duplicate keys within it."""
    drugs: list[Drug] = []
    seen: set[str] = set()
    for index, item in enumerate(_records(raw, origin, "drugs")):
        drug = parse_drug(item, origin=origin, label=_label(item, index))
        if drug.key in seen:
            raise KnowledgeDataError(f"{origin}: {_label(item, index)}: duplicate drug key {drug.key!r}")
        seen.add(drug.key)
        drugs.append(drug)
    return drugs


def parse_allergy_classes(raw: Any, *, origin: str) -> list[AllergyClass]:
    """The allergy classes of one YAML file, refusing duplicate keys within it."""
    classes: list[AllergyClass] = []
    seen: set[str] = set()
    for index, item in enumerate(_records(raw, origin, "allergy classes")):
        try:
            record = AllergyClassRecord.model_validate(item)
        except ValidationError as exc:
            raise KnowledgeDataError(f"{origin}: {_label(item, index)}: {_problems(exc)}") from None
        if record.key in seen:
            raise KnowledgeDataError(f"{origin}: {_label(item, index)}: duplicate allergy class key {record.key!r}")
        seen.add(record.key)
        classes.append(AllergyClass(
            key=record.key, name_en=record.name_en, name_zh=record.name_zh, snomed=tuple(record.snomed),
            source=record.source, note_en=record.note_en, note_zh=record.note_zh,
            cross_sensitive=tuple((c.class_, c.risk_en) for c in record.cross_sensitive),
            cross_sensitive_zh=tuple((c.class_, c.risk_zh) for c in record.cross_sensitive),
        ))
    return classes


def parse_interaction(row: Mapping[str, Any], *, origin: str, label: str) -> Interaction:
    """One interaction from a CSV row (columns as data/interactions.csv); KnowledgeDataError if bad."""
    try:
        record = InteractionRecord.model_validate(dict(row))
    except ValidationError as exc:
        raise KnowledgeDataError(f"{origin}: {label}: {_problems(exc)}") from None
    return Interaction(**record.model_dump())


def parse_interactions(rows: Iterable[tuple[int, Mapping[str, Any]]], *, origin: str) -> list[tuple[int, Interaction]]:
    """Interactions from numbered CSV rows, each with its line; the same pair twice in one file is refused."""
    found: list[tuple[int, Interaction]] = []
    seen: set[frozenset[str]] = set()
    for line, row in rows:
        interaction = parse_interaction(row, origin=origin, label=f"line {line}")
        pair = frozenset((interaction.a, interaction.b))
        if pair in seen:
            raise KnowledgeDataError(f"{origin}: line {line}: the pair {interaction.a} / {interaction.b} is listed twice")
        seen.add(pair)
        found.append((line, interaction))
    return found


def read_csv(path: Path, *, columns: Sequence[str], required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """The rows of a UTF-8 CSV file with their line numbers, after checking its header against `columns`."""
    origin = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise KnowledgeDataError(f"{origin}: cannot be read ({exc.strerror})") from None
    if size > MAX_CSV_BYTES:
        raise KnowledgeDataError(f"{origin}: {size:,} bytes is over the {MAX_CSV_BYTES:,}-byte limit")
    rows: list[tuple[int, dict[str, str]]] = []
    last_line = 0
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            unknown = [name for name in header if name not in columns]
            missing = [name for name in required if name not in header]
            if unknown or missing or len(set(header)) != len(header):
                raise KnowledgeDataError(
                    f"{origin}: line 1: the header must name the columns {', '.join(columns)} "
                    f"(unknown: {', '.join(unknown)[:200] or 'none'}; missing: {', '.join(missing) or 'none'})"
                )
            last_line = reader.line_num
            for row in reader:
                if None in row or any(value is None for value in row.values()):
                    raise KnowledgeDataError(f"{origin}: line {reader.line_num}: the row has {_count(row)} fields, "
                                             f"the header {len(header)}")
                rows.append((reader.line_num, row))
                last_line = reader.line_num
    except UnicodeDecodeError:
        raise KnowledgeDataError(f"{origin}: is not UTF-8 text") from None
    except OSError as exc:
        raise KnowledgeDataError(f"{origin}: cannot be read ({exc.strerror})") from None
    except csv.Error as exc:
        # The reader fails inside the record that starts on the line after the last good one.
        raise KnowledgeDataError(f"{origin}: line {last_line + 1}: {exc}") from None
    return rows


def _count(row: Mapping[str | None, Any]) -> int:
    extra = row.get(None) or []
    return sum(1 for k, v in row.items() if k is not None and v is not None) + len(extra)
