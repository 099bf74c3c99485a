"""Live push: new notifications go to the person's open browsers over a WebSocket, after their transaction commits."""

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from smartcare.platform import clock, i18n, live_fanout
from smartcare.platform.clock import parse_instant
from smartcare.platform.db import unit_of_work
from smartcare.platform.events import DomainEvent, subscribe
from smartcare.platform.notifications.service import NOTIFICATION_CREATED, in_language, unread_count
from smartcare.platform.web import guard
from smartcare.platform.web.sessions import IDLE_TIMEOUT, web_session

log = logging.getLogger(__name__)
router = APIRouter()
# How often an idle socket checks that its session is still live (signed out, expired: the socket closes).
RECHECK_SECONDS = 60.0
POLICY_VIOLATION = 1008


@dataclass(eq=False)
class Listener:
    """One open socket: the event loop it lives on, the queue its sender reads, and the language of its page."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue
    locale: str = i18n.DEFAULT_LOCALE


class Hub:
    """The open sockets of this process, by user; pushes are thread-safe (they come from committing threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[str, set[Listener]] = {}

    def add(self, user_id: str, locale: str = i18n.DEFAULT_LOCALE) -> Listener:
        listener = Listener(asyncio.get_running_loop(), asyncio.Queue(maxsize=100), locale)
        with self._lock:
            self._listeners.setdefault(user_id, set()).add(listener)
        return listener

    def remove(self, user_id: str, listener: Listener) -> None:
        with self._lock:
            self._listeners.get(user_id, set()).discard(listener)

    def push(self, user_id: str, message: dict[str, Any]) -> None:
        """Queue message for every open socket of user_id."""
        with self._lock:
            listeners = list(self._listeners.get(user_id, ()))
        for listener in listeners:
            with contextlib.suppress(RuntimeError):  # the socket's loop has closed: it is going away
                listener.loop.call_soon_threadsafe(_offer, listener.queue, message)


def _offer(queue: asyncio.Queue, message: dict[str, Any]) -> None:
    with contextlib.suppress(asyncio.QueueFull):  # a browser that reads nothing misses pushes, not the inbox
        queue.put_nowait(message)


hub = Hub()


LIVE_KIND = "notification"


def _deliver(payload: dict[str, Any]) -> None:
    # The wording goes along so each socket puts the notice into the words of its own page (_send).
    hub.push(str(payload["user_id"]), {"type": "notification", "notification": payload["notification"],
                                       "wording": payload.get("wording")})


def _on_created(event: DomainEvent) -> None:
    # Through the fan-out: this process's sockets at once, the other server processes' over Redis.
    live_fanout.publish(LIVE_KIND, {"user_id": event.payload["user_id"],
                                    "notification": event.payload["notification"],
                                    "wording": event.payload.get("wording")})


def in_page_language(message: dict[str, Any], locale: str) -> dict[str, Any]:
    """A pushed message as the socket sends it: a notice in the words of the page's language, without its wording."""
    if message.get("type") != "notification":
        return message
    return {"type": "notification", "notification": in_language(message["notification"], message.get("wording"),
                                                                 locale)}


live_fanout.register(LIVE_KIND, _deliver)
subscribe(NOTIFICATION_CREATED, _on_created)


def _same_origin(websocket: WebSocket) -> bool:
    # Browsers send cookies with cross-site WebSocket handshakes; only pages of this site may open one.
    origin = websocket.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == websocket.headers.get("host")


def _signed_in(websocket: WebSocket) -> tuple[str, str, int] | None:
    with unit_of_work() as conn:
        found = guard.signed_in(conn, websocket)  # type: ignore[arg-type]  (only the cookies are read)
        if found is None:
            return None
        session, user = found
        return session.id_hash, user.id, unread_count(conn, user_id=user.id)


def _session_live(id_hash: str) -> bool:
    # Read without touching last_seen: an open socket must not keep an idle session alive.
    with unit_of_work() as conn:
        row = conn.execute(sa.select(web_session).where(web_session.c.id_hash == id_hash)).one_or_none()
    now = clock.now()
    return (row is not None and not row.revoked and now < parse_instant(row.expires)
            and now - parse_instant(row.last_seen) < IDLE_TIMEOUT)


@router.websocket("/ws/notifications")
async def notifications_socket(websocket: WebSocket) -> None:
    """Push the signed-in person's new notifications as JSON; refused without a live session."""
    found = await run_in_threadpool(_signed_in, websocket) if _same_origin(websocket) else None
    if found is None:
        await websocket.close(code=POLICY_VIOLATION)
        return
    id_hash, user_id, unread = found
    live_fanout.current()  # this process hears the other processes' notifications from now on
    await websocket.accept()
    listener = hub.add(user_id, i18n.current_locale(websocket))
    try:
        await websocket.send_json({"type": "hello", "unread": unread})
        sender = asyncio.create_task(_send(websocket, listener, id_hash))
        receiver = asyncio.create_task(_drain(websocket))
        done, pending = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in done:
            with contextlib.suppress(WebSocketDisconnect, asyncio.CancelledError):
                task.result()
    finally:
        hub.remove(user_id, listener)


async def _send(websocket: WebSocket, listener: Listener, id_hash: str) -> None:
    while True:
        try:
            message = await asyncio.wait_for(listener.queue.get(), timeout=RECHECK_SECONDS)
        except TimeoutError:
            message = None
        if not await run_in_threadpool(_session_live, id_hash):
            await websocket.close(code=POLICY_VIOLATION)
            return
        if message is not None:
            await websocket.send_json(in_page_language(message, listener.locale))


async def _drain(websocket: WebSocket) -> None:
    # Reading is how a closed browser tab is noticed; what the browser sends is ignored.
    while True:
        await websocket.receive_text()


@router.get("/api/notifications/unread", tags=["notifications"])
async def unread(request: Request) -> JSONResponse:
    """How many of the caller's notifications are unread (a signed-in browser or a user's bearer token)."""
    def count() -> JSONResponse:
        with unit_of_work() as conn:
            ctx = guard.api_caller(conn, request, "account")
            return JSONResponse({"unread": unread_count(conn, user_id=ctx.subject or "")}, headers=guard.NO_STORE)
    return await run_in_threadpool(count)
