"""The community doctor's chronic-disease pages: the follow-up work list, the follow-up form and the indicators.

Doctors and nurses of a health centre open them; every record is read and written through the FHIR gateway as the
signed-in clinician, so the access policy decides and each access is audited.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.knowledge.chronic import followup
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _, current_locale, translations
from smartcare.platform.web import guard
from smartcare.platform.web.pages import not_found, render_private
from smartcare.regional.chronic import indicators, service
from smartcare.regional.chronic.form import CHOICES, MAX_TEXT, NUMBERS, FollowUpInvalid, symptoms_for
from smartcare.regional.chronic.resources import Visit

router = APIRouter(include_in_schema=False)
CLINICIANS = frozenset({"doctor", "nurse"})
MAX_ID = 64
MAX_FIELD = MAX_TEXT + 1
BASE = "/workstation/chronic"
# The form's fields a posted form may carry (anything else is dropped before checking).
FORM_FIELDS = ("registry", *NUMBERS, *CHOICES, "adverse_reaction_text",
               "adverse_reaction_unmanageable", "new_complication", "complication_text")
# Fields worth carrying from the last visit into the new form: the slowly changing ones.
PREFILLED = ("height", "weight", "cigarettes", "alcohol", "exercise_sessions", "exercise_minutes", "salt",
             "psychology", "adherence")
REGISTRY_NAMES = {"hypertension": _("Hypertension"), "diabetes": _("Type 2 diabetes")}
CLASS_NAMES = {"urgent_referral": _("Urgent referral after first treatment"),
               "referral": _("Referral to a higher-level hospital"),
               "uncontrolled": _("Not controlled: adjust treatment"), "controlled": _("Controlled")}


def _clinician(request: Request) -> guard.Visitor:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    if not v.ctx.roles & CLINICIANS:
        raise guard.SurfaceForbidden("Only doctors and nurses follow up chronic disease", ctx=v.ctx,
                                     surface="workstation/chronic")
    return v


def _say(request: Request, message: str, **values: Any) -> str:
    text = translations(current_locale(request)).gettext(message)
    return text.format(**values) if values else text


def _zh(request: Request) -> bool:
    return current_locale(request).startswith("zh")


def _reasons(request: Request, reasons: tuple[followup.Reason, ...]) -> list[str]:
    return [r.text_zh if _zh(request) else r.text_en for r in reasons]


def _actions(request: Request, keys: tuple[str, ...] | list[str]) -> list[str]:
    known = followup.rules()["classification"]["actions"]
    return [known[k]["zh" if _zh(request) else "en"] for k in keys if k in known]


def _notice(request: Request, v: guard.Visitor) -> dict[str, Any] | None:
    """What the visit just recorded came to, read back from its QuestionnaireResponse."""
    visit = service.recorded_visit(v.ctx, request.query_params.get("recorded", "")[:MAX_ID + 1])
    if visit is None:
        return None
    return {"registry": visit.registry, "classification": visit.classification, "next_due": visit.next_due,
            "reasons": visit.answers.get("reasons_zh" if _zh(request) else "reasons") or [],
            "actions": _actions(request, visit.answers.get("actions") or [])}


def _work(request: Request) -> HTMLResponse:
    v = _clinician(request)
    chosen = request.query_params.get("registry", "")
    chosen = chosen if chosen in followup.REGISTRIES else ""
    # A family doctor sees their own patients; a nurse (no list of their own) or a doctor who asks sees the centre's.
    centre = request.query_params.get("scope") == "centre" or "doctor" not in v.ctx.roles
    try:
        work = service.work_list(v.ctx, practitioner=None if centre else v.ctx.fhir_user,
                                 registry_key=chosen or None)
    except service.ChronicRefused as exc:
        return render_private(request, "chronic/worklist.html", status_code=exc.status, user=v.user,
                              error=_say(request, exc.message), work=None, chosen=chosen, centre=centre,
                              notice=None, registry_names=REGISTRY_NAMES, class_names=CLASS_NAMES)
    rows = [{"patient_id": e.patient_id, "name": e.name, "age": e.age, "sex": e.sex, "registry": e.registry,
             "status": e.due.status, "next_due": e.due.next_due, "days_overdue": e.days_overdue,
             "last_visit": e.due.last_visit, "last_class": e.due.last_classification,
             "visits_this_year": e.due.visits_this_year, "can_meet": e.due.can_meet_minimum,
             "annual_due": bool(e.annual and e.annual.due)} for e in work.entries]
    confirm = [{"patient_id": c.patient_id, "name": c.name, "registry": c.registry,
                "reasons": _reasons(request, c.reasons)} for c in work.to_confirm]
    return render_private(request, "chronic/worklist.html", user=v.user, error="", work=work, rows=rows,
                          confirm=confirm, chosen=chosen, centre=centre, notice=_notice(request, v),
                          registry_names=REGISTRY_NAMES, class_names=CLASS_NAMES)


@router.get(BASE, response_class=HTMLResponse)
async def chronic_work_list(request: Request) -> HTMLResponse:
    """The family doctor's follow-up work list: overdue first, then due soon, with the yearly checks due."""
    return await run_in_threadpool(_work, request)


def _prefill(visits: list[Visit]) -> dict[str, str]:
    if not visits:
        return {}
    last = visits[-1].answers
    return {key: (f"{last[key]:g}" if isinstance(last[key], float) else str(last[key]))
            for key in PREFILLED if last.get(key) is not None}


