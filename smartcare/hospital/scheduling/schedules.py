"""Schedule templates made into FHIR Schedules and Slots (idempotently), and the demo region's doctors' schedules."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import NotFound
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.hospital.directory import conventions as dc
from smartcare.hospital.scheduling import rules
from smartcare.hospital.scheduling.models import booking_slot
from smartcare.hospital.scheduling.rules import ScheduleTemplate, Session, TemplateInvalid, _
from smartcare.platform import clock
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.settings import get_settings

# Slot.status in FHIR R4: free while a place is left, busy when full, busy-unavailable when blocked.
FREE, BUSY, BLOCKED = "free", "busy", "busy-unavailable"
DEMO_SESSIONS = (Session("am", time(8, 0), time(12, 0)), Session("pm", time(14, 0), time(17, 0)))
# Departments whose doctors see booked outpatients (emergency is walk-in, imaging and the lab take orders).
DEMO_CLOSED_DEPARTMENTS = frozenset({"emergency", "radiology", "laboratory", "pharmacy", "public-health"})


@cache
def region_zone() -> ZoneInfo:
    """The region's local time zone, in which sessions and days are written."""
    return ZoneInfo(get_settings().region_timezone)


@dataclass(frozen=True, slots=True)
class Generated:
    """What one generation run did: slots created now and slots that were already there."""

    created: int
    existing: int


def opening_hours(conn: Connection, service_id: str) -> list[dict] | None:
    """A department's (HealthcareService's) availableTime; None when the service does not say."""
    try:
        service = store.read(conn, SYSTEM, res_type="HealthcareService", res_id=service_id).resource
    except NotFound:
        raise TemplateInvalid(_("There is no HealthcareService/%(service)s"), service=service_id) from None
    return service.get("availableTime")


def _schedule_resource(template: ScheduleTemplate, start: date, days: int) -> dict:
    zone = region_zone()
    return {
        "resourceType": "Schedule",
        "id": rules.schedule_id(template),
        "active": True,
        "actor": [
            {"reference": f"Practitioner/{template.practitioner_id}", "display": template.practitioner_name},
            {"reference": f"PractitionerRole/{template.role_id}"},
            {"reference": f"HealthcareService/{template.service_id}"},
        ],
        "planningHorizon": {"start": clock.format_instant(datetime.combine(start, time(0, 0), zone)),
                            "end": clock.format_instant(datetime.combine(start + timedelta(days=days), time(0, 0),
                                                                         zone))},
        "comment": f"{template.slot_minutes}-minute slots, {template.capacity} per slot",
    }


def _schedule_writes(conn: Connection, template: ScheduleTemplate, start: date, days: int) -> list[store.Write]:
    """The Schedule's write: new, or its planning horizon widened and its details brought up to date."""
    wanted = _schedule_resource(template, start, days)
    try:
        current = store.read(conn, SYSTEM, res_type="Schedule", res_id=wanted["id"]).resource
    except NotFound:
        return [store.Write("PUT", "Schedule", wanted["id"], wanted)]
    horizon = current.get("planningHorizon") or {}
    for edge, pick in (("start", min), ("end", max)):
        if horizon.get(edge):
            wanted["planningHorizon"][edge] = clock.format_instant(pick(
                clock.parse_instant(horizon[edge]), clock.parse_instant(wanted["planningHorizon"][edge])))
    if {k: v for k, v in current.items() if k != "meta"} == wanted:
        return []
    return [store.Write("PUT", "Schedule", wanted["id"], wanted)]


def slot_resource(template_schedule: str, row: dict, status: str) -> dict:
    """The FHIR Slot for a booking_slot row."""
    return {
        "resourceType": "Slot",
        "id": row["slot_id"],
        "schedule": {"reference": f"Schedule/{template_schedule}"},
        "status": status,
        "appointmentType": {"coding": [{"system": rules.VISIT_TYPE_SYSTEM, "code": row["visit_type"],
                                        "display": rules.VISIT_TYPES[row["visit_type"]]}]},
        "start": row["start"],
        "end": row["end"],
        "comment": f"{row['capacity']} place(s)",
    }


