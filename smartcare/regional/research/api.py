"""The research JSON API: the de-identified dataset by pages, and projects' k-anonymous extracts with their risk reports."""

from dataclasses import asdict
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import AccessDenied
from smartcare.platform.web import guard
from smartcare.regional.gate import require_dataset
from smartcare.regional.research import extract, projects, service
from smartcare.regional.research.schemas import AgreementIn

router = APIRouter(prefix="/api/research", tags=["research"])

SURFACE = "console/research"
# Agreements are recorded by the regional administrator, from the console; the service decides the role.
AGREEMENT_SURFACE = "console"
NDJSON = "application/fhir+ndjson"


def invalid(exc: ValueError) -> JSONResponse:
    """A 400 answer naming what to change in the request."""
    return JSONResponse({"error": "invalid", "message": str(exc)}, status_code=400, headers=guard.NO_STORE)


@router.get("/dataset", summary="De-identified records (NDJSON)")
def dataset(request: Request) -> Response:
    """One page of de-identified records of one type, optionally of one code, as NDJSON.

    Query: `type` (Patient, Observation, Condition, Encounter, MedicationRequest, Procedure,
    Immunization, AllergyIntolerance, DiagnosticReport), `code` (`system|code` or `code`),
    `offset` and `limit` (at most 1000). A `Link: <...>; rel="next"` header points to the next page.
    Researchers only; every page is written to the audit trail with its count.
    """
    with unit_of_work() as conn:
        ctx = guard.api_caller(conn, request, SURFACE)
        require_dataset(ctx, service.DATASET)
        try:
            query = service.parse_query(request.query_params.multi_items())
        except service.DatasetRequestInvalid as exc:
            return invalid(exc)
        page = service.extract(conn, ctx=ctx, query=query)
    headers = {**guard.NO_STORE, "Content-Disposition": f'attachment; filename="deidentified-{query.res_type}.ndjson"'}
    if page.next_offset is not None:
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "offset"]
        headers["Link"] = f'<{request.url.path}?{urlencode([*kept, ("offset", str(page.next_offset))])}>; rel="next"'
    body = b"".join(orjson.dumps(resource) + b"\n" for resource in page.resources)
    return Response(body, media_type=NDJSON, headers=headers)


def refused(conn: Connection, ctx: AccessContext, project: str, exc: Exception) -> JSONResponse:
    """A 403 answer saying why no data is released for the project; the refusal is audited."""
    entities = [f"ResearchStudy/{project}"] if projects.valid_id(project) else []
    audit.record(conn, ctx=ctx, action="R", subtype="access-refused", outcome="4", purpose=service.PURPOSE,
                 entities=entities, description=str(exc))
    return JSONResponse({"error": "no-agreement", "message": str(exc)}, status_code=403, headers=guard.NO_STORE)


@router.get("/projects", summary="The researcher's projects and their data-use agreements")
def project_list(request: Request) -> JSONResponse:
    """Every research project whose data-use agreement names the caller, with its term and record types."""
    with unit_of_work() as conn:
        ctx = guard.api_caller(conn, request, SURFACE)
        require_dataset(ctx, service.DATASET)
        agreements = projects.agreements_of(conn, ctx=ctx)
    return JSONResponse({"projects": [asdict(a) for a in agreements]}, headers=guard.NO_STORE)


@router.get("/projects/{project}/extract", summary="A project's de-identified, k-anonymous extract (NDJSON)")
def project_extract(project: str, request: Request) -> Response:
    """Every record type the project's data-use agreement lists, de-identified, as one NDJSON stream.

    Query: `dates` (`shift`, the default: each person's dates moved by their own number of days,
    keeping intervals; or `year`: dates cut to the year), `max_shift` (days, 1 to 365, default 182),
    `cohort` (a Condition code: only patients with it). Patients whose age band, sex and place are
    shared by fewer than 5 people are left out with all their records. Refused (403, with the reason)
    without an executed data-use agreement in force that names the caller. The release is audited with
    its counts per type, the project and the agreement.
    """
    with unit_of_work() as conn:
        ctx = guard.api_caller(conn, request, SURFACE)
        require_dataset(ctx, service.DATASET)
        try:
            asked = extract.parse_request(request.query_params.multi_items())
            built = extract.build(conn, ctx=ctx, project=project, request=asked)
        except (extract.ExtractInvalid, extract.ExtractTooLarge) as exc:
            return invalid(exc)
        except projects.ProjectRefused as exc:
            return refused(conn, ctx, project, exc)
    headers = {**guard.NO_STORE, "Content-Disposition": f'attachment; filename="research-{project[:64]}.ndjson"'}
    body = b"".join(orjson.dumps(resource) + b"\n" for resource in built.resources)
    return Response(body, media_type=NDJSON, headers=headers)


@router.get("/projects/{project}/risk", summary="A project's extract: re-identification risk report and aggregates")
def project_risk(project: str, request: Request) -> JSONResponse:
    """The measured re-identification risk of the project's extract (before and after generalisation),
    what was generalised and suppressed, and aggregate counts with small cells hidden. Takes the same
    query as the extract; no record is released."""
    with unit_of_work() as conn:
        ctx = guard.api_caller(conn, request, SURFACE)
        require_dataset(ctx, service.DATASET)
        try:
            asked = extract.parse_request(request.query_params.multi_items())
            built = extract.build(conn, ctx=ctx, project=project, request=asked, release=False)
        except (extract.ExtractInvalid, extract.ExtractTooLarge) as exc:
            return invalid(exc)
        except projects.ProjectRefused as exc:
            return refused(conn, ctx, project, exc)
    return JSONResponse(extract.risk_report(built), headers=guard.NO_STORE)


MAX_AGREEMENT_BODY = 16_384


@router.post("/projects", summary="Record a research project and its data-use agreement", status_code=201)
async def record_agreement(request: Request) -> JSONResponse:
    """Record a project with its signed data-use agreement (FHIR ResearchStudy and Contract).

    Body: `{"title", "institution", "purpose", "number", "data_types": [record types], "researchers":
    [user names], "signed", "start", "end"}` (dates YYYY-MM-DD). Regional administrators only.
    """
    raw = await request.body()
    return await run_in_threadpool(_record_agreement, request, raw)


def _record_agreement(request: Request, raw: bytes) -> JSONResponse:
    with unit_of_work() as conn:
        ctx = guard.api_caller(conn, request, AGREEMENT_SURFACE)
        try:
            if len(raw) > MAX_AGREEMENT_BODY:
                raise projects.ProjectInvalid(f"the body is over {MAX_AGREEMENT_BODY} bytes")
            given = AgreementIn.model_validate_json(raw or b"{}")
            agreement = projects.register_project(conn, ctx=ctx, **given.model_dump())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            return invalid(ValueError(f"{where}: {first['msg']}"))
        except projects.ProjectInvalid as exc:
            return invalid(exc)
        except AccessDenied as exc:
            return JSONResponse({"error": "forbidden", "message": str(exc)}, status_code=403, headers=guard.NO_STORE)
    return JSONResponse(asdict(agreement), status_code=201, headers=guard.NO_STORE)
