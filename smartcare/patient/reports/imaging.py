"""The app's imaging-report pages: my signed imaging reports, and one report with a plain-language summary.

Only released reports (final, amended, corrected; category RAD) are shown, read through the FHIR gateway as the
patient or their proxy, so the access policy decides and every read is audited; anything else is a 404, the same
answer as for a report that does not exist. The summary never interprets findings: a report whose impression is
still, word for word, a template's normal-study impression says that no problem was seen; any other impression
says the radiologist described findings that the doctor will explain (knowledge/orders/report_templates.py holds
the sentences and their source).
"""

import base64
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.knowledge.orders import catalogue, report_templates
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import current_locale
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
RELEASED = ("final", "amended", "corrected")
RAD = "http://terminology.hl7.org/CodeSystem/v2-0074|RAD"
ORDER_SYSTEM = "https://smartcare.example/fhir/CodeSystem/order-catalogue"
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def is_imaging_report(report: dict[str, Any]) -> bool:
    """True for a released radiology report (category RAD)."""
    system, code = RAD.split("|")
    return report.get("status") in RELEASED and any(
        c.get("system") == system and c.get("code") == code for cat in report.get("category", [])
        for c in cat.get("coding", []))


def exam_title(report: dict[str, Any], locale: str) -> str:
    """The exam's name in the reader's language: the order catalogue's, else the report's own words."""
    for coding in (report.get("code") or {}).get("coding", []):
        if coding.get("system") == ORDER_SYSTEM and coding.get("code"):
            found = catalogue.find_order(str(coding["code"]))
            if found is not None:
                return found.name_zh if locale.startswith("zh") else found.name_en
    return fhir_text.concept_text(report.get("code"))


def plain_summary(report: dict[str, Any], locale: str) -> list[str]:
    """The plain-language summary: normal wording kept means no problem was seen; anything else is left to the
    doctor; an amended report says so."""
    normal = report_templates.is_normal_impression(str(report.get("conclusion") or ""))
    lines = [report_templates.plain_words("normal" if normal else "findings").in_locale(locale)]
    if report.get("status") in ("amended", "corrected"):
        lines.append(report_templates.plain_words("amended").in_locale(locale))
    return lines


def full_text(report: dict[str, Any]) -> str:
    """The report's text/plain presentedForm, or ''."""
    for form in report.get("presentedForm", []):
        if str(form.get("contentType", "")).startswith("text/plain") and form.get("data"):
            return base64.b64decode(form["data"]).decode("utf-8", errors="replace")
    return ""


def _day(report: dict[str, Any]) -> str:
    return clock.wall_clock(report.get("effectiveDateTime") or report.get("issued"))[:10]


def _people(request: Request) -> tuple[guard.Visitor, list[dict[str, Any]], dict[str, Any] | None]:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    people = gateway.search(v.ctx, "Patient", [("_count", "20")])
    wanted = guard.wanted_person(request)
    current = next((p for p in people if p.get("id") == wanted), people[0] if people else None)
    return v, people, current


def _list(request: Request) -> HTMLResponse:
    v, people, current = _people(request)
    locale = current_locale(request)
    found = gateway.search(v.ctx, "DiagnosticReport", [
        ("patient", current["id"]), ("category", RAD), ("status", ",".join(RELEASED)), ("_sort", "-issued"),
        ("_count", "50")]) if current else []
    reports = [{"id": r["id"], "title": exam_title(r, locale), "day": _day(r), "summary": plain_summary(r, locale)[0]}
               for r in found if is_imaging_report(r)]
    return render_private(request, "reports/imaging_list.html", user=v.user, reports=reports, people=[
        {"id": p["id"], "name": fhir_text.person_name(p)} for p in people], current=current and {
        "id": current["id"], "name": fhir_text.person_name(current)})


@router.get("/app/imaging", response_class=HTMLResponse)
async def imaging_reports(request: Request) -> HTMLResponse:
    """The signed imaging reports of the patient (or a family member they look after), newest first."""
    return await run_in_threadpool(_list, request)


def _report(request: Request, report_id: str) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    if not _ID.fullmatch(report_id):
        return not_found(request)
    try:
        report = gateway.read(v.ctx, f"DiagnosticReport/{report_id}")
    except FhirError:
        return not_found(request)
    if not is_imaging_report(report):
        return not_found(request)
    locale = current_locale(request)
    return render_private(request, "reports/imaging_report.html", user=v.user, title=exam_title(report, locale),
                          day=_day(report), impression=report.get("conclusion", ""),
                          summary=plain_summary(report, locale), text=full_text(report),
                          signed=clock.wall_clock(report.get("issued")), status=report.get("status"),
                          studies=[ref.split("/", 1)[1] for ref in (r.get("reference", "") for r in
                                                                     report.get("imagingStudy", []))
                                   if ref.startswith("ImagingStudy/") and _ID.fullmatch(ref.split("/", 1)[1])])


@router.get("/app/imaging/{report_id}", response_class=HTMLResponse)
async def imaging_report(request: Request, report_id: str) -> HTMLResponse:
    """One signed imaging report: the exam, its date, the impression and what it means in plain words."""
    return await run_in_threadpool(_report, request, report_id[:65])
