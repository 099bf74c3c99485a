"""The patient's consultation pages in the app: my consultations with the expected wait, opening one, and the chat.

Every page asks the guard for the "app" surface; everything is done with the caller's own access context, so the
consultation service and the access policy decide whose consultations they see (their own, and those of the people
they are proxy for). The chat itself runs in static/js/consultation-chat.js over the JSON API and WebSocket.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.hospital.consultation import attachments, flows, questions, rules, service
from smartcare.hospital.consultation.page_parts import (
    chat_words,
    clean_id,
    names,
    not_found,
    page,
    refusal,
    teams,
)
from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import fhir_text, guard

router = APIRouter(include_in_schema=False)
SURFACE = "app"
TRIAGE_SHOWN = 3
REPORT_FIELD = "report-"


def _zh(request: Request) -> bool:
    return i18n.current_locale(request) == "zh-Hans"


def _question_rows(request: Request, key: str | None, form: dict[str, str]) -> list[dict[str, Any]]:
    """The department's questions as the form shows them, in the reader's language, with what was typed."""
    zh = _zh(request)
    return [{"id": q.id, "field": questions.FIELD + q.id, "kind": q.kind, "text": q.text(zh), "unit": q.unit(zh),
             "min": q.min, "max": q.max, "value": form.get(questions.FIELD + q.id, ""),
             "options": [{"code": o.code, "label": o.label(zh)} for o in q.options]}
            for q in questions.for_department(key)]


def _chosen_reports(form: dict[str, str]) -> list[str]:
    return [k.removeprefix(REPORT_FIELD) for k in form if k.startswith(REPORT_FIELD)][:attachments.MAX_REPORTS + 1]


def _visitor(request: Request) -> guard.Visitor:
    with unit_of_work() as conn:
        return guard.visitor(conn, request, SURFACE)


def _people(ctx: AccessContext) -> list[dict[str, str]]:
    """The caller's own record and those they are proxy for, as the policy lets them see."""
    return [{"id": p["id"], "name": fhir_text.person_name(p)} for p in gateway.search(ctx, "Patient", [("_count", "20")])]


