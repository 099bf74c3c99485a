"""Turn a FHIR resource into the rows of the typed search-index tables (the store's ingest hot path).

Every parameter expression is compiled once per resource type (fhirpath.py) and paired with the
indexer for each FHIR type it can yield, so extraction is a walk over dictionaries; the three R4
expressions outside the compiled subset run on fhirpathpy. Encodings beyond the plain columns
(https://hl7.org/fhir/R4/search.html):

- `<code>:identifier` token rows hold Reference.identifier (system, code=value) for the
  `:identifier` modifier of reference parameters.
- `<code>:of-type` token rows hold, per Identifier.type coding, system=that coding's system and
  code=`<type code>|<identifier value>`, so `identifier:of-type=sys|MR|123` is one index lookup.
- Composite parameters give `<code>#<i>` rows for component i, in the table of the component's
  type; the rows of one repetition share `grp` (unique within the resource). A repetition is
  indexed only when every component has a value, as only then can it match.
- A Range in a quantity or number parameter is one row: low/high are its outer bounds (open ends
  -inf/+inf), value its low value (or high value when it has no low).
- A Timing in a date parameter is one row spanning its events and repeat.boundsPeriod, since
  R4 says only the outer limits of a schedule matter.
- Values no index can hold are skipped: Age, Range and free text in date parameters, SampledData
  in quantity parameters, an Attachment in a reference parameter.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache

from smartcare.fhir.search.fhirpath import Branch, FallbackPath, compile_path, is_resource_type, is_subtype
from smartcare.fhir.search.registry import SearchParam, params_for
from smartcare.fhir.search.values import date_bounds, normalize_string, number_bounds, parse_reference

KINDS = ("string", "token", "date", "number", "quantity", "reference", "uri")
_INF = float("inf")
_ISO_4217 = "urn:iso:std:iso:4217"
_STRING_TYPES = frozenset(
    {"string", "markdown", "code", "id", "uri", "url", "canonical", "oid", "uuid", "System.String"}
)
_DATE_TYPES = frozenset({"date", "dateTime", "instant"})
_NUMBER_TYPES = frozenset({"decimal", "integer", "positiveInt", "unsignedInt"})


class Rows:
    """The index rows of one resource as they are built, one list per table kind."""

    __slots__ = ("string", "token", "date", "number", "quantity", "reference", "uri", "server_base")

    def __init__(self, server_base: str | None):
        self.server_base = server_base
        self.string: list[dict] = []
        self.token: list[dict] = []
        self.date: list[dict] = []
        self.number: list[dict] = []
        self.quantity: list[dict] = []
        self.reference: list[dict] = []
        self.uri: list[dict] = []

    def count(self) -> int:
        """Return how many rows there are in all kinds."""
        return (
            len(self.string) + len(self.token) + len(self.date) + len(self.number)
            + len(self.quantity) + len(self.reference) + len(self.uri)
        )  # fmt: skip

    def merge(self, other: "Rows") -> None:
        """Append the rows of `other`."""
        for kind in KINDS:
            getattr(self, kind).extend(getattr(other, kind))

    def as_dict(self) -> dict[str, list[dict]]:
        """Return the rows keyed by table kind."""
        return {kind: getattr(self, kind) for kind in KINDS}


Indexer = Callable[[object, str, int | None, Rows], None]


def _string(value: str, param: str, grp: int | None, rows: Rows) -> None:
    # Folding more than 4 x 255 characters only to truncate the result would be wasted work.
    if value:
        rows.string.append(
            {"param": param, "grp": grp, "value": normalize_string(value[:1020])[:255], "exact": value[:255]}
        )


def _strings(item: dict, keys: tuple[str, ...], param: str, grp: int | None, rows: Rows) -> None:
    for key in keys:
        value = item.get(key)
        if type(value) is list:
            for part in value:
                if part:
                    _string(part, param, grp, rows)
        elif value:
            _string(value, param, grp, rows)


def _human_name(name: dict, param: str, grp: int | None, rows: Rows) -> None:
    _strings(name, ("family", "given", "prefix", "suffix", "text"), param, grp, rows)


def _address(address: dict, param: str, grp: int | None, rows: Rows) -> None:
    _strings(
        address, ("line", "city", "district", "state", "postalCode", "country", "text"), param, grp, rows
    )


def _token(rows: Rows, param: str, grp: int | None, system: object, code: object, text: str | None) -> None:
    rows.token.append(
        {
            "param": param,
            "grp": grp,
            "system": system[:255] if type(system) is str else None,
            "code": code[:255] if type(code) is str else None,
            "text": normalize_string(text[:1020])[:255] if text else None,
        }
    )


def _token_code(value: str, param: str, grp: int | None, rows: Rows) -> None:
    _token(rows, param, grp, None, value, None)


def _token_boolean(value: bool, param: str, grp: int | None, rows: Rows) -> None:
    _token(rows, param, grp, None, "true" if value else "false", None)


def _coding(coding: dict, param: str, grp: int | None, rows: Rows) -> None:
    _token(rows, param, grp, coding.get("system"), coding.get("code"), coding.get("display"))


def _codeable_concept(concept: dict, param: str, grp: int | None, rows: Rows) -> None:
    text = concept.get("text")
    codings = concept.get("coding")
    if codings:
        for coding in codings:
            _token(rows, param, grp, coding.get("system"), coding.get("code"), text or coding.get("display"))
    elif text:
        _token(rows, param, grp, None, None, text)


def _identifier(identifier: dict, param: str, grp: int | None, rows: Rows) -> None:
    value = identifier.get("value")
    id_type = identifier.get("type")
    _token(rows, param, grp, identifier.get("system"), value, id_type.get("text") if id_type else None)
    if id_type and value and grp is None:
        for coding in id_type.get("coding", ()):
            if coding.get("code"):
                _token(
                    rows, f"{param}:of-type", None, coding.get("system"), f"{coding['code']}|{value}", None
                )


def _contact_point(contact: dict, param: str, grp: int | None, rows: Rows) -> None:
    if contact.get("value"):
        _token(rows, param, grp, None, contact["value"], None)


def _date(value: str, param: str, grp: int | None, rows: Rows) -> None:
    low, high = date_bounds(value)
    rows.date.append({"param": param, "grp": grp, "low": low, "high": high})


def _period(period: dict, param: str, grp: int | None, rows: Rows) -> None:
    start, end = period.get("start"), period.get("end")
    if start or end:
        low = date_bounds(start)[0] if start else -_INF
        high = date_bounds(end)[1] if end else _INF
        rows.date.append({"param": param, "grp": grp, "low": low, "high": high})


def _timing(timing: dict, param: str, grp: int | None, rows: Rows) -> None:
    bounds = [date_bounds(event) for event in timing.get("event", ()) if event]
    period = (timing.get("repeat") or {}).get("boundsPeriod") or {}
    if period.get("start") or period.get("end"):
        bounds.append(
            (
                date_bounds(period["start"])[0] if period.get("start") else -_INF,
                date_bounds(period["end"])[1] if period.get("end") else _INF,
            )
        )
    if bounds:
        low = min(bound[0] for bound in bounds)
        high = max(bound[1] for bound in bounds)
        rows.date.append({"param": param, "grp": grp, "low": low, "high": high})


def _decimal_text(value: object) -> str:
    if type(value) is bool or not isinstance(value, int | float):
        raise ValueError(f"{str(value)[:40]!r} is not a number")
    return repr(value) if type(value) is float else str(value)


def _number(value: object, param: str, grp: int | None, rows: Rows) -> None:
    number, low, high = number_bounds(_decimal_text(value))
    rows.number.append({"param": param, "grp": grp, "value": number, "low": low, "high": high})


def _range_bounds(range_: dict) -> tuple[dict, float, float, float] | None:
    low_q, high_q = range_.get("low") or {}, range_.get("high") or {}
    if low_q.get("value") is None and high_q.get("value") is None:
        return None
    low = number_bounds(_decimal_text(low_q["value"]))[1] if low_q.get("value") is not None else -_INF
    high = number_bounds(_decimal_text(high_q["value"]))[2] if high_q.get("value") is not None else _INF
    unit_from = low_q if low_q.get("value") is not None else high_q
    return unit_from, float(unit_from["value"]), low, high


def _number_range(range_: dict, param: str, grp: int | None, rows: Rows) -> None:
    found = _range_bounds(range_)
    if found:
        _unit_from, value, low, high = found
        rows.number.append({"param": param, "grp": grp, "value": value, "low": low, "high": high})


def _quantity_row(rows: Rows, param: str, grp: int | None, system: object, code: object, unit: object,
                  value: float, low: float, high: float) -> None:  # fmt: skip
    rows.quantity.append(
        {
            "param": param,
            "grp": grp,
            "system": system[:255] if type(system) is str else None,
            "code": code[:255] if type(code) is str else None,
            "unit": unit[:255] if type(unit) is str else None,
            "value": value,
            "low": low,
            "high": high,
        }
    )


def _quantity(quantity: dict, param: str, grp: int | None, rows: Rows) -> None:
    if quantity.get("value") is None:
        return
    value, low, high = number_bounds(_decimal_text(quantity["value"]))
    unit = quantity.get("unit")
    code = quantity.get("code") or unit
    _quantity_row(rows, param, grp, quantity.get("system"), code, unit, value, low, high)


def _money(money: dict, param: str, grp: int | None, rows: Rows) -> None:
    if money.get("value") is None:
        return
    value, low, high = number_bounds(_decimal_text(money["value"]))
    currency = money.get("currency")
    _quantity_row(rows, param, grp, _ISO_4217 if currency else None, currency, currency, value, low, high)


def _quantity_range(range_: dict, param: str, grp: int | None, rows: Rows) -> None:
    found = _range_bounds(range_)
    if found:
        unit_from, value, low, high = found
        unit = unit_from.get("unit")
        _quantity_row(
            rows, param, grp, unit_from.get("system"), unit_from.get("code") or unit, unit, value, low, high
        )


def _reference_row(rows: Rows, param: str, grp: int | None, target_type: str | None, target_id: str | None,
                   url: str | None) -> None:  # fmt: skip
    rows.reference.append(
        {
            "param": param,
            "grp": grp,
            "target_type": target_type,
            "target_id": target_id,
            "url": url[:1024] if url else None,
        }
    )


def _reference(reference: dict, param: str, grp: int | None, rows: Rows) -> None:
    literal = reference.get("reference")
    if literal and not literal.startswith("#"):
        parsed = parse_reference(literal)
        if parsed is None:
            _reference_row(rows, param, grp, reference.get("type"), None, literal)
        elif parsed[2] is None or parsed[2] == rows.server_base:
            _reference_row(rows, param, grp, parsed[0], parsed[1], None)
        else:
            _reference_row(rows, param, grp, parsed[0], None, literal)
    identifier = reference.get("identifier")
    if identifier and identifier.get("value"):
        _token(rows, f"{param}:identifier", grp, identifier.get("system"), identifier["value"], None)


def _reference_url(value: str, param: str, grp: int | None, rows: Rows) -> None:
    if value:
        # A relative canonical ('OperationDefinition/x') is also found as a local Type/id reference.
        parsed = parse_reference(value.partition("|")[0])
        if parsed is not None and parsed[2] is None:
            _reference_row(rows, param, grp, parsed[0], parsed[1], value)
        else:
            _reference_row(rows, param, grp, None, None, value)


def _reference_resource(resource: dict, param: str, grp: int | None, rows: Rows) -> None:
    # Bundle composition/message: the entry's resource itself, by its type and id.
    if resource.get("id"):
        _reference_row(rows, param, grp, resource.get("resourceType"), resource["id"], None)


def _uri(value: str, param: str, grp: int | None, rows: Rows) -> None:
    if value:
        rows.uri.append({"param": param, "grp": grp, "value": value[:1024]})


# (parameter type, value family) -> indexer; pairs not listed index nothing.
INDEXERS: dict[tuple[str, str], Indexer] = {
    ("string", "str"): _string,
    ("string", "HumanName"): _human_name,
    ("string", "Address"): _address,
    ("token", "str"): _token_code,
    ("token", "boolean"): _token_boolean,
    ("token", "Coding"): _coding,
    ("token", "CodeableConcept"): _codeable_concept,
    ("token", "Identifier"): _identifier,
    ("token", "ContactPoint"): _contact_point,
    ("date", "date"): _date,
    ("date", "Period"): _period,
    ("date", "Timing"): _timing,
    ("number", "number"): _number,
    ("number", "Range"): _number_range,
    ("quantity", "Quantity"): _quantity,
    ("quantity", "Money"): _money,
    ("quantity", "Range"): _quantity_range,
    ("reference", "Reference"): _reference,
    ("reference", "str"): _reference_url,
    ("reference", "Resource"): _reference_resource,
    ("uri", "str"): _uri,
}


def _family(fhir_type: str) -> str:
    """Group a FHIR type with those indexed alike (code, uri, id ... are all `str`)."""
    if fhir_type in _STRING_TYPES:
        return "str"
    if fhir_type in _DATE_TYPES:
        return "date"
    if fhir_type in _NUMBER_TYPES:
        return "number"
    if fhir_type[:1].isupper() and is_subtype(fhir_type, "Quantity"):
        return "Quantity"
    if is_resource_type(fhir_type):
        return "Resource"
    return fhir_type


# Shapes that tell a fallback result's type, which fhirpathpy does not report (first match wins).
_SHAPES = (
    ("resourceType", "Resource"),
    ("coding", "CodeableConcept"),
    ("reference", "Reference"),
    ("family", "HumanName"),
    ("given", "HumanName"),
    ("line", "Address"),
    ("city", "Address"),
    ("start", "Period"),
    ("end", "Period"),
    ("currency", "Money"),
    ("unit", "Quantity"),
    ("code", "Coding"),
)


def _runtime_family(value: object) -> str | None:
    """Return the value family of a fallback result from its JSON shape."""
    if type(value) is bool:
        return "boolean"
    if type(value) is str:
        return "str"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        for key, family in _SHAPES:
            if key in value:
                return family
    return None


@dataclass(frozen=True, slots=True)
class _Walk:
    """One branch of one parameter after its first key (the plan is keyed by that key)."""

    param: str
    first_keep: Callable[[object], bool] | None
    rest: Branch
    index: Indexer


# Per component of a composite: its row param (`code#i`) and the (branch, indexer) pairs filling it.
_Components = tuple[tuple[str, tuple[tuple[Branch, Indexer], ...]], ...]


@dataclass(frozen=True, slots=True)
class _Composite:
    param: str
    # Each base branch (one repetition per value it yields) with its components compiled in its context.
    bases: tuple[tuple[Branch, _Components], ...]


@dataclass(frozen=True, slots=True)
class _Plan:
    by_key: dict[str, tuple[_Walk, ...]]
    composites: tuple[_Composite, ...]
    fallbacks: tuple[tuple[str, str, FallbackPath], ...]  # (param, param type, expression)


def _indexed(branches: tuple[Branch, ...], param_type: str) -> tuple[tuple[Branch, Indexer], ...]:
    pairs = []
    for branch in branches:
        index = INDEXERS.get((param_type, _family(branch.type)))
        if index is not None:
            pairs.append((branch, index))
    return tuple(pairs)


def _composite(res_type: str, param: SearchParam) -> _Composite:
    base = compile_path(param.expression, res_type)
    if base is None:
        raise ValueError(f"{res_type}.{param.code}: composite base outside the compiled subset")
    bases = []
    for branch in base.branches:
        components = []
        for i, component in enumerate(param.components):
            compiled = compile_path(
                component.expression,
                branch.path or res_type,
                context_type=branch.type,
                resource_type=res_type,
            )
            if compiled is None:
                raise ValueError(f"{res_type}.{param.code}: component {i} outside the compiled subset")
            components.append((f"{param.code}#{i}", _indexed(compiled.branches, component.type)))
        bases.append((branch, tuple(components)))
    return _Composite(param.code, tuple(bases))


@cache
def _plan(res_type: str) -> _Plan:
    by_key: dict[str, list[_Walk]] = {}
    composites = []
    fallbacks = []
    for param in params_for(res_type).values():
        if param.type == "composite":
            composites.append(_composite(res_type, param))
            continue
        if param.type not in KINDS:
            continue  # `special` (Location near) has no index table of its own.
        compiled = compile_path(param.expression, res_type)
        if compiled is None:
            fallbacks.append((param.code, param.type, FallbackPath(param.expression, res_type)))
            continue
        for branch, index in _indexed(compiled.branches, param.type):
            (key, keep), *rest = branch.steps
            tail = Branch(tuple(rest), branch.type, branch.path)
            by_key.setdefault(key, []).append(_Walk(param.code, keep, tail, index))
    return _Plan({key: tuple(walks) for key, walks in by_key.items()}, tuple(composites), tuple(fallbacks))


@lru_cache(maxsize=1024)
def _plan_of(res_type: str, params: frozenset[str]) -> _Plan:
    """The part of res_type's plan that extracts the named parameters."""
    whole = _plan(res_type)
    by_key = {key: kept for key, walks in whole.by_key.items() if (kept := tuple(w for w in walks if w.param in params))}
    return _Plan(by_key, tuple(c for c in whole.composites if c.param in params),
                 tuple(f for f in whole.fallbacks if f[0] in params))


