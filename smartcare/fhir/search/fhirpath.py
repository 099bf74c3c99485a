"""Compile the path subset of FHIRPath that search parameters use into plain JSON traversals.

The subset: element paths from the context or `%resource`, a leading type name (`Patient.name`),
choice elements (`Observation.value` reads valueQuantity, valueString ...), type selection with
`as T`, `.as(T)` and `.ofType(T)`, `.where(resolve() is T)`, `.where(element = 'text')`, parentheses
and top-level `|` unions. Anything else makes `compile_path` return None so the caller can fall
back to a full FHIRPath engine. Element and type facts come from the R4 model that fhirpathpy ships,
so the fast path and the fallback agree on what `Observation.value` means.

One deliberate difference from strict FHIRPath: `as` filters each item instead of failing on a
collection of several, because search parameters such as `useContext.value as Quantity` are
written for repeating elements and every FHIR server evaluates them that way.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import fhirpathpy
import orjson
from fhirpathpy.models import models

from smartcare.fhir.search.values import parse_reference

Keep = Callable[[object], bool]
Step = tuple[str, Keep | None]

_TOKEN = re.compile(
    r"\s*(?:(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|`(?P<quoted>[^`]+)`|(?P<const>%[A-Za-z_][A-Za-z0-9_]*)"
    r"|'(?P<string>(?:[^'\\]|\\.)*)'|(?P<punct>[.()|=])|(?P<other>\S))"
)


# Tokens of any FHIRPath expression, only to see which root elements a fallback can read.
_ANY_TOKEN = re.compile(r"'(?:[^'\\]|\\.)*'|`[^`]*`|[%$]?[A-Za-z_][A-Za-z0-9_]*|\S")
_KEYWORDS = frozenset({"and", "or", "xor", "implies", "div", "mod", "in", "contains", "true", "false"})
_MEMO_LIMIT = 4096


class FhirPathError(ValueError):
    """An expression that is not valid FHIRPath for the R4 model (syntax, element or type)."""


class _Unsupported(Exception):
    """Valid FHIRPath perhaps, but outside the subset this module compiles."""


@dataclass(frozen=True, slots=True)
class Branch:
    """One straight walk through the JSON: keys to follow (each with an optional item filter).

    `type` is the FHIR type of every value it yields, `path` where that type's children are
    defined in the model (None for primitives), `from_root` whether it starts at `%resource`.
    """

    steps: tuple[Step, ...]
    type: str
    path: str | None
    from_root: bool = False

    def walk(self, node: dict) -> list:
        """Return the values this branch reaches from `node`, in document order."""
        items: list = [node]
        for key, keep in self.steps:
            found: list = []
            for item in items:
                value = item.get(key)
                if value is None:
                    continue
                if type(value) is list:
                    found += value
                else:
                    found.append(value)
            if keep is not None:
                found = [value for value in found if keep(value)]
            if not found:
                return found
            items = found
        if self.path is None and None in items:
            # A repeating primitive lists null where an item has only extensions (`_given`).
            items = [value for value in items if value is not None]
        return items


@dataclass(frozen=True, slots=True)
class CompiledPath:
    """A compiled expression: the union of its branches."""

    expression: str
    branches: tuple[Branch, ...]
    union: bool

    def evaluate(self, node: dict, root: dict | None = None) -> list:
        """Evaluate against `node` (the context) with FHIRPath collection semantics."""
        out: list = []
        for branch in self.branches:
            out += branch.walk(root if branch.from_root and root is not None else node)
        if self.union and len(self.branches) > 1:
            # `|` removes duplicates; plain paths (name.given) keep them.
            unique: list = []
            for value in out:
                if value not in unique:
                    unique.append(value)
            return unique
        return out


@dataclass(frozen=True, slots=True)
class _Model:
    path2type: dict[str, str]
    choices: dict[str, list[str]]
    elsewhere: dict[str, str]
    parents: dict[str, str]
    expansions: frozenset[str]
    backbones: frozenset[str]
    primitives: frozenset[str]


@cache
def _model() -> _Model:
    r4 = models["r4"]
    path2type: dict[str, str] = r4["path2Type"]
    choices: dict[str, list[str]] = r4["choiceTypePaths"]
    expansions = frozenset(f"{path}{suffix}" for path, suffixes in choices.items() for suffix in suffixes)
    prefixes = set()
    for path in (*path2type, *choices):
        parts = path.split(".")
        prefixes.update(".".join(parts[:i]) for i in range(2, len(parts)))
    parents: dict[str, str] = r4["type2Parent"]
    primitives = frozenset(name for name in parents if name[0].islower())
    return _Model(
        path2type, choices, r4["pathsDefinedElsewhere"], parents, expansions, frozenset(prefixes), primitives
    )


def is_subtype(type_name: str, ancestor: str) -> bool:
    """Whether `type_name` is `ancestor` or derives from it in the R4 model (Age is a Quantity)."""
    parents = _model().parents
    while type_name != ancestor:
        parent = parents.get(type_name)
        if parent is None:
            return False
        type_name = parent
    return True


def is_resource_type(name: str) -> bool:
    """Whether `name` is Resource, DomainResource or a concrete R4 resource type."""
    return name in ("Resource", "DomainResource") or (name[:1].isupper() and is_subtype(name, "Resource"))


def child_of(path: str, name: str) -> list[tuple[str, str, str | None]]:
    """Resolve element `name` under model path `path` to (JSON key, FHIR type, child path) per type.

    A choice element gives one entry per allowed type; an unknown name raises FhirPathError.
    """
    model = _model()
    key = f"{path}.{name}"
    if key in model.choices:
        out = []
        for suffix in model.choices[key]:
            lowered = suffix[0].lower() + suffix[1:]
            fhir_type = lowered if lowered in model.primitives else suffix
            out.append((name + suffix, fhir_type, None if fhir_type in model.primitives else fhir_type))
        return out
    if key in model.elsewhere:
        return [(name, "BackboneElement", model.elsewhere[key])]
    fhir_type = model.path2type.get(key)
    if fhir_type is not None and key not in model.expansions:
        primitive = fhir_type in model.primitives or fhir_type.startswith("System.")
        return [(name, fhir_type, None if primitive else fhir_type)]
    if key in model.backbones:
        return [(name, "BackboneElement", key)]
    raise FhirPathError(f"'{name}' is not an element of {path}")


def _type_name(name: str) -> str:
    model = _model()
    if name.startswith("FHIR."):
        name = name[5:]
    if name in model.primitives or name in model.parents or name in ("Resource", "Element"):
        return name
    lowered = name[0].lower() + name[1:]
    if lowered in model.primitives:
        # FHIRPath's DateTime, String, Boolean ... name the FHIR primitives in search expressions.
        return lowered
    if name.startswith("System."):
        raise _Unsupported(name)
    raise FhirPathError(f"'{name}' is not a FHIR R4 type")


def _has_type(fhir_type: str, wanted: str) -> bool:
    if wanted in _model().primitives:
        return fhir_type == wanted
    return is_subtype(fhir_type, wanted)


def _reference_is(res_type: str) -> Keep:
    def keep(reference: object) -> bool:
        if type(reference) is not dict:
            return False
        literal = reference.get("reference")
        parsed = parse_reference(literal) if literal else None
        return (parsed[0] if parsed else reference.get("type")) == res_type

    return keep


def _element_equals(key: str, literal: str) -> Keep:
    single = [literal]

    def keep(item: object) -> bool:
        value = item.get(key) if type(item) is dict else None
        return value == literal or value == single

    return keep


@dataclass(slots=True)
class _Partial:
    steps: list[Step]
    type: str
    path: str | None
    from_root: bool
    alive: bool = True


class _Parser:
    def __init__(self, expression: str, context_type: str, context_path: str, resource_type: str):
        self.tokens = self._tokenize(expression)
        self.pos = 0
        self.context = (context_type, context_path)
        self.resource_type = resource_type
        self.union = False

    @staticmethod
    def _tokenize(expression: str) -> list[tuple[str, str]]:
        tokens = []
        for match in _TOKEN.finditer(expression.strip()):
            kind = match.lastgroup
            if kind == "other":
                raise _Unsupported(match.group(kind))
            tokens.append(("ident", match["quoted"]) if kind == "quoted" else (kind, match.group(kind)))
        return tokens

    def peek(self, value: str | None = None, kind: str | None = None) -> bool:
        if self.pos >= len(self.tokens):
            return False
        token_kind, token_value = self.tokens[self.pos]
        return (value is None or token_value == value) and (kind is None or token_kind == kind)

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        # Anything unexpected, even a syntax error, is left to the full engine to judge.
        if not self.peek(value, kind):
            raise _Unsupported(f"expected {value or kind}")
        self.pos += 1
        return self.tokens[self.pos - 1][1]

    def parse(self) -> list[_Partial]:
        partials = self.union_expr()
        if self.pos != len(self.tokens):
            raise _Unsupported(self.tokens[self.pos][1])
        return partials

    def union_expr(self) -> list[_Partial]:
        partials = self.as_expr()
        while self.peek("|", "punct"):
            self.take()
            self.union = True
            partials += self.as_expr()
        return partials

    def as_expr(self) -> list[_Partial]:
        partials = self.term()
        if self.peek("as", "ident"):
            self.take()
            partials = self.select_type(partials, self.qualified_name())
            if self.peek(".", "punct"):
                raise _Unsupported("qualified type name")
        elif self.peek(kind="ident"):
            raise _Unsupported(self.tokens[self.pos][1])
        return partials

    def qualified_name(self) -> str:
        name = self.take(kind="ident")
        if name in ("FHIR", "System") and self.peek(".", "punct"):
            self.take()
            name = f"{name}.{self.take(kind='ident')}"
        return name

    def term(self) -> list[_Partial]:
        if self.peek("(", "punct"):
            self.take()
            union_before = self.union
            partials = self.union_expr()
            self.take(")", "punct")
            if self.union and not union_before and self.peek(".", "punct"):
                # A union in the middle of a path needs de-duplication at that point.
                raise _Unsupported("path after a parenthesised union")
        elif self.peek(kind="const"):
            const = self.take()
            if const != "%resource":
                raise _Unsupported(const)
            partials = [_Partial([], self.resource_type, self.resource_type, True)]
        else:
            if not self.peek(kind="ident") or self.peek("true") or self.peek("false"):
                raise _Unsupported("a literal")
            context_type, context_path = self.context
            start = _Partial([], context_type, context_path, False)
            name = self.take(kind="ident")
            if self.peek("(", "punct"):
                raise _Unsupported(f"{name}()")
            if name[0].isupper() and is_resource_type(name):
                # A leading type name filters the context; a mismatch still validates the rest.
                matches = is_subtype(context_type, name)
                partials = [start if matches else _Partial([], name, name, False, alive=False)]
            else:
                partials = self.steps([start], name)
        while self.peek(".", "punct"):
            self.take()
            partials = self.invocation(partials)
        return partials

    def invocation(self, partials: list[_Partial]) -> list[_Partial]:
        name = self.take(kind="ident")
        if not self.peek("(", "punct"):
            return self.steps(partials, name)
        self.take()
        if name in ("as", "ofType"):
            type_name = self.qualified_name()
            self.take(")", "punct")
            return self.select_type(partials, type_name)
        if name == "where":
            keep, needs = self.criterion(partials)
            self.take(")", "punct")
            for partial in partials:
                if partial.alive and needs and partial.type != needs:
                    raise _Unsupported(f"where() on {partial.type}")
                if partial.alive:
                    if not partial.steps:
                        raise _Unsupported("where() on the context")
                    key, old = partial.steps[-1]
                    if old is not None:
                        raise _Unsupported("two filters on one step")
                    partial.steps[-1] = (key, keep)
            return partials
        raise _Unsupported(f"{name}()")

    def criterion(self, partials: list[_Partial]) -> tuple[Keep, str | None]:
        if self.peek("resolve", "ident"):
            self.take()
            self.take("(", "punct")
            self.take(")", "punct")
            if not self.peek("is", "ident"):
                raise _Unsupported("resolve() without is")
            self.take()
            target = self.qualified_name()
            if not is_resource_type(target):
                raise FhirPathError(f"'{target}' is not a resource type")
            return _reference_is(target), "Reference"
        element = self.take(kind="ident")
        self.take("=", "punct")
        literal = self.take(kind="string")
        if "\\" in literal:
            raise _Unsupported("escaped string literal")
        for partial in partials:
            if partial.path is None:
                raise _Unsupported("where() on a primitive")
            for _key, fhir_type, child_path in child_of(partial.path, element):
                if child_path is not None or len(child_of(partial.path, element)) > 1:
                    raise _Unsupported(f"where({element} = ...) on a {fhir_type}")
        return _element_equals(element, literal), None

    def steps(self, partials: list[_Partial], name: str) -> list[_Partial]:
        # Of a choice (Observation.value.unit) only the types that have the element go on; it is
        # an error only when none has it.
        out: list[_Partial] = []
        error = None
        for partial in partials:
            if partial.path is None:
                if name in ("id", "extension"):
                    raise _Unsupported(f"'{name}' on a primitive")
                error = error or FhirPathError(f"'{name}' is not an element of {partial.type}")
                continue
            try:
                children = child_of(partial.path, name)
            except FhirPathError as exc:
                error = error or exc
                continue
            out += [
                _Partial(
                    [*partial.steps, (key, None)], fhir_type, child_path, partial.from_root, partial.alive
                )
                for key, fhir_type, child_path in children
            ]
        if not out and error is not None:
            raise error
        return out

    def select_type(self, partials: list[_Partial], type_name: str) -> list[_Partial]:
        wanted = _type_name(type_name)
        for partial in partials:
            if partial.alive and partial.type in ("Resource", "DomainResource") and wanted != partial.type:
                # Which resource a contained/entry element holds is only known from its data.
                raise _Unsupported(f"{partial.type} as {wanted}")
        selected = [partial for partial in partials if partial.alive and _has_type(partial.type, wanted)]
        if selected:
            return selected
        path = None if wanted in _model().primitives else wanted
        return [_Partial([], wanted, path, False, alive=False)]


def compile_path(
    expression: str, context: str, *, context_type: str | None = None, resource_type: str | None = None
) -> CompiledPath | None:
    """Compile `expression` for a context at model path `context` (a type name or backbone path).

    Returns None when the expression is outside the compiled subset; raises FhirPathError when
    it names an element or type the R4 model does not have.
    """
    root = resource_type or context.split(".", 1)[0]
    try:
        parser = _Parser(expression, context_type or context, context, root)
        partials = parser.parse()
    except _Unsupported:
        return None
    branches = tuple(
        Branch(tuple(partial.steps), partial.type, partial.path, partial.from_root)
        for partial in partials
        if partial.alive
    )
    return CompiledPath(expression, branches, parser.union)


def _root_elements(expression: str, res_type: str) -> frozenset[str] | None:
    """Return the root elements an expression reads when every path starts at `res_type.`, else None."""
    tokens = _ANY_TOKEN.findall(expression)
    roots = set()
    for i, token in enumerate(tokens):
        if token[0] in "%$`":
            return None
        if not (token[0].isalpha() or token[0] == "_") or (i and tokens[i - 1] == "."):
            continue
        if token in _KEYWORDS:
            continue
        if token == res_type and tokens[i + 1 : i + 2] == ["."] and i + 2 < len(tokens):
            roots.add(tokens[i + 2])
            continue
        return None
    return frozenset(roots) or None


class FallbackPath:
    """An expression outside the compiled subset, evaluated by fhirpathpy.

    fhirpathpy costs ~100 µs per call, too much for every write. When each path in the expression
    starts at the resource type, the result depends only on the root elements it names, so it is
    evaluated on just those elements and remembered by their JSON (Patient.deceased has a handful
    of distinct values across a whole population).
    """

    def __init__(self, expression: str, res_type: str):
        self.expression = expression
        self.res_type = res_type
        self._compiled = fhirpathpy.compile(expression, models["r4"])
        self._roots = _root_elements(expression, res_type)
        self._memo: dict[bytes, list] = {}

    def _reads(self, key: str) -> bool:
        name = key.lstrip("_")
        for root in self._roots or ():
            if name == root or (name.startswith(root) and name[len(root) : len(root) + 1].isupper()):
                return True
        return False

    def evaluate(self, resource: dict) -> list:
        """Return the expression's result on `resource` as plain JSON values."""
        if self._roots is None:
            return self._compiled(resource, {})
        projection = {key: value for key, value in resource.items() if self._reads(key)}
        memo_key = orjson.dumps(projection, option=orjson.OPT_SORT_KEYS)
        found = self._memo.get(memo_key)
        if found is None:
            found = self._compiled({"resourceType": self.res_type, **projection}, {})
            if len(memo_key) <= 1024:
                if len(self._memo) >= _MEMO_LIMIT:
                    self._memo.clear()
                self._memo[memo_key] = found
        return found
