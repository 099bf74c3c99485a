"""The radiologist's pages: the worklist of unreported studies, a study with its series and the structured report
form (draft, sign, addendum); doctors see the same pages read-only for the studies of their orders."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.imaging import reporting
from smartcare.hospital.imaging.reporting import ReportForm, ReportRefused
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import current_locale
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
MAX_ID = 64
MAX_FIELD = reporting.MAX_SECTION + 1


def _visitor(request: Request) -> guard.Visitor:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    if not v.ctx.roles & reporting.READERS:
        raise guard.SurfaceForbidden("Imaging reports are for radiologists and doctors", ctx=v.ctx,
                                     surface="imaging")
    return v


def _worklist(request: Request) -> HTMLResponse:
    v = _visitor(request)
    rows = reporting.worklist(v.ctx, locale=current_locale(request))
    return render_private(request, "imaging/worklist.html", user=v.user, rows=rows,
                          may_sign=bool(v.ctx.roles & reporting.SIGNERS))


@router.get("/workstation/imaging", response_class=HTMLResponse)
async def imaging_worklist(request: Request) -> HTMLResponse:
    """Studies waiting for a report, stat first; a doctor sees those of their own orders."""
    return await run_in_threadpool(_worklist, request)


def _series(study: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"number": s.get("number", ""), "modality": (s.get("modality") or {}).get("code", ""),
             "description": s.get("description", ""), "instances": s.get("numberOfInstances", len(s.get("instance", [])))}
            for s in study.get("series", [])]


def _history(v: guard.Visitor, report: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not report or report.get("status") not in reporting.RELEASED:
        return []
    try:
        found = reporting.versions(v.ctx, report["id"])
    except (FhirError, ReportRefused):
        return []
    return [{"version": (r.get("meta") or {}).get("versionId", ""), "status": r.get("status", ""),
             "when": clock.wall_clock((r.get("meta") or {}).get("lastUpdated"))} for r in found]


def _study_page(request: Request, study_id: str, *, form: ReportForm | None = None, error: str = "",
                status_code: int = 200, addendum: dict[str, str] | None = None) -> HTMLResponse:
    v = _visitor(request)
    locale = current_locale(request)
    try:
        facts = reporting.open_study(v.ctx, study_id)
    except ReportRefused:
        return not_found(request)
    current = facts.current
    signed = current is not None and current.get("status") in reporting.RELEASED
    if form is None:
        form = reporting.form_of(current) or reporting.ReportForm()
        if not signed and request.query_params.get("start") == "normal":
            form = reporting.normal_form(facts.template, locale)
    order = facts.order or {}
    interpreter = next((r.get("reference") for r in (current or {}).get("resultsInterpreter", [])), None)
    return render_private(
        request, "imaging/study.html", status_code=status_code, user=v.user, facts=facts, study=facts.study,
        series=_series(facts.study), report_template=facts.template, locale=locale, form=form, report=current,
        signed=signed, may_sign=bool(v.ctx.roles & reporting.SIGNERS), error=error, addendum=addendum or {},
        addenda=reporting.addenda_of(current), history=_history(v, current),
        exam=reporting.exam_name(facts.order, facts.study, locale), patient_name=fhir_text.person_name(facts.patient),
        patient_id=facts.patient.get("id", ""), started=clock.wall_clock(facts.study.get("started")),
        modality=reporting.study_modality(facts.study), priority=order.get("priority", ""),
        reasons=[fhir_text.concept_text(c) for c in order.get("reasonCode", [])] +
        [n.get("text", "") for n in order.get("note", [])],
        ordered=clock.wall_clock(order.get("authoredOn")), issued=clock.wall_clock((current or {}).get("issued")),
        interpreter=_name(v, interpreter), source=reporting.report_templates.source(),
        max_section=reporting.MAX_SECTION, max_reason=reporting.MAX_REASON)


def _name(v: guard.Visitor, reference: str | None) -> str:
    if not reference:
        return ""
    try:
        return fhir_text.person_name(gateway.read(v.ctx, reference)) or reference
    except FhirError:
        return reference


@router.get("/workstation/imaging/studies/{study_id}", response_class=HTMLResponse)
async def imaging_study(request: Request, study_id: str) -> HTMLResponse:
    """A study: its facts and order, its series, and the structured report (write, sign, add an addendum)."""
    return await run_in_threadpool(_study_page, request, study_id[:MAX_ID + 1])


def _save(request: Request, study_id: str, fields: dict[str, str]) -> Response:
    v = _visitor(request)
    guard.check_csrf(request, v, fields.get("csrf_token"))
    locale = current_locale(request)
    signing = fields.get("action") == "sign"
    try:
        facts = reporting.open_study(v.ctx, study_id)
    except ReportRefused:
        return not_found(request)
    form = None
    try:
        form = reporting.parse_form(facts.template, {k: val[:MAX_FIELD] for k, val in fields.items()},
                                    signing=signing)
        if signing:
            reporting.sign(v.ctx, study_id=study_id, form=form, locale=locale)
        else:
            reporting.save_draft(v.ctx, study_id=study_id, form=form, locale=locale)
    except ReportRefused as exc:
        shown = form or reporting.ReportForm(
            technique=fields.get("technique", "")[:MAX_FIELD], comparison=fields.get("comparison", "")[:MAX_FIELD],
            impression=fields.get("impression", "")[:MAX_FIELD],
            findings={p.key: fields.get(f"finding_{p.key}", "")[:MAX_FIELD] for p in facts.template.findings})
        return _study_page(request, study_id, form=shown, error=exc.text(locale), status_code=exc.status)
    except FhirError as exc:
        return _study_page(request, study_id, error=exc.message, status_code=exc.status)
    return guard.see_other(f"/workstation/imaging/studies/{study_id}")


@router.post("/workstation/imaging/studies/{study_id}/report")
async def imaging_report_save(request: Request, study_id: str) -> Response:
    """Save the report as a draft or sign it (action=sign); radiologists only, CSRF-checked."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_save, request, study_id[:MAX_ID + 1], fields)