def _with_names(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    refs = {f"Practitioner/{r['practitioner']}" for r in rows if r["practitioner"]}
    refs |= {f"Organization/{r['department']}" for r in rows if r["department"]}
    refs |= {f"Practitioner/{r['offered_to']}" for r in rows if r.get("offered_to")}
    shown = names(conn, refs)
    for r in rows:
        r["doctor_name"] = shown.get(f"Practitioner/{r['practitioner']}", "") if r["practitioner"] else ""
        r["pool_name"] = shown.get(f"Organization/{r['department']}", "") if r["department"] else ""
    return rows


def _list(request: Request) -> HTMLResponse:
    v = _visitor(request)
    people = _people(v.ctx)
    found = []
    with unit_of_work() as conn:
        for person in people:
            for row in service.my_consultations(conn, v.ctx, patient_id=person["id"]):
                found.append({**row, "who": person["name"]})
        found = _with_names(conn, found)
    found.sort(key=lambda c: c["opened"], reverse=True)
    found.sort(key=lambda c: c["status"] not in ("waiting", "in_progress"))
    return page(request, "consultation/list.html", consultations=found, many=len(people) > 1)


@router.get("/app/consultations", response_class=HTMLResponse)
async def my_consultations(request: Request) -> HTMLResponse:
    """My consultations (and those of the people I am proxy for): status, doctor, and the expected wait."""
    return await run_in_threadpool(_list, request)


def _follow_up_conditions(conn: Connection, ctx: AccessContext, patient_id: str) -> list[dict[str, str]]:
    """The patient's conditions an online follow-up may rest on: diagnosed in person at a member institution."""
    conditions = service._record_of(conn, ctx, "Condition", patient_id)
    encounters = service._record_of(conn, ctx, "Encounter", patient_id)
    members = service._members(conn)
    found = []
    for condition in conditions:
        try:
            basis = rules.follow_up_basis(conditions=[condition], encounters=encounters, members=members)
        except rules.RuleRefused:
            continue
        found.append({"id": basis.condition_id, "name": fhir_text.concept_text(condition.get("code")),
                      "code": next((c.get("code", "") for c in basis.code.get("coding", [])), ""),
                      "where": names(conn, {f"Organization/{basis.organization_id}"})[
                          f"Organization/{basis.organization_id}"]})
    return found


def _triage_sessions(ctx: AccessContext, patient_id: str) -> list[dict[str, Any]]:
    found = gateway.search(ctx, "QuestionnaireResponse", [
        ("subject", f"Patient/{patient_id}"), ("questionnaire", service.TRIAGE_QUESTIONNAIRE),
        ("_sort", "-authored"), ("_count", str(TRIAGE_SHOWN))])
    return [service.triage_summary(r) for r in found]


def _new(request: Request, *, status_code: int = 200, error: dict | None = None,
         form: dict[str, str] | None = None) -> HTMLResponse:
    v = _visitor(request)
    form = form or {}
    people = _people(v.ctx)
    chosen = clean_id(form.get("patient") or request.query_params.get("patient")) or \
        (people[0]["id"] if people else "")
    if people and chosen not in {p["id"] for p in people}:
        chosen = people[0]["id"]
    with unit_of_work() as conn:
        directory = teams(conn)
        shown = names(conn, {f"Organization/{d}" for d in directory} |
                      {f"Practitioner/{p}" for ps in directory.values() for p in ps})
        conditions = _follow_up_conditions(conn, v.ctx, chosen) if chosen else []
        target = form.get("target") or ("doctor:" + clean_id(request.query_params.get("doctor"))
                                        if request.query_params.get("doctor") else
                                        (request.query_params.get("target") or "")[:80])
        asked = _question_rows(request, questions.target_key(conn, target), form)
        reports = attachments.attachable_reports(conn, v.ctx, patient_id=chosen) if chosen else []
    pools = sorted(({"id": d, "name": shown[f"Organization/{d}"],
                     "doctors": [{"id": p, "name": shown[f"Practitioner/{p}"]} for p in ps]}
                    for d, ps in directory.items()), key=lambda d: d["name"])
    return page(request, "consultation/new.html", status_code=status_code, error=error, people=people,
                chosen=chosen, pools=pools, conditions=conditions, form=form, target=target, asked=asked,
                reports=reports, picked=set(_chosen_reports(form)),
                triage=_triage_sessions(v.ctx, chosen) if chosen else [])


@router.get("/app/consultations/new", response_class=HTMLResponse)
async def new_consultation(request: Request) -> HTMLResponse:
    """Open a consultation: for whom, with a doctor or a department's pool, advice or follow-up, the question."""
    return await run_in_threadpool(_new, request)


def _questions_part(request: Request) -> HTMLResponse:
    _visitor(request)
    with unit_of_work() as conn:
        key = questions.target_key(conn, (request.query_params.get("target") or "")[:80])
    return page(request, "consultation/_questions.html", asked=_question_rows(request, key, {}))


@router.get("/app/consultations/new/questions", response_class=HTMLResponse)
async def department_questions(request: Request) -> HTMLResponse:
    """The chosen department's questions, as a part of the new-consultation form (swapped in when the target
    changes)."""
    return await run_in_threadpool(_questions_part, request)


def _open(request: Request, form: dict[str, str]) -> Response:
    v = _visitor(request)
    guard.check_csrf(request, v, form.get("csrf_token"))
    kind, _sep, target = (form.get("target") or "").partition(":")
    try:
        with unit_of_work() as conn:
            opened = flows.open_with_details(
                conn, v.ctx, patient_id=clean_id(form.get("patient")), kind=form.get("kind", "")[:16],
                question=form.get("question", "")[:4001], practitioner_id=clean_id(target) if kind == "doctor" else None,
                department_id=clean_id(target) if kind == "pool" else None,
                condition_id=clean_id(form.get("condition")) or None
                if form.get("kind") == rules.FOLLOW_UP else None,
                triage_id=clean_id(form.get("triage")) or None,
                answers={k: v[:questions.MAX_ANSWER + 1] for k, v in form.items() if k.startswith(questions.FIELD)},
                report_ids=_chosen_reports(form), zh=_zh(request))
    except service.ConsultationError as exc:
        return _new(request, status_code=exc.status if exc.status < 500 else 400, error=refusal(request, exc),
                    form=form)
    return guard.see_other(f"/app/consultations/{opened['id']}")


@router.post("/app/consultations/new")
async def open_consultation(request: Request) -> Response:
    """Open the consultation (CSRF-checked) and go to its chat."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_open, request, form)


def _chat(request: Request, consultation_id: str, *, status_code: int = 200, error: dict | None = None) -> Response:
    v = _visitor(request)
    try:
        with unit_of_work() as conn:
            consultation = service.consultation_view(conn, v.ctx, consultation_id=consultation_id)
            history = service.messages_since(conn, v.ctx, consultation_id=consultation_id)
            consultation = _with_names(conn, [consultation])[0]
            patient = names(conn, {f"Patient/{consultation['patient']}"})[f"Patient/{consultation['patient']}"]
            shared = attachments.shared_reports(conn, v.ctx, history=history)
            reports = [r for r in attachments.attachable_reports(conn, v.ctx, patient_id=consultation["patient"])
                       if r["id"] not in {s["id"] for s in shared}]
            video = flows.open_video_visit(conn, v.ctx, consultation_id=consultation_id)
    except service.ConsultationError:
        return not_found(request)
    return page(request, "consultation/chat.html", status_code=status_code, error=error, c=consultation,
                history=history, side="patient", who=patient, chat=chat_words(request), shared=shared,
                reports=reports, video=video)


@router.get("/app/consultations/{consultation_id}", response_class=HTMLResponse)
async def chat(request: Request, consultation_id: str) -> Response:
    """The consultation's chat: history, live messages with receipts, photos; rating once it is closed."""
    return await run_in_threadpool(_chat, request, clean_id(consultation_id))


def _acted(request: Request, consultation_id: str, form: dict[str, str], work) -> Response:
    v = _visitor(request)
    guard.check_csrf(request, v, form.get("csrf_token"))
    try:
        with unit_of_work() as conn:
            work(conn, v.ctx)
    except service.ConsultationError as exc:
        if exc.status == 404:
            return not_found(request)
        return _chat(request, consultation_id, status_code=exc.status, error=refusal(request, exc))
    return guard.see_other(f"/app/consultations/{consultation_id}")


@router.post("/app/consultations/{consultation_id}/rate")
async def rate(request: Request, consultation_id: str) -> Response:
    """Rate the closed consultation 1 to 5 with feedback, once (CSRF-checked)."""
    form = await guard.form_fields(request)
    cid = clean_id(consultation_id)
    stars = form.get("rating", "")
    return await run_in_threadpool(_acted, request, cid, form, lambda conn, ctx: service.rate(
        conn, ctx, consultation_id=cid, rating=int(stars) if stars.isdigit() and len(stars) == 1 else 0,
        feedback=form.get("feedback", "")[:1001]))


@router.post("/app/consultations/{consultation_id}/withdraw")
async def withdraw(request: Request, consultation_id: str) -> Response:
    """Withdraw a consultation still waiting (refunded; CSRF-checked)."""
    form = await guard.form_fields(request)
    cid = clean_id(consultation_id)
    return await run_in_threadpool(_acted, request, cid, form,
                                   lambda conn, ctx: service.close(conn, ctx, consultation_id=cid))


@router.post("/app/consultations/{consultation_id}/reports")
async def share_reports(request: Request, consultation_id: str) -> Response:
    """Share reports from the patient's own record with the consultation (CSRF-checked)."""
    form = await guard.form_fields(request)
    cid = clean_id(consultation_id)
    return await run_in_threadpool(_acted, request, cid, form, lambda conn, ctx: attachments.share_reports(
        conn, ctx, consultation_id=cid, report_ids=_chosen_reports(form)))
