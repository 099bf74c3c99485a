"""The doctor's case-report pages: the reports waiting for them, and the report card to complete, submit or discard.

Doctors open them on the workstation. Every report and patient is read and written through the FHIR gateway as the
signed-in doctor, so the access policy decides and each access is audited; a report opens only for its doctor and
the other doctors of the organisation that made it.
"""

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _, current_locale, translations
from smartcare.platform.web import guard
from smartcare.platform.web.pages import not_found, render_private
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import deadlines, districts, reporting  # noqa: F401  (deadlines: its jobs)
from smartcare.regional.public_health import report_card as card
from smartcare.regional.public_health.case_reports import person_name

router = APIRouter(include_in_schema=False)
BASE = "/workstation/case-reports"
MAX_ID = 64
# Posted values are cut a character past their limit (so an over-long one is still refused, not silently cut).
MAX_POSTED = max(card.LIMITS.values()) + 1
STATE_NAMES = {"draft": _("Draft"), "correction-requested": _("Correction requested"), "submitted": _("Submitted"),
               "verified": _("Verified"), "closed": _("Closed")}


def _doctor(request: Request) -> guard.Visitor:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    if "doctor" not in v.ctx.roles:
        raise guard.SurfaceForbidden("Only doctors complete case reports", ctx=v.ctx, surface="workstation/case-reports")
    return v


def _say(request: Request, message: str, **values: Any) -> str:
    text = translations(current_locale(request)).gettext(message)
    return text.format(**values) if values else text


def _zh(request: Request) -> bool:
    return current_locale(request).startswith("zh")


def _disease_name(request: Request, case: model.CaseFacts) -> str:
    disease = reporting.catalogue().disease(case.disease or "")
    subtype = next((s for s in disease.subtypes if s.id == case.subtype), None) if disease else None
    named = subtype or disease
    return (named.name_zh if _zh(request) else named.name_en) if named else str(case.disease or "")


