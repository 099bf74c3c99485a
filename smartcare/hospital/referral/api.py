"""The referral JSON API under /api/v1/referrals: create, list, read, move on, and book from a referral."""

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.referral import service
from smartcare.hospital.referral.schemas import (
    BookingIn,
    ReferralIn,
    ReferralListOut,
    ReferralOut,
    TransitionIn,
)
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard

router = APIRouter(prefix="/api/v1/referrals", tags=["referrals"])
MAX_BODY = 32_768
FHIR_JSON = "application/fhir+json"
_REFUSALS = {400: {"description": "Bad input (OperationOutcome)"}, 403: {"description": "Not your side"},
             404: {"description": "No such referral in your care"}, 409: {"description": "Illegal or stale step"},
             422: {"description": "Invalid referral (OperationOutcome)"}}


def _inlined(node: Any, defs: dict[str, Any]) -> Any:
    """A JSON schema with its local $defs references written out in place (OpenAPI has no local $defs)."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inlined(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inlined(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inlined(v, defs) for v in node]
    return node


def _documented(model: type[BaseModel]) -> dict[str, Any]:
    """The request body's schema for OpenAPI; the body itself is read and checked by _body (errors as
    OperationOutcome, not FastAPI's own 422)."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": _inlined(schema, schema.get("$defs", {}))}}}}


def _refused(exc: service.ReferralError) -> JSONResponse:
    return JSONResponse(exc.outcome(), status_code=exc.status, media_type=FHIR_JSON, headers=guard.NO_STORE)


def _parsed(raw: bytes, model: type[BaseModel]) -> Any:
    if len(raw) > MAX_BODY:
        raise service.InvalidReferral(f"the body is over {MAX_BODY} bytes")
    try:
        return model.model_validate(orjson.loads(raw or b"null"))
    except orjson.JSONDecodeError:
        raise service.InvalidReferral("the body must be a JSON object") from None
    except ValidationError as exc:
        problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:3])
        raise service.InvalidReferral(problem[:300]) from None


async def _act(request: Request, work: Callable[..., Any], model: type[BaseModel] | None = None,
               status: int = 200) -> JSONResponse:
    try:
        raw = await request.body() if model is not None else b""

        def run() -> Any:
            with unit_of_work() as conn:
                ctx = guard.api_caller(conn, request, "workstation")  # who is asking, before what they sent
                return work(conn, ctx, _parsed(raw, model) if model is not None else None)

        result = await run_in_threadpool(run)
    except service.ReferralError as exc:
        return _refused(exc)
    return JSONResponse(result, status_code=status, headers=guard.NO_STORE)


def _draft(body: ReferralIn) -> service.ReferralDraft:
    def items(given):
        return tuple(service.CarePlanItem(i.description, i.due) for i in given)

    return service.ReferralDraft(
        direction=body.direction, patient_id=body.patient, department=body.department, reason=body.reason,
        summary=body.summary, priority=body.urgency, attachments=tuple(body.attachments),
        encounter_id=body.encounter, care_plan=items(body.care_plan), follow_ups=items(body.follow_ups))


@router.post("", status_code=201, response_model=ReferralOut, responses=_REFUSALS,
             openapi_extra=_documented(ReferralIn))
async def create_referral(request: Request) -> JSONResponse:
    """Refer a patient up to a hospital department or down to a community clinic (FHIR ServiceRequest + Task)."""
    return await _act(request, lambda conn, ctx, body: service.create(conn, ctx=ctx, draft=_draft(body)).as_json(),
                      ReferralIn, status=201)


@router.get("", response_model=ReferralListOut, responses=_REFUSALS)
async def list_referrals(request: Request, box: str = Query("incoming", max_length=10),
                         state: str | None = Query(None, max_length=12), urgency: str | None = Query(None, max_length=8),
                         direction: str | None = Query(None, max_length=10)) -> JSONResponse:
    """Incoming referrals of your departments, or the outgoing ones you made; urgent and open first."""
    def work(conn, ctx, _):
        found = service.listing(conn, ctx=ctx, box=box, state=state, priority=urgency, direction=direction)
        return {"referrals": [r.as_json() for r in found]}

    return await _act(request, work)


@router.get("/{referral_id}", response_model=ReferralOut, responses=_REFUSALS)
async def read_referral(request: Request, referral_id: str) -> JSONResponse:
    """One referral with its history and the steps you may take."""
    return await _act(request, lambda conn, ctx, _: service.read(conn, ctx=ctx, task_id=referral_id).as_json())


@router.post("/{referral_id}/transitions", response_model=ReferralOut, responses=_REFUSALS,
             openapi_extra=_documented(TransitionIn))
async def move_referral(request: Request, referral_id: str) -> JSONResponse:
    """Accept, reject (with a reason), mark arrived, complete or cancel; 409 with an OperationOutcome if illegal."""
    def work(conn, ctx, body: TransitionIn):
        return service.transition(conn, ctx=ctx, task_id=referral_id, action=body.action, reason=body.reason,
                                  version=body.version).as_json()

    return await _act(request, work, TransitionIn)


@router.get("/{referral_id}/slots", responses=_REFUSALS)
async def referral_slots(request: Request, referral_id: str) -> JSONResponse:
    """Free slots of the receiving department in the next two weeks."""
    return await _act(request, lambda conn, ctx, _: {
        "slots": service.free_slots(conn, ctx=ctx, task_id=referral_id)})


@router.post("/{referral_id}/booking", response_model=ReferralOut, responses=_REFUSALS,
             openapi_extra=_documented(BookingIn))
async def book_from_referral(request: Request, referral_id: str) -> JSONResponse:
    """Book the patient into a slot of the receiving department; the referral becomes scheduled."""
    def work(conn, ctx, body: BookingIn):
        return service.book(conn, ctx=ctx, task_id=referral_id, slot_id=body.slot, version=body.version).as_json()

    return await _act(request, work, BookingIn)
