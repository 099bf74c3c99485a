"""Encounter-note pages of the workstation: a patient's notes, the SOAP form, a note with signing and amending,
its version history, and the ICD-10 lookup the form uses (JSON, or an HTML fragment for htmx).

The form works without JavaScript: searching ICD-10, adding and removing a diagnosis post the whole form,
which comes back with everything typed kept; htmx only makes the search answer as one types.
"""

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.workstation import notes, notes_form
from smartcare.hospital.workstation import notes_compose as compose
from smartcare.knowledge.diseases import icd10
from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)
FIELD_PREFIX = "f_"
ICD_RESULTS = 15
_MAX_QUERY = icd10.MAX_QUERY
_MAX_POSTED = 40


@dataclass
class FormState:
    """What the form shows: values as typed, diagnoses, problems by field, a message, the ICD-10 search."""

    values: dict[str, str] = field(default_factory=dict)
    diagnoses: list[compose.Diagnosis] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)
    error: str = ""
    query: str = ""
    results: list[icd10.Diagnosis] = field(default_factory=list)
    reason: str = ""


def _page(request: Request, page: str, *, status_code: int = 200, **values: Any) -> HTMLResponse:
    response = render(request, page, status_code=status_code, **values)
    response.headers.update(guard.NO_STORE)
    return response


def _visitor(request: Request) -> guard.Visitor:
    with unit_of_work() as conn:
        return guard.visitor(conn, request, "workstation")


def _say(request: Request, message: str, params: dict[str, Any] | None = None) -> str:
    text = i18n.translations(i18n.current_locale(request)).gettext(message)
    return text % params if params else text


def _refused(request: Request, exc: notes.NoteRefused) -> HTMLResponse:
    if exc.status == 403:
        return _page(request, "403.html", status_code=403)
    return _page(request, "404.html", status_code=404, requested_path=request.url.path[:200])


def _person(ctx: AccessContext, reference: str, cache: dict[str, str]) -> str:
    if reference not in cache:
        try:
            cache[reference] = fhir_text.person_name(gateway.read(ctx, reference)) or reference
        except FhirError:
            cache[reference] = reference
    return cache[reference]


def _patient_row(patient: dict[str, Any]) -> dict[str, Any]:
    return {"id": patient.get("id", ""), "name": fhir_text.person_name(patient), "gender": patient.get("gender", ""),
            "born": patient.get("birthDate", "")}


def _search(query: str) -> list[icd10.Diagnosis]:
    return icd10.search(query[:_MAX_QUERY], limit=ICD_RESULTS) if query.strip() else []


def _icd10(request: Request) -> Response:
    _visitor(request)
    query = (request.query_params.get("q") or request.query_params.get("icd_q") or "")[:_MAX_QUERY]
    found = _search(query)
    if request.headers.get("hx-request") or request.query_params.get("format") == "html":
        return _page(request, "workstation/note_icd_results.html", query=query, results=found)
    return JSONResponse({"query": query, "results": [
        {"code": d.code, "title_en": d.title_en, "title_zh": d.title_zh, "chapter": d.chapter, "block": d.block,
         "leaf": d.leaf} for d in found]}, headers=guard.NO_STORE)


@router.get("/workstation/icd10")
async def icd10_lookup(request: Request) -> Response:
    """ICD-10 diagnoses matching q (code, English, Chinese or pinyin): JSON, or the form's fragment for htmx."""
    return await run_in_threadpool(_icd10, request)


def _notes_list(request: Request, patient_id: str) -> HTMLResponse:
    v = _visitor(request)
    try:
        patient, _encounter = notes.patient_and_encounter(v.ctx, patient_id=patient_id)
        found = notes.notes_of(v.ctx, patient_id=patient_id)
    except notes.NoteRefused as exc:
        return _refused(request, exc)
    names: dict[str, str] = {}
    rows = [{"id": c["id"], "title": c.get("title", ""), "status": c.get("status", ""),
             "date": str(c.get("date", ""))[:16].replace("T", " "),
             "department": compose.template_for(compose.department_of(c) or notes.GENERAL).title(
                 i18n.current_locale(request)),
             "author": _person(v.ctx, ((c.get("author") or [{}])[0]).get("reference", ""), names)} for c in found]
    return _page(request, "workstation/note_list.html", user=v.user, patient=_patient_row(patient), rows=rows,
                 can_write="doctor" in v.ctx.roles)


