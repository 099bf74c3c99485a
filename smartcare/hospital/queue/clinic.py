"""A clinic's waiting-room display: the doctors of one department working this half-day, who is called and who is next.

A clinic is a department's HealthcareService. Its doctors are those with a PractitionerRole in it;
those shown are the ones working now: with a slot of the clinic in this half-day, or with a queue
already open for it. A display may show only one area of the floor (a Location the rooms are part of).
Numbers only, as on the doctor's display: patients' names never reach a public screen.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import tables
from smartcare.hospital.directory.service import department_key
from smartcare.hospital.queue import service
from smartcare.hospital.queue.models import queue_session
from smartcare.hospital.scheduling.models import booking_slot
from smartcare.platform import clock

# How many waiting numbers each doctor's row shows after the called one.
MAX_NEXT = 4
MAX_ID = 64
_HAN = ("\u4e00", "\u9fff")


def _content(conn: Connection, res_type: str, res_id: str) -> dict[str, Any] | None:
    return conn.execute(sa.select(tables.resource.c.content).where(
        tables.resource.c.res_type == res_type, tables.resource.c.res_id == res_id,
        tables.resource.c.deleted.is_(False))).scalar()


def _has_han(text: str) -> bool:
    return any(_HAN[0] <= ch <= _HAN[1] for ch in text)


def clinic_name(clinic: dict[str, Any], locale: str) -> str:
    """The department's name in the reader's language."""
    _code, english, chinese = department_key(clinic)
    return (chinese if locale == "zh-Hans" and chinese else english) or clinic.get("name") or clinic.get("id", "")


def doctor_name(practitioner: dict[str, Any], locale: str) -> str:
    """The doctor's name as the reader writes it: the Chinese name for Chinese readers, the Latin one otherwise."""
    texts = [n.get("text") or _joined(n) for n in practitioner.get("name") or []]
    texts = [t for t in texts if t]
    wanted = [t for t in texts if _has_han(t) == (locale == "zh-Hans")]
    return (wanted or texts or [practitioner.get("id", "")])[0]


def _joined(name: dict[str, Any]) -> str:
    family, given = name.get("family", ""), name.get("given", [])
    if _has_han(family + "".join(given)):
        return family + "".join(given)
    return " ".join([*given, family]).strip()


def clinic_doctors(conn: Connection, service_id: str) -> set[str]:
    """The practitioners with a role in the clinic (the store's search indexes of PractitionerRole)."""
    ref = tables.idx_reference
    roles = sa.select(ref.c.res_pk).where(ref.c.res_type == "PractitionerRole", ref.c.param == "service",
                                          ref.c.target_type == "HealthcareService", ref.c.target_id == service_id)
    return set(conn.execute(sa.select(ref.c.target_id).where(
        ref.c.res_pk.in_(roles), ref.c.res_type == "PractitionerRole", ref.c.param == "practitioner",
        ref.c.target_type == "Practitioner")).scalars())


def working_sessions(conn: Connection, service_id: str, moment: datetime) -> list[service.Session]:
    """The sessions of the clinic's doctors in the half-day of moment: a slot of the clinic in it, or an open queue."""
    local = moment.astimezone(service.local_zone())
    day, half = local.date().isoformat(), "am" if local.hour < service.NOON else "pm"
    s = booking_slot.c
    slots = conn.execute(sa.select(s.practitioner_id, s.start).where(s.service_id == service_id, s.day == day)).all()
    doctors = clinic_doctors(conn, service_id) | {r.practitioner_id for r in slots}
    working = {r.practitioner_id for r in slots
               if service.session_at(r.practitioner_id, clock.parse_instant(r.start)).half == half}
    keys = {service.Session(p, day, half).key: p for p in doctors}
    if keys:
        opened = conn.execute(sa.select(queue_session.c.practitioner_id).where(queue_session.c.key.in_(sorted(keys))))
        working |= set(opened.scalars())
    return [service.Session(p, day, half) for p in sorted(working & doctors)]


def _in_area(conn: Connection, room: str | None, area: str) -> bool:
    if not room or not room.startswith("Location/"):
        return False
    room_id = room.split("/", 1)[1]
    location = _content(conn, "Location", room_id) or {}
    return room_id == area or (location.get("partOf") or {}).get("reference") == f"Location/{area}"


def session_row(conn: Connection, session: service.Session, locale: str) -> dict[str, Any]:
    """One doctor's row on the clinic display: the room, the called number and the next ones."""
    view = service.session_view(conn, session.key)
    room = view["room"] or service.consulting_room(conn, session.practitioner_id)
    practitioner = _content(conn, "Practitioner", session.practitioner_id) or {"id": session.practitioner_id}
    called = view["called"]
    return {
        "session": session.key, "practitioner": session.practitioner_id, "doctor": doctor_name(practitioner, locale),
        "room_ref": room, "room": service.room_label(conn, room, locale) or "",
        "called": {"number": called["number"], "recalls": called["recalls"]} if called else None,
        "next": [w["number"] for w in view["waiting"][:MAX_NEXT]], "waiting": len(view["waiting"]),
    }


def clinic_view(conn: Connection, service_id: str, *, locale: str, area: str | None = None,
                moment: datetime | None = None) -> dict[str, Any] | None:
    """What the clinic's display shows now, or None when there is no such clinic."""
    if not service_id or len(service_id) > MAX_ID or (area is not None and len(area) > MAX_ID):
        return None
    clinic = _content(conn, "HealthcareService", service_id)
    if clinic is None:
        return None
    moment = moment or clock.now()
    rows = [session_row(conn, s, locale) for s in working_sessions(conn, service_id, moment)]
    if area:
        rows = [r for r in rows if _in_area(conn, r["room_ref"], area)]
    rows.sort(key=lambda r: (r["room"] or "~", r["doctor"]))
    for row in rows:
        row.pop("room_ref")
    local = moment.astimezone(service.local_zone())
    return {"clinic": service_id, "name": clinic_name(clinic, locale), "area": area or None,
            "day": local.date().isoformat(), "half": "am" if local.hour < service.NOON else "pm", "sessions": rows}


def clinics_of(conn: Connection, practitioner_id: str) -> list[str]:
    """The clinics (HealthcareService ids) a doctor works in, for a link from their own display."""
    ref = tables.idx_reference
    roles = sa.select(ref.c.res_pk).where(ref.c.res_type == "PractitionerRole", ref.c.param == "practitioner",
                                          ref.c.target_type == "Practitioner", ref.c.target_id == practitioner_id)
    return sorted(set(conn.execute(sa.select(ref.c.target_id).where(
        ref.c.res_pk.in_(roles), ref.c.res_type == "PractitionerRole", ref.c.param == "service",
        ref.c.target_type == "HealthcareService")).scalars()))
