"""The consultation's background jobs: every minute, offer consultations nobody picked up in time to the doctor on
duty; every hour, keep the on-duty rosters filled for the coming days (both in duty.py). The worker imports this module (platform/jobs/worker.py HANDLER_MODULES); so does api.py, for the
embedded worker of the web process."""

from sqlalchemy.engine import Connection

from smartcare.hospital.consultation import duty
from smartcare.platform.jobs import Job, handler, periodic

OFFER_JOB = "consultation.offer_unclaimed"

ROSTER_JOB = "consultation.roll_rosters"

periodic(OFFER_JOB, kind=OFFER_JOB, every_minutes=1)
periodic(ROSTER_JOB, kind=ROSTER_JOB, every_minutes=60)


@handler(OFFER_JOB)
def offer_unclaimed(conn: Connection, _job: Job) -> None:
    """Offer the consultations waiting past the pick-up time to the next doctor on duty."""
    duty.offer_unclaimed(conn)


@handler(ROSTER_JOB)
def roll_rosters(conn: Connection, _job: Job) -> None:
    """Repeat each department's weekly on-duty pattern so its roster reaches the coming days."""
    duty.roll_rosters(conn)
