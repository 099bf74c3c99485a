"""The patient's triage interview: complaint (text or body map), a few questions per screen, then the advice.

The pages work as plain forms (no script needed) and for signed-out visitors too; what has been said so far
travels in the form, not on the server. Only a signed-in patient's completed session is stored (as a FHIR
QuestionnaireResponse with their own access context). Red flags come first: an emergency result shows 120, the
first-aid guides and the nearest emergency department, never a booking.
"""

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from smartcare.hospital.directory import places
from smartcare.knowledge import first_aid, triage
from smartcare.patient.navigation import geo
from smartcare.patient.navigation import service as navigation
from smartcare.patient.triage import service
from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

SURFACE = "app"
PER_SCREEN = 3
# Enough screens for the questions the findings call for, the six of the safety screen and a context screen (a young
# child, a pregnancy) after them.
MAX_SCREENS = 10
MAX_FIELD = 40
# An interview's session token (secrets.token_hex(16)); anything else posted is replaced by a new one.
SESSION_TOKEN = re.compile(r"[0-9a-f]{32}")
# Body-map regions: the words each adds to the complaint, in the words the triage reader knows.
REGIONS: dict[str, tuple[str, str, str]] = {
    # key: (label msgid, English words, Chinese words)
    "head": (i18n._("Head"), "headache", "头痛"),
    "eyes": (i18n._("Eyes"), "eye pain", "眼睛痛"),
    "ears": (i18n._("Ears"), "earache", "耳朵痛"),
    "mouth": (i18n._("Mouth and teeth"), "toothache", "牙痛"),
    "throat": (i18n._("Throat"), "sore throat", "喉咙痛"),
    "chest": (i18n._("Chest"), "chest pain", "胸痛"),
    "belly": (i18n._("Belly"), "abdominal pain", "肚子痛"),
    "back": (i18n._("Back"), "back pain", "腰痛"),
    "arms": (i18n._("Arms and hands"), "joint pain", "关节痛"),
    "legs": (i18n._("Legs and feet"), "joint pain", "关节痛"),
    "skin": (i18n._("Skin"), "rash", "皮疹"),
}
SEXES = ("female", "male", "other")


class FormProblem(ValueError):
    """A form value that cannot be used; the message is a msgid shown in the reader's language."""


@dataclass
class Interview:
    """What the interview knows so far, as posted by the form."""

    text: str = ""
    regions: list[str] = field(default_factory=list)
    age: str = ""
    age_unit: str = "years"
    sex: str = ""
    pregnant: str = ""
    answers: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    screen: int = 0
    lat: str = ""
    lon: str = ""
    # Names this interview, so that posting its last screen again (a reload) stores no second session.
    session: str = field(default_factory=lambda: secrets.token_hex(16))


@dataclass(frozen=True)
class Caller:
    """Who is on the page: a signed-in patient (whose session is stored), someone else signed in, or nobody."""

    visitor: guard.Visitor | None
    patient_ref: str | None


def _caller(request: Request) -> Caller:
    with unit_of_work() as conn:
        if guard.signed_in(conn, request) is None:
            return Caller(None, None)
        try:
            v = guard.visitor(conn, request, SURFACE)
        except guard.SurfaceForbidden:
            return Caller(None, None)
    ref = v.ctx.patient if (v.ctx.patient or "").startswith("Patient/") else None
    return Caller(v, ref)


def _zh(request: Request) -> bool:
    return i18n.current_locale(request) == "zh-Hans"


def _page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    response = render(request, template, status_code=status_code, zh=_zh(request), **values)
    response.headers.update(guard.NO_STORE)
    return response


