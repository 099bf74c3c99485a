"""The exchange API for member institutions: submit Bundles, NDJSON files and HL7 v2 messages, read a report.

Callers are members' backend clients (client credentials at /auth/token); the member is the token's client and
organisation, never something the body says. Errors are OperationOutcomes with the HTTP status that fits.
"""

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from smartcare.fhir.errors import FhirError
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.tokens import InvalidToken, verify_access_token
from smartcare.regional.exchange import hl7, imports, submissions
from smartcare.regional.exchange.members import Member, member_of_client
from smartcare.regional.exchange.pull import PullFailed

router = APIRouter(prefix="/api/v1/exchange", tags=["Regional data exchange"])
MAX_BODY_BYTES = 64 * 1024 * 1024
NO_STORE = {"Cache-Control": "no-store"}


class ExchangeRefused(Exception):
    """A request answered with an OperationOutcome: HTTP status, code and a message safe to show."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _outcome(exc: ExchangeRefused) -> JSONResponse:
    body = {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": exc.code, "diagnostics": exc.message[:500]}]}
    headers = dict(NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="smartcare"'
    return JSONResponse(body, status_code=exc.status, headers=headers, media_type="application/fhir+json")


def _caller(request: Request) -> AccessContext:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ExchangeRefused(401, "login", "Send Authorization: Bearer <token> from /auth/token (client credentials)")
    try:
        claims = verify_access_token(token.strip(), audience=str(request.base_url).rstrip("/") + "/fhir")
    except InvalidToken as exc:
        raise ExchangeRefused(401, "login", str(exc)) from exc
    return AccessContext(kind=claims.kind, name=claims.name, roles=claims.roles, organization=claims.organization,
                         remote_addr=request.client.host if request.client else None, subject=claims.subject,
                         fhir_user=claims.fhir_user, patient=claims.patient, scopes=claims.scopes)


def _member(request: Request) -> Member:
    """The member whose backend client sent this request; 403 for anyone else (the refusal is audited)."""
    ctx = _caller(request)
    with unit_of_work() as conn:
        member = member_of_client(conn, client_id=ctx.subject, organization=ctx.organization) \
            if ctx.kind == "client" else None
        if member is None:
            audit.record(conn, ctx=ctx, action="C", subtype="access-refused", outcome="4",
                         description=f"{request.method} {request.url.path[:120]}: not an exchange member's client")
    if member is None:
        raise ExchangeRefused(403, "forbidden", "Only a member institution's exchange client may submit data")
    return member


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ExchangeRefused(413, "too-costly", "A submission may be at most 64 MiB")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ExchangeRefused(413, "too-costly", "A submission may be at most 64 MiB")
    if not body.strip():
        raise ExchangeRefused(400, "required", "The request has no body")
    return body


def _answer(report: dict[str, Any]) -> JSONResponse:
    status = 422 if report["status"] == "rejected" else 200
    return JSONResponse(report, status_code=status, headers=NO_STORE)


def _take(work, member: Member) -> dict[str, Any]:
    """Run a submission in one unit of work; a resend racing its twin is answered with the twin's report."""
    try:
        with unit_of_work() as conn:
            return work(conn)
    except IntegrityError:
        with unit_of_work() as conn:
            return work(conn)
    except submissions.SubmissionInvalid as exc:
        raise ExchangeRefused(400, "invalid", str(exc)) from exc
    except FhirError as exc:
        raise ExchangeRefused(exc.status, "invalid", exc.message) from exc


async def _guarded(handler) -> JSONResponse:
    try:
        return await handler()
    except ExchangeRefused as exc:
        return _outcome(exc)


