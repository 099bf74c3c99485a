"""Batch and transaction Bundles: atomic transactions with urn:uuid and conditional references.

A transaction is processed in FHIR's order (DELETE, POST, PUT/PATCH, GET) inside the caller's
database transaction, so any failing entry rolls everything back. Plain creates and updates
are written together through `store.write_batch`, which is what makes bulk loading fast.
"""

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import BadRequest, FhirError, PreconditionFailed
from smartcare.fhir.http import FhirRequest, FhirResponse
from smartcare.fhir.interactions import dispatch, resource_response, search_unique
from smartcare.platform.db import pending_events
from smartcare.platform.security.context import AccessContext

MAX_ENTRIES = 10_000
_MAYBE_CONDITIONAL = re.compile(rb'"reference":"[A-Za-z]+\?')
_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
_STATUS_TEXT = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified"}


def _status_line(code: int) -> str:
    return f"{code} {_STATUS_TEXT.get(code, '')}".strip()


def _entry_request(entry: Any, index: int, base_url: str) -> FhirRequest:
    if not isinstance(entry, dict) or not isinstance(entry.get("request"), dict):
        raise BadRequest(f"Bundle.entry[{index}] has no request")
    request = entry["request"]
    method = request.get("method")
    url = request.get("url")
    if method not in _ORDER or not isinstance(url, str) or not url:
        raise BadRequest(f"Bundle.entry[{index}].request needs a method (GET, POST, PUT, PATCH, DELETE) and a url")
    if base_url and url.startswith(base_url + "/"):
        url = url[len(base_url) + 1 :]
    parts = urlsplit(url)
    headers = {}
    for field, header in (("ifMatch", "if-match"), ("ifNoneExist", "if-none-exist"), ("ifNoneMatch", "if-none-match")):
        if isinstance(request.get(field), str):
            headers[header] = request[field]
    body = entry.get("resource")
    if method == "PATCH" and isinstance(body, dict) and body.get("resourceType") == "Binary":
        import base64

        import orjson

        try:
            body = orjson.loads(base64.b64decode(body.get("data", "")))
        except ValueError as exc:
            raise BadRequest(f"Bundle.entry[{index}]: the Binary patch is not base64 JSON") from exc
        headers["content-type"] = "application/json-patch+json"
    elif method == "PATCH":
        headers["content-type"] = "application/json-patch+json"
    return FhirRequest(
        method=method,
        path=parts.path.strip("/"),
        query=parse_qsl(parts.query, keep_blank_values=True),
        headers=headers,
        body=body,
        base_url=base_url,
    )


