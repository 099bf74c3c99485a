"""The care team's monitoring dashboard in the workstation: patients by risk, their readings, charts and alerts.

Everything is read as the signed-in clinician through the store, so the access policy decides which patients
appear and every read is audited. The per-patient page draws each reading's last 30 days with ECharts
(static/monitoring.js), the plan's thresholds as mark lines, and offers the alert actions as forms.
"""

import re
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.family.monitoring import flows as _flows  # noqa: F401 (judges readings as they are stored)
from smartcare.family.monitoring import plans, rules, service, texts
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
SURFACE = "workstation"
STATIC_DIR = Path(__file__).resolve().parent / "static"
OWN_FILES = {"monitoring.js": "text/javascript", "dashboard-live.js": "text/javascript"}
STATIC_BASE = "/static/monitoring"
ADHERENCE_DAYS = 7
CHART_DAYS = 30
MAX_PATIENTS = 100
# How often the open dashboard reads its patient list again (static/dashboard-live.js); ?refresh=N (3-300 s) changes it.
REFRESH_SECONDS = 15
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
UNITS = {"blood-pressure": "mmHg", "heart-rate": "/min", "spo2": "%", "glucose": "mmol/L", "body-weight": "kg",
         "body-temperature": "°C", "steps": "", "fall": "", "motion": ""}
CHARTED = ("blood-pressure", "heart-rate", "spo2", "glucose", "body-weight", "body-temperature")


@lru_cache(maxsize=len(OWN_FILES))
def _own_file(name: str) -> bytes:
    return (STATIC_DIR / name).read_bytes()


def own_file_url(name: str) -> str:
    """The versioned URL of one of this module's files."""
    return f"{STATIC_BASE}/{name}?v={int((STATIC_DIR / name).stat().st_mtime)}"


def _readings(conn: Connection, ctx: AccessContext, patient: str, days: int) -> list[rules.Reading]:
    since = clock.format_instant(clock.now() - timedelta(days=days))
    found = plans.search(conn, "Observation", [("patient", patient), ("date", f"ge{since}"), ("_sort", "-date"),
                                               ("_count", "1000")], ctx)
    return [r for r in map(service.reading_of, found) if r is not None]


def _out_of_range(plan_rules: list[dict[str, Any]], reading: rules.Reading) -> bool:
    return any(rules.evaluate(r, reading, []) for r in plan_rules if r["type"] == "threshold")


def _shown_value(reading: rules.Reading) -> str:
    if reading.kind == "blood-pressure":
        return f"{reading.values['systolic']:g}/{reading.values['diastolic']:g}"
    return f"{reading.values.get('value', 0):g}"


