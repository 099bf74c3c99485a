"""The monitoring JSON API under /api/v1/monitoring: alerts for other systems and the care team, and plans.

Callers are clinicians (a bearer token or the workstation's session with its CSRF header) and backend systems
(client tokens with `system/Task` scopes). Which alerts a caller sees is the access policy's decision, made by
the store: a doctor of another organisation sees none of a patient's alerts. Bad input is answered with problem
JSON (RFC 9457): `type`, `title`, `status`, `detail`.
"""

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from smartcare.family.monitoring import flows as _flows  # noqa: F401 (judges readings as they are stored)
from smartcare.family.monitoring import plans, service, special
from smartcare.fhir.errors import FhirError
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import guard

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"])
MAX_BODY = 8192
SURFACE = "workstation"
PROBLEM = "application/problem+json"
_TITLES = {400: "Bad request", 403: "Forbidden", 404: "Not found", 409: "Conflict", 413: "Body too large",
           412: "Precondition failed", 422: "Unprocessable"}


class Problem(Exception):
    """A request answered with problem JSON."""

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail, self.status = detail, status


class AcknowledgeRequest(BaseModel):
    """Taking an alert on, with an optional note."""

    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=service.MAX_TEXT)


class SnoozeRequest(BaseModel):
    """Putting an alert on hold for a while, with the reason."""

    model_config = ConfigDict(extra="forbid")
    minutes: int = Field(ge=1, le=7 * 24 * 60)
    reason: str = Field(min_length=1, max_length=service.MAX_TEXT)


class CloseRequest(BaseModel):
    """Closing an alert with the action taken."""

    model_config = ConfigDict(extra="forbid")
    action: str = Field(max_length=40)
    note: str | None = Field(default=None, max_length=service.MAX_TEXT)


class PlanRequest(BaseModel):
    """Assigning a monitoring plan from a template."""

    model_config = ConfigDict(extra="forbid")
    patient: str = Field(max_length=64)
    template: str = Field(max_length=40)
    adjustments: dict[str, dict[str, float]] = Field(default_factory=dict, max_length=20)
    caregivers: list[str] | None = Field(default=None, max_length=plans.MAX_REFERENCES)
    care_teams: list[str] | None = Field(default=None, max_length=plans.MAX_REFERENCES)


class CheckInRequest(BaseModel):
    """A daily check-in answer, from the person or their caregiver."""

    model_config = ConfigDict(extra="forbid")
    patient: str = Field(max_length=64)
    answer: str = Field(max_length=20)
    note: str | None = Field(default=None, max_length=special.MAX_NOTE)


class IsolationReportRequest(BaseModel):
    """A home-isolation report: temperature in °C and the symptoms felt."""

    model_config = ConfigDict(extra="forbid")
    patient: str = Field(max_length=64)
    temperature: float
    symptoms: list[str] = Field(default_factory=list, max_length=20)


def _problem(status: int, detail: str) -> JSONResponse:
    body = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status, "detail": detail[:500]}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=guard.NO_STORE)


def _caller(request: Request) -> AccessContext:
    """A clinician allowed into the workstation, or a backend system (its scopes decide in the store)."""
    with unit_of_work() as conn:
        try:
            return guard.api_caller(conn, request, SURFACE)
        except guard.SurfaceForbidden as exc:
            if exc.ctx is not None and exc.ctx.kind == "client":
                return exc.ctx
            raise


def _reporter(request: Request) -> AccessContext:
    """A patient or caregiver in the app, or else a clinician (recording for them) or a backend system."""
    with unit_of_work() as conn:
        try:
            return guard.api_caller(conn, request, "app")
        except guard.SurfaceForbidden as exc:
            if exc.ctx is None:
                raise
    return _caller(request)


async def _body(request: Request, model: type[BaseModel]) -> Any:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise Problem(f"the body is over {MAX_BODY} bytes", 413)
        chunks.append(chunk)
    try:
        return model.model_validate(orjson.loads(b"".join(chunks) or b"{}"))
    except orjson.JSONDecodeError:
        raise Problem("the body must be a JSON object") from None
    except ValidationError as exc:
        raise Problem("; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
                                for e in exc.errors()[:3])) from None