def _form_page(request: Request, v: guard.Visitor, patient_id: str, *, status_code: int = 200,
               form: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> HTMLResponse:
    try:
        found = service.patient_file(v.ctx, patient_id=patient_id)
    except service.ChronicRefused:
        return not_found(request)
    if not found.registries:
        return not_found(request)
    asked = (form or {}).get("registry") or request.query_params.get("registry", "")
    chosen = asked if asked in found.registries else found.registries[0]
    visits = found.visits[chosen]
    values = form if form is not None else {"registry": chosen, **_prefill(visits)}
    previous = visits[-1] if visits else None
    trend = [{"day": visit.day.isoformat(), "systolic": visit.answers.get("systolic"),
              "diastolic": visit.answers.get("diastolic"), "glucose": visit.answers.get("fasting_glucose"),
              "classification": visit.classification} for visit in visits[-12:]]
    known = followup.rules()["classification"]["emergency"]["symptoms"]
    symptoms = [(code, known[code]["zh" if _zh(request) else "en"]) for code in symptoms_for(chosen)]
    units = {name: spec[4] for name, spec in NUMBERS.items()}
    return render_private(request, "chronic/follow_up.html", status_code=status_code, user=v.user,
                          patient={"id": patient_id, "name": found.name, "age": found.age,
                                   "sex": found.patient.get("gender", "")},
                          registries=found.registries, chosen=chosen, form=values, errors=errors or {},
                          previous=previous, trend=trend, symptoms=symptoms, units=units,
                          registry_names=REGISTRY_NAMES, class_names=CLASS_NAMES)


def _form(request: Request, patient_id: str) -> HTMLResponse:
    v = _clinician(request)
    return _form_page(request, v, patient_id)


@router.get(BASE + "/patients/{patient_id}/follow-up", response_class=HTMLResponse)
async def chronic_follow_up_form(request: Request, patient_id: str) -> HTMLResponse:
    """The structured follow-up form of one registered resident, with the previous visit and the trend."""
    return await run_in_threadpool(_form, request, patient_id[:MAX_ID + 1])


def _record(request: Request, patient_id: str, posted: dict[str, str]) -> Response:
    v = _clinician(request)
    guard.check_csrf(request, v, posted.get("csrf_token"))
    form = {key: posted.get(key, "")[:MAX_FIELD] for key in FORM_FIELDS}
    form |= {key: "on" for key in posted if key.startswith("symptom:") and len(key) <= 60}
    try:
        done = service.record_follow_up(v.ctx, patient_id=patient_id, form=form)
    except service.ChronicRefused as exc:
        if exc.status == 404:
            return not_found(request)
        return _form_page(request, v, patient_id, status_code=exc.status, form=form,
                          errors={"registry": _say(request, exc.message)})
    except FollowUpInvalid as exc:
        errors = {}
        for key, (message, values) in exc.errors.items():
            shown = dict(values)
            if "what" in shown:
                shown["what"] = _say(request, shown["what"])
            errors[key] = _say(request, message, **shown)
        return _form_page(request, v, patient_id, status_code=400, form=form, errors=errors)
    return RedirectResponse(f"{BASE}?recorded={done.response_id}", status_code=303, headers=guard.NO_STORE)


@router.post(BASE + "/patients/{patient_id}/follow-up")
async def chronic_record_follow_up(request: Request, patient_id: str) -> Response:
    """Record the follow-up visit (CSRF-checked); on success back to the list with the visit's class and next date."""
    posted = await guard.form_fields(request)
    return await run_in_threadpool(_record, request, patient_id[:MAX_ID + 1], posted)


def _indicators(request: Request) -> HTMLResponse:
    v = _clinician(request)
    current = service.today().year
    text = request.query_params.get("year", "")
    year = int(text) if text.isdigit() and len(text) == 4 else current
    values: dict[str, Any] = {"user": v.user, "years": list(range(current, current - 5, -1)),
                              "rates": indicators.prevalence(), "registry_names": REGISTRY_NAMES, "zh": _zh(request),
                              "report": None, "chart": None, "error": "", "year": year}
    if not v.ctx.organization:
        return render_private(request, "chronic/indicators.html", status_code=403,
                              **{**values, "error": _say(request, service.NO_CENTRE)})
    status = 200
    try:
        report = indicators.indicators(v.ctx, organizations=[v.ctx.organization], year=year)
    except service.ChronicRefused as exc:
        status, values["error"], values["year"] = 400, _say(request, exc.message), current
        report = indicators.indicators(v.ctx, organizations=[v.ctx.organization], year=current)
    months = [m for m, _ in report.centres[0].monthly_control["hypertension"]] if report.centres else []
    values["chart"] = {"months": months, "series": [
        {"name": f"{c.alias if _zh(request) else c.name} · {_say(request, REGISTRY_NAMES[k])}",
         "values": [None if r is None else round(r * 100, 1) for _, r in c.monthly_control[k]]}
        for c in report.centres for k in followup.REGISTRIES]}
    values["report"] = report
    return render_private(request, "chronic/indicators.html", status_code=status, **values)


@router.get(BASE + "/indicators", response_class=HTMLResponse)
async def chronic_indicators(request: Request) -> HTMLResponse:
    """The health centre's management, standardised-management and control rates, with the monthly control trend."""
    return await run_in_threadpool(_indicators, request)
