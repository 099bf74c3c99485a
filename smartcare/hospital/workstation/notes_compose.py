"""How an encounter note sits in FHIR: the Composition's SOAP sections, its narrative, and the values read back.

- The note is a Composition: type LOINC 34108-1 Outpatient Note, or 11506-3 Progress note for an
  in-patient stay (C-CDA on FHIR ProgressNoteDocumentTypeCode; LOINC Document Ontology); category the
  department (DEPARTMENT_SYSTEM) whose template the note follows.
- Four sections with the LOINC codes of the C-CDA R2.1 section templates: Subjective 61150-9, Objective
  61149-1, Assessment 51848-0, Plan 18776-5. Each field is a sub-section coded in FIELD_SYSTEM by the
  template's field key (Chief complaint 10154-3 and History of present illness 10164-2 keep their LOINC
  codes); its typed value is kept in the FIELD_VALUE_EXT extension, its text.div is escaped XHTML.
- Vital signs are Observations (category vital-signs, LOINC code and UCUM unit of the template field)
  referenced from their sub-section; diagnoses are Conditions referenced from the assessment section,
  each entry carrying the DIAGNOSIS_EXT extension (ICD-10 coding and verification status) so that every
  version of the Composition says which diagnoses it held.
- An amendment's reason is the AMENDMENT_EXT extension on the amended version.
"""

import html
import re
from dataclasses import dataclass, field
from typing import Any

from smartcare.hospital.directory.conventions import DEPARTMENT_SYSTEM
from smartcare.knowledge.diseases import icd10
from smartcare.knowledge.notes import templates as note_templates

LOCAL = "https://smartcare.example/fhir/"
LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
UCUM = "http://unitsofmeasure.org"
FIELD_SYSTEM = LOCAL + "CodeSystem/note-field"
FIELD_VALUE_EXT = LOCAL + "StructureDefinition/note-field-value"
DIAGNOSIS_EXT = LOCAL + "StructureDefinition/note-diagnosis"
AMENDMENT_EXT = LOCAL + "StructureDefinition/note-amendment-reason"
XHTML = "http://www.w3.org/1999/xhtml"
OUTPATIENT_NOTE = ("34108-1", "Outpatient Note")
PROGRESS_NOTE = ("11506-3", "Progress note")
# Encounter classes (v3 ActCode) of a stay in hospital, documented by progress notes.
INPATIENT_CLASSES = frozenset({"IMP", "ACUTE", "NONAC", "SS", "PRENC"})
SECTIONS = {
    "subjective": ("61150-9", "Subjective", "主观资料"),
    "objective": ("61149-1", "Objective", "客观资料"),
    "assessment": ("51848-0", "Assessment", "评估"),
    "plan": ("18776-5", "Plan of treatment", "诊疗计划"),
}
# Fields with a LOINC section code of their own (C-CDA Chief Complaint and History of Present Illness).
FIELD_LOINC = {"chief_complaint": ("10154-3", "Chief complaint"),
               "history_present_illness": ("10164-2", "History of present illness")}
VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CLINICAL_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-category"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
VERIFICATIONS = ("confirmed", "provisional")
MAX_TEXT = 4000
# How UCUM units are written for a reader; annotations such as {score} are not shown at all.
UNIT_SHOWN = {"Cel": "°C", "mm[Hg]": "mmHg"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class FieldSpec:
    """One field of a note template, as the notes read it."""

    section: str
    key: str
    label_en: str
    label_zh: str
    kind: str
    required: bool
    max_length: int
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    options: tuple[tuple[str, str, str], ...] = ()
    loinc: str = ""

    @property
    def shown_unit(self) -> str:
        """The unit as a reader writes it ("°C" for UCUM Cel; nothing for an annotation such as {score})."""
        return "" if self.unit.startswith("{") else UNIT_SHOWN.get(self.unit, self.unit)

    def label(self, locale: str) -> str:
        """The field's label in the reader's language."""
        return self.label_zh if locale.startswith("zh") and self.label_zh else self.label_en

    def option_label(self, value: str, locale: str) -> str:
        """The label of a choice's option in the reader's language (the value itself when unknown)."""
        for code, en, zh in self.options:
            if code == value:
                return zh if locale.startswith("zh") and zh else en
        return value


@dataclass(frozen=True)
class NoteTemplate:
    """A department's note template: its key, names and fields in SOAP order."""

    key: str
    title_en: str
    title_zh: str
    fields: tuple[FieldSpec, ...]

    def title(self, locale: str) -> str:
        """The template's (department's) name in the reader's language."""
        return self.title_zh if locale.startswith("zh") and self.title_zh else self.title_en

    def section_fields(self, section: str) -> tuple[FieldSpec, ...]:
        """The fields of one SOAP section."""
        return tuple(f for f in self.fields if f.section == section)


@dataclass(frozen=True)
class Diagnosis:
    """One diagnosis on a note: ICD-10 code, English and Chinese title, verification status, its Condition."""

    code: str
    title_en: str
    title_zh: str
    verification: str
    condition: str = ""


@dataclass
class NoteContent:
    """What a note says: the typed value of each field (as text) and its diagnoses."""

    values: dict[str, str] = field(default_factory=dict)
    diagnoses: list[Diagnosis] = field(default_factory=list)


def _field(section: str, item: note_templates.NoteField) -> FieldSpec:
    return FieldSpec(
        section=section, key=item.key, label_en=item.label_en, label_zh=item.label_zh, kind=item.kind,
        required=item.required, max_length=item.max_length or MAX_TEXT, unit=item.unit or "",
        minimum=item.min, maximum=item.max,
        options=tuple((o.value, o.label_en, o.label_zh) for o in item.options), loinc=item.loinc or "")


def template_for(department: str) -> NoteTemplate:
    """The note template of a department (the knowledge base falls back to the general one)."""
    found = note_templates.template_for(department)
    fields = tuple(_field(section.key, item) for section in found.sections if section.key in SECTIONS
                   for item in section.fields)
    return NoteTemplate(key=found.key, title_en=found.name_en, title_zh=found.name_zh, fields=fields)


def clean_text(value: str) -> str:
    """Typed text with Windows line ends made plain and control characters (other than tab and newline) removed."""
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()


def _escaped(value: str) -> str:
    return html.escape(value, quote=True).replace("\n", "<br/>")


def _div(paragraphs: list[tuple[str, str]]) -> str:
    body = "".join(f"<p><b>{_escaped(label)}</b>: {_escaped(text)}</p>" for label, text in paragraphs)
    return f'<div xmlns="{XHTML}">{body}</div>'


def shown_value(spec: FieldSpec, value: str, locale: str = "en") -> str:
    """A field's value as read on the note: a choice by its label, a number with its unit."""
    if spec.kind == "choice":
        return spec.option_label(value, locale)
    if spec.kind in ("number", "vital") and spec.shown_unit:
        return f"{value} {spec.shown_unit}"
    return value


def _number(value: str) -> float | int:
    number = float(value)
    return int(number) if number.is_integer() and "." not in value else number


def _quantity(spec: FieldSpec, value: str) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": _number(value)}
    if spec.unit:
        quantity |= {"unit": spec.shown_unit or spec.unit, "system": UCUM, "code": spec.unit}
    return quantity


def _value_extension(spec: FieldSpec, value: str) -> dict[str, Any]:
    if spec.kind in ("number", "vital"):
        return {"url": FIELD_VALUE_EXT, "valueQuantity": _quantity(spec, value)}
    return {"url": FIELD_VALUE_EXT, "valueString": value}


def _field_code(spec: FieldSpec) -> dict[str, Any]:
    codings = [{"system": FIELD_SYSTEM, "code": spec.key, "display": spec.label_en}]
    if spec.key in FIELD_LOINC:
        code, display = FIELD_LOINC[spec.key]
        codings.insert(0, {"system": LOINC, "code": code, "display": display})
    return {"coding": codings, "text": spec.label_en}


def note_type(encounter: dict[str, Any] | None) -> tuple[str, str]:
    """The LOINC document type of a note on this encounter: a progress note in hospital, else an outpatient note."""
    encounter_class = ((encounter or {}).get("class") or {}).get("code")
    return PROGRESS_NOTE if encounter_class in INPATIENT_CLASSES else OUTPATIENT_NOTE


def sections(template: NoteTemplate, content: NoteContent, *, vitals: dict[str, str],
             conditions: list[str]) -> list[dict[str, Any]]:
    """The Composition's SOAP sections for content; vitals maps a field key to its Observation's reference."""
    out = []
    for name, (code, title_en, _zh) in SECTIONS.items():
        parts, subs = [], []
        for spec in template.section_fields(name):
            value = content.values.get(spec.key, "")
            if not value or spec.kind == "diagnosis":
                continue
            text = shown_value(spec, value)
            parts.append((spec.label_en, text))
            sub: dict[str, Any] = {"extension": [_value_extension(spec, value)], "title": spec.label_en,
                                   "code": _field_code(spec),
                                   "text": {"status": "generated", "div": _div([(spec.label_en, text)])}}
            if spec.key in vitals:
                sub["entry"] = [{"reference": vitals[spec.key]}]
            subs.append(sub)
        section: dict[str, Any] = {"title": title_en, "code": {"coding": [{"system": LOINC, "code": code,
                                                                            "display": title_en}]}}
        if name == "assessment" and content.diagnoses:
            parts += [("Diagnosis", f"{d.code} {d.title_en} ({d.verification})") for d in content.diagnoses]
            section["entry"] = [_diagnosis_entry(d, ref) for d, ref in zip(content.diagnoses, conditions, strict=True)]
        if not parts:
            continue
        section["text"] = {"status": "generated", "div": _div(parts)}
        if subs:
            section["section"] = subs
        out.append(section)
    return out


def _diagnosis_entry(diagnosis: Diagnosis, reference: str) -> dict[str, Any]:
    return {"reference": reference, "display": f"{diagnosis.code} {diagnosis.title_en}",
            "extension": [{"url": DIAGNOSIS_EXT, "extension": [
                {"url": "code", "valueCoding": {"system": ICD10, "code": diagnosis.code, "display": diagnosis.title_en}},
                {"url": "verification", "valueCode": diagnosis.verification}]}]}


def condition(diagnosis: Diagnosis, *, patient: str, encounter: str | None, recorder: str, when: str,
              existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Condition (an encounter diagnosis coded in ICD-10) a note's diagnosis is recorded as."""
    resource: dict[str, Any] = {**(existing or {}), "resourceType": "Condition"}
    resource |= {
        "clinicalStatus": {"coding": [{"system": CLINICAL_SYSTEM, "code": "active"}]},
        "verificationStatus": {"coding": [{"system": VERIFICATION_SYSTEM, "code": diagnosis.verification}]},
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "encounter-diagnosis",
                                  "display": "Encounter Diagnosis"}]}],
        "code": {"coding": [{"system": ICD10, "code": diagnosis.code, "display": diagnosis.title_en}],
                 "text": diagnosis.title_en},
        "subject": {"reference": patient},
        "recorder": {"reference": recorder},
        "recordedDate": (existing or {}).get("recordedDate") or when,
    }
    if encounter:
        resource["encounter"] = {"reference": encounter}
    return resource


