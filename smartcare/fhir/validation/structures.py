"""The R4 structure definitions, loaded once from data/structures.json and compiled for fast lookups."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from smartcare.fhir.validation.primitives import PrimitiveCheck, ReferenceFormat, primitive_checks

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "structures.json"

# How an element's value is checked.
PRIMITIVE = 0
COMPLEX = 1
RESOURCE = 2
REFERENCE = 3


@dataclass(slots=True, eq=False)
class Element:
    """One JSON property of a structure: cardinality, how to check its value, codes and targets."""

    name: str
    type_name: str
    many: bool
    kind: int
    check: PrimitiveCheck | None = None
    structure: "Structure | None" = None
    codes: frozenset[str] | None = None
    value_set: str | None = None
    targets: frozenset[str] | None = None
    group: str | None = None


@dataclass(slots=True, eq=False)
class Structure:
    """A resource, complex datatype or backbone element: its elements by JSON name and what it requires."""

    name: str
    is_resource: bool = False
    elements: dict[str, Element] = field(default_factory=dict)
    # Each entry: (label for messages, JSON names any one of which satisfies it, with `_name` variants).
    required: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # JSON name -> choice group ("valueString" -> "value"); None when the structure has no [x] element.
    groups: dict[str, str] | None = None
    # JSON name -> the function that checks that property, filled in by the validator.
    handlers: dict[str, Callable[..., None]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Schema:
    """Everything the validator needs, compiled from the data file."""

    structures: dict[str, Structure]
    resources: dict[str, Structure]
    resource_types: frozenset[str]
    element_structure: Structure
    references: ReferenceFormat


@cache
def schema() -> Schema:
    """Load and compile the R4 structures (once per process)."""
    data = orjson.loads(DATA_FILE.read_bytes())
    resource_types = frozenset(data["r"])
    checks = primitive_checks(data["p"])
    value_sets = {key: frozenset(codes) for key, codes in data["v"].items()}
    structures = {name: Structure(name, is_resource=name in resource_types) for name in data["t"]}
    for name, raw_elements in data["t"].items():
        _compile(structures[name], raw_elements, structures, checks, value_sets)
    return Schema(
        structures=structures,
        resources={name: structures[name] for name in resource_types},
        resource_types=resource_types,
        element_structure=structures["Element"],
        references=ReferenceFormat(resource_types, data["p"]),
    )


def _compile(
    structure: Structure,
    raw_elements: dict[str, Any],
    structures: dict[str, Structure],
    checks: dict[str, PrimitiveCheck],
    value_sets: dict[str, frozenset[str]],
) -> None:
    required: dict[str, list[str]] = {}
    for json_name, raw in raw_elements.items():
        spec = {"t": raw} if isinstance(raw, str) else raw
        type_name = spec["t"]
        element = Element(name=json_name, type_name=type_name, many=spec.get("m") == "*", kind=COMPLEX)
        if type_name in checks:
            element.kind = PRIMITIVE
            element.check = checks[type_name]
        elif type_name == "Resource":
            element.kind = RESOURCE
        else:
            element.kind = REFERENCE if type_name == "Reference" else COMPLEX
            element.structure = structures[type_name]
        if "v" in spec:
            element.value_set = spec["v"]
            element.codes = value_sets[spec["v"]]
        if "r" in spec:
            element.targets = frozenset(spec["r"])
        element.group = spec.get("c")
        structure.elements[json_name] = element
        if spec.get("n", 0) > 0:
            label = f"{element.group}[x]" if element.group else json_name
            names = required.setdefault(label, [])
            names.append(json_name)
            if element.kind == PRIMITIVE:
                # A primitive given only by its extensions (`_name`) is present.
                names.append("_" + json_name)
    groups = {name: el.group for name, el in structure.elements.items() if el.group is not None}
    structure.groups = groups or None
    structure.required = tuple((label, tuple(names)) for label, names in required.items())


_PLAIN_PATH = re.compile(r"[A-Z][A-Za-z]+(?:\.[a-z][A-Za-z]*)+")


@cache
def is_single_valued(path: str) -> bool:
    """True when a plain element path ('Observation.effective') can hold at most one value.

    Choice elements count as one ('effective' is effectiveDateTime or effectivePeriod ...).
    Anything that is not a plain path, or that the definitions do not know, is treated as
    repeating, which is always the safe answer.
    """
    if not _PLAIN_PATH.fullmatch(path):
        return False
    steps = path.split(".")
    structure = schema().structures.get(steps[0])
    for step in steps[1:]:
        if structure is None:
            return False
        matches = [e for e in structure.elements.values() if e.name == step or e.group == step]
        if not matches or any(e.many for e in matches):
            return False
        structure = matches[0].structure if len(matches) == 1 else None
    return True
