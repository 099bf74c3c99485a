"""SOAP note templates per department: the fields a doctor fills in, with units, bounds and choices.

Every template is the common SOAP fields of `data/note_templates.yaml` plus the department's own fields;
an unknown department gets the general template.
"""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).parent / "data"
GENERAL = "general"
SECTION_KEYS = ("subjective", "objective", "assessment", "plan")
KINDS = ("text", "number", "vital", "choice", "diagnosis")


class NoteTemplateError(ValueError):
    """The shipped template data is inconsistent (duplicate key, missing unit, bad bounds ...)."""


@dataclass(frozen=True)
class Option:
    """One answer of a choice field: the stored value and its labels."""

    value: str
    label_en: str
    label_zh: str


@dataclass(frozen=True)
class NoteField:
    """A field of a note: text (max_length), number or vital (UCUM unit, min/max), choice or ICD-10 diagnosis."""

    key: str
    label_en: str
    label_zh: str
    kind: str
    required: bool = False
    max_length: int | None = None
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    options: tuple[Option, ...] = ()
    loinc: str | None = None


@dataclass(frozen=True)
class NoteSection:
    """One of the four SOAP sections with its fields in display order."""

    key: str
    label_en: str
    label_zh: str
    fields: tuple[NoteField, ...]


@dataclass(frozen=True)
class NoteTemplate:
    """The note template of one department (or the general one)."""

    key: str
    name_en: str
    name_zh: str
    sections: tuple[NoteSection, ...]

    def field(self, key: str) -> NoteField | None:
        """The field with this key in any section, if present."""
        return next((f for s in self.sections for f in s.fields if f.key == key), None)


def _field(owner: str, item: dict[str, Any]) -> NoteField:
    kind = item["kind"]
    if kind not in KINDS:
        raise NoteTemplateError(f"{owner}.{item['key']}: kind {kind!r} is not one of {KINDS}")
    numeric = kind in ("number", "vital")
    if numeric and not (item.get("unit") and item["min"] < item["max"]):
        raise NoteTemplateError(f"{owner}.{item['key']}: a number needs a unit and min below max")
    if kind == "text" and not item.get("length"):
        raise NoteTemplateError(f"{owner}.{item['key']}: a text field needs a maximum length")
    if kind == "choice" and len(item.get("options", ())) < 2:
        raise NoteTemplateError(f"{owner}.{item['key']}: a choice needs at least two options")
    return NoteField(
        key=item["key"], label_en=item["en"], label_zh=item["zh"], kind=kind,
        required=bool(item.get("required", False)), max_length=item.get("length"),
        unit=item.get("unit"), min=float(item["min"]) if numeric else None,
        max=float(item["max"]) if numeric else None,
        options=tuple(Option(*o) for o in item.get("options", ())), loinc=item.get("loinc"))


def _template(key: str, name_en: str, name_zh: str, data: dict[str, Any], extra: dict[str, Any]) -> NoteTemplate:
    sections = []
    for section in data["sections"]:
        items = [*data["common"][section["key"]], *extra.get(section["key"], ())]
        fields = tuple(_field(key, item) for item in items)
        sections.append(NoteSection(section["key"], section["en"], section["zh"], fields))
    keys = [f.key for s in sections for f in s.fields]
    if len(keys) != len(set(keys)):
        raise NoteTemplateError(f"template {key}: field keys repeat")
    return NoteTemplate(key, name_en, name_zh, tuple(sections))


@lru_cache(maxsize=1)
def _templates() -> dict[str, NoteTemplate]:
    with (DATA_DIR / "note_templates.yaml").open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if tuple(s["key"] for s in data["sections"]) != SECTION_KEYS:
        raise NoteTemplateError(f"sections must be {SECTION_KEYS} in that order")
    result = {GENERAL: _template(GENERAL, "General", "通用", data, {})}
    for key, extra in data["departments"].items():
        result[key] = _template(key, extra["en"], extra["zh"], data, extra)
    return result


def templates() -> tuple[NoteTemplate, ...]:
    """Every template: the general one first, then one per department."""
    return tuple(_templates().values())


def template_for(department_key: str) -> NoteTemplate:
    """The template of a department (directory key such as 'cardiology'), else the general template."""
    found = _templates()
    if isinstance(department_key, str) and department_key in found:
        return found[department_key]
    return found[GENERAL]
