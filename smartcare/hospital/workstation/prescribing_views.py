"""The prescribing page: write the lines, see the audit's cards inline, apply a fix or override with a reason,
and sign."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.pharmacy import signing
from smartcare.hospital.pharmacy.signing import PrescriptionLine
from smartcare.hospital.workstation import prescribing
from smartcare.knowledge.drugs import formulary
from smartcare.knowledge.orders import order_sets
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _, current_locale
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)
_ID = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")


def _plain_id(value: str) -> str | None:
    return value if value and len(value) <= 64 and set(value) <= _ID else None


def _doctor(request: Request) -> guard.Visitor:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    if "doctor" not in v.ctx.roles:
        raise guard.SurfaceForbidden("Only doctors prescribe", ctx=v.ctx, surface="prescribing", explain=_(
            "Only doctors prescribe. Ask the patient's doctor for a new or changed medicine: they can prescribe in an "
            "online follow-up consultation."))
    return v


def _allergy_name(substance: str, zh: bool) -> str:
    """An allergy as the prescriber reads it: the allergy class's name where the code is known."""
    classes = formulary.default().allergy_classes_of(substance)
    return (classes[0].name_zh if zh else classes[0].name_en) if classes else substance


def _facts_shown(reviewed: prescribing.Review | None, zh: bool) -> dict[str, Any] | None:
    facts = reviewed.facts if reviewed else None
    if facts is None:
        return None
    egfr = (reviewed.how or {}).get("egfr")
    return {"age": facts.age_years, "sex": facts.sex, "weight": facts.weight_kg, "egfr": facts.egfr,
            "egfr_how": egfr.get("how") if egfr else None, "egfr_day": egfr.get("day") if egfr else None,
            "allergies": [_allergy_name(a, zh) for a in facts.allergies], "pregnant": facts.pregnant,
            "lactating": facts.lactating,
            "hepatic": facts.hepatic}


def _page(request: Request, v: guard.Visitor, patient: dict[str, Any], *, draft: prescribing.Draft,
          reviewed: prescribing.Review | None = None, problem: prescribing.LineProblem | None = None,
          error: str = "", signed: signing.Signed | None = None, status_code: int = 200,
          chosen: dict | None = None) -> HTMLResponse:
    rows = [{"medicine": line.medicine, "dose": f"{line.dose:g}", "unit": line.unit, "frequency": line.frequency,
             "route": line.route, "days": line.days or "", "note": line.note} for line in draft.lines]
    rows.append({"medicine": "", "dose": "", "unit": "mg", "frequency": "QD", "route": "oral", "days": "", "note": ""})
    zh = current_locale(request) == "zh-Hans"
    response = render(
        request, "workstation/prescribe.html", status_code=status_code, user=v.user,
        patient={"id": patient["id"], "name": fhir_text.person_name(patient), "born": patient.get("birthDate", ""),
                 "gender": patient.get("gender", "")},
        encounter=draft.encounter_id or "", rows=rows[:prescribing.MAX_LINES],
        cards=list(zip(reviewed.cards, reviewed.findings, strict=True)) if reviewed else [],
        typical=(reviewed.typical or {}) if reviewed else {}, facts=_facts_shown(reviewed, zh),
        problem=problem, error=error, signed=signed, frequencies=prescribing.FREQUENCIES, routes=prescribing.ROUTES,
        units=prescribing.UNITS, reasons=[(code, names[1] if zh else names[0])
                                          for code, names in signing.OVERRIDE_REASONS.items()],
        chosen=chosen or {}, formulary_names=_formulary_names(zh))
    response.headers.update(guard.NO_STORE)
    return response


def _formulary_names(zh: bool) -> list[str]:
    drugs = formulary.default().drugs.values()
    return sorted({d.name_zh if zh else d.name_en for d in drugs})


def _patient(v: guard.Visitor, patient_id: str) -> dict[str, Any] | None:
    try:
        return gateway.read(v.ctx, f"Patient/{patient_id}")
    except FhirError:
        return None


def _not_found(request: Request) -> HTMLResponse:
    return render(request, "404.html", status_code=404, requested_path=request.url.path[:200])


