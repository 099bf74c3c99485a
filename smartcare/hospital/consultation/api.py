"""The online consultation JSON API under /api/v1/consultations and its live chat WebSocket.

WebSocket /api/v1/consultations/{id}/ws?since=<seq> (a bearer token, or a same-site browser session):
the server sends {"type": "hello"}, then every message numbered after since, then live events. The client
sends {"type": "send", "client_id", "text"} (answered {"type": "ack", "client_id", "seq", "duplicate"}),
{"type": "delivered"|"read", "up_to"} receipts, and {"type": "typing", "typing": bool} (not stored).
Messages reach every socket as {"type": "message", "message": {...}}, each once per socket, in order.
"""

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.consultation import jobs as _offer_job  # noqa: F401 (registers the offering job)
from smartcare.hospital.consultation import live, photos, prescriptions, service
from smartcare.hospital.consultation.config import get_settings
from smartcare.hospital.consultation.schemas import (
    Closing,
    NewMessage,
    OpenConsultation,
    Prescription,
    Problem,
    Rating,
    Receipt,
)
from smartcare.hospital.pharmacy.signing import PrescriptionLine
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import guard

# Every HTTP route turns strangers away before reading the body (the WebSocket checks its own caller).
router = APIRouter(tags=["Online consultation"])
_caller_first = [Depends(guard.api_surface("account"))]
PROBLEMS: dict[int | str, dict[str, Any]] = {s: {"model": Problem} for s in (400, 401, 403, 404, 409, 422)}
POLICY_VIOLATION = 1008
BASE = "/api/v1/consultations"


def _problem(exc: service.ConsultationError) -> JSONResponse:
    return JSONResponse({"error": exc.code, "message": str(exc)}, status_code=exc.status, headers=guard.NO_STORE)


def _run(request: Request, work: Callable[[Any, AccessContext], Any], status: int = 200) -> Any:
    """Authenticate, then do work in one unit of work; a write that raced its own retry is run once more."""
    with unit_of_work() as conn:
        ctx = guard.api_caller(conn, request, "account")
    for attempt in (1, 2):
        try:
            with unit_of_work() as conn:
                result = work(conn, ctx)
            return JSONResponse(result, status_code=status, headers=guard.NO_STORE) if status != 200 else result
        except service.ConsultationError as exc:
            return _problem(exc)
        except IntegrityError:
            if attempt == 2:
                raise
    return None


@router.post(BASE, status_code=201, responses=PROBLEMS, dependencies=_caller_first)
async def open_consultation(request: Request, body: OpenConsultation) -> Any:
    """Open a consultation (the patient or their proxy) with a doctor or a department's on-duty pool."""
    return await run_in_threadpool(_run, request, lambda conn, ctx: service.open_consultation(
        conn, ctx, patient_id=body.patient, kind=body.kind, question=body.question,
        practitioner_id=body.practitioner, department_id=body.department, condition_id=body.condition,
        fee=body.fee), 201)


@router.get(BASE, responses=PROBLEMS, dependencies=_caller_first)
async def my_consultations(request: Request, patient: str) -> Any:
    """A patient's consultations, newest first."""
    return await run_in_threadpool(_run, request, lambda conn, ctx: service.my_consultations(
        conn, ctx, patient_id=patient[:64]))


@router.get(BASE + "/inbox", responses=PROBLEMS, dependencies=_caller_first)
async def inbox(request: Request) -> Any:
    """The doctor's open consultations and their departments' waiting pool."""
    return await run_in_threadpool(_run, request, service.inbox)


@router.get(BASE + "/{consultation_id}", responses=PROBLEMS, dependencies=_caller_first)
async def consultation(request: Request, consultation_id: str) -> Any:
    """One consultation."""
    return await run_in_threadpool(_run, request, lambda conn, ctx: service.consultation_view(
        conn, ctx, consultation_id=consultation_id[:64]))


