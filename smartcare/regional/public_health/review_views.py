"""The officers' review pages: /console/public-health/cases (the list with filters), one case report with its history,
possible duplicates and acts, and its case investigation form. Public-health officers only (the surface, then the
case-reports dataset); every act is a form with the session's CSRF token and the version the officer saw."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.platform import clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render_private
from smartcare.regional.gate import require_dataset
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import districts, investigation, report_card, review
from smartcare.regional.public_health.case_reports import person_name, read_case_report

router = APIRouter(include_in_schema=False)
SURFACE = "console/public-health"
LIST = "/console/public-health/cases"
_MAX_FIELD = 80

STATE_NAMES = {"draft": _("draft"), "submitted": _("submitted"), "correction-requested": _("awaiting correction"),
               "verified": _("verified"), "closed": _("closed"), "discarded": _("discarded"),
               "duplicate": _("a duplicate")}
BAD_VERSION = _("The form is out of date: read the report again, then decide.")
SAVED = _("The investigation was saved.")


def _translate(request: Request, message: str, values: dict[str, Any]) -> str:
    t = i18n.translations(i18n.current_locale(request))
    shown = {k: t.gettext(STATE_NAMES[v]) if k == "state" and v in STATE_NAMES else v for k, v in values.items()}
    return t.gettext(message) % shown if shown else t.gettext(message)


def _lang(request: Request) -> str:
    return i18n.current_locale(request)


def _visitor(conn: Connection, request: Request) -> guard.Visitor:
    v = guard.visitor(conn, request, SURFACE)
    require_dataset(v.ctx, review.CASE_REPORTS)
    return v


def _district_name(place: str | None, lang: str) -> str:
    """A district (its code or a name the record gives) named in lang; the text itself when it is no region's."""
    found = districts.find(place)
    return found.name(lang) if found else (place or "")


def _row(report: review.Loaded, duplicates: list[review.PossibleDuplicate], lang: str) -> dict[str, Any]:
    listed = read_case_report(report.resource, {report.facts.patient or "": report.patient})
    return {"id": report.facts.id, "day": report.day.isoformat() if report.day else "", "name": listed.name,
            "identifier": listed.identifier, "gender": listed.gender, "birth_date": listed.birth_date,
            "disease": review.disease_name(report.facts.disease, lang, report.facts.subtype),
            "district": _district_name(report.facts.district or listed.district, lang) or listed.district,
            "organization": str(report.organization.get("name") or report.facts.organization or ""),
            "state": report.facts.state, "overdue": report.overdue,
            "duplicates": [(d.report.facts.id, d.reason, str(d.report.organization.get("name") or ""),
                            d.report.day.isoformat() if d.report.day else "") for d in duplicates]}


def _list_page(request: Request) -> Response:
    params = {k: v.strip()[:_MAX_FIELD] for k, v in request.query_params.items()}
    with unit_of_work() as conn:
        v = _visitor(conn, request)
        query, page, error = None, None, None
        try:
            query = review.parse_query(params)
            page = review.list_cases(conn, ctx=v.ctx, query=query)
        except review.ReviewRefused as refused:
            error = _translate(request, refused.message, refused.values)
    lang = _lang(request)
    diseases = sorted(((d.id, d.name(lang)) for d in review.catalogue().diseases), key=lambda d: d[1])
    form = {**params, "from": (query.start.isoformat() if query else params.get("from", "")),
            "to": (query.end.isoformat() if query else params.get("to", ""))}
    return render_private(
        request, "public_health/review_list.html", status_code=400 if error else 200, form=form, error=error,
        rows=[_row(r, d, lang) for r, d in page.rows] if page else [], page=page, states=model.STATES,
        state_names=STATE_NAMES, diseases=diseases, organizations=sorted((page.organizations if page else {}).items(),
                                                                          key=lambda o: o[1]),
        kept={k: v for k, v in form.items() if v and k != "page"})


@router.get(LIST, response_class=HTMLResponse)
def case_list(request: Request) -> Response:
    """The case reports with filters (state, disease, district, organisation, dates, overdue, possible duplicates)."""
    return _list_page(request)


def _extension_text(resource: dict[str, Any], url: str, lang: str) -> str:
    """An extension's value as text, in lang's language where it carries a translation (FHIR translation extension)."""
    found = model.extension(resource, url)
    if not found:
        return ""
    for translation in (found.get("_valueString") or {}).get("extension") or [] if lang.startswith("zh") else []:
        parts = {p.get("url"): p for p in translation.get("extension") or [] if isinstance(p, dict)}
        if str((parts.get("lang") or {}).get("valueCode", "")).startswith("zh") and parts.get("content"):
            return str(parts["content"].get("valueString") or "")
    for key, value in found.items():
        if key == "valueReference" and isinstance(value, dict):
            return str(value.get("display") or value.get("reference") or "")
        if key == "valueCoding" and isinstance(value, dict):
            return str(value.get("display") or value.get("code") or "")
        if key.startswith("value"):
            return str(value)
    return ""


