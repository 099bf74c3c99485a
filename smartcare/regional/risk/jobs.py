"""Keeping the region's risks current: every 15 minutes, reassess the residents whose record changed.

A change to any input (a new blood pressure, a lipid result, a smoking status, a diagnosis, a medicine) is picked up
by the next sweep, which looks back an hour so a late or retried run misses nothing; a resident whose inputs did not
change gets no new RiskAssessment, so looking twice costs a read, never a duplicate.
"""

from datetime import timedelta

from sqlalchemy.engine import Engine

from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import Job, handler
from smartcare.platform.jobs.schedules import periodic
from smartcare.regional.risk import batch, service

SWEEP_JOB = "risk.sweep"
EVERY_MINUTES = 15
LOOK_BACK = timedelta(hours=1)
MOST_PER_RUN = 2000


# Outside the job's transaction: each assessment reads and writes through the FHIR gateway in its own.
@handler(SWEEP_JOB, in_transaction=False)
def sweep(engine: Engine, job: Job) -> None:
    """Reassess every resident with an input written in the last hour (at most MOST_PER_RUN a run)."""
    now = clock.now()
    with unit_of_work(engine) as conn:
        changed = service.changed_patients(conn, since=now - LOOK_BACK, limit=MOST_PER_RUN)
    batch.assess_region(changed, now=now)


periodic(SWEEP_JOB, kind=SWEEP_JOB, every_minutes=EVERY_MINUTES)
