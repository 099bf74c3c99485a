"""Patient/[id]/$import-summary: add the records of an IPS (or another Bundle about the patient) to their file.

Named $import-summary rather than $import because Bulk Data's $import is a system-level load of NDJSON
files with other rules; this one takes one Bundle about one person, checks it whole and writes it all
or nothing (smartcare/fhir/ips/importer.py).
"""

from sqlalchemy.engine import Connection

from smartcare.fhir.errors import BadRequest
from smartcare.fhir.http import FhirRequest, FhirResponse
from smartcare.fhir.ips.importer import import_bundle
from smartcare.fhir.operations import operation
from smartcare.platform.security.context import AccessContext

# Where records come from when the caller does not say: uploaded by the person (or a system) through this API.
DEFAULT_SOURCE = "urn:smartcare:import:fhir-api"


@operation("import-summary")
def import_summary(conn: Connection, ctx: AccessContext, req: FhirRequest, target: list[str]) -> FhirResponse:
    """POST Patient/[id]/$import-summary[?source=uri] with the Bundle as the body: a Parameters of counts."""
    if req.method != "POST" or len(target) != 2 or target[0] != "Patient":
        raise BadRequest("$import-summary is POST Patient/[id]/$import-summary with a Bundle as the body")
    source = dict(req.query).get("source") or DEFAULT_SOURCE
    counts = import_bundle(conn, ctx, req.body, patient_ref=f"Patient/{target[1]}", source=source)
    parameters = [{"name": "total", "valueInteger": sum(counts.values())}]
    parameters += [{"name": "imported", "part": [{"name": "type", "valueCode": kind},
                                                 {"name": "count", "valueInteger": n}]} for kind, n in counts.items()]
    return FhirResponse(200, {"resourceType": "Parameters", "parameter": parameters})
