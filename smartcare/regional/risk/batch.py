"""The region's risk run: records read set-wise straight from the store, assessed, and written back in transactions.

Reading a resident at a time through the REST layer costs six searches each; a region is read here in chunks of
residents with one SQL query per resource type over the store's reference index (the same tables any SQL engine,
or Spark at province scale, can scan). The platform reads as itself, with one audit entry per resident read; the
RiskAssessments are written through the FHIR gateway, validated and audited like any write.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import gateway, tables
from smartcare.fhir.http import FhirRequest
from smartcare.platform import clock
from smartcare.platform.audit import service as audit
from smartcare.platform.clock import format_instant
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.risk import inputs as record_inputs
from smartcare.regional.risk import service

CHUNK = 400
PKS_PER_QUERY = 5000  # under SQLite's limit of bound parameters per statement
TYPES = ("Observation", "Condition", "MedicationRequest", "MedicationStatement", "FamilyMemberHistory",
         "RiskAssessment")


def _chunks(ids: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _observation_codes() -> list[str]:
    return sorted({code for spec in record_inputs.codes()["observations"].values() for code in spec["codes"]})


def read_chunk(conn: Connection, patient_ids: list[str], *, now: datetime) -> dict[str, tuple[dict[str, Any],
                                                                                               list[dict[str, Any]]]]:
    """Each resident's Patient and the resources of theirs a risk can depend on (observations only of input codes)."""
    resource, ref, token = tables.resource, tables.idx_reference, tables.idx_token
    patients = {row.res_id: row.content for row in conn.execute(
        sa.select(resource.c.res_id, resource.c.content).where(
            resource.c.res_type == "Patient", resource.c.deleted.is_(False), resource.c.res_id.in_(patient_ids)))}
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    oldest = max(spec["max_age_days"] for spec in record_inputs.codes()["observations"].values())
    since = format_instant(now - timedelta(days=oldest + 1))
    for res_type in TYPES:
        # Two steps, so every engine starts from the residents' references (a join let SQLite start from every
        # Observation in the region and probe the residents for each).
        owner: dict[int, str] = {}
        for pk, patient_id in conn.execute(sa.select(ref.c.res_pk, ref.c.target_id).where(
                ref.c.res_type == res_type, ref.c.param.in_(("subject", "patient")), ref.c.target_type == "Patient",
                ref.c.target_id.in_(list(patients)))):
            owner[pk] = patient_id
        pks = sorted(owner)
        for start in range(0, len(pks), PKS_PER_QUERY):
            query = sa.select(resource.c.pk, resource.c.content).where(
                resource.c.pk.in_(pks[start:start + PKS_PER_QUERY]), resource.c.deleted.is_(False))
            if res_type == "Observation":
                query = query.where(resource.c.last_updated >= since, sa.exists().where(
                    token.c.res_pk == resource.c.pk, token.c.res_type == "Observation",
                    token.c.param == "combo-code", token.c.code.in_(_observation_codes())))
            for pk, content in conn.execute(query):
                found[owner[pk]].append(content)
    return {pid: (patient, found.get(pid, [])) for pid, patient in patients.items()}


def _write(outcomes: list[service.Outcome], bodies: list[dict[str, Any]]) -> list[service.Outcome]:
    if not bodies:
        return outcomes
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"resource": body, "request": {"method": "POST", "url": "RiskAssessment"}} for body in bodies]}
    answer = gateway.serve(SYSTEM, FhirRequest(method="POST", path="", body=bundle)).body or {}
    written = iter(entry.get("response", {}).get("location", "") for entry in answer.get("entry", []))
    out = []
    for outcome in outcomes:
        if outcome.status == "assessed":
            location = next(written, "")
            outcome = replace(outcome, risk_assessment="/".join(location.split("/")[:2]))
        out.append(outcome)
    return out


def assess_region(patient_ids: Iterable[str], *, now: datetime | None = None, chunk: int = CHUNK,
                  advance: Callable[[int], None] | None = None) -> dict[str, int]:
    """Assess residents chunk by chunk; counts of each outcome status (advance gets the residents done per chunk)."""
    now = now or clock.now()
    counts: dict[str, int] = defaultdict(int)
    for ids in _chunks(sorted(set(patient_ids)), chunk):
        with unit_of_work() as conn:
            records = read_chunk(conn, ids, now=now)
            for patient_id in records:  # so each resident sees, in who opened their record, that the run read it
                audit.record(conn, ctx=SYSTEM, action="R", subtype="search", purpose="PUBHLTH",
                             patient=f"Patient/{patient_id}", entities=[f"Patient/{patient_id}"],
                             description="risk assessment run: the record's risk inputs read")
        outcomes: list[service.Outcome] = []
        bodies: list[dict[str, Any]] = []
        for patient_id, (patient, resources) in records.items():
            record = record_inputs.read_record(patient=patient, resources=resources, today=now.date())
            current = [r for r in resources if r.get("resourceType") == "RiskAssessment" and r.get("status") == "final"]
            for outcome, body in service.decide(patient_id, record, current, now=now):
                outcomes.append(outcome)
                if body is not None:
                    bodies.append(body)
        for outcome in _write(outcomes, bodies):
            counts[outcome.status] += 1
        if advance is not None:
            advance(len(ids))
    return dict(counts)
