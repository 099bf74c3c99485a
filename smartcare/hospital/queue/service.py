"""The outpatient queue: check-in gives a number, the doctor calls, skips, recalls and transfers.

A session is one doctor's morning or afternoon on one local date. Checking in reads the FHIR
Appointment with the caller's access context (so the access policy decides who may check in whom),
takes the next number of the session with one conditional UPDATE (two check-ins never get the same
number), and marks the Appointment arrived in the same transaction. The order patients are called
in comes from ordering.py. Every change raises a QueueChanged event after commit, which the live
displays listen to.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from smartcare.fhir import store, tables
from smartcare.fhir.errors import FhirError
from smartcare.hospital.queue import ordering
from smartcare.hospital.queue.models import queue_session, queue_ticket
from smartcare.platform import audit, clock
from smartcare.platform.db import pending_events
from smartcare.platform.events import DomainEvent
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import CLINICAL_ROLES
from smartcare.platform.settings import get_settings

QUEUE_CHANGED = "QueueChanged"
PATIENT_CALLED = "QueuePatientCalled"
PATIENT_NEAR = "QueuePatientNear"
NEAR_AHEAD = 3
# Checking in opens this long before the appointment and stays open until the session ends.
CHECK_IN_OPENS = timedelta(minutes=60)
NOON = 12
SESSION_ENDS = {"am": 12, "pm": 18}
FOLLOW_UP = "FOLLOWUP"  # v2-0276 appointment type: returning (with results)
DISABILITY_EXTENSION = "https://smartcare.example/fhir/StructureDefinition/disability"


class QueueError(Exception):
    """A refused queue action; code names it for pages and APIs, status is the HTTP status."""

    status = 409

    def __init__(self, message: str, *, code: str, status: int | None = None):
        super().__init__(message)
        self.code = code
        if status is not None:
            self.status = status


@dataclass(frozen=True, slots=True)
class Session:
    """One doctor's morning or afternoon on one local date."""

    practitioner_id: str
    day: str  # YYYY-MM-DD, local
    half: str  # "am" or "pm"

    @property
    def key(self) -> str:
        return f"{self.practitioner_id}:{self.day}:{self.half}"

    @classmethod
    def parse(cls, key: str) -> "Session":
        parts = key.split(":")
        if len(parts) != 3 or parts[2] not in ("am", "pm") or not parts[0] or len(key) > 120:
            raise QueueError("A session is practitioner:YYYY-MM-DD:am|pm", code="bad-session", status=400)
        try:
            datetime.strptime(parts[1], "%Y-%m-%d")
        except ValueError:
            raise QueueError("A session is practitioner:YYYY-MM-DD:am|pm", code="bad-session", status=400) from None
        return cls(parts[0], parts[1], parts[2])


def local_zone() -> ZoneInfo:
    """The region's time zone, where mornings and afternoons are."""
    return ZoneInfo(get_settings().region_timezone)


def session_at(practitioner_id: str, moment: datetime) -> Session:
    """The session of a practitioner that moment falls in."""
    local = moment.astimezone(local_zone())
    return Session(practitioner_id, local.date().isoformat(), "am" if local.hour < NOON else "pm")


def local_hhmm(instant: str | None) -> str:
    """An instant as the region's clock shows it (HH:MM)."""
    if not instant:
        return ""
    return _parse(instant).astimezone(local_zone()).strftime("%H:%M")


def _session_end(session: Session) -> datetime:
    day = datetime.strptime(session.day, "%Y-%m-%d")
    return day.replace(hour=SESSION_ENDS[session.half], tzinfo=local_zone())


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def _actor(appointment: dict[str, Any], res_type: str) -> str | None:
    for participant in appointment.get("participant", []):
        reference = (participant.get("actor") or {}).get("reference", "")
        if reference.startswith(f"{res_type}/"):
            return reference.split("/", 1)[1]
    return None


def _practitioner_of(conn: Connection, appointment: dict[str, Any]) -> str | None:
    practitioner = _actor(appointment, "Practitioner")
    if practitioner:
        return practitioner
    role_id = _actor(appointment, "PractitionerRole")
    if role_id:
        role = store.read(conn, SYSTEM, res_type="PractitionerRole", res_id=role_id).resource or {}
        return ((role.get("practitioner") or {}).get("reference") or "").removeprefix("Practitioner/") or None
    return None


