"""Human-readable text of IPS entries: one line per record, escaped into an XHTML narrative."""

from html import escape
from typing import Any

XHTML = "http://www.w3.org/1999/xhtml"
# A line in a narrative is a summary, not the record: long free text is cut (the entry holds all of it).
MAX_LINE = 300


def concept_text(concept: Any) -> str:
    """The words of a CodeableConcept: its text, else its first coding's display, else system|code."""
    if not isinstance(concept, dict):
        return ""
    if isinstance(concept.get("text"), str) and concept["text"].strip():
        return concept["text"].strip()
    for coding in concept.get("coding") or ():
        if isinstance(coding, dict) and isinstance(coding.get("display"), str) and coding["display"].strip():
            return coding["display"].strip()
    for coding in concept.get("coding") or ():
        if isinstance(coding, dict) and coding.get("code"):
            return f"{coding.get('system', '')}|{coding['code']}".lstrip("|")
    return ""


def _first_concept(values: Any) -> str:
    if isinstance(values, list):
        return next((t for t in (concept_text(v) for v in values) if t), "")
    return concept_text(values)


def _value(resource: dict[str, Any]) -> str:
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, dict) and "value" in quantity:
        return f"{quantity['value']} {quantity.get('unit') or quantity.get('code') or ''}".strip()
    for key in ("valueString", "valueBoolean", "valueInteger", "valueDateTime"):
        if key in resource:
            return str(resource[key])
    if "valueCodeableConcept" in resource:
        return concept_text(resource["valueCodeableConcept"])
    parts = [f"{concept_text(c.get('code'))} {_value(c)}".strip()
             for c in resource.get("component") or () if isinstance(c, dict)]
    return ", ".join(p for p in parts if p)


def _when(resource: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = resource.get(key)
        if isinstance(value, str):
            return value[:10]
        if isinstance(value, dict) and isinstance(value.get("start"), str):
            return value["start"][:10]
    return ""


def _medication(resource: dict[str, Any]) -> str:
    if "medicationCodeableConcept" in resource:
        return concept_text(resource["medicationCodeableConcept"])
    ref = resource.get("medicationReference")
    return str(ref.get("display", "")) if isinstance(ref, dict) else ""


def _dosage(resource: dict[str, Any]) -> str:
    for key in ("dosage", "dosageInstruction"):
        for dose in resource.get(key) or ():
            if isinstance(dose, dict) and isinstance(dose.get("text"), str):
                return dose["text"]
    return ""


def _status(value: Any) -> str:
    # A status concept without words is shown by its code (active, resolved ...), never as system|code.
    return concept_text(value).rpartition("|")[2] if isinstance(value, dict) else (value if isinstance(value, str) else "")


def describe(resource: dict[str, Any]) -> str:
    """One line saying what the record is, for a narrative or a reference's display (plain text, not escaped)."""
    kind = resource.get("resourceType")
    if kind in ("MedicationStatement", "MedicationRequest", "MedicationAdministration", "MedicationDispense"):
        parts = [_medication(resource), _dosage(resource), _status(resource.get("status"))]
    elif kind == "Immunization":
        parts = [concept_text(resource.get("vaccineCode")), _when(resource, "occurrenceDateTime")]
    elif kind == "AllergyIntolerance":
        reactions = [_first_concept(r.get("manifestation")) for r in resource.get("reaction") or () if isinstance(r, dict)]
        parts = [concept_text(resource.get("code")), str(resource.get("criticality", "")), ", ".join(r for r in reactions if r)]
    elif kind == "Condition":
        parts = [concept_text(resource.get("code")), _status(resource.get("clinicalStatus")),
                 _when(resource, "onsetDateTime", "onsetPeriod", "recordedDate")]
    elif kind == "Observation":
        parts = [concept_text(resource.get("code")), _value(resource), _when(resource, "effectiveDateTime", "effectivePeriod", "issued")]
    elif kind == "DiagnosticReport":
        parts = [concept_text(resource.get("code")), str(resource.get("conclusion", "")),
                 _when(resource, "effectiveDateTime", "effectivePeriod", "issued")]
    elif kind == "Procedure":
        parts = [concept_text(resource.get("code")), _when(resource, "performedDateTime", "performedPeriod")]
    elif kind == "DeviceUseStatement":
        device = resource.get("device")
        parts = [str(device.get("display", "")) if isinstance(device, dict) else "", _status(resource.get("status"))]
    elif kind == "CarePlan":
        parts = [str(resource.get("title", "")), str(resource.get("description", "")), _first_concept(resource.get("category"))]
    elif kind in ("Organization", "Medication", "Device", "Location"):
        parts = [str(resource.get("name", "")) if kind != "Medication" else concept_text(resource.get("code"))]
    elif kind in ("Patient", "Practitioner", "RelatedPerson"):
        parts = [person_name(resource)]
    else:
        parts = [concept_text(resource.get("code"))]
    line = " · ".join(p for p in parts if p) or f"{kind} (no description)"
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"


def person_name(resource: dict[str, Any]) -> str:
    """A person's first name as written (its text, else given names and family name)."""
    for name in resource.get("name") or ():
        if not isinstance(name, dict):
            continue
        if isinstance(name.get("text"), str) and name["text"].strip():
            return name["text"].strip()
        words = [*(g for g in name.get("given") or () if isinstance(g, str)), str(name.get("family") or "")]
        joined = " ".join(w for w in words if w)
        if joined:
            return joined
    return ""


def list_div(lines: list[str], lang: str) -> str:
    """An XHTML narrative listing lines, each escaped (record text may hold anything, '<script>' included)."""
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f'<div xmlns="{XHTML}" lang="{escape(lang)}"><ul>{items}</ul></div>'


def paragraph_div(text: str, lang: str, heading: str | None = None) -> str:
    """An XHTML narrative of one paragraph (and an optional heading), escaped."""
    head = f"<h1>{escape(heading)}</h1>" if heading else ""
    return f'<div xmlns="{XHTML}" lang="{escape(lang)}">{head}<p>{escape(text)}</p></div>'
