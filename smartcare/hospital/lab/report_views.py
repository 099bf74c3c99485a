"""The released laboratory report at the workstation: each result with its flag, range, previous result, change and
trend, and the same report as a printable PDF with the hospital's header.

For the doctors, nurses and laboratory staff the access policy lets read the patient's reports: every read goes
through the FHIR gateway as them and is audited. A report that is not released yet is refused with 409.
"""


from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir.errors import FhirError
from smartcare.hospital.lab import report_pdf, report_sheet
from smartcare.hospital.lab.accession import LabRefused
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import current_locale
from smartcare.platform.web import guard
from smartcare.platform.web.charts import sparkline
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
READER_ROLES = frozenset({"doctor", "nurse", "lab_technician"})
MAX_ID = 64


def _visitor(request: Request) -> guard.Visitor:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    if not v.ctx.roles & READER_ROLES:
        raise guard.SurfaceForbidden("Laboratory reports are for doctors, nurses and the laboratory", ctx=v.ctx,
                                     surface="lab")
    return v


def _refused(request: Request, v: guard.Visitor, exc: LabRefused | FhirError) -> HTMLResponse:
    if isinstance(exc, LabRefused) and exc.status == 409:
        return render_private(request, "lab/report.html", status_code=409, user=v.user, sheet=None, rows=[],
                              error=exc.message)
    return not_found(request)


def _page(request: Request, report_id: str) -> HTMLResponse:
    v = _visitor(request)
    try:
        sheet = report_sheet.gather(v.ctx, report_id, locale=current_locale(request))
    except (LabRefused, FhirError) as exc:
        return _refused(request, v, exc)
    rows = [{"line": line, "spark": sparkline(line.trend, line.low, line.high)} for line in sheet.lines]
    return render_private(request, "lab/report.html", user=v.user, sheet=sheet, rows=rows,
                          is_technician="lab_technician" in v.ctx.roles)


def _pdf(request: Request, report_id: str) -> Response:
    v = _visitor(request)
    locale = current_locale(request)
    try:
        sheet = report_sheet.gather(v.ctx, report_id, locale=locale)
    except (LabRefused, FhirError) as exc:
        return _refused(request, v, exc)
    return Response(report_pdf.render(sheet, locale=locale), media_type=report_pdf.MEDIA_TYPE,
                    headers=report_pdf.response_headers(sheet))


# The PDF route comes first: the page's {report_id} would otherwise also match "r1.pdf".
@router.get("/workstation/lab/reports/{report_id}.pdf")
async def lab_report_pdf(request: Request, report_id: str) -> Response:
    """The released report as a PDF with the hospital's header, in the reader's language."""
    return await run_in_threadpool(_pdf, request, report_id[:MAX_ID + 1])


@router.get("/workstation/lab/reports/{report_id}", response_class=HTMLResponse)
async def lab_report(request: Request, report_id: str) -> HTMLResponse:
    """A released report: each result with its flag, range, previous result, change and trend; print as PDF."""
    return await run_in_threadpool(_page, request, report_id[:MAX_ID + 1])