def _room_of(conn: Connection, appointment: dict[str, Any], practitioner_id: str) -> str | None:
    """Where the visit happens: a Location on the appointment, else the doctor's consulting room in the
    directory (a room Location of their PractitionerRole), as a Location reference."""
    for participant in appointment.get("participant", []):
        reference = (participant.get("actor") or {}).get("reference", "")
        if reference.startswith("Location/"):
            return reference
    ref = tables.idx_reference
    roles = sa.select(ref.c.res_pk).where(ref.c.res_type == "PractitionerRole", ref.c.param == "practitioner",
                                          ref.c.target_type == "Practitioner", ref.c.target_id == practitioner_id)
    places = conn.execute(sa.select(ref.c.target_id).where(
        ref.c.res_pk.in_(roles), ref.c.res_type == "PractitionerRole", ref.c.param == "location",
        ref.c.target_type == "Location")).scalars().all()
    for place in sorted(set(places)):
        location = conn.execute(sa.select(tables.resource.c.content).where(
            tables.resource.c.res_type == "Location", tables.resource.c.res_id == place)).scalar()
        codes = [c.get("code") for c in ((location or {}).get("physicalType") or {}).get("coding", [])]
        if "ro" in codes:
            return f"Location/{place}"
    return None


def consulting_room(conn: Connection, practitioner_id: str) -> str | None:
    """The doctor's consulting room in the directory, as a Location reference, if they have one."""
    return _room_of(conn, {}, practitioner_id)


def room_label(conn: Connection, room: str | None, locale: str) -> str | None:
    """A room as people read it: the Location's name (its Chinese alias for Chinese readers) and floor."""
    if not room or not room.startswith("Location/"):
        return room
    location = conn.execute(sa.select(tables.resource.c.content).where(
        tables.resource.c.res_type == "Location", tables.resource.c.res_id == room.split("/", 1)[1])).scalar() or {}
    name = location.get("name") or room
    if locale == "zh-Hans" and location.get("alias"):
        name = location["alias"][0]
    return name


def _priority(conn: Connection, appointment: dict[str, Any], patient_id: str, now: datetime,
              asked: str | None) -> str | None:
    patient = store.read(conn, SYSTEM, res_type="Patient", res_id=patient_id).resource or {}
    disabled = any(e.get("url") == DISABILITY_EXTENSION and e.get("valueBoolean") for e in patient.get("extension", []))
    follow_up = any(c.get("code") == FOLLOW_UP for c in (appointment.get("appointmentType") or {}).get("coding", []))
    found = ordering.is_priority(age=ordering.age_on(patient.get("birthDate"), now.astimezone(local_zone())),
                                 disabled=disabled, returning_with_results=follow_up)
    return found or asked


