"""The laboratory interface in the console: inbound messages the LIS refused (fixed and reprocessed, or
dismissed), and the orders sent out to the instrument middleware, with the dead letters to resend or discard."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.lab import interface, outbound_queue
from smartcare.hospital.lab.outbound_models import DEAD
from smartcare.hospital.lab.outbound_models import STATUSES as OUTBOUND_STATUSES
from smartcare.hospital.lab.outbound_queue import ack_summary
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
SURFACE = "console/lab-interface"
STATUSES = ("open", "reprocessed", "dismissed")
MAX_MESSAGE = 1024 * 1024
OUTBOUND = "/console/lab-interface/outbound"


def _queue(request: Request) -> HTMLResponse:
    status = request.query_params.get("status", "open")
    status = status if status in STATUSES else "open"
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        items = interface.error_items(conn, status=status)
    return render_private(request, "lab/interface_queue.html", user=v.user, items=items, status=status, statuses=STATUSES)


@router.get("/console/lab-interface", response_class=HTMLResponse)
async def error_queue(request: Request) -> HTMLResponse:
    """HL7 messages the laboratory interface refused (AE/AR), open first, with the problem each had."""
    return await run_in_threadpool(_queue, request)


def _hospital(v: guard.Visitor) -> str:
    """The hospital whose outbound orders this administrator sees; a refusal when the account names none."""
    if not v.ctx.organization:
        raise guard.SurfaceForbidden("the account names no hospital", ctx=v.ctx, surface=SURFACE)
    return v.ctx.organization


def _outbound(request: Request) -> HTMLResponse:
    status = request.query_params.get("status", DEAD)
    status = status if status in OUTBOUND_STATUSES else DEAD
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        hospital = _hospital(v)
        found = outbound_queue.messages(conn, organization=hospital, status=status)
        counts = outbound_queue.counts(conn, organization=hospital)
        if found:
            # The messages name patients: seeing them is recorded like any read of their records.
            audit.record(conn, ctx=v.ctx, action="R", subtype="search", purpose="HOPERAT",
                         entities=sorted({m["patient"] for m in found}))
    shown = [{**m, "raw_lines": m["raw"].replace("\r", "\n").strip(), "ack_lines": (m["ack"] or "").replace("\r", "\n").strip(),
              "answer": ack_summary(m["ack"] or "")} for m in found]
    return render_private(request, "lab/interface_outbound.html", user=v.user, messages=shown, status=status,
                          statuses=OUTBOUND_STATUSES, counts=counts, done=request.query_params.get("done", "")[:20])


@router.get(OUTBOUND, response_class=HTMLResponse)
async def outbound_messages(request: Request) -> HTMLResponse:
    """Orders sent to the instrument middleware by status: the dead letters first, with attempts, error and ACK."""
    return await run_in_threadpool(_outbound, request)


def _outbound_act(request: Request, message_id: str, action: str, token: str | None) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        guard.check_csrf(request, v, token)
        hospital = _hospital(v)
        act = {"resend": outbound_queue.resend, "discard": outbound_queue.discard}.get(action)
        row = act(conn, message_id=int(message_id), organization=hospital) \
            if act is not None and message_id.isdigit() and len(message_id) < 12 else None
        if row is not None:
            audit.record(conn, ctx=v.ctx, action="E", subtype="operation", patient=row["patient"],
                         entities=[row["request"]], purpose="HOPERAT",
                         description=f"{action} HL7 {row['message_type']} {row['control_id']} to the laboratory "
                                     f"middleware after {row['attempts']} attempts"[:200])
    if row is None:
        return not_found(request)
    return RedirectResponse(f"{OUTBOUND}?status={'queued' if action == 'resend' else 'discarded'}&done={action}",
                            status_code=303, headers=guard.NO_STORE)


@router.post(OUTBOUND + "/{message_id}/{action}")
async def outbound_action(request: Request, message_id: str, action: str) -> Response:
    """Resend a failed or dead order message now (a new job), or discard one not sent; CSRF-checked."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_outbound_act, request, message_id[:20], action[:20], fields.get("csrf_token"))


def _item(request: Request, item_id: str, *, status_code: int = 200, outcome: Any = None,
          raw: str | None = None) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        item = interface.error_item(conn, item_id=int(item_id)) if item_id.isdigit() and len(item_id) < 12 else None
    if item is None:
        return not_found(request)
    return render_private(request, "lab/interface_item.html", status_code=status_code, user=v.user, item=item,
                 outcome=outcome, raw=raw if raw is not None else item["raw"].replace("\r", "\n"))


@router.get("/console/lab-interface/{item_id}", response_class=HTMLResponse)
async def error_item(request: Request, item_id: str) -> HTMLResponse:
    """One refused message: the problem, the ACK sent, and the message to correct."""
    return await run_in_threadpool(_item, request, item_id[:20])


def _act(request: Request, item_id: str, action: str, fields: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
    guard.check_csrf(request, v, fields.get("csrf_token"))
    if not item_id.isdigit() or len(item_id) >= 12:
        return not_found(request)
    if action == "dismiss":
        with unit_of_work() as conn:
            interface.dismiss(conn, item_id=int(item_id), actor=v.ctx.author)
        return RedirectResponse("/console/lab-interface", status_code=303, headers=guard.NO_STORE)
    if action != "reprocess":
        return RedirectResponse(f"/console/lab-interface/{item_id}", status_code=303)
    raw = fields.get("message", "")
    if not raw.strip() or len(raw) > MAX_MESSAGE:
        return _item(request, item_id, status_code=400, raw=raw[:MAX_MESSAGE])
    # Segments are separated by carriage returns in HL7 v2; the text box gives line feeds back.
    message = "\r".join(line.rstrip("\r") for line in raw.strip().splitlines())
    outcome = interface.reprocess(item_id=int(item_id), raw=message, actor=v.ctx.author)
    if outcome.ack_code == "AA":
        return RedirectResponse("/console/lab-interface?status=reprocessed", status_code=303, headers=guard.NO_STORE)
    return _item(request, item_id, status_code=400, outcome=outcome, raw=raw)


@router.post("/console/lab-interface/{item_id}/{action}")
async def error_action(request: Request, item_id: str, action: str) -> Response:
    """Reprocess a refused message as corrected, or dismiss it; CSRF-checked."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_act, request, item_id[:20], action[:20], fields)
