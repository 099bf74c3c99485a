"""The app's lab-report pages: my reports, one report explained, and a paper lab sheet typed in."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.lab import report_pdf, report_sheet
from smartcare.hospital.lab.accession import LabRefused
from smartcare.knowledge import lab
from smartcare.patient.reports import service
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import current_locale
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.charts import sparkline
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
PAPER_ROWS = 6


def _people(request: Request) -> tuple[guard.Visitor, list[dict[str, Any]], dict[str, Any] | None]:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    people = gateway.search(v.ctx, "Patient", [("_count", "20")])
    wanted = guard.wanted_person(request)
    current = next((p for p in people if p.get("id") == wanted), people[0] if people else None)
    return v, people, current


def _shown(explained: service.Explained) -> list[dict[str, Any]]:
    return [{**r.__dict__, "spark": sparkline(r.trend, r.low, r.high, width=160, margin=4)} for r in explained.results]


def _list(request: Request) -> HTMLResponse:
    v, people, current = _people(request)
    reports = service.my_reports(v.ctx, patient_id=current["id"]) if current else []
    return render_private(request, "reports/list.html", user=v.user, people=[
        {"id": p["id"], "name": fhir_text.person_name(p)} for p in people], current=current and {
        "id": current["id"], "name": fhir_text.person_name(current)}, reports=reports)


@router.get("/app/reports", response_class=HTMLResponse)
async def reports_list(request: Request) -> HTMLResponse:
    """The released lab reports of the patient (or a family member they look after)."""
    return await run_in_threadpool(_list, request)


def _paper(request: Request, fields: dict[str, str] | None) -> HTMLResponse:
    v, people, current = _people(request)
    zh = current_locale(request) == "zh-Hans"
    choices = sorted(((a.loinc, a.name_zh if zh else a.name_en, a.unit) for a in lab.analytes()), key=lambda c: c[1])
    rows = [{"analyte": (fields or {}).get(f"a{n}", ""), "value": (fields or {}).get(f"v{n}", ""),
             "unit": (fields or {}).get(f"u{n}", "")} for n in range(1, PAPER_ROWS + 1)]
    explained, error, status = None, "", 200
    if fields is not None:
        lines = [(r["analyte"][:40], r["value"][:20], r["unit"][:20]) for r in rows if r["analyte"] and r["value"]]
        sex, age_days = service.person_of(current or {}, clock.now().date())
        try:
            explained = service.explain_paper(lines, sex=sex, age_days=age_days, zh=zh)
        except service.ReportProblem as exc:
            error, status = exc.message, exc.status
    return render_private(request, "reports/paper.html", status_code=status, user=v.user, choices=choices, rows=rows,
                 explained=explained, results=_shown(explained) if explained else [], error=error,
                 person=current["id"] if current else "")


@router.get("/app/reports/paper", response_class=HTMLResponse)
async def paper_form(request: Request) -> HTMLResponse:
    """Type in the results of a paper lab sheet from another hospital to have them explained."""
    return await run_in_threadpool(_paper, request, None)


@router.post("/app/reports/paper", response_class=HTMLResponse)
async def paper_explained(request: Request) -> HTMLResponse:
    """The typed-in results explained (nothing is stored); CSRF-checked."""
    fields = await guard.form_fields(request)
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    guard.check_csrf(request, v, fields.get("csrf_token"))
    return await run_in_threadpool(_paper, request, fields)


def _report(request: Request, report_id: str) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    try:
        explained = service.explain_report(v.ctx, report_id=report_id, today=clock.now().date(),
                                           zh=current_locale(request) == "zh-Hans")
    except (service.ReportProblem, FhirError):
        return not_found(request)
    return render_private(request, "reports/report.html", user=v.user, report=explained, results=_shown(explained),
                          report_id=report_id)


def _report_pdf(request: Request, report_id: str) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    locale = current_locale(request)
    try:
        sheet = report_sheet.gather(v.ctx, report_id, locale=locale)
    except (LabRefused, FhirError):
        # Not released yet, not theirs, or no such report: the same answer as the report's page.
        return not_found(request)
    return Response(report_pdf.render(sheet, locale=locale), media_type=report_pdf.MEDIA_TYPE,
                    headers=report_pdf.response_headers(sheet))


# Before the page's route, whose {report_id} would also match "r1.pdf".
@router.get("/app/reports/{report_id}.pdf")
async def report_printable(request: Request, report_id: str) -> Response:
    """The released report as the hospital's printable PDF, in the reader's language."""
    return await run_in_threadpool(_report_pdf, request, report_id[:65])


@router.get("/app/reports/{report_id}", response_class=HTMLResponse)
async def report_explained(request: Request, report_id: str) -> HTMLResponse:
    """One report explained: each result, the patterns across them, trends and what to do."""
    return await run_in_threadpool(_report, request, report_id[:64])
