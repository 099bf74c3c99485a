"""The video room of a multi-disciplinary session as FHIR, in plain functions: a virtual Encounter (class VR) based
on the consultation's request, with the requesting doctor and every convened specialist as participants.

Its planned time is an extension (Encounter.period is the session as it happened); its status is planned until
the first participant joins (in-progress, period.start), and finished (period.end and length, the duration in
minutes) when a participant ends it or the consultation is answered, or cancelled when that comes before anyone
joined. One room per consultation, with an id made from the Task's, so convening is idempotent.
"""

from datetime import datetime
from typing import Any

from smartcare.platform import clock

LOCAL = "https://smartcare.example/fhir/"
TYPE_SYSTEM = LOCAL + "CodeSystem/encounter-type"
PLANNED_EXT = LOCAL + "StructureDefinition/mdt-room-planned"
TELECONSULT_ID_SYSTEM = LOCAL + "teleconsult"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
UCUM = "http://unitsofmeasure.org"
ROOM_CODE = "mdt-room"
ENDED = ("finished", "cancelled")
# The requester and at most eight specialists (service.MAX_TEAM): a full mesh of nine browsers.
ROOM_CAP = 9


def room_id(task_id: str) -> str:
    """The room's Encounter id for a consultation (Task ids are at most 40 characters here, ids at most 64)."""
    return f"mdt-{task_id}"[:64]


def _participant(reference: str, code: str, display: str) -> dict[str, Any]:
    return {"type": [{"coding": [{"system": PARTICIPATION, "code": code, "display": display}]}],
            "individual": {"reference": reference}}


def encounter(*, task_id: str, request_id: str, patient: str, requester: str, specialist_roles: list[str],
              start: datetime) -> dict[str, Any]:
    """The room, planned at start, for the requesting doctor (referrer) and the specialists (consultants).

    The specialists attend in their roles (PractitionerRole references), never as Practitioner participants: the
    access policy reads an Encounter naming a Practitioner as that practitioner caring for the patient, and the
    specialists must reach only what was shared. Who may join is decided from the consultation's Task.
    """
    return {
        "resourceType": "Encounter", "id": room_id(task_id), "status": "planned",
        "identifier": [{"system": TELECONSULT_ID_SYSTEM, "value": task_id}],
        "class": {"system": ACT_CODE, "code": "VR", "display": "virtual"},
        "type": [{"coding": [{"system": TYPE_SYSTEM, "code": ROOM_CODE,
                              "display": "Multi-disciplinary video session"}]}],
        "subject": {"reference": patient},
        "basedOn": [{"reference": f"ServiceRequest/{request_id}"}],
        "participant": [_participant(requester, "REF", "referrer"),
                        *[_participant(r, "CON", "consultant") for r in dict.fromkeys(specialist_roles)]],
        "extension": [{"url": PLANNED_EXT, "valuePeriod": {"start": clock.format_instant(start)}}],
    }


def planned_start(room: dict[str, Any]) -> str | None:
    """When the session was planned to start."""
    return next((e["valuePeriod"].get("start") for e in room.get("extension", []) if e.get("url") == PLANNED_EXT),
                None)


def minutes(start: str, end: str) -> int:
    """Whole minutes between two instants, at least 1 for a session that took place."""
    return max(1, round((clock.parse_instant(end) - clock.parse_instant(start)).total_seconds() / 60))


def started(room: dict[str, Any]) -> dict[str, Any] | None:
    """The room once somebody joined (in-progress since now), or None when it is already going."""
    if room.get("status") != "planned":
        return None
    return {**_unstamped(room), "status": "in-progress", "period": {"start": clock.format_instant(clock.now())}}


def closed(room: dict[str, Any]) -> dict[str, Any] | None:
    """The room ended now: finished with its end and duration, or cancelled if nobody joined; None when over."""
    if room.get("status") in ENDED:
        return None
    period = room.get("period") or {}
    if not period.get("start"):
        return {**_unstamped(room), "status": "cancelled"}
    now = clock.format_instant(clock.now())
    return {**_unstamped(room), "status": "finished", "period": {**period, "end": now},
            "length": {"value": minutes(period["start"], now), "unit": "min", "system": UCUM, "code": "min"}}


def _unstamped(room: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in room.items() if k != "meta"}