@router.post("/bundles", summary="Submit a FHIR Bundle (transaction: all or nothing; batch: entry by entry)")
async def submit_bundle(request: Request) -> JSONResponse:
    """Take a member's transaction or batch Bundle and answer with the submission's report.

    Every written resource carries meta.source = the member's Organization and a Provenance names the member and the
    submission. The same Bundle sent again changes nothing and gets the first report (with `duplicate: true`).
    """
    async def handle() -> JSONResponse:
        member = await run_in_threadpool(_member, request)
        body = await _body(request)
        try:
            bundle = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ExchangeRefused(400, "structure", f"The body is not JSON: {exc}"[:300]) from exc
        remote = request.client.host if request.client else None
        report = await run_in_threadpool(_take, lambda conn: submissions.submit_bundle(
            conn, member=member, bundle=bundle, remote=remote), member)
        return _answer(report)
    return await _guarded(handle)


@router.post("/ndjson/{res_type}", summary="Submit a Bulk Data NDJSON file of one resource type")
async def submit_ndjson(request: Request, res_type: str) -> JSONResponse:
    """Take an NDJSON file (one resource per line, all of res_type), entry by entry, and answer with its report."""
    async def handle() -> JSONResponse:
        member = await run_in_threadpool(_member, request)
        body = await _body(request)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ExchangeRefused(400, "structure", "NDJSON must be UTF-8 text") from exc
        remote = request.client.host if request.client else None
        report = await run_in_threadpool(_take, lambda conn: submissions.submit_ndjson(
            conn, member=member, res_type=res_type[:64], text=text, remote=remote), member)
        return _answer(report)
    return await _guarded(handle)


@router.post("/hl7", summary="Submit one HL7 v2 ADT or ORU message of the member's feed")
async def submit_hl7(request: Request) -> JSONResponse:
    """Take one HL7 v2 message (ER7 text) through the laboratory's HL7 interface; the report carries its ACK."""
    async def handle() -> JSONResponse:
        member = await run_in_threadpool(_member, request)
        body = await _body(request)
        try:
            raw = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ExchangeRefused(400, "structure", "Send the HL7 message as UTF-8 text") from exc
        remote = request.client.host if request.client else None
        try:
            report = await run_in_threadpool(lambda: hl7.submit_message(member=member, raw=raw, remote=remote))
        except hl7.FeedRefused as exc:
            raise ExchangeRefused(403, "forbidden", str(exc)) from exc
        except submissions.SubmissionInvalid as exc:
            raise ExchangeRefused(400, "invalid", str(exc)) from exc
        return _answer(report)
    return await _guarded(handle)


@router.post("/imports", summary="Import the NDJSON files of a Bulk Data export manifest from the member's server")
async def import_export(request: Request) -> JSONResponse:
    """Take the manifest a Bulk Data `$export` status request answered with on the member's own FHIR server: each
    listed file is fetched from that server (with the platform's pull credentials) and taken entry by entry; the
    answer holds one report per file. Files already taken are answered with their first report."""
    async def handle() -> JSONResponse:
        member = await run_in_threadpool(_member, request)
        body = await _body(request)
        try:
            manifest = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ExchangeRefused(400, "structure", f"The body is not JSON: {exc}"[:300]) from exc
        try:
            report = await run_in_threadpool(lambda: imports.import_manifest(member=member, manifest=manifest))
        except submissions.SubmissionInvalid as exc:
            raise ExchangeRefused(400, "invalid", str(exc)) from exc
        except PullFailed as exc:
            raise ExchangeRefused(502, "transient", str(exc)) from exc
        return _answer(report)
    return await _guarded(handle)


@router.get("/submissions/{submission_id}", summary="The report of one of the member's submissions")
async def submission_report(request: Request, submission_id: str) -> JSONResponse:
    """A submission's report, for the member that sent it."""
    async def handle() -> JSONResponse:
        member = await run_in_threadpool(_member, request)

        def read() -> dict[str, Any] | None:
            with unit_of_work() as conn:
                return submissions.stored_report(conn, member=member, submission_id=submission_id)
        report = await run_in_threadpool(read)
        if report is None:
            raise ExchangeRefused(404, "not-found", "No submission of yours has this id")
        return JSONResponse(report, headers=NO_STORE)
    return await _guarded(handle)
