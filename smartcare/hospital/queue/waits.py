"""Emergency department waits (for the nearest-hospital page and any board), from the queue's own record of arrivals and calls.

An emergency visit is a queue ticket whose Appointment names the hospital's emergency HealthcareService (the
FHIR store's reference index of Appointment.participant.actor), so the count does not depend on which doctors
are on duty or on the outpatient half-day sessions, which an emergency department open all day does not keep.
For each department: how many patients are waiting to be called now, and the median time from arrival to being
called of the patients called in the last RECENT (the median, so one very long or very short wait does not swing
it). A department with no arrival in the last LOOKBACK has no known wait: nothing is guessed.
"""

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import tables
from smartcare.hospital.queue.models import queue_ticket
from smartcare.platform import clock

# Tickets that arrived longer ago than this are not read: a patient "waiting" for half a day is a ticket
# nobody closed, not a wait to publish.
LOOKBACK = timedelta(hours=12)
# The waits that make the median: patients called within this time before now.
RECENT = timedelta(hours=3)
RECENT_HOURS = int(RECENT.total_seconds() // 3600)


@dataclass(frozen=True, slots=True)
class Arrival:
    """One emergency patient's ticket as the wait needs it."""

    status: str  # the queue's: waiting, called, done, skipped, transferred
    arrived: datetime
    called: datetime | None
    returned: bool  # skipped once and checked in again: their first call is gone, so the wait is not theirs


@dataclass(frozen=True, slots=True)
class EmergencyWait:
    """What the page says about one emergency department's wait."""

    waiting: int
    median_minutes: int | None  # None when nobody was called within RECENT


def summarise(arrivals: list[Arrival], now: datetime) -> EmergencyWait | None:
    """Patients waiting now and the median recent wait; None when nobody arrived within LOOKBACK."""
    seen = [a for a in arrivals if now - LOOKBACK <= a.arrived <= now]
    if not seen:
        return None
    waits = [(a.called - a.arrived).total_seconds() / 60 for a in seen
             if a.called is not None and not a.returned and now - RECENT <= a.called <= now and a.called >= a.arrived]
    return EmergencyWait(waiting=sum(a.status == "waiting" for a in seen),
                         median_minutes=round(statistics.median(waits)) if waits else None)


def rank_key(wait: EmergencyWait) -> tuple[int, float, int]:
    """Sort key for 'shortest wait first': a known median first by its minutes, then a count alone by the count."""
    if wait.median_minutes is not None:
        return (0, wait.median_minutes, wait.waiting)
    return (1, wait.waiting, 0)


def _arrivals(conn: Connection, service_id: str, since: datetime) -> list[Arrival]:
    t, r, ref = queue_ticket.c, tables.resource.c, tables.idx_reference.c
    rows = conn.execute(
        sa.select(t.status, t.arrived, t.called_at, t.returned_at)
        .join(tables.resource, sa.and_(r.res_type == "Appointment", r.res_id == t.appointment_id))
        .join(tables.idx_reference, sa.and_(ref.res_pk == r.pk, ref.res_type == "Appointment", ref.param == "actor",
                                            ref.target_type == "HealthcareService", ref.target_id == service_id))
        .where(t.arrived >= clock.format_instant(since))
    ).all()
    return [Arrival(row.status, clock.parse_instant(row.arrived),
                    clock.parse_instant(row.called_at) if row.called_at else None, row.returned_at is not None)
            for row in rows]


def emergency_wait(conn: Connection, service_id: str, *, now: datetime | None = None) -> EmergencyWait | None:
    """The wait at one emergency department (its HealthcareService id) now; None when it is not known."""
    now = now or clock.now()
    return summarise(_arrivals(conn, service_id, now - LOOKBACK), now)
