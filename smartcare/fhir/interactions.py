"""FHIR RESTful interactions over the store: what each method and path means, independent of HTTP.

`dispatch` is used by the REST API and by batch/transaction bundle entries alike, so a bundle
entry behaves exactly like the same request sent on its own.
"""

import re
from datetime import datetime
from email.utils import format_datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir import history as hist
from smartcare.fhir import store
from smartcare.fhir.errors import (
    BadRequest,
    FhirError,
    NotFound,
    PreconditionFailed,
    information_outcome,
)
from smartcare.fhir.http import FhirRequest, FhirResponse
from smartcare.fhir.patch import PatchError, apply_json_patch
from smartcare.fhir.search.execute import run_search
from smartcare.fhir.search.query import QueryCompiler
from smartcare.fhir.summary import shape_resource
from smartcare.platform.security.context import AccessContext
from smartcare.platform.settings import get_settings

_ETAG = re.compile(r'^(?:W/)?"?(\d+)"?$')


def parse_etag(value: str | None) -> int | None:
    """The version number in an If-Match header (W/"3" or "3"); BadRequest if malformed."""
    if value is None:
        return None
    m = _ETAG.match(value.strip())
    if not m:
        raise BadRequest(f"If-Match must be a version ETag like W/\"3\", not '{value[:40]}'")
    return int(m.group(1))


@lru_cache(maxsize=256)
def _http_date(instant: str) -> str:
    return format_datetime(datetime.fromisoformat(instant.replace("Z", "+00:00")), usegmt=True)


def resource_response(req: FhirRequest, stored: store.Stored, status: int) -> FhirResponse:
    """A response for a stored resource honouring Prefer: return=minimal|representation|OperationOutcome."""
    headers = {"ETag": stored.etag, "Last-Modified": _http_date(stored.last_updated)}
    if status == 201 or req.method in ("PUT", "PATCH", "POST"):
        headers["Location"] = f"{req.base_url}/{stored.res_type}/{stored.res_id}/_history/{stored.version}"
    prefer = req.prefer.get("return", "representation")
    if req.method == "GET" or prefer == "representation":
        return FhirResponse(status, stored.resource, headers)
    if prefer == "OperationOutcome":
        verb = "created" if status == 201 else "updated"
        return FhirResponse(status, information_outcome(f"{stored.reference} {verb} as version {stored.version}"), headers)
    return FhirResponse(status, None, headers)


def _compiler(req: FhirRequest) -> QueryCompiler:
    return QueryCompiler(base_url=req.base_url, strict=req.prefer.get("handling") == "strict")


def search_unique(conn: Connection, ctx: AccessContext, res_type: str, query: str, base_url: str) -> list[store.Stored]:
    """Resources of res_type matching a conditional query ('identifier=x&...'); at most two are fetched."""
    from urllib.parse import parse_qsl

    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        raise BadRequest("A conditional interaction needs search parameters")
    compiler = QueryCompiler(base_url=base_url, strict=True)
    sreq = compiler.parse(res_type, pairs, default_count=2, max_count=2)
    sreq.total = "none"
    sreq.count = 2
    return run_search(conn, ctx, sreq).matches


def _require_body(req: FhirRequest) -> dict[str, Any]:
    if not isinstance(req.body, dict):
        raise BadRequest("The request needs a JSON object body holding one FHIR resource")
    return req.body


def create(conn: Connection, ctx: AccessContext, req: FhirRequest, res_type: str) -> FhirResponse:
    """POST [type], with If-None-Exist for conditional create."""
    body = _require_body(req)
    condition = req.header("if-none-exist")
    if condition:
        found = search_unique(conn, ctx, res_type, condition.lstrip("?"), req.base_url)
        if len(found) > 1:
            raise PreconditionFailed(f"If-None-Exist '{condition[:200]}' matches more than one {res_type}")
        if found:
            return resource_response(req, found[0], 200)
    stored = store.create(conn, ctx, body, res_type=res_type)
    return resource_response(req, stored, 201)


def update(conn: Connection, ctx: AccessContext, req: FhirRequest, res_type: str, res_id: str) -> FhirResponse:
    """PUT [type]/[id]: update, or create with the client's id."""
    body = _require_body(req)
    if "id" not in body:
        raise BadRequest("An update must carry the resource's id in the body")
    stored = store.update(conn, ctx, body, res_type=res_type, res_id=res_id, if_match=parse_etag(req.header("if-match")))
    return resource_response(req, stored, 201 if stored.created else 200)


