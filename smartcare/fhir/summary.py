"""_summary and _elements: return only part of a resource, marked SUBSETTED as FHIR requires."""

import json
from functools import cache
from pathlib import Path
from typing import Any

from smartcare.fhir.errors import BadRequest

DATA_FILE = Path(__file__).resolve().parent / "data" / "summary_elements.json"
_ALWAYS = frozenset({"resourceType", "id", "meta"})
_SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}


@cache
def _table() -> dict[str, dict[str, frozenset[str]]]:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))["types"]
    return {t: {k: frozenset(v) for k, v in row.items()} for t, row in data.items()}


def summary_elements(res_type: str, *, mandatory_only: bool = False) -> frozenset[str]:
    """Top-level element names of res_type that _summary=true keeps (or only the mandatory ones)."""
    row = _table().get(res_type, {})
    return row.get("mandatory" if mandatory_only else "summary", frozenset())


def _kept(key: str, names: frozenset[str] | set[str]) -> bool:
    if key in names:
        return True
    # Choice elements are named without their type suffix: 'deceased' keeps 'deceasedBoolean'.
    return any(key.startswith(n) and len(key) > len(n) and key[len(n)].isupper() for n in names)


def _mark_subsetted(resource: dict[str, Any]) -> dict[str, Any]:
    meta = dict(resource.get("meta") or {})
    tags = [t for t in meta.get("tag", []) if t.get("code") != "SUBSETTED"]
    meta["tag"] = [*tags, _SUBSETTED]
    resource["meta"] = meta
    return resource


def shape_resource(resource: dict[str, Any] | None, *, summary: str | None, elements: str | list[str] | None) -> Any:
    """The resource cut down to _summary (true, text, data) or _elements (a list of element names)."""
    if resource is None or (summary in (None, "false") and not elements):
        return resource
    if summary not in (None, "false", "true", "text", "data", "count"):
        raise BadRequest("_summary must be one of true, false, text, data, count")
    res_type = resource.get("resourceType", "")
    if summary == "data":
        return _mark_subsetted({k: v for k, v in resource.items() if k != "text"})
    mandatory = summary_elements(res_type, mandatory_only=True) | _ALWAYS
    if summary == "text":
        keep = mandatory | {"text"}
    elif summary == "true":
        keep = (summary_elements(res_type) | _ALWAYS) - {"text"}
    else:
        names = elements.split(",") if isinstance(elements, str) else list(elements or [])
        keep = mandatory | {n.strip().split(".")[-1] for n in names if n.strip()}
    return _mark_subsetted({k: v for k, v in resource.items() if _kept(k, keep)})
