"""The doctor's consultation pages in the workstation: the inbox, the chat with quick replies and templates,
requesting information, closing with a summary and advice, an online prescription for a follow-up (through
prescriptions.py: the internet-hospital rules, then the workstation's audit and the pharmacist's review), and
booking a follow-up visit in person in the doctor's own clinic sessions.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.consultation import attachments, flows, prescriptions, questions, replies, service
from smartcare.hospital.consultation.page_parts import chat_words, clean_id, names, not_found, page, refusal
from smartcare.hospital.directory import places
from smartcare.hospital.pharmacy import signing
from smartcare.hospital.scheduling import errors as booking_errors
from smartcare.hospital.scheduling import service as scheduling
from smartcare.hospital.workstation import prescribing
from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import guard

router = APIRouter(include_in_schema=False)
FOLLOW_UP_DAYS = 14
FORM_LINES = 5


def _doctor(request: Request) -> guard.Visitor:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    if "doctor" not in v.ctx.roles:
        raise guard.SurfaceForbidden("Online consultations are answered by doctors", ctx=v.ctx,
                                     surface="consultations")
    return v


def _me(v: guard.Visitor) -> str:
    return (v.ctx.fhir_user or "").removeprefix("Practitioner/")


def _inbox(request: Request, *, status_code: int = 200, error: dict | None = None) -> HTMLResponse:
    v = _doctor(request)
    with unit_of_work() as conn:
        try:
            rows = service.inbox(conn, v.ctx)
            closed = service.recently_closed(conn, v.ctx)
        except service.ConsultationError as exc:
            return page(request, "consultation/inbox.html", status_code=exc.status, rows=[], closed=[],
                        error=refusal(request, exc))
        shown = names(conn, {f"Patient/{r['patient']}" for r in rows + closed} |
                      {f"Organization/{r['department']}" for r in rows if r["department"]})
    me = _me(v)
    for r in closed:
        r["patient_name"] = shown.get(f"Patient/{r['patient']}", "")
    for r in rows:
        r["patient_name"] = shown.get(f"Patient/{r['patient']}", "")
        r["pool_name"] = shown.get(f"Organization/{r['department']}", "") if r["department"] else ""
        r["queue"] = "mine" if r["practitioner"] == me else ("offered" if r["offered_to"] == me else "pool")
    return page(request, "consultation/inbox.html", status_code=status_code, rows=rows, closed=closed, error=error)


@router.get("/workstation/consultations", response_class=HTMLResponse)
async def inbox(request: Request) -> HTMLResponse:
    """The doctor's inbox: waiting time and priority, their own, offered to them and their departments' pool; then
    their recently closed consultations with the patients' ratings."""
    return await run_in_threadpool(_inbox, request)


def _chat(request: Request, consultation_id: str, *, status_code: int = 200, error: dict | None = None,
          notice: str = "") -> Response:
    v = _doctor(request)
    try:
        with unit_of_work() as conn:
            c = service.consultation_view(conn, v.ctx, consultation_id=consultation_id)
            history = service.messages_since(conn, v.ctx, consultation_id=consultation_id)
            refs = {f"Patient/{c['patient']}"} | ({f"Organization/{c['department']}"} if c["department"] else set())
            shown = names(conn, refs)
            zh = i18n.current_locale(request) == "zh-Hans"
            answers = questions.answers_of(conn, v.ctx, consultation_id=consultation_id, zh=zh)
            shared = attachments.shared_reports(conn, v.ctx, history=history)
            video = flows.open_video_visit(conn, v.ctx, consultation_id=consultation_id) \
                if c["status"] == "in_progress" else None
    except service.ConsultationError:
        return not_found(request)
    quick, templates = replies.load()
    return page(request, "consultation/desk_chat.html", status_code=status_code, error=error, notice=notice, c=c,
                history=history, side="doctor", who=shown[f"Patient/{c['patient']}"], chat=chat_words(request),
                pool_name=shown.get(f"Organization/{c['department']}", ""),
                answers=answers, shared=shared, video=video,
                quick=[{"title": r.title(zh), "text": r.text(zh)} for r in quick],
                templates=[{"title": r.title(zh), "text": r.text(zh)} for r in templates])


@router.get("/workstation/consultations/{consultation_id}", response_class=HTMLResponse)
async def chat(request: Request, consultation_id: str) -> Response:
    """One consultation for its doctor: the chat, quick replies, templates, requesting information and closing."""
    return await run_in_threadpool(_chat, request, clean_id(consultation_id))


