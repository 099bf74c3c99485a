"""Patient/$ihe-pdq: IHE PDQm (ITI-78) demographics query on the master patient index.

ITI-78 is a Patient search on a supplier's configurable base with the parameters below. SmartCare's
plain `GET /fhir/Patient?...` already is such a search over every institution's records; this operation
is the MPI's supplier: the same search (run by the store, so the access policy limits it in SQL and the
audit trail records it), each Patient found given `link` elements (type `seealso`) to the other source
records of its golden identity, and those records included in the Bundle (search mode `include`),
so a consumer sees one resident across institutions. It answers `GET Patient/$ihe-pdq?family=...` and
`POST Patient/$ihe-pdq` with a form body; `:exact` works on the string parameters, parameters outside
PDQm are refused (they would silently widen or narrow the query), and paging is by `_count`/`_offset`.
"""

from typing import Any
from urllib.parse import urlencode

from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import BadRequest, FhirError
from smartcare.fhir.http import FhirRequest, FhirResponse
from smartcare.fhir.interactions import dispatch
from smartcare.fhir.operations import operation
from smartcare.platform.security.context import AccessContext
from smartcare.regional.mpi import service

# ITI-78's search parameters (mothersMaidenName has no search parameter in this server's R4 set).
STRING_PARAMETERS = frozenset({"family", "given", "address", "address-city", "address-country", "address-postalcode",
                               "address-state"})
OTHER_PARAMETERS = frozenset({"_id", "active", "identifier", "telecom", "birthdate", "gender"})
PAGING = frozenset({"_count", "_offset"})
MAX_VALUE = 200
MAX_PARAMETERS = 20
DEFAULT_COUNT, MAX_COUNT = 20, 100
SEEALSO = "seealso"


def _criteria(query: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], int, int]:
    """The PDQm criteria of a query, and its page (count, offset); BadRequest for anything else."""
    criteria, count, offset = [], DEFAULT_COUNT, 0
    if len(query) > MAX_PARAMETERS:
        raise BadRequest(f"$ihe-pdq takes at most {MAX_PARAMETERS} parameters")
    for name, value in query:
        base, _, modifier = name.partition(":")
        if len(value) > MAX_VALUE:
            raise BadRequest(f"the value of {name[:40]} is over {MAX_VALUE} characters")
        if base in PAGING:
            if not value.isdigit() or (base == "_count" and not 1 <= int(value) <= MAX_COUNT):
                raise BadRequest(f"_count is a whole number from 1 to {MAX_COUNT}, _offset a whole number")
            count, offset = (int(value), offset) if base == "_count" else (count, int(value))
        elif base in STRING_PARAMETERS and modifier in ("", "exact"):
            criteria.append((name, value))
        elif base in OTHER_PARAMETERS and not modifier:
            criteria.append((name, value))
        else:
            raise BadRequest(f"{name[:40]} is not a PDQm (ITI-78) search parameter; use family, given, birthdate, "
                             "gender, identifier, telecom, address (-city, -postalcode, -state, -country), active "
                             "or _id, with :exact on the string ones")
        if not value.strip():
            raise BadRequest(f"{name[:40]} has an empty value")
    if not criteria:
        raise BadRequest("$ihe-pdq needs at least one demographic criterion, e.g. family=王&birthdate=1970-01-01")
    return criteria, count, offset


def _readable(conn: Connection, ctx: AccessContext, source: str) -> dict[str, Any] | None:
    try:
        return store.read(conn, ctx, res_type="Patient", res_id=source.removeprefix("Patient/")).resource
    except FhirError as error:
        if error.status in (403, 404, 410):
            return None
        raise


def _linked(conn: Connection, ctx: AccessContext, patient: dict[str, Any],
            included: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The Patient with seealso links to the other records of its identity that the caller may read."""
    source = f"Patient/{patient['id']}"
    identity = service.identity_of(conn, source)
    others = [s for s in service.sources_of(conn, identity) if s != source] if identity else []
    links = list(patient.get("link") or [])
    for other in others:
        found = included.get(other) or _readable(conn, ctx, other)
        if found is None:
            continue
        included[other] = found
        links.append({"other": {"reference": other}, "type": SEEALSO})
    return {**patient, "link": links} if links else patient


def _url(req: FhirRequest, criteria: list[tuple[str, str]], count: int, offset: int) -> str:
    return f"{req.base_url}/Patient/$ihe-pdq?" + urlencode([*criteria, ("_count", count), ("_offset", offset)])


@operation("ihe-pdq")
def ihe_pdq(conn: Connection, ctx: AccessContext, req: FhirRequest, target: list[str]) -> FhirResponse:
    """GET Patient/$ihe-pdq?family=...&birthdate=...: matching Patients with their identity's other records."""
    if req.method not in ("GET", "POST") or target != ["Patient"]:
        raise BadRequest("$ihe-pdq is GET (or POST, form-encoded) Patient/$ihe-pdq?<PDQm parameters>")
    query = list(req.query)
    if req.method == "POST":
        if req.body is not None and not isinstance(req.body, list):
            raise BadRequest("POST $ihe-pdq takes its parameters form-encoded (application/x-www-form-urlencoded)")
        query += req.body or []
    criteria, count, offset = _criteria(query)
    found = dispatch(conn, ctx, FhirRequest(
        method="GET", path="Patient", base_url=req.base_url,
        query=[*criteria, ("_count", str(count)), ("_offset", str(offset)), ("_total", "accurate"),
               ("_sort", "_id")])).body or {}
    matches = [e["resource"] for e in found.get("entry", []) if e.get("search", {}).get("mode") == "match"]
    included: dict[str, dict[str, Any]] = {}
    entries = [{"fullUrl": f"{req.base_url}/Patient/{p['id']}", "resource": _linked(conn, ctx, p, included),
                "search": {"mode": "match"}} for p in matches]
    matched = {f"Patient/{p['id']}" for p in matches}
    entries += [{"fullUrl": f"{req.base_url}/{source}", "resource": resource, "search": {"mode": "include"}}
                for source, resource in sorted(included.items()) if source not in matched]
    total = int(found.get("total", len(matches)))
    links = [{"relation": "self", "url": _url(req, criteria, count, offset)}]
    if offset + count < total:
        links.append({"relation": "next", "url": _url(req, criteria, count, offset + count)})
    return FhirResponse(200, {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links,
                              "entry": entries})
