"""Administrators' changes to the directory: departments (hours, fees), doctors (title, languages, biography), rooms.

Writes go through the store with the administrator's own access context, so the policy decides and
the audit trail records them; a hospital administrator changes only their own organisation's records.
"""

import re
from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.directory import conventions as dc
from smartcare.hospital.directory.service import search_all
from smartcare.platform.security.context import SYSTEM, AccessContext

MAX_NAME = 120
MAX_FEE = 10_000
MAX_HOURS_LINES = 14
TITLES = {"chief-physician": ("Chief physician", "主任医师"),
          "associate-chief-physician": ("Associate chief physician", "副主任医师"),
          "attending-physician": ("Attending physician", "主治医师"),
          "resident-physician": ("Resident physician", "住院医师")}
LANGUAGES = {"zh-CN": ("Chinese (China)", "中文"), "en": ("English", "英语"), "yue": ("Cantonese", "粤语"),
             "ja": ("Japanese", "日语"), "ko": ("Korean", "韩语"), "fr": ("French", "法语"), "de": ("German", "德语"),
             "ru": ("Russian", "俄语")}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS_LINE = re.compile(r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?(?:,[a-z]{3}(?:-[a-z]{3})?)*)\s+"
                         r"(?:(?P<all>all-day)|(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2}))$")


class DirectoryEditInvalid(ValueError):
    """An administrator's entry cannot be saved as typed (the message says why)."""


class DirectoryEditRefused(Exception):
    """The administrator may not change this record (another organisation's, or not theirs to change)."""


def _days(text: str) -> list[str]:
    days: list[str] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise DirectoryEditInvalid(f"Unknown day in {part!r}: use mon, tue, wed, thu, fri, sat, sun")
        span = DAYS[DAYS.index(first):DAYS.index(last) + 1] if last else (first,)
        if not span:
            raise DirectoryEditInvalid(f"{part!r} runs backwards")
        days += [d for d in span if d not in days]
    return days


def _clock(text: str) -> str:
    hours, minutes = int(text[:2]), int(text[3:])
    if hours > 23 or minutes > 59:
        raise DirectoryEditInvalid(f"{text} is not a time of day")
    return f"{text}:00"


def parse_hours(text: str) -> list[dict[str, Any]]:
    """Opening hours typed one session a line ("mon-fri 08:00-12:00", "sat,sun all-day") as FHIR availableTime."""
    lines = [line.strip().lower() for line in text.strip().splitlines() if line.strip()]
    if len(lines) > MAX_HOURS_LINES:
        raise DirectoryEditInvalid(f"At most {MAX_HOURS_LINES} lines of opening hours")
    sessions = []
    for line in lines:
        match = _HOURS_LINE.match(line[:60])
        if not match or len(line) > 60:
            raise DirectoryEditInvalid(f"Cannot read {line[:60]!r}: write e.g. mon-fri 08:00-12:00")
        session: dict[str, Any] = {"daysOfWeek": _days(match["days"])}
        if match["all"]:
            session["allDay"] = True
        else:
            start, end = _clock(match["start"]), _clock(match["end"])
            if end <= start:
                raise DirectoryEditInvalid(f"{line}: the session ends before it starts")
            session |= {"availableStartTime": start, "availableEndTime": end}
        sessions.append(session)
    return sessions


def format_hours(available: list[dict[str, Any]]) -> str:
    """FHIR availableTime as the lines parse_hours reads."""
    lines = []
    for session in available:
        days = ",".join(session.get("daysOfWeek", []))
        if session.get("allDay"):
            lines.append(f"{days} all-day")
        else:
            lines.append(f"{days} {session.get('availableStartTime', '')[:5]}-{session.get('availableEndTime', '')[:5]}")
    return "\n".join(lines)


def parse_fee(text: str) -> float | None:
    """A fee in yuan as typed ("50", "12.5"); empty means no such visit."""
    text = text.strip()
    if not text:
        return None
    if not re.fullmatch(r"\d{1,5}(\.\d{1,2})?", text) or float(text) > MAX_FEE:
        raise DirectoryEditInvalid(f"A fee is a number of yuan from 0 to {MAX_FEE}")
    value = float(text)
    return int(value) if value.is_integer() else value


def _checked_text(value: str, limit: int, what: str) -> str:
    value = value.strip()
    if len(value) > limit:
        raise DirectoryEditInvalid(f"{what} is longer than {limit} characters")
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in value):
        raise DirectoryEditInvalid(f"{what} contains control characters")
    return value.replace("\r\n", "\n")


def _own_organization(ctx: AccessContext) -> str | None:
    """The hospital a hospital administrator may edit (None: a regional administrator edits all)."""
    if "regional_admin" in ctx.roles:
        return None
    if "hospital_admin" in ctx.roles and ctx.organization:
        return ctx.organization.removeprefix("Organization/")
    raise DirectoryEditRefused("Only administrators change the directory")


def _hospital_of_service(service: dict[str, Any]) -> str | None:
    dept_ref = (service.get("providedBy") or {}).get("reference", "")
    if not dept_ref.startswith("Organization/"):
        return None
    dept = gateway.read(SYSTEM, dept_ref)
    parent = (dept.get("partOf") or {}).get("reference", "")
    return parent.removeprefix("Organization/") if parent.startswith("Organization/") else dept.get("id")


def _check_reach(ctx: AccessContext, hospital: str | None) -> None:
    own = _own_organization(ctx)
    if own is not None and hospital != own:
        raise DirectoryEditRefused("Hospital administrators change only their own organisation's directory")


