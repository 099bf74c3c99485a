"""One resident's risk and prevention programme: the doctor's page in the workstation and the patient's in the app.

The doctor sees each calculator's latest RiskAssessment (with what it was based on) or the inputs the record lacks,
assesses on demand, drafts a programme, and reviews it (keep or drop goals and activities, change targets) before it
is active. The patient (or their carer) sees the active programme with a chart of progress towards each goal. Every
read and write goes through the FHIR gateway as the signed-in person, so the access policy decides and audits.
"""

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.knowledge import scores
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _, current_locale, translations
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import not_found, render_private
from smartcare.regional.risk import inputs, plans, progress, reminders, service

router = APIRouter(include_in_schema=False)
CHART_JS = Path(__file__).parent / "static" / "progress-chart.js"
SAFE_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
ACTIONS = ("assess", "draft", "accept")
# Where the app's health news (patient/news) keeps articles on an education activity's topic: its categories, with
# articles on the reader's own conditions listed for them by the news service's targeting.
EDUCATION_NEWS = {"hypertension": "chronic-disease", "diabetes": "chronic-disease", "cholesterol": "chronic-disease",
                  "medication": "chronic-disease", "smoking": "health-tips", "diet": "health-tips",
                  "exercise": "health-tips", "alcohol": "health-tips", "weight": "health-tips"}
NOTICES = {"assessed": _("Risks assessed from the record."), "drafted": _("A draft programme is ready for review."),
           "accepted": _("The programme is active. The patient can follow it in the app.")}


def _say(request: Request, message: str, **values: Any) -> str:
    text = translations(current_locale(request)).gettext(message)
    return text.format(**values) if values else text


def _field_label(calculator: str, name: str, zh: bool) -> str:
    found = next((f for f in scores.CALCULATORS[calculator].fields if f.name == name), None)
    if found is None:
        return name
    return found.label_zh if zh else found.label


def _risk_rows(current: list[dict[str, Any]], preview: list[inputs.Prepared], zh: bool) -> list[dict[str, Any]]:
    latest = service.latest_by_method(current)
    rows = []
    for prepared in preview:
        calculator = scores.CALCULATORS[prepared.calculator]
        risk = latest.get(prepared.calculator)
        row: dict[str, Any] = {"name": calculator.name, "title": calculator.title_zh if zh else calculator.title,
                               "risk": None, "missing": [], "not_applicable": prepared.not_applicable}
        if risk is not None:
            row["risk"] = {**_latest_row(prepared.calculator, risk, zh), "id": risk.get("id", ""),
                           "basis": [b.get("reference", "") for b in risk.get("basis", [])],
                           "notes": [n.get("text", "") for n in risk.get("note", [])]}
        row["missing"] = [_field_label(prepared.calculator, m, zh) for m in prepared.missing]
        rows.append(row)
    return rows


def _latest_row(name: str, risk: dict[str, Any], zh: bool) -> dict[str, Any]:
    """A calculator's latest RiskAssessment as the app shows it."""
    calculator = scores.CALCULATORS.get(name)
    score = next((e.get("valueQuantity") for e in risk.get("extension", [])
                  if e.get("url") == service.SCORE_EXTENSION), {}) or {}
    category = next((c.get("code", "") for c in (risk.get("prediction") or [{}])[0].get("qualitativeRisk", {})
                     .get("coding", [])), "")
    title = (calculator.title_zh if zh else calculator.title) if calculator else name
    return {"title": title, "value": score.get("value"), "unit": score.get("unit", ""), "category": category,
            "label": calculator.label(category, zh=zh) if calculator else category,
            "date": str(risk.get("occurrenceDateTime", ""))[:10]}


def _topic(activity: dict[str, Any]) -> str:
    return next((e.get("valueString", "") for e in activity.get("extension", [])
                 if e.get("url") == plans.TOPIC_EXTENSION), "")


