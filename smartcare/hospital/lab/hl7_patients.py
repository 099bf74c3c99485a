"""ADT^A01/A04/A08 to FHIR: keep a Patient's demographics in step with the hospital's feed, without duplicates.

A patient is matched by any of its PID-3 identifiers. A01 (admit) and A04 (register) create the Patient
when none matches; A08 (update) only changes one that exists. Fields the message leaves empty are kept.
"""

from collections.abc import Callable
from typing import Any

import hl7

from smartcare.fhir.http import FhirRequest
from smartcare.hospital.lab.hl7_messages import Hl7Error, Inbound, repetitions, segment_name, value
from smartcare.hospital.lab.hl7_results import Serve, fhir_datetime

AUTHORITY_SYSTEM = "urn:smartcare:hl7:assigning-authority:"
ID_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
GENDER = {"M": "male", "F": "female", "O": "other", "A": "other", "U": "unknown", "N": "unknown"}
Lock = Callable[[str], None]


def _identifiers(pid: hl7.Segment, separators: str) -> list[dict[str, Any]]:
    found = []
    for rep in range(1, repetitions(pid, 3, separators) + 1):
        ident = value(pid, 3, rep, 1)
        if not ident:
            continue
        authority = value(pid, 3, rep, 4) or "unknown"
        system = authority if authority.startswith(("http://", "https://", "urn:")) else \
            AUTHORITY_SYSTEM + "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in authority)[:80]
        identifier: dict[str, Any] = {"system": system, "value": ident[:64]}
        kind = value(pid, 3, rep, 5)
        if kind:
            identifier["type"] = {"coding": [{"system": ID_TYPE_SYSTEM, "code": kind[:10]}]}
        found.append(identifier)
    return found


def demographics(pid: hl7.Segment, separators: str) -> dict[str, Any]:
    """The Patient elements PID carries (name, gender, birthDate, address, telecom), only those present."""
    out: dict[str, Any] = {}
    family, given, middle = value(pid, 5, 1, 1), value(pid, 5, 1, 2), value(pid, 5, 1, 3)
    if family or given:
        name: dict[str, Any] = {"use": "official"}
        if family:
            name["family"] = family[:100]
        if given or middle:
            name["given"] = [g[:100] for g in (given, middle) if g]
        prefix = value(pid, 5, 1, 5)
        if prefix:
            name["prefix"] = [prefix[:20]]
        out["name"] = [name]
    sex = value(pid, 8)
    if sex:
        out["gender"] = GENDER.get(sex.upper()[:1], "unknown")
    born = fhir_datetime(value(pid, 7))
    if born:
        out["birthDate"] = born[:10]
    addresses = []
    for rep in range(1, repetitions(pid, 11, separators) + 1):
        parts = [value(pid, 11, rep, c) for c in range(1, 7)]
        if any(parts):
            address: dict[str, Any] = {}
            lines = [p[:200] for p in parts[:2] if p]
            if lines:
                address["line"] = lines
            for key, part in zip(("city", "state", "postalCode", "country"), parts[2:], strict=True):
                if part:
                    address[key] = part[:100]
            addresses.append(address)
    if addresses:
        out["address"] = addresses
    telecom = [{"system": "phone", "value": number[:40], "use": use}
               for field_no, use in ((13, "home"), (14, "work")) if (number := value(pid, field_no))]
    if telecom:
        out["telecom"] = telecom
    return out


def _search(serve: Serve, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
    bundle = serve(FhirRequest(method="GET", path="Patient", query=query)).body or {}
    return [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") != "outcome"]


def matching_patients(serve: Serve, identifiers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The distinct Patients holding any of the identifiers' values."""
    found: dict[str, dict[str, Any]] = {}
    for ident in identifiers:
        for p in _search(serve, [("identifier", ident["value"]), ("_count", "5")]):
            found.setdefault(p["id"], p)
    return list(found.values())


def store_demographics(serve: Serve, inbound: Inbound, *, lock: Lock) -> list[str]:
    """Create or update the Patient an ADT^A01/A04/A08 describes; the reference written. Hl7Error if it cannot."""
    pid = next((s for s in inbound.segments if segment_name(s) == "PID"), None)
    if pid is None:
        raise Hl7Error("the message has no PID segment", code=100, segment="PID")
    identifiers = _identifiers(pid, inbound.header.separators)
    if not identifiers:
        raise Hl7Error("PID-3 patient identifier list is empty", code=101, segment="PID", field_no=3)
    for ident in identifiers:
        # Two feeds registering the same new patient at once must not both create it.
        lock(ident["value"])
    found = matching_patients(serve, identifiers)
    if len(found) > 1:
        raise Hl7Error("the PID-3 identifiers match more than one patient", code=205, segment="PID", field_no=3)
    details = demographics(pid, inbound.header.separators)
    if not found:
        if inbound.header.trigger_event == "A08":
            raise Hl7Error(f"no patient has the identifier {identifiers[0]['value']!r} to update", code=204,
                           segment="PID", field_no=3)
        patient = {"resourceType": "Patient", "active": True, "identifier": identifiers, **details}
        answer = serve(FhirRequest(method="POST", path="Patient", body=patient))
        return [f"Patient/{(answer.body or {})['id']}"]
    patient = found[0]
    held = {(i.get("system"), i.get("value")) for i in patient.get("identifier", [])}
    held_values = {i.get("value") for i in patient.get("identifier", [])}
    added = [i for i in identifiers if (i["system"], i["value"]) not in held and i["value"] not in held_values]
    updated = {**patient, **details, "identifier": patient.get("identifier", []) + added}
    updated.pop("meta", None)
    serve(FhirRequest(method="PUT", path=f"Patient/{patient['id']}", body=updated))
    return [f"Patient/{patient['id']}"]