# The report card's questions as the doctor's form labels them: the stored answers keep English text for other systems.
CARD_LABELS = {"name": _("Patient name"), "parent_name": _("Parent's name"), "id_number": _("ID number"),
               "sex": _("Sex"), "birth_date": _("Birth date"), "phone": _("Telephone"),
               "address": _("Current address"), "district": _("District"), "occupation": _("Occupation"),
               "work_unit": _("Work unit or school"), "disease": _("Disease"), "subtype": _("Subtype"),
               "classification": _("Case classification"), "onset": _("Onset date"),
               "diagnosed_at": _("Diagnosis date and time"), "death_date": _("Death date"), "remarks": _("Remarks")}
SEX_NAMES = {"male": _("Male"), "female": _("Female"), "other": _("Other"), "unknown": _("Unknown")}


def _card_answer(link: str, answer: dict[str, Any], lang: str, disease: str) -> str:
    """One report-card answer as its reader says it: codes named in lang, instants in the region's local time."""
    coding = answer.get("valueCoding")
    code = str(coding.get("code") or "") if isinstance(coding, dict) else ""
    if link == "sex" and code in SEX_NAMES:
        return i18n.translations(lang).gettext(SEX_NAMES[code])
    if link == "district" and (place := districts.find(code)):
        return place.name(lang)
    if link == "occupation" and code:
        found = next((o for o in report_card.occupations() if o["code"] == code), None)
        if found is not None:
            return found["zh" if lang.startswith("zh") else "en"]
    if link == "disease" and code:
        return review.disease_name(code, lang)
    if link == "subtype" and code:
        return review.disease_name(disease, lang, code)
    if link == "classification" and code:
        return review.catalogue().classification_label(code, lang)
    if "valueDateTime" in answer:
        return clock.wall_clock(str(answer["valueDateTime"]))
    return investigation.answer_text(answer, display=True)


def response_lines(response: dict[str, Any], lang: str, depth: int = 0) -> list[tuple[int, str, str]]:
    """A report card's QuestionnaireResponse as (depth, question, answers) lines in lang, groups first, for reading."""
    lines, t = [], i18n.translations(lang)
    disease = next((investigation.answer_text(answer) for item in response.get("item") or []
                    if isinstance(item, dict) and item.get("linkId") == "disease"
                    for answer in item.get("answer") or [] if isinstance(answer, dict)), "")  # names the subtype's
    for item in response.get("item") or []:
        if not isinstance(item, dict):
            continue
        link = str(item.get("linkId") or "")
        answers = [_card_answer(link, a, lang, disease) for a in item.get("answer") or [] if isinstance(a, dict)]
        question = t.gettext(CARD_LABELS[link]) if link in CARD_LABELS else str(item.get("text") or link)
        lines.append((depth, question, ", ".join(answers)))
        lines += response_lines(item, lang, depth + 1)
    return lines


def _case_context(conn: Connection, request: Request, v: guard.Visitor, report_id: str) -> dict[str, Any]:
    report, duplicates = review.read_case(conn, ctx=v.ctx, report_id=report_id)
    lang, facts, resource = _lang(request), report.facts, report.resource
    responses = investigation.responses_of(conn, resource)
    card = responses.get(model.REPORT_CARD)
    investigated = responses.get(model.INVESTIGATION)
    return {
        "report": report, "facts": facts, "row": _row(report, duplicates, lang), "patient": report.patient,
        "doctor": person_name(report.practitioner) or facts.practitioner or "",
        "classification": review.catalogue().classification_label(facts.classification, lang)
        if facts.classification else "",
        "trigger": _extension_text(resource, model.TRIGGER, lang),
        "reason": _extension_text(resource, model.REASON, lang),
        "correction": _extension_text(resource, model.CORRECTION, lang),
        "outcome": _extension_text(resource, review.OUTCOME, lang),
        "recorded_duplicates": review.recorded_duplicates(resource),
        "card": response_lines(card.resource or {}, lang) if card else None,
        "investigation": (investigated.resource or {}).get("status") if investigated else None,
        "history": review.state_history(conn, report), "duplicates": duplicates,
        "acts": [a for a in review.OFFICER_ACTS if (facts.state, a) in model.MOVES], "outcomes": review.OUTCOMES,
        "state_names": STATE_NAMES, "max_text": review.MAX_TEXT,
    }


def _case_page(request: Request, report_id: str, *, status_code: int = 200, error: str | None = None) -> Response:
    with unit_of_work() as conn:
        v = _visitor(conn, request)
        try:
            context = _case_context(conn, request, v, report_id)
        except review.CaseNotFound as missing:
            context, status_code = {"report": None}, missing.status
            error = _translate(request, missing.message, missing.values)
    done = request.query_params.get("done", "")[:40]
    return render_private(request, "public_health/review_case.html", status_code=status_code, error=error,
                          done=done if done in review.OFFICER_ACTS else None, **context)


