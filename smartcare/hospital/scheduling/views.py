"""Console pages of a hospital's schedules: doctors' templates with a week's preview, making slots, leave and holidays.

A hospital administrator sees and changes only their own hospital. Every form is CSRF-checked and
written in one transaction; bad input comes back as the form with a message in the reader's
language, and nothing is written.
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import store
from smartcare.fhir.errors import NotFound
from smartcare.hospital.directory import conventions as dc
from smartcare.hospital.scheduling import leave, templates_store
from smartcare.hospital.scheduling.rules import MAX_SESSIONS, Session, TemplateInvalid, _
from smartcare.hospital.scheduling.schedules import display_name, region_zone
from smartcare.platform import audit, clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

SURFACE = "console/schedules"
MAX_FEE_YUAN = 10_000
DEFAULT_SESSIONS = (Session("am", time(8, 0), time(12, 0)), Session("pm", time(14, 0), time(17, 0)))
MAX_LEAVE_DAYS = 366
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_WHOLE = re.compile(r"\d{1,4}")
_FEE = re.compile(r"\d{1,5}(\.\d{1,2})?")
# Which field a rules message is about, so the form can mark that field.
_FIELD_OF = {
    "A slot lasts from 5 to 240 minutes": "slot_minutes",
    "A slot holds from 1 to 500 patients": "capacity",
    "The fee cannot be negative": "fee",
    "Choose at least one weekday": "weekdays",
    "Choose a visit type from the list": "visit_type",
    "The department has no fee for this visit type: set one in the directory or type a fee": "fee",
}


@dataclass
class Problem:
    """A form's message (a catalog msgid with values) and the field it is about ("" for the whole form)."""

    message: str
    values: dict[str, Any] = field(default_factory=dict)
    field: str = ""


class FormInvalid(Exception):
    """A field of the form cannot be read as typed."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    response = render(request, template, status_code=status_code, **values)
    response.headers.update(guard.NO_STORE)
    return response


def _own(v: guard.Visitor) -> str:
    """The hospital this administrator manages; a refusal when the account names none."""
    if not v.ctx.organization:
        raise guard.SurfaceForbidden("the account names no hospital", ctx=v.ctx, surface=SURFACE)
    return v.ctx.organization.removeprefix("Organization/")


def _reach(v: guard.Visitor, organization_id: str) -> None:
    if organization_id != _own(v):
        raise guard.SurfaceForbidden("hospital administrators manage only their own hospital's schedules",
                                     ctx=v.ctx, surface=SURFACE)


def _yuan(fen: int | None) -> str:
    return "" if fen is None else f"{fen / 100:g}"


def _summary(stored: templates_store.StoredTemplate | None) -> dict[str, Any] | None:
    if stored is None:
        return None
    return {"weekdays": sorted(stored.weekdays), "sessions": stored.sessions, "slot_minutes": stored.slot_minutes,
            "capacity": stored.capacity, "visit_type": stored.visit_type, "fee": _yuan(stored.fee),
            "active": stored.active}


def _local_day(instant: str, *, end: bool = False) -> date:
    moment = clock.parse_instant(instant).astimezone(region_zone())
    return (moment - timedelta(microseconds=1)).date() if end else moment.date()


def _practitioner_name(conn, practitioner_id: str) -> str:
    """A doctor's name for the list of blocked periods (one who left the hospital's list keeps their name)."""
    try:
        return display_name(store.read(conn, SYSTEM, res_type="Practitioner", res_id=practitioner_id).resource)
    except NotFound:
        return practitioner_id


def _console(request: Request, *, form: dict[str, str] | None = None, problem: Problem | None = None,
             status_code: int = 200) -> HTMLResponse:
    """The console page; after a failed leave form, with what was typed and the message."""
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        own = _own(v)
        doctors = templates_store.doctors_of(conn, organization_id=own)
        stored = {t.role_id: t for t in templates_store.templates_of(conn, organization_id=own)}
        names = {d.facts.practitioner_id: d.facts.practitioner_name for d in doctors}
        recorded = leave.blocks_of(conn, organization_id=own)
        found = None if problem else leave.get_block(conn, block_id=request.query_params.get("blocked", "")[:36])
        for b in [*recorded, *([found] if found else [])]:
            if b.practitioner_id and b.practitioner_id not in names:
                names[b.practitioner_id] = _practitioner_name(conn, b.practitioner_id)
        t = i18n.translator(request)
        blocks = [{"who": names.get(b.practitioner_id, b.practitioner_id) if b.practitioner_id else None,
                   "first": _local_day(b.start), "last": _local_day(b.end, end=True), "reason": t.gettext(b.reason),
                   "cancelled": b.cancelled, "by": b.created_by} for b in recorded]
        done = None if found is None or found.organization_id != own else {
            "first": _local_day(found.start), "last": _local_day(found.end, end=True), "cancelled": found.cancelled,
            "who": names.get(found.practitioner_id, found.practitioner_id) if found.practitioner_id else None}
    # A hospital has a hundred doctors and more: the list can be narrowed to one department.
    departments = sorted({d.facts.service_id: d for d in doctors}.values(),
                         key=lambda d: d.department_zh if t.locale.startswith("zh") else d.department_en)
    department = request.query_params.get("department", "")[:64]
    if department not in {d.facts.service_id for d in departments}:
        department = ""
    rows = [{"doctor": d, "template": _summary(stored.get(d.facts.role_id))} for d in doctors
            if not department or d.facts.service_id == department]
    saved = "" if problem else request.query_params.get("saved", "")[:64]
    return _page(request, "schedules/console.html", status_code=status_code, rows=rows, blocks=blocks,
                 departments=departments, department=department,
                 reasons={code: t.gettext(text) for code, text in leave.REASONS.items()}, problem=problem, done=done, saved=names.get(
                     next((d.facts.practitioner_id for d in doctors if d.facts.role_id == saved), ""), ""),
                 made=request.query_params.get("made", "")[:8] if saved else "",
                 form=form or {"first": "", "last": "", "who": "", "reason": "leave", "reason_text": ""},
                 visit_labels=dc.VISIT_TYPE_LABELS, max_reason=leave.MAX_REASON)


@router.get("/console/schedules", response_class=HTMLResponse)
async def schedules_console(request: Request) -> HTMLResponse:
    """The hospital's doctors with their schedule templates, the leave and holiday form and the blocked periods."""
    return await run_in_threadpool(_console, request)


