"""The prescribing page: write the lines, see the audit's cards inline, apply a fix or override with a reason,
and sign."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.pharmacy import signing
from smartcare.hospital.workstation import prescribing
from smartcare.knowledge.drugs import formulary
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import current_locale
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
        raise guard.SurfaceForbidden("Only doctors prescribe", ctx=v.ctx, surface="prescribing")
    return v


def _page(request: Request, v: guard.Visitor, patient: dict[str, Any], *, draft: prescribing.Draft,
          cards: list[dict] | None = None, findings: list | None = None, problem: prescribing.LineProblem | None = None,
          error: str = "", signed: signing.Signed | None = None, status_code: int = 200, chosen: dict | None = None) -> HTMLResponse:
    rows = [{"medicine": line.medicine, "dose": f"{line.dose:g}", "unit": line.unit, "frequency": line.frequency,
             "route": line.route, "days": line.days or "", "note": line.note} for line in draft.lines]
    rows.append({"medicine": "", "dose": "", "unit": "mg", "frequency": "QD", "route": "oral", "days": "", "note": ""})
    zh = current_locale(request) == "zh-Hans"
    response = render(
        request, "workstation/prescribe.html", status_code=status_code, user=v.user,
        patient={"id": patient["id"], "name": fhir_text.person_name(patient), "born": patient.get("birthDate", ""),
                 "gender": patient.get("gender", "")},
        encounter=draft.encounter_id or "", rows=rows[:prescribing.MAX_LINES], cards=list(zip(cards or [], findings or [],
                                                                                              strict=False)),
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
    return _page(request, v, patient, draft=prescribing.Draft(patient_id=pid, lines=(), encounter_id=encounter))


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
        findings, cards = prescribing.review(ctx=v.ctx, draft=draft, zh=zh)
        if action.startswith("apply-") and action[6:].isdigit() and int(action[6:]) < len(findings):
            index = int(action[6:])
            prescribing.record_outcome(ctx=v.ctx, card=cards[index], accepted=True)
            draft = prescribing.apply_suggestion(draft, findings[index])
            findings, cards = prescribing.review(ctx=v.ctx, draft=draft, zh=zh)
        if action == "sign":
            overrides = prescribing.overrides_from_fields(fields, cards)
            signed = prescribing.sign(ctx=v.ctx, draft=draft, overrides=overrides, cards=cards)
            return _page(request, v, patient, draft=prescribing.Draft(pid, (), encounter), signed=signed)
    except signing.SigningRefused as exc:
        findings, cards = prescribing.review(ctx=v.ctx, draft=draft, zh=zh) if draft.lines else ([], [])
        chosen = {k[len("override::"):]: val for k, val in fields.items() if k.startswith("override::")}
        return _page(request, v, patient, draft=draft, cards=cards, findings=findings, error=exc.message,
                     status_code=409 if exc.unresolved else 400, chosen=chosen)
    return _page(request, v, patient, draft=draft, cards=cards, findings=findings)


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
