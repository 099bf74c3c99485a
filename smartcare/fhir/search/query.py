"""Turn FHIR search parameters into one SQL query over the index tables (no fetch-then-filter).

Each parameter becomes a condition `resource.pk IN (select res_pk from <index table> where ...)`,
so paging and totals are exact. Repeated parameters AND together, comma-separated values OR.
Chains (`subject:Patient.name=x`) and reverse chains (`_has:Observation:patient:code=y`) nest
the same compiler on the referenced type.
"""

import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, Grouping
from sqlalchemy.sql.selectable import ScalarSelect

from smartcare.fhir import tables as t
from smartcare.fhir.errors import BadRequest
from smartcare.fhir.search.registry import SearchParam, get_param, patient_compartment_params
from smartcare.fhir.search.syntax import (
    like_escape,
    range_condition,
    split_or,
    split_prefix,
    split_unescaped,
    unescape,
)
from smartcare.fhir.search.values import date_bounds, normalize_string, number_bounds
from smartcare.fhir.validation import known_resource_types
from smartcare.fhir.validation.structures import is_single_valued

RESULT_PARAMS = frozenset(
    {
        "_count", "_offset", "_sort", "_include", "_revinclude", "_summary", "_elements", "_total",
        "_format", "_pretty", "_contained", "_containedType",
    }
)  # fmt: skip
MAX_VALUE_LENGTH = 1024
TOTAL_COUNT_LIMIT = 1000
MAX_CHAIN_DEPTH = 4
_MODIFIERS = {
    "string": {"exact", "contains", "missing"},
    "token": {"text", "not", "missing", "of-type"},
    "date": {"missing"},
    "number": {"missing"},
    "quantity": {"missing"},
    "reference": {"missing", "identifier"},
    "uri": {"below", "above", "missing"},
    "composite": {"missing"},
    "special": set(),
}

R = t.resource


class UnknownParameter(BadRequest):
    """A search parameter the server does not know (ignored under Prefer: handling=lenient)."""


@dataclass(slots=True)
class SearchRequest:
    """A parsed search: the filter conditions plus what to do with the results."""

    res_type: str
    # Conditions answered from the index tables alone: each selects the res_pk of matches.
    # Index rows exist only for current, non-deleted resources of their res_type, so these
    # need no look at fhir_resource; everything else goes in `where`, on fhir_resource.
    pk_sets: list[sa.Select] = field(default_factory=list)
    where: list[sa.ColumnElement] = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (param code, descending)
    count: int = 20
    offset: int = 0
    includes: list[tuple[str, str, str | None, bool]] = field(default_factory=list)  # (type, param, target, iterate)
    revincludes: list[tuple[str, str, str | None, bool]] = field(default_factory=list)
    summary: str | None = None
    elements: list[str] | None = None
    # "auto" (no _total): counted exactly up to TOTAL_COUNT_LIMIT matches, left out beyond that.
    total: str = "auto"
    ignored: list[str] = field(default_factory=list)
    # The one patient a search is limited to by a compartment parameter (Observation?subject=Patient/1),
    # so the access check can look at that patient alone; None when the search names no single one.
    patient: str | None = None


def _index_subquery(table: sa.Table, res_type: str, param: str, cond: sa.ColumnElement | None) -> sa.Select:
    q = sa.select(table.c.res_pk).where(table.c.res_type == res_type, table.c.param == param)
    return q.where(cond) if cond is not None else q