def _acted(request: Request, consultation_id: str, form: dict[str, str],
           work: Callable[[Connection, AccessContext], Any], done: str) -> Response:
    v = _doctor(request)
    guard.check_csrf(request, v, form.get("csrf_token"))
    try:
        with unit_of_work() as conn:
            work(conn, v.ctx)
    except service.ConsultationError as exc:
        if exc.status == 404:
            return not_found(request)
        if done.endswith("/consultations"):
            return _inbox(request, status_code=exc.status, error=refusal(request, exc))
        return _chat(request, consultation_id, status_code=exc.status, error=refusal(request, exc))
    return guard.see_other(done)


@router.post("/workstation/consultations/{consultation_id}/pick-up")
async def pick_up(request: Request, consultation_id: str) -> Response:
    """Take a waiting consultation (CSRF-checked) and open its chat."""
    form = await guard.form_fields(request)
    cid = clean_id(consultation_id)
    return await run_in_threadpool(_acted, request, cid, form,
                                   lambda conn, ctx: service.pick_up(conn, ctx, consultation_id=cid),
                                   f"/workstation/consultations/{cid}")


@router.post("/workstation/consultations/{consultation_id}/request-info")
async def request_information(request: Request, consultation_id: str) -> Response:
    """Ask the patient for more information (CSRF-checked; the form's key makes a double submit count once)."""
    form = await guard.form_fields(request)
    cid = clean_id(consultation_id)
    return await run_in_threadpool(_acted, request, cid, form, lambda conn, ctx: service.request_information(
        conn, ctx, consultation_id=cid, client_id=form.get("client_id", "")[:64], text=form.get("text", "")[:4001]),
        f"/workstation/consultations/{cid}")


@router.post("/workstation/consultations/{consultation_id}/close")
async def close(request: Request, consultation_id: str) -> Response:
    """Close with a summary and advice (and, in a follow-up, an ICD-10 diagnosis); CSRF-checked."""
    form = await guard.form_fields(request)
    cid = clean_id(consultation_id)
    return await run_in_threadpool(_acted, request, cid, form, lambda conn, ctx: service.close(
        conn, ctx, consultation_id=cid, summary=form.get("summary", "")[:4001], advice=form.get("advice", "")[:4001],
        diagnosis=form.get("diagnosis", "").strip()[:16] or None), f"/workstation/consultations/{cid}")


def _start_video(request: Request, consultation_id: str, form: dict[str, str]) -> Response:
    v = _doctor(request)
    guard.check_csrf(request, v, form.get("csrf_token"))
    try:
        with unit_of_work() as conn:
            visit_id = flows.start_video_visit(conn, v.ctx, consultation_id=consultation_id)
    except service.ConsultationError as exc:
        if exc.status == 404:
            return not_found(request)
        return _chat(request, consultation_id, status_code=exc.status, error=refusal(request, exc))
    return guard.see_other(f"/workstation/video/{visit_id}")


@router.post("/workstation/consultations/{consultation_id}/video")
async def start_video(request: Request, consultation_id: str) -> Response:
    """Escalate the chat to a video visit now (CSRF-checked): the patient is told in the chat, the doctor goes to
    the visit's page."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_start_video, request, clean_id(consultation_id), form)


# --- online prescription (follow-ups) -------------------------------------------------------------


def _prescribe_page(request: Request, v: guard.Visitor, consultation_id: str, *, status_code: int = 200,
                    error: dict | None = None, signed: signing.Signed | None = None,
                    fields: dict[str, str] | None = None) -> Response:
    try:
        with unit_of_work() as conn:
            c = service.consultation_view(conn, v.ctx, consultation_id=consultation_id)
            who = names(conn, {f"Patient/{c['patient']}"})[f"Patient/{c['patient']}"]
    except service.ConsultationError:
        return not_found(request)
    return page(request, "consultation/prescribe.html", status_code=status_code, error=error, c=c, who=who,
                signed=signed, fields=fields or {}, lines=range(1, FORM_LINES + 1),
                units=prescribing.UNITS, frequencies=prescribing.FREQUENCIES, routes=prescribing.ROUTES)


@router.get("/workstation/consultations/{consultation_id}/prescribe", response_class=HTMLResponse)
async def prescribe_page(request: Request, consultation_id: str) -> Response:
    """The online prescription form of a follow-up consultation."""
    return await run_in_threadpool(lambda: _prescribe_page(request, _doctor(request), clean_id(consultation_id)))


def _prescribe(request: Request, consultation_id: str, fields: dict[str, str]) -> Response:
    v = _doctor(request)
    guard.check_csrf(request, v, fields.get("csrf_token"))
    try:
        lines = prescribing.lines_from_fields({k: v for k, v in fields.items() if k.startswith("line-")})
    except prescribing.LineProblem as exc:
        return _prescribe_page(request, v, consultation_id, status_code=400, fields=fields,
                               error={"code": "bad-line", "message": f"{exc.line}: {exc}"})
    if not lines:
        return _prescribe_page(request, v, consultation_id, status_code=400, fields=fields,
                               error={"code": "bad-line", "message": "—"})
    try:
        signed = prescriptions.prescribe(ctx=v.ctx, consultation_id=consultation_id, lines=lines)
    except service.ConsultationError as exc:
        if exc.status == 404:
            return not_found(request)
        error = refusal(request, exc)
        if exc.code in ("controlled-drug", "unknown-medicine", "audit-refused"):
            error["detail"] = str(exc)
        return _prescribe_page(request, v, consultation_id, status_code=exc.status, error=error, fields=fields)
    return _prescribe_page(request, v, consultation_id, status_code=201, signed=signed)


@router.post("/workstation/consultations/{consultation_id}/prescribe", response_class=HTMLResponse)
async def prescribe(request: Request, consultation_id: str) -> Response:
    """Sign the online prescription (CSRF-checked): rules, audit and signing, then the pharmacist's review."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_prescribe, request, clean_id(consultation_id), fields)


