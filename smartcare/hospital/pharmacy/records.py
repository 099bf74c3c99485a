"""Reading what the audit needs of one patient's record, through the FHIR gateway as the caller."""

from datetime import date
from typing import Any
from urllib.parse import parse_qsl

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.knowledge.prescribing import facts
from smartcare.knowledge.prescribing.audit import PatientFacts
from smartcare.platform.security.context import AccessContext

_CODES = ",".join(sorted(facts.EGFR_CODES | set(facts.CREATININE_CODES) | facts.WEIGHT_CODES | facts.HEIGHT_CODES
                         | {facts.PREGNANCY_STATUS, facts.BREASTFEEDING_STATUS}))
# The searches behind the facts, with {patient} for the patient's id (CDS Hooks prefetch uses the same).
# `_total=none`: the audit needs the records, not how many there are, and counting doubles each search's work.
QUERIES = {
    "patient": "Patient/{patient}",
    "conditions": "Condition?patient={patient}&_count=500&_total=none",
    "allergies": "AllergyIntolerance?patient={patient}&_count=200&_total=none",
    "medications": "MedicationRequest?patient={patient}&status=active&_count=200&_total=none",
    "observations": "Observation?patient={patient}&code=" + _CODES + "&_sort=-date&_count=100&_total=none",
}


def _of_type(found: dict[str, list[dict]], key: str, res_type: str) -> list[dict]:
    return [r for r in found.get(key, []) if r.get("resourceType") == res_type]


def facts_from(found: dict[str, list[dict[str, Any]]], *, today: date,
               leave_out: set[str] | None = None) -> tuple[PatientFacts, dict[str, Any]]:
    """The audit's facts from the results of QUERIES (fetched or prefetched); leave_out: MedicationRequest ids."""
    skip = leave_out or set()
    current = facts.current_medicines(
        [m for m in _of_type(found, "medications", "MedicationRequest") if m.get("id") not in skip])
    patient = next(iter(_of_type(found, "patient", "Patient")), None)
    return facts.patient_facts(
        patient=patient, observations=_of_type(found, "observations", "Observation"),
        conditions=_of_type(found, "conditions", "Condition"),
        allergies=_of_type(found, "allergies", "AllergyIntolerance"), medications=current, today=today)


def read(ctx: AccessContext, patient_id: str) -> dict[str, list[dict[str, Any]]]:
    """The resources behind the facts of one patient, read as ctx in one transaction (policy-checked, each read
    audited; FhirError if any is refused)."""
    return read_queries(ctx, {key: query.format(patient=patient_id) for key, query in QUERIES.items()})


def read_queries(ctx: AccessContext, queries: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """The results of FHIR read or search queries ("Patient/1", "Condition?patient=1"), by key, read as ctx."""
    requests = []
    for query in queries.values():
        path, _, params = query.partition("?")
        requests.append(FhirRequest(method="GET", path=path, query=parse_qsl(params, keep_blank_values=True)))
    found = {}
    for key, request, response in zip(queries, requests, gateway.serve_all(ctx, requests), strict=True):
        body = response.body or {}
        if "/" in request.path:
            found[key] = [body] if body else []
        else:
            found[key] = [e["resource"] for e in body.get("entry", [])
                          if e.get("search", {}).get("mode") != "outcome"]
    return found
