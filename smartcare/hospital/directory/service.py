"""The hospital directory: organisations, departments, rooms and doctors from the FHIR store, and the doctor search.

The directory is public (it is not personal data), so reads go through the store as the platform.
Doctor search runs over a small in-memory index (search_index.py) built from the store and dropped
whenever a directory resource changes (domain events), or after INDEX_TTL for changes made by
other processes. Free slots come from FHIR Slot resources (status free) whose Schedule's actor is
the doctor's PractitionerRole or Practitioner. Data conventions: conventions.py.
"""

import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from smartcare.fhir import gateway, tables
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.hospital.directory import conventions as dc
from smartcare.hospital.directory.search_index import (
    DoctorEntry,
    DoctorQuery,
    SearchIndex,
    entry_from,
    search,
)
from smartcare.platform import clock, events
from smartcare.platform.db import get_engine, unit_of_work
from smartcare.platform.security.context import SYSTEM, AccessContext

DIRECTORY_TYPES = frozenset({"Organization", "HealthcareService", "Location", "Practitioner", "PractitionerRole"})
INDEX_TTL = 60.0
PAGE = 1000
MAX_RESULTS = 50
# Slots are looked for this far ahead when no date is asked for.
SLOT_HORIZON = timedelta(days=30)
_REFS_PER_QUERY = 40


class DirectoryNotFound(Exception):
    """No such doctor, department or organisation in the directory."""


@dataclass(frozen=True, slots=True)
class DoctorResult:
    """A doctor found, with the next free slot (if any) and the fee of their visit type."""

    doctor: DoctorEntry
    next_free: datetime | None


