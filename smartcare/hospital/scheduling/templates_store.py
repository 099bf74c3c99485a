"""Stored schedule templates: one per doctor's role, checked by the rules, made into Schedules and Slots ahead.

A template's fee is, unless the administrator types one, the department's fee for the template's
visit type as the directory records it (HealthcareService fee extensions, in yuan), so a fee is
written down in one place. The fee is looked up each time slots are made, so a department's new
fee applies to slots made after the change.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import NotFound
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.hospital.directory import conventions as dc
from smartcare.hospital.scheduling import leave, rules, schedules
from smartcare.hospital.scheduling.models import schedule_template
from smartcare.hospital.scheduling.rules import ScheduleTemplate, Session, TemplateInvalid, _
from smartcare.platform import clock
from smartcare.platform.security.context import SYSTEM

MAX_GENERATE_DAYS = 120


class HorizonSettings(BaseSettings):
    """How far ahead the nightly job keeps slots open, from SMARTCARE_SCHEDULE_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="SMARTCARE_SCHEDULE_")

    horizon_days: int = 14


@dataclass(frozen=True, slots=True)
class StoredTemplate:
    """A role's template as stored: the rules' template plus the directory visit type, fee override and state."""

    role_id: str
    practitioner_id: str
    practitioner_name: str
    service_id: str
    organization_id: str
    weekdays: frozenset[int]
    sessions: tuple[Session, ...]
    slot_minutes: int
    capacity: int
    visit_type: str  # the directory's: ordinary, specialist, expert
    appointment_type: str  # HL7 v2 0276, on the Slots
    fee: int | None  # fen; None: the department's fee for visit_type
    active: bool
    updated_by: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class RoleFacts:
    """What the directory says about a doctor's role: who, where, and the visit type offered."""

    role_id: str
    practitioner_id: str
    practitioner_name: str
    service_id: str
    organization_id: str
    visit_type: str


def encode_sessions(sessions: tuple[Session, ...]) -> str:
    """Sessions as stored: "am=08:00-12:00;pm=14:00-17:00"."""
    return ";".join(f"{s.name}={s.start:%H:%M}-{s.end:%H:%M}" for s in sessions)


def decode_sessions(text: str) -> tuple[Session, ...]:
    """The sessions encode_sessions wrote."""
    found = []
    for part in filter(None, text.split(";")):
        name, _, span = part.partition("=")
        start, _, end = span.partition("-")
        found.append(Session(name, time.fromisoformat(start), time.fromisoformat(end)))
    return tuple(found)


def session_name(start: time, taken: set[str]) -> str:
    """A session's name from its start: "am" before noon, else "pm"; "am-2" and so on when one is taken."""
    base = "am" if start < time(12, 0) else "pm"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def _row_to_template(row: sa.Row) -> StoredTemplate:
    return StoredTemplate(
        role_id=row.role_id, practitioner_id=row.practitioner_id, practitioner_name=row.practitioner_name,
        service_id=row.service_id, organization_id=row.organization_id,
        weekdays=frozenset(int(d) for d in row.weekdays), sessions=decode_sessions(row.sessions),
        slot_minutes=row.slot_minutes, capacity=row.capacity, visit_type=row.visit_type,
        appointment_type=row.appointment_type, fee=row.fee, active=row.active, updated_by=row.updated_by,
        updated_at=row.updated_at)


def _search(conn: Connection, res_type: str, query: list[tuple[str, str]]) -> list[dict]:
    bundle = dispatch(conn, SYSTEM, FhirRequest(method="GET", path=res_type, query=query)).body or {}
    return [e["resource"] for e in bundle.get("entry", [])]


def _facts(role: dict, practitioner: dict) -> RoleFacts:
    service_ref = (role.get("healthcareService") or [{}])[0].get("reference", "")
    return RoleFacts(role_id=role["id"], practitioner_id=practitioner["id"],
                     practitioner_name=schedules.display_name(practitioner),
                     service_id=service_ref.removeprefix("HealthcareService/"),
                     organization_id=(role.get("organization") or {}).get("reference", "")
                     .removeprefix("Organization/"),
                     visit_type=dc.visit_type_of(role) or dc.VISIT_TYPES[0])