def _get(request: Request, patient_id: str) -> HTMLResponse:
    v = _doctor(request)
    pid = _plain_id(patient_id)
    patient = _patient(v, pid) if pid else None
    if patient is None:
        return _not_found(request)
    encounter = _plain_id(request.query_params.get("encounter", ""))
    draft = prescribing.Draft(patient_id=pid, lines=(), encounter_id=encounter)
    chosen = order_sets.order_set(request.query_params.get("set", "")[:60])
    if chosen is None:
        return _page(request, v, patient, draft=draft)
    # An order set's medicines as the first lines: the doctor checks and changes them before signing.
    lines = tuple(PrescriptionLine(medicine=m.drug, dose=m.dose, unit=m.unit, route=m.route, note=m.note_zh if
                                   current_locale(request) == "zh-Hans" else m.note_en,
                                   frequency=m.frequency if m.frequency in prescribing.FREQUENCIES else "STAT")
                  for m in chosen.medications if m.unit in prescribing.UNITS and m.route in prescribing.ROUTES)
    draft = prescribing.Draft(patient_id=pid, lines=lines[:prescribing.MAX_LINES], encounter_id=encounter)
    try:
        reviewed = prescribing.review(ctx=v.ctx, draft=draft, zh=current_locale(request) == "zh-Hans")
    except signing.SigningRefused as exc:
        return _page(request, v, patient, draft=draft, error=exc.message, status_code=400)
    return _page(request, v, patient, draft=draft, reviewed=reviewed)


@router.get("/workstation/patients/{patient_id}/prescribe", response_class=HTMLResponse)
async def prescribe_page(request: Request, patient_id: str) -> HTMLResponse:
    """An empty prescription for the patient (optionally for an encounter)."""
    return await run_in_threadpool(_get, request, patient_id)


def _post(request: Request, patient_id: str, fields: dict[str, str]) -> HTMLResponse:
    v = _doctor(request)
    guard.check_csrf(request, v, fields.get("csrf_token"))
    pid = _plain_id(patient_id)
    patient = _patient(v, pid) if pid else None
    if patient is None:
        return _not_found(request)
    encounter = _plain_id(fields.get("encounter", ""))
    zh = current_locale(request) == "zh-Hans"
    try:
        draft = prescribing.Draft(patient_id=pid, lines=tuple(prescribing.lines_from_fields(fields)),
                                  encounter_id=encounter)
    except prescribing.LineProblem as exc:
        return _page(request, v, patient, draft=prescribing.Draft(pid, (), encounter), problem=exc, status_code=400)
    action = fields.get("action", "check")[:40]
    try:
        if action.startswith("remove-") and action[7:].isdigit():
            n = int(action[7:])
            draft = prescribing.Draft(pid, tuple(line for i, line in enumerate(draft.lines, 1) if i != n), encounter)
        reviewed = prescribing.review(ctx=v.ctx, draft=draft, zh=zh)
        if action.startswith("apply-") and action[6:].isdigit() and int(action[6:]) < len(reviewed.findings):
            index = int(action[6:])
            prescribing.record_outcome(ctx=v.ctx, card=reviewed.cards[index], accepted=True)
            draft = prescribing.apply_suggestion(draft, reviewed.findings[index])
            reviewed = prescribing.review(ctx=v.ctx, draft=draft, zh=zh)
        if action.startswith("typical-") and action[8:].isdigit() and int(action[8:]) in (reviewed.typical or {}):
            draft = prescribing.use_typical(draft, int(action[8:]), reviewed.typical[int(action[8:])])
            reviewed = prescribing.review(ctx=v.ctx, draft=draft, zh=zh)
        if action == "sign":
            overrides = prescribing.overrides_from_fields(fields, reviewed.cards)
            signed = prescribing.sign(ctx=v.ctx, draft=draft, overrides=overrides, cards=reviewed.cards)
            return _page(request, v, patient, draft=prescribing.Draft(pid, (), encounter), signed=signed)
    except signing.SigningRefused as exc:
        reviewed = prescribing.review(ctx=v.ctx, draft=draft, zh=zh) if draft.lines else None
        chosen = {k[len("override::"):]: val for k, val in fields.items() if k.startswith("override::")}
        return _page(request, v, patient, draft=draft, reviewed=reviewed, error=exc.message,
                     status_code=409 if exc.unresolved else 400, chosen=chosen)
    return _page(request, v, patient, draft=draft, reviewed=reviewed)


@router.post("/workstation/patients/{patient_id}/prescribe", response_class=HTMLResponse)
async def prescribe(request: Request, patient_id: str) -> HTMLResponse:
    """Check, change (apply a card's fix, remove a line) or sign the prescription on the form; CSRF-checked."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_post, request, patient_id, fields)


def _medicines(request: Request) -> JSONResponse:
    with unit_of_work() as conn:
        guard.visitor(conn, request, "workstation")
    query = request.query_params.get("q", "").strip()[:50]
    zh = current_locale(request) == "zh-Hans"
    found = formulary.default().search(query, limit=15) if query else []
    return JSONResponse({"medicines": [{"key": d.key, "name": d.name_zh if zh else d.name_en, "atc": list(d.atc)}
                                       for d in found]}, headers=guard.NO_STORE)


@router.get("/workstation/medicines")
async def medicines(request: Request) -> JSONResponse:
    """Formulary search for the prescribing form: by English or Chinese name, pinyin or ATC code."""
    return await run_in_threadpool(_medicines, request)
