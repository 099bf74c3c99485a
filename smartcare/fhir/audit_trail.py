"""Audit every FHIR interaction: one AuditEvent per patient whose records were touched.

Successful interactions are recorded in the same transaction that served them, so nothing is
answered without its audit entry; refused ones are recorded in a transaction of their own
(the request's own was rolled back). A search or bundle that touches several patients leaves
one entry per patient, so each patient's "who opened my record" list is complete; the records of a document
(an International Patient Summary) that name their patient by the Patient entry's fullUrl count for that patient. An entry for
a patient the caller reached only through a break-the-glass grant carries purpose of use BTG.
"""

import threading
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir.access import reached_through_grant
from smartcare.fhir.http import FhirRequest, FhirResponse
from smartcare.fhir.search.extract import extract_index_rows
from smartcare.fhir.search.registry import patient_compartment_params
from smartcare.platform.audit import record
from smartcare.platform.security.context import AccessContext

MAX_PATIENTS = 50
MAX_ENTITIES = 200
KEPT_VERSIONS = 20_000  # (type, id, version) -> patients of served resources, oldest dropped first
_PATIENTS_OF_VERSION: dict[tuple[str, str, str], frozenset[str]] = {}
_KEPT_LOCK = threading.Lock()


def classify(req: FhirRequest) -> tuple[str, str]:
    """The audit subtype and action (C/R/U/D/E) of a FHIR request."""
    parts = [p for p in req.path.strip("/").split("/") if p]
    if parts and parts[-1].startswith("$"):
        return ("export", "E") if parts[-1].startswith("$export") else ("operation", "E")
    if req.method == "GET":
        if "_history" in parts:
            return ("vread", "R") if len(parts) == 4 else ("history", "R")
        return ("read", "R") if len(parts) == 2 else ("search", "R")
    if req.method == "POST":
        if not parts:
            return "operation", "E"
        return ("search", "R") if parts[-1] == "_search" else ("create", "C")
    return {"PUT": ("update", "U"), "PATCH": ("patch", "U"), "DELETE": ("delete", "D")}.get(req.method, ("operation", "E"))


def _patients_of(resource: dict[str, Any]) -> set[str]:
    res_type = resource.get("resourceType")
    if res_type == "Patient" and resource.get("id"):
        return {str(resource["id"])}
    params = frozenset(patient_compartment_params(str(res_type)))
    if not params:
        return set()
    # A stored version never changes: its patients are worked out once (the FHIRPath of the compartment's
    # parameters took a third of the audit's time on a page of a patient's own records).
    version = (resource.get("meta") or {}).get("versionId")
    key = (res_type, resource.get("id"), version) if version and resource.get("id") else None
    if key is not None and (known := _PATIENTS_OF_VERSION.get(key)) is not None:
        return set(known)
    found = {
        row["target_id"] for row in extract_index_rows(resource, params=params).get("reference", [])
        if row["param"] in params and row["target_type"] == "Patient" and row["target_id"]
    }
    if key is not None:
        with _KEPT_LOCK:  # request threads share it
            if len(_PATIENTS_OF_VERSION) >= KEPT_VERSIONS:
                _PATIENTS_OF_VERSION.pop(next(iter(_PATIENTS_OF_VERSION)))  # the oldest kept
            _PATIENTS_OF_VERSION[key] = frozenset(found)
    return found


def forget_kept_patients() -> None:
    """Drop what _patients_of kept (tests reuse ids and versions in a fresh database)."""
    _PATIENTS_OF_VERSION.clear()


def _patient_urls(body: dict[str, Any] | None) -> dict[str, str]:
    """fullUrl -> Patient id of a Bundle's Patient entries (a document's records point at its patient by fullUrl)."""
    if not body or body.get("resourceType") != "Bundle":
        return {}
    found = {}
    for entry in body.get("entry", []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if (isinstance(resource, dict) and resource.get("resourceType") == "Patient" and resource.get("id")
                and isinstance(entry.get("fullUrl"), str)):
            found[entry["fullUrl"]] = str(resource["id"])
    return found


def _pointed_at(value: Any, urls: dict[str, str], found: set[str]) -> set[str]:
    """The patients of urls that references anywhere in value point at."""
    if isinstance(value, dict):
        reference = value.get("reference")
        if isinstance(reference, str) and reference in urls:
            found.add(urls[reference])
        for item in value.values():
            if isinstance(item, dict | list):
                _pointed_at(item, urls, found)
    elif isinstance(value, list):
        for item in value:
            _pointed_at(item, urls, found)
    return found


def _resources(body: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not body:
        return []
    if body.get("resourceType") == "Bundle":
        return [e["resource"] for e in body.get("entry", []) if isinstance(e.get("resource"), dict)]
    if body.get("resourceType") == "OperationOutcome":
        return []
    return [body]


def _target(req: FhirRequest) -> str:
    """What was asked for: the request path, written as a query ("path?params") for the audit entity."""
    return f"{req.path[:200] or '/'}?{req.query_string()[:300]}"


def _ref(resource: dict[str, Any]) -> str | None:
    if resource.get("resourceType") and resource.get("id"):
        return f"{resource['resourceType']}/{resource['id']}"
    return None


def record_served(conn: Connection, ctx: AccessContext, req: FhirRequest, resp: FhirResponse) -> None:
    """Record a served interaction inside its own transaction (one entry per patient touched)."""
    if ctx.is_system or ctx.kind == "anonymous":
        return
    subtype, action = classify(req)
    by_patient: dict[str | None, list[str]] = {}
    urls = _patient_urls(resp.body)
    # A bundle about one patient (a summary document): its directory records (author, organisations) go with them.
    only = set(urls.values()) if len(set(urls.values())) == 1 else {None}
    for resource in _resources(resp.body):
        ref = _ref(resource)
        patients = _patients_of(resource) or (urls and _pointed_at(resource, urls, set())) or only
        for patient in patients:
            refs = by_patient.setdefault(patient, [])
            if ref and len(refs) < MAX_ENTITIES:
                refs.append(ref)
    if not by_patient:
        by_patient[None] = []
    patients = sorted(by_patient, key=lambda p: (p is None, p or ""))
    emergency = reached_through_grant(conn, ctx, {p: by_patient[p] for p in patients[:MAX_PATIENTS] if p})
    for patient in patients[:MAX_PATIENTS]:
        entities = by_patient[patient] if subtype != "search" else [_target(req), *by_patient[patient]]
        record(conn, ctx=ctx, action=action, subtype=subtype, entities=entities[:MAX_ENTITIES],
               patient=f"Patient/{patient}" if patient else None,
               purpose="BTG" if patient in emergency else None)
    if len(patients) > MAX_PATIENTS:
        record(conn, ctx=ctx, action=action, subtype=subtype, entities=[_target(req)],
               description=f"and {len(patients) - MAX_PATIENTS} more patients")


def record_refused(conn: Connection, ctx: AccessContext, req: FhirRequest, status: int, reason: str) -> None:
    """Record a refused or failed interaction (outcome 4: minor failure, 8: serious failure)."""
    if ctx.is_system:
        return
    subtype, action = classify(req)
    record(conn, ctx=ctx, action=action, subtype=subtype, outcome="8" if status >= 500 else "4",
           entities=[_target(req)], description=f"{status}: {reason}"[:1000])
