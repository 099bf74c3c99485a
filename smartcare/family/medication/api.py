"""The medication JSON API for the app: /api/v1/medication/ (today's doses, mark taken/skip/snooze, supply and
renewal, adherence, warnings, self-reported medicines).

The caller is a signed-in patient or caregiver (session with the CSRF header, or a bearer token); every read and
write goes through the FHIR gateway as them, so they reach only their own (or their cared-for person's) doses.
Bad input is a JSON problem with a 4xx status.
"""

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from smartcare.family.medication import records, reminders, service, supply
from smartcare.family.medication.records import MedicationProblem
from smartcare.fhir.errors import FhirError
from smartcare.platform.clock import format_instant
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import guard

SURFACE = "app"
router = APIRouter(prefix="/api/v1/medication", tags=["medication"], dependencies=[Depends(guard.api_surface(SURFACE))])
MAX_BODY = 8 * 1024
NO_STORE = {"Cache-Control": "no-store"}


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": "invalid" if status == 422 else "not-found" if status == 404 else "refused",
                         "message": message}, status_code=status, headers=NO_STORE)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise MedicationProblem("the body is too large", status=413)
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise MedicationProblem("the body must be a JSON object", status=400) from None
    if not isinstance(body, dict):
        raise MedicationProblem("the body must be a JSON object", status=400)
    return body


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise MedicationProblem(f"{name}: text")
    return value


async def _answer(request: Request, work: Callable[..., Any], status: int = 200, *,
                  with_body: bool = False) -> JSONResponse:
    """Run work(conn, ctx[, body]) for the caller in one transaction and answer with its result or a problem."""
    try:
        body = await _body(request) if with_body else None

        def run() -> Any:
            with unit_of_work() as conn:
                ctx = guard.api_caller(conn, request, SURFACE)
                return work(conn, ctx, body) if with_body else work(conn, ctx)

        return JSONResponse(await run_in_threadpool(run), status_code=status, headers=NO_STORE)
    except MedicationProblem as exc:
        return _problem(exc.status, exc.message)
    except FhirError:
        # Someone else's record, or none: the same answer, so a stranger learns nothing.
        return _problem(404, "No such patient, prescription or dose in your reach")


def _patient(request: Request, ctx: AccessContext) -> str:
    return records.own_patient(ctx, request.query_params.get("patient"))


@router.get("", summary="Today's medicines")
async def overview(request: Request) -> JSONResponse:
    """Today's doses (taken, skipped, due or missed) in the patient's time zone, as-needed medicines with their most
    doses a day, days left of each medicine, adherence per medicine and per week, and standing warnings with why
    they fired and the rule's source. `?patient=` for a caregiver."""
    zh = request.query_params.get("lang") == "zh-Hans"
    return await _answer(request, lambda conn, ctx: service.overview(conn, ctx, patient_id=_patient(request, ctx),
                                                                     zh=zh))


@router.get("/adherence", summary="Adherence")
async def adherence(request: Request) -> JSONResponse:
    """Doses taken of doses due over the last eight weeks, per medicine and per week."""
    return await _answer(request, lambda conn, ctx: service.adherence_for(conn, ctx,
                                                                          patient_id=_patient(request, ctx)))


@router.post("/doses/taken", summary="Mark a dose taken")
async def dose_taken(request: Request) -> JSONResponse:
    """Mark the dose named `dose` (from the overview) taken now."""
    return await _answer(request, lambda conn, ctx, body: _intake(conn, ctx, body, taken=True), with_body=True)


@router.post("/doses/skip", summary="Mark a dose skipped")
async def dose_skipped(request: Request) -> JSONResponse:
    """Mark the dose named `dose` skipped, with a `reason` (side-effects, felt-well, ran-out, forgot, other)."""
    return await _answer(request, lambda conn, ctx, body: _intake(conn, ctx, body, taken=False), with_body=True)


def _intake(conn: Any, ctx: AccessContext, body: dict[str, Any], *, taken: bool) -> dict[str, Any]:
    done = reminders.record_intake(conn, ctx, dose_key=_text(body, "dose") or "", taken=taken,
                                   reason=None if taken else (_text(body, "reason", required=False) or "other"),
                                   note=_text(body, "note", required=False))
    return {"dose": body["dose"], "state": "taken" if taken else "skipped",
            "record": f"MedicationAdministration/{done.get('id')}"}


@router.post("/doses/snooze", summary="Remind again later")
async def dose_snoozed(request: Request) -> JSONResponse:
    """Remind again of the dose named `dose` in `minutes` (5, 10, 15, 30, 60 or 120)."""
    def work(conn: Any, ctx: AccessContext, body: dict[str, Any]) -> dict[str, Any]:
        minutes = body.get("minutes", 10)
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise MedicationProblem("minutes: a whole number")
        at = reminders.snooze(conn, ctx, dose_key=_text(body, "dose") or "", minutes=minutes)
        return {"dose": body["dose"], "remind_at": format_instant(at)}

    return await _answer(request, work, with_body=True)


@router.post("/prescriptions/{request_id}/renew", summary="Ask the prescriber to renew")
async def renew(request: Request, request_id: str) -> JSONResponse:
    """Ask the prescriber of a MedicationRequest to renew it (a Task to them); an open request is returned again."""
    def work(conn: Any, ctx: AccessContext, body: dict[str, Any]) -> dict[str, Any]:
        task = supply.request_renewal(conn, ctx, request_id=request_id[:64], note=_text(body, "note", required=False))
        return {"task": f"Task/{task.get('id')}", "status": task.get("status"),
                "owner": (task.get("owner") or {}).get("reference")}

    return await _answer(request, work, status=201, with_body=True)


@router.post("/statements", summary="Add a medicine I take")
async def add_statement(request: Request) -> JSONResponse:
    """Record a medicine the patient takes that no prescription here covers (`medicine`, optional `dose` text);
    answers with the warnings it raises against their conditions, allergies and other medicines."""
    zh = request.query_params.get("lang") == "zh-Hans"

    def work(conn: Any, ctx: AccessContext, body: dict[str, Any]) -> dict[str, Any]:
        stored, found = service.add_statement(conn, ctx, patient_id=_patient(request, ctx),
                                              medicine=_text(body, "medicine") or "",
                                              dose=_text(body, "dose", required=False))
        return {"statement": f"MedicationStatement/{stored.get('id')}", "warnings": [
            {"rule": w.rule, "severity": w.severity, "summary": w.summary_zh if zh else w.summary_en,
             "why": w.detail_zh if zh else w.detail_en, "advice": w.advice_zh if zh else w.advice_en,
             "source": w.source} for w in found]}

    return await _answer(request, work, status=201, with_body=True)