def conditional_update(conn: Connection, ctx: AccessContext, req: FhirRequest, res_type: str) -> FhirResponse:
    """PUT [type]?[search]: update the one match, create if none, 412 if several."""
    body = _require_body(req)
    found = search_unique(conn, ctx, res_type, req.query_string(), req.base_url)
    if len(found) > 1:
        raise PreconditionFailed(f"The conditional update matches more than one {res_type}")
    if found:
        res_id = found[0].res_id
        if body.get("id") not in (None, res_id):
            raise BadRequest(f"The body's id '{body['id']}' is not the id of the matching {res_type} ({res_id})")
    else:
        res_id = body.get("id") or store.new_id()
    stored = store.update(conn, ctx, {**body, "id": res_id}, res_type=res_type, res_id=res_id,
                          if_match=parse_etag(req.header("if-match")))
    return resource_response(req, stored, 201 if stored.created else 200)


def patch(conn: Connection, ctx: AccessContext, req: FhirRequest, res_type: str, res_id: str) -> FhirResponse:
    """PATCH [type]/[id] with a JSON Patch document."""
    ctype = (req.header("content-type") or "").split(";")[0].strip()
    if ctype and ctype != "application/json-patch+json":
        raise BadRequest(f"PATCH needs Content-Type application/json-patch+json, not '{ctype[:60]}'")
    current = store.read(conn, ctx, res_type=res_type, res_id=res_id)
    expected = parse_etag(req.header("if-match"))
    if expected is not None and expected != current.version:
        raise PreconditionFailed(f"If-Match asked for version {expected}, the current version is {current.version}")
    try:
        patched = apply_json_patch(current.resource, req.body)
    except PatchError as exc:
        raise BadRequest(f"The patch cannot be applied: {exc}") from exc
    if patched.get("id") != res_id or patched.get("resourceType") != res_type:
        raise BadRequest("A patch may not change the resource's type or id")
    stored = store.write_batch(conn, ctx, [store.Write("PATCH", res_type, res_id, patched, current.version)])[0]
    return resource_response(req, stored, 200)


def delete(conn: Connection, ctx: AccessContext, req: FhirRequest, res_type: str, res_id: str | None) -> FhirResponse:
    """DELETE [type]/[id], or DELETE [type]?[search] for the single match."""
    if res_id is None:
        found = search_unique(conn, ctx, res_type, req.query_string(), req.base_url)
        if len(found) > 1:
            raise PreconditionFailed(f"The conditional delete matches more than one {res_type}")
        if not found:
            return FhirResponse(204)
        res_id = found[0].res_id
    stored = store.delete(conn, ctx, res_type=res_type, res_id=res_id, if_match=parse_etag(req.header("if-match")))
    headers = {"ETag": stored.etag} if stored.version else {}
    return FhirResponse(200, information_outcome(f"{res_type}/{res_id} deleted"), headers)


def read(conn: Connection, ctx: AccessContext, req: FhirRequest, res_type: str, res_id: str) -> FhirResponse:
    """GET [type]/[id], honouring If-None-Match, _summary and _elements."""
    stored = store.read(conn, ctx, res_type=res_type, res_id=res_id)
    if (req.header("if-none-match") or "").strip() == stored.etag:
        return FhirResponse(304, None, {"ETag": stored.etag})
    params = dict(req.query)
    shaped = shape_resource(stored.resource, summary=params.get("_summary"), elements=params.get("_elements"))
    out = store.Stored(stored.res_type, stored.res_id, stored.version, stored.last_updated, False, shaped)
    return resource_response(req, out, 200)


def vread(conn: Connection, ctx: AccessContext, req: FhirRequest, res_type: str, res_id: str, vid: str) -> FhirResponse:
    """GET [type]/[id]/_history/[vid]."""
    if not vid.isdigit() or len(vid) > 9:
        raise NotFound(f"{res_type}/{res_id} has no version '{vid[:20]}'")
    stored = store.vread(conn, ctx, res_type=res_type, res_id=res_id, version=int(vid))
    return resource_response(req, stored, 200)


def _page_numbers(req: FhirRequest) -> tuple[int, int]:
    settings = get_settings()
    params = dict(req.query)
    compiler = QueryCompiler()
    count = min(compiler._int("_count", params["_count"]), settings.max_page_size) if "_count" in params else settings.default_page_size
    offset = compiler._int("_offset", params["_offset"]) if "_offset" in params else 0
    return count, offset


def _links(req: FhirRequest, path: str, count: int, offset: int, has_next: bool) -> list[dict[str, str]]:
    from urllib.parse import urlencode

    base = [(k, v) for k, v in req.query if k not in ("_offset", "_count")]

    def url(off: int) -> str:
        return f"{req.base_url}/{path}?" + urlencode([*base, ("_count", str(count)), ("_offset", str(off))])

    links = [{"relation": "self", "url": url(offset)}]
    if has_next:
        links.append({"relation": "next", "url": url(offset + count)})
    if offset > 0:
        links.append({"relation": "previous", "url": url(max(0, offset - count))})
    return links


def _full_url(req: FhirRequest, s: store.Stored) -> str:
    return f"{req.base_url}/{s.res_type}/{s.res_id}"


