"""Hospital information for the patient app: the directory's facts joined with the map, services around and waits.

Names, addresses, phones, departments and their hours come from the FHIR directory (read as the
platform: it is public, not personal data); data/places.yaml adds what FHIR does not hold (map
position and the services around each organisation). Emergency waits come from the queue's record of
the emergency department's arrivals and calls (waits.py); where it has none, none is shown.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.directory import service as directory
from smartcare.hospital.queue.waits import EmergencyWait, emergency_wait, rank_key
from smartcare.patient.navigation import geo
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM, AccessContext

MAX_QUERY = 60
SERVICE_KINDS = ("pharmacy", "parking", "canteen", "atm", "accommodation", "transport")
# Words a person might search with, per kind of service (the names and places are searched too).
KIND_WORDS = {
    "pharmacy": ("pharmacy", "pharmacies", "drugstore", "chemist", "dispensary", "medicine", "medicines", "drugs",
                 "药房", "药店", "取药", "买药", "药"),
    "parking": ("parking", "park", "car", "cars", "garage", "bicycle", "bike", "停车", "停车场", "车位", "泊车"),
    "canteen": ("canteen", "food", "eat", "restaurant", "cafe", "coffee", "meal", "meals", "snack", "lunch",
                "食堂", "餐厅", "吃饭", "用餐", "咖啡", "饭"),
    "atm": ("atm", "atms", "cash", "bank", "money", "取款", "取款机", "银行", "现金", "取钱"),
    "accommodation": ("accommodation", "hotel", "stay", "guesthouse", "inn", "lodging", "sleep", "住宿", "酒店",
                      "旅馆", "宾馆", "客栈"),
    "transport": ("transport", "bus", "buses", "taxi", "metro", "stop", "公交", "公交车", "出租车", "打车", "交通",
                  "车站", "地铁"),
}
_LATIN_WORD = re.compile(r"[a-z0-9]+")
_MAX_ID = 64
# The hospital grade code system the directory uses (…/CodeSystem/cn-institution-grade).
_GRADE_SYSTEM = "/CodeSystem/cn-institution-grade"


class NotFound(Exception):
    """No such organisation (or booked visit) in the directory."""


@dataclass(slots=True)
class Hospital:
    """One organisation as the patient pages show it, with both languages' names."""

    id: str
    name_en: str
    name_zh: str
    kind_en: str
    kind_zh: str
    address_en: str
    address_zh: str
    phone: str
    lat: float | None
    lon: float | None
    departments: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    hours: list[dict[str, Any]] = field(default_factory=list)
    emergency_service: str | None = None
    emergency_all_day: bool = False


def _address(org: dict[str, Any]) -> tuple[str, str]:
    address = (org.get("address") or [{}])[0]
    english = ", ".join(x for x in [*address.get("line", []), address.get("district", ""), address.get("city", "")]
                        if x)
    return english, address.get("text", "") or english


def _phone(org: dict[str, Any]) -> str:
    return next((t.get("value", "") for t in org.get("telecom", []) if t.get("system") == "phone"), "")


def _grade(org: dict[str, Any]) -> tuple[str, str]:
    for concept in org.get("type", []):
        for coding in concept.get("coding", []):
            if coding.get("system", "").endswith(_GRADE_SYSTEM):
                return coding.get("display", ""), concept.get("text", "") or coding.get("display", "")
    return "", ""


