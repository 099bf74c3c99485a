"""The video-visit JSON API under /api/v1/video and its signalling WebSocket.

WebSocket /api/v1/video/{visit_id}/ws (a bearer token, or a same-site browser session) for the visit's patient
(or proxy) and its doctor. The server sends {"type": "hello", "side", "peer", "visit", "ice_servers"}, then relays
what the other side sends. A client sends:
  {"type": "signal", "signal": {"description": {...}} | {"candidate": {...}} | {"renegotiate": true}, "call": id}
  {"type": "media", "state": {"audio", "video", "screen"}}   (microphone, camera, screen share)
  {"type": "admit"}                                           (the doctor only)
  {"type": "leave"}                                           (hang up; the socket closes)
and receives the other side's "signal" and "media" frames, "presence" (who is here: side, present, admitted),
"admitted", "ended", "replaced" (the same side joined again elsewhere) and "error". Signals and media state
only pass between admitted parties: the patient is admitted by the doctor from the waiting room, and a
patient socket that is not admitted neither sends nor receives them. A party that drops opens a new socket;
the doctor then makes a fresh offer (or an ICE restart when asked to renegotiate).
"""

import time
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, WebSocket
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.video import live, relay, service
from smartcare.hospital.video.schemas import NewVisit, Notes, Problem, Signal
from smartcare.hospital.video.settings import ice_servers_for
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import guard

router = APIRouter(tags=["Video visits"])
_caller_first = [Depends(guard.api_surface("account"))]
PROBLEMS: dict[int | str, dict[str, Any]] = {s: {"model": Problem} for s in (400, 401, 403, 404, 409, 422)}
BASE = "/api/v1/video"
POLICY_VIOLATION = relay.POLICY_VIOLATION


def _run(request: Request, work: Callable[[Any, AccessContext], Any], status: int = 200) -> Any:
    """Authenticate, then do work in one unit of work, as a JSON answer or a problem."""
    with unit_of_work() as conn:
        ctx = guard.api_caller(conn, request, "account")
    try:
        with unit_of_work() as conn:
            result = work(conn, ctx)
    except service.VideoError as exc:
        return JSONResponse({"error": exc.code, "message": str(exc)}, status_code=exc.status, headers=guard.NO_STORE)
    return JSONResponse(result, status_code=status, headers=guard.NO_STORE)


@router.post(BASE, status_code=201, responses=PROBLEMS, dependencies=_caller_first)
async def open_visit(request: Request, body: NewVisit) -> Any:
    """The consultation's doctor opens a video visit, now (escalated from chat) or at a planned time."""
    return await run_in_threadpool(_run, request, lambda conn, ctx: service.schedule(
        conn, ctx, consultation_id=body.consultation, mode=body.mode, scheduled_for=body.scheduled_for), 201)


@router.get(BASE, responses=PROBLEMS, dependencies=_caller_first)
async def visits_of(request: Request, consultation: str) -> Any:
    """A consultation's video visits, for its patient or doctor."""
    return await run_in_threadpool(_run, request, lambda conn, ctx: service.visits_of(
        conn, ctx, consultation_id=consultation[:64]))


@router.get(BASE + "/{visit_id}", responses=PROBLEMS, dependencies=_caller_first)
async def one_visit(request: Request, visit_id: str) -> Any:
    """One video visit (the doctor also gets the notes)."""
    return await run_in_threadpool(_run, request, lambda conn, ctx: service.visit(conn, ctx, visit_id=visit_id[:64]))


def _admit(conn: Any, ctx: AccessContext, visit_id: str) -> dict[str, Any]:
    return service.admit(conn, ctx, visit_id=visit_id)


@router.post(BASE + "/{visit_id}/admit", responses=PROBLEMS, dependencies=_caller_first)
async def admit(request: Request, visit_id: str) -> Any:
    """The doctor admits the waiting patient; the call starts."""
    answer = await run_in_threadpool(_run, request, lambda conn, ctx: _admit(conn, ctx, visit_id[:64]))
    if answer.status_code == 200:
        live.install()
        live.publish(visit_id[:64], "admitted")
    return answer


@router.post(BASE + "/{visit_id}/notes", responses=PROBLEMS, dependencies=_caller_first)
async def save_notes(request: Request, visit_id: str, body: Notes) -> Any:
    """The doctor saves the notes written during the call."""
    return await run_in_threadpool(_run, request, lambda conn, ctx: service.save_notes(
        conn, ctx, visit_id=visit_id[:64], text=body.text))


@router.post(BASE + "/{visit_id}/end", responses=PROBLEMS, dependencies=_caller_first)
async def end(request: Request, visit_id: str) -> Any:
    """The doctor ends the visit: its end time and duration are recorded and both sides hang up."""
    answer = await run_in_threadpool(_run, request, lambda conn, ctx: service.end(conn, ctx, visit_id=visit_id[:64]))
    if answer.status_code == 200:
        live.install()
        live.publish(visit_id[:64], "ended")
    return answer


