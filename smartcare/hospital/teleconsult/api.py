"""The remote consultation JSON API under /api/v1/teleconsults: request, list, read, assign, convene, answer,
cancel, and the multi-disciplinary session's video room (read, end; joined over /api/v1/video/rooms/{id}/ws). Every route turns strangers away before the body is read; refusals are OperationOutcomes."""

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.teleconsult import directory, service, sessions
from smartcare.hospital.teleconsult.schemas import (
    AnswerIn,
    AssignIn,
    CancelIn,
    ConveneIn,
    TeleconsultIn,
    TeleconsultListOut,
    TeleconsultOut,
)
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard

router = APIRouter(prefix="/api/v1/teleconsults", tags=["teleconsults"],
                   dependencies=[Depends(guard.api_surface("workstation"))])
MAX_BODY = 65_536
FHIR_JSON = "application/fhir+json"
_REFUSALS = {401: {"description": "Not signed in"}, 403: {"description": "Not your side (OperationOutcome)"},
             404: {"description": "No such consultation for you (OperationOutcome)"},
             409: {"description": "Illegal or stale step (OperationOutcome)"},
             422: {"description": "Bad input (OperationOutcome)"}}


def _inlined(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inlined(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inlined(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inlined(v, defs) for v in node]
    return node


def _documented(model: type[BaseModel]) -> dict[str, Any]:
    """The request body's schema for OpenAPI; the body itself is read and checked by _parsed (errors as
    OperationOutcome, not FastAPI's own 422)."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": _inlined(schema, schema.get("$defs", {}))}}}}


def _parsed(raw: bytes, model: type[BaseModel]) -> Any:
    if len(raw) > MAX_BODY:
        raise service.InvalidTeleconsult(f"the body is over {MAX_BODY} bytes")
    try:
        return model.model_validate(orjson.loads(raw or b"null"))
    except orjson.JSONDecodeError:
        raise service.InvalidTeleconsult("the body must be a JSON object") from None
    except ValidationError as exc:
        problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:3])
        raise service.InvalidTeleconsult(problem[:300]) from None


async def _act(request: Request, work: Callable[..., Any], model: type[BaseModel] | None = None,
               status: int = 200) -> JSONResponse:
    try:
        raw = await request.body() if model is not None else b""

        def run() -> Any:
            with unit_of_work() as conn:
                ctx = guard.api_caller(conn, request, "workstation")
                return work(conn, ctx, _parsed(raw, model) if model is not None else None)

        result = await run_in_threadpool(run)
    except service.TeleconsultError as exc:
        if isinstance(exc, sessions.Refusal):
            await run_in_threadpool(sessions.audit_refusal, exc)
        return JSONResponse(exc.outcome(), status_code=exc.status, media_type=FHIR_JSON, headers=guard.NO_STORE)
    return JSONResponse(result, status_code=status, headers=guard.NO_STORE)


@router.post("", status_code=201, response_model=TeleconsultOut, responses=_REFUSALS,
             openapi_extra=_documented(TeleconsultIn))
async def request_teleconsult(request: Request) -> JSONResponse:
    """Ask a hospital department for a specialist opinion on chosen records (FHIR ServiceRequest + Task)."""
    def work(conn, ctx, body: TeleconsultIn):
        draft = service.Draft(patient_id=body.patient, department=body.department, question=body.question,
                              urgency=body.urgency, records=tuple(body.records))
        return service.create(conn, ctx=ctx, draft=draft).as_json()

    return await _act(request, work, TeleconsultIn, status=201)


@router.get("", response_model=TeleconsultListOut, responses=_REFUSALS)
async def list_teleconsults(request: Request, box: str = Query("incoming", max_length=10)) -> JSONResponse:
    """Incoming consultations (your departments', and those you were asked to answer) or your outgoing ones;
    open ones first, the nearest deadline first, with time left and an overdue flag."""
    return await _act(request, lambda conn, ctx, _: {
        "teleconsults": [t.as_json() for t in service.listing(conn, ctx=ctx, box=box)]})


@router.get("/{teleconsult_id}", response_model=TeleconsultOut, responses=_REFUSALS)
async def read_teleconsult(request: Request, teleconsult_id: str) -> JSONResponse:
    """One consultation with its history and the steps you may take."""
    return await _act(request, lambda conn, ctx, _: service.read(conn, ctx=ctx, task_id=teleconsult_id).as_json())


@router.post("/{teleconsult_id}/assign", response_model=TeleconsultOut, responses=_REFUSALS,
             openapi_extra=_documented(AssignIn))
async def assign_teleconsult(request: Request, teleconsult_id: str) -> JSONResponse:
    """The receiving department gives the consultation to one of its specialists (who may then read what was
    shared, until the share expires)."""
    def work(conn, ctx, body: AssignIn):
        return service.assign(conn, ctx=ctx, task_id=teleconsult_id, specialist=body.specialist,
                              version=body.version).as_json()

    return await _act(request, work, AssignIn)


@router.post("/{teleconsult_id}/convene", response_model=TeleconsultOut, responses=_REFUSALS,
             openapi_extra=_documented(ConveneIn))
async def convene_teleconsult(request: Request, teleconsult_id: str) -> JSONResponse:
    """The receiving department convenes a multi-disciplinary session of several specialists at a time."""
    def work(conn, ctx, body: ConveneIn):
        return service.convene(conn, ctx=ctx, task_id=teleconsult_id, specialists=body.specialists,
                               start=body.start, version=body.version).as_json()

    return await _act(request, work, ConveneIn)


@router.post("/{teleconsult_id}/answer", response_model=TeleconsultOut, responses=_REFUSALS,
             openapi_extra=_documented(AnswerIn))
async def answer_teleconsult(request: Request, teleconsult_id: str) -> JSONResponse:
    """A specialist asked writes the opinion (a DiagnosticReport in the patient's record); the requester is told."""
    def work(conn, ctx, body: AnswerIn):
        sections = {"summary": body.summary, "opinion": body.opinion, "recommendations": body.recommendations}
        return service.answer(conn, ctx=ctx, task_id=teleconsult_id, sections=sections,
                              version=body.version).as_json()

    return await _act(request, work, AnswerIn)


@router.post("/{teleconsult_id}/cancel", response_model=TeleconsultOut, responses=_REFUSALS,
             openapi_extra=_documented(CancelIn))
async def cancel_teleconsult(request: Request, teleconsult_id: str) -> JSONResponse:
    """Either side calls the consultation off with a reason; the specialists' access ends at once."""
    def work(conn, ctx, body: CancelIn):
        return service.cancel(conn, ctx=ctx, task_id=teleconsult_id, reason=body.reason,
                              version=body.version).as_json()

    return await _act(request, work, CancelIn)


def _room_json(conn, ctx, found: sessions.Room) -> dict:
    return found.as_json(directory.practitioner_names(conn, found.participants))


@router.get("/{teleconsult_id}/room", responses=_REFUSALS)
async def read_room(request: Request, teleconsult_id: str) -> JSONResponse:
    """The multi-disciplinary session's video room (an Encounter of class VR): its participants, planned time,
    whether it may still be joined, and, once over, its duration. For its participants only."""
    return await _act(request, lambda conn, ctx, _: _room_json(
        conn, ctx, sessions.read(conn, ctx=ctx, task_id=teleconsult_id[:64])))


@router.post("/{teleconsult_id}/room/end", responses=_REFUSALS)
async def end_room(request: Request, teleconsult_id: str) -> JSONResponse:
    """A participant ends the session for everyone: its end and duration are recorded and the room closes."""
    return await _act(request, lambda conn, ctx, _: _room_json(
        conn, ctx, sessions.end(conn, ctx=ctx, task_id=teleconsult_id[:64])))
