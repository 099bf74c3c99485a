"""Information-sensitivity labels on records, so residents can withhold a category from other institutions.

When the store writes a resource, `label` adds to its `meta.security` the HL7 v3 ActCode sensitivity codes its own
codes call for (data/sensitivity.yaml: ICD-10 ranges, ATC classes, LOINC codes, each with its source): a depression
diagnosis is PSY, an HIV viral load HIV, an antiretroviral prescription HIV. Labels a sender gave are kept; none is
ever removed by the platform. The access policy (fhir/access.py) reads the labels through the `_security` search
index, so a resident's "withhold mental health" choice is applied in SQL like every other rule.

Only the codes a record is about count (Condition.code, Observation.code, a medication's code, a report's or
procedure's code, an encounter's reasons), not free text: a machine cannot read notes reliably, and a label wrongly
missing is why the categories are also offered to residents as a list of what was found.
"""

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA_FILE = Path(__file__).resolve().parent / "data" / "sensitivity.yaml"

# Where each labelled type keeps the codes it is about (CodeableConcepts or lists of them).
CODED_ELEMENTS: dict[str, tuple[str, ...]] = {
    "Condition": ("code",),
    "Observation": ("code",),
    "DiagnosticReport": ("code", "conclusionCode"),
    "Procedure": ("code", "reasonCode"),
    "Encounter": ("reasonCode", "diagnosis"),
    "MedicationRequest": ("medicationCodeableConcept", "reasonCode"),
    "MedicationStatement": ("medicationCodeableConcept", "reasonCode"),
    "MedicationDispense": ("medicationCodeableConcept",),
    "MedicationAdministration": ("medicationCodeableConcept", "reasonCode"),
    "ServiceRequest": ("code", "reasonCode"),
    "CarePlan": ("category",),
    "EpisodeOfCare": ("type",),
}


@cache
def _rules() -> dict[str, Any]:
    return yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))


def label_system() -> str:
    """The code system of the labels (HL7 v3 ActCode)."""
    return str(_rules()["system"])


def categories() -> dict[str, tuple[str, ...]]:
    """What a resident may withhold: category name -> the labels it covers."""
    return {name: tuple(codes) for name, codes in _rules()["categories"].items()}


def labels_of(category_names: list[str] | tuple[str, ...]) -> list[str]:
    """The labels the named categories cover, in a stable order; unknown names raise ValueError."""
    known = categories()
    out: list[str] = []
    for name in category_names:
        if name not in known:
            raise ValueError(f"Unknown sensitive category '{name}'")
        out.extend(code for code in known[name] if code not in out)
    return out


def _plain(code: str) -> str:
    return code.replace(".", "").strip().upper()


def _in_ranges(code: str, ranges: list[list[str]]) -> bool:
    plain = _plain(code)
    for low, high in ranges:
        low, high = _plain(low), _plain(high)
        prefix = plain[: len(low)]
        if len(prefix) == len(low) and low <= prefix <= high[: len(low)]:
            return True
    return False


def _codings(resource: dict, elements: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    for element in elements:
        value = resource.get(element)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, dict):
                continue
            concept = item.get("condition") if element == "diagnosis" else item  # Encounter.diagnosis is a Reference
            for coding in (concept or {}).get("coding") or ():
                if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                    yield str(coding.get("system") or ""), coding["code"]


def labels_for(resource: dict) -> list[str]:
    """The sensitivity labels a resource's codes call for (no others; empty for types not labelled)."""
    elements = CODED_ELEMENTS.get(str(resource.get("resourceType")))
    if not elements:
        return []
    found: list[str] = []
    for system, code in _codings(resource, elements):
        for label, rule in _rules()["labels"].items():
            if label in found:
                continue
            if "icd-10" in system and _in_ranges(code, rule.get("icd10") or []):
                found.append(label)
            elif system == "http://www.whocc.no/atc" and any(code.upper().startswith(p) for p in rule.get("atc") or ()):
                found.append(label)
            elif system == "http://loinc.org" and code in (rule.get("loinc") or ()):
                found.append(label)
    return found


def label(resource: dict) -> None:
    """Add to resource['meta']['security'] the labels its codes call for (meta must be a dict already)."""
    wanted = labels_for(resource)
    if not wanted:
        return
    meta = resource["meta"]
    system = label_system()
    security = [s for s in meta.get("security") or () if isinstance(s, dict)]
    have = {(s.get("system"), s.get("code")) for s in security}
    for code in wanted:
        if (system, code) not in have:
            security.append({"system": system, "code": code})
    meta["security"] = security
