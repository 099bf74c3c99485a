"""Round-the-clock answering: the on-duty roster of each department's pool, and offering a consultation nobody
picked up in time to the next doctor on duty.

A consultation waits for its chosen doctor, or for any doctor of its department's pool. When nobody has picked
it up within the configured minutes (config.py), it is offered to the doctor on duty in that department (for a
chosen doctor, in the departments where that doctor works), who is told and may pick it up; if they do not
either, after as many minutes more it is offered to the next one on duty, and so on round the roster.

Rosters roll: each department's last seven days of duties are its weekly pattern, repeated a week later at the
far end of the roster so that it always reaches the configured days ahead (config.py roster_days). Only the far
end grows, so a duty removed from the coming days stays removed; a department whose duties were all removed
leaves the rolling roster. A roster left unrolled for weeks (a demo switched off) resumes from now, not from
where it stopped. Weeks are UTC weeks of seven times 24 hours: the region's time zone keeps no summer time.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.hospital.consultation import service
from smartcare.hospital.consultation.config import get_settings
from smartcare.hospital.consultation.models import consultation_duty, consultation_thread
from smartcare.platform import audit, clock, i18n
from smartcare.platform.notifications import notification_kind, notify
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.security.tables import user_account

MAX_DUTY = timedelta(days=7)
WEEK = timedelta(days=7)


def _(message: str) -> str:
    """Mark a message for the catalog; it is translated where it is shown."""
    return message


OFFERED = notification_kind("consultation.offered", label=_("Online consultations offered to you"),
                            default_channels=("sms",))


class RosterInvalid(ValueError):
    """A duty that cannot be on the roster (ends before it starts, too long, unknown department or doctor)."""


@dataclass(frozen=True, slots=True)
class Offer:
    """One consultation offered to a doctor on duty."""

    consultation_id: str
    practitioner_id: str
    round: int


def add_duty(conn: Connection, *, department_id: str, practitioner_id: str, starts: datetime,
             ends: datetime) -> int:
    """Put a doctor on duty for a department's pool from starts until ends (at most seven days); the row id."""
    if ends <= starts or ends - starts > MAX_DUTY:
        raise RosterInvalid("A duty ends after it starts and lasts at most seven days")
    if department_id not in service._departments(conn, practitioner_id):
        raise RosterInvalid("The doctor holds no role in that department")
    return conn.execute(consultation_duty.insert().values(
        department_id=department_id, practitioner_id=practitioner_id, starts=clock.format_instant(starts),
        ends=clock.format_instant(ends))).inserted_primary_key[0]


def on_duty(conn: Connection, *, department_ids: list[str], at: datetime) -> list[str]:
    """The doctors on duty at a moment in any of the departments, in roster order (earliest duty first)."""
    d = consultation_duty.c
    instant = clock.format_instant(at)
    rows = conn.execute(sa.select(d.practitioner_id).where(
        d.department_id.in_(department_ids), d.starts <= instant, d.ends > instant)
        .order_by(d.starts, d.practitioner_id)).scalars()
    return list(dict.fromkeys(rows))


def roster(conn: Connection, *, department_id: str, start: datetime, end: datetime) -> list[dict[str, str]]:
    """The duties of a department overlapping [start, end), in order."""
    d = consultation_duty.c
    rows = conn.execute(sa.select(consultation_duty).where(
        d.department_id == department_id, d.starts < clock.format_instant(end),
        d.ends > clock.format_instant(start)).order_by(d.starts, d.practitioner_id)).all()
    return [{"practitioner": r.practitioner_id, "starts": r.starts, "ends": r.ends} for r in rows]


def next_on_duty(candidates: list[str], *, chosen: str | None, current: str | None, offers: int) -> str | None:
    """Whom to offer to next: round the doctors on duty, never the chosen doctor, not the one just offered."""
    others = [c for c in candidates if c != chosen]
    if not others:
        return None
    pick = others[offers % len(others)]
    if pick == current and len(others) > 1:
        pick = others[(offers + 1) % len(others)]
    return None if pick == current else pick


def _tell(conn: Connection, practitioner_id: str, consultation_id: str) -> None:
    accounts = conn.execute(sa.select(user_account.c.id, user_account.c.locale).where(
        user_account.c.fhir_ref == f"Practitioner/{practitioner_id}")).all()
    for account in accounts:
        t = i18n.translations(account.locale)
        notify(conn, user_id=account.id, kind=OFFERED.name, title=t.gettext(_("An online consultation is waiting")),
               body=t.gettext(_("Nobody has picked it up yet and you are on duty.")),
               link=f"/workstation/consultations/{consultation_id}", data={"consultation": consultation_id})


