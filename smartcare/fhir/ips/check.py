"""A structural check of an International Patient Summary document Bundle; returns the issues it finds.

The rules are those of the IPS IG's Bundle (IPS) and Composition (IPS) profiles that can be checked
without terminology: a document Bundle with identifier and timestamp, a Composition of type LOINC
60591-5 first, the required sections present, each section with text and with entries or an
emptyReason (never both), and every reference resolving to an entry of the Bundle.
"""

import re
from typing import Any

from smartcare.fhir.ips.references import Resolver, is_full_url, walk_references
from smartcare.fhir.ips.sections import LOINC, catalogue

_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
# Enough issues to see what is wrong; a hostile Bundle must not make the answer as large as itself.
MAX_ISSUES = 100


def _issue(code: str, expression: str, text: str, severity: str = "error") -> dict[str, Any]:
    return {"severity": severity, "code": code, "diagnostics": f"{expression}: {text}", "expression": [expression]}


def _codes(concept: Any) -> set[tuple[str, str]]:
    if not isinstance(concept, dict):
        return set()
    return {(str(c.get("system")), str(c.get("code"))) for c in concept.get("coding") or () if isinstance(c, dict)}


def _check_bundle(bundle: dict[str, Any], issues: list[dict[str, Any]]) -> list[Any]:
    if bundle.get("type") != "document":
        issues.append(_issue("value", "Bundle.type", f"must be 'document', not {str(bundle.get('type'))[:40]!r}"))
    ident = bundle.get("identifier")
    if not isinstance(ident, dict) or not ident.get("system") or not ident.get("value"):
        issues.append(_issue("required", "Bundle.identifier", "a document needs an identifier with system and value"))
    if not (isinstance(bundle.get("timestamp"), str) and _INSTANT.match(bundle["timestamp"])):
        issues.append(_issue("required", "Bundle.timestamp", "a document needs a timestamp (an instant)"))
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        issues.append(_issue("required", "Bundle.entry", "a document holds at least the Composition"))
        return []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"Bundle.entry[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            issues.append(_issue("structure", where, "every entry holds a resource"))
            continue
        url = entry.get("fullUrl")
        if not is_full_url(url):
            issues.append(_issue("value", f"{where}.fullUrl", "must be a urn:uuid, a urn:oid or an absolute URL"))
        elif url in seen:
            issues.append(_issue("duplicate", f"{where}.fullUrl", f"{url[:100]} appears more than once"))
        else:
            seen.add(url)
    return entries


def _check_sections(composition: dict[str, Any], resolver: Resolver, entries: list[Any], own_url: Any,
                    issues: list[dict[str, Any]]) -> None:
    by_code = catalogue().by_code()
    present: set[str] = set()
    sections = composition.get("section")
    if not isinstance(sections, list) or not sections:
        issues.append(_issue("required", "Composition.section", "an IPS has at least its required sections"))
        sections = []
    for i, section in enumerate(sections):
        where = f"Composition.section[{i}]"
        if not isinstance(section, dict):
            issues.append(_issue("structure", where, "a section is an object"))
            continue
        codes = {code for system, code in _codes(section.get("code")) if system == LOINC}
        known = next((by_code[c] for c in codes if c in by_code), None)
        if not codes:
            issues.append(_issue("required", f"{where}.code", "a section is coded with LOINC"))
        if known is not None:
            present.add(known.key)
        if not isinstance(section.get("text"), dict) or not section["text"].get("div"):
            issues.append(_issue("required", f"{where}.text", "every IPS section has a narrative"))
        refs = section.get("entry") or []
        if refs and section.get("emptyReason"):
            issues.append(_issue("invariant", f"{where}.emptyReason", "only an empty section has an emptyReason"))
        if not refs and known is not None and known.required and not section.get("emptyReason"):
            issues.append(_issue("invariant", where, f"the required {known.title_en} section needs entries or an emptyReason"))
        for j, ref in enumerate(refs if isinstance(refs, list) else []):
            target = resolver.resolve(ref.get("reference", ""), own_url) if isinstance(ref, dict) else None
            if target is None:
                continue  # reported with every other unresolved reference
            kind = entries[target]["resource"].get("resourceType")
            if known is not None and kind not in known.entry_types:
                issues.append(_issue("value", f"{where}.entry[{j}]", f"a {known.title_en} section does not list {kind}"))
    for section in catalogue().sections:
        if section.required and section.key not in present:
            issues.append(_issue("required", "Composition.section",
                                 f"the required {section.title_en} section (LOINC {section.loinc}) is missing"))


def _check_composition(entries: list[Any], resolver: Resolver, issues: list[dict[str, Any]]) -> None:
    first = entries[0].get("resource") if isinstance(entries[0], dict) else None
    if not isinstance(first, dict) or first.get("resourceType") != "Composition":
        issues.append(_issue("structure", "Bundle.entry[0]", "the first entry of a document is its Composition"))
        return
    own = entries[0].get("fullUrl")
    loinc = catalogue().document_loinc
    if (LOINC, loinc) not in _codes(first.get("type")):
        issues.append(_issue("value", "Composition.type", f"an IPS is of type LOINC {loinc} (Patient summary Document)"))
    for name in ("status", "date", "title"):
        if not first.get(name):
            issues.append(_issue("required", f"Composition.{name}", f"{name} is required"))
    subject = first.get("subject")
    target = resolver.resolve(subject.get("reference", ""), own) if isinstance(subject, dict) else None
    if target is None or entries[target]["resource"].get("resourceType") != "Patient":
        issues.append(_issue("required", "Composition.subject", "must refer to the Patient entry of the Bundle"))
    if not isinstance(first.get("author"), list) or not first["author"]:
        issues.append(_issue("required", "Composition.author", "an IPS names who or what authored it"))
    _check_sections(first, resolver, entries, own, issues)


def check_document(bundle: Any) -> list[dict[str, Any]]:
    """The problems of an IPS document Bundle, as OperationOutcome issues (empty when it conforms)."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return [_issue("structure", "Bundle", "an IPS is a Bundle resource")]
    issues: list[dict[str, Any]] = []
    entries = _check_bundle(bundle, issues)
    if not entries:
        return issues[:MAX_ISSUES]
    usable = [e if isinstance(e, dict) and isinstance(e.get("resource"), dict) else {"resource": {}} for e in entries]
    resolver = Resolver(usable)
    _check_composition(usable, resolver, issues)
    patients = [i for i, e in enumerate(usable) if e["resource"].get("resourceType") == "Patient"]
    if len(patients) != 1:
        issues.append(_issue("invariant", "Bundle.entry", f"an IPS holds exactly one Patient, not {len(patients)}"))
    for i, entry in enumerate(usable):
        for path, ref in walk_references(entry["resource"]):
            if ref["reference"].startswith("#"):
                continue
            if resolver.resolve(ref["reference"], entry.get("fullUrl")) is None:
                issues.append(_issue("not-found", f"Bundle.entry[{i}].resource.{path}",
                                     f"{ref['reference'][:100]!r} does not resolve to an entry of the Bundle"))
            if len(issues) >= MAX_ISSUES:
                return issues
    return issues[:MAX_ISSUES]
