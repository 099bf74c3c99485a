"""The officers' review as JSON: the case-report list with filters, one report with its history and possible
duplicates (with its version as ETag), the acts guarded by If-Match, and the case investigation Questionnaire."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.regional.gate import require_dataset
from smartcare.regional.public_health import investigation, review

router = APIRouter(prefix="/api/public-health", tags=["public health"])
SURFACE = "console/public-health"
FILTERS = frozenset({"from", "to", "state", "disease", "district", "organization", "overdue", "duplicates", "page"})
MAX_BODY_FIELD = review.MAX_TEXT + 1


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers={**guard.NO_STORE,
                                                                                          **(headers or {})})


def _refused(refused: review.ReviewRefused) -> JSONResponse:
    if isinstance(refused, review.VersionConflict):
        return _error(412, "precondition-failed", str(refused))
    code = {404: "not-found", 409: "conflict"}.get(refused.status, "invalid")
    return _error(refused.status, code, str(refused))


def _caller(conn: Any, request: Request) -> Any:
    ctx = guard.api_caller(conn, request, SURFACE)
    require_dataset(ctx, review.CASE_REPORTS)
    return ctx


def _summary(report: review.Loaded, duplicates: list[review.PossibleDuplicate]) -> dict[str, Any]:
    facts = report.facts

    def instant(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": facts.id, "version": report.version, "state": facts.state, "status": report.resource.get("status"),
        "disease": facts.disease, "subtype": facts.subtype, "classification": facts.classification,
        "patient": facts.patient, "practitioner": facts.practitioner, "organization": facts.organization,
        "diagnosed_at": instant(facts.diagnosed_at), "onset": instant(facts.onset), "deadline": instant(facts.deadline),
        "submitted_at": instant(facts.submitted_at), "district": facts.district, "overdue": report.overdue,
        "duplicate_of": facts.duplicate_of,
        "possible_duplicates": [{"report": d.report.facts.id, "reason": d.reason} for d in duplicates],
    }


@router.get("/cases", summary="Case reports for review, with filters and possible duplicates")
def case_list(request: Request) -> JSONResponse:
    """Case reports, newest diagnosis first, PAGE_SIZE a page; public-health officers only, each listed is audited.

    Query: `from`, `to` (YYYY-MM-DD, the diagnosis day; default the last 90 days), `state`, `disease` (an id of the
    notifiable list), `district`, `organization` (Organization/id), `overdue` and `duplicates` (true), `page`.
    """
    with unit_of_work() as conn:
        ctx = _caller(conn, request)
        params = dict(request.query_params.items())
        if set(params) - FILTERS:
            return _error(400, "invalid", f"the case list takes only {', '.join(sorted(FILTERS))}")
        try:
            page = review.list_cases(conn, ctx=ctx, query=review.parse_query(params))
        except review.ReviewRefused as refused:
            return _refused(refused)
    return JSONResponse({"total": page.total, "page": page.page, "pages": page.pages,
                         "cases": [_summary(r, d) for r, d in page.rows]}, headers=guard.NO_STORE)


@router.get("/cases/{report_id}", summary="One case report with its history and possible duplicates")
def case_read(request: Request, report_id: str) -> JSONResponse:
    """One case report; its ETag is the version an act's If-Match must name."""
    with unit_of_work() as conn:
        ctx = _caller(conn, request)
        try:
            report, duplicates = review.read_case(conn, ctx=ctx, report_id=report_id[:80])
        except review.ReviewRefused as refused:
            return _refused(refused)
        history = [{"version": h.version, "when": h.when, "act": h.act, "state": h.state, "by": h.by, "note": h.note}
                   for h in review.state_history(conn, report)]
    body = {**_summary(report, duplicates), "history": history,
            "recorded_duplicates": review.recorded_duplicates(report.resource)}
    return JSONResponse(body, headers={**guard.NO_STORE, "ETag": f'W/"{report.version}"'})


def _if_match(request: Request) -> int | None:
    """The version an If-Match header names (W/"3" or "3"); None when it names none."""
    value = request.headers.get("if-match", "").strip().removeprefix("W/").strip('"')
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


@router.post("/cases/{report_id}/{act_name}", summary="Verify, request a correction, mark a duplicate or close")
async def case_act(request: Request, report_id: str, act_name: str) -> JSONResponse:
    """An officer's act on the version If-Match names. Body (JSON): `text` (the correction asked, or a note),
    `outcome` (to close), `kept` (the report a duplicate duplicates). 412 when the report changed since, 409 when its
    state does not allow the act, 428 without If-Match."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    return await run_in_threadpool(_act, request, report_id[:80], act_name[:40], body)


def _act(request: Request, report_id: str, act_name: str, body: Any) -> JSONResponse:
    with unit_of_work() as conn:
        ctx = _caller(conn, request)
    if not isinstance(body, dict) or not all(isinstance(v, str) and len(v) <= MAX_BODY_FIELD
                                             for v in body.values()):
        return _error(400, "invalid", f"the body is a JSON object of texts of at most {review.MAX_TEXT} characters")
    if "if-match" not in request.headers:
        return _error(428, "precondition-required", "send If-Match with the version (ETag) of the report you read")
    version = _if_match(request)
    if version is None:
        return _error(400, "invalid", 'If-Match names a version, like W/"3"')
    try:
        with unit_of_work() as conn:
            report = review.act(conn, ctx=ctx, report_id=report_id, act_name=act_name, seen_version=version,
                                text=body.get("text", ""), outcome=body.get("outcome", ""), kept_id=body.get("kept", ""))
    except review.ReviewRefused as refused:
        return _refused(refused)
    return JSONResponse(_summary(report, []), headers={**guard.NO_STORE, "ETag": f'W/"{report.version}"'})


@router.get("/questionnaires/case-investigation", summary="The case investigation form as a FHIR Questionnaire")
def investigation_questionnaire(request: Request) -> JSONResponse:
    """The case investigation form (data/investigation.yaml) as a FHIR R4 Questionnaire, for other systems to fill."""
    with unit_of_work() as conn:
        _caller(conn, request)
    return JSONResponse(investigation.questionnaire(), media_type="application/fhir+json")