@router.post(BASE + "/{consultation_id}/pick-up", responses=PROBLEMS, dependencies=_caller_first)
async def pick_up(request: Request, consultation_id: str) -> Any:
    """A doctor takes a waiting consultation."""
    return await run_in_threadpool(_run, request, lambda conn, ctx: service.pick_up(
        conn, ctx, consultation_id=consultation_id[:64]))


def _post(conn: Any, ctx: AccessContext, consultation_id: str, body: NewMessage) -> Any:
    message, new = service.post_message(conn, ctx, consultation_id=consultation_id, client_id=body.client_id,
                                        text=body.text, category=body.category)
    return JSONResponse({**message, "duplicate": not new}, status_code=201 if new else 200, headers=guard.NO_STORE)


@router.post(BASE + "/{consultation_id}/messages", responses=PROBLEMS, dependencies=_caller_first)
async def post_message(request: Request, consultation_id: str, body: NewMessage) -> Any:
    """Send a message (201), or the same client_id again (200, the message stored the first time)."""
    return await run_in_threadpool(_run, request, lambda conn, ctx: _post(conn, ctx, consultation_id[:64], body))


@router.get(BASE + "/{consultation_id}/messages", responses=PROBLEMS, dependencies=_caller_first)
async def messages(request: Request, consultation_id: str, since: int = 0) -> Any:
    """The messages numbered after since, in order."""
    return await run_in_threadpool(_run, request, lambda conn, ctx: service.messages_since(
        conn, ctx, consultation_id=consultation_id[:64], since=since))


@router.post(BASE + "/{consultation_id}/receipts", responses=PROBLEMS, dependencies=_caller_first)
async def receipts(request: Request, consultation_id: str, body: Receipt) -> Any:
    """Mark the other side's messages up to a number delivered or read."""
    return await run_in_threadpool(_run, request, lambda conn, ctx: service.mark_receipt(
        conn, ctx, consultation_id=consultation_id[:64], up_to=body.up_to, receipt=body.receipt))


@router.post(BASE + "/{consultation_id}/close", responses=PROBLEMS, dependencies=_caller_first)
async def close(request: Request, consultation_id: str, body: Closing) -> Any:
    """Close with a summary and advice (the doctor), or withdraw while waiting (the patient: refunded)."""
    return await run_in_threadpool(_run, request, lambda conn, ctx: service.close(
        conn, ctx, consultation_id=consultation_id[:64], summary=body.summary, advice=body.advice,
        diagnosis=body.diagnosis))


@router.post(BASE + "/{consultation_id}/rating", responses=PROBLEMS, dependencies=_caller_first)
async def rating(request: Request, consultation_id: str, body: Rating) -> Any:
    """The patient's rating and feedback after closing, once."""
    return await run_in_threadpool(_run, request, lambda conn, ctx: service.rate(
        conn, ctx, consultation_id=consultation_id[:64], rating=body.rating, feedback=body.feedback))


def _attach(conn: Any, ctx: AccessContext, consultation_id: str, fields: dict[str, Any]) -> Any:
    message, new = photos.attach_photo(conn, ctx, consultation_id=consultation_id, client_id=fields["client_id"],
                                       data=fields["data"], caption=fields["caption"])
    return JSONResponse({**message, "duplicate": not new}, status_code=201 if new else 200, headers=guard.NO_STORE)


@router.post(BASE + "/{consultation_id}/photos", responses=PROBLEMS, dependencies=_caller_first)
async def attach_photo(request: Request, consultation_id: str) -> Any:
    """Send a photo (multipart: file, client_id, caption): JPEG, PNG or WebP, checked by decoding it, size and
    pixels limited, stored without its metadata; the same client_id again gives the message stored first."""
    limit = get_settings().photo_max_bytes
    form = await request.form(max_files=1, max_fields=4)  # a malformed body is answered 400 by Starlette
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return _problem(service.ConsultationError("Send the photo in a file field", code="bad-upload", status=400))
    data = await upload.read(limit + 1)
    fields = {"client_id": str(form.get("client_id") or "")[:200], "caption": str(form.get("caption") or "")[:2000],
              "data": data}
    return await run_in_threadpool(_run, request, lambda conn, ctx: _attach(conn, ctx, consultation_id[:64], fields))