@router.get(LIST + "/{report_id}", response_class=HTMLResponse)
def case_page(request: Request, report_id: str) -> Response:
    """One case report: the case, the report card, the trigger, its history, possible duplicates and the acts."""
    return _case_page(request, report_id[:80])


def _act(request: Request, report_id: str, act_name: str, form: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = _visitor(conn, request)
        guard.check_csrf(request, v, form.get("csrf_token"))
    version = form.get("version", "")
    try:
        if not (version.isascii() and version.isdigit() and len(version) <= 9):
            raise review.VersionConflict(BAD_VERSION)
        with unit_of_work() as conn:
            review.act(conn, ctx=v.ctx, report_id=report_id, act_name=act_name, seen_version=int(version),
                       text=form.get("text", "")[: review.MAX_TEXT + 1], outcome=form.get("outcome", "")[:40],
                       kept_id=form.get("kept", "")[:_MAX_FIELD])
    except review.ReviewRefused as refused:
        return _case_page(request, report_id, status_code=refused.status,
                          error=_translate(request, refused.message, refused.values))
    return guard.see_other(f"{LIST}/{report_id}?done={act_name}")


@router.post(LIST + "/{report_id}/acts/{act_name}", response_class=HTMLResponse)
async def case_act(request: Request, report_id: str, act_name: str) -> Response:
    """Verify, request a correction (text), mark a duplicate (kept) or close (outcome) the version the form shows."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_act, request, report_id[:80], act_name[:40], form)


def _investigation_page(request: Request, report_id: str, *, form: dict[str, str] | None = None,
                        errors: dict[str, tuple[str, dict[str, Any]]] | None = None, status_code: int = 200,
                        error: str | None = None) -> Response:
    with unit_of_work() as conn:
        v = _visitor(conn, request)
        try:
            report, found = investigation.open_investigation(conn, ctx=v.ctx, report_id=report_id)
        except review.CaseNotFound as missing:
            return _case_page(request, report_id, status_code=missing.status)
    saved = investigation.form_fields(found.resource or {}) if found else {}
    spec = investigation.spec()
    filled = form if form is not None else saved
    rows = {g.rows.id: _rows_shown(g.rows, filled) for g in spec.groups if g.rows}
    return render_private(
        request, "public_health/investigation_form.html", status_code=status_code, report=report,
        row=_row(report, [], _lang(request)), spec=spec, fields=filled, rows=rows, lang=_lang(request),
        errors={name: _translate(request, m, values) for name, (m, values) in (errors or {}).items()},
        error=error, status=(found.resource or {}).get("status") if found else None,
        form_version=found.version if found else "", report_version=report.version,
        saved=request.query_params.get("saved") == "1" and form is None, state_names=STATE_NAMES,
        open_states=model.COUNTED)


def _rows_shown(rows: investigation.Rows, fields: dict[str, str]) -> int:
    """How many rows of a repeating part the form shows: the filled ones and two empty, at least as many as asked."""
    filled = [n for n in range(1, rows.max + 1) if any(fields.get(f"{rows.id}.{n}.{i.id}") for i in rows.items)]
    return min(rows.max, max(rows.shown, (max(filled) if filled else 0) + 2))


@router.get(LIST + "/{report_id}/investigation", response_class=HTMLResponse)
def investigation_form(request: Request, report_id: str) -> Response:
    """The case investigation form: onset, exposures, travel, contacts, specimens, as saved so far."""
    return _investigation_page(request, report_id[:80])


def _save(request: Request, report_id: str, form: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = _visitor(conn, request)
        guard.check_csrf(request, v, form.get("csrf_token"))
    complete = form.get("action") == "complete"
    versions = [form.get("report_version", ""), form.get("form_version", "")]
    try:
        if not all(x.isascii() and x.isdigit() and len(x) <= 9 for x in versions if x) or not versions[0]:
            raise review.VersionConflict(BAD_VERSION)
        answers = investigation.read_form(form, today=review.today(), complete=complete)
        with unit_of_work() as conn:
            investigation.save(conn, ctx=v.ctx, report_id=report_id, answers=answers, complete=complete,
                               report_version=int(versions[0]), form_version=int(versions[1] or 0) or None)
    except investigation.InvestigationInvalid as invalid:
        return _investigation_page(request, report_id, form=form, errors=invalid.errors, status_code=400)
    except review.ReviewRefused as refused:
        return _investigation_page(request, report_id, form=form, status_code=refused.status,
                                   error=_translate(request, refused.message, refused.values))
    return guard.see_other(f"{LIST}/{report_id}/investigation?saved=1")


@router.post(LIST + "/{report_id}/investigation", response_class=HTMLResponse)
async def save_investigation(request: Request, report_id: str) -> Response:
    """Save the investigation as a draft (action=save) or complete it (action=complete)."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_save, request, report_id[:80], form)