def fast_path_counts(res_type: str) -> tuple[int, int]:
    """Return (parameters of `res_type` extracted by compiled traversals, by the fhirpathpy fallback)."""
    plan = _plan(res_type)
    compiled = {walk.param for walks in plan.by_key.values() for walk in walks}
    compiled.update(composite.param for composite in plan.composites)
    return len(compiled), len(plan.fallbacks)


def _index_composites(resource: dict, plan: _Plan, rows: Rows) -> None:
    grp = 0
    for composite in plan.composites:
        for base, components in composite.bases:
            for item in base.walk(resource):
                gathered = []
                # Later components (the value) are the ones most often absent: look at them first.
                for param, pairs in reversed(components):
                    found = [
                        (index, value)
                        for branch, index in pairs
                        for value in branch.walk(resource if branch.from_root else item)
                    ]
                    if not found:
                        break
                    gathered.append((param, found))
                else:
                    pending = Rows(rows.server_base)
                    for param, found in reversed(gathered):
                        before = pending.count()
                        for index, value in found:
                            index(value, param, grp, pending)
                        if pending.count() == before:
                            break
                    else:
                        rows.merge(pending)
                        grp += 1


def _index_fallbacks(resource: dict, plan: _Plan, rows: Rows) -> None:
    for param, param_type, path in plan.fallbacks:
        for value in path.evaluate(resource):
            index = INDEXERS.get((param_type, _runtime_family(value) or ""))
            if index is not None:
                index(value, param, None, rows)