def generate_slots(conn: Connection, *, template: ScheduleTemplate, start: date, days: int) -> Generated:
    """Make the FHIR Schedule and the Slots a template gives for days from start; slots already made are kept."""
    rules.check_template(template)
    if not 1 <= days <= 120:
        raise TemplateInvalid(_("Generate from 1 to 120 days at a time"))
    zone = region_zone()
    hours = opening_hours(conn, template.service_id)
    now = clock.now()
    times = [s for d in range(days) for s in rules.slot_times(template, start + timedelta(days=d), zone)
             if s.start > now]
    for s in times:
        if not rules.within_opening_hours(hours, s.start, s.end, zone):
            raise TemplateInvalid(_("Session %(session)s on %(day)s is outside the department's opening hours"),
                                  session=s.session, day=s.day.isoformat())
    ids = [s.slot_id for s in times]
    existing: set[str] = set()
    for chunk in range(0, len(ids), 500):
        existing |= set(conn.execute(sa.select(booking_slot.c.slot_id).where(
            booking_slot.c.slot_id.in_(ids[chunk:chunk + 500]))).scalars())
    sched_id = rules.schedule_id(template)
    writes = _schedule_writes(conn, template, start, days)
    rows = [dict(slot_id=s.slot_id, schedule_id=sched_id, practitioner_id=template.practitioner_id,
                 practitioner_name=template.practitioner_name[:200], role_id=template.role_id,
                 service_id=template.service_id, organization_id=template.organization_id,
                 day=s.day.isoformat(), session=s.session, start=clock.format_instant(s.start),
                 end=clock.format_instant(s.end), visit_type=template.visit_type, fee=template.fee,
                 capacity=template.capacity, booked=0, blocked=False, block_reason=None, version=1)
            for s in times if s.slot_id not in existing]
    if rows:
        conn.execute(booking_slot.insert(), rows)
    writes += [store.Write("PUT", "Slot", row["slot_id"], slot_resource(sched_id, row, FREE)) for row in rows]
    store.write_batch(conn, SYSTEM, writes)
    return Generated(created=len(rows), existing=len(existing))


def set_slot_status(conn: Connection, slot_id: str, status: str) -> None:
    """Write FHIR Slot.status (as the platform) when it differs from what is stored."""
    current = store.read(conn, SYSTEM, res_type="Slot", res_id=slot_id).resource
    if current.get("status") != status:
        store.update(conn, SYSTEM, {**current, "status": status}, res_type="Slot", res_id=slot_id)


def _demo_doctor_roles(conn: Connection) -> list[dict]:
    """Active PractitionerRoles coded doctor in departments that take booked outpatients."""
    query = [("role", "doctor"), ("active", "true"), ("_count", "1000")]
    bundle = dispatch(conn, SYSTEM, FhirRequest(method="GET", path="PractitionerRole", query=query)).body or {}
    return [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"]


def demo_templates(conn: Connection) -> list[ScheduleTemplate]:
    """A template for every demo doctor who sees outpatients: weekday mornings and afternoons, 15-minute slots,
    the fee the doctor's department charges for the doctor's visit type (from the directory)."""
    templates = []
    for role in _demo_doctor_roles(conn):
        service_ref = (role.get("healthcareService") or [{}])[0].get("reference", "")
        service_id = service_ref.removeprefix("HealthcareService/")
        department = service_id.split("-", 2)[-1] if service_id.startswith("hcs-") else ""
        if not service_id or any(department.endswith(key) for key in DEMO_CLOSED_DEPARTMENTS):
            continue
        prac_id = role["practitioner"]["reference"].removeprefix("Practitioner/")
        practitioner = store.read(conn, SYSTEM, res_type="Practitioner", res_id=prac_id).resource
        service = store.read(conn, SYSTEM, res_type="HealthcareService", res_id=service_id).resource
        fee = dc.fees_of(service).get(dc.visit_type_of(role) or dc.VISIT_TYPES[0])
        if fee is None:
            continue
        templates.append(ScheduleTemplate(
            role_id=role["id"], practitioner_id=prac_id, practitioner_name=display_name(practitioner),
            service_id=service_id, organization_id=role["organization"]["reference"].removeprefix("Organization/"),
            weekdays=frozenset(range(5)), sessions=DEMO_SESSIONS, slot_minutes=15, capacity=2, fee=round(fee * 100)))
    return templates


def display_name(practitioner: dict) -> str:
    """A practitioner's name as one line (the text of the first name, else given and family names)."""
    names = practitioner.get("name") or [{}]
    name = names[0]
    return name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip() or practitioner["id"]


def generate_demo_schedules(conn: Connection, *, days: int = 14) -> Generated:
    """Store a template for each of the demo region's outpatient doctors and make their slots for the next
    `days` days (safe to re-run; templates an administrator changed since are kept as they are)."""
    from smartcare.hospital.scheduling import templates_store

    created = existing = 0
    for template in demo_templates(conn):
        if templates_store.load_template(conn, role_id=template.role_id) is None:
            facts = templates_store.role_facts(conn, role_id=template.role_id)
            templates_store.save_template(
                conn, role_id=template.role_id, weekdays=template.weekdays, sessions=template.sessions,
                slot_minutes=template.slot_minutes, capacity=template.capacity, visit_type=facts.visit_type,
                appointment_type=template.visit_type, fee=None, updated_by="demo")
        result = templates_store.generate(conn, role_id=template.role_id, days=days)
        created += result.created
        existing += result.existing
    return Generated(created=created, existing=existing)
