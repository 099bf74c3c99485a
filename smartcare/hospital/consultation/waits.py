"""The wait a patient is told: how long recent consultations of the same doctor or pool waited to be picked up."""

from datetime import datetime, timedelta
from statistics import median
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.hospital.consultation.config import get_settings
from smartcare.hospital.consultation.models import consultation_thread
from smartcare.platform import clock

# Fewer recent pick-ups than this say too little about one doctor or pool: the whole service's are used instead.
MIN_SAMPLES = 3


def typical_wait(waits: list[float]) -> float | None:
    """The median of pick-up waits in minutes (None when there are none): one slow night does not move it much."""
    return round(median(waits), 1) if waits else None


def remaining_wait(typical: float | None, waited: float) -> float | None:
    """What is left of the typical wait after waiting so far (0 once it has passed), or None without a figure."""
    return None if typical is None else round(max(typical - waited, 0.0), 1)


def recent_waits(conn: Connection, *, practitioner_id: str | None, department_id: str | None, now: datetime,
                 samples: int, days: int) -> list[float]:
    """Minutes from opening to pick-up of the most recent consultations picked up in the last days."""
    t = consultation_thread.c
    query = sa.select(t.opened, t.picked_up).where(
        t.picked_up.is_not(None), t.picked_up >= clock.format_instant(now - timedelta(days=days)))
    if department_id:
        query = query.where(t.department_id == department_id)
    elif practitioner_id:
        query = query.where(t.practitioner_id == practitioner_id, t.department_id.is_(None))
    rows = conn.execute(query.order_by(t.picked_up.desc()).limit(samples)).all()
    return [max((clock.parse_instant(r.picked_up) - clock.parse_instant(r.opened)).total_seconds() / 60, 0.0)
            for r in rows]


def expected_wait(conn: Connection, thread: Any, now: datetime | None = None) -> dict[str, Any]:
    """A waiting consultation's expected wait: the typical pick-up wait of its doctor or pool (or of the whole
    service when they have too few recent ones), what is left of it, and how many wait ahead in the same queue."""
    settings = get_settings()
    now = now or clock.now()
    waits = recent_waits(conn, practitioner_id=thread.practitioner_id, department_id=thread.department_id, now=now,
                         samples=settings.wait_samples, days=settings.wait_days)
    scope = "pool" if thread.department_id else "doctor"
    if len(waits) < MIN_SAMPLES:
        waits = recent_waits(conn, practitioner_id=None, department_id=None, now=now,
                             samples=settings.wait_samples, days=settings.wait_days)
        scope = "service"
    t = consultation_thread.c
    same_queue = (t.department_id == thread.department_id) if thread.department_id else \
        sa.and_(t.practitioner_id == thread.practitioner_id, t.department_id.is_(None))
    ahead = conn.execute(sa.select(sa.func.count()).select_from(consultation_thread).where(
        t.status == "waiting", same_queue, t.opened < thread.opened)).scalar_one()
    typical = typical_wait(waits)
    waited = max((now - clock.parse_instant(thread.opened)).total_seconds() / 60, 0.0)
    return {"typical_minutes": typical, "remaining_minutes": remaining_wait(typical, waited),
            "samples": len(waits), "basis": scope, "ahead": ahead}
