"""The research JSON API: a researcher's de-identified dataset as NDJSON, one capped page per request."""

from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.regional.gate import require_dataset
from smartcare.regional.research import service

router = APIRouter(prefix="/api/research", tags=["research"])

SURFACE = "console/research"
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
