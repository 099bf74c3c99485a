"""Regional record pages: the clinician's "Regional record" tab of a chart, the resident's basic public-health record
with the community doctor's form, and the resident's own regional record in the app.

Every page asks the guard first and reads as the signed-in person (service.py), so what appears is what the
access policy lets them see and every read is audited.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import render_private
from smartcare.regional.records import basic_form, basic_record, service

router = APIRouter(include_in_schema=False)
_MAX_PERSON = 64


def _refused(request: Request, exc: service.RecordError) -> HTMLResponse:
    if exc.status == 403:
        return render_private(request, "403.html", status_code=403)
    return render_private(request, "404.html", status_code=exc.status, requested_path=request.url.path[:200])


def _workstation_visitor(request: Request) -> guard.Visitor:
    with unit_of_work() as conn:
        return guard.visitor(conn, request, "workstation")


def _regional(request: Request, patient_id: str) -> HTMLResponse:
    v = _workstation_visitor(request)
    locale = i18n.current_locale(request)
    try:
        record = service.regional_record(ctx=v.ctx, patient_id=patient_id, locale=locale)
    except service.RecordError as exc:
        return _refused(request, exc)
    return render_private(request, "records/workstation.html", user=v.user, record=record, zh=locale == "zh-Hans")


@router.get("/workstation/patients/{patient_id}/regional-record", response_class=HTMLResponse)
async def regional_record_tab(request: Request, patient_id: str) -> HTMLResponse:
    """The resident's record across every institution of the region, as far as the policy lets this clinician see:
    a timeline, problems, medicines and allergies reconciled across sources, results, imaging, vaccinations and
    care plans, each item with the institutions it came from."""
    return await run_in_threadpool(_regional, request, patient_id[:_MAX_PERSON + 1])


def _translated(locale: str, problems: list[basic_form.Problem]) -> dict[str, str]:
    words = i18n.translations(locale)
    shown: dict[str, str] = {}
    for problem in problems:
        shown.setdefault(problem.field, words.gettext(problem.message) % problem.values)
    return shown


def _basic(request: Request, patient_id: str, *, fields: dict[str, str] | None = None,
           errors: dict[str, str] | None = None, status_code: int = 200, refusal: str = "") -> HTMLResponse:
    v = _workstation_visitor(request)
    locale = i18n.current_locale(request)
    try:
        record = basic_record.read(ctx=v.ctx, patient_id=patient_id, locale=locale)
    except service.RecordError as exc:
        return _refused(request, exc)
    editor = basic_record.is_community_doctor(role=v.user.role.value, organization=v.user.organization)
    return render_private(
        request, "records/basic_record.html", status_code=status_code, user=v.user, record=record,
        spec=basic_record.data(), zh=locale == "zh-Hans", editor=editor, errors=errors or {},
        fields=fields if fields is not None else basic_record.form_values(record),
        refusal=refusal, saved=request.query_params.get("saved") == "1", rows=range(1, basic_form.HISTORY_ROWS + 1))


@router.get("/workstation/patients/{patient_id}/health-record", response_class=HTMLResponse)
async def basic_record_page(request: Request, patient_id: str) -> HTMLResponse:
    """The resident's basic public-health record (the national data set) with what is still missing; community
    doctors complete and update it here."""
    return await run_in_threadpool(_basic, request, patient_id[:_MAX_PERSON + 1])


def _save(request: Request, patient_id: str, fields: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
        guard.check_csrf(request, v, fields.get("csrf_token"))
    if not basic_record.is_community_doctor(role=v.user.role.value, organization=v.user.organization):
        return render_private(request, "403.html", status_code=403)
    locale = i18n.current_locale(request)
    try:
        patients = service.gather(ctx=v.ctx, patient_id=patient_id, types=("Patient",))
    except service.RecordError as exc:
        return _refused(request, exc)
    birth = next((str(p.get("birthDate") or "") for p in patients["Patient"] if p.get("id") == patient_id), "")
    try:
        basic_form.save(ctx=v.ctx, patient_id=patient_id, fields=fields, birth=birth)
    except basic_form.BasicRecordInvalid as exc:
        return _basic(request, patient_id, fields=fields, errors=_translated(locale, exc.problems), status_code=400)
    except basic_form.BasicRecordRefused as exc:
        return _basic(request, patient_id, fields=fields, status_code=403, refusal=str(exc)[:300])
    return guard.see_other(f"/workstation/patients/{patient_id}/health-record?saved=1")


@router.post("/workstation/patients/{patient_id}/health-record", response_class=HTMLResponse)
async def basic_record_save(request: Request, patient_id: str) -> Response:
    """Save the community doctor's form: every item checked first, then all written in one transaction (a bad
    date, for one, writes nothing and says what to fix in the doctor's language)."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_save, request, patient_id[:_MAX_PERSON + 1], fields)


def _people(request: Request) -> tuple[guard.Visitor, list[dict[str, Any]], dict[str, Any] | None]:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    own = (v.user.fhir_ref or "").removeprefix("Patient/")
    people = service.one_per_resident(gateway.search(v.ctx, "Patient", [("_count", "20")]), own=own)
    wanted = request.query_params.get("person", "")[:_MAX_PERSON]
    current = next((p for p in people if p.get("id") == wanted), people[0] if people else None)
    return v, people, current


def _app(request: Request) -> HTMLResponse:
    v, people, current = _people(request)
    locale = i18n.current_locale(request)
    record = None
    if current is not None:
        try:
            record = service.regional_record(ctx=v.ctx, patient_id=current["id"], locale=locale)
        except service.RecordError as exc:
            return _refused(request, exc)
    return render_private(request, "records/app.html", user=v.user, record=record, zh=locale == "zh-Hans",
                          people=[{"id": p["id"], "name": fhir_text.person_name(p)} for p in people],
                          current=current and {"id": current["id"]})


@router.get("/app/regional-record", response_class=HTMLResponse)
async def app_regional_record(request: Request) -> HTMLResponse:
    """The resident's own health record from every hospital and health centre of the region (or that of a family
    member they look after): visits on a timeline, problems, medicines, allergies, results, imaging,
    vaccinations and care plans, each with where it came from."""
    return await run_in_threadpool(_app, request)