def _doctor_page(request: Request, patient_id: str, *, error: str = "", error_field: str = "",
                 form: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    if not SAFE_ID.fullmatch(patient_id):
        return not_found(request)
    zh = current_locale(request) == "zh-Hans"
    now = clock.now()
    try:
        patient, record, current = service.read_record(v.ctx, patient_id, now=now)
        found = plans.programmes(v.ctx, patient_id)
    except FhirError as exc:
        if exc.status not in (403, 404, 410):
            raise
        return not_found(request)
    draft = next((p for p in found if p.plan.get("status") == "draft"), None)
    active = next((p for p in found if p.plan.get("status") == "active"), None)
    tracked = progress.goal_progress(v.ctx, patient_id, active.goals, now=now) if active else []
    notice = NOTICES.get(request.query_params.get("done", ""), "")
    return render_private(
        request, "risk/patient.html", status_code=status_code, user=v.user, patient=patient,
        name=fhir_text.person_name(patient), rows=_risk_rows(current, inputs.prepare(record), zh), draft=draft,
        active=active, tracked=tracked, zh=zh, error=error, error_field=error_field, form=form or {},
        notice=_say(request, notice) if notice else "", is_doctor="doctor" in v.ctx.roles,
        goal_key=plans.goal_key, activity_key=plans.activity_key, target_key=plans.target_key,
        review_code=plans.REVIEW)


@router.get("/workstation/patients/{patient_id}/risk", response_class=HTMLResponse)
async def risk_page(request: Request, patient_id: str) -> HTMLResponse:
    """A resident's risk assessments (or what their record lacks for each) and their prevention programme."""
    return await run_in_threadpool(_doctor_page, request, patient_id[:65])


def _act(request: Request, patient_id: str, action: str, form: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    guard.check_csrf(request, v, form.get("csrf_token"))
    if action not in ACTIONS or not SAFE_ID.fullmatch(patient_id):
        return not_found(request)
    if "doctor" not in v.ctx.roles:
        raise guard.SurfaceForbidden("Only doctors assess risks and set programmes", ctx=v.ctx, surface="risk")
    try:
        if action == "assess":
            service.assess(v.ctx, patient_id)
            done = "assessed"
        elif action == "draft":
            plans.draft(v.ctx, patient_id)
            done = "drafted"
        else:
            kept_goals = {k[5:] for k, val in form.items() if k.startswith("goal:") and val == "on"}
            kept_activities = {k[9:] for k, val in form.items() if k.startswith("activity:") and val == "on"}
            targets = {k[7:]: val for k, val in form.items() if k.startswith("target:")}
            active = plans.accept(v.ctx, patient_id, form.get("plan", "")[:64], keep_goals=kept_goals,
                                  keep_activities=kept_activities, targets=targets)
            with unit_of_work() as conn:
                reminders.programme_active(conn, patient_id=patient_id)
                plans.ask_for_monitoring(conn, active)
            done = "accepted"
    except plans.PlanRefused as exc:
        return _doctor_page(request, patient_id, error=_say(request, exc.message), error_field=exc.field,
                            form=form, status_code=exc.status)
    except FhirError as exc:
        if exc.status not in (403, 404, 410):
            raise
        return not_found(request)
    return guard.see_other(f"/workstation/patients/{patient_id}/risk?done={done}")


@router.post("/workstation/patients/{patient_id}/risk/{action}")
async def risk_action(request: Request, patient_id: str, action: str) -> Response:
    """Assess now, draft a programme, or accept a reviewed draft; CSRF-checked, doctors only."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_act, request, patient_id[:65], action[:10], form)


def _people(v: guard.Visitor, wanted: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    people = [{"id": p["id"], "name": fhir_text.person_name(p)}
              for p in gateway.search(v.ctx, "Patient", [("_count", "20")])]
    return people, next((p for p in people if p["id"] == wanted), people[0] if people else None)


def _app_page(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    people, person = _people(v, request.query_params.get("patient", "")[:64])
    active, tracked, risks = None, [], []
    now: datetime = clock.now()
    zh = current_locale(request) == "zh-Hans"
    if person is not None:
        active = plans.current(v.ctx, person["id"], status="active")
        if active is not None:
            tracked = progress.goal_progress(v.ctx, person["id"], active.goals, now=now)
        current = gateway.search(v.ctx, "RiskAssessment", [("patient", f"Patient/{person['id']}"),
                                                           ("status", "final"), ("_count", "200")])
        risks = [_latest_row(name, risk, zh) for name, risk in service.latest_by_method(current).items()]
    charts = {t.key: {"points": t.points, "target": t.target, "comparator": t.comparator, "unit": t.unit}
              for _goal, targets in tracked for t in targets if t.points}
    return render_private(request, "risk/app_programme.html", user=v.user, people=people, person=person,
                          active=active, tracked=tracked, charts=charts, zh=zh, risks=risks,
                          next_review=plans.next_review(active.plan, plans.local_day(now)) if active else None,
                          news=EDUCATION_NEWS, activity_key=plans.activity_key, review_code=plans.REVIEW,
                          topic_of=_topic)


@router.get("/app/programme", response_class=HTMLResponse)
async def app_programme(request: Request) -> HTMLResponse:
    """The patient's prevention programme: goals with progress charts, what to do, and the next review."""
    return await run_in_threadpool(_app_page, request)


@router.get("/risk/progress-chart.js")
async def progress_chart_js() -> FileResponse:
    """The script drawing each goal's readings against its target (ECharts)."""
    return FileResponse(CHART_JS, media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"})
