"""The queue's JSON API under /api/v1 and the live WebSockets at /ws/queue/{session} and /ws/queue/clinic/{clinic}."""

import asyncio
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.queue import clinic, live, service
from smartcare.hospital.queue.schemas import CheckIn, Problem, SessionQueue, Ticket, Transfer
from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import PATIENT_ROLES, AccessDenied, decide_surface
from smartcare.platform.web import guard

router = APIRouter(tags=["Outpatient queue"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem}, 401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem},
    409: {"model": Problem},
}
ACTIONS = {"call-next": service.call_next, "recall": service.recall, "skip": service.skip, "finish": service.finish}


def _problem(exc: service.QueueError) -> JSONResponse:
    return JSONResponse({"error": exc.code, "message": str(exc)}, status_code=exc.status,
                        headers=guard.NO_STORE)


def _caller_or_none(request: Request) -> AccessContext | None:
    """Who is asking, if anyone (the public display view needs no sign-in)."""
    has_token = request.headers.get("authorization", "").lower().startswith("bearer ")
    if not has_token and not request.cookies.get("sc_session"):
        return None
    try:
        with unit_of_work() as conn:
            return guard.api_caller(conn, request, "account")
    except (guard.ApiUnauthenticated, guard.SurfaceForbidden):
        return None


def _patient_ids(ctx: AccessContext) -> list[str]:
    from smartcare.fhir import gateway

    return [p["id"] for p in gateway.search(ctx, "Patient", [("_count", "20"), ("_elements", "id")])]


def _session_queue(request: Request, session: str) -> dict[str, Any] | JSONResponse:
    try:
        service.Session.parse(session)
    except service.QueueError as exc:
        return _problem(exc)
    ctx = _caller_or_none(request)
    mine_ids = _patient_ids(ctx) if ctx is not None and ctx.roles & PATIENT_ROLES else []
    with unit_of_work() as conn:
        view = service.session_view(conn, session)
        if mine_ids:
            view["mine"] = [t for t in service.tickets_of(conn, mine_ids, day=view["day"]) if t["session"] == session]
    return view


@router.get("/api/v1/queue/{session}", response_model=SessionQueue, responses=PROBLEMS)
async def session_queue(request: Request, session: str) -> Any:
    """The live queue of one clinic session (public numbers; the caller's own tickets when signed in)."""
    return await run_in_threadpool(_session_queue, request, session[:120])


def _check_in(request: Request, appointment_id: str, body: CheckIn) -> Any:
    with unit_of_work() as conn:
        ctx = guard.api_caller(conn, request, "account")
    desk = not ctx.roles & PATIENT_ROLES
    try:
        decide_surface(ctx, "desk" if desk else "app")
    except AccessDenied as exc:
        raise guard.SurfaceForbidden(str(exc), ctx=ctx, surface="desk" if desk else "app") from exc
    try:
        with unit_of_work() as conn:
            return service.check_in(conn, ctx, appointment_id=appointment_id, via="desk" if desk else "app",
                                    priority=body.priority)
    except service.QueueError as exc:
        return _problem(exc)


@router.post("/api/v1/appointments/{appointment_id}/check-in", response_model=Ticket, responses=PROBLEMS)
async def check_in(request: Request, appointment_id: str, body: CheckIn | None = None) -> Any:
    """Check a booked visit in and get (or see again) its queue number."""
    return await run_in_threadpool(_check_in, request, appointment_id[:64], body or CheckIn())


def _act(request: Request, session: str, action: str, transfer: Transfer | None) -> Any:
    with unit_of_work() as conn:
        ctx = guard.api_caller(conn, request, "workstation")
    try:
        with unit_of_work() as conn:
            if transfer is not None:
                return service.transfer(conn, ctx, session_key=session, number=transfer.number,
                                        to_practitioner=transfer.to)
            done = ACTIONS[action](conn, ctx, session_key=session)
            return done if done is not None else JSONResponse({"called": None}, headers=guard.NO_STORE)
    except service.QueueError as exc:
        return _problem(exc)


@router.post("/api/v1/queue/{session}/transfer", response_model=Ticket, responses=PROBLEMS)
async def transfer_patient(request: Request, session: str, body: Transfer | None = None) -> Any:
    """Move a waiting patient to a colleague's queue in the same session (doctors and nurses)."""
    if body is None:
        with unit_of_work() as conn:
            guard.api_caller(conn, request, "workstation")
        return JSONResponse({"error": "bad-transfer", "message": 'Send {"number": ..., "to": ...}'}, status_code=400)
    return await run_in_threadpool(_act, request, session[:120], "transfer", body)