def _addendum(request: Request, report_id: str, fields: dict[str, str]) -> Response:
    v = _visitor(request)
    guard.check_csrf(request, v, fields.get("csrf_token"))
    locale = current_locale(request)
    text, reason = fields.get("addendum", "")[:MAX_FIELD], fields.get("reason", "")[:reporting.MAX_REASON + 1]
    try:
        report = gateway.read(v.ctx, f"DiagnosticReport/{reporting.checked_id(report_id, 'report')}")
    except (FhirError, ReportRefused):
        return not_found(request)
    study_id = next((s["reference"] for s in report.get("imagingStudy", []) if s.get("reference")), "").split("/")[-1]
    try:
        reporting.add_addendum(v.ctx, report_id=report_id, text=text, reason=reason, locale=locale)
    except ReportRefused as exc:
        return _study_page(request, study_id, error=exc.text(locale), status_code=exc.status,
                           addendum={"text": text, "reason": reason})
    except FhirError as exc:
        return _study_page(request, study_id, error=exc.message, status_code=exc.status)
    return guard.see_other(f"/workstation/imaging/studies/{study_id}")


@router.post("/workstation/imaging/reports/{report_id}/addendum")
async def imaging_report_addendum(request: Request, report_id: str) -> Response:
    """Add an addendum with its reason to a signed report (a new, amended version); radiologists only."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_addendum, request, report_id[:MAX_ID + 1], fields)


def _report_link(request: Request, report_id: str) -> Response:
    v = _visitor(request)
    try:
        report = gateway.read(v.ctx, f"DiagnosticReport/{reporting.checked_id(report_id, 'report')}")
    except (FhirError, ReportRefused):
        return not_found(request)
    study = next((s["reference"] for s in report.get("imagingStudy", []) if s.get("reference")), "")
    if not study.startswith("ImagingStudy/"):
        return not_found(request)
    return guard.see_other(f"/workstation/imaging/studies/{study.removeprefix('ImagingStudy/')}")


@router.get("/workstation/imaging/reports/{report_id}")
async def imaging_report(request: Request, report_id: str) -> Response:
    """An imaging report opens on its study's page (the chart links here)."""
    return await run_in_threadpool(_report_link, request, report_id[:MAX_ID + 1])
