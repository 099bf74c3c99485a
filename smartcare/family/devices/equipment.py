"""Hospital equipment: where a ward device stands, whom it is assigned to, and when its maintenance is due.

A bedside monitor is a Device whose `location` is a bed and whose `patient` is whoever holds that bed; the
register row's patient moves with it, because that is whom the monitor's readings are stored for. FHIR R4 has
no element for a maintenance date, so it is kept in an extension with a SmartCare URL (valueDate).
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.family.devices import registry
from smartcare.family.devices.tables import device_registry
from smartcare.fhir import gateway, store
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.platform import audit, clock
from smartcare.platform.db import get_engine
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.web import fhir_text

MAINTENANCE_EXTENSION = "https://smartcare.example/fhir/StructureDefinition/device-maintenance-due"
BED_ASSIGNMENT = "bed-assignment"
BEDSIDE_MONITOR = "bedside-monitor"
MAX_EQUIPMENT = 2000
_LOCATION_TYPES = "http://terminology.hl7.org/CodeSystem/location-physical-type"


@dataclass(frozen=True, slots=True)
class EquipmentRow:
    """One device of the hospital as the equipment register shows it."""

    device_id: str
    kind: str
    model: str
    serial: str
    status: str
    location: str  # "Location/<id>" where it stands, or ""
    ward: str
    bed: str
    patient: str
    last_seen: str | None
    maintenance_due: str | None
    overdue: bool


def _search(conn: Connection, res_type: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
    bundle = gateway.serve_within(conn, SYSTEM, FhirRequest(method="GET", path=res_type, query=query)).body or {}
    return [e["resource"] for e in bundle.get("entry", []) if e.get("resource", {}).get("resourceType") == res_type]


def _read(conn: Connection, reference: str) -> dict[str, Any] | None:
    res_type, _slash, res_id = reference.partition("/")
    try:
        return store.read(conn, SYSTEM, res_type=res_type, res_id=res_id).resource
    except (FhirError, ValueError):
        return None


def kind_of(device_id: str) -> str | None:
    """The kind of a registered device (None for an unknown one), read without opening a unit of work: every
    stored frame asks, and most come from home devices."""
    with get_engine().connect() as conn:
        return conn.execute(sa.select(device_registry.c.kind).where(
            device_registry.c.device_id == device_id[:64])).scalar_one_or_none()


def devices_at(conn: Connection, *, location: str, kind: str = BEDSIDE_MONITOR) -> list[str]:
    """The active devices of kind placed at location ("Location/<id>"), by id."""
    found = _search(conn, "Device", [("location", location), ("status", "active"), ("_count", "50")])
    ids = [d["id"] for d in found]
    if not ids:
        return []
    rows = conn.execute(sa.select(device_registry.c.device_id).where(
        device_registry.c.device_id.in_(ids), device_registry.c.kind == kind, device_registry.c.status == "active"))
    return sorted(r.device_id for r in rows)


def _change(conn: Connection, device_id: str, change: Any) -> dict[str, Any]:
    current = store.read(conn, SYSTEM, res_type="Device", res_id=device_id)
    resource = change({k: v for k, v in current.resource.items() if k != "meta"})
    store.write_batch(conn, SYSTEM, [store.Write("PUT", "Device", device_id, resource, current.version)])
    return resource


def _owned(conn: Connection, device_id: str, organization: str | None) -> registry.DeviceInfo:
    """The device, checked to belong to organization (None: the platform itself, any device)."""
    device = registry.get_device(conn, device_id=device_id)
    if organization is not None and device.organization != organization:
        raise registry.DeviceNotFound("There is no such device of your organisation")
    return device


def assign_patient(conn: Connection, *, ctx: AccessContext, device_id: str, patient: str | None) -> None:
    """Make patient ("Patient/<id>", or None for nobody) the one a ward device's readings are stored for."""
    device = registry.get_device(conn, device_id=device_id)
    patient_id = patient.removeprefix("Patient/") if patient else None
    if device.patient_id == patient_id:
        return
    now = clock.format_instant(clock.now())

    def assigned(resource: dict[str, Any]) -> dict[str, Any]:
        resource.pop("patient", None)
        if patient_id:
            resource["patient"] = {"reference": f"Patient/{patient_id}"}
            resource["extension"] = [*resource.get("extension", []),
                                     registry._pairing(patient_id, now, BED_ASSIGNMENT)]
        return resource

    _change(conn, device.device_id, assigned)
    conn.execute(device_registry.update().where(device_registry.c.device_id == device.device_id)
                 .values(patient_id=patient_id))
    audit.record(conn, ctx=ctx, action="U", subtype="update", entities=[f"Device/{device.device_id}"],
                 patient=f"Patient/{patient_id or device.patient_id}" if (patient_id or device.patient_id) else None)


