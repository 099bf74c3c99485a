"""The banner of critical values still waiting for the signed-in clinician's read-back.

Every workstation page fetches it on load (platform/web/static/js/critical-alerts.js, included by the
shared layout for staff) and again when a critical value arrives, so a doctor who was offline when the alert
was pushed still sees what waits for them. It is an HTML fragment rendered here, in the reader's language.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.lab import critical, critical_texts
from smartcare.platform import clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import render_private

router = APIRouter(include_in_schema=False)
BANNER_PATH = "/workstation/lab/critical-waiting"
SHOWN = 20


def _patient_name(ctx: AccessContext, reference: str) -> str:
    try:
        return fhir_text.person_name(gateway.read(ctx, reference)) or reference
    except FhirError:
        return reference


def waiting(ctx: AccessContext, *, locale: str) -> tuple[list[dict[str, Any]], int]:
    """The critical values ctx's practitioner owns and has not acknowledged (oldest first, at most SHOWN),
    as the banner lists them, and how many there are in all; none for a role whose work needs no Tasks."""
    if not (ctx.fhir_user or "").startswith("Practitioner/") or not critical.may_follow(ctx):
        return [], 0
    tasks = critical.open_for(ctx, owner=ctx.fhir_user)
    names: dict[str, str] = {}
    rows = []
    for task in tasks[:SHOWN]:
        reference = str((task.get("for") or {}).get("reference", ""))
        if reference not in names:
            names[reference] = _patient_name(ctx, reference)
        facts = critical.result_facts(task, patient=names[reference], locale=locale)
        due = ((task.get("restriction") or {}).get("period") or {}).get("end", "")
        rows.append({**facts, "flag_name": critical_texts.flag_name(facts["flag"], locale),
                     "link": f"/workstation/lab/critical/{task['id']}", "due": clock.wall_clock(due),
                     "escalated": (task.get("businessStatus") or {}).get("text") == critical.ESCALATED})
    return rows, len(tasks)


def _banner(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    items, total = waiting(v.ctx, locale=i18n.current_locale(request))
    return render_private(request, "lab/_critical_waiting.html", items=items, total=total)


@router.get(BANNER_PATH, response_class=HTMLResponse)
async def critical_waiting(request: Request) -> HTMLResponse:
    """The caller's unacknowledged critical values as the banner (an HTML fragment, empty if none)."""
    return await run_in_threadpool(_banner, request)
