"""The control pages: a case's control page for public-health officers (/console/public-health/cases/{id}/control:
the disease's control facts, the case's and each contact's home isolation, follow-up and vaccination, and the acts
on them), and the community health centre's home-isolation work list (/workstation/isolation) for its doctors and
nurses. Every act is a form with the session's CSRF token and, where it changes a record, the version the person saw.
"""

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import store
from smartcare.fhir.errors import FhirError
from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.security.policy import AccessDenied
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render_private
from smartcare.regional.gate import require_dataset
from smartcare.regional.public_health import contacts, control, districts, isolation, review
from smartcare.regional.public_health.case_reports import person_name
from smartcare.regional.public_health.review_views import STATE_NAMES

router = APIRouter(include_in_schema=False)
CASES = "/console/public-health/cases"
PAGE = CASES + "/{report_id}/control"
MAX_FIELD = 600
MAX_ID = 80
DONE = {"imported": _("The investigation's contacts were added to the list."), "added": _("The contact was added."),
        "status": _("The contact's follow-up status was saved."),
        "started": _("Home isolation started: the monitoring was asked for and the community health centre told."),
        "end-date": _("The end of the home isolation was changed."),
        "finished": _("The home isolation was ended; the monitoring stops when it was the person's last.")}
BAD_VERSION = _("The form is out of date: read the page again, then decide.")
NOTHING_NEW = _("Every contact the investigation names is already on the list.")


def _say(request: Request, message: str, values: dict[str, Any] | None = None) -> str:
    t = i18n.translations(i18n.current_locale(request))
    shown = {k: t.gettext(STATE_NAMES.get(str(v), str(v))) if k == "state" else v for k, v in (values or {}).items()}
    return t.gettext(message) % shown if shown else t.gettext(message)


def _officer(conn: Connection, request: Request) -> guard.Visitor:
    v = guard.visitor(conn, request, "console/public-health")
    require_dataset(v.ctx, review.CASE_REPORTS)
    return v


def _organization_name(conn: Connection, reference: str | None) -> str:
    if not reference:
        return ""
    try:
        found = store.read(conn, SYSTEM, res_type="Organization", res_id=reference.removeprefix("Organization/"))
    except FhirError:
        return reference
    resource = found.resource or {}
    return str((resource.get("alias") or [resource.get("name")])[0] or resource.get("name") or reference)


def _person(conn: Connection, request: Request, patient: str | None, report: review.Loaded,
            isolations: list[isolation.Isolation], today: Any) -> dict[str, Any]:
    """What the page shows of one person: who, where, their isolations with the reports, their vaccination."""
    resource: dict[str, Any] = {}
    if patient:
        try:
            resource = store.read(conn, SYSTEM, res_type="Patient", res_id=patient.removeprefix("Patient/")).resource or {}
        except FhirError:
            resource = {}
    lang = i18n.current_locale(request)
    district = districts.of_person(resource) if resource else None
    mine = [i for i in isolations if i.patient == patient]
    active = next((i for i in mine if i.active), None)
    return {"patient": patient, "name": person_name(resource), "address": control.address_line(resource),
            "phone": control.phone_of(resource), "district": district.name(lang) if district else "",
            "centre": _organization_name(conn, district.centre) if district else "",
            "active": isolation.watched(conn, active, today) if active else None,
            "ended": [i for i in mine if not i.active],
            "vaccination": control.vaccination(conn, patient, control.control_of(report.facts)) if patient else []}


def _context(conn: Connection, request: Request, v: guard.Visitor, report_id: str) -> dict[str, Any]:
    report, _duplicates = review.read_case(conn, ctx=v.ctx, report_id=report_id)
    listed = contacts.open_list(conn, ctx=v.ctx, report=report)
    isolations = isolation.of_case(conn, report_id)
    today = review.today()
    case = _person(conn, request, report.facts.patient, report, isolations, today)
    people = [{"contact": c, **(_person(conn, request, c.resident, report, isolations, today) if c.resident else {
        "patient": None, "active": None, "ended": [], "vaccination": []})} for c in listed.contacts]
    for shown in [case, *people]:
        if shown.get("patient"):
            control.audit_person(conn, v.ctx, shown["patient"], [f"Composition/{report_id}"],
                                 "case control: isolation reports and vaccination")
    facts = control.control_of(report.facts)
    lang = i18n.current_locale(request)
    return {"report": report, "facts": report.facts, "case": case, "people": people, "contact_list": listed,
            "pending": len(contacts.not_yet_listed(contacts.investigation_rows(conn, report), listed.contacts)),
            "control": facts, "rules": control.rules(), "isolation_rule": facts.isolation_rule(lang) if facts else "",
            "disease": review.disease_name(report.facts.disease, lang, report.facts.subtype),
            "planned_case_end": isolation.default_end(report.facts, "case", today, None), "today": today,
            "statuses": contacts.STATUSES, "status_names": contacts.STATUS_NAMES, "lang": lang,
            "relations": contacts.relation_options(), "max_note": contacts.MAX_NOTE, "max_reason": isolation.MAX_REASON,
            "symptom_name": lambda code: control.symptom_name(code, lang), "kind_names": isolation.ISOLATION_KIND}


