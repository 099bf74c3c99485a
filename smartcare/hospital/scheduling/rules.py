"""Pure scheduling rules: template sessions to slot times, opening hours, and the booking limits."""

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic_settings import BaseSettings, SettingsConfigDict

# Appointment types of HL7 v2 table 0276, which FHIR R4 uses for Slot and Appointment.appointmentType.
VISIT_TYPES = {"ROUTINE": "Routine appointment", "FOLLOWUP": "A follow up visit from a previous appointment",
               "CHECKUP": "A routine check-up, such as an annual physical", "WALKIN": "A previously unscheduled walk-in visit"}
VISIT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0276"
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class BookingRules(BaseSettings):
    """The limits booking keeps to, from SMARTCARE_BOOKING_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="SMARTCARE_BOOKING_")

    # A patient may cancel or reschedule up to this long before the visit.
    cancel_cutoff_minutes: int = 120
    # Standing bookings one patient may hold for visits on one day.
    daily_limit: int = 3
    # An unpaid booking is released after this long.
    unpaid_timeout_minutes: int = 15
    # The payment provider registered under this name takes registration fees.
    payment_provider: str = "dev"


@dataclass(frozen=True, slots=True)
class Session:
    """One clinic session of a day, in local time: e.g. ("am", 08:00, 12:00)."""

    name: str
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class ScheduleTemplate:
    """How a practitioner in a role works: on which weekdays, which sessions, slot length, places, visit type, fee."""

    role_id: str
    practitioner_id: str
    practitioner_name: str
    service_id: str
    organization_id: str
    weekdays: frozenset[int]  # 0 = Monday
    sessions: tuple[Session, ...]
    slot_minutes: int = 15
    capacity: int = 1
    visit_type: str = "ROUTINE"
    fee: int = 0  # fen


@dataclass(frozen=True, slots=True)
class SlotTime:
    """A slot a template makes on one day."""

    slot_id: str
    day: date
    session: str
    start: datetime  # UTC
    end: datetime


MAX_SESSIONS = 6


def _(message: str) -> str:
    """Mark a message for the catalog; it is translated where it is shown."""
    return message


class TemplateInvalid(ValueError):
    """A schedule template that cannot make slots: message (a catalog msgid) % values says why."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message % values if values else message)
        self.message = message
        self.values = values


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def check_template(template: ScheduleTemplate) -> None:
    """Raise TemplateInvalid unless the template's numbers and sessions make sense.

    Sessions must not overlap and each must divide into whole slots, so every minute of a session
    is bookable and no slot runs past the session's end.
    """
    if not 5 <= template.slot_minutes <= 240:
        raise TemplateInvalid(_("A slot lasts from 5 to 240 minutes"))
    if not 1 <= template.capacity <= 500:
        raise TemplateInvalid(_("A slot holds from 1 to 500 patients"))
    if template.visit_type not in VISIT_TYPES:
        raise TemplateInvalid(_("The visit type must be one of %(types)s"), types=", ".join(VISIT_TYPES))
    if template.fee < 0:
        raise TemplateInvalid(_("The fee cannot be negative"))
    if not template.weekdays or not template.weekdays <= set(range(7)):
        raise TemplateInvalid(_("Choose at least one weekday"))
    if not 1 <= len(template.sessions) <= MAX_SESSIONS:
        raise TemplateInvalid(_("A template has from 1 to %(most)s sessions"), most=MAX_SESSIONS)
    if len({s.name for s in template.sessions}) != len(template.sessions):
        raise TemplateInvalid(_("Each session needs its own name"))
    for session in template.sessions:
        if session.start >= session.end:
            raise TemplateInvalid(_("Session %(session)s ends before it starts"), session=session.name)
        if (_minutes(session.end) - _minutes(session.start)) % template.slot_minutes:
            raise TemplateInvalid(_("Session %(session)s does not divide into %(minutes)s-minute slots"),
                                  session=session.name, minutes=template.slot_minutes)
    ordered = sorted(template.sessions, key=lambda s: s.start)
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        if later.start < earlier.end:
            raise TemplateInvalid(_("Sessions %(first)s and %(second)s overlap"), first=earlier.name,
                                  second=later.name)


def stable_id(prefix: str, *parts: str) -> str:
    """A FHIR id made from parts, the same every time (so re-running a generation makes no duplicates)."""
    text = "-".join((prefix, *parts))
    if len(text) <= 64:
        return text
    return f"{prefix}-{hashlib.sha256(text.encode()).hexdigest()[:40]}"


def schedule_id(template: ScheduleTemplate) -> str:
    """The id of the FHIR Schedule a template's slots belong to."""
    return stable_id("sched", template.role_id)


def slot_times(template: ScheduleTemplate, day: date, zone: ZoneInfo) -> list[SlotTime]:
    """The slots a template makes on one local day (none on days it does not work)."""
    if day.weekday() not in template.weekdays:
        return []
    out = []
    step = timedelta(minutes=template.slot_minutes)
    for session in template.sessions:
        start = datetime.combine(day, session.start, zone)
        last = datetime.combine(day, session.end, zone)
        while start + step <= last:
            out.append(SlotTime(stable_id("slot", template.role_id, start.strftime("%Y%m%d%H%M")), day,
                                session.name, start.astimezone(UTC), (start + step).astimezone(UTC)))
            start += step
    return out


def _clock_time(text: str) -> time:
    return time.fromisoformat(text)


def within_opening_hours(available_time: list[dict] | None, start: datetime, end: datetime, zone: ZoneInfo) -> bool:
    """True when [start, end) lies inside one of a HealthcareService's availableTime entries (none: always open)."""
    if not available_time:
        return True
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    if local_start.date() != (local_end - timedelta(microseconds=1)).date():
        return False
    day_name = _DAY_NAMES[local_start.weekday()]
    for entry in available_time:
        if day_name not in (entry.get("daysOfWeek") or _DAY_NAMES):
            continue
        if entry.get("allDay"):
            return True
        opens = _clock_time(entry.get("availableStartTime", "00:00:00"))
        closes = entry.get("availableEndTime")
        if opens <= local_start.time() and (closes is None or local_end.time() <= _clock_time(closes)):
            return True
    return False


def session_key(practitioner_id: str, day: str, session: str) -> str:
    """What 'one booking per patient per doctor per session' counts by."""
    return f"{practitioner_id}|{day}|{session}"