def role_facts(conn: Connection, *, role_id: str) -> RoleFacts:
    """The directory's facts about a PractitionerRole; TemplateInvalid when there is no such role or department."""
    try:
        role = store.read(conn, SYSTEM, res_type="PractitionerRole", res_id=role_id).resource
        prac_id = (role.get("practitioner") or {}).get("reference", "").removeprefix("Practitioner/")
        practitioner = store.read(conn, SYSTEM, res_type="Practitioner", res_id=prac_id).resource
    except NotFound:
        raise TemplateInvalid(_("There is no doctor's role %(role)s"), role=role_id) from None
    facts = _facts(role, practitioner)
    if not facts.service_id or not facts.organization_id:
        raise TemplateInvalid(_("The role %(role)s has no department or hospital in the directory"), role=role_id)
    return facts


@dataclass(frozen=True, slots=True)
class Doctor:
    """A doctor's role as the console lists it: the directory's facts and the department's names."""

    facts: RoleFacts
    department_en: str
    department_zh: str


def _department_names(service: dict | None) -> tuple[str, str]:
    concept = ((service or {}).get("type") or [{}])[0]
    display = next((c.get("display") for c in concept.get("coding", []) if c.get("display")), None)
    name = (service or {}).get("name", "")
    return display or name, concept.get("text") or display or name


def doctors_of(conn: Connection, *, organization_id: str) -> list[Doctor]:
    """The doctors' roles of a hospital that belong to a department, by name."""
    query = [("organization", f"Organization/{organization_id}"), ("role", "doctor"), ("active", "true"),
             ("_include", "PractitionerRole:practitioner"), ("_include", "PractitionerRole:service"),
             ("_count", "1000")]
    found = _search(conn, "PractitionerRole", query)
    included = {f"{r['resourceType']}/{r['id']}": r for r in found if r["resourceType"] != "PractitionerRole"}
    doctors = []
    for role in (r for r in found if r["resourceType"] == "PractitionerRole"):
        practitioner = included.get((role.get("practitioner") or {}).get("reference", ""))
        if practitioner is None or not role.get("healthcareService"):
            continue
        facts = _facts(role, practitioner)
        doctors.append(Doctor(facts, *_department_names(included.get(f"HealthcareService/{facts.service_id}"))))
    return sorted(doctors, key=lambda d: (d.facts.practitioner_name, d.facts.role_id))


def department_fee(conn: Connection, *, service_id: str, visit_type: str) -> int | None:
    """The department's fee for a visit type in fen, from the directory (None when it records none)."""
    try:
        service = store.read(conn, SYSTEM, res_type="HealthcareService", res_id=service_id).resource
    except NotFound:
        return None
    fee = dc.fees_of(service).get(visit_type)
    return None if fee is None else round(fee * 100)


def as_rules_template(conn: Connection, stored: StoredTemplate) -> ScheduleTemplate:
    """The rules' template for a stored one, its fee taken from the department when none is set."""
    fee = stored.fee
    if fee is None:
        fee = department_fee(conn, service_id=stored.service_id, visit_type=stored.visit_type)
        if fee is None:
            raise TemplateInvalid(_("The department has no fee for this visit type: set one in the directory "
                                    "or type a fee"))
    return ScheduleTemplate(
        role_id=stored.role_id, practitioner_id=stored.practitioner_id, practitioner_name=stored.practitioner_name,
        service_id=stored.service_id, organization_id=stored.organization_id, weekdays=stored.weekdays,
        sessions=stored.sessions, slot_minutes=stored.slot_minutes, capacity=stored.capacity,
        visit_type=stored.appointment_type, fee=fee)


def save_template(conn: Connection, *, role_id: str, weekdays: frozenset[int], sessions: tuple[Session, ...],
                  slot_minutes: int, capacity: int, visit_type: str, fee: int | None, updated_by: str,
                  appointment_type: str = "ROUTINE", active: bool = True) -> StoredTemplate:
    """Check and store a role's template (replacing the one before); TemplateInvalid says what is wrong."""
    if visit_type not in dc.VISIT_TYPES:
        raise TemplateInvalid(_("Choose a visit type from the list"))
    facts = role_facts(conn, role_id=role_id)
    stored = StoredTemplate(
        role_id=role_id, practitioner_id=facts.practitioner_id, practitioner_name=facts.practitioner_name[:200],
        service_id=facts.service_id, organization_id=facts.organization_id, weekdays=frozenset(weekdays),
        sessions=tuple(sorted(sessions, key=lambda s: s.start)), slot_minutes=slot_minutes, capacity=capacity,
        visit_type=visit_type, appointment_type=appointment_type, fee=fee, active=active,
        updated_by=updated_by[:255], updated_at=clock.format_instant(clock.now()))
    _check_opening_hours(conn, as_rules_template(conn, stored))
    values = dict(
        practitioner_id=stored.practitioner_id, practitioner_name=stored.practitioner_name,
        service_id=stored.service_id, organization_id=stored.organization_id,
        weekdays="".join(str(d) for d in sorted(stored.weekdays)), sessions=encode_sessions(stored.sessions),
        slot_minutes=slot_minutes, capacity=capacity, visit_type=visit_type, appointment_type=appointment_type,
        fee=fee, active=active, updated_by=stored.updated_by, updated_at=stored.updated_at)
    t = schedule_template.c
    changed = conn.execute(schedule_template.update().where(t.role_id == role_id).values(**values)).rowcount
    if not changed:
        conn.execute(schedule_template.insert().values(role_id=role_id, **values))
    return stored


