"""The multi-disciplinary session's video room: its signalling WebSocket, /api/v1/video/rooms/{teleconsult}/ws.

Only the requesting doctor and the convened specialists come in, while the consultation is open and the session
has not ended (teleconsult/sessions.py decides and audits; anyone else's handshake is refused, 1008). Every
browser keeps one RTCPeerConnection with each other one (a mesh of at most relay ROOM_CAP). The server sends
{"type": "hello", "peer", "me", "participants", "records", "ice_servers"}; then
  {"type": "join", "peer", "participant", "reply"}   another socket came (reply: it answers our own join, to us)
  {"type": "leave", "peer", "participant"}            it went
  {"type": "signal", "from", "call", "signal"}        a description, candidate or renegotiate addressed to us
  {"type": "media", "from", "state"} / {"type": "show", "from", "item"}   microphone/camera/screen; shared viewing
  {"type": "replaced"}, {"type": "ended"}, {"type": "error", "error", "message"}
A browser sends {"type": "signal", "to": peer, "call", "signal"}, {"type": "media", "state"},
{"type": "show", "item": one of the records shared on the consultation}, {"type": "leave"}.
Of two browsers, the one with the smaller peer id makes the offers, so they never offer at once.
"""

import time
import uuid
from typing import Any

from fastapi import APIRouter, WebSocket
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import tables
from smartcare.hospital.teleconsult import directory, room, service, sessions
from smartcare.hospital.video import live, relay
from smartcare.hospital.video.schemas import Signal
from smartcare.hospital.video.service import ice_user
from smartcare.hospital.video.settings import ice_servers_for
from smartcare.platform import events
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import guard

router = APIRouter(tags=["Video visits"])
BASE = "/api/v1/video/rooms"
roster = relay.Roster(room.ROOM_CAP)


class Addressed(BaseModel):
    """A signal for one other socket of the room."""

    to: str = Field(min_length=1, max_length=relay.MAX_PEER)
    call: str = Field(default="", max_length=relay.MAX_PEER)
    signal: Signal


def topic(room_id: str) -> str:
    """The live topic of a room (kept apart from the visits')."""
    return f"room:{room_id}"


def _joined(websocket: WebSocket, task_id: str) -> tuple[AccessContext, dict[str, Any]] | None:
    ctx = guard.socket_caller(websocket)
    if ctx is None:
        return None
    try:
        with unit_of_work() as conn:
            found = sessions.join(conn, ctx=ctx, task_id=task_id)
            names = directory.practitioner_names(conn, found.participants)
            return ctx, found.as_json(names)
    except sessions.Refusal as exc:
        sessions.audit_refusal(exc)
        return None
    except service.TeleconsultError:
        return None


class Member:
    """One participant's socket in the room."""

    def __init__(self, websocket: WebSocket, found: dict[str, Any]) -> None:
        self.websocket, self.topic = websocket, topic(found["id"])
        self.participant = found["me"]
        self.records = frozenset(found["records"])
        self.peer = uuid.uuid4().hex[:16]
        self.closing = False

    def announce(self, kind: str, *, to: str | None = None) -> None:
        """Tell the room this socket came ('join') or went ('leave'), or tell a newcomer (to) that it is here."""
        live.publish(self.topic, kind, **{"from": self.peer}, participant=self.participant, reply=to is not None,
                     to=to)

    async def forward(self, event: dict[str, Any]) -> None:
        """An event of the room reaches this socket: pass on what is for it."""
        kind = event.get("type")
        if kind in ("join", "leave"):
            seen = relay.announcement(event, self.peer, self.participant)
            if seen == "replaced":
                await self.websocket.send_json({"type": "replaced"})
                self.closing = True
            elif seen is not None:
                await self.websocket.send_json({"type": kind, "peer": event.get("from"),
                                                "participant": event.get("participant"), "reply": seen == "here"})
                if seen == "joined":
                    self.announce("join", to=event.get("from"))
        elif kind == "signal":
            if relay.addressed_to(event, self.peer):
                await self.websocket.send_json({k: event.get(k) for k in ("type", "from", "call", "signal")})
        elif kind in ("media", "show"):
            if event.get("from") != self.peer:
                await self.websocket.send_json({k: v for k, v in event.items() if k not in ("visit", "to")})
        elif kind == "ended":
            await self.websocket.send_json({"type": "ended"})
            self.closing = True

    async def handle(self, data: dict[str, Any]) -> None:
        """A frame from this socket's browser."""
        kind = data.get("type")
        if kind == "signal":
            try:
                sent = Addressed.model_validate({k: data.get(k) for k in ("to", "call", "signal")})
            except ValidationError:
                await self._error("bad-signal", "A signal goes to one peer and carries one description, candidate "
                                                "or renegotiate")
                return
            live.publish(self.topic, "signal", **{"from": self.peer}, to=sent.to, call=sent.call,
                         signal=sent.signal.model_dump(exclude_none=True, exclude_defaults=True))
        elif kind == "media":
            state = await relay.media_state(self.websocket, data)
            if state is not None:
                live.publish(self.topic, "media", **{"from": self.peer}, state=state)
        elif kind == "show":
            item = data.get("item")
            if not isinstance(item, str) or item not in self.records:
                await self._error("bad-item", "Show one of the records shared on this consultation")
                return
            live.publish(self.topic, "show", **{"from": self.peer}, item=item)
        elif kind == "leave":
            self.closing = True
        else:
            await self._error("bad-type", "Send signal, media, show or leave")

    async def _error(self, code: str, message: str) -> None:
        await relay.refuse(self.websocket, code, message)


@router.websocket(BASE + "/{teleconsult_id}/ws")
async def room_signalling(websocket: WebSocket, teleconsult_id: str) -> None:
    """The session's signalling for its participants: joins and leaves, addressed signals, shared viewing."""
    joined = await run_in_threadpool(_joined, websocket, teleconsult_id[:64])
    if joined is None:
        await websocket.close(code=relay.POLICY_VIOLATION)
        return
    ctx, found = joined
    install()
    await websocket.accept()
    member = Member(websocket, found)
    try:
        roster.enter(member.topic, member.peer, member.participant)
    except relay.RoomFull:
        await relay.refuse(websocket, "full", f"The room is full ({roster.cap} people)")
        await websocket.close(code=relay.POLICY_VIOLATION)
        return

    def departed() -> None:
        roster.leave(member.topic, member.peer)
        member.announce("leave")

    hello = {"type": "hello", "peer": member.peer, "me": member.participant, "participants": found["participants"],
             "records": found["records"], "ice_servers": ice_servers_for(ice_user(ctx), int(time.time()))}
    await relay.converse(websocket, member.topic, member, hello, arrived=lambda: member.announce("join"),
                         departed=departed)


def _room_changed(event: events.DomainEvent) -> None:
    """A room's Encounter was written: if it is over now (ended, answered, cancelled), its sockets are told."""
    room_id = str(event.payload.get("id", ""))
    if event.payload.get("type") != "Encounter" or not room_id.startswith("mdt-"):
        return
    r = tables.resource.c
    with unit_of_work() as conn:
        content = conn.execute(select(r.content).where(r.res_type == "Encounter", r.res_id == room_id)).scalar()
    if content and content.get("status") in room.ENDED:
        live.publish(topic(room_id), "ended")


_installed: list[bool] = []


def install() -> None:
    """Start listening for rooms that end (once per process), and for the live events of the video module."""
    live.install()
    if not _installed:
        events.subscribe("ResourceUpdated", _room_changed)
        _installed.append(True)
