"""The FHIR store's write and read paths: validate, version, index, keep history, raise events.

Every function takes the caller's AccessContext and a Connection inside a unit of work; the
caller's boundary commits. Writes go through `write_batch`, so a single create and a
100-entry transaction bundle share one code path and the bundle's rows are inserted in bulk.
"""

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from smartcare.fhir import access
from smartcare.fhir import tables as t
from smartcare.fhir.errors import (
    BadRequest,
    Conflict,
    Gone,
    InvalidResource,
    NotFound,
    PreconditionFailed,
)
from smartcare.fhir.search.extract import extract_index_rows
from smartcare.fhir.validation import known_resource_types, validate_resource
from smartcare.platform import clock
from smartcare.platform.db import pending_events, run_prepared
from smartcare.platform.events import DomainEvent
from smartcare.platform.security import sensitivity
from smartcare.platform.security.context import AccessContext

_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")


@dataclass(slots=True)
class Stored:
    """One version of a resource as the store holds it."""

    res_type: str
    res_id: str
    version: int
    last_updated: str
    deleted: bool
    resource: dict[str, Any] | None
    created: bool = False
    method: str = "GET"

    @property
    def etag(self) -> str:
        """The weak ETag of this version, W/"n"."""
        return f'W/"{self.version}"'

    @property
    def reference(self) -> str:
        """Type/id of this resource."""
        return f"{self.res_type}/{self.res_id}"


@dataclass(slots=True)
class Write:
    """A requested write: create, update (PUT/PATCH) or delete of one resource."""

    method: str  # POST, PUT, PATCH, DELETE
    res_type: str
    res_id: str
    resource: dict[str, Any] | None = None
    if_match: int | None = None
    # Who writes this one, when one batch carries several writers' resources (device readings taken together);
    # None: the batch's context.
    ctx: AccessContext | None = None


def new_id() -> str:
    """A fresh server-assigned logical id."""
    return str(uuid.uuid4())




def check_type(res_type: str) -> None:
    """Raise NotFound unless res_type is an R4 resource type this server stores."""
    if res_type not in known_resource_types():
        raise NotFound(f"Unknown resource type '{res_type}'")


def check_id(res_id: str) -> None:
    """Raise BadRequest unless res_id is a valid FHIR logical id."""
    if not res_id or len(res_id) > 64 or not _ID_CHARS.issuperset(res_id):
        raise BadRequest(f"'{res_id[:80]}' is not a valid id: 1-64 letters, digits, '-' or '.'")


def validate(resource: Any, *, res_type: str | None = None) -> None:
    """Raise InvalidResource (with one issue per problem) unless resource is valid R4."""
    if not isinstance(resource, dict):
        raise InvalidResource("The body must be a JSON object holding one FHIR resource")
    if res_type is not None and resource.get("resourceType") != res_type:
        raise InvalidResource(
            f"resourceType '{resource.get('resourceType')}' does not match the URL's type '{res_type}'",
            issues=[
                {
                    "severity": "error",
                    "code": "invalid",
                    "diagnostics": f"resourceType must be '{res_type}'",
                    "expression": ["resourceType"],
                }
            ],
        )
    problems = [i for i in validate_resource(resource) if i.severity == "error"]
    if problems:
        raise InvalidResource(
            "; ".join(p.diagnostics for p in problems[:5]),
            issues=[
                {"severity": "error", "code": p.code, "diagnostics": p.diagnostics, "expression": [p.expression]}
                for p in problems
            ],
        )


def _rows_by_key(conn: Connection, keys: list[tuple[str, str]], columns: str) -> list[tuple]:
    """(res_type, res_id, *columns) of fhir_resource rows for (type, id) keys: one indexed query per type.

    Plain driver SQL: with SQLAlchemy's expanding IN this lookup cost milliseconds per bundle.
    """
    by_type: dict[str, list[str]] = {}
    for res_type, res_id in keys:
        by_type.setdefault(res_type, []).append(res_id)
    out: list[tuple] = []
    pg = conn.dialect.name == "postgresql"
    for res_type, ids in by_type.items():
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            if pg:
                sql = f"SELECT res_type, res_id, {columns} FROM fhir_resource WHERE res_type = %s AND res_id = ANY(%s)"  # noqa: S608
                params: tuple = (res_type, chunk)
            else:
                marks = ", ".join("?" * len(chunk))
                sql = f"SELECT res_type, res_id, {columns} FROM fhir_resource WHERE res_type = ? AND res_id IN ({marks})"  # noqa: S608
                params = (res_type, *chunk)
            out.extend(conn.exec_driver_sql(sql, params).all())
    return out


