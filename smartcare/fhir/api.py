"""The FHIR R4 REST API at /fhir: HTTP in, FhirRequest through dispatch, FHIR JSON out."""

import logging
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir.audit_trail import record_refused
from smartcare.fhir.errors import BadRequest, FhirError, TooLarge, operation_outcome
from smartcare.fhir.gateway import serve
from smartcare.fhir.http import FhirRequest, FhirResponse
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.tokens import InvalidToken, verify_access_token
from smartcare.platform.settings import get_settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/fhir", tags=["FHIR R4"])

FHIR_JSON = "application/fhir+json"
_JSON_TYPES = ("application/fhir+json", "application/json", "application/json-patch+json", "*/*", "application/*")
_FORMATS = {"json": FHIR_JSON, "application/json": "application/json", "application/fhir+json": FHIR_JSON}


def _negotiate(request: Request, fmt: str | None) -> str:
    """The response media type; XML and other formats answer 406."""
    if fmt:
        media = _FORMATS.get(fmt.split(";")[0].strip())
        if media is None:
            raise FhirError(f"_format '{fmt[:40]}' is not supported; this server speaks FHIR JSON", status=406)
        return media
    accept = request.headers.get("accept", "")
    if not accept.strip():
        return FHIR_JSON
    for part in accept.split(","):
        media = part.split(";")[0].strip()
        if media in _JSON_TYPES:
            return "application/json" if media == "application/json" else FHIR_JSON
    raise FhirError(f"Cannot answer in '{accept[:80]}'; this server speaks application/fhir+json", status=406)


def _render(resp: FhirResponse, media: str, pretty: bool) -> Response:
    if resp.file is not None:
        return FileResponse(resp.file, status_code=resp.status, headers=dict(resp.headers), media_type=resp.media_type)
    content = b""
    if resp.body is not None:
        content = orjson.dumps(resp.body, option=orjson.OPT_INDENT_2 if pretty else 0)
    headers = dict(resp.headers)
    return Response(content=content, status_code=resp.status, headers=headers,
                    media_type=f"{media};charset=utf-8" if resp.body is not None else None)


async def _read_body(request: Request) -> object:
    limit = get_settings().max_request_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"The request body is over the {limit:,}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"The request body is over the {limit:,}-byte limit")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        return None
    ctype = request.headers.get("content-type", "").split(";")[0].strip()
    if ctype == "application/x-www-form-urlencoded":
        return parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    if ctype and ctype not in _JSON_TYPES:
        raise FhirError(f"Content-Type '{ctype[:60]}' is not supported; send application/fhir+json", status=415)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}") from exc


class Unauthenticated(FhirError):
    """No valid bearer token: 401 with a WWW-Authenticate challenge."""

    status = 401
    code = "login"


# Anyone may read what the server can do (SMART clients need it before they have a token).
PUBLIC_PATHS = frozenset({"metadata"})
ANONYMOUS = AccessContext(kind="anonymous", name="anonymous")


def request_context(request: Request, path: str) -> AccessContext:
    """The caller of this request, from its bearer token; Unauthenticated without a valid one."""
    remote = request.client.host if request.client else None
    if path in PUBLIC_PATHS:
        return ANONYMOUS
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send an access token: Authorization: Bearer <token> (from /auth/token)")
    try:
        claims = verify_access_token(token.strip(), audience=str(request.base_url).rstrip("/") + "/fhir")
    except InvalidToken as exc:
        raise Unauthenticated(str(exc)) from exc
    return AccessContext(
        kind=claims.kind, name=claims.name, roles=claims.roles, organization=claims.organization,
        remote_addr=remote, subject=claims.subject, fhir_user=claims.fhir_user, patient=claims.patient,
        scopes=claims.scopes,
    )


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def fhir_endpoint(path: str, request: Request) -> Response:
    """Every FHIR interaction under /fhir."""
    query = parse_qsl(request.url.query, keep_blank_values=True)
    params = dict(query)
    pretty = params.get("_pretty") == "true"
    media = FHIR_JSON
    try:
        # Bulk Data clients fetch export files with Accept: application/fhir+ndjson.
        media = FHIR_JSON if path == "$export-file" else _negotiate(request, params.get("_format"))
        # Who is asking is settled before the body is read: no token, no upload.
        try:
            ctx = request_context(request, path)
        except Unauthenticated as exc:
            attempt = FhirRequest(method=request.method, path=path, query=query)
            await run_in_threadpool(_audit_refusal, ANONYMOUS, attempt, 401, exc.message)
            raise
        body = await _read_body(request) if request.method in ("POST", "PUT", "PATCH") else None
        if path.endswith("_search") and isinstance(body, list):
            query = [*[(k, v) for k, v in query], *body]
            body = None
        freq = FhirRequest(
            method=request.method,
            path=path,
            query=[(k, v) for k, v in query if k not in ("_format", "_pretty")],
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            base_url=str(request.base_url).rstrip("/") + "/fhir",
        )
        resp = await run_in_threadpool(_run, ctx, freq)
    except FhirError as exc:
        headers = {"WWW-Authenticate": 'Bearer realm="smartcare"'} if exc.status == 401 else {}
        resp = FhirResponse(exc.status, exc.outcome(), headers)
    return _render(resp, media, pretty)


def _run(ctx: AccessContext, freq: FhirRequest) -> FhirResponse:
    try:
        return serve(ctx, freq)
    except FhirError:
        raise
    except Exception:
        log.exception("FHIR %s %s failed", freq.method, freq.path)
        _audit_refusal(ctx, freq, 500, "server error")
        return FhirResponse(500, operation_outcome([
            {"severity": "fatal", "code": "exception", "diagnostics": "The server failed to process the request; nothing was saved"}
        ]))


def _audit_refusal(ctx: AccessContext, freq: FhirRequest, status: int, reason: str) -> None:
    try:
        with unit_of_work() as conn:
            record_refused(conn, ctx, freq, status, reason)
    except Exception:
        log.exception("could not audit a refused FHIR %s %s", freq.method, freq.path)