def _hours(departments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The outpatient sessions of the organisation: each distinct availableTime entry and who keeps it."""
    outpatient = [d for d in departments if d["key"] != "emergency" and d["hours"]]
    sessions: dict[tuple, dict[str, Any]] = {}
    for d in outpatient:
        for entry in d["hours"]:
            days = tuple(entry.get("daysOfWeek", []))
            start, end = (entry.get("availableStartTime") or "")[:5], (entry.get("availableEndTime") or "")[:5]
            key = (days, start, end, bool(entry.get("allDay")))
            sessions.setdefault(key, {"days": list(days), "start": start, "end": end, "all_day": key[3],
                                      "departments": []})["departments"].append(d)
    found = sorted(sessions.values(), key=lambda s: (-len(s["departments"]), s["days"] != s["days"][:5], s["start"]))
    for s in found:
        if len(s["departments"]) == len(outpatient):
            s["departments"] = []  # every department keeps it: no need to name them
    return found


def _departments(org_id: str) -> list[dict[str, Any]]:
    rows = []
    for row in directory.departments(organization=org_id):
        key, english, chinese = directory.department_key(row["service"])
        rows.append({"key": key, "name_en": english, "name_zh": chinese or english, "service_id": row["service"]["id"],
                     "hours": row["service"].get("availableTime", [])})
    return sorted(rows, key=lambda d: d["name_en"])


def _services(org_id: str) -> list[dict[str, Any]]:
    spec = geo.places()["organizations"].get(org_id, {})
    return [dict(s) for s in spec.get("services", [])]


def hospital_of(org: dict[str, Any]) -> Hospital:
    """An organisation of the directory with its departments, hours, map position and services around."""
    address_en, address_zh = _address(org)
    kind_en, kind_zh = _grade(org)
    position = geo.organization_position(org["id"])
    departments = _departments(org["id"])
    emergency = next((d for d in departments if d["key"] == "emergency"), None)
    return Hospital(
        id=org["id"], name_en=org.get("name", org["id"]), name_zh=(org.get("alias") or [org.get("name", "")])[0],
        kind_en=kind_en, kind_zh=kind_zh, address_en=address_en, address_zh=address_zh, phone=_phone(org),
        lat=position[0] if position else None, lon=position[1] if position else None, departments=departments,
        services=_services(org["id"]), hours=_hours(departments),
        emergency_service=emergency["service_id"] if emergency else None,
        emergency_all_day=bool(emergency) and any(e.get("allDay") for e in emergency["hours"]),
    )


def hospitals() -> list[Hospital]:
    """Every hospital and community health centre of the directory."""
    return [hospital_of(org) for org in directory.organizations()]


def hospital(org_id: str) -> Hospital:
    """One organisation by id; NotFound when the directory has no such hospital."""
    org_id = (org_id or "")[:_MAX_ID]
    try:
        org = gateway.read(SYSTEM, f"Organization/{org_id}")
    except FhirError:
        raise NotFound(org_id) from None
    if not directory.is_hospital(org):
        raise NotFound(org_id)
    return hospital_of(org)


# --- services around ----------------------------------------------------------------------------


def _matches(query: str, words: tuple[str, ...]) -> bool:
    tokens = set(_LATIN_WORD.findall(query))
    for word in words:
        if word.isascii():
            if word in tokens or (" " in word and word in query):
                return True
        elif word in query or (len(query) >= 2 and query in word):
            return True
    return False


def service_matches(service: dict[str, Any], query: str) -> bool:
    """True when a service around the hospital answers the query (its kind, name or place, EN or ZH)."""
    q = (query or "").strip().lower()[:MAX_QUERY]
    if not q:
        return True
    if _matches(q, KIND_WORDS.get(service["kind"], ())):
        return True
    text = " ".join(str(service.get(k, "")) for k in ("name_en", "name_zh", "where_en", "where_zh")).lower()
    return q in text


def search_services(found: list[Hospital], query: str) -> list[tuple[Hospital, list[dict[str, Any]]]]:
    """The hospitals with services around them that answer the query, and those services."""
    return [(h, hits) for h in found if (hits := [s for s in h.services if service_matches(s, query)])]


# --- nearest ------------------------------------------------------------------------------------


def by_distance(found: list[Hospital], position: tuple[float, float]) -> list[tuple[Hospital, float]]:
    """Hospitals on the map with their distance in km from position, nearest first."""
    placed = [(h, geo.haversine_km(position, (h.lat, h.lon))) for h in found if h.lat is not None]
    return sorted(placed, key=lambda pair: (pair[1], pair[0].id))


def emergency_waits(found: list[Hospital]) -> dict[str, EmergencyWait | None]:
    """The wait now at each hospital's emergency department (None where it is not known), by hospital id."""
    with unit_of_work() as conn:
        return {h.id: emergency_wait(conn, h.emergency_service) for h in found if h.emergency_service is not None}


def by_wait(ranked: list[tuple[Hospital, float]],
            waits: dict[str, EmergencyWait | None]) -> list[tuple[Hospital, float]]:
    """Emergency departments with a known wait first, shortest first (nearest on a tie), then the rest by distance."""
    known = [pair for pair in ranked if waits.get(pair[0].id) is not None]
    unknown = [pair for pair in ranked if waits.get(pair[0].id) is None]
    return sorted(known, key=lambda pair: (rank_key(waits[pair[0].id]), pair[1])) + unknown


# --- buildings and booked visits ----------------------------------------------------------------


def building_names(h: Hospital, locations: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Building key -> (English, Chinese) name from the directory's Location, without the hospital's name."""
    names = {}
    for key, location_id in locations.items():
        try:
            location = gateway.read(SYSTEM, f"Location/{location_id}")
        except FhirError:
            continue
        english = location.get("name", "").removeprefix(h.name_en).strip()
        chinese = (location.get("alias") or [""])[0].removeprefix(h.name_zh).strip()
        names[key] = (english or key, chinese or english or key)
    return names


def _reference_id(reference: dict[str, Any] | None, res_type: str) -> str:
    ref = (reference or {}).get("reference", "")
    return ref.removeprefix(f"{res_type}/") if ref.startswith(f"{res_type}/") else ""


def visit_destination(ctx: AccessContext, appointment_id: str) -> tuple[str, str]:
    """(organisation id, department key) of a booked visit the caller may see; NotFound otherwise.

    The Appointment is read with the caller's own access context, so the access policy decides and the
    read is audited; the department and hospital are then public directory facts.
    """
    try:
        appointment = gateway.read(ctx, f"Appointment/{(appointment_id or '')[:_MAX_ID]}")
    except FhirError:
        raise NotFound(appointment_id) from None
    service_id = next((sid for p in appointment.get("participant", [])
                       if (sid := _reference_id(p.get("actor"), "HealthcareService"))), "")
    if not service_id:
        raise NotFound(appointment_id)
    try:
        service = gateway.read(SYSTEM, f"HealthcareService/{service_id}")
        dept = gateway.read(SYSTEM, f"Organization/{_reference_id(service.get('providedBy'), 'Organization')}")
    except FhirError:
        raise NotFound(appointment_id) from None
    key, _english, _chinese = directory.department_key(service)
    org_id = _reference_id(dept.get("partOf"), "Organization")
    if not key or not org_id:
        raise NotFound(appointment_id)
    return org_id, key
