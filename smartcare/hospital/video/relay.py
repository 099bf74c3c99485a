"""Signalling sockets in general: the loop that carries a browser's frames to its party and the events of its
topic (a visit, a room) back, and the rules of a many-party room as plain data (addressing, presence, the cap).

A party is one open socket: `handle(frame)` for what its browser sends, `forward(event)` for what the topic
publishes, and `closing` to stop. The 1:1 video visit (api.py) and the multi-disciplinary room (rooms.py) are
both parties; only what they relay differs.
"""

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, Protocol

import orjson
from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from smartcare.hospital.video import live
from smartcare.hospital.video.schemas import MediaState

POLICY_VIOLATION = 1008
MAX_FRAME = 120_000  # an SDP with many codecs and candidates stays well below this
MAX_PEER = 40


class Party(Protocol):
    """One open signalling socket's side of the conversation."""

    closing: bool

    async def handle(self, data: dict[str, Any]) -> None: ...

    async def forward(self, event: dict[str, Any]) -> None: ...


def frame(text: str) -> dict[str, Any]:
    """A browser's frame as a dict ({} for anything too long or not a JSON object, answered as bad-type)."""
    if len(text) > MAX_FRAME:
        return {}
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


async def pump(websocket: WebSocket, listener: live.Listener, party: Party) -> None:
    """Carry frames and events until the party is closing; WebSocketDisconnect when the browser goes."""
    receiver = asyncio.ensure_future(websocket.receive_text())
    try:
        while not party.closing:
            event = asyncio.ensure_future(listener[1].get())
            done, _ = await asyncio.wait({receiver, event}, return_when=asyncio.FIRST_COMPLETED)
            if event in done:
                await party.forward(event.result())
            else:
                event.cancel()
            if receiver in done:
                await party.handle(frame(receiver.result()))
                receiver = asyncio.ensure_future(websocket.receive_text())
    finally:
        receiver.cancel()
        with contextlib.suppress(BaseException):
            await receiver


async def converse(websocket: WebSocket, topic: str, party: Party, hello: dict[str, Any], *,
                   arrived: Callable[[], None], departed: Callable[[], None]) -> None:
    """An accepted socket's whole conversation on topic: greet the browser, tell the topic the party arrived,
    carry frames and events until either side is done, and tell the topic it departed, however it ended."""
    listener = live.hub.subscribe(topic)
    try:
        await websocket.send_json(hello)
        arrived()
        await pump(websocket, listener, party)
        await websocket.close()
    except WebSocketDisconnect:
        return
    finally:
        live.hub.unsubscribe(topic, listener)
        departed()


async def refuse(websocket: WebSocket, code: str, message: str) -> None:
    """Tell the browser what it asked for was refused, and why (an "error" frame)."""
    await websocket.send_json({"type": "error", "error": code, "message": message})


async def media_state(websocket: WebSocket, data: dict[str, Any]) -> dict[str, bool] | None:
    """The microphone, camera and screen state a "media" frame carries, or None once the browser is told it is
    malformed."""
    try:
        return MediaState.model_validate(data.get("state")).model_dump()
    except ValidationError:
        await refuse(websocket, "bad-media", "Media state is audio, video and screen, each true or false")
        return None


def addressed_to(event: dict[str, Any], peer: str) -> bool:
    """True when a room event is for this socket: sent to it by another one (never back to its sender)."""
    return event.get("to") == peer and event.get("from") != peer


def announcement(event: dict[str, Any], peer: str, participant: str) -> str | None:
    """What a socket makes of another's join or leave: 'replaced' (the same person joined elsewhere, so this
    socket stops), 'joined' (answer with our own presence), 'here' (a reply to our join), 'left', or None (our
    own, or a reply to somebody else's join)."""
    if event.get("from") == peer or (event.get("reply") and event.get("to") != peer):
        return None
    if event.get("type") == "leave":
        return "left"
    if event.get("participant") == participant:
        return None if event.get("reply") else "replaced"
    return "here" if event.get("reply") else "joined"


class RoomFull(Exception):
    """The room already holds as many sockets as it may."""


class Roster:
    """The sockets of each room on this server process, at most cap per room (thread-safe)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._lock = threading.Lock()
        self._rooms: dict[str, dict[str, str]] = {}

    def enter(self, room: str, peer: str, participant: str) -> None:
        """Count the socket in; RoomFull when the room is full (another socket of the same person does not
        count, as it is about to be replaced)."""
        with self._lock:
            present = self._rooms.setdefault(room, {})
            others = [p for p, who in present.items() if who != participant]
            if len(others) >= self.cap:
                if not present:
                    self._rooms.pop(room, None)
                raise RoomFull(room)
            present[peer] = participant

    def leave(self, room: str, peer: str) -> None:
        """Count the socket out."""
        with self._lock:
            present = self._rooms.get(room, {})
            present.pop(peer, None)
            if not present:
                self._rooms.pop(room, None)

    def present(self, room: str) -> dict[str, str]:
        """The room's sockets here: peer -> participant."""
        with self._lock:
            return dict(self._rooms.get(room, {}))
