"""Data quality of what members send: completeness of key fields and validity of LOINC and ICD-10 codes.

Pure functions over FHIR resources. A field is scored only where it applies (a unit only for a quantity value);
a code counts as valid when it is in the project's own code lists: the laboratory's analytes and orderable tests,
the FHIR vital-signs codes (data/vital_signs_loinc.json) and the ICD-10 table of the knowledge base.
"""

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from smartcare.knowledge.diseases import icd10
from smartcare.knowledge.lab.data import analyte_table
from smartcare.knowledge.orders.catalogue import lab_panels, lab_tests

LOINC = "http://loinc.org"
ICD10_SYSTEMS = ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cn")
DATA = Path(__file__).parent / "data"
# The key fields scored per resource type.
KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "Patient": ("birthDate", "gender", "identifier"),
    "Observation": ("code", "value", "unit"),
    "Encounter": ("period", "class"),
}


@cache
def known_loinc() -> frozenset[str]:
    """Every LOINC code the project's code lists hold."""
    vitals = json.loads((DATA / "vital_signs_loinc.json").read_text(encoding="utf-8"))["codes"]
    codes = set(vitals) | set(analyte_table())
    codes |= {test.loinc for test in lab_tests()}
    codes |= {getattr(panel, "loinc", "") for panel in lab_panels()}
    return frozenset(c for c in codes if c)


def _codings(resource: dict[str, Any], element: str) -> list[dict[str, Any]]:
    concept = resource.get(element)
    return [c for c in (concept.get("coding") or []) if isinstance(c, dict)] if isinstance(concept, dict) else []


def _observation_fields(resource: dict[str, Any]) -> dict[str, bool | None]:
    value_keys = [k for k in resource if k.startswith("value")]
    quantity = resource.get("valueQuantity")
    components = resource.get("component") if isinstance(resource.get("component"), list) else []
    has_value = bool(value_keys) or any(any(k.startswith("value") for k in c) for c in components if isinstance(c, dict))
    if isinstance(quantity, dict):
        unit: bool | None = bool(quantity.get("unit") or quantity.get("code"))
    elif components:
        quantities = [c["valueQuantity"] for c in components if isinstance(c, dict) and isinstance(c.get("valueQuantity"), dict)]
        unit = all(q.get("unit") or q.get("code") for q in quantities) if quantities else None
    else:
        unit = None  # no quantity: a unit does not apply
    return {"code": bool(_codings(resource, "code")), "value": has_value, "unit": unit}


def missing_fields(resource: dict[str, Any]) -> list[str]:
    """The key fields this resource lacks (empty when complete, or when its type is not scored)."""
    return [name for name, present in field_presence(resource).items() if present is False]


def field_presence(resource: dict[str, Any]) -> dict[str, bool | None]:
    """For each key field of the resource's type: present, absent, or None where it does not apply."""
    kind = resource.get("resourceType")
    if kind == "Observation":
        return _observation_fields(resource)
    if kind == "Patient":
        return {"birthDate": bool(resource.get("birthDate")), "gender": bool(resource.get("gender")),
                "identifier": any(isinstance(i, dict) and i.get("value") for i in resource.get("identifier") or [])}
    if kind == "Encounter":
        period = resource.get("period")
        return {"period": isinstance(period, dict) and bool(period.get("start")),
                "class": isinstance(resource.get("class"), dict) and bool(resource["class"].get("code"))}
    return {}


def code_checks(resource: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(system name, code, valid) for each LOINC coding of an Observation and ICD-10 coding of a Condition."""
    kind = resource.get("resourceType")
    out: list[tuple[str, str, bool]] = []
    if kind == "Observation":
        for coding in _codings(resource, "code"):
            if coding.get("system") == LOINC and isinstance(coding.get("code"), str):
                out.append(("LOINC", coding["code"], coding["code"] in known_loinc()))
    elif kind == "Condition":
        for coding in _codings(resource, "code"):
            if coding.get("system") in ICD10_SYSTEMS and isinstance(coding.get("code"), str):
                out.append(("ICD-10", coding["code"], icd10.find(coding["code"]) is not None))
    return out


def unknown_codes(resource: dict[str, Any]) -> list[str]:
    """The LOINC or ICD-10 codes of this resource that are not in the project's code lists."""
    return [f"{system} {code}" for system, code, valid in code_checks(resource) if not valid]


def scores(resources: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Completeness per type and field (share present, where it applies) and code validity, over resources."""
    present: dict[tuple[str, str], list[int]] = {}
    codes = {"LOINC": [0, 0], "ICD-10": [0, 0]}
    counted: dict[str, int] = {}
    for resource in resources:
        kind = str(resource.get("resourceType"))
        fields = field_presence(resource)
        if fields:
            counted[kind] = counted.get(kind, 0) + 1
        for name, value in fields.items():
            if value is None:
                continue
            tally = present.setdefault((kind, name), [0, 0])
            tally[0] += int(value)
            tally[1] += 1
        for system, _code, valid in code_checks(resource):
            codes[system][0] += int(valid)
            codes[system][1] += 1
    completeness = [
        {"type": kind, "field": name, "present": got, "total": total, "share": got / total}
        for kind, names in KEY_FIELDS.items() for name in names
        if (tally := present.get((kind, name))) and (got := tally[0]) is not None and (total := tally[1])
    ]
    validity = [{"system": system, "valid": got, "total": total, "share": got / total}
                for system, (got, total) in codes.items() if total]
    shares = [c["share"] for c in completeness]
    return {"completeness": completeness, "validity": validity, "counted": counted,
            "overall": sum(shares) / len(shares) if shares else None}
