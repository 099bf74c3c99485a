"""Structural validation of FHIR R4 resources in JSON form, run on every write to the store."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from smartcare.fhir.validation.primitives import STRING_MAX, Problem, json_kind
from smartcare.fhir.validation.structures import (
    COMPLEX,
    PRIMITIVE,
    REFERENCE,
    Element,
    Schema,
    Structure,
    schema,
)

# Real resources nest about 15 objects deep; this bounds the recursion (and the work) for hostile input.
MAX_DEPTH = 100
_CONDITIONAL_BUNDLES = ("transaction", "batch")


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One problem found in a resource, shaped like an OperationOutcome.issue."""

    severity: str  # "error" | "warning"
    code: str  # FHIR issue-type code: structure, required, value, invalid, code-invalid, too-long
    expression: str  # FHIRPath-like location, e.g. "Patient.name[0].given[1]"
    diagnostics: str  # plain-English message naming the element and what is wrong


class _Run:
    """State of one validate_resource call."""

    __slots__ = ("schema", "issues", "conditional_ok")

    def __init__(self, compiled: Schema) -> None:
        self.schema = compiled
        self.issues: list[ValidationIssue] = []
        # Conditional references (Type?search) are only meaningful inside transaction and batch bundles.
        self.conditional_ok = False

    def add(self, code: str, expression: str, text: str, severity: str = "error") -> None:
        self.issues.append(ValidationIssue(severity, code, expression, f"{expression}: {text}"))

    def add_problem(self, expression: str, problem: Problem) -> None:
        code, severity, text = problem
        self.add(code, expression, text, severity)


# Checks one property: (object, property name, value, path of the object, run, depth of the object).
Handler = Callable[[dict[str, Any], str, Any, str, _Run, int], None]


def validate_resource(resource: object) -> list[ValidationIssue]:
    """Check a parsed JSON value against the FHIR R4 structure definitions; return the issues found."""
    run = _Run(_prepared())
    _check_resource(resource, "", run, 0)
    return run.issues


def known_resource_types() -> frozenset[str]:
    """Return the names of all concrete FHIR R4 resource types."""
    return _prepared().resource_types


@cache
def _prepared() -> Schema:
    """The schema with one handler per element, so the walk does a single dict lookup per property."""
    compiled = schema()
    for structure in compiled.structures.values():
        structure.handlers = {name: _handler(element) for name, element in structure.elements.items()}
    return compiled


def _check_resource(value: object, path: str, run: _Run, depth: int) -> None:
    label = path or "Resource"
    if not isinstance(value, dict):
        run.add("structure", label, f"a resource must be a JSON object, not {json_kind(value)}")
        return
    resource_type = value.get("resourceType")
    if resource_type is None:
        run.add("required", f"{label}.resourceType", "resourceType is missing")
        return
    structure = run.schema.resources.get(resource_type) if type(resource_type) is str else None
    if structure is None:
        shown = repr(resource_type[:70]) if type(resource_type) is str else json_kind(resource_type)
        run.add("invalid", f"{label}.resourceType", f"{shown} is not a FHIR R4 resource type")
        return
    outer = run.conditional_ok
    if resource_type == "Bundle":
        run.conditional_ok = value.get("type") in _CONDITIONAL_BUNDLES
    _walk(value, structure, path or resource_type, run, depth)
    run.conditional_ok = outer


def _walk(obj: dict[str, Any], structure: Structure, path: str, run: _Run, depth: int) -> None:
    """Check every property of one JSON object against its structure, then the required elements."""
    if depth > MAX_DEPTH:
        run.add("too-long", path, f"nesting deeper than {MAX_DEPTH} levels is not accepted")
        return
    if not obj:
        run.add("structure", path, "empty objects are not allowed in FHIR JSON")
        return
    handlers = structure.handlers
    groups = structure.groups
    chosen: dict[str, str] | None = None
    for key, value in obj.items():
        handler = handlers.get(key)
        if handler is None:
            _check_other_key(obj, key, value, structure, path, run, depth)
            continue
        handler(obj, key, value, path, run, depth)
        if groups is not None and key in groups:
            group = groups[key]
            if chosen is None:
                chosen = {group: key}
            elif group in chosen:
                text = f"only one of {group}[x] may be present, but {chosen[group]} is present too"
                run.add("structure", f"{path}.{key}", text)
            else:
                chosen[group] = key
    for label, names in structure.required:
        for name in names:
            if name in obj:
                break
        else:
            run.add("required", f"{path}.{label}", f"{label} is required in {structure.name} but missing")


