"""The nightly job that keeps every active schedule template's slots open to the horizon (14 days by default)."""

import logging

from sqlalchemy.engine import Connection

from smartcare.hospital.scheduling import templates_store
from smartcare.platform.jobs import Job, handler, periodic
from smartcare.platform.settings import get_settings

log = logging.getLogger(__name__)

EXTEND_JOB = "scheduling.extend_schedules"
# After midnight in the region, so the new last day of the horizon opens before patients look for it.
EXTEND_AT = "00:30"

periodic(EXTEND_JOB, kind=EXTEND_JOB, daily_at=EXTEND_AT, tz=get_settings().region_timezone)


@handler(EXTEND_JOB)
def extend_schedules(conn: Connection, _job: Job) -> None:
    """Make the slots of every active template up to the horizon; a template that cannot be used is logged."""
    result = templates_store.extend_all(conn)
    for role_id, why in result.failed.items():
        log.warning("The schedule template of %s made no slots: %s", role_id, why)
    log.info("Schedules extended: %d new slots (%d already open)", result.created, result.existing)
