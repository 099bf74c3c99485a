"""Prefetch: the data a CDS service needs, taken from the request or read from the FHIR store.

The client may send each prefetch template's result with the call; what it leaves out (or sends as
null) is read through the FHIR gateway as the caller, or as the holder of the request's
fhirAuthorization token, so the access policy decides and every read is audited. SmartCare reads only
its own FHIR server: a request naming another fhirServer must bring its prefetch.
"""

import re
from collections.abc import Callable
from typing import Any

from smartcare.fhir.errors import FhirError
from smartcare.hospital.pharmacy import records
from smartcare.platform.security.context import AccessContext

_TOKEN = re.compile(r"\{\{\s*([A-Za-z.]+)\s*\}\}")
_MAX_RESOURCES = 2000

# Reads several queries ({key: "Type?params" or "Type/id"}) at once and answers their resources by key.
Fetch = Callable[[dict[str, str]], dict[str, list[dict[str, Any]]]]


class PrefetchProblem(Exception):
    """The prefetch sent is malformed (400) or the data cannot be had (412, CDS Hooks 2.0)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def render(template: str, context: dict[str, Any]) -> str:
    """A prefetch template with its {{context.x}} tokens filled from the (validated) hook context."""
    def value(match: re.Match) -> str:
        name = match.group(1)
        if not name.startswith("context."):
            raise PrefetchProblem(f"prefetch token {name} is not supported", status=412)
        found = context.get(name.removeprefix("context."))
        if not isinstance(found, str):
            raise PrefetchProblem(f"the context has no {name} for the prefetch", status=412)
        return found
    return _TOKEN.sub(value, template)


def resources_of(value: Any, *, key: str) -> list[dict[str, Any]]:
    """The resources in one prefetch value: a searchset Bundle's entries or a single resource."""
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        raise PrefetchProblem(f"prefetch {key} must be a FHIR resource or Bundle", status=400)
    if value["resourceType"] != "Bundle":
        return [value]
    entries = value.get("entry") or []
    if not isinstance(entries, list) or len(entries) > _MAX_RESOURCES:
        raise PrefetchProblem(f"prefetch {key}: entry must be a list of at most {_MAX_RESOURCES}", status=400)
    found = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise PrefetchProblem(f"prefetch {key}: every entry needs a resource", status=400)
        if resource["resourceType"] != "OperationOutcome":
            found.append(resource)
    return found


def gateway_fetch(ctx: AccessContext) -> Fetch:
    """Reads prefetch queries through the FHIR gateway as ctx in one transaction (policy-checked and audited)."""
    def fetch(queries: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
        try:
            return records.read_queries(ctx, queries)
        except FhirError as exc:
            # A record out of reach reads as not found; either way the service cannot see what it needs.
            raise PrefetchProblem(f"reading the record was refused: {exc.message}", status=412) from exc
    return fetch


def resolve(templates: dict[str, str], *, sent: dict[str, Any] | None, context: dict[str, Any],
            fetch: Fetch | None) -> dict[str, list[dict[str, Any]]]:
    """Each prefetch key's resources: what the client sent, else read with fetch (412 when it cannot)."""
    found: dict[str, list[dict[str, Any]]] = {}
    missing: dict[str, str] = {}
    sent = sent or {}
    for key, template in templates.items():
        if sent.get(key) is not None:
            found[key] = resources_of(sent[key], key=key)
        else:
            missing[key] = render(template, context)
    if missing:
        if fetch is None:
            raise PrefetchProblem(f"prefetch {sorted(missing)[0]} is missing and this service can read only its own "
                                  "FHIR server", status=412)
        found.update(fetch(missing))
    return found
