"""Run a parsed search: filter, sort, page, count, and gather _include/_revinclude resources."""

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import access
from smartcare.fhir import tables as t
from smartcare.fhir.errors import BadRequest, Forbidden, NotFound
from smartcare.fhir.search.query import TOTAL_COUNT_LIMIT, SearchRequest
from smartcare.fhir.search.registry import get_param, params_for
from smartcare.fhir.store import Stored
from smartcare.platform.security.context import AccessContext

R = t.resource
MAX_INCLUDED = 1000
MAX_ITERATE_ROUNDS = 4


@dataclass(slots=True)
class SearchResult:
    """One page of matches, the resources included with them, and the total when counted."""

    matches: list[Stored]
    included: list[Stored] = field(default_factory=list)
    total: int | None = None
    has_next: bool = False


def restriction(ctx: AccessContext, res_type: str, table: sa.FromClause = R, *,
                patient: str | None = None) -> sa.ColumnElement | None:
    """The access policy's SQL limit on what ctx may see of res_type; Forbidden if nothing at all."""
    return access.search_restriction(ctx, res_type, table, patient=patient)


def _index_pks(req: SearchRequest) -> sa.Select | sa.CompoundSelect | None:
    """res_pk of the resources matching every index condition, distinct; None if there are none."""
    if not req.pk_sets:
        return None
    if len(req.pk_sets) == 1:
        return req.pk_sets[0].distinct()
    return sa.intersect(*req.pk_sets)


def base_query(req: SearchRequest, limit: sa.ColumnElement | None) -> sa.Select:
    """The filtered selection of fhir_resource rows the request matches (no order, no paging), within limit (the
    access policy's restriction, built once per search by the caller)."""
    # The policy's condition already names only rows of res_type (pks of that type's compartment
    # members), so the type test is left to it: next to it, SQLite chose the res_type index and
    # walked every row of the type instead of the few pks in reach.
    q = sa.select(R.c.pk).where(R.c.deleted.is_(False), *req.where)
    q = q.where(R.c.res_type == req.res_type) if limit is None else q.where(limit)
    pks = _index_pks(req)
    if pks is not None:
        q = q.where(R.c.pk.in_(pks))
    return q


def _sort_key(req: SearchRequest, code: str, desc: bool) -> sa.ColumnElement:
    if code == "_id":
        return R.c.res_id
    if code == "_lastUpdated":
        return R.c.last_updated
    param = get_param(req.res_type, code)
    kind = param.type
    if kind not in ("string", "token", "date", "number", "quantity", "uri", "reference"):
        raise BadRequest(f"Cannot sort by {kind} parameter '{code}'")
    table = t.INDEX_TABLES[kind]
    column = {
        "string": table.c.get("value"),
        "token": table.c.get("code"),
        "date": table.c.get("high") if desc else table.c.get("low"),
        "number": table.c.get("value"),
        "quantity": table.c.get("value"),
        "uri": table.c.get("value"),
        "reference": table.c.get("target_id"),
    }[kind]
    agg = sa.func.max(column) if desc else sa.func.min(column)
    return (
        sa.select(agg)
        .where(table.c.res_pk == R.c.pk, table.c.param == code)
        .scalar_subquery()
    )


def run_search(conn: Connection, ctx: AccessContext, req: SearchRequest) -> SearchResult:
    """Execute a search and return the requested page."""
    limit = restriction(ctx, req.res_type, R, patient=req.patient)
    pks = _index_pks(req)
    # Answered from the indexes alone when every condition is an index condition: counting and
    # paging then never touch fhir_resource rows that are not on the page.
    index_only = pks is not None and not req.where and limit is None
    filtered = base_query(req, limit)
    total = None
    if req.total != "none" or req.summary == "count":
        counted = pks if index_only else filtered
        # Without _total, count only as far as is cheap: counting every one of tens of thousands
        # of matches costs more than the page itself. _total=accurate (or _summary=count) always counts.
        capped = req.total == "auto" and req.summary != "count"
        if capped:
            counted = counted.limit(TOTAL_COUNT_LIMIT + 1)
        total = conn.execute(sa.select(sa.func.count()).select_from(counted.subquery())).scalar_one()
        if capped and total > TOTAL_COUNT_LIMIT:
            total = None
    if req.summary == "count" or req.count == 0:
        return SearchResult(matches=[], total=total)
    columns = (R.c.pk, R.c.res_type, R.c.res_id, R.c.version, R.c.last_updated, R.c.content)
    if req.sort:
        order = []
        for code, desc in req.sort:
            key = _sort_key(req, code, desc)
            order.append(key.desc().nulls_last() if desc else key.asc().nulls_last())
        order.append(R.c.pk.asc())
        page = sa.select(*columns).where(R.c.pk.in_(filtered)).order_by(*order)
    elif index_only:
        if len(req.pk_sets) == 1:
            # Ordered straight off the index, so the database reads only the page's entries.
            only = req.pk_sets[0]
            window = only.distinct().order_by(only.selected_columns[0].desc())
        else:
            first = pks.subquery().c[0]
            window = sa.select(first).order_by(first.desc())
        window = window.limit(req.count + 1).offset(req.offset)
        page = sa.select(*columns).where(R.c.pk.in_(window)).order_by(R.c.pk.desc())
        rows = conn.execute(page).all()
        return _page(conn, ctx, req, rows, total)
    else:
        # Without _sort, newest first by creation: the primary key gives a stable order for paging.
        page = sa.select(*columns).where(R.c.pk.in_(filtered)).order_by(R.c.pk.desc())
    rows = conn.execute(page.limit(req.count + 1).offset(req.offset)).all()
    return _page(conn, ctx, req, rows, total)