async def _answer(request: Request, model: type[BaseModel] | None, work: Callable[[AccessContext, Any], Any],
                  status: int = 200, caller: Callable[[Request], AccessContext] = _caller) -> JSONResponse:
    try:
        ctx = await run_in_threadpool(caller, request)
        given = await _body(request, model) if model is not None else None
        result = await run_in_threadpool(work, ctx, given)
    except Problem as exc:
        return _problem(exc.status, exc.detail)
    except (service.AlertError, plans.PlanError, special.ReportError) as exc:
        return _problem(getattr(exc, "status", 400), str(exc))
    except FhirError as exc:
        return _problem(exc.status, exc.message)
    return JSONResponse(result, status_code=status, headers=guard.NO_STORE)


@router.get("/alerts", summary="Monitoring alerts, filtered by patient, severity and state")
async def list_alerts(request: Request, patient: str | None = None, severity: str | None = None,
                      state: str | None = None) -> JSONResponse:
    """Alerts of the patients the caller may see, newest first: `patient` (a Patient id), `severity` (routine,
    urgent, asap, stat), `state` (open, new, acknowledged, snoozed, closed)."""
    def work(ctx: AccessContext, _: Any) -> dict[str, Any]:
        return {"alerts": service.list_alerts(ctx, patient=patient, severity=severity, state=state)}

    return await _answer(request, None, work)


@router.post("/alerts/{alert_id}/acknowledge", summary="Acknowledge an alert (stops its escalation)")
async def acknowledge(request: Request, alert_id: str) -> JSONResponse:
    """The caller takes the alert on; it is theirs now and is not escalated any further."""
    return await _answer(request, AcknowledgeRequest, lambda ctx, body: service.shown(
        service.acknowledge(ctx, alert_id=alert_id[:65], note=body.note)))


@router.post("/alerts/{alert_id}/snooze", summary="Snooze an alert with a reason")
async def snooze(request: Request, alert_id: str) -> JSONResponse:
    """Put the alert on hold for `minutes` with a `reason`; it comes back to its owner when the time is up."""
    return await _answer(request, SnoozeRequest, lambda ctx, body: service.shown(
        service.snooze(ctx, alert_id=alert_id[:65], minutes=body.minutes, reason=body.reason)))


@router.post("/alerts/{alert_id}/close", summary="Close an alert with the action taken")
async def close(request: Request, alert_id: str) -> JSONResponse:
    """Close the alert with `action` (phone-call, video-visit, home-visit, emergency-referral) and a `note`."""
    return await _answer(request, CloseRequest, lambda ctx, body: service.shown(
        service.close(ctx, alert_id=alert_id[:65], action=body.action, note=body.note)))


@router.post("/plans", summary="Assign a monitoring plan from a template")
async def assign_plan(request: Request) -> JSONResponse:
    """Give a `patient` the plan of `template`, with the care team's threshold `adjustments`, the designated
    `caregivers` (RelatedPerson/<id>) and `care_teams` (CareTeam/<id>); returns the CarePlan."""
    return await _answer(request, PlanRequest, lambda ctx, body: plans.assign_plan(
        ctx, patient_id=body.patient, template_name=body.template, adjustments=body.adjustments,
        caregivers=body.caregivers, care_teams=body.care_teams), status=201)


@router.post("/check-ins", summary="Answer the daily check-in (the person or their caregiver)")
async def check_in(request: Request) -> JSONResponse:
    """Record the `answer` (well or need-help) for `patient`, with a `note`; asking for help raises an alert."""
    return await _answer(request, CheckInRequest, lambda ctx, body: special.record_check_in(
        ctx, patient_id=body.patient, answer=body.answer, note=body.note), status=201, caller=_reporter)


@router.post("/isolation-reports", summary="Report temperature and symptoms from home isolation")
async def isolation_report(request: Request) -> JSONResponse:
    """Record `temperature` (°C) and `symptoms` for `patient`; public health is told through an IsolationReport
    event, and a fever raises an alert for the care team."""
    return await _answer(request, IsolationReportRequest, lambda ctx, body: special.record_isolation_report(
        ctx, patient_id=body.patient, temperature=body.temperature, symptoms=body.symptoms), status=201,
        caller=_reporter)
