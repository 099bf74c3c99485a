"""The referral pages of the clinician workstation: incoming and outgoing lists, and one referral with its actions."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.referral import service, states
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)
_FILTERS = {"state": states.STATES, "urgency": service.PRIORITIES, "direction": states.DIRECTIONS}


def _filters(request: Request) -> dict[str, str | None]:
    chosen = {}
    for name, allowed in _FILTERS.items():
        value = request.query_params.get(name, "")[:12]
        chosen[name] = value if value in allowed else None
    return chosen


def _dashboard(request: Request) -> HTMLResponse:
    box = request.query_params.get("box", "incoming")
    box = box if box in ("incoming", "outgoing") else "incoming"
    chosen = _filters(request)
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
        found = service.listing(conn, ctx=v.ctx, box=box, state=chosen["state"], priority=chosen["urgency"],
                                direction=chosen["direction"])
    response = render(request, "referral/dashboard.html", user=v.user, box=box, referrals=found, chosen=chosen,
                      states=states.STATES, urgencies=service.PRIORITIES, directions=states.DIRECTIONS)
    response.headers.update(guard.NO_STORE)
    return response


@router.get("/workstation/referrals", response_class=HTMLResponse)
async def dashboard(request: Request) -> HTMLResponse:
    """Incoming and outgoing referrals with state, urgency and waiting time, filtered."""
    return await run_in_threadpool(_dashboard, request)


def _detail(request: Request, referral_id: str, *, error: str = "", status_code: int = 200) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
        try:
            referral = service.read(conn, ctx=v.ctx, task_id=referral_id[:64])
        except service.ReferralError:
            return render(request, "404.html", status_code=404, requested_path=request.url.path[:200])
        slots = service.free_slots(conn, ctx=v.ctx, task_id=referral.id) if "schedule" in referral.actions else []
    response = render(request, "referral/detail.html", user=v.user, referral=referral, slots=slots, error=error,
                      status_code=status_code)
    response.headers.update(guard.NO_STORE)
    return response


@router.get("/workstation/referrals/{referral_id}", response_class=HTMLResponse)
async def detail(request: Request, referral_id: str) -> HTMLResponse:
    """One referral: summary, attachments, history, and the steps the reader's side may take."""
    return await run_in_threadpool(_detail, request, referral_id)


def _act(request: Request, referral_id: str, fields: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    guard.check_csrf(request, v, fields.get("csrf_token"))
    action = fields.get("action", "")[:20]
    version = fields.get("version", "")
    try:
        with unit_of_work() as conn:
            if action == "schedule":
                service.book(conn, ctx=v.ctx, task_id=referral_id[:64], slot_id=fields.get("slot", "")[:80],
                             version=int(version) if version.isdigit() else None)
            else:
                service.transition(conn, ctx=v.ctx, task_id=referral_id[:64], action=action,
                                   reason=fields.get("reason", "")[:600],
                                   version=int(version) if version.isdigit() else None)
    except service.ReferralError as exc:
        return _detail(request, referral_id, error=exc.message, status_code=exc.status)
    return guard.see_other(f"/workstation/referrals/{referral_id[:64]}")


@router.post("/workstation/referrals/{referral_id}", response_class=HTMLResponse)
async def act(request: Request, referral_id: str) -> Response:
    """Take a step on the referral (accept, reject, book, arrived, complete, cancel); CSRF-checked."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_act, request, referral_id, fields)