# --- one doctor's template --------------------------------------------------------------------


def _initial_form(facts: templates_store.RoleFacts, stored: templates_store.StoredTemplate | None) -> dict[str, Any]:
    sessions = stored.sessions if stored else DEFAULT_SESSIONS
    return {"weekdays": sorted(stored.weekdays) if stored else [0, 1, 2, 3, 4],
            "sessions": [(f"{s.start:%H:%M}", f"{s.end:%H:%M}") for s in sessions],
            "slot_minutes": str(stored.slot_minutes if stored else 15), "capacity": str(stored.capacity if stored else 1),
            "visit_type": stored.visit_type if stored else facts.visit_type,
            "fee": _yuan(stored.fee) if stored else "", "active": stored.active if stored else True}


def _posted_form(fields: dict[str, str], weekdays: list[str]) -> dict[str, Any]:
    sessions = [(fields.get(f"start_{n}", "").strip()[:5], fields.get(f"end_{n}", "").strip()[:5])
                for n in range(MAX_SESSIONS)]
    return {"weekdays": sorted({int(d) for d in weekdays if d in "0123456" and len(d) == 1}),
            "sessions": [s for s in sessions if s != ("", "")],
            "slot_minutes": fields.get("slot_minutes", "").strip()[:8], "capacity": fields.get("capacity", "").strip()[:8],
            "visit_type": fields.get("visit_type", "")[:16], "fee": fields.get("fee", "").strip()[:12],
            "active": fields.get("active") == "on"}


def _clock_time(text: str, row: int) -> time:
    matched = _CLOCK.fullmatch(text)
    if not matched:
        raise FormInvalid(Problem(_("Session %(row)s: write the times as HH:MM, for example 08:00"), {"row": row},
                                  "sessions"))
    return time(int(matched[1]), int(matched[2]))


def _parse_template(form: dict[str, Any]) -> dict[str, Any]:
    """The save_template arguments a posted form gives; FormInvalid names the field that cannot be read."""
    sessions: list[Session] = []
    for row, (start, end) in enumerate(form["sessions"], start=1):
        begins, ends = _clock_time(start, row), _clock_time(end, row)
        sessions.append(Session(templates_store.session_name(begins, {s.name for s in sessions}), begins, ends))
    if not sessions:
        raise FormInvalid(Problem(_("Add at least one session"), field="sessions"))
    if not _WHOLE.fullmatch(form["slot_minutes"]):
        raise FormInvalid(Problem(_("A slot lasts from 5 to 240 minutes"), field="slot_minutes"))
    if not _WHOLE.fullmatch(form["capacity"]):
        raise FormInvalid(Problem(_("A slot holds from 1 to 500 patients"), field="capacity"))
    fee = None
    if form["fee"]:
        if not _FEE.fullmatch(form["fee"]) or float(form["fee"]) > MAX_FEE_YUAN:
            raise FormInvalid(Problem(_("A fee is a number of yuan from 0 to %(most)s"), {"most": MAX_FEE_YUAN},
                                      "fee"))
        fee = round(float(form["fee"]) * 100)
    return {"weekdays": frozenset(form["weekdays"]), "sessions": tuple(sessions),
            "slot_minutes": int(form["slot_minutes"]), "capacity": int(form["capacity"]),
            "visit_type": form["visit_type"], "fee": fee, "active": form["active"]}


