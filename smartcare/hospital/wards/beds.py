"""Wards, rooms and beds of a hospital as FHIR Locations, and the bed status changes that admissions make.

A ward is a Location with physicalType `wa` managed by the hospital or one of its departments; its rooms
(`ro`) are partOf the ward and its beds (`bd`) partOf a room. A bed's operationalStatus (HL7 v2 table
0116) says whether it is free. Every change of status is written with If-Match on the version that was
read, inside the same transaction as the admission, transfer or discharge, so two nurses who pick the
same free bed at once cannot both have it.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.wards import codes
from smartcare.hospital.wards.errors import NO_HOSPITAL, NOT_FOUND, WardRefused
from smartcare.platform.security.context import AccessContext

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
MAX_BEDS = 1000


@dataclass(slots=True)
class Room:
    """A room of a ward with its beds in order."""

    location: dict[str, Any]
    beds: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BedPlace:
    """A bed with the room and ward it is in."""

    bed: dict[str, Any]
    room: dict[str, Any]
    ward: dict[str, Any]


def joined(references: list[str], limit: int = 1000) -> list[str]:
    """references joined by commas into search values of at most limit characters (the store takes 1024)."""
    values: list[str] = []
    for reference in references:
        if values and len(values[-1]) + 1 + len(reference) <= limit:
            values[-1] += "," + reference
        else:
            values.append(reference)
    return values


def search_any(ctx: AccessContext, res_type: str, name: str, references: list[str],
               query: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Resources of res_type whose parameter name matches any of references, a few searches at most."""
    return [found for value in joined(references)
            for found in gateway.search(ctx, res_type, [(name, value), *query])]


def valid_id(text: str | None) -> bool:
    """True for a well-formed FHIR id (letters, digits, - and ., at most 64)."""
    return bool(text) and _ID.fullmatch(text or "") is not None


def hospital_of(ctx: AccessContext) -> str:
    """The hospital (Organization reference) the signed-in clinician works for."""
    if not ctx.organization:
        raise WardRefused(NO_HOSPITAL, status=403)
    return ctx.organization


def _physical(location: dict[str, Any]) -> str | None:
    return codes.coding_of(location.get("physicalType"), codes.PHYSICAL_TYPE)


def status_of(bed: dict[str, Any]) -> str:
    """The bed's operational status code (U free, O occupied, H housekeeping, C, K, I); U when unset."""
    return codes.coding_of(bed.get("operationalStatus"), codes.BED_STATUS) or codes.FREE


def with_status(bed: dict[str, Any], code: str) -> dict[str, Any]:
    """The bed with a new operational status."""
    entry = codes.choice("bed_statuses", code)
    if entry is None:
        raise ValueError(f"unknown bed status {code}")
    return {**bed, "operationalStatus": {"system": codes.BED_STATUS, "code": code, "display": entry["display"]}}


def status_entry(bed: dict[str, Any], code: str) -> dict[str, Any]:
    """A transaction entry setting the bed's status, only if nobody changed the bed since it was read."""
    changed = with_status(bed, code)
    version = (bed.get("meta") or {}).get("versionId")
    request = {"method": "PUT", "url": f"Location/{bed['id']}"}
    if version:
        request["ifMatch"] = f'W/"{version}"'
    return {"resource": {k: v for k, v in changed.items() if k != "meta"}, "request": request}


def _managed_by(ctx: AccessContext, ward: dict[str, Any], hospital: str) -> bool:
    managing = (ward.get("managingOrganization") or {}).get("reference", "")
    if managing == hospital:
        return True
    if not managing.startswith("Organization/") or not valid_id(managing.split("/", 1)[1]):
        return False
    try:
        department = gateway.read(ctx, managing)
    except FhirError:
        return False
    return (department.get("partOf") or {}).get("reference") == hospital


def wards(ctx: AccessContext, *, hospital: str) -> list[dict[str, Any]]:
    """The active wards of the hospital, by name."""
    found: dict[str, dict[str, Any]] = {}
    departments = gateway.search(ctx, "Organization", [("partof", hospital), ("_count", "500")])
    managers = [hospital, *(f"Organization/{d['id']}" for d in departments)]
    units = search_any(ctx, "Location", "organization", managers, [("status", "active"), ("_count", str(MAX_BEDS))])
    for location in units:
        if _physical(location) == codes.WARD:
            found[location["id"]] = location
    return sorted(found.values(), key=lambda w: w.get("name", ""))