def _short(form: FormData, name: str, limit: int = MAX_FIELD) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _read_form(form: FormData) -> Interview:
    """The posted interview; FormProblem for text that is too long or a field that is out of place."""
    text = form.get("text")
    text = text.strip() if isinstance(text, str) else ""
    if len(text) > triage.MAX_TEXT:
        raise FormProblem(i18n._("The description is too long. Please keep it under 2000 characters."))
    by_id = {q.id for q in triage.questions()}
    answers = {}
    for key, value in form.multi_items():
        if key.startswith("a_") and isinstance(value, str) and value.strip():
            if key[2:] not in by_id:
                raise FormProblem(i18n._("One of the answers does not fit its question. Please answer again."))
            answers[key[2:]] = value.strip()[:MAX_FIELD]
    if len(answers) > triage.MAX_ANSWERS:
        raise FormProblem(i18n._("One of the answers does not fit its question. Please answer again."))
    skipped = [s for s in _short(form, "skipped", 1000).split(",") if s in by_id]
    screen = _short(form, "screen", 3)
    return Interview(
        text=text, regions=[r for r in form.getlist("region") if isinstance(r, str) and r in REGIONS][:len(REGIONS)],
        age=_short(form, "age", 8), age_unit="months" if _short(form, "age_unit") == "months" else "years",
        sex=s if (s := _short(form, "sex")) in SEXES else "", pregnant=p if (p := _short(form, "pregnant")) in (
            "yes", "no") else "", answers=answers, skipped=skipped, screen=int(screen) if screen.isdigit() else 0,
        lat=_short(form, "lat", 32), lon=_short(form, "lon", 32),
        **({"session": token} if SESSION_TOKEN.fullmatch(token := _short(form, "session", 32)) else {}))


def _complaint(iv: Interview, zh: bool) -> str:
    """The complaint text with the words of the chosen body regions that it does not already say."""
    text = iv.text
    for key in iv.regions:
        words = REGIONS[key][2 if zh else 1]
        if words not in text:
            text = f"{text}{'，' if zh else ', '}{words}" if text else words
    return text[:triage.MAX_TEXT]


def _presentation(iv: Interview, zh: bool) -> triage.Presentation:
    """The engine's presentation of the interview; FormProblem for an age or answer that does not fit."""
    text = _complaint(iv, zh)
    if not text:
        raise FormProblem(i18n._("Please describe the problem in a few words, or choose where it is on the body."))
    age_years = age_months = None
    if iv.age:
        try:
            number = float(iv.age)
        except ValueError:
            number = -1.0
        limit = 1500 if iv.age_unit == "months" else 120
        if not 0 <= number <= limit:
            raise FormProblem(i18n._("Please give the age as a number: years from 0 to 120, or months for a baby."))
        age_years, age_months = (None, number) if iv.age_unit == "months" else (number, None)
    try:
        answers = triage.check_answers(iv.answers)
    except triage.AnswerError:
        raise FormProblem(i18n._("One of the answers does not fit its question. Please answer again.")) from None
    return triage.Presentation(text=text, age_years=age_years, age_months=age_months, sex=iv.sex or None,
                               pregnant={"yes": True, "no": False}.get(iv.pregnant), answers=answers)


def _prefill(caller: Caller) -> Interview:
    """Age and sex from the signed-in patient's own record."""
    if caller.visitor is None or caller.patient_ref is None:
        return Interview()
    patient = service.read_patient(caller.visitor.ctx, caller.patient_ref)
    age = service.age_of(patient, places.today())
    gender = patient.get("gender", "")
    return Interview(age=str(age) if age is not None else "", sex=gender if gender in SEXES else "")


def _regions(zh: bool) -> list[dict[str, str]]:
    return [{"key": k, "label": label, "words": zh_words if zh else en} for k, (label, en, zh_words) in REGIONS.items()]


def _start_page(request: Request, iv: Interview | None = None, *, error: str | None = None,
                status_code: int = 200) -> HTMLResponse:
    caller = _caller(request)
    return _page(request, "triage/start.html", status_code=status_code, iv=iv or _prefill(caller), error=error,
                 regions=_regions(_zh(request)), signed_in=caller.patient_ref is not None)


@router.get("/app/triage", response_class=HTMLResponse)
async def start_page(request: Request) -> HTMLResponse:
    """Step 1: the complaint in the patient's own words or on the body map, with age, sex and pregnancy."""
    return await run_in_threadpool(_start_page, request)


def _first_aid_links(assessment: triage.Assessment, locale: str) -> list[dict[str, str]]:
    keys = dict.fromkeys(k for f in assessment.red_flags for k in f.first_aid)
    return [{"key": k, "title": p.title(locale)} for k in keys if (p := first_aid.protocol(k)) is not None]


def _nearest_emergency(lat: str, lon: str) -> navigation.Hospital | None:
    """The nearest hospital with an emergency department to a position the browser gave, or None."""
    try:
        here = geo.parse_position(lat, lon)
    except geo.BadPosition:
        return None
    if here is None:
        return None
    ranked = [h for h, _d in navigation.by_distance(navigation.hospitals(), here) if h.emergency_service]
    return ranked[0] if ranked else None