def patient_summary(conn: Connection, ctx: AccessContext, patient: dict[str, Any],
                    patient_plans: list[dict[str, Any]], alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """One row of the dashboard: open alerts, latest readings (flagged when out of range) and adherence."""
    reference = f"Patient/{patient['id']}"
    readings = _readings(conn, ctx, reference, ADHERENCE_DAYS)
    plan_rules = [r for p in patient_plans for r in plans.rules_of(p)]
    latest: dict[str, rules.Reading] = {}
    for reading in sorted(readings, key=lambda r: r.at):
        latest[reading.kind] = reading
    shown = [{"kind": k, "value": _shown_value(r), "unit": UNITS.get(k, ""), "at": clock.format_instant(r.at),
              "abnormal": _out_of_range(plan_rules, r)} for k, r in latest.items() if k in CHARTED]
    expected: dict[str, float] = {}
    for plan in patient_plans:
        for kind, per_day in plans.expected_per_day(plan).items():
            expected[kind] = max(expected.get(kind, 0), per_day * ADHERENCE_DAYS)
    received = sum(min(sum(1 for r in readings if r.kind == k), want) for k, want in expected.items())
    wanted = sum(expected.values())
    severity = rules.most_severe(a.get("priority", "routine") for a in alerts)
    return {"id": patient["id"], "name": fhir_text.person_name(patient) or patient["id"],
            "templates": [plans.template_of(p) for p in patient_plans], "alerts": len(alerts),
            "severity": severity, "readings": shown, "abnormal": sum(1 for r in shown if r["abnormal"]),
            "adherence": round(100 * received / wanted) if wanted else None}


def risk_order(row: dict[str, Any]) -> tuple:
    """Most at risk first: the most severe open alert, then readings out of range, then the name."""
    return (-(rules.severity_rank(row["severity"]) + 1 if row["severity"] else 0), -row["abnormal"], row["name"])


def dashboard(conn: Connection, ctx: AccessContext) -> list[dict[str, Any]]:
    """The monitored patients ctx may see, most at risk first."""
    found = plans.search(conn, "CarePlan", [
        ("status", "active"), ("category", f"{plans.PLAN_CATEGORY['system']}|{plans.PLAN_CATEGORY['code']}"),
        ("_count", str(MAX_PATIENTS))], ctx)
    by_patient: dict[str, list[dict[str, Any]]] = {}
    for plan in found:
        by_patient.setdefault(plan["subject"]["reference"], []).append(plan)
    rows = []
    for reference, patient_plans in by_patient.items():
        patient = plans.search(conn, "Patient", [("_id", reference.split("/", 1)[1])], ctx)
        if patient:
            rows.append(patient_summary(conn, ctx, patient[0], patient_plans,
                                        service.open_alerts(conn, reference, ctx)))
    return sorted(rows, key=risk_order)


def thresholds(plan_rules: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The lines to draw on each reading's chart: the base value of each threshold condition, by field."""
    lines: dict[str, list[dict[str, Any]]] = {}
    for rule in plan_rules:
        if rule["type"] not in ("threshold", "days-in-window"):
            continue
        for condition in rule["when"]:
            lines.setdefault(rule["reading"], []).append(
                {"field": condition["field"], "value": condition["value"], "rule": rule["id"],
                 "severity": condition.get("severity", rule["severity"])})
    return lines


def chart_data(readings: list[rules.Reading], plan_rules: list[dict[str, Any]]) -> dict[str, Any]:
    """Points per reading kind ([time, value] or [time, systolic, diastolic]) and their threshold lines."""
    series: dict[str, list[list[Any]]] = {}
    for reading in sorted(readings, key=lambda r: r.at):
        if reading.kind not in CHARTED:
            continue
        stamp = clock.format_instant(reading.at)
        point = [stamp, reading.values["systolic"], reading.values["diastolic"]] \
            if reading.kind == "blood-pressure" else [stamp, reading.values.get("value")]
        series.setdefault(reading.kind, []).append(point)
    return {"series": series, "thresholds": thresholds(plan_rules)}


def _patient_page(request: Request, patient_id: str) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        if not _ID.fullmatch(patient_id):
            return not_found(request)
        found = plans.search(conn, "Patient", [("_id", patient_id)], v.ctx)
        if not found:
            return not_found(request)
        reference = f"Patient/{patient_id}"
        patient_plans = plans.active_plans(conn, reference, v.ctx)
        alerts = plans.search(conn, "Task", [("code", f"{service.TASK_SYSTEM}|{service.ALERT}"),
                                             ("patient", reference), ("_sort", "-authored-on"), ("_count", "50")],
                              v.ctx)
        readings = _readings(conn, v.ctx, reference, CHART_DAYS)
    plan_rules = [r for p in patient_plans for r in plans.rules_of(p)]
    return render_private(
        request, "monitoring/patient.html", user=v.user, patient=found[0],
        name=fhir_text.person_name(found[0]) or patient_id, plans=patient_plans, rules=plan_rules,
        alerts=[service.shown(a) for a in alerts], chart=chart_data(readings, plan_rules),
        charted=[k for k in CHARTED if any(r.kind == k for r in readings)], units=UNITS, texts=texts,
        actions=service.ACTIONS, monitoring_js=own_file_url("monitoring.js"),
        template_of=plans.template_of, error=request.query_params.get("error") == "1")


def _refresh_seconds(request: Request) -> int:
    asked = request.query_params.get("refresh", "")
    return min(max(int(asked), 3), 300) if asked.isdigit() and len(asked) <= 4 else REFRESH_SECONDS


def _dashboard_page(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        rows = dashboard(conn, v.ctx)
    return render_private(request, "monitoring/dashboard.html", user=v.user, rows=rows, texts=texts,
                          units=UNITS, days=ADHERENCE_DAYS, refresh_seconds=_refresh_seconds(request),
                          live_js=own_file_url("dashboard-live.js"))



@router.get("/workstation/monitoring", response_class=HTMLResponse)
async def dashboard_page(request: Request) -> HTMLResponse:
    """The care team's monitored patients, most at risk first."""
    return await run_in_threadpool(_dashboard_page, request)


@router.get("/workstation/monitoring/patients/{patient_id}", response_class=HTMLResponse)
async def patient_page(request: Request, patient_id: str) -> HTMLResponse:
    """One monitored patient: charts with thresholds, plans and alerts with their actions."""
    return await run_in_threadpool(_patient_page, request, patient_id[:65])


def _alert_page(request: Request, alert_id: str) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        try:
            task = service.read_alert(conn, v.ctx, alert_id)
        except service.AlertError:
            return not_found(request)
    patient = task["for"]["reference"].split("/", 1)[1]
    return RedirectResponse(f"/workstation/monitoring/patients/{patient}#alert-{task['id']}", status_code=303)


@router.get("/workstation/monitoring/alerts/{alert_id}")
async def alert_page(request: Request, alert_id: str) -> Response:
    """An alert, as notices link to it: its patient's page, at the alert."""
    return await run_in_threadpool(_alert_page, request, alert_id[:65])


def _act(request: Request, alert_id: str, action: str, form: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        guard.check_csrf(request, v, form.get("csrf_token"))
    failed = False
    try:
        if action == "acknowledge":
            task = service.acknowledge(v.ctx, alert_id=alert_id, note=form.get("note"))
        elif action == "snooze":
            minutes = form.get("minutes", "")
            task = service.snooze(v.ctx, alert_id=alert_id, minutes=int(minutes) if minutes.isdigit() and
                                  len(minutes) < 6 else 0, reason=form.get("reason", ""))
        elif action == "close":
            task = service.close(v.ctx, alert_id=alert_id, action=form.get("action", ""), note=form.get("note"))
        else:
            return not_found(request)
    except service.AlertError as exc:
        if exc.status == 404:
            return not_found(request)
        with unit_of_work() as conn:
            task = service.read_alert(conn, v.ctx, alert_id)
        failed = True
    patient = task["for"]["reference"].split("/", 1)[1]
    suffix = "?error=1" if failed else ""
    return RedirectResponse(f"/workstation/monitoring/patients/{patient}{suffix}#alert-{task['id']}",
                            status_code=303)


@router.post("/workstation/monitoring/alerts/{alert_id}/{action}")
async def alert_action(request: Request, alert_id: str, action: str) -> Response:
    """Acknowledge, snooze or close an alert from the patient's page."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_act, request, alert_id[:65], action[:20], form)


@router.get(STATIC_BASE + "/{name}")
def own_file(name: str) -> Response:
    """The pages' scripts: the patient's charts and the dashboard's live refresh."""
    media_type = OWN_FILES.get(name)
    if media_type is None:
        return Response(status_code=404)
    return Response(_own_file(name), media_type=media_type,
                    headers={"Cache-Control": "public, max-age=31536000, immutable"})
