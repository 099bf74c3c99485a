"""The one way in to the FHIR store for callers that act for someone: policy, interaction and audit together.

The REST API and the app's own pages both come through here, so every read or write of personal
health data is decided by the access policy and leaves its audit entry in the same transaction
(nothing is answered when the entry cannot be written); refusals are audited on their own.
"""

import logging
from collections.abc import Iterable

from sqlalchemy.engine import Connection

from smartcare.fhir.audit_trail import record_refused, record_served
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest, FhirResponse
from smartcare.fhir.interactions import dispatch
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext

log = logging.getLogger(__name__)


def _audit_refusal(ctx: AccessContext, freq: FhirRequest, exc: FhirError) -> None:
    """Record a refusal in its own transaction (the request's own was rolled back)."""
    try:
        with unit_of_work() as conn:
            record_refused(conn, ctx, freq, exc.status, exc.message)
    except Exception:
        # The refusal still stands; losing its audit entry must not turn it into a server error.
        log.exception("could not audit a refused FHIR %s %s", freq.method, freq.path)


def serve(ctx: AccessContext, freq: FhirRequest) -> FhirResponse:
    """Carry out freq for ctx in its own transaction with its audit entry; FhirError (audited) when refused."""
    return _serve(ctx, freq, audited_as=freq)


def _serve(ctx: AccessContext, freq: FhirRequest, *, audited_as: FhirRequest) -> FhirResponse:
    # audited_as is the request as the caller asked it, where freq only adds how to answer it (not what).
    try:
        with unit_of_work() as conn:
            resp = dispatch(conn, ctx, freq)
            record_served(conn, ctx, audited_as, resp)
            return resp
    except FhirError as exc:
        _audit_refusal(ctx, audited_as, exc)
        raise


def serve_all(ctx: AccessContext, requests: list[FhirRequest]) -> list[FhirResponse]:
    """Carry out several reads for ctx in one transaction, each with its audit entry; FhirError (audited) at the
    first refusal, and then none of them is answered."""
    return _serve_all(ctx, [(freq, freq) for freq in requests])


def _serve_all(ctx: AccessContext, pairs: list[tuple[FhirRequest, FhirRequest]]) -> list[FhirResponse]:
    # Each pair is (the request carried out, the request as the caller asked it, which the audit records).
    audited: FhirRequest | None = None
    try:
        with unit_of_work() as conn:
            answers = []
            for freq, audited in pairs:
                resp = dispatch(conn, ctx, freq)
                record_served(conn, ctx, audited, resp)
                answers.append(resp)
            return answers
    except FhirError as exc:
        _audit_refusal(ctx, audited, exc)
        raise


def _search_request(res_type: str, query: Iterable[tuple[str, str]]) -> tuple[FhirRequest, FhirRequest]:
    """The search to carry out and the search as asked: only the resources are handed back, so the Bundle's total
    is not counted (a second statement per search) unless the caller named a _total."""
    asked = FhirRequest(method="GET", path=res_type, query=list(query))
    if any(name == "_total" for name, _ in asked.query):
        return asked, asked
    return FhirRequest(method="GET", path=res_type, query=[*asked.query, ("_total", "none")]), asked


def _matches(resp: FhirResponse) -> list[dict]:
    bundle = resp.body or {}
    return [entry["resource"] for entry in bundle.get("entry", []) if entry.get("search", {}).get("mode") != "outcome"]


def search(ctx: AccessContext, res_type: str, query: Iterable[tuple[str, str]] = ()) -> list[dict]:
    """The resources of res_type that ctx may see matching query (one page, as _count says)."""
    freq, asked = _search_request(res_type, query)
    return _matches(_serve(ctx, freq, audited_as=asked))


def search_each(ctx: AccessContext, searches: list[tuple[str, Iterable[tuple[str, str]]]]) -> list[list[dict]]:
    """The resources ctx may see for each (res_type, query) of searches, as search() gives them, all read in one
    transaction with an audit entry each; FhirError (audited) at the first refusal, and then none is answered."""
    return [_matches(resp) for resp in _serve_all(ctx, [_search_request(t, q) for t, q in searches])]


def search_all(ctx: AccessContext, res_type: str, query: Iterable[tuple[str, str]] = (), *,
               page: int = 1000) -> list[dict]:
    """Every resource of res_type that ctx may see matching query, page by page (`_count`, `_offset`)."""
    asked = [(k, v) for k, v in query if k not in ("_count", "_offset")]
    found: list[dict] = []
    while True:
        batch = [r for r in search(ctx, res_type, [*asked, ("_count", str(page)), ("_offset", str(len(found)))])
                 if r.get("resourceType") == res_type]
        found += batch
        if len(batch) < page:
            return found


def read(ctx: AccessContext, reference: str) -> dict:
    """The resource at reference ("Patient/p1") if ctx may see it; NotFound/Forbidden otherwise."""
    return serve(ctx, FhirRequest(method="GET", path=reference)).body or {}


def serve_within(conn: Connection, ctx: AccessContext, freq: FhirRequest) -> FhirResponse:
    """Carry out freq for ctx inside the caller's transaction, with its audit entry (interfaces that must commit
    the FHIR writes together with their own records); FhirError propagates and the caller rolls back."""
    resp = dispatch(conn, ctx, freq)
    record_served(conn, ctx, freq, resp)
    return resp
