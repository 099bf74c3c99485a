"""The laboratory's pages: the technician's worklist, the specimen and its label, result entry, review, release
and correction; and the doctor's acknowledgement of a critical value."""

import contextlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.lab import barcode, critical, quality, release, results, specimens
from smartcare.hospital.lab.accession import LabRefused, accession, checked_id
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import current_locale
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
LAB_ROLES = frozenset({"lab_technician"})
RESULT_ROLES = frozenset({"lab_technician", "doctor"})
DEPARTMENT_SYSTEM = "https://smartcare.example/fhir/CodeSystem/department"
MAX_FIELD = 600


def _visitor(request: Request, roles: frozenset[str]) -> guard.Visitor:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    if not v.ctx.roles & roles:
        raise guard.SurfaceForbidden("This page is for the laboratory", ctx=v.ctx, surface="lab")
    return v




def _lab_service(ctx: Any) -> str | None:
    if not ctx.organization:
        return None
    for key in ("organization.partof", "organization"):
        found = gateway.search(ctx, "HealthcareService", [("service-type", f"{DEPARTMENT_SYSTEM}|laboratory"),
                                                          (key, ctx.organization), ("_count", "1")])
        if found:
            return f"HealthcareService/{found[0]['id']}"
    return None


def _row(request_: dict[str, Any], names: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    patient = request_["subject"]["reference"]
    return {"order": request_["id"], "what": fhir_text.concept_text(request_.get("code")),
            "priority": request_.get("priority", "routine"), "patient": (names or {}).get(patient) or patient,
            "when": clock.wall_clock(request_.get("authoredOn")), **extra}


def worklist(ctx: Any) -> dict[str, list[dict[str, Any]]]:
    """The laboratory's work by step: orders to collect, specimens to receive and result, reports to review and
    release, and critical values still waiting for the doctor's acknowledgement."""
    lists: dict[str, list[dict[str, Any]]] = {k: [] for k in ("collect", "receive", "result", "review", "release")}
    service = _lab_service(ctx)
    found = gateway.search(ctx, "ServiceRequest", [("performer", service), ("status", "active"),
                                                   ("_sort", "-authored"), ("_count", "100"),
                                                   ("_include", "ServiceRequest:subject")]) if service else []
    orders = [o for o in found if o["resourceType"] == "ServiceRequest"]
    names = {f"Patient/{p['id']}": fhir_text.person_name(p) for p in found if p["resourceType"] == "Patient"}
    wanted = {f"ServiceRequest/{o['id']}": o for o in orders}
    live: dict[str, dict[str, Any]] = {}
    reports: dict[str, dict[str, Any]] = {}
    if wanted:
        for s in gateway.search(ctx, "Specimen", [("status", "unavailable,available"), ("_count", "500")]):
            for ref in (r.get("reference") for r in s.get("request", [])):
                if ref in wanted:
                    live[ref] = s
        for r in gateway.search(ctx, "DiagnosticReport", [("status", "preliminary"), ("_count", "500")]):
            for ref in (b.get("reference") for b in r.get("basedOn", [])):
                if ref in wanted:
                    reports[ref] = r
    rank = {"stat": 0, "asap": 1, "urgent": 2, "routine": 3}
    for ref, order in sorted(wanted.items(), key=lambda item: rank.get(item[1].get("priority", "routine"), 3)):
        specimen, report = live.get(ref), reports.get(ref)
        number = specimens.accession_of(specimen) if specimen else ""
        row = _row(order, names, specimen=specimen["id"] if specimen else None, accession=number)
        if report is not None and report.get("result"):
            lists["release" if results.reviewed(report) else "review"].append(row)
        elif specimen is None or specimens.stage(specimen) == specimens.TO_COLLECT:
            lists["collect"].append(row)
        elif specimens.stage(specimen) == specimens.TO_RECEIVE:
            lists["receive"].append(row)
        else:
            lists["result"].append(row)
    lists["critical"] = [{"id": t["id"], "what": t.get("description", ""), "owner": (t.get("owner") or {}).get(
        "reference", ""), "due": clock.wall_clock(((t.get("restriction") or {}).get("period") or {}).get("end")), "escalated": (t.get("businessStatus") or {}).get("text") == critical.ESCALATED}
        for t in critical.open_for(ctx)]
    return lists


def _worklist(request: Request) -> HTMLResponse:
    v = _visitor(request, LAB_ROLES)
    return render_private(request, "lab/worklist.html", user=v.user, lists=worklist(v.ctx))


@router.get("/workstation/lab", response_class=HTMLResponse)
async def lab_worklist(request: Request) -> HTMLResponse:
    """The technician's worklist: to collect, receive, result, review and release; critical values pending."""
    return await run_in_threadpool(_worklist, request)


def _accession(request: Request, request_id: str, form: dict[str, str]) -> Response:
    v = _visitor(request, LAB_ROLES)
    guard.check_csrf(request, v, form.get("csrf_token"))
    try:
        specimen = accession(v.ctx, request_id=request_id)
    except (LabRefused, FhirError) as exc:
        return render_private(request, "lab/worklist.html", status_code=exc.status, user=v.user, lists=worklist(v.ctx),
                     error=exc.message)
    return guard.see_other(f"/workstation/lab/specimens/{specimen['id']}")


@router.post("/workstation/lab/orders/{request_id}/accession")
async def lab_accession(request: Request, request_id: str) -> Response:
    """Accession an order: its specimen, accession number and label; CSRF-checked."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_accession, request, request_id[:64], form)


def _specimen(request: Request, specimen_id: str, *, status_code: int = 200, error: str = "") -> HTMLResponse:
    v = _visitor(request, LAB_ROLES)
    try:
        specimen = specimens.read(v.ctx, specimen_id)
        order = gateway.read(v.ctx, specimen["request"][0]["reference"])
        patient = gateway.read(v.ctx, specimen["subject"]["reference"])
    except (LabRefused, FhirError, KeyError, IndexError):
        return not_found(request)
    number = specimens.accession_of(specimen)
    report = results.report_for(v.ctx, order["id"])
    zh = current_locale(request) == "zh-Hans"
    reasons = [{"key": r.key, "name": r.zh if zh else r.en} for r in specimens.rejection_reasons().values()]
    return render_private(request, "lab/specimen.html", status_code=status_code, user=v.user, specimen=specimen,
                 stage=specimens.stage(specimen), number=number, barcode=barcode.svg(number) if number else "",
                 what=fhir_text.concept_text(order.get("code")), patient_name=fhir_text.person_name(patient),
                 born=patient.get("birthDate", ""), gender=patient.get("gender", ""),
                 times=specimens.turnaround(order, specimen, report), reasons=reasons, error=error)


@router.get("/workstation/lab/specimens/{specimen_id}", response_class=HTMLResponse)
async def lab_specimen(request: Request, specimen_id: str) -> HTMLResponse:
    """One specimen: its printable label with the barcode, where it is, its times and the next step."""
    return await run_in_threadpool(_specimen, request, specimen_id[:64])


def _specimen_step(request: Request, specimen_id: str, action: str, form: dict[str, str]) -> Response:
    v = _visitor(request, LAB_ROLES)
    guard.check_csrf(request, v, form.get("csrf_token"))
    try:
        if action == "collect":
            specimens.collect(v.ctx, specimen_id=specimen_id)
        elif action == "receive":
            specimens.receive(v.ctx, specimen_id=specimen_id)
        elif action == "reject":
            specimens.reject(v.ctx, specimen_id=specimen_id, reason=form.get("reason", "")[:40],
                             note=form.get("note", "")[:MAX_FIELD])
        else:
            return not_found(request)
    except (LabRefused, FhirError) as exc:
        return _specimen(request, specimen_id, status_code=exc.status, error=exc.message)
    return guard.see_other(f"/workstation/lab/specimens/{specimen_id}")


@router.post("/workstation/lab/specimens/{specimen_id}/{action}")
async def lab_specimen_step(request: Request, specimen_id: str, action: str) -> Response:
    """Collect, receive or reject (with a reason) a specimen; CSRF-checked."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_specimen_step, request, specimen_id[:64], action[:20], form)


def _range_text(observation: dict[str, Any]) -> str:
    band = (observation.get("referenceRange") or [{}])[0]
    low, high = (band.get("low") or {}).get("value"), (band.get("high") or {}).get("value")
    if low is not None and high is not None:
        return f"{low:g} – {high:g}"
    return f"≥ {low:g}" if low is not None else f"≤ {high:g}" if high is not None else ""


def _grade_fields(test: Any, found: dict[str, Any] | None, zh: bool) -> dict[str, Any]:
    """A graded test's choices (code, label in the page's language), the grade entered, what to show, the usual."""
    item = results.graded(test)
    if item is None:
        return {"grades": None}
    return {"grades": [(a.code, a.label(zh)) for a in item.answers], "grade": results.grade_of(found) if found else None,
            "shown": results.value_text(found, zh=zh) if found else "",
            "usual": ("、" if zh else ", ").join(a.label(zh) for a in item.answers if a.normal)}


def _result_rows(ctx: Any, form: dict[str, Any], zh: bool, holds: dict[str, quality.Hold]) -> list[dict[str, Any]]:
    entered = {results.loinc_of(o): o for o in form["results"]}
    rows = []
    for test in form["tests"]:
        found = entered.get(test.loinc)
        hold = holds.get(test.loinc) if found else None
        grades = _grade_fields(test, found, zh)
        rows.append({"loinc": test.loinc, "name": test.name_zh if zh else test.name_en,
                     "unit": test.unit if test.unit and test.unit != "1" else "", **grades,
                     "value": (found.get("valueQuantity") or {}).get("value") if found else None,
                     "flag": results.flag_of(found) if found else None,
                     "range": grades.get("usual") or (_range_text(found) if found else ""),
                     "status": found.get("status") if found else "",
                     "delta": results.delta(ctx, found) if found else None,
                     "held": {"rules": ", ".join(hold.rules), "at": quality.short_time(hold.run_at)} if hold else None})
    return rows


def _reviewer(ctx: Any, report: dict[str, Any] | None) -> dict[str, str] | None:
    """The technician's review of the report with the reviewer's name (the directory is public), if reviewed."""
    review = results.reviewed(report) if report else None
    if review is None:
        return None
    name = review["by"]
    if name.startswith("Practitioner/"):
        with contextlib.suppress(FhirError, LabRefused):
            name = fhir_text.person_name(gateway.read(ctx, f"Practitioner/{checked_id(name[13:], 'practitioner')}"))
    return {**review, "by": name}


def _results(request: Request, specimen_id: str, *, status_code: int = 200, error: str = "") -> HTMLResponse:
    v = _visitor(request, RESULT_ROLES)
    try:
        form = results.entry_form(v.ctx, specimen_id)
        patient = gateway.read(v.ctx, form["request"]["subject"]["reference"])
    except (LabRefused, FhirError):
        return not_found(request)
    report = form["report"]
    zh = current_locale(request) == "zh-Hans"
    # Released results were let through already; the hold speaks of what is still to release.
    holds = quality.holds(v.ctx, form["request"], form["results"]) \
        if report and report.get("status") == "preliminary" else {}
    return render_private(request, "lab/results.html", status_code=status_code, user=v.user, specimen=form["specimen"],
                 number=specimens.accession_of(form["specimen"]), stage=specimens.stage(form["specimen"]),
                 what=form["order"].name_zh if zh else form["order"].name_en, report=report,
                 reviewed=_reviewer(v.ctx, report), rows=_result_rows(v.ctx, form, zh, holds),
                 held=[quality.analyte_name(code, zh=zh) for code in holds],
                 patient_name=fhir_text.person_name(patient), born=patient.get("birthDate", ""),
                 gender=patient.get("gender", ""), may_release=release.may_release(v.ctx),
                 is_technician=bool(v.ctx.roles & LAB_ROLES), error=error)


@router.get("/workstation/lab/specimens/{specimen_id}/results", response_class=HTMLResponse)
async def lab_results(request: Request, specimen_id: str) -> HTMLResponse:
    """The order's results: entry, flags and delta checks, review, release and correction."""
    return await run_in_threadpool(_results, request, specimen_id[:64])


def _values(form: dict[str, str]) -> dict[str, str]:
    return {key[6:][:20]: value[:40] for key, value in form.items() if key.startswith("value-")}


def _result_step(request: Request, specimen_id: str, action: str, form: dict[str, str]) -> Response:
    v = _visitor(request, RESULT_ROLES)
    guard.check_csrf(request, v, form.get("csrf_token"))
    try:
        checked_id(specimen_id, "specimen")
        if action == "enter" and v.ctx.roles & LAB_ROLES:
            results.enter_results(v.ctx, specimen_id=specimen_id, values=_values(form))
        elif action in ("review", "release", "correct"):
            report = results.entry_form(v.ctx, specimen_id)["report"]
            if report is None:
                raise LabRefused("no results have been entered yet", status=409)
            if action == "review" and v.ctx.roles & LAB_ROLES:
                results.review(v.ctx, report_id=report["id"])
            elif action == "release":
                release.release(v.ctx, report_id=report["id"])
            elif action == "correct":
                release.correct(v.ctx, report_id=report["id"], values=_values(form),
                                reason=form.get("reason", "")[:MAX_FIELD])
            else:
                return not_found(request)
        else:
            return not_found(request)
    except (LabRefused, FhirError) as exc:
        return _results(request, specimen_id, status_code=exc.status, error=exc.message)
    return guard.see_other(f"/workstation/lab/specimens/{specimen_id}/results")


@router.post("/workstation/lab/specimens/{specimen_id}/results/{action}")
async def lab_result_step(request: Request, specimen_id: str, action: str) -> Response:
    """Enter results, review, release, or correct a released report (with a reason); CSRF-checked."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_result_step, request, specimen_id[:64], action[:20], form)


def _critical(request: Request, task_id: str, *, status_code: int = 200, error: str = "") -> HTMLResponse:
    v = _visitor(request, RESULT_ROLES)
    try:
        task = critical.read_task(v.ctx, task_id)
        patient = gateway.read(v.ctx, task["for"]["reference"])
    except (LabRefused, FhirError):
        return not_found(request)
    recipients = {r.get("reference") for r in (task.get("restriction") or {}).get("recipient", [])}
    return render_private(request, "lab/critical.html", status_code=status_code, user=v.user, task=task,
                 patient_name=fhir_text.person_name(patient), patient_id=patient["id"],
                 due=clock.wall_clock(((task.get("restriction") or {}).get("period") or {}).get("end")),
                 read_back=next((o.get("valueString") for o in task.get("output", [])), ""),
                 may_acknowledge=v.ctx.fhir_user in recipients, error=error)


@router.get("/workstation/lab/critical/{task_id}", response_class=HTMLResponse)
async def lab_critical(request: Request, task_id: str) -> HTMLResponse:
    """A critical result for the doctor to acknowledge with a read-back (linked from the notification)."""
    return await run_in_threadpool(_critical, request, task_id[:64])


def _acknowledge(request: Request, task_id: str, form: dict[str, str]) -> Response:
    v = _visitor(request, RESULT_ROLES)
    guard.check_csrf(request, v, form.get("csrf_token"))
    try:
        critical.acknowledge(v.ctx, task_id=task_id, read_back=form.get("read_back", "")[:critical.MAX_READ_BACK + 1])
    except (LabRefused, FhirError) as exc:
        return _critical(request, task_id, status_code=exc.status, error=exc.message)
    return guard.see_other(f"/workstation/lab/critical/{task_id}")


@router.post("/workstation/lab/critical/{task_id}")
async def lab_acknowledge(request: Request, task_id: str) -> Response:
    """Acknowledge a critical result by typing the value back; CSRF-checked."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_acknowledge, request, task_id[:64], form)
