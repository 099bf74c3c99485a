"""The workstation's new-referral page: find a patient in one's care, then refer them up to a hospital department
or down to a community clinic with the care plan and follow-up tasks; CSRF-checked, errors shown by their fields."""

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.referral import choices, compose, service, states
from smartcare.hospital.scheduling.schedules import region_zone
from smartcare.platform import clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)
PATH = "/workstation/referrals/new"
_LISTS = ("attachment", "care_plan", "follow_up", "follow_up_due")
_MAX_FIELDS = 200  # the most rows a referral takes, twice over, and the single fields


def _translated(request: Request, found: dict[str, compose.Problem]) -> dict[str, str]:
    t = i18n.translations(i18n.current_locale(request))
    return {name: t.gettext(message) % values for name, (message, values) in found.items()}


def _page(request: Request, form: compose.ReferralForm, *, query: str = "", problems: dict[str, str] | None = None,
          error: str = "", status_code: int = 200) -> HTMLResponse:
    """The form as the signed-in clinician may fill it: the patients they searched for, or the chosen patient with
    the records that may go along, and the departments of other institutions."""
    zh = i18n.current_locale(request) == "zh-Hans"
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
        chosen = choices.patient(conn, v.ctx, form.patient) if form.patient else None
        found = choices.find_patients(conn, v.ctx, query) if chosen is None else []
        records = choices.attachable(conn, v.ctx, chosen["id"]) if chosen else []
        departments = choices.departments(conn, v.ctx, zh=zh)
    problems = dict(problems or {})
    if form.patient and chosen is None and "patient" not in problems:
        problems["patient"] = _translated(request, {"patient": (compose.CHOOSE_PATIENT, {})})["patient"]
    response = render(request, "referral/new.html", status_code=status_code, user=v.user, form=form, query=query,
                      patient=chosen, patients=found, records=records, departments=departments,
                      problems=problems, error=error, urgencies=service.PRIORITIES, directions=states.DIRECTIONS,
                      today=clock.now().astimezone(region_zone()).date().isoformat())
    response.headers.update(guard.NO_STORE)
    return response


def _start(request: Request) -> HTMLResponse:
    params = request.query_params
    form = compose.ReferralForm(direction=compose.direction_of(params.get("direction", "")),
                                patient=params.get("patient", "")[:80].strip())
    return _page(request, form, query=params.get("q", "").strip()[:choices.MAX_QUERY])


@router.get(PATH, response_class=HTMLResponse)
async def new_referral(request: Request) -> HTMLResponse:
    """The new-referral form: search the patients in your care, choose one, then the department and the details."""
    return await run_in_threadpool(_start, request)


def _submit(request: Request, fields: dict[str, str], lists: dict[str, list[str]]) -> Response:
    form = compose.read_form(fields, lists)
    if "more_rows" in fields:
        with unit_of_work() as conn:
            guard.check_csrf(request, guard.visitor(conn, request, "workstation"), fields.get("csrf_token"))
        return _page(request, form.with_more_rows())
    try:
        with unit_of_work() as conn:
            v = guard.visitor(conn, request, "workstation")
            guard.check_csrf(request, v, fields.get("csrf_token"))
            chosen = choices.patient(conn, v.ctx, form.patient) if form.patient else None
            records = {r["reference"] for r in choices.attachable(conn, v.ctx, chosen["id"])} if chosen else set()
            offered = {d.reference for d in choices.departments(conn, v.ctx, zh=False)}
            today = clock.now().astimezone(region_zone()).date()
            found = compose.problems(form, patient_known=chosen is not None, departments=offered,
                                     attachable=records, today=today)
            made = None if found else service.create(conn, ctx=v.ctx,
                                                     draft=compose.draft(replace(form, patient=chosen["id"])))
    except service.ReferralError as exc:
        # The service's own checks (or a change in between): nothing was written, the transaction rolled back.
        message = i18n.translations(i18n.current_locale(request)).gettext(compose.REFUSED) % {"reason": exc.message}
        return _page(request, form, error=message, status_code=exc.status)
    if made is None:
        return _page(request, form, problems=_translated(request, found), status_code=422)
    return guard.see_other(f"/workstation/referrals/{made.id}")


@router.post(PATH, response_class=HTMLResponse)
async def make_referral(request: Request) -> Response:
    """Make the referral the form describes and go to it; or show the form again with what to correct."""
    posted = await request.form(max_fields=_MAX_FIELDS)
    fields: dict[str, Any] = {k: v for k, v in posted.items() if isinstance(v, str) and k not in _LISTS}
    lists = {name: [v for v in posted.getlist(name) if isinstance(v, str)] for name in _LISTS}
    return await run_in_threadpool(_submit, request, fields, lists)