def search(conn: Connection, ctx: AccessContext, req: FhirRequest, res_type: str, path: str) -> FhirResponse:
    """GET [type]?..., POST [type]/_search: a searchset Bundle with paging links."""
    settings = get_settings()
    compiler = _compiler(req)
    sreq = compiler.parse(res_type, req.query, default_count=settings.default_page_size,
                          max_count=settings.max_page_size)
    result = run_search(conn, ctx, sreq)
    entries = [
        {"fullUrl": _full_url(req, s), "resource": shape_resource(s.resource, summary=sreq.summary, elements=sreq.elements),
         "search": {"mode": "match"}}
        for s in result.matches
    ]
    entries += [
        {"fullUrl": _full_url(req, s), "resource": s.resource, "search": {"mode": "include"}} for s in result.included
    ]
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if result.total is not None:
        bundle["total"] = result.total
    bundle["link"] = _links(req, path, sreq.count, sreq.offset, result.has_next)
    if sreq.ignored:
        entries.append({"resource": {"resourceType": "OperationOutcome", "issue": [
            {"severity": "warning", "code": "not-supported",
             "diagnostics": f"Unknown search parameters were ignored: {', '.join(sreq.ignored)[:500]}"}]},
            "search": {"mode": "outcome"}})
    bundle["entry"] = entries
    return FhirResponse(200, bundle)


def history_bundle(
    conn: Connection, ctx: AccessContext, req: FhirRequest, res_type: str | None, res_id: str | None, path: str
) -> FhirResponse:
    """GET [type]/[id]/_history, [type]/_history, _history: a history Bundle, newest first."""
    count, offset = _page_numbers(req)
    params = dict(req.query)
    page = hist.history(conn, ctx, res_type=res_type, res_id=res_id, since=params.get("_since"),
                        at=params.get("_at"), count=count, offset=offset)
    entries = []
    for s in page.entries:
        entry: dict[str, Any] = {"fullUrl": _full_url(req, s)}
        if s.resource is not None:
            entry["resource"] = s.resource
        method = "DELETE" if s.deleted else ("POST" if s.method == "POST" else "PUT")
        url = f"{s.res_type}/{s.res_id}" if method != "POST" else s.res_type
        status = {"DELETE": "200 OK", "POST": "201 Created"}.get(method, "200 OK")
        entry["request"] = {"method": method, "url": url}
        entry["response"] = {"status": status, "etag": s.etag, "lastModified": s.last_updated}
        entries.append(entry)
    bundle = {"resourceType": "Bundle", "type": "history", "total": page.total,
              "link": _links(req, path, count, offset, page.has_next), "entry": entries}
    return FhirResponse(200, bundle)


def dispatch(conn: Connection, ctx: AccessContext, req: FhirRequest) -> FhirResponse:
    """Route one FHIR request to its interaction; FhirError propagates for the caller to render."""
    from smartcare.fhir import bundles, operations

    path = req.path.strip("/")
    parts = path.split("/") if path else []
    method = req.method
    if parts and parts[-1].startswith("$"):
        return operations.invoke(conn, ctx, req, parts)
    if not parts:
        if method == "POST":
            return bundles.process(conn, ctx, req)
        if method == "GET":
            raise BadRequest("A system-wide search needs _type; search a resource type instead")
    if parts == ["metadata"] and method == "GET":
        return operations.invoke(conn, ctx, req, ["$capabilities"])
    if parts == ["_history"] and method == "GET":
        return history_bundle(conn, ctx, req, None, None, path)
    res_type = parts[0]
    store.check_type(res_type)
    if len(parts) == 1:
        if method == "GET":
            return search(conn, ctx, req, res_type, path)
        if method == "POST":
            return create(conn, ctx, req, res_type)
        if method == "PUT" and req.query:
            return conditional_update(conn, ctx, req, res_type)
        if method == "DELETE" and req.query:
            return delete(conn, ctx, req, res_type, None)
        if method == "PATCH" and req.query:
            found = search_unique(conn, ctx, res_type, req.query_string(), req.base_url)
            if len(found) != 1:
                raise PreconditionFailed(f"A conditional patch must match exactly one {res_type}, not {len(found)}")
            return patch(conn, ctx, req, res_type, found[0].res_id)
    elif len(parts) == 2:
        if parts[1] == "_search" and method == "POST":
            return search(conn, ctx, req, res_type, res_type)
        if parts[1] == "_history" and method == "GET":
            return history_bundle(conn, ctx, req, res_type, None, path)
        res_id = parts[1]
        store.check_id(res_id)
        handler = {"GET": read, "PUT": update, "PATCH": patch, "DELETE": delete}.get(method)
        if handler is not None:
            return handler(conn, ctx, req, res_type, res_id)
    elif len(parts) in (3, 4) and parts[2] == "_history" and method == "GET":
        store.check_id(parts[1])
        if len(parts) == 3:
            return history_bundle(conn, ctx, req, res_type, parts[1], path)
        return vread(conn, ctx, req, res_type, parts[1], parts[3])
    raise FhirError(f"{method} /{path[:200]} is not a FHIR interaction this server supports", status=405)