# --- follow-up visit in person --------------------------------------------------------------------


def _slots(practitioner_id: str) -> list[dict[str, Any]]:
    today = places.today()
    found = []
    with unit_of_work() as conn:
        for n in range(FOLLOW_UP_DAYS):
            for s in scheduling.list_slots(conn, day=(today + timedelta(days=n)).isoformat(),
                                           practitioner_id=practitioner_id):
                if s["bookable"]:
                    found.append({**s, "id": s["slot"].removeprefix("Slot/"),
                                  "when": places.local_time(s["start"]).strftime("%Y-%m-%d %H:%M")})
    return found[:60]


def _follow_up_page(request: Request, consultation_id: str, *, status_code: int = 200, error: dict | None = None,
                    booked: str = "") -> Response:
    v = _doctor(request)
    try:
        with unit_of_work() as conn:
            c = service.consultation_view(conn, v.ctx, consultation_id=consultation_id)
            who = names(conn, {f"Patient/{c['patient']}"})[f"Patient/{c['patient']}"]
    except service.ConsultationError:
        return not_found(request)
    return page(request, "consultation/follow_up.html", status_code=status_code, error=error, c=c, who=who,
                slots=_slots(_me(v)), booked=booked)


@router.get("/workstation/consultations/{consultation_id}/follow-up", response_class=HTMLResponse)
async def follow_up_page(request: Request, consultation_id: str) -> Response:
    """The doctor's free places in the next two weeks, to book the patient a follow-up visit in person."""
    return await run_in_threadpool(_follow_up_page, request, clean_id(consultation_id))


def _book(request: Request, consultation_id: str, form: dict[str, str]) -> Response:
    v = _doctor(request)
    guard.check_csrf(request, v, form.get("csrf_token"))
    try:
        with unit_of_work() as conn:
            c = service.consultation_view(conn, v.ctx, consultation_id=consultation_id)
            booked = scheduling.book(conn, ctx=v.ctx, slot_id=scheduling.plain_id(clean_id(form.get("slot")), "Slot"),
                                     patient_id=c["patient"], channel="consultation",
                                     comment=f"Follow-up of online consultation Encounter/{consultation_id}")
            _tell_follow_up(conn, v.ctx, consultation_id, booked)
    except service.ConsultationError:
        return not_found(request)
    except booking_errors.BookingRefused as exc:
        return _follow_up_page(request, consultation_id, status_code=exc.status,
                               error=booking_errors.described(request, exc))
    return _follow_up_page(request, consultation_id, status_code=201, booked=booked.start)


def _tell_follow_up(conn: Connection, ctx: AccessContext, consultation_id: str, booked: scheduling.BookingView) -> None:
    """Tell the patient in the chat (even once it is closed) when and with whom the follow-up visit is."""
    where = (service._content(conn, "HealthcareService", booked.service) or {}).get("name", "") \
        if booked.service else ""
    text = " · ".join(p for p in (places.local_time(booked.start).strftime("%Y-%m-%d %H:%M"),
                                  booked.practitioner_name, where) if p)
    service.store_message(conn, ctx, thread=service._thread(conn, consultation_id), side="doctor",
                          client_id=f"follow-up-{booked.id}"[:64], text=text, category="follow-up",
                          references=[f"Appointment/{booked.id}"])


@router.post("/workstation/consultations/{consultation_id}/follow-up", response_class=HTMLResponse)
async def book_follow_up(request: Request, consultation_id: str) -> Response:
    """Book the chosen place for the consultation's patient (CSRF-checked)."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_book, request, clean_id(consultation_id), form)
