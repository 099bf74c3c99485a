"""Matching every stored Patient in the MPI: a domain-event subscriber enqueues a job, the job links the record.

The write path only adds a job row (after its commit); the match itself runs in the worker, where a failure
is retried with backoff. One job per Patient version (its key), so an event delivered twice matches once.
"""

from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import FhirError
from smartcare.platform import events
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import Job, enqueue, handler
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.mpi import service

MATCH_JOB = "mpi.match"


@handler(MATCH_JOB)
def match_patient(conn: Connection, job: Job) -> None:
    """Match the current version of one Patient (a deleted or vanished one has nothing to match)."""
    res_id = str(job.payload.get("patient", ""))
    try:
        stored = store.read(conn, SYSTEM, res_type="Patient", res_id=res_id)
    except FhirError as error:
        if error.status in (404, 410):
            return
        raise
    service.match_record(conn, SYSTEM, stored.resource or {}, version=stored.version)


def _on_patient_written(event: events.DomainEvent) -> None:
    """After a Patient is created or updated: a job to match it."""
    if event.payload.get("type") != "Patient":
        return
    res_id, version = str(event.payload.get("id")), event.payload.get("version")
    with unit_of_work() as conn:
        enqueue(conn, kind=MATCH_JOB, payload={"patient": res_id}, key=f"mpi:match:{res_id}:{version}"[:200])


events.subscribe("ResourceCreated", _on_patient_written)
events.subscribe("ResourceUpdated", _on_patient_written)