def _page(conn: Connection, ctx: AccessContext, req: SearchRequest, rows: list, total: int | None) -> SearchResult:
    has_next = len(rows) > req.count
    rows = rows[: req.count]
    matches = [Stored(r.res_type, r.res_id, r.version, r.last_updated, False, r.content) for r in rows]
    included = _includes(conn, ctx, req, rows, {r.pk for r in rows}) if (req.includes or req.revincludes) else []
    return SearchResult(matches=matches, included=included, total=total, has_next=has_next)


def _fetch(conn: Connection, ctx: AccessContext, query: sa.Select | sa.CompoundSelect,
           seen: set[int]) -> list[sa.Row]:
    """The rows query finds that ctx may see and that are not already in the bundle.

    The policy is asked once per resource type for all the candidate rows together, not row by row.
    """
    candidates = [row for row in conn.execute(query.limit(MAX_INCLUDED)) if row.pk not in seen]
    allowed: set[int] = set()
    by_type: dict[str, list[int]] = {}
    for row in candidates:
        by_type.setdefault(row.res_type, []).append(row.pk)
    for res_type, pks in by_type.items():
        try:
            limit = restriction(ctx, res_type, R)
        except (Forbidden, NotFound):
            # A type the caller's role may not see at all (a pharmacist and Encounters) is left out of
            # the includes; the search itself was allowed.
            continue
        if limit is None:
            allowed.update(pks)
        else:
            allowed.update(conn.execute(sa.select(R.c.pk).where(R.c.pk.in_(pks), limit)).scalars())
    out = []
    for row in candidates:
        if row.pk in allowed and row.pk not in seen:
            seen.add(row.pk)
            out.append(row)
    return out


def _includes(conn: Connection, ctx: AccessContext, req: SearchRequest, rows: list, seen: set[int]) -> list[Stored]:
    cols = (R.c.pk, R.c.res_type, R.c.res_id, R.c.version, R.c.last_updated, R.c.content)
    ref = t.idx_reference.c
    found: list[sa.Row] = []
    frontier = list(rows)
    for round_no in range(MAX_ITERATE_ROUNDS):
        if not frontier:
            break
        queries: list[sa.Select] = []
        frontier_pks = [r.pk for r in frontier]
        by_type: dict[str, list[str]] = {}
        for r in frontier:
            by_type.setdefault(r.res_type, []).append(r.res_id)
        for src, code, target, iterate in req.includes:
            if round_no > 0 and not iterate:
                continue
            codes = list(params_for(src)) if code == "*" else [code]
            q = (
                sa.select(*cols)
                .join(t.idx_reference, sa.and_(R.c.res_type == ref.target_type, R.c.res_id == ref.target_id))
                .where(ref.res_pk.in_(frontier_pks), ref.res_type == src, ref.param.in_(codes))
                .where(R.c.deleted.is_(False))
            )
            if target:
                q = q.where(ref.target_type == target)
            queries.append(q)
        for src, code, target, iterate in req.revincludes:
            if round_no > 0 and not iterate:
                continue
            for rtype, ids in by_type.items():
                if target and target != rtype:
                    continue
                q = (
                    sa.select(*cols)
                    .join(t.idx_reference, R.c.pk == ref.res_pk)
                    .where(ref.res_type == src, ref.target_type == rtype, ref.target_id.in_(ids))
                    .where(R.c.deleted.is_(False))
                )
                if code != "*":
                    q = q.where(ref.param == code)
                queries.append(q)
        # Every _include and _revinclude of a round in one statement: one round trip instead of one each.
        new: list[sa.Row] = []
        if queries:
            new = _fetch(conn, ctx, queries[0] if len(queries) == 1 else sa.union_all(*queries), seen)
        found += new
        frontier = new
        if len(found) >= MAX_INCLUDED:
            break
    return [Stored(r.res_type, r.res_id, r.version, r.last_updated, False, r.content) for r in found]
