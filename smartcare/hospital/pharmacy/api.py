"""The prescription audit as a JSON API: POST /api/v1/prescription-check.

For pharmacy systems, partner hospitals and the app's "can I take these together" check. The patient is
either a SmartCare record (read through the access policy as the caller, and audited) or described
inline; nothing is written.
"""

from dataclasses import asdict
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from smartcare.fhir.errors import FhirError
from smartcare.hospital.pharmacy import records
from smartcare.hospital.pharmacy.schemas import (
    InlinePatient,
    MedicineLine,
    PrescriptionCheck,
    PrescriptionCheckResult,
)
from smartcare.knowledge.drugs import formulary
from smartcare.knowledge.prescribing import audit
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import current_locale
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import guard

router = APIRouter(prefix="/api/v1", tags=["prescribing"])
MAX_BODY = 64 * 1024


class CheckRefused(Exception):
    """A prescription check that cannot be done: status, error code and message."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


def _caller(request: Request) -> AccessContext:
    """Anyone signed in or holding a token may check; reading a record is then up to the access policy."""
    with unit_of_work() as conn:
        try:
            return guard.api_caller(conn, request, "workstation")
        except guard.SurfaceForbidden as exc:
            if exc.ctx is None:
                raise
            return exc.ctx


def _order(line: MedicineLine, n: int) -> audit.MedicineOrder:
    return audit.MedicineOrder(medicine=line.medicine, dose=line.dose, unit=line.unit, frequency=line.frequency,
                               route=line.route, ref=line.ref or str(n), indication=line.indication)


def _inline_facts(patient: InlinePatient) -> audit.PatientFacts:
    return audit.PatientFacts(
        age_years=patient.age, sex=patient.sex, weight_kg=patient.weight, height_cm=patient.height,
        egfr=patient.egfr, hepatic=patient.hepatic, pregnant=patient.pregnant, lactating=patient.lactating,
        allergies=tuple(patient.allergies), conditions=tuple(patient.conditions),
        current=tuple(_order(line, n) for n, line in enumerate(patient.current, start=1)))


def _record_facts(ctx: AccessContext, reference: str) -> tuple[audit.PatientFacts, dict[str, Any]]:
    patient_id = reference.removeprefix("Patient/")
    if not patient_id or len(patient_id) > 64 or not all(c.isalnum() or c in "-." for c in patient_id):
        raise CheckRefused('patient must be "Patient/{id}" or an object of facts')
    try:
        found = records.read(ctx, patient_id)
    except FhirError as exc:
        raise CheckRefused(exc.message, status=exc.status, code="forbidden" if exc.status == 403 else "patient") from None
    return records.facts_from(found, today=clock.now().date())


def _finding(f: audit.Finding, zh: bool) -> dict[str, Any]:
    pick = (lambda name: getattr(f, f"{name}_zh") or getattr(f, f"{name}_en")) if zh else (
        lambda name: getattr(f, f"{name}_en"))
    return {"rule": f.rule, "severity": f.severity, "summary": pick("summary"), "detail": pick("detail"),
            "advice": pick("advice"), "source": f.source, "drugs": list(f.drugs), "conditions": list(f.conditions),
            "refs": list(f.refs), "suggestion": f.suggestion}


def _understood(orders: list[audit.MedicineOrder], zh: bool) -> list[dict[str, Any]]:
    known = formulary.default()
    rows = []
    for order in orders:
        drug = known.find(order.medicine)
        rows.append({"ref": order.ref, "medicine": order.medicine, "drug": drug.key if drug else None,
                     "name": (drug.name_zh if zh else drug.name_en) if drug else None,
                     "atc": list(drug.atc) if drug else []})
    return rows


def _facts_shown(facts: audit.PatientFacts, how: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in asdict(facts).items() if k != "current" and v not in (None, (), False)}
    shown["current"] = [o.medicine for o in facts.current]
    if how.get("egfr"):
        shown["egfr_source"] = how["egfr"]
    return shown


def _check(request: Request, raw: bytes) -> dict[str, Any]:
    ctx = _caller(request)
    try:
        asked = PrescriptionCheck.model_validate(orjson.loads(raw or b"null"))
    except orjson.JSONDecodeError:
        raise CheckRefused("the body must be a JSON object") from None
    except ValidationError as exc:
        raise CheckRefused("; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
                                     for e in exc.errors()[:3])[:400]) from None
    if isinstance(asked.patient, str):
        facts, how = _record_facts(ctx, asked.patient)
    else:
        facts, how = _inline_facts(asked.patient), {}
    orders = [_order(line, n) for n, line in enumerate(asked.medicines, start=1)]
    try:
        findings = audit.audit(orders, facts)
    except ValueError as exc:
        raise CheckRefused(str(exc)[:400], status=422, code="unprocessable") from None
    zh = current_locale(request) == "zh-Hans"
    return {"blocking": any(f.severity == "high" for f in findings),
            "findings": [_finding(f, zh) for f in findings], "medicines": _understood(orders, zh),
            "patient": _facts_shown(facts, how)}


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its $defs written in place, for the OpenAPI request body."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        return [walk(v) for v in node] if isinstance(node, list) else node
    return walk(schema)


@router.post("/prescription-check", response_model=PrescriptionCheckResult, summary="Check a prescription",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": _inlined(PrescriptionCheck.model_json_schema())}}}},
             responses={400: {"description": "The request is malformed"},
                        403: {"description": "The patient's record is not yours to read"},
                        404: {"description": "No such patient"},
                        422: {"description": "The medicines cannot be checked as given"}})
async def prescription_check(request: Request) -> JSONResponse:
    """Check medicines for a patient: interactions, allergies (with cross-sensitivity), duplicates, dose per dose
    and per day (adult, child by weight or body surface, elderly), kidney and liver function, pregnancy and
    lactation, contraindicated conditions, route and frequency. Each finding has its severity, the rule, the
    drugs or conditions involved, advice and the rule's source. Answers in English or Chinese (Accept-Language)."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return JSONResponse({"error": "too-large", "message": f"the body is over {MAX_BODY} bytes"}, status_code=413)
    try:
        return JSONResponse(await run_in_threadpool(_check, request, raw), headers=guard.NO_STORE)
    except CheckRefused as exc:
        return JSONResponse({"error": exc.code, "message": exc.message}, status_code=exc.status,
                            headers=guard.NO_STORE)
