"""The CDS Hooks endpoints: discovery, the service calls, and feedback.

Callers are clinicians: a bearer token from /auth/token or the workstation's own session (with its
CSRF header). Errors are OperationOutcome JSON: 400 for a malformed call, 404 for an unknown service,
412 when the data a service needs is neither prefetched nor readable (CDS Hooks 2.0).
"""

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from smartcare.fhir.errors import operation_outcome
from smartcare.hospital.cds import feedback, prefetch
from smartcare.hospital.cds.schemas import FeedbackRequest, HookRequest
from smartcare.hospital.cds.services import SERVICES, Call, discovery
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import current_locale
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.tokens import InvalidToken, verify_access_token
from smartcare.platform.web import guard

router = APIRouter(tags=["cds-hooks"])
MAX_BODY = 2 * 1024 * 1024
SURFACE = "workstation"


class CallRefused(Exception):
    """A CDS call that cannot be answered: its status and what was wrong."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


def _outcome(exc: CallRefused) -> JSONResponse:
    body = operation_outcome([{"severity": "error", "code": exc.code, "diagnostics": exc.message[:500]}])
    return JSONResponse(body, status_code=exc.status, headers=guard.NO_STORE)


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:3])


async def _body(request: Request) -> Any:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise CallRefused(f"the body is over {MAX_BODY} bytes", status=413, code="too-costly")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks) or b"null")
    except orjson.JSONDecodeError:
        raise CallRefused("the body must be JSON") from None


def _own_fhir_base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


def _fetcher(request: Request, hook: HookRequest, caller: AccessContext) -> prefetch.Fetch | None:
    """How missing prefetch is read: with the request's fhirAuthorization token or as the caller, own server only."""
    own = _own_fhir_base(request)
    if hook.fhirServer and hook.fhirServer.rstrip("/") != own:
        return None
    if hook.fhirAuthorization is None:
        return prefetch.gateway_fetch(caller)
    try:
        claims = verify_access_token(hook.fhirAuthorization.access_token, audience=own)
    except InvalidToken as exc:
        raise CallRefused(f"fhirAuthorization: {exc}", status=412, code="security") from None
    return prefetch.gateway_fetch(AccessContext(
        kind=claims.kind, name=claims.name, roles=claims.roles, organization=claims.organization,
        remote_addr=guard.remote(request), subject=claims.subject, fhir_user=claims.fhir_user,
        patient=claims.patient, scopes=claims.scopes))


def _call(request: Request, service_id: str, body: Any) -> dict[str, Any]:
    with unit_of_work() as conn:
        caller = guard.api_caller(conn, request, SURFACE)
    service = SERVICES.get(service_id)
    if service is None:
        raise CallRefused(f"there is no CDS service {service_id[:64]!r}", status=404, code="not-found")
    try:
        hook = HookRequest.model_validate(body)
        if hook.hook != service.hook:
            raise CallRefused(f"the {service.id} service answers the {service.hook} hook, not {hook.hook[:64]}")
        context = service.context_model.model_validate(hook.context)
    except ValidationError as exc:
        raise CallRefused(_validation_message(exc)) from None
    try:
        data = prefetch.resolve(service.prefetch, sent=hook.prefetch, context=hook.context,
                                fetch=_fetcher(request, hook, caller))
    except prefetch.PrefetchProblem as exc:
        raise CallRefused(exc.message, status=exc.status,
                          code="invalid" if exc.status == 400 else "incomplete") from None
    call = Call(context=context, data=data, zh=current_locale(request) == "zh-Hans", today=clock.now().date())
    try:
        cards = service.run(call)
    except ValueError as exc:
        raise CallRefused(f"the orders cannot be checked: {exc}", status=422, code="processing") from None
    with unit_of_work() as conn:
        feedback.record_cards(conn, service_id=service.id, hook_instance=str(hook.hookInstance),
                              patient_id=context.patientId, user_ref=caller.fhir_user or caller.author, cards=cards)
    return {"cards": cards}


@router.get("/cds-services")
async def cds_discovery() -> JSONResponse:
    """CDS Hooks discovery: the services offered, their hooks and prefetch templates."""
    return JSONResponse(discovery())


@router.post("/cds-services/{service_id}")
async def call_service(request: Request, service_id: str) -> JSONResponse:
    """Call one CDS service with a CDS Hooks request; answers its cards."""
    try:
        body = await _body(request)
        return JSONResponse(await run_in_threadpool(_call, request, service_id, body), headers=guard.NO_STORE)
    except CallRefused as exc:
        return _outcome(exc)


def _feedback(request: Request, service_id: str, body: Any) -> None:
    with unit_of_work() as conn:
        guard.api_caller(conn, request, SURFACE)
    if service_id not in SERVICES:
        raise CallRefused(f"there is no CDS service {service_id[:64]!r}", status=404, code="not-found")
    try:
        parsed = FeedbackRequest.model_validate(body)
    except ValidationError as exc:
        raise CallRefused(_validation_message(exc)) from None
    with unit_of_work() as conn:
        caller = guard.api_caller(conn, request, SURFACE)
        try:
            feedback.record_feedback(conn, service_id=service_id, entries=parsed.feedback,
                                     recorded_by=caller.fhir_user or caller.author)
        except feedback.FeedbackRefused as exc:
            raise CallRefused(exc.message, status=404 if exc.unknown_card else 400,
                              code="not-found" if exc.unknown_card else "invalid") from None


@router.post("/cds-services/{service_id}/feedback")
async def service_feedback(request: Request, service_id: str) -> JSONResponse:
    """Record what the clinician did with cards: accepted (which suggestions) or overridden (and why)."""
    try:
        body = await _body(request)
        await run_in_threadpool(_feedback, request, service_id, body)
    except CallRefused as exc:
        return _outcome(exc)
    return JSONResponse({}, headers=guard.NO_STORE)
