"""$validate: check a resource against R4 without storing it; the answer is an OperationOutcome."""

from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import BadRequest, FhirError, information_outcome
from smartcare.fhir.http import FhirRequest, FhirResponse
from smartcare.fhir.operations import operation
from smartcare.platform.security.context import AccessContext


@operation("validate")
def validate(conn: Connection, ctx: AccessContext, req: FhirRequest, target: list[str]) -> FhirResponse:
    """POST [type]/$validate (or [type]/[id]/$validate) with a resource or a Parameters holding one."""
    if req.method != "POST" or not target:
        raise BadRequest("$validate is POST [type]/$validate with the resource as the body")
    res_type = target[0]
    store.check_type(res_type)
    body = req.body
    if isinstance(body, dict) and body.get("resourceType") == "Parameters" and res_type != "Parameters":
        found = [p.get("resource") for p in body.get("parameter", []) if p.get("name") == "resource"]
        if not found:
            raise BadRequest("The Parameters must hold a 'resource' parameter")
        body = found[0]
    try:
        store.validate(body, res_type=res_type)
    except FhirError as exc:
        return FhirResponse(200, exc.outcome())
    return FhirResponse(200, information_outcome(f"The {res_type} is valid FHIR R4"))
