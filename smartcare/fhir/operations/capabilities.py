"""The CapabilityStatement at /fhir/metadata, built from what the server really supports."""

from functools import lru_cache

from sqlalchemy.engine import Connection

from smartcare import __version__
from smartcare.fhir.http import FhirRequest, FhirResponse
from smartcare.fhir.operations import operation, registered
from smartcare.fhir.search.registry import params_for
from smartcare.fhir.validation import known_resource_types
from smartcare.platform.security.context import AccessContext

_INTERACTIONS = ["read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"]
_TYPE_OPS = {"everything": ["Patient"], "validate": None, "export": ["Patient", "Group"], "summary": ["Patient"],
             "import-summary": ["Patient"]}
# Operations not defined by the core specification, with where they are defined.
_DEFINED_ELSEWHERE = {"summary": "http://hl7.org/fhir/uv/ips/OperationDefinition/summary",
                      "import-summary": "https://smartcare.example/fhir/OperationDefinition/Patient-import-summary"}


@lru_cache(maxsize=4)
def capability_statement(base_url: str) -> dict:
    """Describe this server: every stored type, its interactions, search parameters and operations."""
    ops = registered()
    resources = []
    for res_type in sorted(known_resource_types()):
        entry = {
            "type": res_type,
            "versioning": "versioned",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalUpdate": True,
            "conditionalDelete": "single",
            "conditionalRead": "not-supported",
            "interaction": [{"code": c} for c in _INTERACTIONS],
            "searchInclude": ["*"],
            "searchRevInclude": ["*"],
            "searchParam": [
                {"name": code, "type": p.type} for code, p in sorted(params_for(res_type).items())
            ],
        }
        type_ops = [
            {"name": name, "definition": _DEFINED_ELSEWHERE.get(name,
                                                                f"http://hl7.org/fhir/OperationDefinition/{res_type}-{name}")}
            for name, types in _TYPE_OPS.items()
            if name in ops and (types is None or res_type in types)
        ]
        if type_ops:
            entry["operation"] = type_ops
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-26",
        "kind": "instance",
        "software": {"name": "SmartCare", "version": __version__},
        "implementation": {"description": "SmartCare FHIR R4 clinical data repository", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [
            {
                "mode": "server",
                "resource": resources,
                "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "history-system"}],
                "operation": [
                    {"name": name, "definition": f"http://hl7.org/fhir/OperationDefinition/{name}"}
                    for name in ops
                    if name == "export"
                ],
            }
        ],
    }


@operation("capabilities")
def metadata(conn: Connection, ctx: AccessContext, req: FhirRequest, target: list[str]) -> FhirResponse:
    """GET /metadata: the CapabilityStatement."""
    return FhirResponse(200, capability_statement(req.base_url))