@router.post("/api/v1/queue/{session}/{action}", response_model=Ticket, responses=PROBLEMS)
async def queue_action(request: Request, session: str, action: str) -> Any:
    """call-next, recall, skip or finish, for the session's doctor or their colleagues."""
    if action not in ACTIONS:
        with unit_of_work() as conn:
            guard.api_caller(conn, request, "workstation")
        return JSONResponse({"error": "bad-action", "message": f"Actions are {', '.join(ACTIONS)}, transfer"},
                            status_code=404)
    return await run_in_threadpool(_act, request, session[:120], action, None)


def _view(session: str) -> dict[str, Any]:
    with unit_of_work() as conn:
        return service.session_view(conn, session)


@router.websocket("/ws/queue/{session}")
async def queue_stream(websocket: WebSocket, session: str) -> None:
    """The session's queue, sent on connect and again after every change (numbers only, public)."""
    session = session[:120]
    try:
        service.Session.parse(session)
    except service.QueueError:
        await websocket.close(code=4400)
        return
    live.install()
    await websocket.accept()
    loop_and_queue = live.hub.subscribe(session)
    changes = loop_and_queue[1]
    receiver = asyncio.ensure_future(websocket.receive())
    try:
        while True:
            await websocket.send_json(await run_in_threadpool(_view, session))
            change = asyncio.ensure_future(changes.get())
            done, _ = await asyncio.wait({receiver, change}, return_when=asyncio.FIRST_COMPLETED)
            if receiver in done:
                change.cancel()
                if receiver.result().get("type") == "websocket.disconnect":
                    return
                # Whatever a display sends is ignored; keep listening.
                receiver = asyncio.ensure_future(websocket.receive())
    except WebSocketDisconnect:
        return
    finally:
        receiver.cancel()
        live.hub.unsubscribe(session, loop_and_queue)


# A clinic display asks again this often even when nothing changed: at noon the afternoon's doctors take
# over, and a doctor whose first patient checks in opens a queue the display did not know of yet.
CLINIC_REFRESH_SECONDS = 60.0


def _clinic_view(service_id: str, locale: str, area: str | None) -> dict[str, Any] | None:
    with unit_of_work() as conn:
        return clinic.clinic_view(conn, service_id, locale=locale, area=area)


def _drain(changes: asyncio.Queue) -> None:
    # A burst of changes (call next finishes one patient and calls another) is sent as one update.
    while not changes.empty():
        changes.get_nowait()


@router.websocket("/ws/queue/clinic/{service_id}")
async def clinic_stream(websocket: WebSocket, service_id: str) -> None:
    """A clinic's display: every working doctor's called and next numbers, on connect and after each change (public)."""
    area = (websocket.query_params.get("area") or "")[:64] or None
    locale = i18n.current_locale(websocket)
    view = await run_in_threadpool(_clinic_view, service_id[:64], locale, area)
    if view is None:
        await websocket.close(code=4404)
        return
    live.install()
    await websocket.accept()
    subscriber = live.listener()
    topics: set[str] = set()
    receiver = asyncio.ensure_future(websocket.receive())
    try:
        while True:
            wanted = {row["session"] for row in view["sessions"]}
            for topic in wanted - topics:
                live.hub.subscribe(topic, subscriber)
            for topic in topics - wanted:
                live.hub.unsubscribe(topic, subscriber)
            topics = wanted
            await websocket.send_json(view)
            change = asyncio.ensure_future(subscriber[1].get())
            done, _ = await asyncio.wait({receiver, change}, timeout=CLINIC_REFRESH_SECONDS,
                                         return_when=asyncio.FIRST_COMPLETED)
            if receiver in done:
                change.cancel()
                if receiver.result().get("type") == "websocket.disconnect":
                    return
                receiver = asyncio.ensure_future(websocket.receive())
            elif change in done:
                _drain(subscriber[1])
            else:
                change.cancel()
            view = await run_in_threadpool(_clinic_view, service_id[:64], locale, area) or view
    except WebSocketDisconnect:
        return
    finally:
        receiver.cancel()
        for topic in topics:
            live.hub.unsubscribe(topic, subscriber)