def _time_left(request: Request, deadline: datetime | None, now: datetime) -> dict[str, Any]:
    """How long is left before a deadline (or how long it is overdue), in hours and minutes, for the list."""
    if deadline is None:
        return {"overdue": False, "soon": False, "text": ""}
    minutes = int(abs((deadline - now).total_seconds()) // 60)
    span = _say(request, _("{hours} h {minutes} min"), hours=minutes // 60, minutes=minutes % 60) if minutes >= 60 \
        else _say(request, _("{minutes} min"), minutes=minutes)
    overdue = deadline <= now
    text = _say(request, _("{span} overdue"), span=span) if overdue else _say(request, _("{span} left"), span=span)
    return {"overdue": overdue, "soon": not overdue and minutes <= 60, "text": text}


def _row(request: Request, composition: dict[str, Any], patient: dict[str, Any], now: datetime) -> dict[str, Any]:
    case = model.facts(composition)
    cat = reporting.catalogue()
    disease = cat.disease(case.disease or "")
    return {"id": case.id, "patient": person_name(patient) or case.patient, "disease": _disease_name(request, case),
            "class": disease.disease_class if disease else "", "state": case.state,
            "classification": cat.classification_label(case.classification, current_locale(request))
            if case.classification else "", "deadline": composition_deadline(composition),
            "left": _time_left(request, case.deadline, now), "late": case.overdue,
            "submitted": clock.format_instant(case.submitted_at) if case.submitted_at else "",
            "reason": reporting.reason_text(composition, current_locale(request))}


def composition_deadline(composition: dict[str, Any]) -> str:
    """The report's deadline as stored (an instant), for the page to show in the region's time."""
    return str((model.extension(composition, model.DEADLINE) or {}).get("valueDateTime") or "")


def _list(request: Request) -> HTMLResponse:
    v = _doctor(request)
    now = clock.now()
    waiting, recent = card.doctor_reports(v.ctx, now=now)
    done = request.query_params.get("done", "")
    return render_private(request, "public_health/report_list.html", user=v.user, state_names=STATE_NAMES,
                          waiting=[_row(request, c, p, now) for c, p in waiting],
                          recent=[_row(request, c, p, now) for c, p in recent],
                          done=done if done in ("submitted", "discarded") else "")


@router.get(BASE, response_class=HTMLResponse)
async def case_report_list(request: Request) -> HTMLResponse:
    """The doctor's case reports: drafts and correction requests to complete (soonest deadline first), and the ones
    submitted lately."""
    return await run_in_threadpool(_list, request)


def _count(request: Request) -> HTMLResponse:
    v = _doctor(request)
    return render_private(request, "public_health/report_open_count.html", count=card.open_count(v.ctx))


@router.get(BASE + "/open-count", response_class=HTMLResponse)
async def case_report_open_count(request: Request) -> HTMLResponse:
    """A badge with how many case reports wait for the doctor (the workstation home loads it)."""
    return await run_in_threadpool(_count, request)


def _choices(request: Request, opened: card.Opened, values: dict[str, str]) -> dict[str, Any]:
    """The card's lists in the page's language: diseases, the chosen disease's classifications, occupations."""
    cat = reporting.catalogue()
    zh, locale = _zh(request), current_locale(request)
    chosen = next((d for value, d, _s in card.disease_choices(cat) if value == values.get("disease")), None)
    return {
        "diseases": [{"value": value, "class": d.disease_class, "name": (s or d).name_zh if zh else (s or d).name_en,
                      "subtype": s is not None} for value, d, s in card.disease_choices(cat)],
        "classifications": [(key, cat.classification_label(key, locale))
                            for key in (chosen.classifications if chosen else cat.classifications)],
        "occupations": [(o["code"], o["zh" if zh else "en"]) for o in card.occupations()],
        "districts": [(d.code, d.name_zh if zh else d.name_en) for d in districts.region_districts()],
        "discard_reasons": [(r["code"], r["zh" if zh else "en"]) for r in card.discard_reasons()],
    }


def _card_page(request: Request, v: guard.Visitor, opened: card.Opened, *, status_code: int = 200,
               form: dict[str, str] | None = None, errors: dict[str, str] | None = None, problem: str = "",
               discard_form: dict[str, str] | None = None, version: str | None = None) -> HTMLResponse:
    values = form if form is not None else (opened.answers or card.prefill(opened.composition, opened.patient))
    case, now = opened.case, clock.now()
    birth = reporting.local_day(values.get("birth_date"))
    correction = model.extension(opened.composition, model.CORRECTION) or {}
    return render_private(
        request, "public_health/report_card.html", status_code=status_code, user=v.user, report_id=case.id,
        version=opened.version if version is None else version, state=case.state, state_names=STATE_NAMES, form=values, errors=errors or {},
        problem=problem, limits=card.LIMITS, outside=card.OUTSIDE, disease_name=_disease_name(request, case),
        age=card.age_on(birth, now.astimezone(reporting.region_zone()).date()) if birth else None,
        left=_time_left(request, case.deadline, now), deadline=composition_deadline(opened.composition),
        reason=reporting.reason_text(opened.composition, current_locale(request)),
        correction=str(correction.get("valueString") or ""), discard_form=discard_form or {},
        editable=case.state in model.OPEN_FOR_DOCTOR, **_choices(request, opened, values))


def _open(request: Request, v: guard.Visitor, report_id: str) -> card.Opened | None:
    try:
        return card.open_report(v.ctx, report_id)
    except card.ReportRefused:
        return None


def _form(request: Request, report_id: str) -> HTMLResponse:
    v = _doctor(request)
    opened = _open(request, v, report_id)
    return _card_page(request, v, opened) if opened else not_found(request)


@router.get(BASE + "/{report_id}", response_class=HTMLResponse)
async def case_report_card(request: Request, report_id: str) -> HTMLResponse:
    """The report card of one case report, pre-filled, to correct and submit (or to read once submitted)."""
    return await run_in_threadpool(_form, request, report_id[:MAX_ID + 1])


def _errors(request: Request, exc: card.ReportCardInvalid) -> dict[str, str]:
    return {key: _say(request, message, **values) for key, (message, values) in exc.errors.items()}


def _refused(request: Request, v: guard.Visitor, report_id: str, exc: card.ReportRefused, **kept: Any) -> Response:
    """A refused change: 404 for a report out of reach; else the current report with the message and what was typed."""
    opened = _open(request, v, report_id) if exc.status != 404 else None
    if opened is None:
        return not_found(request)
    return _card_page(request, v, opened, status_code=exc.status, problem=_say(request, exc.message), **kept)


def _submit(request: Request, report_id: str, posted: dict[str, str]) -> Response:
    v = _doctor(request)
    guard.check_csrf(request, v, posted.get("csrf_token"))
    form = {key: posted.get(key, "")[:MAX_POSTED] for key in card.FIELDS}
    version = posted.get("version", "")[:20]
    try:
        card.submit(v.ctx, report_id, form=form, version=version)
    except card.ReportCardInvalid as exc:
        opened = _open(request, v, report_id)
        if opened is None:
            return not_found(request)
        # The version the doctor saw stays on the form, so a change made meanwhile is still caught on the next try.
        return _card_page(request, v, opened, status_code=400, form=form, errors=_errors(request, exc),
                          version=version)
    except card.ReportRefused as exc:
        return _refused(request, v, report_id, exc, form=form)
    return guard.see_other(f"{BASE}?done=submitted")


@router.post(BASE + "/{report_id}")
async def case_report_submit(request: Request, report_id: str) -> Response:
    """Submit the report card (CSRF-checked); on success back to the list."""
    posted = await guard.form_fields(request)
    return await run_in_threadpool(_submit, request, report_id[:MAX_ID + 1], posted)


def _discard(request: Request, report_id: str, posted: dict[str, str]) -> Response:
    v = _doctor(request)
    guard.check_csrf(request, v, posted.get("csrf_token"))
    kept = {"reason": posted.get("reason", "")[:40], "discard_text": posted.get("discard_text", "")[:MAX_POSTED]}
    version = posted.get("version", "")[:20]
    try:
        card.discard(v.ctx, report_id, reason=kept["reason"], text=kept["discard_text"], version=version)
    except card.ReportCardInvalid as exc:
        opened = _open(request, v, report_id)
        if opened is None:
            return not_found(request)
        return _card_page(request, v, opened, status_code=400, errors=_errors(request, exc), discard_form=kept,
                          version=version)
    except card.ReportRefused as exc:
        return _refused(request, v, report_id, exc, discard_form=kept)
    return guard.see_other(f"{BASE}?done=discarded")


@router.post(BASE + "/{report_id}/discard")
async def case_report_discard(request: Request, report_id: str) -> Response:
    """Discard a draft with the doctor's reason (CSRF-checked); on success back to the list."""
    posted = await guard.form_fields(request)
    return await run_in_threadpool(_discard, request, report_id[:MAX_ID + 1], posted)
