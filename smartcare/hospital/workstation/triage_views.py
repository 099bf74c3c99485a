"""Clinician pages for triage: the rules the patient app's triage uses, and a patient's recent triage sessions.

Both are for staff on the workstation surface. The sessions are read with the clinician's own access context,
so the access policy decides (another organisation's doctor sees none) and every read is audited.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from smartcare.fhir.errors import FhirError
from smartcare.knowledge import first_aid, triage
from smartcare.patient.triage import service as sessions
from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

SURFACE = "workstation"
_MAX_ID = 64


def _page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    response = render(request, template, status_code=status_code, zh=i18n.current_locale(request) == "zh-Hans",
                      level_names=triage.LEVEL_NAMES, **values)
    response.headers.update(guard.NO_STORE)
    return response


def _rules_page(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        guard.visitor(conn, request, SURFACE)
    locale = i18n.current_locale(request)
    level = request.query_params.get("level", "")
    level = level if level in triage.LEVELS else ""
    rules = [r for r in triage.list_rules() if not level or r["level"] == level]
    titles = {k: p.title(locale) for r in rules for k in r["first_aid"] if (p := first_aid.protocol(k)) is not None}
    levels = list(reversed(triage.LEVELS))
    by_id = {q.id: q for q in triage.questions()}
    screens = [(None, (), [by_id[q] for q in triage.safety_screen()])]
    screens += [(c.label_zh if locale == "zh-Hans" else c.label_en, c.source, [by_id[q] for q in c.questions])
                for c in triage.context_screens()]
    return _page(request, "triage/rules.html", rules=rules, level=level, levels=levels, first_aid_titles=titles,
                 screens=screens,
                 counts={lv: sum(1 for r in triage.list_rules() if r["level"] == lv) for lv in levels})


@router.get("/workstation/triage/rules", response_class=HTMLResponse)
async def rules_page(request: Request) -> HTMLResponse:
    """Every triage rule: id, level, when it fires and why (EN/ZH), first-aid guides and sources; filter by level."""
    return await run_in_threadpool(_rules_page, request)


def _chart_sessions(request: Request, patient_id: str) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
    try:
        found = sessions.sessions_of(ctx=v.ctx, patient_id=patient_id, days=sessions.RECENT_DAYS)
        refused = False
    except FhirError:
        found, refused = [], True
    return _page(request, "triage/chart_sessions.html", sessions=found, refused=refused, days=sessions.RECENT_DAYS,
                 department_names=triage.departments())


@router.get("/workstation/patients/{patient_id}/triage", response_class=HTMLResponse)
async def chart_sessions(request: Request, patient_id: str) -> HTMLResponse:
    """The patient's triage sessions of the last 30 days (a fragment the chart loads), as the clinician may see."""
    return await run_in_threadpool(_chart_sessions, request, patient_id[:_MAX_ID])