def observation(spec: FieldSpec, value: str, *, patient: str, encounter: str | None, performer: str, when: str,
                status: str, existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The vital-sign Observation a note's vital field is recorded as."""
    quantity = _quantity(spec, value)
    resource: dict[str, Any] = {**(existing or {}), "resourceType": "Observation", "status": status,
                                "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs",
                                                          "display": "Vital Signs"}]}],
                                "code": {"coding": [{"system": LOINC, "code": spec.loinc, "display": spec.label_en}],
                                         "text": spec.label_en},
                                "subject": {"reference": patient},
                                "effectiveDateTime": (existing or {}).get("effectiveDateTime") or when,
                                "performer": [{"reference": performer}], "valueQuantity": quantity}
    if encounter:
        resource["encounter"] = {"reference": encounter}
    return resource


def _codes(concept: dict[str, Any] | None, system: str) -> list[str]:
    return [c.get("code", "") for c in (concept or {}).get("coding", []) if c.get("system") == system]


def department_of(composition: dict[str, Any]) -> str:
    """The department key whose template a stored note follows ("" when it names none)."""
    for concept in composition.get("category", []):
        found = _codes(concept, DEPARTMENT_SYSTEM)
        if found:
            return found[0]
    return ""


def _value_of(sub: dict[str, Any]) -> str | None:
    for ext in sub.get("extension", []):
        if ext.get("url") != FIELD_VALUE_EXT:
            continue
        if "valueString" in ext:
            return str(ext["valueString"])
        quantity = ext.get("valueQuantity") or {}
        if "value" in quantity:
            return str(quantity["value"])
    return None