def ward(ctx: AccessContext, *, hospital: str, ward_id: str) -> dict[str, Any]:
    """One ward of the hospital; WardRefused 404 for anything else."""
    if not valid_id(ward_id):
        raise WardRefused(NOT_FOUND, status=404)
    try:
        location = gateway.read(ctx, f"Location/{ward_id}")
    except FhirError:
        raise WardRefused(NOT_FOUND, status=404) from None
    if _physical(location) != codes.WARD or not _managed_by(ctx, location, hospital):
        raise WardRefused(NOT_FOUND, status=404)
    return location


def _number(location: dict[str, Any]) -> tuple[int, str]:
    digits = "".join(ch for ch in location.get("name", "") if ch.isdigit())
    return (int(digits) if digits else 0, location.get("name", ""))


def rooms(ctx: AccessContext, ward_location: dict[str, Any]) -> list[Room]:
    """The ward's rooms, each with its beds, in number order."""
    found = [r for r in gateway.search(ctx, "Location", [("partof", f"Location/{ward_location['id']}"),
                                                         ("_count", str(MAX_BEDS))]) if _physical(r) == codes.ROOM]
    by_id = {r["id"]: Room(r) for r in sorted(found, key=_number)}
    if by_id:
        beds = search_any(ctx, "Location", "partof", [f"Location/{i}" for i in by_id], [("_count", str(MAX_BEDS))])
        for bed in sorted(beds, key=_number):
            room_id = (bed.get("partOf") or {}).get("reference", "").removeprefix("Location/")
            if _physical(bed) == codes.BED and room_id in by_id:
                by_id[room_id].beds.append(bed)
    return list(by_id.values())


def place(ctx: AccessContext, *, hospital: str, bed_id: str, ward_id: str | None = None) -> BedPlace:
    """The bed with its room and ward, checked to be in the hospital (and in ward_id, if given)."""
    if not valid_id(bed_id):
        raise WardRefused(NOT_FOUND, status=404)
    try:
        bed = gateway.read(ctx, f"Location/{bed_id}")
        room = gateway.read(ctx, (bed.get("partOf") or {}).get("reference", "Location/-"))
    except FhirError:
        raise WardRefused(NOT_FOUND, status=404) from None
    if _physical(bed) != codes.BED or _physical(room) != codes.ROOM:
        raise WardRefused(NOT_FOUND, status=404)
    ward_ref = (room.get("partOf") or {}).get("reference", "")
    if not ward_ref.startswith("Location/") or (ward_id is not None and ward_ref != f"Location/{ward_id}"):
        raise WardRefused(NOT_FOUND, status=404)
    return BedPlace(bed=bed, room=room, ward=ward(ctx, hospital=hospital, ward_id=ward_ref.split("/", 1)[1]))


def ward_team(ctx: AccessContext, ward_location: dict[str, Any], roles: str = "doctor,nurse") -> list[str]:
    """The doctors and nurses (Practitioner references; roles as a search value) of the ward's department."""
    managing = (ward_location.get("managingOrganization") or {}).get("reference", "")
    if not managing.startswith("Organization/"):
        return []
    services = gateway.search(ctx, "HealthcareService", [("organization", managing), ("_count", "20")])
    if not services:
        return []
    roles = gateway.search(ctx, "PractitionerRole", [
        ("service", ",".join(f"HealthcareService/{s['id']}" for s in services)), ("role", roles),
        ("_count", "500")])
    return sorted({r["practitioner"]["reference"] for r in roles
                   if r.get("active", True) and (r.get("practitioner") or {}).get("reference")})


def is_doctor_of(ctx: AccessContext, practitioner: str, hospital: str) -> bool:
    """True when practitioner ("Practitioner/x") holds an active doctor's role at the hospital."""
    if not practitioner.startswith("Practitioner/") or not valid_id(practitioner.split("/", 1)[1]):
        return False
    roles = gateway.search(ctx, "PractitionerRole", [("practitioner", practitioner), ("role", "doctor"),
                                                     ("_count", "50")])
    allowed = {hospital}
    for role in roles:
        organization = (role.get("organization") or {}).get("reference", "")
        if role.get("active", True) and (organization in allowed or _department_of(ctx, organization, hospital)):
            return True
    return False


def _department_of(ctx: AccessContext, organization: str, hospital: str) -> bool:
    if not organization.startswith("Organization/"):
        return False
    try:
        return (gateway.read(ctx, organization).get("partOf") or {}).get("reference") == hospital
    except FhirError:
        return False