def offer_unclaimed(conn: Connection, *, now: datetime | None = None) -> list[Offer]:
    """Offer every consultation waiting past the pick-up time (since opening or its last offer) to the next doctor
    on duty; returns the offers made. Safe to run again: an offer is only made once per period."""
    now = now or clock.now()
    due = clock.format_instant(now - timedelta(minutes=get_settings().pickup_minutes))
    t = consultation_thread.c
    waiting = conn.execute(sa.select(consultation_thread).where(
        t.status == "waiting", sa.func.coalesce(t.offered_at, t.opened) <= due).order_by(t.opened).limit(500)).all()
    made = []
    for thread in waiting:
        departments = [thread.department_id] if thread.department_id else \
            sorted(service._departments(conn, thread.practitioner_id))
        pick = next_on_duty(on_duty(conn, department_ids=departments, at=now), chosen=thread.practitioner_id,
                            current=thread.offered_to, offers=thread.offers or 0)
        if pick is None:
            continue
        changed = conn.execute(sa.update(consultation_thread).where(
            t.encounter_id == thread.encounter_id, t.status == "waiting", t.offers == (thread.offers or 0))
            .values(offered_to=pick, offered_at=clock.format_instant(now), offers=(thread.offers or 0) + 1))
        if changed.rowcount != 1:
            continue
        audit.record(conn, ctx=SYSTEM, action="U", subtype="update",
                     entities=[f"Encounter/{thread.encounter_id}", f"Practitioner/{pick}"],
                     patient=f"Patient/{thread.patient_id}", description="Offered to the doctor on duty")
        service._raise(conn, thread.encounter_id, "offered", practitioner=pick)
        _tell(conn, pick, thread.encounter_id)
        made.append(Offer(thread.encounter_id, pick, (thread.offers or 0) + 1))
    return made


def _pattern(conn: Connection, department_id: str) -> list[sa.Row]:
    """The department's weekly pattern: its duties starting in the seven days up to its latest start."""
    d = consultation_duty.c
    latest = conn.execute(sa.select(sa.func.max(d.starts)).where(d.department_id == department_id)).scalar()
    if latest is None:
        return []
    since = clock.format_instant(clock.parse_instant(latest) - WEEK)
    return conn.execute(sa.select(consultation_duty).where(
        d.department_id == department_id, d.starts > since, d.starts <= latest).order_by(d.starts)).all()


def roll_rosters(conn: Connection, *, now: datetime | None = None, days: int | None = None) -> int:
    """Repeat every department's weekly pattern at the far end of its roster until it covers the coming days (by
    default config.py roster_days); how many duties were added. Running it again adds nothing; a doctor who no
    longer works in the department is left out of the copies."""
    now = now or clock.now()
    horizon = now + timedelta(days=days if days is not None else get_settings().roster_days)
    d = consultation_duty.c
    made = 0
    works_in: dict[str, set[str]] = {}
    for department_id in conn.execute(sa.select(d.department_id).distinct().order_by(d.department_id)).scalars():
        pattern = _pattern(conn, department_id)
        last = clock.parse_instant(pattern[-1].starts)
        # Skip the weeks wholly in the past: a roster left alone for a while resumes now.
        week = max(1, (now - last) // WEEK)
        while last + (week - 1) * WEEK < horizon:
            for row in pattern:
                starts, ends = clock.parse_instant(row.starts) + week * WEEK, clock.parse_instant(row.ends) + week * WEEK
                if ends <= now or starts >= horizon:
                    continue
                if row.practitioner_id not in works_in:
                    works_in[row.practitioner_id] = service._departments(conn, row.practitioner_id)
                if department_id not in works_in[row.practitioner_id]:
                    continue
                made += _add_once(conn, department_id, row.practitioner_id, starts, ends)
            week += 1
    return made


def _add_once(conn: Connection, department_id: str, practitioner_id: str, starts: datetime, ends: datetime) -> int:
    d = consultation_duty.c
    present = conn.execute(sa.select(d.id).where(
        d.department_id == department_id, d.practitioner_id == practitioner_id,
        d.starts == clock.format_instant(starts)).limit(1)).first()
    if present is not None:
        return 0
    conn.execute(consultation_duty.insert().values(
        department_id=department_id, practitioner_id=practitioner_id, starts=clock.format_instant(starts),
        ends=clock.format_instant(ends)))
    return 1