def extract_index_rows(resource: dict, *, server_base: str | None = None,
                       params: frozenset[str] | None = None) -> dict[str, list[dict]]:
    """Return the search-index rows of `resource`, keyed by table kind (string, token, date ...).

    Each row has the columns of its table in tables.py except res_pk and res_type. Absolute
    references under `server_base` (this server's base URL) are indexed as local ones. A value
    that is not valid for its type (a bad date, a list where R4 has an object) raises ValueError.
    With `params`, only the rows of those parameters (the same rows) are extracted.
    """
    res_type = resource.get("resourceType")
    if (
        type(res_type) is not str
        or not is_resource_type(res_type)
        or res_type in ("Resource", "DomainResource")
    ):
        raise ValueError(f"'{str(res_type)[:64]}' is not a FHIR R4 resource type")
    plan = _plan(res_type) if params is None else _plan_of(res_type, params)
    rows = Rows(server_base.rstrip("/") if server_base else None)
    by_key = plan.by_key
    try:
        for key, value in resource.items():
            walks = by_key.get(key)
            if walks is None:
                continue
            items = value if type(value) is list else (value,)
            for walk in walks:
                keep = walk.first_keep
                steps = walk.rest.steps
                for item in items:
                    if item is None or (keep is not None and not keep(item)):
                        continue
                    if steps:
                        for found in walk.rest.walk(item):
                            walk.index(found, walk.param, None, rows)
                    else:
                        walk.index(item, walk.param, None, rows)
        if plan.composites:
            _index_composites(resource, plan, rows)
        if plan.fallbacks:
            _index_fallbacks(resource, plan, rows)
    except (AttributeError, TypeError) as exc:
        # A list or string where R4 has an object (or the reverse): the resource is malformed.
        raise ValueError(
            f"{res_type}/{str(resource.get('id'))[:64]}: an element does not have its R4 shape"
        ) from exc
    except ValueError as exc:
        raise ValueError(f"{res_type}/{str(resource.get('id'))[:64]}: {exc}") from exc
    return rows.as_dict()
