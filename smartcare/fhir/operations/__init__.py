"""FHIR operations ($everything, $export, $validate, metadata), one module per operation."""

from collections.abc import Callable

from sqlalchemy.engine import Connection

from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest, FhirResponse
from smartcare.platform.security.context import AccessContext

Operation = Callable[[Connection, AccessContext, FhirRequest, list[str]], FhirResponse]
_REGISTRY: dict[str, Operation] = {}


def operation(name: str) -> Callable[[Operation], Operation]:
    """Register the function that answers $name (at any level it supports)."""

    def register(fn: Operation) -> Operation:
        _REGISTRY[name] = fn
        return fn

    return register


def invoke(conn: Connection, ctx: AccessContext, req: FhirRequest, parts: list[str]) -> FhirResponse:
    """Run the operation named by the last path segment ([type]/[id]/$name, [type]/$name or $name)."""
    name = parts[-1][1:]
    fn = _REGISTRY.get(name)
    if fn is None:
        raise FhirError(f"The operation ${name[:60]} is not supported here", status=404)
    return fn(conn, ctx, req, parts[:-1])


def registered() -> list[str]:
    """Names of the operations this server answers (for the CapabilityStatement)."""
    return sorted(_REGISTRY)


# Each operation module registers itself on import.
from smartcare.fhir.operations import capabilities, everything, export, validate  # noqa: E402, F401, I001
from smartcare.fhir.operations import import_summary, summary  # noqa: E402, F401, I001