@router.get("/workstation/patients/{patient_id}/notes", response_class=HTMLResponse)
async def patient_notes(request: Request, patient_id: str) -> HTMLResponse:
    """The patient's encounter notes, newest first, with their status."""
    return await run_in_threadpool(_notes_list, request, patient_id[:80])


def _form_page(request: Request, v: guard.Visitor, *, template: compose.NoteTemplate, patient: dict[str, Any],
               state: FormState, action: str, mode: str, status_code: int = 200, **extra: Any) -> HTMLResponse:
    locale = i18n.current_locale(request)
    sections = [{"key": key, "title": zh if locale.startswith("zh") else en,
                 "fields": template.section_fields(key)} for key, (_code, en, zh) in compose.SECTIONS.items()]
    return _page(request, "workstation/note_form.html", status_code=status_code, user=v.user, form=template,
                 patient=_patient_row(patient), sections=sections, state=state, action=action, mode=mode,
                 locale=locale, max_reason=notes.MAX_REASON, **extra)


def _new_form(request: Request, patient_id: str) -> HTMLResponse:
    v = _visitor(request)
    encounter_id = request.query_params.get("encounter", "")[:80]
    try:
        notes.check_writer(v.ctx)
        patient, encounter = notes.patient_and_encounter(v.ctx, patient_id=patient_id, encounter_id=encounter_id)
    except notes.NoteRefused as exc:
        return _refused(request, exc)
    department = request.query_params.get("department", "")[:64]
    if not department:
        department = notes.department_of_encounter(v.ctx, encounter) if encounter else notes.GENERAL
    template = compose.template_for(department)
    return _form_page(request, v, template=template, patient=patient, state=FormState(), mode="new",
                      action=f"/workstation/patients/{patient_id}/notes", encounter=encounter_id,
                      department=template.key)


@router.get("/workstation/patients/{patient_id}/notes/new", response_class=HTMLResponse)
async def new_note(request: Request, patient_id: str) -> HTMLResponse:
    """The SOAP form of the encounter's department (or the one asked for; else the general template)."""
    return await run_in_threadpool(_new_form, request, patient_id[:80])


