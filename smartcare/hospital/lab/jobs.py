"""The laboratory's scheduled job: escalate critical values nobody acknowledged in time.

A sweep every minute rather than one job per result: a Task whose notification was lost between the release's
commit and the notice is still escalated, and the sweep finds only Tasks past their deadline (critical.overdue),
so running it again changes nothing.
"""

from sqlalchemy.engine import Connection

from smartcare.hospital.lab import critical
from smartcare.platform.jobs import Job, handler, periodic

ESCALATE_JOB = "lab.escalate_critical"

periodic(ESCALATE_JOB, kind=ESCALATE_JOB, every_minutes=1)


@handler(ESCALATE_JOB)
def escalate_critical_values(conn: Connection, _job: Job) -> None:
    """Escalate every critical value past its acknowledgement deadline to the head of the doctor's department."""
    critical.escalate_overdue(conn)