def _photo(conn: Any, ctx: AccessContext, consultation_id: str, media_id: str) -> Response:
    data, content_type = photos.read_photo(conn, ctx, consultation_id=consultation_id, media_id=media_id)
    return Response(data, media_type=content_type, headers={
        **guard.NO_STORE, "X-Content-Type-Options": "nosniff", "Content-Disposition": "inline",
        "Content-Security-Policy": "default-src 'none'"})


@router.get(BASE + "/{consultation_id}/photos/{media_id}", responses=PROBLEMS, dependencies=_caller_first)
async def photo(request: Request, consultation_id: str, media_id: str) -> Any:
    """A photo of the consultation, for its patient (or proxy) and its doctor only."""
    return await run_in_threadpool(_run, request, lambda conn, ctx: _photo(conn, ctx, consultation_id[:64],
                                                                            media_id[:64]))


def _prescribe(request: Request, consultation_id: str, body: Prescription) -> Any:
    with unit_of_work() as conn:
        ctx = guard.api_caller(conn, request, "workstation")
    lines = [PrescriptionLine(medicine=x.medicine, dose=x.dose, unit=x.unit, frequency=x.frequency.upper(),
                              route=x.route, days=x.days, note=x.note) for x in body.lines]
    try:
        signed = prescriptions.prescribe(ctx=ctx, consultation_id=consultation_id, lines=lines)
    except service.ConsultationError as exc:
        return _problem(exc)
    return JSONResponse({"medication_requests": signed.medication_requests, "review_task": signed.review_task,
                         "detected_issues": signed.detected_issues}, status_code=201, headers=guard.NO_STORE)


@router.post(BASE + "/{consultation_id}/prescriptions", responses=PROBLEMS, dependencies=_caller_first)
async def prescribe(request: Request, consultation_id: str, body: Prescription) -> Any:
    """The consultation's doctor prescribes online (follow-ups only; audited and sent for pharmacist review)."""
    return await run_in_threadpool(_prescribe, request, consultation_id[:64], body)


# ---- the live chat ----

def _socket_caller(websocket: WebSocket) -> AccessContext | None:
    return guard.socket_caller(websocket)


def _open_socket(websocket: WebSocket, consultation_id: str) -> tuple[AccessContext, str] | None:
    ctx = _socket_caller(websocket)
    if ctx is None:
        return None
    try:
        with unit_of_work() as conn:
            return ctx, service.typing_allowed(conn, ctx, consultation_id=consultation_id)
    except service.ConsultationError:
        return None


def _since(conn: Any, ctx: AccessContext, consultation_id: str, since: int) -> list[dict[str, Any]]:
    return service.messages_since(conn, ctx, consultation_id=consultation_id, since=since)


