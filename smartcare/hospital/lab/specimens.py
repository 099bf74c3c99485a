"""Specimens through the laboratory: collection, receipt, rejection with a reason, and the turnaround of an order.

How the Specimen says where it is (FHIR R4 Specimen.status has no "collected"):
- accessioned, label printed: status `unavailable`, no `collection`;
- collected: status `unavailable`, `collection.collectedDateTime` (and the collector);
- received in the laboratory: status `available`, `receivedTime`;
- rejected: status `unsatisfactory`, the reason in `condition` (HL7 v2 table 0490) and the technician's words in
  `note`, with the time. The order stays active, so a new specimen can be accessioned for it.
Every step is a versioned update through the FHIR gateway as the person doing it.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.lab.accession import ACCESSION_SYSTEM, LabRefused, checked_id, identifier
from smartcare.platform import clock
from smartcare.platform.security.context import AccessContext

DATA = Path(__file__).parent / "data" / "rejection_reasons.yaml"
MAX_NOTE = 500
TO_COLLECT, TO_RECEIVE, RECEIVED, REJECTED = "to-collect", "to-receive", "received", "rejected"


@dataclass(frozen=True)
class RejectionReason:
    """A reason a specimen is rejected, coded, in English and Chinese."""

    key: str
    system: str
    code: str
    en: str
    zh: str


@lru_cache(maxsize=1)
def rejection_reasons() -> dict[str, RejectionReason]:
    """The reasons a specimen may be rejected for, by key."""
    with DATA.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return {r["key"]: RejectionReason(r["key"], r["system"], r["code"], r["en"], r["zh"]) for r in data["reasons"]}


def stage(specimen: dict[str, Any]) -> str:
    """Where the specimen is: to-collect, to-receive, received or rejected."""
    if specimen.get("status") == "unsatisfactory":
        return REJECTED
    if specimen.get("status") == "available" or specimen.get("receivedTime"):
        return RECEIVED
    return TO_RECEIVE if (specimen.get("collection") or {}).get("collectedDateTime") else TO_COLLECT


def accession_of(specimen: dict[str, Any]) -> str:
    """The specimen's accession number (its barcode text)."""
    return identifier(specimen, ACCESSION_SYSTEM) or ""


def read(ctx: AccessContext, specimen_id: str) -> dict[str, Any]:
    """One specimen, read as ctx; LabRefused (404) for an id that cannot be one."""
    return gateway.read(ctx, f"Specimen/{checked_id(specimen_id, 'specimen')}")


def put(ctx: AccessContext, resource: dict[str, Any]) -> dict[str, Any]:
    """Update a resource as ctx, guarded by its version (If-Match), and return the stored version."""
    version = (resource.get("meta") or {}).get("versionId")
    headers = {"if-match": f'W/"{version}"'} if version else {}
    request = FhirRequest(method="PUT", path=f"{resource['resourceType']}/{resource['id']}", body=resource,
                          headers=headers)
    return gateway.serve(ctx, request).body or {}


def collect(ctx: AccessContext, *, specimen_id: str) -> dict[str, Any]:
    """Record that the specimen was collected now, by ctx."""
    specimen = read(ctx, specimen_id)
    if stage(specimen) != TO_COLLECT:
        raise LabRefused("this specimen was already collected", status=409)
    collection: dict[str, Any] = {"collectedDateTime": clock.format_instant(clock.now())}
    if ctx.fhir_user:
        collection["collector"] = {"reference": ctx.fhir_user}
    return put(ctx, {**specimen, "collection": collection})


def receive(ctx: AccessContext, *, specimen_id: str) -> dict[str, Any]:
    """Record that the collected specimen reached the laboratory now; it is then available for testing."""
    specimen = read(ctx, specimen_id)
    if stage(specimen) == TO_COLLECT:
        raise LabRefused("the specimen has not been collected yet", status=409)
    if stage(specimen) != TO_RECEIVE:
        raise LabRefused("this specimen was already received or rejected", status=409)
    return put(ctx, {**specimen, "status": "available", "receivedTime": clock.format_instant(clock.now())})


def reject(ctx: AccessContext, *, specimen_id: str, reason: str, note: str = "") -> dict[str, Any]:
    """Reject a specimen for a listed reason (and the technician's note); the order can then be collected again."""
    chosen = rejection_reasons().get(reason)
    if chosen is None:
        raise LabRefused("choose a reason for the rejection from the list")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise LabRefused(f"the note is at most {MAX_NOTE} characters")
    specimen = read(ctx, specimen_id)
    if stage(specimen) == REJECTED:
        raise LabRefused("this specimen was already rejected", status=409)
    now = clock.format_instant(clock.now())
    text = f"Rejected: {chosen.en}" + (f". {note}" if note else "")
    entry: dict[str, Any] = {"text": text, "time": now}
    if ctx.fhir_user:
        entry["authorReference"] = {"reference": ctx.fhir_user}
    return put(ctx, {**specimen, "status": "unsatisfactory",
                      "condition": [{"coding": [{"system": chosen.system, "code": chosen.code, "display": chosen.en}],
                                     "text": chosen.en}],
                      "note": [*specimen.get("note", []), entry]})


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return clock.parse_instant(text)
    except ValueError:
        return None


def turnaround(request: dict[str, Any], specimen: dict[str, Any] | None,
               report: dict[str, Any] | None) -> dict[str, Any]:
    """The times of an order (ordered, collected, received, released) and the minutes between each and the order."""
    moments = {
        "ordered": _moment(request.get("authoredOn")),
        "collected": _moment(((specimen or {}).get("collection") or {}).get("collectedDateTime")),
        "received": _moment((specimen or {}).get("receivedTime")),
        "released": _moment((report or {}).get("issued")) if (report or {}).get("status") in (
            "final", "corrected", "amended") else None,
    }
    start = moments["ordered"]
    return {name: {"at": clock.format_instant(moment) if moment else None,
                   "minutes": round((moment - start).total_seconds() / 60) if moment and start else None}
            for name, moment in moments.items()}