def _problem_of(exc: TemplateInvalid) -> Problem:
    where = _FIELD_OF.get(exc.message, "sessions" if "%(session)s" in exc.message or "Session" in exc.message else "")
    return Problem(exc.message, exc.values, where)


def _preview(conn, facts: templates_store.RoleFacts, args: dict[str, Any]) -> dict[str, Any]:
    """A week of the template's slots, from next Monday, for the form to show (the template is checked first)."""
    stored = templates_store.StoredTemplate(
        role_id=facts.role_id, practitioner_id=facts.practitioner_id, practitioner_name=facts.practitioner_name,
        service_id=facts.service_id, organization_id=facts.organization_id, weekdays=args["weekdays"],
        sessions=args["sessions"], slot_minutes=args["slot_minutes"], capacity=args["capacity"],
        visit_type=args["visit_type"], appointment_type="ROUTINE", fee=args["fee"], active=args["active"],
        updated_by="", updated_at="")
    template = templates_store.as_rules_template(conn, stored)
    today = templates_store.local_today()
    monday = today + timedelta(days=7 - today.weekday())
    zone = region_zone()
    days = [{"day": day, "sessions": [
        {"name": s.name, "count": sum(1 for t in times if t.session == s.name),
         "first": next((t.start.astimezone(zone) for t in times if t.session == s.name), None),
         "last": next((t.end.astimezone(zone) for t in reversed(times) if t.session == s.name), None)}
        for s in template.sessions]} for day, times in templates_store.week_preview(template, first_day=monday)
        if times]
    slots = sum(s["count"] for d in days for s in d["sessions"])
    return {"days": days, "slots": slots, "places": slots * template.capacity, "fee": _yuan(template.fee)}


def _editor(request: Request, role_id: str, fields: dict[str, str] | None, weekdays: list[str]) -> Response:
    """Show (fields None), preview or save one doctor's template."""
    problem: Problem | None = None
    preview = None
    saving = fields is not None and fields.get("action") == "save"
    try:
        with unit_of_work() as conn:
            v = guard.visitor(conn, request, SURFACE)
            if fields is not None:
                guard.check_csrf(request, v, fields.get("csrf_token"))
            try:
                facts = templates_store.role_facts(conn, role_id=role_id)
            except TemplateInvalid:
                return _page(request, "404.html", status_code=404, requested_path=request.url.path[:200])
            _reach(v, facts.organization_id)
            stored = templates_store.load_template(conn, role_id=role_id)
            form = _initial_form(facts, stored) if fields is None else _posted_form(fields, weekdays)
            department_fees = {code: templates_store.department_fee(conn, service_id=facts.service_id, visit_type=code)
                               for code in dc.VISIT_TYPES}
            args = _parse_template(form)
            preview = _preview(conn, facts, args)
            if saving:
                templates_store.save_template(conn, role_id=role_id, updated_by=v.user.username,
                                              appointment_type=stored.appointment_type if stored else "ROUTINE", **args)
                audit.record(conn, ctx=v.ctx, action="U", subtype="update", entities=[f"PractitionerRole/{role_id}"])
    except FormInvalid as exc:
        problem = exc.problem
    except TemplateInvalid as exc:
        problem = _problem_of(exc)
    if saving and problem is None:
        return RedirectResponse(f"/console/schedules?saved={role_id}", status_code=303, headers=guard.NO_STORE)
    return _page(request, "schedules/edit.html", status_code=400 if problem else 200, facts=facts, form=form,
                 problem=problem, preview=None if problem else preview, stored=stored, fees=department_fees,
                 visit_labels=dc.VISIT_TYPE_LABELS, session_rows=max(len(form["sessions"]) + 1, 3),
                 max_sessions=MAX_SESSIONS, horizon=templates_store.HorizonSettings().horizon_days)


@router.get("/console/schedules/doctors/{role_id}", response_class=HTMLResponse)
async def template_form(request: Request, role_id: str) -> Response:
    """One doctor's schedule template, with the slots a week of it gives."""
    return await run_in_threadpool(_editor, request, role_id[:64], None, [])


