"""Where a visit happens, from the public directory: hospital, department, room and floor in the reader's language."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.directory import conventions as dc
from smartcare.hospital.directory import service as directory
from smartcare.hospital.scheduling.schedules import region_zone
from smartcare.platform import clock
from smartcare.platform.security.context import SYSTEM

DAYS_AHEAD = 14


@dataclass(frozen=True, slots=True)
class Place:
    """A doctor's department and consulting room, named for one language."""

    doctor: str
    hospital: str
    department: str
    room: str
    floor: int | None


def _chinese(locale: str) -> bool:
    return locale.startswith("zh")


def department_name(service: dict[str, Any], locale: str) -> str:
    """A department's name in the reader's language."""
    _code, english, chinese = directory.department_key(service)
    return (chinese if _chinese(locale) and chinese else english) or service.get("name", service.get("id", ""))


def organization_name(organization: dict[str, Any] | None, locale: str) -> str:
    """A hospital's name in the reader's language."""
    if not organization:
        return ""
    alias = (organization.get("alias") or [""])[0]
    return (alias if _chinese(locale) and alias else organization.get("name", "")) or organization.get("id", "")


def _floor(role_id: str) -> int | None:
    try:
        role = gateway.read(SYSTEM, f"PractitionerRole/{role_id}")
        for ref in role.get("location", []):
            reference = ref.get("reference", "")
            if reference.startswith("Location/"):
                return dc.floor_of(gateway.read(SYSTEM, reference))
    except FhirError:
        return None
    return None


def place_of(practitioner_id: str, service_id: str, locale: str, fallback_name: str = "") -> Place:
    """The doctor's name, hospital, department, room and floor for a visit in service_id."""
    entries = directory.current_index().by_practitioner(practitioner_id)
    entry = next((e for e in entries if e.service_id == service_id), entries[0] if entries else None)
    if entry is None:
        return Place(fallback_name, "", "", "", None)
    zh = _chinese(locale)
    return Place(
        doctor=(entry.name_zh if zh and entry.name_zh else entry.name_latin or entry.name_zh) or fallback_name,
        hospital=(entry.organization_zh if zh and entry.organization_zh else entry.organization_en),
        department=(entry.department_zh if zh and entry.department_zh else entry.department_en),
        room=(entry.room_zh if zh and entry.room_zh else entry.room) or "",
        floor=_floor(entry.role_id),
    )


def today() -> date:
    """Today in the region."""
    return clock.now().astimezone(region_zone()).date()


def day_choices(chosen: date) -> list[dict[str, Any]]:
    """The next DAYS_AHEAD days for the day picker, the chosen one marked."""
    first = today()
    return [{"iso": (d := first + timedelta(days=i)).isoformat(), "day": d, "current": d == chosen}
            for i in range(DAYS_AHEAD)]


def chosen_day(text: str | None) -> date:
    """The day asked for if it is one of the next DAYS_AHEAD days, else today."""
    first = today()
    try:
        asked = date.fromisoformat(text or "") if text and len(text) == 10 else first
    except ValueError:
        return first
    return asked if first <= asked < first + timedelta(days=DAYS_AHEAD) else first


def local_time(instant: str) -> datetime:
    """A stored UTC instant in the region's time."""
    return clock.parse_instant(instant).astimezone(region_zone())


def money(fen: int) -> str:
    """An amount in fen written as yuan."""
    return f"¥{fen / 100:.2f}"
