"""Jobs: work that must happen later and reliably, written to an outbox in the caller's transaction."""

from smartcare.platform.jobs.schedules import Schedule, periodic
from smartcare.platform.jobs.service import (
    Job,
    JobError,
    enqueue,
    handler,
    retry_now,
    run_due,
    troubled_jobs,
)
from smartcare.platform.jobs.tables import job

__all__ = ["Job", "JobError", "Schedule", "enqueue", "handler", "job", "periodic", "retry_now", "run_due",
           "troubled_jobs"]
