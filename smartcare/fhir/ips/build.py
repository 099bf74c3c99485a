"""Build an International Patient Summary document Bundle from a patient's records (pure functions, no I/O)."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta

from smartcare.fhir.ips.narrative import describe, list_div, paragraph_div
from smartcare.fhir.ips.references import rewrite_references, type_and_id
from smartcare.fhir.ips.sections import LOINC, Catalogue, Fill, catalogue

# Bundle.identifier of a document is globally unique: a urn:uuid under the URI system (IPS examples do the same).
IDENTIFIER_SYSTEM = "urn:ietf:rfc:3986"
PLATFORM_NAME = "SmartCare Regional Health Platform"
_DATE_KEYS = ("effectiveDateTime", "effectivePeriod", "issued", "occurrenceDateTime", "performedDateTime",
              "performedPeriod", "onsetDateTime", "recordedDate", "authoredOn", "dateAsserted", "created")


@dataclass(slots=True)
class SummaryInput:
    """What a summary is made of: the patient, the records of each section, the records they refer to."""

    patient: dict[str, Any]
    sections: dict[str, list[dict[str, Any]]]
    author: dict[str, Any]  # the Organization that produces the summary
    now: str  # the instant the document is assembled
    locale: str = "en"
    supporting: list[dict[str, Any]] = field(default_factory=list)  # e.g. the Medication a statement names


def platform_organization() -> dict[str, Any]:
    """The Organization that authors summaries when the patient has no managing organisation in reach."""
    return {"resourceType": "Organization", "active": True, "name": PLATFORM_NAME}


def record_date(resource: dict[str, Any]) -> str:
    """The clinically relevant date of a record (when it was observed, given, done or recorded), or ''."""
    for key in _DATE_KEYS:
        value = resource.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and isinstance(value.get("start"), str):
            return value["start"]
    return ""


def _code_key(resource: dict[str, Any]) -> str:
    code = resource.get("code") or {}
    for coding in code.get("coding") or ():
        if isinstance(coding, dict) and coding.get("code"):
            return f"{coding.get('system', '')}|{coding['code']}"
    return f"text:{code.get('text', '')}" if code.get("text") else f"id:{resource.get('id')}"


def _excluded(resource: dict[str, Any], exclude: tuple[tuple[str, frozenset[str]], ...]) -> bool:
    for element, codes in exclude:
        value = resource.get(element)
        found = {value} if isinstance(value, str) else {
            c.get("code") for c in (value or {}).get("coding") or () if isinstance(c, dict)}
        if found & codes:
            return True
    return False


def select_entries(resources: list[dict[str, Any]], fill: Fill, today: date) -> list[dict[str, Any]]:
    """The records of one fill search the section keeps (exclusions out, newest first)."""
    kept = [r for r in resources if not _excluded(r, fill.exclude)]
    kept.sort(key=lambda r: (record_date(r), str(r.get("id", ""))), reverse=True)
    if fill.keep == "all":
        return kept
    latest: dict[str, dict[str, Any]] = {}
    for resource in kept:
        latest.setdefault(_code_key(resource), resource)
    if fill.keep == "latest_per_code":
        chosen = {id(r) for r in latest.values()}
    else:
        since = (today - relativedelta(months=fill.months or 0)).isoformat()
        chosen = {id(r) for r in kept if record_date(r)[:10] >= since} | {id(r) for r in latest.values()}
    return [r for r in kept if id(r) in chosen]


def _key(resource: dict[str, Any], fallback: str) -> tuple[str, str]:
    return str(resource.get("resourceType")), str(resource.get("id") or fallback)


class _Assembly:
    """The entries of one document: each resource once, under a fresh urn:uuid fullUrl."""

    def __init__(self, new_uuid: Callable[[], str]):
        self.new_uuid = new_uuid
        self.urls: dict[tuple[str, str], str] = {}
        self.resources: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, resource: dict[str, Any], fallback: str = "") -> str:
        key = _key(resource, fallback or self.new_uuid())
        if key not in self.urls:
            self.urls[key] = f"urn:uuid:{self.new_uuid()}"
            self.resources[key] = resource
        return self.urls[key]

    def _point(self, ref: dict[str, Any]) -> dict[str, Any] | None:
        """A reference to an included record points at its fullUrl; any other becomes display text only."""
        target = ref["reference"]
        if target.startswith("#"):
            return None
        key = type_and_id(target)
        if key is not None and key in self.urls:
            shown = ref.get("display") or describe(self.resources[key])
            return {**{k: v for k, v in ref.items() if k != "reference"}, "reference": self.urls[key], "display": shown}
        shown = ref.get("display") or f"{key[0] if key else 'Record'} not included in this summary"
        return {k: v for k, v in {"type": ref.get("type"), "display": shown}.items() if v}

    def entries(self) -> list[dict[str, Any]]:
        return [{"fullUrl": self.urls[key], "resource": rewrite_references(resource, self._point)}
                for key, resource in self.resources.items()]


def _section(cat: Catalogue, key: str, urls: list[str], lines: list[str], locale: str) -> dict[str, Any]:
    section = next(s for s in cat.sections if s.key == key)
    out: dict[str, Any] = {
        "title": section.title(locale),
        "code": {"coding": [{"system": LOINC, "code": section.loinc, "display": section.display}]},
    }
    if urls:
        out["text"] = {"status": "generated", "div": list_div(lines, locale)}
        out["entry"] = [{"reference": u} for u in urls]
    else:
        out["text"] = {"status": "generated", "div": paragraph_div(cat.empty_text(locale), locale)}
        out["emptyReason"] = {"coding": [{"system": cat.empty_system, "code": cat.empty_code,
                                          "display": cat.empty_display}], "text": cat.empty_text(locale)}
    return out


def build_document(inp: SummaryInput, *, new_uuid: Callable[[], str] = lambda: str(uuid.uuid4())) -> dict[str, Any]:
    """The IPS document Bundle: Composition first, then the patient, the author and every record, each once.

    Required sections without records carry emptyReason 'unavailable' and a 'No information' narrative;
    optional sections without records are left out. References to records outside the Bundle keep only
    their display text, so the document stands on its own.
    """
    cat = catalogue()
    doc = _Assembly(new_uuid)
    patient_url = doc.add(inp.patient)
    author_url = doc.add(inp.author)
    section_urls: dict[str, list[str]] = {}
    for section in cat.sections:
        urls = [doc.add(r) for r in inp.sections.get(section.key, [])]
        section_urls[section.key] = list(dict.fromkeys(urls))
    for resource in inp.supporting:
        doc.add(resource)
    entries = doc.entries()
    described = {e["fullUrl"]: describe(e["resource"]) for e in entries}
    sections = [
        _section(cat, s.key, section_urls[s.key], [described[u] for u in section_urls[s.key]], inp.locale)
        for s in cat.sections if s.required or section_urls[s.key]
    ]
    composition_id = new_uuid()
    composition = {
        "resourceType": "Composition",
        "id": composition_id,
        "language": "zh-CN" if inp.locale.startswith("zh") else "en",
        "text": {"status": "generated", "div": paragraph_div(describe(inp.patient), inp.locale, cat.document_title)},
        "identifier": {"system": IDENTIFIER_SYSTEM, "value": f"urn:uuid:{composition_id}"},
        "status": "final",
        "type": {"coding": [{"system": LOINC, "code": cat.document_loinc, "display": cat.document_display}]},
        "subject": {"reference": patient_url, "display": describe(inp.patient)},
        "date": inp.now,
        "author": [{"reference": author_url, "display": describe(inp.author)}],
        "title": cat.document_title,
        "custodian": {"reference": author_url},
        "section": sections,
    }
    return {
        "resourceType": "Bundle",
        "language": composition["language"],
        "identifier": {"system": IDENTIFIER_SYSTEM, "value": f"urn:uuid:{new_uuid()}"},
        "type": "document",
        "timestamp": inp.now,
        "entry": [{"fullUrl": f"urn:uuid:{composition_id}", "resource": composition}, *entries],
    }