def _page(request: Request, report_id: str, *, status_code: int = 200, error: str | None = None,
          form: str = "", field: str = "", posted: dict[str, str] | None = None) -> Response:
    with unit_of_work() as conn:
        v = _officer(conn, request)
        try:
            context = _context(conn, request, v, report_id)
        except review.CaseNotFound as missing:
            context, status_code = {"report": None}, missing.status
            error = _say(request, missing.message, missing.values)
    done = request.query_params.get("done", "")[:20]
    return render_private(request, "public_health/control_case.html", status_code=status_code, error=error,
                          error_form=form, error_field=field, posted=posted or {},
                          done=DONE.get(done) if error is None else None, **context)


@router.get(PAGE, response_class=HTMLResponse)
def control_page(request: Request, report_id: str) -> Response:
    """A case's control: its contacts and their follow-up, home isolation and its reports, vaccination."""
    return _page(request, report_id[:MAX_ID])


def _version(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise review.VersionConflict(BAD_VERSION)
    return int(text)


def _act(request: Request, report_id: str, form: dict[str, str], form_id: str, done: str, act: Any) -> Response:
    """Carry out one act of the page in its own transaction; the page again with the error where it failed."""
    with unit_of_work() as conn:
        v = _officer(conn, request)
        guard.check_csrf(request, v, form.get("csrf_token"))
    try:
        with unit_of_work() as conn:
            act(conn, v, review.today())
    except review.ReviewRefused as refused:
        return _page(request, report_id, status_code=refused.status, error=_say(request, refused.message,
                                                                                  refused.values),
                     form=form_id, field=getattr(refused, "field", ""), posted=form)
    return guard.see_other(f"{CASES}/{quote(report_id, safe='')}/control?done={done}#{form_id}")


def _fields(form: dict[str, str]) -> dict[str, str]:
    return {k[:40]: v[:MAX_FIELD] for k, v in list(form.items())[:40]}


@router.post(PAGE + "/contacts/import", response_class=HTMLResponse)
async def import_contacts(request: Request, report_id: str) -> Response:
    """Bring the investigation's contacts that are not on the list yet onto it."""
    form = _fields(await guard.form_fields(request))

    def act(conn: Connection, v: guard.Visitor, _today: Any) -> None:
        if not contacts.bring_in(conn, ctx=v.ctx, report_id=report_id[:MAX_ID], seen_version=_version(form.get(
                "version", ""))):
            raise review.ReviewRefused(NOTHING_NEW)
    return await run_in_threadpool(_act, request, report_id[:MAX_ID], form, "contacts", "imported", act)


@router.post(PAGE + "/contacts", response_class=HTMLResponse)
async def add_contact(request: Request, report_id: str) -> Response:
    """Add a close contact the officer found (name, relation, phone, last contact)."""
    form = _fields(await guard.form_fields(request))

    def act(conn: Connection, v: guard.Visitor, today: Any) -> None:
        row = contacts.read_row(form, today=today)
        contacts.add(conn, ctx=v.ctx, report_id=report_id[:MAX_ID], seen_version=_version(form.get("version", "")),
                     row=row)
    return await run_in_threadpool(_act, request, report_id[:MAX_ID], form, "add-contact", "added", act)


@router.post(PAGE + "/contacts/{contact_id}/status", response_class=HTMLResponse)
async def contact_status(request: Request, report_id: str, contact_id: str) -> Response:
    """Change a contact's follow-up status, with an optional note."""
    form = _fields(await guard.form_fields(request))

    def act(conn: Connection, v: guard.Visitor, _today: Any) -> None:
        contacts.set_status(conn, ctx=v.ctx, report_id=report_id[:MAX_ID], contact_id=contact_id[:40],
                            seen_version=_version(form.get("version", "")), status=form.get("status", "")[:40],
                            note=form.get("note", ""))
    return await run_in_threadpool(_act, request, report_id[:MAX_ID], form, f"contact-{contact_id[:40]}", "status",
                                   act)


@router.post(PAGE + "/isolation", response_class=HTMLResponse)
async def start_isolation(request: Request, report_id: str) -> Response:
    """Put the case or a matched contact under home isolation (start, end, and why another end than the data's)."""
    form = _fields(await guard.form_fields(request))
    patient = form.get("patient", "")[:MAX_ID]

    def act(conn: Connection, v: guard.Visitor, today: Any) -> None:
        isolation.start(conn, ctx=v.ctx, report_id=report_id[:MAX_ID], patient=patient, role=form.get("role", "")[:20],
                        start_text=form.get("start", "")[:20], end_text=form.get("end", "")[:20],
                        reason=form.get("reason", ""), today=today)
    return await run_in_threadpool(_act, request, report_id[:MAX_ID], form, f"isolate-{patient.split('/')[-1]}",
                                   "started", act)


@router.post(PAGE + "/isolation/{isolation_id}/end-date", response_class=HTMLResponse)
async def move_end(request: Request, report_id: str, isolation_id: str) -> Response:
    """Move the end of a home isolation in force, with the reason."""
    form = _fields(await guard.form_fields(request))

    def act(conn: Connection, v: guard.Visitor, today: Any) -> None:
        isolation.change_end(conn, ctx=v.ctx, isolation_id=isolation_id[:64], seen_version=_version(
            form.get("version", "")), end_text=form.get("end", "")[:20], reason=form.get("reason", ""), today=today)
    return await run_in_threadpool(_act, request, report_id[:MAX_ID], form, f"iso-{isolation_id[:64]}", "end-date",
                                   act)


@router.post(PAGE + "/isolation/{isolation_id}/finish", response_class=HTMLResponse)
async def finish_isolation(request: Request, report_id: str, isolation_id: str) -> Response:
    """End a home isolation now, with the reason."""
    form = _fields(await guard.form_fields(request))

    def act(conn: Connection, v: guard.Visitor, today: Any) -> None:
        isolation.finish(conn, ctx=v.ctx, isolation_id=isolation_id[:64], seen_version=_version(
            form.get("version", "")), reason=form.get("reason", ""), today=today)
    return await run_in_threadpool(_act, request, report_id[:MAX_ID], form, f"iso-{isolation_id[:64]}", "finished",
                                   act)


# --- the community health centre's work list -----------------------------------------------------------------

def _centre_visitor(conn: Connection, request: Request) -> guard.Visitor:
    v = guard.visitor(conn, request, "workstation")
    require_dataset(v.ctx, isolation.CENTRE_DATASET)
    return v


def _centre(request: Request, isolation_id: str | None) -> Response:
    lang = i18n.current_locale(request)
    with unit_of_work() as conn:
        v = _centre_visitor(conn, request)
        try:
            if isolation_id is None:
                rows = isolation.centre_list(conn, ctx=v.ctx, today=review.today())
                one = None
            else:
                rows, one = [], isolation.centre_person(conn, ctx=v.ctx, isolation_id=isolation_id,
                                                        today=review.today())
        except AccessDenied as refused:
            raise guard.SurfaceForbidden(str(refused), ctx=v.ctx, surface="workstation/isolation") from refused
        except review.CaseNotFound as missing:
            return render_private(request, "public_health/control_person.html", status_code=404, one=None,
                                  error=_say(request, missing.message))
        served = [d.name(lang) for d in districts.served_by(v.ctx.organization)]
        centre = _organization_name(conn, v.ctx.organization)
    shared = {"served": served, "centre": centre, "today": review.today(), "rules": control.rules(), "lang": lang,
              "kind_names": isolation.ISOLATION_KIND, "symptom_name": lambda code: control.symptom_name(code, lang),
              "disease_name": lambda code: review.disease_name(code, lang)}
    if one is None:
        return render_private(request, "public_health/control_worklist.html", rows=rows, **shared)
    return render_private(request, "public_health/control_person.html", one=one, error=None, **shared)


@router.get(isolation.WORK_LIST, response_class=HTMLResponse)
def centre_work_list(request: Request) -> Response:
    """The people in home isolation in the centre's districts: their reports, missed days, fever and symptoms."""
    return _centre(request, None)


@router.get(isolation.WORK_LIST + "/{isolation_id}", response_class=HTMLResponse)
def centre_person(request: Request, isolation_id: str) -> Response:
    """One person in home isolation in the centre's districts, day by day."""
    return _centre(request, isolation_id[:64])