def _rewrite_references(value: Any, mapping: dict[str, str]) -> Any:
    """Replace urn:uuid and conditional references by the Type/id they were resolved to."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "reference" and isinstance(v, str) and v in mapping:
                out[k] = mapping[v]
            else:
                out[k] = _rewrite_references(v, mapping)
        return out
    if isinstance(value, list):
        return [_rewrite_references(v, mapping) for v in value]
    return value


def _conditional_refs(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "reference" and isinstance(v, str) and "?" in v and "/" not in v.split("?", 1)[0]:
                found.add(v)
            else:
                _conditional_refs(v, found)
    elif isinstance(value, list):
        for v in value:
            _conditional_refs(v, found)


def process(conn: Connection, ctx: AccessContext, req: FhirRequest) -> FhirResponse:
    """POST [base] with a batch or transaction Bundle."""
    bundle = req.body
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadRequest("POST to the base URL takes a Bundle of type batch or transaction")
    kind = bundle.get("type")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise BadRequest("Bundle.entry must be a list")
    if len(entries) > MAX_ENTRIES:
        raise BadRequest(f"A bundle may hold at most {MAX_ENTRIES} entries")
    if kind == "transaction":
        return FhirResponse(200, transaction(conn, ctx, entries, req.base_url))
    if kind == "batch":
        return FhirResponse(200, batch(conn, ctx, entries, req.base_url))
    raise BadRequest(f"Bundle.type must be batch or transaction, not '{str(kind)[:40]}'")


def _response_entry(resp: FhirResponse) -> dict[str, Any]:
    out: dict[str, Any] = {"status": _status_line(resp.status)}
    if "Location" in resp.headers:
        out["location"] = resp.headers["Location"]
    if "ETag" in resp.headers:
        out["etag"] = resp.headers["ETag"]
    if resp.body is not None and resp.body.get("resourceType") == "OperationOutcome":
        out["outcome"] = resp.body
    return out


def transaction(conn: Connection, ctx: AccessContext, entries: list, base_url: str) -> dict[str, Any]:
    """Process a transaction atomically; any error propagates and the caller's transaction rolls back."""
    requests = [_entry_request(e, i, base_url) for i, e in enumerate(entries)]
    mapping: dict[str, str] = {}
    skip_create: dict[int, store.Stored] = {}
    for i, (entry, r) in enumerate(zip(entries, requests, strict=True)):
        full_url = entry.get("fullUrl")
        if r.method == "POST":
            res_type = r.path
            store.check_type(res_type)
            condition = r.header("if-none-exist")
            target_id = None
            if condition:
                found = search_unique(conn, ctx, res_type, condition.lstrip("?"), base_url)
                if len(found) > 1:
                    raise PreconditionFailed(f"Bundle.entry[{i}]: ifNoneExist matches more than one {res_type}")
                if found:
                    skip_create[i] = found[0]
                    target_id = found[0].res_id
            target_id = target_id or store.new_id()
            r.headers["x-assigned-id"] = target_id
            if isinstance(full_url, str):
                mapping[full_url] = f"{res_type}/{target_id}"
        elif r.method == "PUT" and isinstance(full_url, str) and full_url.startswith("urn:"):
            mapping[full_url] = r.path
    conditional: set[str] = set()
    for r in requests:
        # Serialising is far cheaper than walking every element, so walk only bodies that may hold one.
        if r.body is not None and _MAYBE_CONDITIONAL.search(orjson.dumps(r.body)):
            _conditional_refs(r.body, conditional)
    for ref in conditional:
        res_type, _, query = ref.partition("?")
        store.check_type(res_type)
        found = search_unique(conn, ctx, res_type, query, base_url)
        if len(found) != 1:
            raise PreconditionFailed(f"The conditional reference '{ref[:200]}' matches {len(found)} resources, not one")
        mapping[ref] = f"{res_type}/{found[0].res_id}"
    if mapping:
        for r in requests:
            if r.body is not None:
                r.body = _rewrite_references(r.body, mapping)
    responses: list[dict[str, Any] | None] = [None] * len(entries)
    order = sorted(range(len(requests)), key=lambda i: _ORDER[requests[i].method])
    plain: list[int] = []

    def flush() -> None:
        writes = []
        for i in plain:
            r = requests[i]
            if not isinstance(r.body, dict):
                raise BadRequest(f"Bundle.entry[{i}] needs a resource")
            if r.method == "POST":
                writes.append(store.Write("POST", r.path, r.headers["x-assigned-id"], r.body))
            else:
                res_type, res_id = r.path.split("/")
                if "id" not in r.body:
                    raise BadRequest(f"Bundle.entry[{i}]: an update must carry the resource's id")
                writes.append(store.Write("PUT", res_type, res_id, r.body))
        try:
            results = store.write_batch(conn, ctx, writes)
        except FhirError as exc:
            exc.message = f"Transaction failed: {exc.message}"
            raise
        for i, stored in zip(plain, results, strict=True):
            resp = resource_response(requests[i], stored, 201 if stored.created else 200)
            responses[i] = _entry_out(resp, requests[i])
        plain.clear()

    for i in order:
        r = requests[i]
        if i in skip_create:
            responses[i] = _entry_out(resource_response(r, skip_create[i], 200), r)
            continue
        simple_put = r.method == "PUT" and not r.query and r.path.count("/") == 1 and "if-match" not in r.headers
        if r.method == "POST" and "/" not in r.path or simple_put:
            plain.append(i)
            continue
        flush()
        try:
            resp = dispatch(conn, ctx, r)
        except FhirError as exc:
            exc.message = f"Transaction failed at Bundle.entry[{i}] ({r.method} {r.path[:100]}): {exc.message}"
            raise
        responses[i] = _entry_out(resp, r)
    flush()
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": responses}


def _entry_out(resp: FhirResponse, req: FhirRequest) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if resp.body is not None and resp.body.get("resourceType") != "OperationOutcome":
        entry["resource"] = resp.body
    entry["response"] = _response_entry(resp)
    return entry


def batch(conn: Connection, ctx: AccessContext, entries: list, base_url: str) -> dict[str, Any]:
    """Process each entry on its own (in a savepoint); failures become entry responses, not errors."""
    out = []
    events = pending_events(conn)
    for i, entry in enumerate(entries):
        raised = len(events)
        try:
            with conn.begin_nested():
                resp = dispatch(conn, ctx, _entry_request(entry, i, base_url))
            out.append(_entry_out(resp, None))
        except FhirError as exc:
            # The entry's savepoint rolled back, so its events must not be published.
            del events[raised:]
            out.append({"response": {"status": _status_line(exc.status), "outcome": exc.outcome()}})
    return {"resourceType": "Bundle", "type": "batch-response", "entry": out}
