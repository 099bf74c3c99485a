"""Doctors' leave and hospital holidays: blocked periods, recorded so that slots made later stay blocked too.

Blocking cancels the bookings in the period (scheduled.block_period); each cancellation writes its
notice job in the same transaction, and the notice tells the patient the reason in their language.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.hospital.scheduling import scheduled
from smartcare.hospital.scheduling.models import schedule_block
from smartcare.hospital.scheduling.rules import _
from smartcare.platform import clock

MAX_REASON = 200
# Reasons offered on the form; stored as written here and translated for each patient who is told.
REASONS = {"leave": _("The doctor is on leave"), "holiday": _("Public holiday"),
           "training": _("The doctor is at a training or conference"), "closed": _("The clinic is closed")}


class BlockInvalid(ValueError):
    """A leave or holiday that cannot be recorded: message (a catalog msgid) % values says why."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message % values if values else message)
        self.message = message
        self.values = values


@dataclass(frozen=True, slots=True)
class Blocked:
    """A recorded blocked period and the bookings it cancelled (their patients are being told)."""

    id: str
    cancelled: list[scheduled.EndedBooking]


def block(conn: Connection, *, organization_id: str, start: datetime, end: datetime, reason: str, created_by: str,
          practitioner_id: str | None = None) -> Blocked:
    """Block a doctor's leave (practitioner_id) or a hospital's holiday in [start, end) and record it."""
    reason = reason.strip()
    if not 1 <= len(reason) <= MAX_REASON or any(ord(ch) < 32 for ch in reason):
        raise BlockInvalid(_("The reason is 1 to %(most)s characters on one line"), most=MAX_REASON)
    if end <= start:
        raise BlockInvalid(_("The period must end after it starts"))
    cancelled = scheduled.block_period(conn, start=start, end=end, reason=reason, practitioner_id=practitioner_id,
                                       organization_id=organization_id)
    block_id = str(uuid.uuid4())
    conn.execute(schedule_block.insert().values(
        id=block_id, organization_id=organization_id, practitioner_id=practitioner_id,
        start=clock.format_instant(start), end=clock.format_instant(end), reason=reason, cancelled=len(cancelled),
        created_by=created_by[:255], created_at=clock.format_instant(clock.now())))
    return Blocked(block_id, cancelled)


def blocks_of(conn: Connection, *, organization_id: str, since: datetime | None = None) -> list[sa.Row]:
    """A hospital's recorded blocked periods that end after since (default: now), soonest first."""
    b = schedule_block.c
    cutoff = clock.format_instant(since or clock.now())
    return conn.execute(sa.select(schedule_block).where(b.organization_id == organization_id, b.end > cutoff)
                        .order_by(b.start, b.created_at)).all()


def get_block(conn: Connection, *, block_id: str) -> sa.Row | None:
    """One recorded blocked period, or None."""
    return conn.execute(sa.select(schedule_block).where(schedule_block.c.id == block_id)).first()


def apply_recorded_blocks(conn: Connection, *, practitioner_id: str, organization_id: str, start: datetime,
                          end: datetime) -> int:
    """Block a doctor's slots in [start, end) that fall in a recorded leave or holiday; how many bookings ended.

    Slots made after a period was entered are free until this runs, in the transaction that made them.
    """
    b = schedule_block.c
    periods = conn.execute(sa.select(schedule_block).where(
        b.organization_id == organization_id, b.start < clock.format_instant(end), b.end > clock.format_instant(start),
        sa.or_(b.practitioner_id.is_(None), b.practitioner_id == practitioner_id))).all()
    ended = 0
    for period in periods:
        ended += len(scheduled.block_period(
            conn, start=clock.parse_instant(period.start), end=clock.parse_instant(period.end), reason=period.reason,
            practitioner_id=practitioner_id, organization_id=organization_id))
    return ended