def _in_uow(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    for attempt in (1, 2):
        try:
            with unit_of_work() as conn:
                return fn(conn, *args, **kwargs)
        except IntegrityError:
            if attempt == 2:
                raise
    return None


class _Session:
    """One open chat socket: sends each message once and in order, whatever arrives live or from the backlog."""

    def __init__(self, websocket: WebSocket, ctx: AccessContext, side: str, consultation_id: str) -> None:
        self.websocket, self.ctx, self.side, self.consultation_id = websocket, ctx, side, consultation_id
        self.sent_up_to = 0

    async def catch_up(self, since: int) -> None:
        backlog = await run_in_threadpool(_in_uow, _since, self.ctx, self.consultation_id, since)
        self.sent_up_to = since
        for message in backlog:
            await self._send_message(message)

    async def _send_message(self, message: dict[str, Any]) -> None:
        if message["seq"] <= self.sent_up_to:
            return
        if message["seq"] > self.sent_up_to + 1:  # a live event overtook one not yet read: fill the gap first
            await self.catch_up_gap(message["seq"])
        if message["seq"] == self.sent_up_to + 1:
            await self.websocket.send_json({"type": "message", "message": message})
            self.sent_up_to = message["seq"]

    async def catch_up_gap(self, before: int) -> None:
        missed = await run_in_threadpool(_in_uow, _since, self.ctx, self.consultation_id, self.sent_up_to)
        for message in missed:
            if message["seq"] < before and message["seq"] == self.sent_up_to + 1:
                await self.websocket.send_json({"type": "message", "message": message})
                self.sent_up_to = message["seq"]

    async def forward(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "message":
            await self._send_message(event["message"])
        elif kind == "typing":
            if event.get("side") != self.side:
                await self.websocket.send_json(event)
        else:
            await self.websocket.send_json(event)

    async def handle(self, data: dict[str, Any]) -> None:
        kind = data.get("type")
        try:
            if kind == "send":
                message, new = await run_in_threadpool(
                    _in_uow, service.post_message, self.ctx, consultation_id=self.consultation_id,
                    client_id=str(data.get("client_id") or "")[:200], text=str(data.get("text") or "")[:10_000])
                await self.websocket.send_json({"type": "ack", "client_id": message["client_id"],
                                                "seq": message["seq"], "duplicate": not new})
            elif kind in ("delivered", "read"):
                up_to = data.get("up_to")
                if not isinstance(up_to, int) or isinstance(up_to, bool):
                    raise service.ConsultationError("up_to is a message number", code="bad-receipt", status=400)
                await run_in_threadpool(_in_uow, service.mark_receipt, self.ctx,
                                        consultation_id=self.consultation_id, up_to=up_to, receipt=kind)
            elif kind == "typing":
                live.publish_typing(self.consultation_id, self.side, bool(data.get("typing")))
            else:
                raise service.ConsultationError("Send send, delivered, read or typing", code="bad-type", status=400)
        except service.ConsultationError as exc:
            await self.websocket.send_json({"type": "error", "error": exc.code, "message": str(exc),
                                            "client_id": data.get("client_id")})


@router.websocket(BASE + "/{consultation_id}/ws")
async def chat(websocket: WebSocket, consultation_id: str) -> None:
    """The consultation's live chat for its patient (or proxy) and its doctor."""
    consultation_id = consultation_id[:64]
    try:
        since = max(0, int(websocket.query_params.get("since") or 0))
    except ValueError:
        since = -1
    opened = await run_in_threadpool(_open_socket, websocket, consultation_id) if since >= 0 else None
    if opened is None:
        await websocket.close(code=POLICY_VIOLATION)
        return
    ctx, side = opened
    live.install()
    await websocket.accept()
    listener = live.hub.subscribe(consultation_id)  # before the backlog is read, so nothing falls in between
    session = _Session(websocket, ctx, side, consultation_id)
    receiver: asyncio.Future | None = None
    try:
        await websocket.send_json({"type": "hello", "consultation": consultation_id, "side": side})
        await session.catch_up(since)
        receiver = asyncio.ensure_future(websocket.receive_json())
        while True:
            event = asyncio.ensure_future(listener[1].get())
            done, _ = await asyncio.wait({receiver, event}, return_when=asyncio.FIRST_COMPLETED)
            if event in done:
                await session.forward(event.result())
            else:
                event.cancel()
            if receiver in done:
                data = receiver.result()
                if isinstance(data, dict):
                    await session.handle(data)
                receiver = asyncio.ensure_future(websocket.receive_json())
    except (WebSocketDisconnect, ValueError):
        return
    finally:
        if receiver is not None:
            receiver.cancel()
            with contextlib.suppress(BaseException):
                await receiver
        live.hub.unsubscribe(consultation_id, listener)