def _next_number(conn: Connection, session: Session, room: str | None) -> int:
    """The next number of the session: one conditional UPDATE, so concurrent check-ins never share one."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    # Two first check-ins of a session at once: one creates the counter, the other finds it.
    conn.execute(dialect_insert(queue_session).values(
        key=session.key, practitioner_id=session.practitioner_id, day=session.day, half=session.half, room=room,
        last_number=0).on_conflict_do_nothing(index_elements=["key"]))
    return conn.execute(
        sa.update(queue_session).where(queue_session.c.key == session.key)
        .values(last_number=queue_session.c.last_number + 1).returning(queue_session.c.last_number)
    ).scalar_one()


def _changed(conn: Connection, session_key: str) -> None:
    pending_events(conn).append(DomainEvent(QUEUE_CHANGED, {"session": session_key}))


def _set_appointment_status(conn: Connection, ctx: AccessContext, appointment: dict[str, Any], status: str) -> None:
    updated = {**appointment, "status": status}
    updated.pop("meta", None)
    store.update(conn, ctx, updated, res_type="Appointment", res_id=appointment["id"])
    patient = _actor(appointment, "Patient")
    audit.record(conn, ctx=ctx, action="U", subtype="update", entities=[f"Appointment/{appointment['id']}"],
                 patient=f"Patient/{patient}" if patient else None)


def check_in(conn: Connection, ctx: AccessContext, *, appointment_id: str, via: str = "app",
             priority: str | None = None) -> dict[str, Any]:
    """Check a booked visit in and return its ticket; checking in twice returns the same ticket."""
    now = clock.now()
    try:
        appointment = store.read(conn, ctx, res_type="Appointment", res_id=appointment_id).resource or {}
    except FhirError as exc:
        raise QueueError("There is no such appointment for you", code="no-appointment", status=404) from exc
    existing = conn.execute(sa.select(queue_ticket).where(queue_ticket.c.appointment_id == appointment_id)).first()
    if existing is not None and existing.status in ("waiting", "called"):
        return ticket_view(conn, existing)
    patient_id = _actor(appointment, "Patient")
    practitioner_id = _practitioner_of(conn, appointment)
    if appointment.get("status") not in ("booked", "arrived", "noshow") or not patient_id or not practitioner_id:
        raise QueueError("Only a booked visit can be checked in", code="not-booked")
    start = _parse(appointment["start"])
    session = session_at(practitioner_id, start)
    if now < start - CHECK_IN_OPENS:
        raise QueueError("Check-in opens an hour before your appointment", code="too-early")
    if now >= _session_end(session):
        raise QueueError("This clinic session is over; please book again", code="too-late")
    if priority not in (None, "", "elderly", "disabled", "results") or (priority and via != "desk"):
        raise QueueError("Only the registration desk sets a priority", code="bad-priority", status=400)
    if existing is not None:
        # A skipped patient back again: the same number, placed behind a few others (ordering.py).
        given = ordering.turn_on_return(_waiting(_tickets(conn, existing.session_key, "waiting")), now)
        conn.execute(sa.update(queue_ticket).where(queue_ticket.c.id == existing.id).values(
            status="waiting", returned_at=clock.format_instant(given), called_at=None))
        _set_appointment_status(conn, ctx, appointment, "arrived")
        _changed(conn, existing.session_key)
        return _ticket(conn, existing.id)
    room = _room_of(conn, appointment, practitioner_id)
    values = {
        "id": str(uuid.uuid4()), "session_key": session.key, "number": _next_number(conn, session, room),
        "appointment_id": appointment_id, "patient_id": patient_id,
        "appointment_start": clock.format_instant(start), "arrived": clock.format_instant(now),
        "priority": _priority(conn, appointment, patient_id, now, priority or None), "status": "waiting",
        "recalls": 0, "near_notice": False,
    }
    conn.execute(queue_ticket.insert().values(**values))
    _set_appointment_status(conn, ctx, appointment, "arrived")
    _changed(conn, session.key)
    return _ticket(conn, values["id"])


def _tickets(conn: Connection, session_key: str, *statuses: str) -> list[sa.Row]:
    return list(conn.execute(sa.select(queue_ticket).where(
        queue_ticket.c.session_key == session_key, queue_ticket.c.status.in_(statuses))))


def _waiting(rows: list[sa.Row]) -> list[ordering.Waiting]:
    return [
        ordering.Waiting(r.id, r.number, _parse(r.appointment_start), _parse(r.arrived), r.priority is not None,
                         _parse(r.returned_at) if r.returned_at else None)
        for r in rows
    ]


def _ordered(conn: Connection, session_key: str) -> list[sa.Row]:
    rows = {r.id: r for r in _tickets(conn, session_key, "waiting")}
    return [rows[w.ticket_id] for w in ordering.queue_order(_waiting(list(rows.values())))]


def _consult_minutes(conn: Connection, practitioner_id: str) -> float:
    done = conn.execute(
        sa.select(queue_ticket.c.called_at, queue_ticket.c.finished_at)
        .join(queue_session, queue_session.c.key == queue_ticket.c.session_key)
        .where(queue_session.c.practitioner_id == practitioner_id, queue_ticket.c.status == "done",
               queue_ticket.c.called_at.is_not(None), queue_ticket.c.finished_at.is_not(None))
        .order_by(queue_ticket.c.finished_at.desc()).limit(ordering.RECENT_CONSULTS)
    ).all()
    return ordering.consult_minutes([_parse(f) - _parse(c) for c, f in done])


def _current(conn: Connection, session_key: str) -> sa.Row | None:
    called = _tickets(conn, session_key, "called")
    return max(called, key=lambda r: r.called_at or "") if called else None


def _finish(conn: Connection, ctx: AccessContext, row: sa.Row, status: str, appointment_status: str) -> None:
    conn.execute(sa.update(queue_ticket).where(queue_ticket.c.id == row.id).values(
        status=status, finished_at=clock.format_instant(clock.now())))
    appointment = store.read(conn, SYSTEM, res_type="Appointment", res_id=row.appointment_id).resource or {}
    _set_appointment_status(conn, ctx, appointment, appointment_status)


def _tell(conn: Connection, event: str, row: sa.Row, session_key: str) -> None:
    room = conn.execute(sa.select(queue_session.c.room).where(queue_session.c.key == session_key)).scalar()
    pending_events(conn).append(DomainEvent(event, {"patient": row.patient_id, "number": row.number,
                                                    "session": session_key, "room": room}))


def _notify_near(conn: Connection, session_key: str) -> None:
    """Tell the patient who now has NEAR_AHEAD people before them, once."""
    ordered = _ordered(conn, session_key)
    if len(ordered) > NEAR_AHEAD and not ordered[NEAR_AHEAD].near_notice:
        row = ordered[NEAR_AHEAD]
        conn.execute(sa.update(queue_ticket).where(queue_ticket.c.id == row.id).values(near_notice=True))
        _tell(conn, PATIENT_NEAR, row, session_key)


def check_staff(conn: Connection, ctx: AccessContext, session: Session) -> None:
    """Refuse queue actions by anyone but the session's doctor or clinical staff of the same hospital."""
    if ctx.is_system or (ctx.fhir_user or "") == f"Practitioner/{session.practitioner_id}":
        return
    if ctx.roles & CLINICAL_ROLES and ctx.organization and \
            ctx.organization.removeprefix("Organization/") in _organizations_of(conn, session.practitioner_id):
        return
    raise QueueError("Only the session's doctor or their colleagues run this queue", code="not-yours", status=403)


