"""The consultation's background job: every minute, offer consultations nobody picked up in time to the doctor on
duty (duty.py). The worker imports this module (platform/jobs/worker.py HANDLER_MODULES); so does api.py, for the
embedded worker of the web process."""

from sqlalchemy.engine import Connection

from smartcare.hospital.consultation import duty
from smartcare.platform.jobs import Job, handler, periodic

OFFER_JOB = "consultation.offer_unclaimed"

periodic(OFFER_JOB, kind=OFFER_JOB, every_minutes=1)


@handler(OFFER_JOB)
def offer_unclaimed(conn: Connection, _job: Job) -> None:
    """Offer the consultations waiting past the pick-up time to the next doctor on duty."""
    duty.offer_unclaimed(conn)
