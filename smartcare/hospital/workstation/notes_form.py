"""The encounter-note form's input: typed values checked against the template's kinds, bounds and lengths, the
ICD-10 diagnoses chosen, and what a note still lacks before it can be signed. Plain functions, no storage."""

import math
from dataclasses import dataclass
from typing import Any

from smartcare.hospital.workstation import notes_compose as compose
from smartcare.hospital.workstation.notes_compose import Diagnosis, NoteContent, NoteTemplate
from smartcare.knowledge.diseases import icd10
from smartcare.platform.i18n import _

# No field holds more than this, whatever its template says.
MAX_FIELD = 20_000
MAX_DIAGNOSES = 20


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field, as a catalog message and its values."""

    message: str
    params: dict[str, Any]


def length_problem(raw: str, limit: int) -> Problem | None:
    """A problem when raw is longer than limit characters."""
    if len(raw) > limit:
        return Problem(_("This is %(length)s characters long; at most %(limit)s are allowed."),
                       {"length": len(raw), "limit": limit})
    return None


def _number_problem(spec: compose.FieldSpec, value: str) -> Problem | None:
    try:
        number = float(value)
    except ValueError:
        return Problem(_("Enter a number."), {})
    if not math.isfinite(number):
        return Problem(_("Enter a number."), {})
    low = -math.inf if spec.minimum is None else spec.minimum
    high = math.inf if spec.maximum is None else spec.maximum
    if not low <= number <= high:
        return Problem(_("Enter a value from %(min)s to %(max)s %(unit)s."),
                       {"min": f"{low:g}", "max": f"{high:g}", "unit": spec.unit})
    return None


def read_input(template: NoteTemplate, raw: dict[str, str], diagnoses: list[tuple[str, str]]
               ) -> tuple[NoteContent, dict[str, Problem]]:
    """The note content typed into the form, and what is wrong with it (required fields are checked at signing)."""
    content, problems = NoteContent(), {}
    for spec in template.fields:
        if spec.kind == "diagnosis":
            continue
        typed = raw.get(spec.key, "")
        limit = min(spec.max_length or MAX_FIELD, MAX_FIELD)
        if problem := length_problem(typed, limit):
            problems[spec.key] = problem
            continue
        value = compose.clean_text(typed)
        if value and spec.kind in ("number", "vital"):
            value = value.replace(",", ".").replace(" ", "")
            problem = _number_problem(spec, value)
        elif value and spec.kind == "choice" and value not in {code for code, _en, _zh in spec.options}:
            problem = Problem(_("Choose one of the options."), {})
        else:
            problem = None
        if problem:
            problems[spec.key] = problem
        content.values[spec.key] = value
    key = diagnosis_key(template)
    seen = set()
    for code, verification in diagnoses[:MAX_DIAGNOSES + 1]:
        found = icd10.find(code[:12]) if code.strip() else None
        if found is None:
            if code.strip():
                problems[key] = Problem(_("%(code)s is not an ICD-10 code."), {"code": code.strip()[:12]})
            continue
        if found.code in seen:
            continue
        seen.add(found.code)
        content.diagnoses.append(Diagnosis(found.code, found.title_en, found.title_zh,
                                           verification if verification in compose.VERIFICATIONS else "provisional"))
    if len(diagnoses) > MAX_DIAGNOSES:
        problems[key] = Problem(_("A note holds at most %(limit)s diagnoses."), {"limit": MAX_DIAGNOSES})
    return content, problems


def diagnosis_key(template: NoteTemplate) -> str:
    """The key of the template's ICD-10 diagnosis field (where diagnosis problems are shown)."""
    return next((spec.key for spec in template.fields if spec.kind == "diagnosis"), "diagnoses")


def missing_for_signing(template: NoteTemplate, content: NoteContent) -> dict[str, Problem]:
    """The required fields a note still lacks before it can be signed."""
    return {spec.key: Problem(_("Required before the note is signed."), {}) for spec in template.fields
            if spec.required and not (content.diagnoses if spec.kind == "diagnosis" else content.values.get(spec.key))}