def _current_rows(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], sa.Row]:
    rows = _rows_by_key(conn, keys, "pk, version, deleted")
    return {(row.res_type, row.res_id): row for row in rows}


def write_batch(conn: Connection, ctx: AccessContext, writes: list[Write]) -> list[Stored]:
    """Apply writes in one go (validated, versioned, indexed, recorded in history); return the results."""
    if not writes:
        return []
    keys = [(w.res_type, w.res_id) for w in writes]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise BadRequest(f"{dup[0]}/{dup[1]} is written more than once in the same request")
    for w in writes:
        check_type(w.res_type)
        check_id(w.res_id)
        if w.method != "DELETE":
            validate(w.resource, res_type=w.res_type)
            body_id = w.resource.get("id")
            if w.method != "POST" and body_id is not None and body_id != w.res_id:
                raise BadRequest(f"The resource id '{body_id}' does not match the URL's id '{w.res_id}'")
    # A POST's id was minted for it just now: no stored row can have it, so there is nothing to look up.
    current = _current_rows(conn, [k for k, w in zip(keys, writes, strict=True) if w.method != "POST"])
    stamp = clock.format_instant(clock.now())
    results: list[Stored] = []
    new_rows: list[dict] = []
    updates: list[dict] = []
    history_rows: list[tuple[Write, Stored]] = []
    texts: dict[tuple[str, str], str | None] = {}
    for w in writes:
        row = current.get((w.res_type, w.res_id))
        exists = row is not None and not row.deleted
        action = {"DELETE": "delete", "POST": "create"}.get(w.method, "update" if exists else "create")
        access.check_write(conn, w.ctx or ctx, action, w.res_type, w.resource, row.pk if exists else None)
        if w.if_match is not None and (row is None or row.version != w.if_match or row.deleted):
            have = "none" if row is None else str(row.version)
            raise PreconditionFailed(
                f"{w.res_type}/{w.res_id}: If-Match asked for version {w.if_match}, the current version is {have}"
            )
        if w.method == "DELETE":
            if not exists:
                results.append(Stored(w.res_type, w.res_id, row.version if row else 0, stamp, True, None, method="DELETE"))
                continue
            stored = Stored(w.res_type, w.res_id, row.version + 1, stamp, True, None, method="DELETE")
        else:
            version = 1 if row is None else row.version + 1
            resource = _stamped(w.resource, w.res_id, version, stamp)
            stored = Stored(w.res_type, w.res_id, version, stamp, False, resource, created=not exists, method=w.method)
        values = {
            "res_type": w.res_type,
            "res_id": w.res_id,
            "version": stored.version,
            "last_updated": stamp,
            "deleted": stored.deleted,
            "source": _source(w.ctx or ctx, stored.resource),
            "content": stored.resource,
        }
        # Serialised once, for the current row and the history row alike.
        texts[(w.res_type, w.res_id)] = _json(stored.resource)
        if row is None:
            new_rows.append(values)
        else:
            updates.append({**values, "b_pk": row.pk, "b_version": row.version})
        results.append(stored)
        history_rows.append((w, stored))
    if not updates and not _create_in_one_statement(conn, ctx, new_rows, history_rows, texts):
        pks = _save_current(conn, new_rows, updates, texts)
        _save_history(conn, ctx, history_rows, pks, texts)
        _reindex(conn, [], history_rows, pks)
    elif updates:
        pks = _save_current(conn, new_rows, updates, texts)
        _save_history(conn, ctx, history_rows, pks, texts)
        _reindex(conn, [u["b_pk"] for u in updates], history_rows, pks)
    events = pending_events(conn)
    for _w, s in history_rows:
        name = "ResourceDeleted" if s.deleted else ("ResourceCreated" if s.created else "ResourceUpdated")
        events.append(DomainEvent(name, {"type": s.res_type, "id": s.res_id, "version": s.version}))
    return results


