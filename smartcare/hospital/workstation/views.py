"""Workstation pages: the doctor's today list (the workstation home, with the patient search and emergency
access), and the patient chart.

Every page asks the guard first, then reads records through the FHIR gateway as the signed-in
clinician, so each list holds what the access policy lets them see and each read is audited.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.workstation import today as today_list
from smartcare.hospital.workstation.chart import ChartError, patient_chart
from smartcare.hospital.workstation.codes import day_of
from smartcare.platform import clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import break_glass
from smartcare.platform.security.policy import SURFACE_ROLES
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

PATIENTS_SHOWN = 20
_MAX_QUERY = 64


def _page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    response = render(request, template, status_code=status_code, **values)
    response.headers.update(guard.NO_STORE)
    return response


def _grants(conn, v: guard.Visitor) -> list[dict[str, Any]]:
    return [
        {"id": g.id, "patient": g.patient_id, "reason": g.reason,
         "until": g.expires[:16].replace("T", " ") + " UTC"}
        for g in break_glass.active_grants(conn, user_id=v.user.id)
    ]


def _patient_search(v: guard.Visitor, query: str) -> tuple[list[dict[str, Any]], int | None]:
    params = [("_count", str(PATIENTS_SHOWN)), ("_total", "accurate")]
    params += [("name", query)] if query else [("_sort", "-_lastUpdated")]
    bundle = gateway.serve(v.ctx, FhirRequest(method="GET", path="Patient", query=params)).body or {}
    patients = [
        {"id": p.get("id"), "name": fhir_text.person_name(p), "gender": p.get("gender", ""),
         "birth_date": p.get("birthDate", "")}
        for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match" and (p := e["resource"])
    ]
    return patients, bundle.get("total")


def _days(request: Request) -> int:
    asked = request.query_params.get("days", "")
    return int(asked) if asked.isdigit() and int(asked) in today_list.RESULT_DAYS else today_list.DEFAULT_DAYS


def _head(request: Request) -> dict[str, Any]:
    """The visitor, their emergency accesses and their queue: the part of the today list in the app's own tables."""
    now = clock.now()
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
        reference = v.user.fhir_ref or ""
        own = reference.removeprefix("Practitioner/") if reference.startswith("Practitioner/") else None
        return {"v": v, "own": own, "now": now, "grants": _grants(conn, v),
                "sessions": today_list.queue_today(conn, practitioner_id=own, moment=now) if own else []}


def _today(request: Request, *, status_code: int = 200, glass: dict[str, Any] | None = None) -> HTMLResponse:
    head = _head(request)
    v, own, now = head["v"], head["own"], head["now"]
    query = request.query_params.get("q", "").strip()[:_MAX_QUERY]
    patients, total = _patient_search(v, query)
    days = _days(request)
    return _page(
        request, "workstation/today.html", status_code=status_code, user=v.user, patients=patients, total=total,
        query=query, grants=head["grants"], glass=glass or {}, sessions=head["sessions"],
        booked=today_list.booked_today(v.ctx, practitioner_id=own, moment=now) if own else [],
        ward=today_list.inpatients(v.ctx, practitioner_id=own, organization=v.user.organization,
                                   locale=i18n.current_locale(request)),
        waiting=today_list.results_waiting(v.ctx, now=now, days=days), days=days,
        day_choices=today_list.RESULT_DAYS, desk=v.user.role.value in SURFACE_ROLES["desk"],
        today=day_of(now).isoformat())


@router.get("/workstation", response_class=HTMLResponse)
async def workstation_home(request: Request) -> HTMLResponse:
    """The clinician's today list: their queue, their in-patients, results waiting for them, the patient
    search and emergency access."""
    return await run_in_threadpool(_today, request)


def _break_glass(request: Request, form: dict[str, str]) -> dict[str, Any]:
    glass = {"patient": form.get("patient", "")[:64], "reason": form.get("reason", "")[:500],
             "minutes": form.get("minutes", "60")[:4]}
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
        guard.check_csrf(request, v, form.get("csrf_token"))
        try:
            minutes = int(glass["minutes"]) if glass["minutes"].isdigit() else 0
            grant = break_glass.open_access(conn, ctx=v.ctx, patient_id=glass["patient"].strip(),
                                            reason=glass["reason"], minutes=minutes)
        except break_glass.BreakGlassError as exc:
            return {**glass, "error": exc.problem}
    return {"opened": grant.patient_id}


@router.post("/workstation/break-glass", response_class=HTMLResponse)
async def break_the_glass(request: Request) -> HTMLResponse:
    """Open emergency access to a patient outside one's care: a reason is required, the access is limited in
    time, flagged in the audit log and reported to the patient."""
    form = await guard.form_fields(request)
    glass = await run_in_threadpool(_break_glass, request, form)
    return await run_in_threadpool(_today, request, status_code=400 if glass.get("error") else 200, glass=glass)


def _close_glass(request: Request, grant_id: str, form: dict[str, str]) -> dict[str, Any] | None:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
        guard.check_csrf(request, v, form.get("csrf_token"))
        try:
            break_glass.close_access(conn, ctx=v.ctx, grant_id=grant_id)
        except break_glass.BreakGlassError as exc:
            return {"error": exc.problem}
    return None


@router.post("/workstation/break-glass/{grant_id}/close", response_class=HTMLResponse)
async def close_glass(request: Request, grant_id: str) -> HTMLResponse:
    """End an emergency access before it runs out."""
    form = await guard.form_fields(request)
    failed = await run_in_threadpool(_close_glass, request, grant_id[:64], form)
    return await run_in_threadpool(_today, request, status_code=404 if failed else 200, glass=failed)


def _chart(request: Request, patient_id: str) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    locale = i18n.current_locale(request)
    try:
        chart = patient_chart(ctx=v.ctx, patient_id=patient_id, today=day_of(clock.now()), locale=locale)
    except ChartError as exc:
        if exc.status == 403:
            return _page(request, "403.html", status_code=403)
        return _page(request, "404.html", status_code=exc.status, requested_path=request.url.path[:200])
    trends = {"vitals": {v["key"]: {"unit": v["unit"], "band": v["band"], "points": v["points"]}
                         for v in chart["vitals"] if v["points"]},
              "labs": {lab["id"]: {"unit": lab["unit"], "band": lab["band"], "points": lab["points"]}
                       for lab in chart["labs"] if len(lab["points"]) > 0}}
    return _page(request, "workstation/chart.html", user=v.user, chart=chart, trends=trends)


@router.get("/workstation/patients/{patient_id}", response_class=HTMLResponse)
async def chart_page(request: Request, patient_id: str) -> HTMLResponse:
    """One patient's chart: the banner, problems, medicines, allergies, vital signs and results with their
    trends, imaging, encounters, documents, care plans and risk assessments."""
    return await run_in_threadpool(_chart, request, patient_id)