def place_device(conn: Connection, *, ctx: AccessContext, device_id: str, location: str | None,
                 organization: str | None = None) -> None:
    """Put a device at a bed or other Location ("Location/<id>"), or take it away (None)."""
    device = _owned(conn, device_id, organization)
    if location is not None and (_read(conn, location) or {}).get("resourceType") != "Location":
        raise registry.DeviceError("There is no such bed or place")

    def placed(resource: dict[str, Any]) -> dict[str, Any]:
        resource.pop("location", None)
        if location:
            resource["location"] = {"reference": location}
        return resource

    _change(conn, device.device_id, placed)
    audit.record(conn, ctx=ctx, action="U", subtype="update", entities=[f"Device/{device.device_id}"])


def set_maintenance_due(conn: Connection, *, ctx: AccessContext, device_id: str, due: date | None,
                        organization: str | None = None) -> None:
    """Keep the date a device's next maintenance is due (None: no date)."""
    device = _owned(conn, device_id, organization)

    def dated(resource: dict[str, Any]) -> dict[str, Any]:
        kept = [e for e in resource.get("extension", []) if e.get("url") != MAINTENANCE_EXTENSION]
        if due is not None:
            kept.append({"url": MAINTENANCE_EXTENSION, "valueDate": due.isoformat()})
        resource.pop("extension", None)
        if kept:
            resource["extension"] = kept
        return resource

    _change(conn, device.device_id, dated)
    audit.record(conn, ctx=ctx, action="U", subtype="update", entities=[f"Device/{device.device_id}"])


def maintenance_due(device: dict[str, Any]) -> str | None:
    """The date (YYYY-MM-DD) the device's next maintenance is due, if one is kept."""
    for extension in device.get("extension", []):
        if extension.get("url") == MAINTENANCE_EXTENSION:
            return extension.get("valueDate")
    return None


def _physical(location: dict[str, Any]) -> str | None:
    for coding in (location.get("physicalType") or {}).get("coding", []):
        if coding.get("system") == _LOCATION_TYPES:
            return coding.get("code")
    return None


def _where(conn: Connection, reference: str | None, cache: dict[str, dict[str, Any] | None]) -> tuple[str, str]:
    """The ward and the bed (with its room) a Location reference stands for, by name."""
    def get(ref: str | None) -> dict[str, Any] | None:
        if not ref or not ref.startswith("Location/"):
            return None
        if ref not in cache:
            cache[ref] = _read(conn, ref)
        return cache[ref]

    place = get(reference)
    if place is None:
        return "", ""
    if _physical(place) == "wa":
        return place.get("name", ""), ""
    room = get((place.get("partOf") or {}).get("reference"))
    ward = get(((room or {}).get("partOf") or {}).get("reference"))
    if room is None or ward is None or _physical(room) != "ro" or _physical(ward) != "wa":
        return "", place.get("name", "")
    return ward.get("name", ""), f"{room.get('name', '')} · {place.get('name', '')}"


def equipment(conn: Connection, *, organization: str | None, today: date | None = None) -> list[EquipmentRow]:
    """Every device of the organisation (None: all) with what, where, whom, last seen and maintenance due."""
    devices = registry.list_devices(conn, organization=organization, limit=MAX_EQUIPMENT)
    today = today or clock.now().date()
    places: dict[str, dict[str, Any] | None] = {}
    names: dict[str, str] = {}
    shown = []
    for info in devices:
        resource = _read(conn, f"Device/{info.device_id}") or {}
        location = (resource.get("location") or {}).get("reference", "")
        ward, bed = _where(conn, location, places)
        patient = f"Patient/{info.patient_id}" if info.patient_id else ""
        if patient and patient not in names:
            names[patient] = fhir_text.person_name(_read(conn, patient) or {})
        due = maintenance_due(resource)
        shown.append(EquipmentRow(
            device_id=info.device_id, kind=info.kind, model=resource.get("modelNumber", ""),
            serial=info.serial or "", status=info.status, location=location, ward=ward, bed=bed,
            patient=names.get(patient, ""),
            last_seen=info.last_seen, maintenance_due=due,
            overdue=bool(due) and info.status == "active" and due < today.isoformat()))
    return sorted(shown, key=lambda r: (r.ward == "", r.ward, r.bed, r.kind, r.device_id))
