"""The one-shot triage API for kiosks, the regional hotline and other systems: POST /api/v1/triage/assess.

No sign-in and nothing stored: the request is triaged and forgotten. Input is bounded (body size, text length,
number of answers); bad input gets a JSON problem with a 4xx status, never a 500.
"""

from dataclasses import asdict
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from smartcare.knowledge import triage
from smartcare.patient.triage.schemas import AssessRequest, AssessResult, Problem

router = APIRouter(prefix="/api/v1/triage", tags=["triage"])
MAX_BODY = 32 * 1024
NO_STORE = {"Cache-Control": "no-store"}


class AssessRefused(Exception):
    """A request that cannot be triaged as sent: status, error code and message."""

    def __init__(self, message: str, *, status: int = 422, code: str = "invalid") -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


def _result(a: triage.Assessment) -> dict[str, Any]:
    body = asdict(a)
    body["call_emergency"] = a.call_emergency
    body["provisional"] = a.provisional
    for q in [*body["follow_up"], *body["safety_screen_pending"]]:
        for name in ("symptom", "fact", "priority", "ask_when"):
            q.pop(name)
    return AssessResult.model_validate(body).model_dump(mode="json")


def _assess(raw: bytes) -> dict[str, Any]:
    try:
        asked = AssessRequest.model_validate(orjson.loads(raw or b"null"))
    except orjson.JSONDecodeError:
        raise AssessRefused("the body must be a JSON object", status=400) from None
    except ValidationError as exc:
        raise AssessRefused("; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
                                      for e in exc.errors()[:3])[:400]) from None
    if not asked.text.strip():
        raise AssessRefused("text: describe the problem in a few words")
    sex = asked.sex if asked.sex in ("female", "male") else None
    presentation = triage.Presentation(text=asked.text, age_years=asked.age, age_months=asked.age_months, sex=sex,
                                       pregnant=asked.pregnant, answers=asked.answers)
    try:
        return _result(triage.assess(presentation))
    except triage.AnswerError as exc:
        raise AssessRefused(f"answers: {exc}"[:400]) from None


@router.post("/assess", response_model=AssessResult, summary="Triage a chief complaint",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": AssessRequest.model_json_schema()}}}},
             responses={400: {"model": Problem, "description": "The body is not a JSON object"},
                        413: {"model": Problem, "description": "The body is too large"},
                        422: {"model": Problem, "description": "A field is missing, too long or out of range, or an "
                                                               "answer does not fit its question"}})
async def assess(request: Request) -> JSONResponse:
    """Triage free text (English or Chinese, a patient's words or a clinician's summary) with optional age, sex,
    pregnancy and answers to follow-up questions. Red flags come first: any red flag gives level `emergency` with
    `call_emergency` true and the first-aid guides to open. Otherwise the level is modelled on the Emergency Severity
    Index (ESI v4) and the Manchester Triage System: `urgent` (today), `routine` (within days) or `self_care`. The
    result lists departments with reasons, conditions to discuss (never a diagnosis), every rule that fired with the
    findings behind it and its source, and follow-up questions whose answers (sent back in `answers`) refine it.
    A level below emergency is `provisional` while `safety_screen_pending` lists safety questions (breathing, chest
    pain, stroke signs, drowsiness, bleeding, thoughts of self-harm) not yet answered, or `not_understood` lists parts
    of the text nothing was recognised in: ask those questions before acting on the level, since words can hide a red
    flag that a direct question finds.
    No sign-in is needed and nothing is stored. Advice that supports, never replaces, a clinician's judgement."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return JSONResponse({"error": "too-large", "message": f"the body is over {MAX_BODY} bytes"}, status_code=413,
                            headers=NO_STORE)
    try:
        return JSONResponse(await run_in_threadpool(_assess, raw), headers=NO_STORE)
    except AssessRefused as exc:
        return JSONResponse({"error": exc.code, "message": exc.message}, status_code=exc.status, headers=NO_STORE)