# ---- signalling ----

def _socket_caller(websocket: WebSocket) -> AccessContext | None:
    return guard.socket_caller(websocket)


def _join(websocket: WebSocket, visit_id: str) -> tuple[AccessContext, dict[str, Any]] | None:
    ctx = _socket_caller(websocket)
    if ctx is None:
        return None
    try:
        with unit_of_work() as conn:
            return ctx, service.join(conn, ctx, visit_id=visit_id)
    except service.VideoError:
        return None


def _admit_in_uow(ctx: AccessContext, visit_id: str) -> dict[str, Any]:
    with unit_of_work() as conn:
        return service.admit(conn, ctx, visit_id=visit_id)


class _Call:
    """One open signalling socket: relays between admitted parties and keeps its side's presence known."""

    def __init__(self, websocket: WebSocket, ctx: AccessContext, visit: dict[str, Any]) -> None:
        self.websocket, self.ctx = websocket, ctx
        self.visit_id, self.side = visit["id"], visit["side"]
        self.admitted = self.side == "doctor" or visit["admitted"]
        self.peer = uuid.uuid4().hex[:12]
        self.closing = False
        self.replaced = False

    def announce(self, present: bool, *, reply: bool = False) -> None:
        live.publish(self.visit_id, "presence", side=self.side, peer=self.peer, present=present,
                     admitted=self.admitted, reply=reply)

    def _may_exchange(self) -> bool:
        return self.admitted

    async def forward(self, event: dict[str, Any]) -> None:
        """An event of the visit reaches this socket: relay what is for it, drop the rest."""
        kind = event.get("type")
        if event.get("peer") == self.peer:
            return
        if kind == "admitted":
            self.admitted = True
            await self.websocket.send_json({"type": "admitted"})
        elif kind == "ended":
            await self.websocket.send_json({"type": "ended"})
            self.closing = True
        elif kind == "presence":
            if event.get("side") == self.side:
                if event.get("present") and not event.get("reply"):
                    # The same person joined again (a reload, another device): that socket takes over.
                    await self.websocket.send_json({"type": "replaced"})
                    self.closing = self.replaced = True
                return
            await self.websocket.send_json({k: event.get(k) for k in ("type", "side", "present", "admitted",
                                                                       "reply")})
            if event.get("present") and not event.get("reply"):
                self.announce(True, reply=True)
        elif kind in ("signal", "media") and event.get("side") != self.side and self._may_exchange():
            await self.websocket.send_json({k: v for k, v in event.items() if k not in ("visit", "peer")})

    async def handle(self, data: dict[str, Any]) -> None:
        """A frame from this socket's browser."""
        kind = data.get("type")
        if kind == "signal":
            if not self._may_exchange():
                await self._error("waiting", "Wait until the doctor admits you")
                return
            try:
                signal = Signal.model_validate(data.get("signal"))
            except ValidationError:
                await self._error("bad-signal", "A signal carries one description, candidate or renegotiate")
                return
            live.publish(self.visit_id, "signal", side=self.side, peer=self.peer, call=str(data.get("call") or "")[:40],
                         signal=signal.model_dump(exclude_none=True, exclude_defaults=True))
        elif kind == "media":
            state = await relay.media_state(self.websocket, data)
            if state is not None and self._may_exchange():
                live.publish(self.visit_id, "media", side=self.side, peer=self.peer, state=state)
        elif kind == "admit":
            if self.side != "doctor":
                await self._error("forbidden", "Only the visit's doctor admits the patient")
                return
            try:
                await run_in_threadpool(_admit_in_uow, self.ctx, self.visit_id)
            except service.VideoError as exc:
                await self._error(exc.code, str(exc))
                return
            live.publish(self.visit_id, "admitted")
        elif kind == "leave":
            self.closing = True
        else:
            await self._error("bad-type", "Send signal, media, admit or leave")

    async def _error(self, code: str, message: str) -> None:
        await relay.refuse(self.websocket, code, message)


@router.websocket(BASE + "/{visit_id}/ws")
async def signalling(websocket: WebSocket, visit_id: str) -> None:
    """The visit's signalling for its patient (or proxy) and its doctor."""
    joined = await run_in_threadpool(_join, websocket, visit_id[:64])
    if joined is None:
        await websocket.close(code=POLICY_VIOLATION)
        return
    ctx, visit = joined
    live.install()
    await websocket.accept()
    call = _Call(websocket, ctx, visit)

    def departed() -> None:
        if not call.replaced:  # the socket that took over is present; saying this one left would be wrong
            call.announce(False)

    hello = {"type": "hello", "side": call.side, "peer": call.peer, "visit": visit,
             "ice_servers": ice_servers_for(service.ice_user(ctx), int(time.time()))}
    await relay.converse(websocket, visit["id"], call, hello, arrived=lambda: call.announce(True), departed=departed)