def _put(ctx: AccessContext, resource: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in resource.items() if k != "meta"}
    version = (resource.get("meta") or {}).get("versionId")
    headers = {"if-match": f'W/"{version}"'} if version else {}
    try:
        return gateway.serve(ctx, FhirRequest(method="PUT", path=f"{resource['resourceType']}/{resource['id']}",
                                              headers=headers, body=body)).body or {}
    except FhirError as exc:
        if exc.status == 403:
            raise DirectoryEditRefused(exc.message) from exc
        raise DirectoryEditInvalid(exc.message) from exc


def editable_services(ctx: AccessContext) -> list[dict[str, Any]]:
    """The HealthcareServices (departments) ctx may edit."""
    own = _own_organization(ctx)
    if own is None:
        return search_all(SYSTEM, "HealthcareService", [("_sort", "_id")])
    depts = [o["id"] for o in search_all(SYSTEM, "Organization", [("partof", f"Organization/{own}")])]
    if not depts:
        return []
    return search_all(SYSTEM, "HealthcareService",
                      [("organization", ",".join(f"Organization/{d}" for d in depts)), ("_sort", "_id")])


def update_department(ctx: AccessContext, *, service_id: str, hours: str, fees: dict[str, str]) -> dict[str, Any]:
    """Change a department's opening hours and fees per visit type."""
    service = gateway.read(SYSTEM, f"HealthcareService/{service_id}")
    _check_reach(ctx, _hospital_of_service(service))
    available = parse_hours(hours)
    parsed = {code: fee for code in dc.VISIT_TYPES if (fee := parse_fee(fees.get(code, ""))) is not None}
    if available:
        service["availableTime"] = available
    else:
        service.pop("availableTime", None)
    dc.set_fees(service, parsed)
    return _put(ctx, service)


def _roles_of(practitioner_id: str) -> list[dict[str, Any]]:
    return search_all(SYSTEM, "PractitionerRole", [("practitioner", f"Practitioner/{practitioner_id}")])


def editable_roles(ctx: AccessContext) -> list[dict[str, Any]]:
    """The doctors' PractitionerRoles ctx may edit."""
    own = _own_organization(ctx)
    query = [("role", "doctor"), ("_sort", "_id")] + ([("organization", f"Organization/{own}")] if own else [])
    return search_all(SYSTEM, "PractitionerRole", query)


def update_practitioner(ctx: AccessContext, *, practitioner_id: str, title: str, languages: list[str],
                        biography_en: str, biography_zh: str) -> dict[str, Any]:
    """Change a doctor's title, languages and biographies (they must work at ctx's organisation)."""
    practitioner = gateway.read(SYSTEM, f"Practitioner/{practitioner_id}")
    own = _own_organization(ctx)
    if own is not None and not any((r.get("organization") or {}).get("reference") == f"Organization/{own}"
                                   for r in _roles_of(practitioner_id)):
        raise DirectoryEditRefused("Hospital administrators change only their own organisation's doctors")
    if title not in TITLES:
        raise DirectoryEditInvalid("Choose a professional title from the list")
    unknown = [code for code in languages if code not in LANGUAGES]
    if unknown or not languages:
        raise DirectoryEditInvalid("Choose at least one language from the list")
    dc.set_title(practitioner, title, *TITLES[title])
    practitioner["communication"] = [dc.language_concept(code, *LANGUAGES[code]) for code in dict.fromkeys(languages)]
    dc.set_biography(practitioner, "en", _checked_text(biography_en, dc.MAX_BIOGRAPHY, "The English biography"))
    dc.set_biography(practitioner, "zh-CN", _checked_text(biography_zh, dc.MAX_BIOGRAPHY, "The Chinese biography"))
    return _put(ctx, practitioner)


def editable_rooms(ctx: AccessContext) -> list[dict[str, Any]]:
    """The clinic rooms ctx may edit."""
    own = _own_organization(ctx)
    rooms = [loc for loc in search_all(SYSTEM, "Location", [("_sort", "_id")]) if dc.is_room(loc)]
    if own is None:
        return rooms
    return [room for room in rooms if _hospital_of_room(room) == own]


def _hospital_of_room(room: dict[str, Any]) -> str | None:
    ref = (room.get("managingOrganization") or {}).get("reference", "")
    if not ref.startswith("Organization/"):
        return None
    org = gateway.read(SYSTEM, ref)
    parent = (org.get("partOf") or {}).get("reference", "")
    return parent.removeprefix("Organization/") if parent else org.get("id")


def update_room(ctx: AccessContext, *, location_id: str, name: str, name_zh: str, floor: str) -> dict[str, Any]:
    """Rename a clinic room and set its floor."""
    room = gateway.read(SYSTEM, f"Location/{location_id}")
    if not dc.is_room(room):
        raise DirectoryEditInvalid("That location is not a clinic room")
    _check_reach(ctx, _hospital_of_room(room))
    name = _checked_text(name, MAX_NAME, "The name")
    if not name:
        raise DirectoryEditInvalid("A room needs a name")
    if not re.fullmatch(r"-?\d{1,3}", floor.strip()):
        raise DirectoryEditInvalid("The floor is a whole number such as 2 or -1")
    room["name"] = name
    zh = _checked_text(name_zh, MAX_NAME, "The Chinese name")
    if zh:
        room["alias"] = [zh]
    else:
        room.pop("alias", None)
    room["extension"] = [e for e in room.get("extension", []) if e.get("url") != dc.FLOOR_EXT] + [
        {"url": dc.FLOOR_EXT, "valueInteger": int(floor.strip())}]
    return _put(ctx, room)
