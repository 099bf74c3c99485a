"""The MPI over FHIR: Patient/$match (FHIR R4) and Patient/$ihe-pix (IHE PIXm identifier cross-reference); the
PDQm demographics query Patient/$ihe-pdq lives in pdqm.py and is registered by this module's import.

Both answer only with Patients the caller may read (each is read through the store under the access
policy), and bad input with an OperationOutcome. Importing this module also subscribes the MPI to Patient
writes (jobs.py), so the web process that stores Patients enqueues their matching.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import access, store
from smartcare.fhir import tables as t
from smartcare.fhir.errors import BadRequest, FhirError, NotFound
from smartcare.fhir.http import FhirRequest, FhirResponse
from smartcare.fhir.operations import operation
from smartcare.platform.security.context import AccessContext
from smartcare.regional.mpi import jobs, pdqm, service  # noqa: F401  (jobs subscribes to Patient writes; pdqm registers)
from smartcare.regional.mpi.service import Candidate

MATCH_GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"
MAX_COUNT = 100
DEFAULT_COUNT = 10
MAX_IDENTIFIER = 255


def _parameters(body: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("$match takes a Parameters resource in the body")
    found: dict[str, dict[str, Any]] = {}
    for parameter in body.get("parameter") or []:
        if isinstance(parameter, dict) and isinstance(parameter.get("name"), str):
            found.setdefault(parameter["name"], parameter)
    return found


def _count(parameter: dict[str, Any] | None) -> int:
    if parameter is None:
        return DEFAULT_COUNT
    value = parameter.get("valueInteger")
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_COUNT:
        raise BadRequest(f"count must be an integer from 1 to {MAX_COUNT}")
    return value


def _only_certain(parameter: dict[str, Any] | None) -> bool:
    if parameter is None:
        return False
    value = parameter.get("valueBoolean")
    if not isinstance(value, bool):
        raise BadRequest("onlyCertainMatches must be a boolean")
    return value


def match_grade(candidate: Candidate, *, conflicting: bool) -> str:
    """The FHIR match-grade code for a scored candidate."""
    limits = service.thresholds()
    if conflicting:
        return "certainly-not"
    if candidate.deterministic or candidate.probability >= limits.auto_link:
        return "certain"
    if candidate.probability >= limits.review:
        return "probable"
    return "possible"


def _readable(conn: Connection, ctx: AccessContext, source: str) -> dict[str, Any] | None:
    try:
        return store.read(conn, ctx, res_type="Patient", res_id=source.removeprefix("Patient/")).resource
    except FhirError as error:
        if error.status in (403, 404, 410):
            return None
        raise


@operation("match")
def match(conn: Connection, ctx: AccessContext, req: FhirRequest, target: list[str]) -> FhirResponse:
    """POST Patient/$match: the known Patients most likely to be the person described, best first."""
    if req.method != "POST" or target != ["Patient"]:
        raise BadRequest("$match is POST Patient/$match with a Parameters body")
    access.decision(ctx, "search", "Patient")
    parameters = _parameters(req.body)
    resource = (parameters.get("resource") or {}).get("resource")
    if not isinstance(resource, dict):
        raise BadRequest("$match needs a 'resource' parameter holding a Patient")
    count, only_certain = _count(parameters.get("count")), _only_certain(parameters.get("onlyCertainMatches"))
    try:
        record, candidates = service.search(conn, ctx, resource)
    except service.MatchError as error:
        raise BadRequest(str(error)) from None
    entries = []
    for candidate in candidates:
        grade = match_grade(candidate, conflicting=service.conflicting_ids(record, candidate.person))
        if grade == "certainly-not" or (only_certain and grade != "certain"):
            continue
        patient = _readable(conn, ctx, candidate.source)
        if patient is None:
            continue
        entries.append({
            "fullUrl": f"{req.base_url}/{candidate.source}", "resource": patient,
            "search": {"mode": "match", "score": round(candidate.probability, 6),
                       "extension": [{"url": MATCH_GRADE, "valueCode": grade}]},
        })
        if len(entries) >= count:
            break
    if only_certain and len(entries) > 1:
        entries = entries[:1]  # FHIR: with onlyCertainMatches the server returns the one match to use
    return FhirResponse(200, {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries})


def _source_identifier(req: FhirRequest) -> tuple[str, str]:
    values = [v for k, v in req.query if k == "sourceIdentifier"]
    if len(values) != 1:
        raise BadRequest("$ihe-pix needs exactly one sourceIdentifier=system|value")
    system, bar, value = values[0].partition("|")
    if not bar or not system or not value or len(system) > MAX_IDENTIFIER or len(value) > MAX_IDENTIFIER:
        raise BadRequest("sourceIdentifier must be system|value, each 1-255 characters")
    return system, value


def _patients_with(conn: Connection, system: str, value: str) -> list[str]:
    tok, res = t.idx_token.c, t.resource.c
    rows = conn.execute(
        sa.select(res.res_id).join(t.idx_token, tok.res_pk == res.pk).where(
            tok.res_type == "Patient", tok.param == "identifier", tok.system == system, tok.code == value,
            res.deleted.is_(False))
    ).scalars()
    return sorted(set(rows))


@operation("ihe-pix")
def ihe_pix(conn: Connection, ctx: AccessContext, req: FhirRequest, target: list[str]) -> FhirResponse:
    """GET Patient/$ihe-pix?sourceIdentifier=system|value[&targetSystem=...]: the person's ids elsewhere."""
    if req.method != "GET" or target != ["Patient"]:
        raise BadRequest("$ihe-pix is GET Patient/$ihe-pix?sourceIdentifier=system|value")
    access.decision(ctx, "search", "Patient")
    system, value = _source_identifier(req)
    target_systems = {s for k, v in req.query if k == "targetSystem" for s in v.split(",") if s}
    sources = [s for s in _patients_with(conn, system, value) if _readable(conn, ctx, f"Patient/{s}") is not None]
    if not sources:
        raise NotFound("no Patient with that sourceIdentifier is known (or within your access)")
    found: set[str] = set()
    for res_id in sources:
        identity = service.identity_of(conn, f"Patient/{res_id}")
        found.update(service.sources_of(conn, identity) if identity else [f"Patient/{res_id}"])
    parameters: list[dict[str, Any]] = []
    for source in sorted(found - {f"Patient/{s}" for s in sources}):
        patient = _readable(conn, ctx, source)
        if patient is None:
            continue
        for identifier in patient.get("identifier") or []:
            if identifier.get("system") != system and (not target_systems or identifier.get("system") in target_systems):
                parameters.append({"name": "targetIdentifier", "valueIdentifier": identifier})
        if not target_systems:
            parameters.append({"name": "targetId", "valueReference": {"reference": source}})
    return FhirResponse(200, {"resourceType": "Parameters", "parameter": parameters})