@router.post("/console/schedules/doctors/{role_id}", response_class=HTMLResponse)
async def save_template(request: Request, role_id: str) -> Response:
    """Preview (action=preview) or save (action=save) a doctor's template (CSRF-checked)."""
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    weekdays = [value for value in form.getlist("weekday") if isinstance(value, str)][:7]
    return await run_in_threadpool(_editor, request, role_id[:64], fields, weekdays)


def _make_slots(request: Request, role_id: str, token: str | None) -> Response:
    problem: Problem | None = None
    try:
        with unit_of_work() as conn:
            v = guard.visitor(conn, request, SURFACE)
            guard.check_csrf(request, v, token)
            stored = templates_store.load_template(conn, role_id=role_id)
            if stored is None:
                return _page(request, "404.html", status_code=404, requested_path=request.url.path[:200])
            _reach(v, stored.organization_id)
            made = templates_store.generate(conn, role_id=role_id)
    except TemplateInvalid as exc:
        problem = _problem_of(exc)
    if problem is None:
        return RedirectResponse(f"/console/schedules?saved={role_id}&made={made.created}", status_code=303,
                                headers=guard.NO_STORE)
    return _page(request, "schedules/failed.html", status_code=400, problem=problem, role_id=role_id)


@router.post("/console/schedules/doctors/{role_id}/slots", response_class=HTMLResponse)
async def generate_now(request: Request, role_id: str) -> Response:
    """Make the doctor's slots up to the horizon now, instead of waiting for the nightly run (CSRF-checked)."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_make_slots, request, role_id[:64], form.get("csrf_token"))


# --- leave and holidays -----------------------------------------------------------------------


def _leave_period(form: dict[str, str]) -> tuple[datetime, datetime]:
    """The [start, end) a leave form's first and last days (inclusive, local) give."""
    try:
        first = date.fromisoformat(form["first"])
    except ValueError:
        raise FormInvalid(Problem(_("Give the first day as a date"), field="first")) from None
    try:
        last = date.fromisoformat(form["last"])
    except ValueError:
        raise FormInvalid(Problem(_("Give the last day as a date"), field="last")) from None
    if last < first:
        raise FormInvalid(Problem(_("The last day is before the first day"), field="last"))
    if (last - first).days >= MAX_LEAVE_DAYS:
        raise FormInvalid(Problem(_("Block at most %(most)s days at a time"), {"most": MAX_LEAVE_DAYS}, "last"))
    zone = region_zone()
    return datetime.combine(first, time(0, 0), zone), datetime.combine(last + timedelta(days=1), time(0, 0), zone)


def _reason(form: dict[str, str]) -> str:
    if form["reason"] in leave.REASONS:
        return leave.REASONS[form["reason"]]
    if form["reason"] == "other" and form["reason_text"]:
        return form["reason_text"]
    raise FormInvalid(Problem(_("Choose a reason, or write one under Other"), field="reason"))


def _block(request: Request, fields: dict[str, str]) -> Response:
    form = {name: fields.get(name, "").strip()[:leave.MAX_REASON + 1] for name in
            ("first", "last", "who", "reason", "reason_text")}
    problem: Problem | None = None
    try:
        with unit_of_work() as conn:
            v = guard.visitor(conn, request, SURFACE)
            guard.check_csrf(request, v, fields.get("csrf_token"))
            own = _own(v)
            practitioner_id = None
            if form["who"]:
                try:
                    facts = templates_store.role_facts(conn, role_id=form["who"][:64])
                except TemplateInvalid:
                    raise FormInvalid(Problem(_("Choose a doctor from the list"), field="who")) from None
                _reach(v, facts.organization_id)
                practitioner_id = facts.practitioner_id
            start, end = _leave_period(form)
            try:
                done = leave.block(conn, organization_id=own, practitioner_id=practitioner_id, start=start, end=end,
                                   reason=_reason(form), created_by=v.user.username)
            except leave.BlockInvalid as exc:
                raise FormInvalid(Problem(exc.message, exc.values, "reason_text")) from None
            audit.record(conn, ctx=v.ctx, action="U", subtype="update", entities=[
                f"Practitioner/{practitioner_id}" if practitioner_id else f"Organization/{own}"])
    except FormInvalid as exc:
        problem = exc.problem
    if problem is None:
        return RedirectResponse(f"/console/schedules?blocked={done.id}", status_code=303, headers=guard.NO_STORE)
    return _console(request, form=form, problem=problem, status_code=400)


@router.post("/console/schedules/leave", response_class=HTMLResponse)
async def block_period(request: Request) -> Response:
    """Block a doctor's leave or a hospital holiday, cancelling the bookings in it (CSRF-checked)."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_block, request, fields)