def _page(conn, res_type: str, query: list[tuple[str, str]]) -> list[dict]:
    bundle = dispatch(conn, SYSTEM, FhirRequest(method="GET", path=res_type, query=query)).body or {}
    return [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"]


def search_all(ctx: AccessContext, res_type: str, query: list[tuple[str, str]] | None = None) -> list[dict]:
    """Every directory resource of res_type matching query, page by page, in one transaction.

    Directory records are not personal data, so they are read as the platform without an audit entry
    per page (the access policy lets everyone read them); ctx must be the platform.
    """
    if not ctx.is_system:
        raise ValueError("directory reads run as the platform")
    found: list[dict] = []
    with unit_of_work() as conn:
        while True:
            page = _page(conn, res_type, [*(query or []), ("_count", str(PAGE)), ("_offset", str(len(found)))])
            found += page
            if len(page) < PAGE:
                return found


# --- the search index ---------------------------------------------------------------------------

_lock = threading.Lock()
_indexes: dict[int, tuple[float, SearchIndex]] = {}


def _drop_index(event: events.DomainEvent) -> None:
    if event.payload.get("type") in DIRECTORY_TYPES:
        with _lock:
            _indexes.clear()


events.subscribe("ResourceCreated", _drop_index)
events.subscribe("ResourceUpdated", _drop_index)
events.subscribe("ResourceDeleted", _drop_index)


def _ref_id(reference: dict | None, res_type: str) -> str | None:
    ref = (reference or {}).get("reference", "")
    return ref[len(res_type) + 1:] if ref.startswith(res_type + "/") else None


def build_index() -> SearchIndex:
    """Read the directory from the store and index its outpatient doctors (roles coded doctor)."""
    organizations = {o["id"]: o for o in search_all(SYSTEM, "Organization")}
    services = {s["id"]: s for s in search_all(SYSTEM, "HealthcareService")}
    practitioners = {p["id"]: p for p in search_all(SYSTEM, "Practitioner", [("active", "true")])}
    rooms = {loc["id"]: loc for loc in search_all(SYSTEM, "Location") if dc.is_room(loc)}
    doctors = []
    for role in search_all(SYSTEM, "PractitionerRole", [("role", "doctor"), ("active", "true")]):
        practitioner = practitioners.get(_ref_id(role.get("practitioner"), "Practitioner") or "")
        if practitioner is None:
            continue
        service = next((services[s] for ref in role.get("healthcareService", [])
                        if (s := _ref_id(ref, "HealthcareService")) in services), None)
        organization = organizations.get(_ref_id(role.get("organization"), "Organization") or "")
        room = next((rooms[r] for ref in role.get("location", []) if (r := _ref_id(ref, "Location")) in rooms), None)
        doctors.append(entry_from(practitioner, role, service, organization, room))
    return SearchIndex(doctors)


def current_index() -> SearchIndex:
    """The search index of the current database, rebuilt when the directory changed or it is older than INDEX_TTL."""
    key = id(get_engine())
    with _lock:
        cached = _indexes.get(key)
    if cached and time.monotonic() - cached[0] < INDEX_TTL:
        return cached[1]
    index = build_index()
    with _lock:
        _indexes[key] = (time.monotonic(), index)
    return index


# --- free slots ---------------------------------------------------------------------------------


# A search parameter's value is at most 1,024 characters (fhir/search/query.py); stay under it.
_MAX_JOINED = 1000


def _chunks(items: list[str], size: int) -> list[list[str]]:
    """items in groups of at most size whose comma-joined text also fits one search value (IDs are long)."""
    groups: list[list[str]] = [[]]
    length = 0
    for item in items:
        if groups[-1] and (len(groups[-1]) >= size or length + len(item) + 1 > _MAX_JOINED):
            groups.append([])
            length = 0
        groups[-1].append(item)
        length += len(item) + 1
    return groups if groups[0] else []


def _schedules_of(doctors: list[DoctorEntry]) -> dict[str, set[str]]:
    """Schedule id -> practitioner ids, for the schedules whose actor is one of the doctors or their roles."""
    by_actor: dict[str, str] = {}
    for d in doctors:
        by_actor[f"PractitionerRole/{d.role_id}"] = d.practitioner_id
        by_actor[f"Practitioner/{d.practitioner_id}"] = d.practitioner_id
    found: dict[str, set[str]] = {}
    for chunk in _chunks(sorted(by_actor), _REFS_PER_QUERY):
        for schedule in search_all(SYSTEM, "Schedule", [("actor", ",".join(chunk))]):
            if schedule.get("active") is False:
                continue
            for actor in schedule.get("actor", []):
                if actor.get("reference") in by_actor:
                    found.setdefault(schedule["id"], set()).add(by_actor[actor["reference"]])
    return found


def _window(on: date | None, now: datetime) -> tuple[datetime, datetime]:
    if on is None:
        return now, now + SLOT_HORIZON
    start = datetime.combine(on, datetime.min.time(), tzinfo=now.tzinfo)
    return max(start, now), start + timedelta(days=1)


def next_free_slots(doctors: list[DoctorEntry], *, on: date | None = None) -> dict[str, datetime]:
    """Practitioner id -> start of their earliest free slot (on the day `on`, or within SLOT_HORIZON)."""
    if not doctors:
        return {}
    now = clock.now()
    start, end = _window(on, now)
    if end <= start:
        return {}
    schedules = _schedules_of(doctors)
    earliest: dict[str, datetime] = {}
    for schedule_id, first in _earliest_free_starts(sorted(schedules), start, end).items():
        for practitioner_id in schedules[schedule_id]:
            if practitioner_id not in earliest or first < earliest[practitioner_id]:
                earliest[practitioner_id] = first
    return earliest


def _earliest_free_starts(schedule_ids: list[str], start: datetime, end: datetime) -> dict[str, datetime]:
    """Schedule id -> start of its earliest free Slot in [start, end), in one query over the store's indexes.

    Slots are directory records (no patient data), so this reads the search-index tables directly:
    the Slot's schedule reference, its status token and its start date, grouped by schedule. Index
    rows exist only for current, undeleted resources.
    """
    if not schedule_ids:
        return {}
    ref, tok, day = tables.idx_reference, tables.idx_token, tables.idx_date
    # Driven from the schedules' slots (a few hundred each) through the res_pk indexes. The lookups name
    # no res_type (res_pk is already one Slot): with it, SQLite chose the (res_type, param, ...) index and
    # walked every Slot's row for each slot, a second per search at the demo's size.
    start_of = (sa.select(day.c.low).where(day.c.res_pk == ref.c.res_pk, day.c.param == "start")
                .limit(1).scalar_subquery())
    free = sa.exists().where(tok.c.res_pk == ref.c.res_pk, tok.c.param == "status", tok.c.code == "free")
    slots = (sa.select(ref.c.target_id.label("schedule"), start_of.label("low"))
             .where(ref.c.res_type == "Slot", ref.c.param == "schedule", ref.c.target_type == "Schedule",
                    ref.c.target_id.in_(schedule_ids), free)
             .subquery())
    query = (sa.select(slots.c.schedule, sa.func.min(slots.c.low))
             .where(slots.c.low >= start.timestamp(), slots.c.low < end.timestamp())
             .group_by(slots.c.schedule))
    with unit_of_work() as conn:
        rows = conn.execute(query).all()
    return {schedule_id: datetime.fromtimestamp(low, UTC) for schedule_id, low in rows}


# --- queries ------------------------------------------------------------------------------------


def find_doctors(*, query: DoctorQuery, on: date | None = None, limit: int = MAX_RESULTS) -> list[DoctorResult]:
    """Doctors matching query, each once, with their next free slot; with `on`, only those free that day."""
    seen: set[str] = set()
    matches = []
    for doctor in search(current_index(), query):
        if doctor.practitioner_id not in seen:
            seen.add(doctor.practitioner_id)
            matches.append(doctor)
    if on is None:
        matches = matches[:limit]
    slots = next_free_slots(matches, on=on)
    if on is not None:
        matches = [d for d in matches if d.practitioner_id in slots][:limit]
    return [DoctorResult(d, slots.get(d.practitioner_id)) for d in matches]


def doctor_detail(*, practitioner_id: str) -> dict[str, Any]:
    """A doctor's public profile: entry, biographies, opening hours and the department's fees."""
    entries = current_index().by_practitioner(practitioner_id)
    if not entries:
        raise DirectoryNotFound(f"No doctor {practitioner_id}")
    entry = entries[0]
    practitioner = gateway.read(SYSTEM, f"Practitioner/{practitioner_id}")
    role = gateway.read(SYSTEM, f"PractitionerRole/{entry.role_id}")
    service = gateway.read(SYSTEM, f"HealthcareService/{entry.service_id}") if entry.service_id else {}
    return {
        "doctor": entry,
        "biographies": dc.biographies_of(practitioner),
        "hours": role.get("availableTime") or service.get("availableTime", []),
        "fees": dc.fees_of(service),
        "next_free": next_free_slots([entry]).get(practitioner_id),
    }


def is_hospital(organization: dict[str, Any]) -> bool:
    """True for a care provider (hospital or health centre), not one of its departments."""
    codes = {c.get("code") for t in organization.get("type", []) for c in t.get("coding", [])}
    return "prov" in codes and "dept" not in codes


def organizations() -> list[dict[str, Any]]:
    """The region's hospitals and community health centres."""
    return [o for o in search_all(SYSTEM, "Organization", [("_sort", "_id")]) if is_hospital(o)]


def departments(*, organization: str | None = None) -> list[dict[str, Any]]:
    """Departments as (service, department organisation, hospital id), optionally of one hospital."""
    orgs = {o["id"]: o for o in search_all(SYSTEM, "Organization")}
    found = []
    for service in search_all(SYSTEM, "HealthcareService", [("_sort", "_id")]):
        dept = orgs.get(_ref_id(service.get("providedBy"), "Organization") or "")
        hospital_id = _ref_id((dept or {}).get("partOf"), "Organization") if dept else None
        if organization and hospital_id != organization:
            continue
        found.append({"service": service, "department": dept, "hospital": orgs.get(hospital_id or "")})
    return found


def department_key(service: dict[str, Any]) -> tuple[str, str, str]:
    """The department code, English and Chinese name of a HealthcareService."""
    concept = (service.get("type") or [{}])[0]
    coding = next((c for c in concept.get("coding", []) if c.get("system") == dc.DEPARTMENT_SYSTEM), {})
    return coding.get("code", ""), coding.get("display", service.get("name", "")), concept.get("text", "")