def _organizations_of(conn: Connection, practitioner_id: str) -> set[str]:
    """The organisations (and their parent hospitals) where the practitioner has a role."""
    ref, res = tables.idx_reference, tables.resource
    roles = sa.select(ref.c.res_pk).where(ref.c.res_type == "PractitionerRole", ref.c.param == "practitioner",
                                          ref.c.target_type == "Practitioner", ref.c.target_id == practitioner_id)
    found = conn.execute(sa.select(ref.c.target_id).where(
        ref.c.res_pk.in_(roles), ref.c.res_type == "PractitionerRole", ref.c.param == "organization"))
    organizations = set(found.scalars())
    # A department is an Organization part of its hospital: staff of the hospital count too.
    parents = conn.execute(sa.select(res.c.content).where(res.c.res_type == "Organization",
                                                          res.c.res_id.in_(sorted(organizations)))).scalars()
    for content in parents:
        part_of = ((content or {}).get("partOf") or {}).get("reference", "")
        if part_of.startswith("Organization/"):
            organizations.add(part_of.split("/", 1)[1])
    return organizations


def call_next(conn: Connection, ctx: AccessContext, *, session_key: str) -> dict[str, Any] | None:
    """Finish the patient being seen and call the next one; None when nobody is waiting."""
    session = Session.parse(session_key)
    check_staff(conn, ctx, session)
    current = _current(conn, session_key)
    if current is not None:
        _finish(conn, ctx, current, "done", "fulfilled")
    ordered = _ordered(conn, session_key)
    if not ordered:
        _changed(conn, session_key)
        return None
    chosen = ordered[0]
    conn.execute(sa.update(queue_ticket).where(queue_ticket.c.id == chosen.id).values(
        status="called", called_at=clock.format_instant(clock.now())))
    _tell(conn, PATIENT_CALLED, chosen, session_key)
    _notify_near(conn, session_key)
    _changed(conn, session_key)
    return _ticket(conn, chosen.id)


def _called_now(conn: Connection, ctx: AccessContext, session_key: str) -> sa.Row:
    """The ticket being called in the session, for its doctor or their colleagues; QueueError otherwise."""
    check_staff(conn, ctx, Session.parse(session_key))
    current = _current(conn, session_key)
    if current is None:
        raise QueueError("Nobody is being called now", code="nobody-called")
    return current


def _ticket(conn: Connection, ticket_id: str) -> dict[str, Any]:
    return ticket_view(conn, conn.execute(sa.select(queue_ticket).where(queue_ticket.c.id == ticket_id)).one())


def recall(conn: Connection, ctx: AccessContext, *, session_key: str) -> dict[str, Any]:
    """Call the current patient again (the displays announce them once more)."""
    current = _called_now(conn, ctx, session_key)
    conn.execute(sa.update(queue_ticket).where(queue_ticket.c.id == current.id).values(recalls=current.recalls + 1))
    _tell(conn, PATIENT_CALLED, current, session_key)
    _changed(conn, session_key)
    return _ticket(conn, current.id)


def skip(conn: Connection, ctx: AccessContext, *, session_key: str) -> dict[str, Any]:
    """The called patient did not come: they leave the queue until they check in again (as a no-show)."""
    current = _called_now(conn, ctx, session_key)
    _finish(conn, ctx, current, "skipped", "noshow")
    _changed(conn, session_key)
    return _ticket(conn, current.id)


