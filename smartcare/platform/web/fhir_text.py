"""FHIR resources as short text for pages: a person's name, an observation's value, a date."""

from typing import Any

from smartcare.platform import clock


def person_name(resource: dict[str, Any]) -> str:
    """The name a person goes by: the official name's text, else family and given names."""
    names = resource.get("name") or []
    chosen = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    if chosen.get("text"):
        return chosen["text"]
    family = chosen.get("family", "")
    given = " ".join(chosen.get("given", []))
    # Chinese names are written family name first, without a space.
    if family and any("\u4e00" <= ch <= "\u9fff" for ch in family + given):
        return family + given.replace(" ", "")
    return " ".join(part for part in (given, family) if part) or resource.get("id", "")


def concept_text(concept: dict[str, Any] | None) -> str:
    """A CodeableConcept as words: its text, else the first coding's display, else its code."""
    if not concept:
        return ""
    if concept.get("text"):
        return concept["text"]
    for coding in concept.get("coding", []):
        if coding.get("display"):
            return coding["display"]
    codings = concept.get("coding", [])
    return codings[0].get("code", "") if codings else ""


def _quantity(quantity: dict[str, Any]) -> str:
    value = quantity.get("value")
    if value is None:
        return ""
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    unit = quantity.get("unit") or quantity.get("code") or ""
    return f"{shown} {unit}".strip()


def observation_value(observation: dict[str, Any]) -> str:
    """An observation's result as written on a report: '72 /min', '120/80 mmHg', 'Positive'."""
    if "valueQuantity" in observation:
        return _quantity(observation["valueQuantity"])
    if "valueCodeableConcept" in observation:
        return concept_text(observation["valueCodeableConcept"])
    for key in ("valueString", "valueBoolean", "valueInteger"):
        if key in observation:
            return str(observation[key])
    components = [c.get("valueQuantity") for c in observation.get("component", []) if c.get("valueQuantity")]
    if components:
        units = {q.get("unit") or q.get("code") for q in components}
        if len(units) == 1:
            return "/".join(f"{q.get('value', '')}" for q in components) + f" {units.pop() or ''}".rstrip()
        return ", ".join(_quantity(q) for q in components)
    return ""


def when(resource: dict[str, Any]) -> str:
    """The clinically relevant date of a resource, as YYYY-MM-DD HH:MM in the region's time (or as much as is
    known): a reading at 07:30 in Shanghai is stored as 23:30 UTC the day before."""
    for key in ("effectiveDateTime", "issued", "start", "authoredOn", "recordedDate", "onsetDateTime"):
        value = resource.get(key)
        if isinstance(value, str):
            return clock.wall_clock(value)[:16]
    period = resource.get("effectivePeriod") or resource.get("period") or {}
    start = period.get("start")
    return clock.wall_clock(start)[:16] if isinstance(start, str) else ""


# FHIR's standard extension that carries a string element in another language (on the element's "_name").
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"


def translated(parent: dict[str, Any] | None, name: str, locale: str) -> str:
    """The string element name of parent in locale (a BCP 47 tag) when its translation extension has it, else as
    written."""
    if not parent:
        return ""
    for extension in (parent.get(f"_{name}") or {}).get("extension", []):
        if extension.get("url") != TRANSLATION:
            continue
        parts = {e.get("url"): e for e in extension.get("extension", [])}
        if (parts.get("lang") or {}).get("valueCode") == locale and (parts.get("content") or {}).get("valueString"):
            return str(parts["content"]["valueString"])
    return str(parent.get(name) or "")


def translations(by_locale: dict[str, str]) -> dict[str, Any]:
    """The element extension ("_name") that gives a string element's text in each locale of by_locale."""
    return {"extension": [{"url": TRANSLATION, "extension": [{"url": "lang", "valueCode": locale},
                                                            {"url": "content", "valueString": text}]}
                          for locale, text in by_locale.items()]}