def _stamped(resource: dict, res_id: str, version: int, stamp: str) -> dict:
    out = dict(resource)
    out["id"] = res_id
    meta = dict(out.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = stamp
    out["meta"] = meta
    sensitivity.label(out)  # HL7 sensitivity labels its codes call for (a resident may withhold those categories)
    # Keep resourceType first, as FHIR JSON is conventionally written.
    return {"resourceType": out.pop("resourceType"), **out}


def _source(ctx: AccessContext, resource: dict | None) -> str | None:
    """The sender of a stamped resource (the fhir_resource.source column), also written into its meta.source.

    A writer acting for an organisation sends as that organisation ("Organization/<id>"), whatever
    the body said; other users (patients, caregivers) send as nobody; the platform and backend
    clients without an organisation keep the meta.source they give (ingest names the institution).
    """
    if resource is None:
        return None
    meta = resource["meta"]
    if ctx.organization:
        meta["source"] = ctx.organization
    elif ctx.kind == "user":
        meta.pop("source", None)
    src = meta.get("source")
    return src[:255] if isinstance(src, str) else None


def _insert_many(conn: Connection, table: str, columns: list[str], rows: list[tuple]) -> None:
    """Insert value tuples straight through the driver: COPY on PostgreSQL, executemany on SQLite.

    Ingest writes tens of rows per resource; handing them to the driver in bulk is several times
    faster than per-row parameter processing in SQLAlchemy.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.dbapi_connection.cursor()
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
    conn.exec_driver_sql(sql, rows)


# Above these sizes a create goes the bulk way (COPY), which ingest needs; below, one statement is cheaper.
ONE_STATEMENT_MAX_RESOURCES = 20
ONE_STATEMENT_MAX_BYTES = 1_000_000


def _index_batches(items: list[tuple[Write, Stored]], pk_of: Callable[[Stored], Any]) -> dict[str, list[tuple]]:
    """The index rows of the stored resources by index kind, each row headed by pk_of(resource) and its type."""
    batches: dict[str, list[tuple]] = {kind: [] for kind in t.INDEX_TABLES}
    getters = {kind: _row_getter(kind) for kind in t.INDEX_TABLES}
    for _w, s in items:
        if s.deleted:
            continue
        head = (pk_of(s), s.res_type)
        for kind, rows in extract_index_rows(s.resource).items():
            getter = getters[kind]
            batches[kind].extend(head + getter(row) for row in rows)
    return batches


_PG_TYPES = {sa.Integer: "integer", sa.BigInteger: "bigint", sa.Float: "float8", sa.Boolean: "boolean"}


@cache
def _recordset(table_name: str, columns: tuple[str, ...]) -> str:
    """`jsonb_to_recordset(%s::jsonb) AS x(...)` typed as table's columns (text for strings, jsonb for JSON)."""
    table = t.metadata.tables[table_name]
    types = []
    for name in columns:
        column_type = table.c[name].type if name in table.c else sa.String()
        pg = next((v for k, v in _PG_TYPES.items() if isinstance(column_type, k)), None)
        if isinstance(column_type, sa.JSON) or name == "content":
            pg = "jsonb"
        types.append(f'"{name}" {pg or "text"}')
    return f"jsonb_to_recordset(%s::jsonb) AS x({', '.join(types)})"


def _insert_from_json(name: str, table: str, columns: list[str], *, joined: bool) -> str:
    """`name AS (INSERT INTO table ...)` taking its rows from one JSON parameter; joined rows get created's pk."""
    quoted = [f'"{c}"' for c in columns]
    if not joined:
        return (f"{name} AS (INSERT INTO {table} ({', '.join(quoted)}) "  # noqa: S608 (names from our metadata)
                f"SELECT {', '.join('x.' + q for q in quoted)} FROM {_recordset(table, tuple(columns))} "
                "RETURNING pk, res_type, res_id)")
    pk = "pk" if table == "fhir_resource_history" else "res_pk"
    return (f"{name} AS (INSERT INTO {table} ({pk}, {', '.join(quoted)}) "  # noqa: S608 (names from our metadata)
            f"SELECT c.pk, {', '.join('x.' + q for q in quoted)} FROM {_recordset(table, tuple(dict.fromkeys(('res_id', *columns))))} "
            "JOIN created c ON c.res_type = x.res_type AND c.res_id = x.res_id)")


@cache
def _create_sql(kinds: tuple[str, ...]) -> str:
    """The one statement that creates resources with their history and the index rows of kinds.

    Each part reads its rows from one JSON parameter, so the text depends only on which index
    tables get rows: it stays short, and the driver and the database reuse its parse and plan.
    """
    parts = [
        _insert_from_json("created", "fhir_resource", [c.name for c in t.resource.columns if c.name != "pk"],
                          joined=False),
        _insert_from_json("history", "fhir_resource_history", list(HISTORY_FIELDS), joined=True),
        *[_insert_from_json(f"idx_{kind}", t.INDEX_TABLES[kind].name,
                            [c.name for c in t.INDEX_TABLES[kind].columns][1:], joined=True) for kind in kinds],
    ]
    return "WITH " + ", ".join(parts) + " SELECT count(*) FROM created"  # noqa: S608 (names from our metadata)


HISTORY_FIELDS = ("res_type", "res_id", "version", "last_updated", "deleted", "method", "author", "content")


def _json_number(value: Any) -> Any:
    """A value for the JSON parameter: open date ranges are +-infinity, which JSON has no number for, so they
    go as the text PostgreSQL reads as float8 infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _create_in_one_statement(conn: Connection, ctx: AccessContext, new_rows: list[dict],
                             items: list[tuple[Write, Stored]], texts: dict) -> bool:
    """On PostgreSQL, insert a few new resources, their history and index rows in one statement; False if not done.

    A booking writes one Appointment: as COPY per table that was nine round trips, each costing the
    server and the database more than the rows themselves. Data-modifying WITH clauses share the new
    rows' pks through RETURNING, so the whole create is one round trip and still all-or-nothing.
    """
    if conn.dialect.name != "postgresql" or not new_rows or len(new_rows) > ONE_STATEMENT_MAX_RESOURCES:
        return False
    resources = [{**{k: v for k, v in row.items() if k != "content"},
                  "content": orjson.Fragment(texts[(row["res_type"], row["res_id"])])} for row in new_rows]
    history = [dict(zip(HISTORY_FIELDS, (s.res_type, s.res_id, s.version, s.last_updated, s.deleted, w.method,
                                         (w.ctx or ctx).author[:255],
                                         orjson.Fragment(texts[(s.res_type, s.res_id)])), strict=True))
               for w, s in items]
    batches = _index_batches(items, lambda s: s.res_id)
    kinds = tuple(kind for kind, rows in batches.items() if rows)
    params: list[bytes] = [orjson.dumps(resources), orjson.dumps(history)]
    for kind in kinds:
        names = ["res_id", *[str(c.name) for c in t.INDEX_TABLES[kind].columns][1:]]
        params.append(orjson.dumps([dict(zip(names, map(_json_number, row), strict=True)) for row in batches[kind]]))
    if sum(len(p) for p in params) > ONE_STATEMENT_MAX_BYTES:
        return False
    try:  # no savepoint, as on the bulk path: every caller rolls its transaction back on a Conflict
        run_prepared(conn, _create_sql(kinds), tuple(p.decode() for p in params))
    except IntegrityError as exc:
        raise Conflict("Another request created the same resource at the same time; try again") from exc
    return True


def _json(value: dict | None) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _save_current(
    conn: Connection, new_rows: list[dict], updates: list[dict], texts: dict[tuple[str, str], str | None]
) -> dict[tuple[str, str], int]:
    pks: dict[tuple[str, str], int] = {}
    if new_rows:
        cols = [c.name for c in t.resource.columns if c.name != "pk"]
        values = [
            tuple(texts[(v["res_type"], v["res_id"])] if c == "content" else v[c] for c in cols) for v in new_rows
        ]
        try:
            _insert_many(conn, "fhir_resource", cols, values)
        except IntegrityError as exc:
            raise Conflict("Another request created the same resource at the same time; try again") from exc
        keys = [(v["res_type"], v["res_id"]) for v in new_rows]
        for res_type, res_id, pk in _rows_by_key(conn, keys, "pk"):
            pks[(res_type, res_id)] = pk
    if updates:
        r = t.resource.c
        stmt = (
            t.resource.update()
            .where(r.pk == sa.bindparam("b_pk"), r.version == sa.bindparam("b_version"))
            .values(
                version=sa.bindparam("version"),
                last_updated=sa.bindparam("last_updated"),
                deleted=sa.bindparam("deleted"),
                source=sa.bindparam("source"),
                content=sa.bindparam("content"),
            )
        )
        params = [{k: v for k, v in u.items() if k not in ("res_type", "res_id")} for u in updates]
        result = conn.execute(stmt, params)
        if result.rowcount != len(updates):
            raise PreconditionFailed("The resource was changed by another request at the same time; read it again")
        for u in updates:
            pks[(u["res_type"], u["res_id"])] = u["b_pk"]
    return pks


def _save_history(
    conn: Connection, ctx: AccessContext, items: list[tuple[Write, Stored]], pks: dict, texts: dict
) -> None:
    rows = [
        (pks[(s.res_type, s.res_id)], s.res_type, s.res_id, s.version, s.last_updated, s.deleted, w.method,
         (w.ctx or ctx).author[:255],
         texts[(s.res_type, s.res_id)])
        for w, s in items
    ]
    cols = ["pk", "res_type", "res_id", "version", "last_updated", "deleted", "method", "author", "content"]
    try:
        _insert_many(conn, "fhir_resource_history", cols, rows)
    except IntegrityError as exc:
        raise PreconditionFailed("The resource was changed by another request at the same time") from exc


@cache
def _row_getter(kind: str) -> Callable[[dict], tuple]:
    """Turns an extracted index row dict into its values in table column order (after res_pk, res_type)."""
    return itemgetter(*[c.name for c in t.INDEX_TABLES[kind].columns][2:])


def _reindex(conn: Connection, old_pks: list[int], items: list[tuple[Write, Stored]], pks: dict) -> None:
    if old_pks:
        for table in t.INDEX_TABLES.values():
            for start in range(0, len(old_pks), 500):
                conn.execute(table.delete().where(table.c.res_pk.in_(old_pks[start : start + 500])))
    batches = _index_batches(items, lambda s: pks[(s.res_type, s.res_id)])
    for kind, rows in batches.items():
        table = t.INDEX_TABLES[kind]
        _insert_many(conn, table.name, [c.name for c in table.columns], rows)


def create(conn: Connection, ctx: AccessContext, resource: dict, *, res_type: str | None = None) -> Stored:
    """Create a resource with a server-assigned id (any id in the body is ignored, as FHIR says)."""
    if not isinstance(resource, dict):
        raise InvalidResource("The body must be a JSON object holding one FHIR resource")
    res_type = res_type or str(resource.get("resourceType") or "")
    check_type(res_type)
    return write_batch(conn, ctx, [Write("POST", res_type, new_id(), resource)])[0]


def update(
    conn: Connection, ctx: AccessContext, resource: dict, *, res_type: str, res_id: str, if_match: int | None = None
) -> Stored:
    """Update (or create with the client's id) a resource; If-Match guards against lost updates."""
    if isinstance(resource, dict) and "id" not in resource:
        raise BadRequest("An update must carry the resource's id in the body")
    return write_batch(conn, ctx, [Write("PUT", res_type, res_id, resource, if_match)])[0]


def delete(conn: Connection, ctx: AccessContext, *, res_type: str, res_id: str, if_match: int | None = None) -> Stored:
    """Delete a resource (a new, deleted version; history keeps the old ones)."""
    return write_batch(conn, ctx, [Write("DELETE", res_type, res_id, None, if_match)])[0]


def read(conn: Connection, ctx: AccessContext, *, res_type: str, res_id: str) -> Stored:
    """The current version of a resource; NotFound if it never existed (or is out of reach), Gone if deleted."""
    check_type(res_type)
    r = t.resource.c
    row = conn.execute(
        sa.select(r.pk, r.version, r.last_updated, r.deleted, r.content).where(
            r.res_type == res_type, r.res_id == res_id
        )
    ).first()
    if row is None:
        access.decision(ctx, "read", res_type)
        raise NotFound(f"{res_type}/{res_id[:64]} is not known")
    if row.deleted:
        access.decision(ctx, "read", res_type)
        raise Gone(f"{res_type}/{res_id} was deleted (version {row.version})")
    access.check_row(conn, ctx, "read", res_type, row.pk, res_id=res_id)
    return Stored(res_type, res_id, row.version, row.last_updated, False, row.content)


def vread(conn: Connection, ctx: AccessContext, *, res_type: str, res_id: str, version: int) -> Stored:
    """One version of a resource from its history (only while the resource is in the caller's reach)."""
    check_type(res_type)
    h = t.history.c
    row = conn.execute(
        sa.select(h.pk, h.version, h.last_updated, h.deleted, h.content).where(
            h.res_type == res_type, h.res_id == res_id, h.version == version
        )
    ).first()
    if row is None:
        access.decision(ctx, "vread", res_type)
        raise NotFound(f"{res_type}/{res_id[:64]} has no version {version}")
    access.check_row(conn, ctx, "vread", res_type, row.pk)
    if row.deleted:
        raise Gone(f"Version {version} of {res_type}/{res_id} is a deletion")
    return Stored(res_type, res_id, row.version, row.last_updated, False, row.content)