def _check_opening_hours(conn: Connection, template: ScheduleTemplate) -> None:
    """TemplateInvalid unless the template's rules hold and a week of its slots lies in the department's hours."""
    rules.check_template(template)
    zone = schedules.region_zone()
    hours = schedules.opening_hours(conn, template.service_id)
    for day, times in week_preview(template, first_day=local_today()):
        for s in times:
            if not rules.within_opening_hours(hours, s.start, s.end, zone):
                raise TemplateInvalid(_("Session %(session)s on %(day)s is outside the department's opening hours"),
                                      session=s.session, day=day.isoformat())


def load_template(conn: Connection, *, role_id: str) -> StoredTemplate | None:
    """The stored template of a role, or None."""
    row = conn.execute(sa.select(schedule_template).where(schedule_template.c.role_id == role_id)).first()
    return _row_to_template(row) if row is not None else None


def templates_of(conn: Connection, *, organization_id: str | None = None,
                 active_only: bool = False) -> list[StoredTemplate]:
    """The stored templates of a hospital (or of all), active ones only if asked."""
    t = schedule_template.c
    query = sa.select(schedule_template).order_by(t.role_id)
    if organization_id is not None:
        query = query.where(t.organization_id == organization_id)
    if active_only:
        query = query.where(t.active.is_(True))
    return [_row_to_template(row) for row in conn.execute(query)]


def local_today() -> date:
    """Today in the region's time zone."""
    return clock.now().astimezone(schedules.region_zone()).date()


def generate(conn: Connection, *, role_id: str, start: date | None = None,
             days: int | None = None) -> schedules.Generated:
    """Make a stored template's slots for days from start (default: today, the horizon), keeping blocked periods."""
    stored = load_template(conn, role_id=role_id)
    if stored is None:
        raise TemplateInvalid(_("There is no schedule template for %(role)s"), role=role_id)
    start = start or local_today()
    days = days or HorizonSettings().horizon_days
    if not 1 <= days <= MAX_GENERATE_DAYS:
        raise TemplateInvalid(_("Generate from 1 to 120 days at a time"))
    template = as_rules_template(conn, stored)
    made = schedules.generate_slots(conn, template=template, start=start, days=days)
    zone = schedules.region_zone()
    leave.apply_recorded_blocks(conn, practitioner_id=stored.practitioner_id, organization_id=stored.organization_id,
                                start=datetime.combine(start, time(0, 0), zone),
                                end=datetime.combine(start + timedelta(days=days), time(0, 0), zone))
    return made


@dataclass(frozen=True, slots=True)
class Extended:
    """What a nightly run did: slots made, slots already there, and the templates that could not be used."""

    created: int
    existing: int
    failed: dict[str, str]  # role id -> why


def extend_all(conn: Connection, *, days: int | None = None) -> Extended:
    """Make every active template's slots from today to `days` ahead (the horizon); safe to run again."""
    created = existing = 0
    failed: dict[str, str] = {}
    for stored in templates_of(conn, active_only=True):
        try:
            with conn.begin_nested():
                made = generate(conn, role_id=stored.role_id, days=days)
        except TemplateInvalid as exc:
            failed[stored.role_id] = str(exc)
            continue
        created += made.created
        existing += made.existing
    return Extended(created=created, existing=existing, failed=failed)


def week_preview(template: ScheduleTemplate, *, first_day: date) -> list[tuple[date, list[rules.SlotTime]]]:
    """The slots a template gives in the seven days from first_day, day by day (days without slots included)."""
    zone = schedules.region_zone()
    return [(day, rules.slot_times(template, day, zone)) for day in (first_day + timedelta(days=n) for n in range(7))]
