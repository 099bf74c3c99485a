"""The break-the-glass JSON API of the clinician workstation: open, list and close emergency access."""

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from smartcare.platform.db import unit_of_work
from smartcare.platform.security import break_glass
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import guard

router = APIRouter(prefix="/api/break-glass", tags=["break-the-glass"])
MAX_BODY = 4096
NO_STORE = {"Cache-Control": "no-store"}


class InvalidBody(break_glass.BreakGlassError):
    """The request body is not the JSON object this API takes."""

    def __init__(self, message: str):
        super().__init__(message, problem="body")


async def _json_object(request: Request) -> dict[str, Any]:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise InvalidBody(f"The request body is over the {MAX_BODY}-byte limit")
        chunks.append(chunk)
    try:
        body = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise InvalidBody('The body must be a JSON object like {"patient": "Patient/123", "reason": "...", '
                          '"minutes": 60}') from None
    if not isinstance(body, dict):
        raise InvalidBody("The body must be a JSON object")
    return body


def _refused(exc: break_glass.BreakGlassError) -> JSONResponse:
    error = {403: "forbidden", 404: "not-found"}.get(exc.status, "invalid")
    return JSONResponse({"error": error, "message": str(exc)}, status_code=exc.status, headers=NO_STORE)


def _caller(request: Request) -> AccessContext:
    with unit_of_work() as conn:
        return guard.api_caller(conn, request, "workstation")


def _open(ctx: AccessContext, body: dict[str, Any]) -> dict[str, Any]:
    with unit_of_work() as conn:
        grant = break_glass.open_access(conn, ctx=ctx, patient_id=body.get("patient"), reason=body.get("reason"),
                                        minutes=body.get("minutes", 60))
        return grant.as_json()


@router.post("")
async def open_emergency_access(request: Request) -> JSONResponse:
    """Open emergency access: {"patient": "Patient/123", "reason": "...", "minutes": 60} -> 201 and the grant."""
    # Who is asking is settled before the body is read: no caller, no upload.
    ctx = await run_in_threadpool(_caller, request)
    try:
        body = await _json_object(request)
        grant = await run_in_threadpool(_open, ctx, body)
    except break_glass.BreakGlassError as exc:
        return _refused(exc)
    return JSONResponse(grant, status_code=201, headers=NO_STORE)


def _mine(request: Request) -> list[dict[str, Any]]:
    with unit_of_work() as conn:
        ctx = guard.api_caller(conn, request, "workstation")
        return [g.as_json() for g in break_glass.active_grants(conn, user_id=ctx.subject or "")]


@router.get("")
async def my_emergency_access(request: Request) -> JSONResponse:
    """The caller's emergency accesses that are still open."""
    return JSONResponse({"grants": await run_in_threadpool(_mine, request)}, headers=NO_STORE)


def _close(request: Request, grant_id: str) -> dict[str, Any]:
    with unit_of_work() as conn:
        ctx = guard.api_caller(conn, request, "workstation")
        return break_glass.close_access(conn, ctx=ctx, grant_id=grant_id).as_json()


@router.post("/{grant_id}/close")
async def close_emergency_access(request: Request, grant_id: str) -> JSONResponse:
    """End one of the caller's emergency accesses now."""
    try:
        grant = await run_in_threadpool(_close, request, grant_id)
    except break_glass.BreakGlassError as exc:
        return _refused(exc)
    return JSONResponse(grant, headers=NO_STORE)
