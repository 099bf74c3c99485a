"""Plain functions that turn one person's FHIR records (already filtered by the access policy) into what the record
pages show: words in the reader's language, the date that matters, and where each record came from.

No database and no HTTP in here, so the rules are easy to test.
"""

from typing import Any

from smartcare.platform import clock

ORIGIN_SYSTEM = "https://smartcare.example/fhir/CodeSystem/record-origin"
PATIENT_REPORTED = "patient-reported"
IMPORTED = "imported"
IMPORT_SOURCE_SYSTEM = "https://smartcare.example/fhir/sid/import-source"
_HAN = ("\u4e00", "\u9fff")
# Where a record may name the organisation that made it, after meta.source, by type.
_PROVIDER_PATHS = {
    "Encounter": ("serviceProvider",),
    "Observation": ("performer",),
    "DiagnosticReport": ("performer", "resultsInterpreter"),
    "Immunization": ("performer",),
    "ImagingStudy": ("referrer",),
    "MedicationRequest": ("performer", "requester"),
    "CarePlan": ("author",),
}
# Who reported a patient-reported record, by type.
_REPORTER = {"Observation": "performer", "MedicationStatement": "informationSource",
             "AllergyIntolerance": "asserter", "Condition": "asserter"}


def has_han(text: str) -> bool:
    """True when text holds Chinese characters."""
    return any(_HAN[0] <= ch <= _HAN[1] for ch in text)


def label(concept: Any, zh: bool) -> str:
    """A CodeableConcept in the reader's language where it has words in it, else whatever words or code it has."""
    if not isinstance(concept, dict):
        return ""
    words = [concept["text"]] if isinstance(concept.get("text"), str) and concept["text"] else []
    codings = [c for c in concept.get("coding") or [] if isinstance(c, dict)]
    words += [c["display"] for c in codings if isinstance(c.get("display"), str) and c["display"]]
    codes = [c["code"] for c in codings if isinstance(c.get("code"), str)]
    preferred = [w for w in words if has_han(w) == zh]
    return str((preferred or words or codes or [""])[0])[:200]


def first_label(concepts: Any, zh: bool) -> str:
    """The first of a list of CodeableConcepts in words."""
    return next((text for c in concepts or [] if (text := label(c, zh))), "") if isinstance(concepts, list) else ""


def day(value: Any) -> str:
    """The date part of a FHIR date or dateTime (as much as given), or ""."""
    return value[:10] if isinstance(value, str) else ""


def moment(value: Any) -> str:
    """A FHIR dateTime as the region's wall-clock 'YYYY-MM-DD HH:MM' (or the date alone when no time is given)."""
    return clock.wall_clock(value)[:16] if isinstance(value, str) else ""


def codes(concept: Any, system: str) -> list[str]:
    """The codes of a CodeableConcept in one code system."""
    if not isinstance(concept, dict):
        return []
    return [str(c["code"]) for c in concept.get("coding") or []
            if isinstance(c, dict) and c.get("system") == system and c.get("code")]


def tags(resource: dict[str, Any]) -> set[str]:
    """The record-origin tags of a record (patient-reported, imported)."""
    return {str(t.get("code")) for t in (resource.get("meta") or {}).get("tag") or []
            if isinstance(t, dict) and t.get("system") == ORIGIN_SYSTEM}


def _references(value: Any) -> list[str]:
    """The reference strings in a Reference, a list of them, or Immunization.performer's actors."""
    items = value if isinstance(value, list) else [value]
    found = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("actor"), dict):
            item = item["actor"]
        if isinstance(item, dict) and isinstance(item.get("reference"), str):
            found.append(item["reference"])
    return found


def reporter(resource: dict[str, Any]) -> str:
    """Who reported a patient-reported record (Patient/x or RelatedPerson/y), else ""."""
    if PATIENT_REPORTED not in tags(resource):
        return ""
    path = _REPORTER.get(str(resource.get("resourceType")), "")
    return next(iter(_references(resource.get(path))), "Patient/")


def source_of(resource: dict[str, Any]) -> str:
    """The institution a record came from: meta.source when it names an Organization, else the organisation the
    record names as its provider or performer, else ""."""
    source = (resource.get("meta") or {}).get("source")
    if isinstance(source, str) and source.startswith("Organization/"):
        return source
    for path in _PROVIDER_PATHS.get(str(resource.get("resourceType")), ()):
        found = next((r for r in _references(resource.get(path)) if r.startswith("Organization/")), "")
        if found:
            return found
    return ""


def imported_from(resource: dict[str, Any]) -> str:
    """Where an imported record came from: its meta.source, else the import's source tag (fhir/ips/importer.py)."""
    meta = resource.get("meta") or {}
    tagged = next((str(t.get("code")) for t in meta.get("tag") or [] if isinstance(t, dict)
                   and t.get("system") == IMPORT_SOURCE_SYSTEM), "")
    return str(meta.get("source") or tagged)[:120]


def origin(resource: dict[str, Any], *, viewer: str, names: dict[str, str]) -> dict[str, str]:
    """Where a record came from, for the page: kind 'you', 'patient' (reported by the person or their family),
    'imported' (from an uploaded summary, with its source), 'institution' (with its name), 'device' (a home
    device's reading), else 'unknown'."""
    who = reporter(resource)
    if who:
        return {"kind": "you" if who == viewer else "patient", "name": ""}
    if IMPORTED in tags(resource):
        return {"kind": "imported", "name": imported_from(resource)}
    source = source_of(resource)
    if source:
        return {"kind": "institution", "name": names.get(source, source.removeprefix("Organization/")),
                "ref": source}
    if isinstance(resource.get("device"), dict):
        return {"kind": "device", "name": ""}
    return {"kind": "unknown", "name": ""}