def finish(conn: Connection, ctx: AccessContext, *, session_key: str) -> dict[str, Any]:
    """The consultation is over; nobody new is called yet."""
    current = _called_now(conn, ctx, session_key)
    _finish(conn, ctx, current, "done", "fulfilled")
    _changed(conn, session_key)
    return _ticket(conn, current.id)


def transfer(conn: Connection, ctx: AccessContext, *, session_key: str, number: int,
             to_practitioner: str) -> dict[str, Any]:
    """Move a waiting patient to a colleague's queue in the same session; they keep their place in time."""
    session = Session.parse(session_key)
    check_staff(conn, ctx, session)
    target = Session(to_practitioner, session.day, session.half)
    if target.key == session.key or not to_practitioner or len(to_practitioner) > 64:
        raise QueueError("Choose another doctor to transfer to", code="bad-target", status=400)
    if session.practitioner_id and not _organizations_of(conn, to_practitioner) & _organizations_of(
            conn, session.practitioner_id):
        raise QueueError("Transfers stay within the hospital", code="bad-target", status=400)
    row = conn.execute(sa.select(queue_ticket).where(
        queue_ticket.c.session_key == session_key, queue_ticket.c.number == number,
        queue_ticket.c.status == "waiting")).first()
    if row is None:
        raise QueueError(f"Number {number} is not waiting in this queue", code="no-ticket", status=404)
    conn.execute(sa.update(queue_ticket).where(queue_ticket.c.id == row.id).values(
        session_key=target.key, number=_next_number(conn, target, None), near_notice=False))
    _changed(conn, session_key)
    _changed(conn, target.key)
    return _ticket(conn, row.id)


def ticket_view(conn: Connection, row: sa.Row) -> dict[str, Any]:
    """A ticket as its patient sees it: number, status, how many ahead and the estimated wait."""
    session = Session.parse(row.session_key)
    ordered = _ordered(conn, row.session_key)
    ahead = next((i for i, r in enumerate(ordered) if r.id == row.id), None)
    minutes = _consult_minutes(conn, session.practitioner_id)
    in_progress = _current(conn, row.session_key) is not None
    return {
        "ticket": row.id, "session": row.session_key, "number": row.number, "status": row.status,
        "appointment": row.appointment_id, "priority": row.priority,
        "ahead": ahead, "wait_minutes": ordering.estimated_wait(ahead, minutes, in_progress=in_progress)
        if ahead is not None else None,
    }


def session_view(conn: Connection, session_key: str) -> dict[str, Any]:
    """The queue as a display shows it: who is called, and the waiting numbers in order (no names)."""
    session = Session.parse(session_key)
    row = conn.execute(sa.select(queue_session).where(queue_session.c.key == session_key)).first()
    current = _current(conn, session_key)
    ordered = _ordered(conn, session_key)
    minutes = _consult_minutes(conn, session.practitioner_id)
    return {
        "session": session_key, "practitioner": session.practitioner_id, "day": session.day, "half": session.half,
        "room": row.room if row else None,
        "called": {"number": current.number, "recalls": current.recalls, "called_at": current.called_at}
        if current else None,
        "waiting": [{"number": r.number, "priority": r.priority is not None} for r in ordered],
        "consult_minutes": round(minutes, 1),
    }


def tickets_of(conn: Connection, patient_ids: list[str], *, day: str | None = None) -> list[dict[str, Any]]:
    """The patients' tickets of a local day (today by default), as they see them."""
    day = day or clock.now().astimezone(local_zone()).date().isoformat()
    rows = conn.execute(sa.select(queue_ticket).where(
        queue_ticket.c.patient_id.in_(patient_ids), queue_ticket.c.session_key.like(f"%:{day}:%"))
        .order_by(queue_ticket.c.appointment_start)).all()
    return [ticket_view(conn, r) for r in rows]


def staff_queue(conn: Connection, session_key: str) -> list[dict[str, Any]]:
    """The waiting patients of a session in call order, with the details the doctor needs."""
    ordered = _ordered(conn, session_key)
    patients = {r.patient_id for r in ordered}
    names = {}
    for patient_id in patients:
        try:
            names[patient_id] = store.read(conn, SYSTEM, res_type="Patient", res_id=patient_id).resource or {}
        except FhirError:
            names[patient_id] = {}
    return [{"number": r.number, "patient": r.patient_id, "resource": names[r.patient_id], "priority": r.priority,
             "appointment_start": r.appointment_start, "arrived": r.arrived, "returned": r.returned_at is not None}
            for r in ordered]