def _choice_texts() -> dict[tuple[str, str], tuple[str, str]]:
    """What each choice answer says in words, by (the fact it answers, its value): (English, Chinese)."""
    return {(q.fact or q.id, str(o["value"])): (o["text_en"], o["text_zh"])
            for q in triage.questions() if q.kind == "choice" for o in q.options}


def _result(request: Request, caller: Caller, iv: Interview, presentation: triage.Presentation,
            assessment: triage.Assessment) -> HTMLResponse:
    locale = i18n.current_locale(request)
    stored, store_failed = None, False
    if caller.visitor is not None and caller.patient_ref is not None:
        try:
            stored = service.store_session(ctx=caller.visitor.ctx, patient_id=caller.patient_ref.split("/", 1)[1],
                                           presentation=presentation, assessment=assessment, session=iv.session)
        except service.SessionNotStored:
            store_failed = True
    emergency = assessment.call_emergency
    by_id = {q.id: q for q in triage.questions()}
    return _page(
        request, "triage/result.html", a=assessment, complaint=presentation.text, level_names=triage.LEVEL_NAMES,
        choice_text=_choice_texts(),
        first_aid_links=_first_aid_links(assessment, locale),
        nearest=_nearest_emergency(iv.lat, iv.lon) if emergency else None,
        offers=[] if emergency else service.doctors_for([d.key for d in assessment.departments], locale),
        answered=[(by_id[k], v) for k, v in presentation.answers.items()], stored=stored, store_failed=store_failed)


def _questions_page(request: Request, iv: Interview, remaining: list[triage.Question], *, error: str | None = None,
                    status_code: int = 200) -> HTMLResponse:
    return _page(request, "triage/questions.html", status_code=status_code, iv=iv, shown=remaining[:PER_SCREEN],
                 error=error, complaint=_complaint(iv, _zh(request)))


def _step(request: Request, form: FormData) -> HTMLResponse:
    caller = _caller(request)
    if caller.visitor is not None:
        guard.check_csrf(request, caller.visitor, form.get("csrf_token") if isinstance(form.get("csrf_token"), str)
                         else None)
    try:
        iv = _read_form(form)
    except FormProblem as exc:
        return _start_page(request, Interview(), error=str(exc), status_code=400)
    shown = [s for s in _short(form, "shown", 1000).split(",") if s]
    iv.skipped = list(dict.fromkeys([*iv.skipped, *(s for s in shown if s not in iv.answers)]))
    try:
        presentation = _presentation(iv, _zh(request))
        assessment = triage.assess(presentation)
    except FormProblem as exc:
        if iv.screen == 0:
            return _start_page(request, iv, error=str(exc), status_code=400)
        iv.answers = {k: v for k, v in iv.answers.items() if k not in shown}
        return _questions_page(request, iv, [q for q in triage.questions() if q.id in shown], error=str(exc),
                               status_code=400)
    remaining = [q for q in assessment.follow_up if q.id not in iv.skipped]
    if assessment.call_emergency or not remaining or iv.screen >= MAX_SCREENS:
        return _result(request, caller, iv, presentation, assessment)
    iv.screen += 1
    return _questions_page(request, iv, remaining)


@router.post("/app/triage", response_class=HTMLResponse)
async def step(request: Request) -> HTMLResponse:
    """The next screen: questions while the engine has some (re-assessing after each screen), then the advice."""
    form = await request.form(max_files=0, max_fields=200)
    return await run_in_threadpool(_step, request, form)


def _history_page(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
    ref = v.ctx.patient if (v.ctx.patient or "").startswith("Patient/") else None
    found = service.sessions_of(ctx=v.ctx, patient_id=ref.split("/", 1)[1]) if ref else []
    return _page(request, "triage/history.html", sessions=found, level_names=triage.LEVEL_NAMES,
                 department_names=triage.departments(), linked=ref is not None)


@router.get("/app/triage/history", response_class=HTMLResponse)
async def history_page(request: Request) -> HTMLResponse:
    """The signed-in patient's past triage sessions, newest first."""
    return await run_in_threadpool(_history_page, request)


def _nearest_fragment(request: Request) -> HTMLResponse:
    found = _nearest_emergency(_short(request.query_params, "lat", 32), _short(request.query_params, "lon", 32))
    return _page(request, "triage/_nearest.html", nearest=found)


@router.get("/app/triage/nearest-emergency", response_class=HTMLResponse)
async def nearest_fragment(request: Request) -> HTMLResponse:
    """The nearest emergency department to the browser's position, by name (a fragment for the result page)."""
    return await run_in_threadpool(_nearest_fragment, request)
