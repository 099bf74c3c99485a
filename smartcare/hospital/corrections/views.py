"""The console page of a hospital's correction requests: what patients asked to correct, and the answers."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.corrections import service
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render_private

router = APIRouter(include_in_schema=False)
SURFACE = "console/corrections"


def _row(task: dict[str, Any]) -> dict[str, Any]:
    return {"id": task.get("id", ""), "item": (task.get("focus") or {}).get("display", ""),
            "item_ref": (task.get("focus") or {}).get("reference", ""),
            "patient": (task.get("for") or {}).get("reference", ""), "status": task.get("status", ""),
            "text": task.get("description", ""), "authored": task.get("authoredOn", ""),
            "note": (task.get("statusReason") or {}).get("text", ""),
            "choices": [a for a, after in service.ANSWERS.items() if task.get("status") in after]}


def _page(request: Request, *, status_code: int = 200, error: str = "") -> HTMLResponse:
    show_all = request.query_params.get("show") == "all"
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        tasks = service.owned_requests(conn, v.ctx, open_only=not show_all)
    return render_private(request, "corrections/console.html", status_code=status_code, user=v.user,
                          rows=[_row(t) for t in tasks], show_all=show_all, error=error,
                          max_note=service.MAX_NOTE)


@router.get("/console/corrections", response_class=HTMLResponse)
async def correction_requests(request: Request) -> HTMLResponse:
    """The correction requests patients addressed to this hospital, open ones first (?show=all for every one)."""
    return await run_in_threadpool(_page, request)


def _answer(request: Request, task_id: str, form: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        guard.check_csrf(request, v, form.get("csrf_token"))
    try:
        with unit_of_work() as conn:
            service.answer(conn, v.ctx, task_id=task_id, status=form.get("status", "")[:20],
                           note=form.get("note", "")[:service.MAX_NOTE * 2])
    except service.CorrectionRefused as exc:
        return _page(request, status_code=400, error=str(exc))
    return guard.see_other("/console/corrections")


@router.post("/console/corrections/{task_id}")
async def answer_correction(request: Request, task_id: str) -> Response:
    """Accept, decline or complete one request, with a note the patient reads; CSRF-checked."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_answer, request, task_id[:64], form)