def _handler(element: Element) -> Handler:
    """Build the function that checks one element's JSON value."""
    if element.kind == PRIMITIVE:
        return _primitive_array_handler(element) if element.many else _primitive_handler(element)
    if element.many:
        return _object_array_handler(element)
    return _object_handler(element)


# Families of primitive types whose usual values the handlers accept inline, saving a call per value.
_STRING_TYPES = frozenset({"string", "markdown"})
_TOKEN_TYPES = frozenset({"uri", "url", "canonical", "code"})


def _primitive_handler(element: Element) -> Handler:
    check = element.check
    codes = element.codes
    is_string = element.type_name in _STRING_TYPES
    is_token = element.type_name in _TOKEN_TYPES
    is_boolean = element.type_name == "boolean"
    assert check is not None

    def handle(obj: dict[str, Any], key: str, value: Any, path: str, run: _Run, depth: int) -> None:
        if type(value) is str:
            if codes is not None:
                if value in codes:
                    return
            elif is_string:
                if value and len(value) <= STRING_MAX and value.isprintable() and not value.isspace():
                    return
            elif is_token and value and value.isprintable() and " " not in value:
                return
        elif is_boolean and (value is True or value is False):
            return
        problem = check(value)
        if problem is not None:
            if type(value) is list:
                run.add("structure", f"{path}.{key}", "must be a single value, not an array")
            else:
                run.add_problem(f"{path}.{key}", problem)
        elif codes is not None:
            _add_bad_code(run, f"{path}.{key}", value, element)

    return handle


def _primitive_array_handler(element: Element) -> Handler:
    check = element.check
    codes = element.codes
    is_string = element.type_name in _STRING_TYPES
    assert check is not None

    def handle(obj: dict[str, Any], key: str, value: Any, path: str, run: _Run, depth: int) -> None:
        if type(value) is not list or not value:
            _add_not_array(run, f"{path}.{key}", value)
            return
        for i, item in enumerate(value):
            if is_string and type(item) is str and item and len(item) <= STRING_MAX and item.isprintable():
                if not item.isspace():
                    continue
            if item is None:
                # FHIR JSON: a null keeps positions aligned with `_key`, which must then carry that entry.
                extensions = obj.get("_" + key)
                if not (type(extensions) is list and i < len(extensions) and extensions[i] is not None):
                    run.add(
                        "structure", f"{path}.{key}[{i}]", f"null is only allowed when _{key}[{i}] is present"
                    )
                continue
            problem = check(item)
            if problem is not None:
                run.add_problem(f"{path}.{key}[{i}]", problem)
            elif codes is not None and item not in codes:
                _add_bad_code(run, f"{path}.{key}[{i}]", item, element)

    return handle


def _object_handler(element: Element) -> Handler:
    # None only for nested resources, which are checked by their own resourceType instead.
    structure = cast(Structure, element.structure)
    kind = element.kind
    targets = element.targets

    def handle(obj: dict[str, Any], key: str, value: Any, path: str, run: _Run, depth: int) -> None:
        if isinstance(value, dict):
            if kind == COMPLEX:
                _walk(value, structure, f"{path}.{key}", run, depth + 1)
            elif kind == REFERENCE:
                _walk_reference(value, structure, targets, f"{path}.{key}", run, depth + 1)
            else:
                _check_resource(value, f"{path}.{key}", run, depth + 1)
        elif type(value) is list:
            run.add("structure", f"{path}.{key}", "must be a single value, not an array")
        else:
            _add_not_object(run, f"{path}.{key}", value, element)

    return handle


def _object_array_handler(element: Element) -> Handler:
    # None only for nested resources, which are checked by their own resourceType instead.
    structure = cast(Structure, element.structure)
    kind = element.kind
    targets = element.targets

    def handle(obj: dict[str, Any], key: str, value: Any, path: str, run: _Run, depth: int) -> None:
        if type(value) is not list or not value:
            _add_not_array(run, f"{path}.{key}", value)
            return
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                _add_not_object(run, f"{path}.{key}[{i}]", item, element)
            elif kind == COMPLEX:
                _walk(item, structure, f"{path}.{key}[{i}]", run, depth + 1)
            elif kind == REFERENCE:
                _walk_reference(item, structure, targets, f"{path}.{key}[{i}]", run, depth + 1)
            else:
                _check_resource(item, f"{path}.{key}[{i}]", run, depth + 1)

    return handle


