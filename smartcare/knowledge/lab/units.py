"""UCUM unit conversion: within a kind (mass, substance, count ...) by factor, mass <-> substance by molar mass."""

import re
from functools import lru_cache
from typing import Any

from smartcare.knowledge.lab.data import read
from smartcare.knowledge.lab.model import LabKnowledgeError
from smartcare.knowledge.lab.ranges import finite

MAX_UNIT = 40
_ANNOTATION = re.compile(r"\{[^{}]*\}")
_MASS, _SUBSTANCE = "mass-concentration", "substance-concentration"


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, tuple[str, float]], dict[str, str], dict[str, dict[str, Any]], list[dict[str, Any]]]:
    data = read("conversions.yaml")
    units = {}
    for code, row in data["units"].items():
        if not row.get("source") or not isinstance(row.get("factor"), int | float) or row["factor"] <= 0:
            raise LabKnowledgeError(f"conversions.yaml unit {code}: needs kind, a positive factor and a source")
        units[str(code)] = (str(row["kind"]), float(row["factor"]))
    molar = {}
    for row in data["molar_mass"]:
        if not row.get("source") or not row.get("g_per_mol", 0) > 0:
            raise LabKnowledgeError(f"conversions.yaml molar mass {row.get('loinc')}: needs g_per_mol and a source")
        molar[str(row["loinc"])] = row
    for row in data["affine"]:
        if not row.get("source") or not {"loinc", "from", "to", "slope", "intercept"} <= row.keys():
            raise LabKnowledgeError(f"conversions.yaml affine {row.get('loinc')}: incomplete")
    aliases = {str(written).casefold(): str(code) for written, code in data["aliases"].items()}
    unknown = sorted(code for code in aliases.values() if (_ANNOTATION.sub("", code).rstrip("/") or "1") not in units)
    if unknown:
        raise LabKnowledgeError(f"conversions.yaml aliases point at unknown units {unknown}")
    return units, aliases, molar, data["affine"]


def ucum(unit: str) -> str:
    """The UCUM code for a unit as written (accepts common display forms such as 'µmol/L' or 'mg/dl')."""
    if not isinstance(unit, str) or not unit.strip() or len(unit) > MAX_UNIT:
        raise ValueError("unit must be non-empty text of at most 40 characters")
    units, aliases, _, _ = _tables()
    text = unit.strip()
    return text if text in units else aliases.get(text.casefold(), text)


def _split(unit: str) -> tuple[str, tuple[str, ...]]:
    code = ucum(unit)
    notes = tuple(sorted(_ANNOTATION.findall(code)))
    bare = _ANNOTATION.sub("", code).rstrip("/") or "1"
    if bare not in _tables()[0]:
        raise ValueError(f"unknown unit {unit!r}")
    return bare, notes


def convert(value: float, from_unit: str, to_unit: str, *, loinc: str | None = None) -> float:
    """The value in another unit; molar <-> mass needs the analyte's LOINC code. ValueError when impossible."""
    value = finite(value)
    units, _, molar, affine = _tables()
    source, target = ucum(from_unit), ucum(to_unit)
    for row in affine:
        if row["loinc"] == loinc and (ucum(row["from"]), ucum(row["to"])) == (source, target):
            return value * row["slope"] + row["intercept"]
        if row["loinc"] == loinc and (ucum(row["to"]), ucum(row["from"])) == (source, target):
            return (value - row["intercept"]) / row["slope"]
    (source_bare, source_notes), (target_bare, target_notes) = _split(source), _split(target)
    if source_notes != target_notes:
        raise ValueError(f"cannot convert {from_unit!r} to {to_unit!r}: different annotations")
    (source_kind, source_factor), (target_kind, target_factor) = units[source_bare], units[target_bare]
    base = value * source_factor
    if source_kind != target_kind:
        kinds = {source_kind, target_kind}
        if kinds != {_MASS, _SUBSTANCE}:
            raise ValueError(f"cannot convert {from_unit!r} ({source_kind}) to {to_unit!r} ({target_kind})")
        if loinc is None or loinc not in molar:
            raise ValueError(f"converting {from_unit!r} to {to_unit!r} needs a LOINC code with a known molar mass")
        grams_per_mole = float(molar[loinc]["g_per_mol"])
        base = base * grams_per_mole if source_kind == _SUBSTANCE else base / grams_per_mole
    return base / target_factor
