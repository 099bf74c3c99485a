"""The remote consultation pages of the clinician workstation: incoming and outgoing lists with time left, a new
request, and one consultation with the shared records (images open in the viewer), assign, convene, the opinion."""

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.teleconsult import directory, service, states
from smartcare.platform.db import unit_of_work
from smartcare.platform.settings import get_settings
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)
BASE = "/workstation/teleconsults"
_MAX_FIELD = 4100


def _private(response: HTMLResponse) -> HTMLResponse:
    response.headers.update(guard.NO_STORE)
    return response


def _dashboard(request: Request) -> HTMLResponse:
    box = request.query_params.get("box", "incoming")
    box = box if box in ("incoming", "outgoing") else "incoming"
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
        found = service.listing(conn, ctx=v.ctx, box=box)
    return _private(render(request, "teleconsult/dashboard.html", user=v.user, box=box, teleconsults=found))


@router.get(BASE, response_class=HTMLResponse)
async def dashboard(request: Request) -> HTMLResponse:
    """Incoming and outgoing consultations with urgency, state and time left (overdue flagged)."""
    return await run_in_threadpool(_dashboard, request)


def _new(request: Request, *, error: str = "", status_code: int = 200, given: dict | None = None) -> HTMLResponse:
    patient = (given or {}).get("patient") or request.query_params.get("patient", "")
    patient = patient[:80]
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
        records: list[dict[str, str]] = []
        if patient:
            try:
                records = service.shareable_records(conn, ctx=v.ctx, patient_id=patient)
            except service.TeleconsultError as exc:
                error, status_code = exc.message, exc.status
        departments = directory.departments(conn)
    return _private(render(request, "teleconsult/new.html", user=v.user, patient=patient, records=records,
                           departments=departments, urgencies=list(service.urgencies()), error=error,
                           given=given or {}, status_code=status_code))


@router.get(f"{BASE}/new", response_class=HTMLResponse)
async def new(request: Request) -> HTMLResponse:
    """The request form: department, urgency, question, and the patient's records to share."""
    return await run_in_threadpool(_new, request)


def _create(request: Request, fields: dict[str, str], records: list[str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    guard.check_csrf(request, v, fields.get("csrf_token"))
    draft = service.Draft(patient_id=fields.get("patient", "")[:80], department=fields.get("department", "")[:90],
                          question=fields.get("question", "")[:_MAX_FIELD], urgency=fields.get("urgency", "")[:12],
                          records=tuple(r[:90] for r in records[:service.MAX_RECORDS + 1]))
    try:
        with unit_of_work() as conn:
            made = service.create(conn, ctx=v.ctx, draft=draft)
    except service.TeleconsultError as exc:
        return _new(request, error=exc.message, status_code=exc.status, given=fields)
    return guard.see_other(f"{BASE}/{made.id}")


@router.post(BASE, response_class=HTMLResponse)
async def create(request: Request) -> Response:
    """Send the request; CSRF-checked."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    records = [r for r in form.getlist("records") if isinstance(r, str)]
    return await run_in_threadpool(_create, request, fields, records)


def _detail(request: Request, teleconsult_id: str, *, error: str = "", status_code: int = 200) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
        try:
            tc = service.read(conn, ctx=v.ctx, task_id=teleconsult_id[:64])
        except service.TeleconsultError:
            return render(request, "404.html", status_code=404, requested_path=request.url.path[:200])
        shared = service.shared_records(conn, ctx=v.ctx, teleconsult=tc)
        sections = service.opinion_sections(conn, ctx=v.ctx, teleconsult=tc)
        assignable, conveneable = service.candidates(conn, tc) if states.RECEIVER in tc.sides else ([], [])
        names = directory.practitioner_names(conn, [tc.requester, *tc.specialists, *conveneable])
    return _private(render(request, "teleconsult/detail.html", user=v.user, tc=tc, shared=shared, sections=sections,
                           assignable=assignable, conveneable=conveneable, names=names, error=error,
                           record_text=service.record_text, status_code=status_code))


@router.get(BASE + "/{teleconsult_id}", response_class=HTMLResponse)
async def detail(request: Request, teleconsult_id: str) -> HTMLResponse:
    """One consultation: question, time left, shared records, the multi-disciplinary session, the opinion."""
    return await run_in_threadpool(_detail, request, teleconsult_id)


def _session_start(value: str) -> datetime:
    """A datetime-local field, read as the region's wall-clock time."""
    try:
        moment = datetime.fromisoformat(value[:16])
    except ValueError:
        raise service.InvalidTeleconsult("give the session's date and time") from None
    return moment.replace(tzinfo=ZoneInfo(get_settings().region_timezone))


def _step(conn, v: guard.Visitor, teleconsult_id: str, action: str, fields: dict[str, str],
          team: list[str]) -> None:
    version = fields.get("version", "")
    args = {"ctx": v.ctx, "task_id": teleconsult_id[:64], "version": int(version) if version.isdigit() else None}
    if action == "assign":
        service.assign(conn, specialist=fields.get("specialist", "")[:90], **args)
    elif action == "convene":
        service.convene(conn, specialists=[t[:90] for t in team[:service.MAX_TEAM + 1]],
                        start=_session_start(fields.get("start", "")), **args)
    elif action == "answer":
        service.answer(conn, sections={k: fields.get(k, "")[:_MAX_FIELD] for k in service.SECTIONS}, **args)
    elif action == "cancel":
        service.cancel(conn, reason=fields.get("reason", "")[:600], **args)
    else:
        raise service.InvalidTeleconsult(f"action is one of {', '.join(states.ACTIONS)}")


def _act(request: Request, teleconsult_id: str, fields: dict[str, str], team: list[str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    guard.check_csrf(request, v, fields.get("csrf_token"))
    try:
        with unit_of_work() as conn:
            _step(conn, v, teleconsult_id, fields.get("action", "")[:20], fields, team)
    except service.TeleconsultError as exc:
        return _detail(request, teleconsult_id, error=exc.message, status_code=exc.status)
    return guard.see_other(f"{BASE}/{teleconsult_id[:64]}")


@router.post(BASE + "/{teleconsult_id}", response_class=HTMLResponse)
async def act(request: Request, teleconsult_id: str) -> Response:
    """Take a step (assign, convene, answer, cancel); CSRF-checked."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    team = [t for t in form.getlist("specialists") if isinstance(t, str)]
    return await run_in_threadpool(_act, request, teleconsult_id, fields, team)