def _diagnosis_of(entry: dict[str, Any]) -> Diagnosis | None:
    ext = next((e for e in entry.get("extension", []) if e.get("url") == DIAGNOSIS_EXT), None)
    if ext is None:
        return None
    parts = {e.get("url"): e for e in ext.get("extension", [])}
    coding = (parts.get("code") or {}).get("valueCoding") or {}
    known = icd10.find(coding.get("code", ""))
    return Diagnosis(code=coding.get("code", ""), title_en=coding.get("display", ""),
                     title_zh=known.title_zh if known else "",
                     verification=(parts.get("verification") or {}).get("valueCode", "provisional"),
                     condition=entry.get("reference", ""))


def content_of(composition: dict[str, Any]) -> NoteContent:
    """The field values and diagnoses a stored Composition holds."""
    content = NoteContent()
    for section in composition.get("section", []):
        for sub in section.get("section", []):
            keys = _codes(sub.get("code"), FIELD_SYSTEM)
            value = _value_of(sub)
            if keys and value is not None:
                content.values[keys[0]] = value
        if _codes(section.get("code"), LOINC) == [SECTIONS["assessment"][0]]:
            content.diagnoses = [d for e in section.get("entry", []) if (d := _diagnosis_of(e)) is not None]
    return content


def vital_references(composition: dict[str, Any]) -> dict[str, str]:
    """The Observation each vital field of a stored note refers to, by field key."""
    found = {}
    for section in composition.get("section", []):
        for sub in section.get("section", []):
            keys = _codes(sub.get("code"), FIELD_SYSTEM)
            refs = [e.get("reference", "") for e in sub.get("entry", []) if e.get("reference", "").startswith(
                "Observation/")]
            if keys and refs:
                found[keys[0]] = refs[0]
    return found


def amendment_reason(composition: dict[str, Any]) -> str:
    """The reason given for this version's amendment ("" for other versions)."""
    return next((e.get("valueString", "") for e in composition.get("extension", []) if e.get("url") == AMENDMENT_EXT),
                "")


@dataclass(frozen=True)
class Change:
    """One difference between two versions of a note: what, before and after (as shown to the reader)."""

    what: str
    before: str
    after: str


def changes(template: NoteTemplate, before: NoteContent, after: NoteContent, locale: str) -> list[Change]:
    """The fields and diagnoses that differ between two versions of a note."""
    found = []
    for spec in template.fields:
        old, new = before.values.get(spec.key, ""), after.values.get(spec.key, "")
        if old != new and spec.kind != "diagnosis":
            found.append(Change(spec.label(locale), shown_value(spec, old, locale) if old else "",
                                shown_value(spec, new, locale) if new else ""))
    old_dx = {d.code: d.verification for d in before.diagnoses}
    new_dx = {d.code: d.verification for d in after.diagnoses}
    for code in sorted(old_dx.keys() | new_dx.keys()):
        if old_dx.get(code) != new_dx.get(code):
            found.append(Change(f"ICD-10 {code}", old_dx.get(code, ""), new_dx.get(code, "")))
    return found