def _posted_diagnoses(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    codes = [value for key, value in pairs if key == "dx_code"][:_MAX_POSTED]
    statuses = [value for key, value in pairs if key == "dx_status"][:_MAX_POSTED]
    statuses += ["provisional"] * (len(codes) - len(statuses))
    chosen = list(zip(codes, statuses, strict=False))
    removed = next((value for key, value in pairs if key == "remove_dx"), None)
    if removed is not None:
        chosen = [(code, status) for code, status in chosen if code != removed]
    added = next((value for key, value in pairs if key == "add_dx"), None)
    if added and all(code != added for code, _status in chosen):
        chosen.append((added[:12], "provisional"))
    return chosen


def _state_from(request: Request, template: compose.NoteTemplate, pairs: list[tuple[str, str]]
                ) -> tuple[FormState, compose.NoteContent]:
    """The form as posted: the content it holds, and the state to show again (problems in the reader's language)."""
    posted = dict(pairs)
    raw = {key[len(FIELD_PREFIX):]: value for key, value in pairs if key.startswith(FIELD_PREFIX)}
    content, problems = notes_form.read_input(template, raw, _posted_diagnoses(pairs))
    # What was typed is shown again as typed, except what is too long to send back whole.
    shown = {key: value if len(value) <= notes_form.MAX_FIELD else "" for key, value in raw.items()}
    query = posted.get("icd_q", "")[:_MAX_QUERY]
    state = FormState(values=shown, diagnoses=content.diagnoses, query=query,
                      problems={key: _say(request, p.message, p.params) for key, p in problems.items()},
                      reason=posted.get("reason", "")[:notes.MAX_REASON * 2])
    state.results = _search(query)
    return state, content


async def _pairs(request: Request) -> list[tuple[str, str]]:
    form = await request.form()
    return [(key, value) for key, value in form.multi_items() if isinstance(value, str)]


def _editing_action(posted: dict[str, str]) -> bool:
    """True when the post only searched ICD-10 or added or removed a diagnosis (nothing is saved)."""
    return posted.get("action") == "search" or "add_dx" in posted or "remove_dx" in posted


def _create(request: Request, patient_id: str, pairs: list[tuple[str, str]]) -> Response:
    v = _visitor(request)
    posted = dict(pairs)
    guard.check_csrf(request, v, posted.get("csrf_token"))
    encounter_id = posted.get("encounter", "")[:80]
    try:
        patient, _encounter = notes.patient_and_encounter(v.ctx, patient_id=patient_id, encounter_id=encounter_id)
    except notes.NoteRefused as exc:
        return _refused(request, exc)
    template = compose.template_for(posted.get("department", "")[:64] or notes.GENERAL)
    state, content = _state_from(request, template, pairs)
    again = {"mode": "new", "action": f"/workstation/patients/{patient_id}/notes", "encounter": encounter_id,
             "department": template.key}
    if _editing_action(posted):
        return _form_page(request, v, template=template, patient=patient, state=state, **again)
    if state.problems:
        state.error = _say(request, _("The note was not saved: correct the fields marked below."))
        return _form_page(request, v, template=template, patient=patient, state=state, status_code=400, **again)
    try:
        saved = notes.create_draft(v.ctx, patient_id=patient_id, encounter_id=encounter_id,
                                   department=template.key, content=content)
    except notes.NoteRefused as exc:
        if exc.status in (403, 404):
            return _refused(request, exc)
        state.error = _say(request, exc.message, exc.params)
        return _form_page(request, v, template=template, patient=patient, state=state, status_code=exc.status,
                          **again)
    return RedirectResponse(f"/workstation/notes/{saved['id']}", status_code=303, headers=guard.NO_STORE)


@router.post("/workstation/patients/{patient_id}/notes")
async def create_note(request: Request, patient_id: str) -> Response:
    """Save a new draft note (or, for the search and diagnosis buttons, show the form again with them applied)."""
    pairs = await _pairs(request)
    return await run_in_threadpool(_create, request, patient_id[:80], pairs)


def _note_state(note: notes.Note) -> FormState:
    return FormState(values=dict(note.content.values), diagnoses=list(note.content.diagnoses))


def _view(request: Request, note_id: str, *, status_code: int = 200, error: str = "",
          problems: dict[str, str] | None = None) -> HTMLResponse:
    v = _visitor(request)
    try:
        note = notes.open_note(v.ctx, note_id=note_id)
    except notes.NoteRefused as exc:
        return _refused(request, exc)
    names: dict[str, str] = {}
    composition = note.composition
    attested = [{"who": _person(v.ctx, a.get("party", {}).get("reference", ""), names),
                 "when": str(a.get("time", ""))[:16].replace("T", " ")} for a in composition.get("attester", [])]
    authors = [_person(v.ctx, a.get("reference", ""), names) for a in composition.get("author", [])]
    locale = i18n.current_locale(request)
    sections = [{"title": zh if locale.startswith("zh") else en,
                 "rows": [(spec, note.content.values.get(spec.key, "")) for spec in note.template.section_fields(key)]}
                for key, (_code, en, zh) in compose.SECTIONS.items()]
    return _page(request, "workstation/note_view.html", status_code=status_code, user=v.user, note=note,
                 patient=_patient_row(note.patient), sections=sections, authors=authors, attested=attested,
                 reason=compose.amendment_reason(composition), error=error, problems=problems or {},
                 is_author=note.author == v.ctx.fhir_user and "doctor" in v.ctx.roles,
                 can_write="doctor" in v.ctx.roles, locale=locale,
                 date=str(composition.get("date", ""))[:16].replace("T", " "))


@router.get("/workstation/notes/{note_id}", response_class=HTMLResponse)
async def view_note(request: Request, note_id: str) -> HTMLResponse:
    """One note: its sections, diagnoses, author and signature, with signing, editing or amending."""
    return await run_in_threadpool(_view, request, note_id[:80])


def _edit_form(request: Request, note_id: str) -> HTMLResponse:
    v = _visitor(request)
    try:
        notes.check_writer(v.ctx)
        note = notes.open_note(v.ctx, note_id=note_id)
    except notes.NoteRefused as exc:
        return _refused(request, exc)
    mode = "edit" if note.status == "preliminary" else "amend"
    return _form_page(request, v, template=note.template, patient=note.patient, state=_note_state(note), mode=mode,
                      action=f"/workstation/notes/{note.id}", version=note.version, note=note)


@router.get("/workstation/notes/{note_id}/edit", response_class=HTMLResponse)
async def edit_note(request: Request, note_id: str) -> HTMLResponse:
    """The form on a stored note: a draft is edited; a signed note is amended (with a reason)."""
    return await run_in_threadpool(_edit_form, request, note_id[:80])


def _update(request: Request, note_id: str, pairs: list[tuple[str, str]]) -> Response:
    v = _visitor(request)
    posted = dict(pairs)
    guard.check_csrf(request, v, posted.get("csrf_token"))
    try:
        note = notes.open_note(v.ctx, note_id=note_id)
    except notes.NoteRefused as exc:
        return _refused(request, exc)
    mode = "edit" if note.status == "preliminary" else "amend"
    version = posted.get("version", "")[:12]
    state, content = _state_from(request, note.template, pairs)
    again = {"mode": mode, "action": f"/workstation/notes/{note.id}", "version": version, "note": note}
    if _editing_action(posted):
        return _form_page(request, v, template=note.template, patient=note.patient, state=state, **again)
    if state.problems:
        state.error = _say(request, _("The note was not saved: correct the fields marked below."))
        return _form_page(request, v, template=note.template, patient=note.patient, state=state, status_code=400,
                          **again)
    try:
        if mode == "edit":
            notes.update_draft(v.ctx, note_id=note.id, version=version, content=content)
        else:
            notes.amend(v.ctx, note_id=note.id, version=version, content=content, reason=posted.get("reason", ""))
    except notes.NoteInvalid as exc:
        state.problems = {key: _say(request, p.message, p.params) for key, p in exc.problems.items()}
        state.error = _say(request, _("The note was not saved: correct the fields marked below."))
        return _form_page(request, v, template=note.template, patient=note.patient, state=state, status_code=400,
                          **again)
    except notes.NoteRefused as exc:
        if exc.status in (403, 404):
            return _refused(request, exc)
        state.error = _say(request, exc.message, exc.params)
        return _form_page(request, v, template=note.template, patient=note.patient, state=state,
                          status_code=exc.status, **again)
    return RedirectResponse(f"/workstation/notes/{note.id}", status_code=303, headers=guard.NO_STORE)


@router.post("/workstation/notes/{note_id}")
async def save_note(request: Request, note_id: str) -> Response:
    """Save a draft's changes, or a signed note's amendment with its reason; a stale version is refused."""
    pairs = await _pairs(request)
    return await run_in_threadpool(_update, request, note_id[:80], pairs)


def _sign(request: Request, note_id: str, posted: dict[str, str]) -> Response:
    v = _visitor(request)
    guard.check_csrf(request, v, posted.get("csrf_token"))
    try:
        notes.sign(v.ctx, note_id=note_id, version=posted.get("version", "")[:12])
    except notes.NoteInvalid as exc:
        problems = {key: _say(request, p.message, p.params) for key, p in exc.problems.items()}
        return _view(request, note_id, status_code=400, problems=problems,
                     error=_say(request, _("The note cannot be signed yet: complete the fields listed below.")))
    except notes.NoteRefused as exc:
        if exc.status == 404:
            return _refused(request, exc)
        return _view(request, note_id, status_code=exc.status, error=_say(request, exc.message, exc.params))
    return RedirectResponse(f"/workstation/notes/{quote(note_id)}", status_code=303, headers=guard.NO_STORE)


@router.post("/workstation/notes/{note_id}/sign")
async def sign_note(request: Request, note_id: str) -> Response:
    """Sign a draft as its author; the required fields must be filled in."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_sign, request, note_id[:80], form)


def _history(request: Request, note_id: str) -> HTMLResponse:
    v = _visitor(request)
    locale = i18n.current_locale(request)
    try:
        note, versions = notes.history(v.ctx, note_id=note_id, locale=locale)
    except notes.NoteRefused as exc:
        return _refused(request, exc)
    names: dict[str, str] = {}
    rows = [{"version": version, "by": ", ".join(_person(v.ctx, ref.strip(), names)
                                                  for ref in version.by.split(",") if ref.strip())}
            for version in versions]
    return _page(request, "workstation/note_history.html", user=v.user, note=note, patient=_patient_row(note.patient),
                 rows=rows)


@router.get("/workstation/notes/{note_id}/history", response_class=HTMLResponse)
async def note_history(request: Request, note_id: str) -> HTMLResponse:
    """Every version of a note, newest first, with what changed between versions and why it was amended."""
    return await run_in_threadpool(_history, request, note_id[:80])