def _walk_reference(
    value: dict[str, Any],
    structure: Structure,
    targets: frozenset[str] | None,
    path: str,
    run: _Run,
    depth: int,
) -> None:
    _walk(value, structure, path, run, depth)
    ref = value.get("reference")
    if type(ref) is str and ref and not ref.isspace():
        _check_reference(ref, targets, path, run)


def _check_other_key(
    obj: dict[str, Any], key: object, value: object, structure: Structure, path: str, run: _Run, depth: int
) -> None:
    """Handle a property that is not an element: `_name` extension siblings, resourceType, or unknown."""
    if type(key) is not str:
        run.add("structure", path, f"property names must be strings, not {type(key).__name__}")
        return
    if key.startswith("_"):
        name = key[1:]
        element = structure.elements.get(name)
        if element is not None and element.kind == PRIMITIVE:
            _check_primitive_extensions(obj, name, value, element, path, run, depth)
            if element.group is not None and name not in obj and structure.groups is not None:
                # `_valueString` alone stands for valueString, so it counts as a choice too.
                rivals = [k for k in obj if k != name and structure.groups.get(k) == element.group]
                if rivals:
                    text = f"only one of {element.group}[x] may be present, but {rivals[0]} is present too"
                    run.add("structure", f"{path}.{key}", text)
            return
    elif key == "resourceType" and structure.is_resource:
        return
    run.add("structure", f"{path}.{key}", f"{key} is not a known element of {structure.name}")


def _check_primitive_extensions(
    obj: dict[str, Any], name: str, value: object, element: Element, path: str, run: _Run, depth: int
) -> None:
    """Check `_name`, which carries the id and extensions of primitive `name` (FHIR R4 JSON, section 2.6.2.3)."""
    element_structure = run.schema.element_structure
    where = f"{path}._{name}"
    if not element.many:
        if isinstance(value, dict):
            _walk(value, element_structure, f"{path}.{name}", run, depth + 1)
        else:
            run.add("structure", where, f"must be a JSON object, not {json_kind(value)}")
        return
    if type(value) is not list or not value:
        _add_not_array(run, where, value)
        return
    values = obj.get(name)
    if type(values) is list and len(values) != len(value):
        text = f"has {len(value)} entries for the {len(values)} values of {name}; they must align one to one"
        run.add("structure", where, text)
    for i, item in enumerate(value):
        if item is None:
            if not (type(values) is list and i < len(values) and values[i] is not None):
                run.add("structure", f"{where}[{i}]", f"null here needs a value in {name}[{i}]")
        elif isinstance(item, dict):
            _walk(item, element_structure, f"{path}.{name}[{i}]", run, depth + 1)
        else:
            run.add("structure", f"{where}[{i}]", f"must be a JSON object or null, not {json_kind(item)}")


def _check_reference(ref: str, targets: frozenset[str] | None, path: str, run: _Run) -> None:
    """Check the form of Reference.reference and that it names a resource type the element allows."""
    target, problem = run.schema.references.target_type(ref, run.conditional_ok)
    if problem is not None:
        run.add("value", f"{path}.reference", problem)
    elif target is not None and targets is not None and target not in targets:
        # A warning, not an error: three of HL7's own 72 R4 examples point at other types than allowed.
        allowed = ", ".join(sorted(targets))
        text = f"refers to a {target}, but the element only allows {allowed}"
        run.add("structure", f"{path}.reference", text, severity="warning")


def _add_not_array(run: _Run, expression: str, value: object) -> None:
    if type(value) is list:
        run.add("structure", expression, "empty arrays are not allowed in FHIR JSON")
    else:
        run.add("structure", expression, f"must be an array, not {json_kind(value)}")


def _add_not_object(run: _Run, expression: str, value: object, element: Element) -> None:
    run.add("structure", expression, f"must be a JSON object ({element.type_name}), not {json_kind(value)}")


def _add_bad_code(run: _Run, expression: str, value: object, element: Element) -> None:
    codes = element.codes or frozenset()
    listed = ", ".join(sorted(codes)) if len(codes) <= 12 else f"{len(codes)} codes"
    shown = repr(value[:70]) if isinstance(value, str) else repr(value)
    run.add(
        "code-invalid", expression, f"{shown} is not in the required value set {element.value_set} ({listed})"
    )