class QueryCompiler:
    """Compiles search parameters for one resource type into SQL conditions on fhir_resource."""

    def __init__(self, base_url: str = "", strict: bool = False):
        self.base_url = base_url.rstrip("/")
        self.strict = strict

    def parse(self, res_type: str, params: list[tuple[str, str]], *, default_count: int, max_count: int) -> SearchRequest:
        """Parse (name, value) pairs into a SearchRequest; raise BadRequest on malformed input."""
        req = SearchRequest(res_type=res_type, count=default_count)
        ranges: dict[str, list[str]] = {}
        for name, value in params:
            if len(value) > MAX_VALUE_LENGTH:
                raise BadRequest(f"The value of '{name[:80]}' is longer than {MAX_VALUE_LENGTH} characters")
            if "\x00" in value:  # no stored value holds one, and PostgreSQL refuses it in a query
                raise BadRequest(f"The value of '{name[:80]}' contains the NUL character (U+0000)")
            base_name, _, mod = name.partition(":")
            if base_name in ("_include", "_revinclude") and mod in ("iterate", "recurse"):
                self._result_param(req, base_name, f"iterate:{value}", max_count)
                continue
            if name in RESULT_PARAMS:
                self._result_param(req, name, value, max_count)
                continue
            if self._single_valued_date(res_type, name):
                ranges.setdefault(name, []).append(value)
                continue
            try:
                cond = self.condition(res_type, name, value, depth=0)
            except UnknownParameter:
                if self.strict:
                    raise
                req.ignored.append(name)
                continue
            self._add(req, cond)
            self._note_patient(req, name, value)
        for name, values in ranges.items():
            self._add(req, self._date(res_type, get_param(res_type, name), values))
        return req

    def _note_patient(self, req: SearchRequest, name: str, value: str) -> None:
        """Remember the patient a compartment parameter names with one plain value (Patient/1, or 1 for `patient`)."""
        code, _, modifier = name.partition(":")
        # `patient` is a compartment parameter of some types and an alias of `subject` (a Patient) in others
        # (MedicationRequest, Observation ...): either way it names the patient the records are about.
        if modifier not in ("", "Patient") or (code not in patient_compartment_params(req.res_type)
                                               and code != "patient"):
            return
        if "," in value or "\\" in value:
            return
        value = value.removeprefix(self.base_url + "/") if self.base_url else value
        if value.startswith("Patient/") and value.count("/") == 1:
            patient = value.removeprefix("Patient/")
        elif "/" not in value and (code == "patient" or modifier == "Patient"):
            patient = value
        else:
            return
        if not patient:
            return
        # Two different patients named: leave the check to the whole reach.
        req.patient = patient if req.patient in (None, patient) else ""

    @staticmethod
    def _add(req: SearchRequest, cond: sa.ColumnElement) -> None:
        subquery = _pk_subquery(cond)
        if subquery is not None:
            req.pk_sets.append(subquery)
        else:
            req.where.append(cond)

    @staticmethod
    def _single_valued_date(res_type: str, name: str) -> bool:
        """A date parameter on an element that holds one value, whose repeats can share one index row.

        `date=ge2026-01&date=lt2026-03` then needs one row inside both bounds, which for a
        single value is exactly the AND the standard asks for, and avoids intersecting two
        large sets.
        """
        if ":" in name or "." in name:
            return False
        param = get_param(res_type, name)
        return param is not None and param.type == "date" and is_single_valued(param.expression)

    def _result_param(self, req: SearchRequest, name: str, value: str, max_count: int) -> None:
        if name == "_count":
            req.count = min(self._int(name, value), max_count)
        elif name == "_offset":
            req.offset = self._int(name, value)
        elif name == "_sort":
            for key in value.split(","):
                desc = key.startswith("-")
                code = key.lstrip("-")
                if code not in ("_id", "_lastUpdated") and get_param(req.res_type, code) is None:
                    raise BadRequest(f"Cannot sort {req.res_type} by unknown parameter '{code[:80]}'")
                req.sort.append((code, desc))
        elif name in ("_include", "_revinclude"):
            iterate = False
            if value.startswith(("iterate:", "recurse:")):
                value = value.split(":", 1)[1]
                iterate = True
            parts = value.split(":")
            if value == "*":
                parts = [req.res_type, "*"]
            if len(parts) not in (2, 3):
                raise BadRequest(f"{name} must look like Type:param[:TargetType], not '{value[:80]}'")
            src, code = parts[0], parts[1]
            target = parts[2] if len(parts) == 3 else None
            if src not in known_resource_types():
                raise BadRequest(f"{name}: unknown resource type '{src[:64]}'")
            if code != "*":
                p = get_param(src, code)
                if p is None or p.type != "reference":
                    raise BadRequest(f"{name}: {src} has no reference parameter '{code[:80]}'")
            (req.includes if name == "_include" else req.revincludes).append((src, code, target, iterate))
        elif name == "_summary":
            if value not in ("true", "false", "text", "data", "count"):
                raise BadRequest("_summary must be one of true, false, text, data, count")
            req.summary = None if value == "false" else value
        elif name == "_elements":
            req.elements = [e.strip() for e in value.split(",") if e.strip()]
        elif name == "_total":
            if value not in ("none", "estimate", "accurate"):
                raise BadRequest("_total must be none, estimate or accurate")
            req.total = value

    @staticmethod
    def _int(name: str, value: str) -> int:
        if not value.isdigit() or len(value) > 9:
            raise BadRequest(f"{name} must be a non-negative whole number, not '{value[:40]}'")
        return int(value)

    def condition(self, res_type: str, name: str, value: str, *, depth: int) -> sa.ColumnElement:
        """One parameter (possibly chained or reverse-chained) as a condition on fhir_resource."""
        if depth > MAX_CHAIN_DEPTH:
            raise BadRequest(f"Chains may be at most {MAX_CHAIN_DEPTH} links long")
        if name.startswith("_has:"):
            return self._has(res_type, name, value, depth)
        if "." in name:
            return self._chain(res_type, name, value, depth)
        code, _, modifier = name.partition(":")
        if code == "_id":
            if modifier and modifier != "not":
                raise BadRequest(f"_id does not take the modifier ':{modifier[:40]}'")
            # _id is a token without a system, so '|id' means the same as 'id'.
            ids = [unescape(v[1:] if v.startswith("|") else v) for v in split_or(value)]
            cond = R.c.res_id.in_(ids)
            return sa.not_(cond) if modifier == "not" else cond
        param = get_param(res_type, code)
        if param is None:
            raise UnknownParameter(f"{res_type} has no search parameter '{code[:80]}'")
        if modifier == "missing":
            return self._missing(res_type, param, value)
        if modifier and modifier not in _MODIFIERS.get(param.type, set()):
            if param.type == "reference" and modifier in known_resource_types():
                return self._reference(res_type, param, value, target_type=modifier)
            raise BadRequest(f"The modifier ':{modifier[:40]}' is not supported on {param.type} parameter '{code}'")
        if param.type == "string":
            return self._string(res_type, param, value, modifier)
        if param.type == "token":
            return self._token(res_type, param, value, modifier)
        if param.type == "date":
            return self._date(res_type, param, value)
        if param.type == "number":
            return self._number(res_type, param, value)
        if param.type == "quantity":
            return self._quantity(res_type, param, value)
        if param.type == "reference":
            if modifier == "identifier":
                return self._token(res_type, param, value, None, index_param=f"{param.code}:identifier")
            return self._reference(res_type, param, value, target_type=None)
        if param.type == "uri":
            return self._uri(res_type, param, value, modifier)
        if param.type == "composite":
            return self._composite(res_type, param, value)
        raise BadRequest(f"Searching by '{code}' ({param.type}) is not supported")

    # -- parameter types ------------------------------------------------------------------

    def _in_index(self, kind: str, res_type: str, param: str, ors: list[sa.ColumnElement]) -> sa.ColumnElement:
        table = t.INDEX_TABLES[kind]
        return R.c.pk.in_(_index_subquery(table, res_type, param, sa.or_(*ors)))

    def _missing(self, res_type: str, param: SearchParam, value: str) -> sa.ColumnElement:
        if value not in ("true", "false"):
            raise BadRequest(f":missing takes true or false, not '{value[:40]}'")
        kind = param.type if param.type != "composite" else None
        if kind is None:
            table, pname = t.INDEX_TABLES[self._component_kind(res_type, param, 0)], f"{param.code}#0"
        else:
            table, pname = t.INDEX_TABLES[kind], param.code
        present = R.c.pk.in_(_index_subquery(table, res_type, pname, None))
        return sa.not_(present) if value == "true" else present

    def _string(self, res_type: str, param: SearchParam, value: str, modifier: str) -> sa.ColumnElement:
        c = t.idx_string.c
        ors = []
        for v in split_or(value):
            v = unescape(v)
            if modifier == "exact":
                ors.append(c.exact == v[:255])
            elif modifier == "contains":
                ors.append(c.value.like(f"%{like_escape(normalize_string(v))}%", escape="\\"))
            else:
                ors.append(c.value.like(f"{like_escape(normalize_string(v))}%", escape="\\"))
        return self._in_index("string", res_type, param.code, ors)

    def _token_match(self, c, v: str) -> sa.ColumnElement:
        if "|" in v.replace("\\|", ""):
            system, code = (unescape(p) for p in split_unescaped(v, "|", 1))
            if system == "":
                return sa.and_(c.system.is_(None), c.code == code)
            if code == "":
                return c.system == system
            return sa.and_(c.system == system, c.code == code)
        return c.code == unescape(v)

    def _token(
        self, res_type: str, param: SearchParam, value: str, modifier: str | None, *, index_param: str | None = None
    ) -> sa.ColumnElement:
        c = t.idx_token.c
        pname = index_param or param.code
        values = split_or(value)
        if modifier == "text":
            ors = []
            for v in values:
                # Match at the start of any word of the text: 'pressure' finds 'Systolic blood pressure'.
                word = like_escape(normalize_string(unescape(v)))
                ors += [c.text.like(f"{word}%", escape="\\"), c.text.like(f"% {word}%", escape="\\")]
            return self._in_index("token", res_type, pname, ors)
        if modifier == "of-type":
            ors = []
            for v in values:
                parts = split_unescaped(v, "|")
                if len(parts) != 3:
                    raise BadRequest(":of-type takes system|code|value")
                system, code, ident = (unescape(p) for p in parts)
                ors.append(sa.and_(c.system == system, c.code == f"{code}|{ident}"))
            return self._in_index("token", res_type, f"{pname}:of-type", ors)
        cond = self._in_index("token", res_type, pname, [self._token_match(c, v) for v in values])
        return sa.not_(cond) if modifier == "not" else cond

    def _date(self, res_type: str, param: SearchParam, value: str | list[str]) -> sa.ColumnElement:
        c = t.idx_date.c
        ands = []
        for one in [value] if isinstance(value, str) else value:
            ors = []
            for v in split_or(one):
                prefix, raw = split_prefix(v)
                try:
                    lo, hi = date_bounds(raw)
                except ValueError as exc:
                    raise BadRequest(f"'{raw[:40]}' is not a valid date for '{param.code}': {exc}") from exc
                approx = max(86400.0, abs(hi - lo) * 0.1)
                ors.append(range_condition(prefix, c.low, c.high, lo, hi, approx))
            ands.append(sa.or_(*ors))
        table = t.INDEX_TABLES["date"]
        return R.c.pk.in_(_index_subquery(table, res_type, param.code, sa.and_(*ands)))

    def _numeric(self, prefix: str, col, raw: str, pname: str) -> sa.ColumnElement:
        try:
            val, lo, hi = number_bounds(raw)
        except ValueError as exc:
            raise BadRequest(f"'{raw[:40]}' is not a number for '{pname}'") from exc
        if prefix == "eq":
            return sa.and_(col >= lo, col < hi)
        if prefix == "ne":
            return sa.or_(col < lo, col >= hi)
        if prefix in ("gt", "sa"):
            return col > val
        if prefix in ("lt", "eb"):
            return col < val
        if prefix == "ge":
            return col >= val
        if prefix == "le":
            return col <= val
        margin = abs(val) * 0.1
        return sa.and_(col >= val - margin, col <= val + margin)

    def _number(self, res_type: str, param: SearchParam, value: str) -> sa.ColumnElement:
        c = t.idx_number.c
        ors = [self._numeric(p, c.value, raw, param.code) for p, raw in map(split_prefix, split_or(value))]
        return self._in_index("number", res_type, param.code, ors)

    def _quantity_match(self, c, v: str, pname: str) -> sa.ColumnElement:
        parts = [unescape(p) for p in split_unescaped(v, "|")]
        if len(parts) not in (1, 3):
            raise BadRequest(f"A quantity for '{pname}' is number, or number|system|code")
        prefix, raw = split_prefix(parts[0])
        cond = self._numeric(prefix, c.value, raw, pname)
        if len(parts) == 3:
            system, code = parts[1], parts[2]
            if system:
                cond = sa.and_(cond, c.system == system)
            if code:
                cond = sa.and_(cond, sa.or_(c.code == code, c.unit == code))
        return cond

    def _quantity(self, res_type: str, param: SearchParam, value: str) -> sa.ColumnElement:
        c = t.idx_quantity.c
        ors = [self._quantity_match(c, v, param.code) for v in split_or(value)]
        return self._in_index("quantity", res_type, param.code, ors)

    def _reference_match(self, c, param: SearchParam, v: str, target_type: str | None) -> sa.ColumnElement:
        v = unescape(v)
        if self.base_url and v.startswith(self.base_url + "/"):
            v = v[len(self.base_url) + 1 :]
        if "://" in v or v.startswith("urn:"):
            return c.url == v
        parts = v.split("/")
        if len(parts) >= 4 and parts[-2] == "_history":
            parts = parts[:-2]
        if len(parts) == 2:
            rtype, rid = parts
            if target_type and rtype != target_type:
                raise BadRequest(f"'{v[:80]}' is not a {target_type} reference")
            return sa.and_(c.target_type == rtype, c.target_id == rid)
        if len(parts) == 1 and parts[0]:
            if target_type:
                return sa.and_(c.target_type == target_type, c.target_id == parts[0])
            return c.target_id == parts[0]
        raise BadRequest(f"'{v[:80]}' is not a reference (Type/id, id or an absolute URL)")

    def _reference(self, res_type: str, param: SearchParam, value: str, target_type: str | None) -> sa.ColumnElement:
        c = t.idx_reference.c
        ors = [self._reference_match(c, param, v, target_type) for v in split_or(value)]
        return self._in_index("reference", res_type, param.code, ors)

    def _uri(self, res_type: str, param: SearchParam, value: str, modifier: str | None) -> sa.ColumnElement:
        c = t.idx_uri.c
        ors = []
        for v in split_or(value):
            v = unescape(v)
            if modifier == "below":
                ors.append(c.value.like(f"{like_escape(v)}%", escape="\\"))
            elif modifier == "above":
                prefixes = [v[: m.start()] for m in re.finditer(r"/|$", v)]
                ors.append(c.value.in_(prefixes))
            else:
                ors.append(c.value == v)
        return self._in_index("uri", res_type, param.code, ors)

    def _component_kind(self, res_type: str, param: SearchParam, i: int) -> str:
        kind = param.components[i].type
        if kind not in t.INDEX_TABLES:
            raise BadRequest(f"Composite '{param.code}' has a component of unsupported type {kind}")
        return kind

    def _component_match(self, kind: str, c, part: str, param: SearchParam) -> sa.ColumnElement:
        if kind == "token":
            return self._token_match(c, part)
        if kind == "quantity":
            return self._quantity_match(c, part, param.code)
        if kind == "string":
            return c.value.like(f"{like_escape(normalize_string(unescape(part)))}%", escape="\\")
        if kind == "date":
            prefix, raw = split_prefix(part)
            try:
                lo, hi = date_bounds(raw)
            except ValueError as exc:
                raise BadRequest(f"'{raw[:40]}' is not a valid date for '{param.code}': {exc}") from exc
            return range_condition(prefix, c.low, c.high, lo, hi, 86400.0)
        if kind == "number":
            prefix, raw = split_prefix(part)
            return self._numeric(prefix, c.value, raw, param.code)
        if kind == "reference":
            return self._reference_match(c, param, part, None)
        return c.value == unescape(part)

    def _composite(self, res_type: str, param: SearchParam, value: str) -> sa.ColumnElement:
        ors = []
        for v in split_or(value):
            parts = split_unescaped(v, "$")
            if len(parts) != len(param.components):
                raise BadRequest(
                    f"'{param.code}' takes {len(param.components)} values joined by '$', not {len(parts)}"
                )
            aliases = [
                t.INDEX_TABLES[self._component_kind(res_type, param, i)].alias(f"comp{i}") for i in range(len(parts))
            ]
            first = aliases[0]
            query = sa.select(first.c.res_pk).select_from(first)
            conds = []
            for i, (alias, part) in enumerate(zip(aliases, parts, strict=True)):
                kind = self._component_kind(res_type, param, i)
                c = alias.c
                conds.append(c.res_type == res_type)
                conds.append(c.param == f"{param.code}#{i}")
                conds.append(self._component_match(kind, c, part, param))
                if i:
                    query = query.join(alias, sa.and_(c.res_pk == first.c.res_pk, c.grp == first.c.grp))
            ors.append(R.c.pk.in_(query.where(*conds)))
        return sa.or_(*ors)

    # -- chains ---------------------------------------------------------------------------

    def _chain(self, res_type: str, name: str, value: str, depth: int) -> sa.ColumnElement:
        head, _, rest = name.partition(".")
        code, _, target = head.partition(":")
        param = get_param(res_type, code)
        if param is None:
            raise UnknownParameter(f"{res_type} has no search parameter '{code[:80]}'")
        if param.type != "reference":
            raise BadRequest(f"'{code}' is not a reference parameter, so it cannot be chained")
        targets = [target] if target else list(param.targets)
        if target and target not in param.targets:
            raise BadRequest(f"'{code}' cannot refer to a {target[:64]}")
        ors = []
        for ttype in targets:
            if ttype not in known_resource_types():
                continue
            try:
                inner = self.condition(ttype, rest, value, depth=depth + 1)
            except UnknownParameter:
                if len(targets) == 1:
                    raise
                continue
            r2 = R.alias(f"chain{depth}_{ttype}")
            inner = _rebind(inner, r2)
            ids = sa.select(r2.c.res_id).where(r2.c.res_type == ttype, r2.c.deleted.is_(False), inner)
            c = t.idx_reference.c
            ors.append(sa.and_(c.target_type == ttype, c.target_id.in_(ids)))
        if not ors:
            raise UnknownParameter(f"No target of '{code}' has a search parameter '{rest[:80]}'")
        return self._in_index("reference", res_type, code, ors)

    def _has(self, res_type: str, name: str, value: str, depth: int) -> sa.ColumnElement:
        parts = name.split(":", 3)
        if len(parts) != 4:
            raise BadRequest("_has looks like _has:Type:referenceParam:param=value")
        _, src_type, ref_code, rest = parts
        if src_type not in known_resource_types():
            raise BadRequest(f"_has: unknown resource type '{src_type[:64]}'")
        ref = get_param(src_type, ref_code)
        if ref is None or ref.type != "reference":
            raise BadRequest(f"_has: {src_type} has no reference parameter '{ref_code[:80]}'")
        inner = self.condition(src_type, rest, value, depth=depth + 1)
        r2 = R.alias(f"has{depth}")
        inner = _rebind(inner, r2)
        c = t.idx_reference.c
        ids = (
            sa.select(c.target_id)
            .join(r2, r2.c.pk == c.res_pk)
            .where(c.res_type == src_type, c.param == ref_code, c.target_type == res_type)
            .where(r2.c.deleted.is_(False), inner)
        )
        return R.c.res_id.in_(ids)


def _pk_subquery(cond: sa.ColumnElement) -> sa.Select | None:
    """The index subquery of a condition of the form `fhir_resource.pk IN (select res_pk ...)`."""
    if (
        isinstance(cond, BinaryExpression)
        and cond.operator is operators.in_op
        and cond.left is R.c.pk
        and isinstance(cond.right, ScalarSelect | Grouping)
    ):
        inner = cond.right.element
        return inner if isinstance(inner, sa.Select) else None
    return None


def _rebind(cond: sa.ColumnElement, alias: sa.FromClause) -> sa.ColumnElement:
    """Point a condition written against fhir_resource at an alias of it (for nested queries)."""
    from sqlalchemy.sql.util import ClauseAdapter

    return ClauseAdapter(alias).traverse(cond)
