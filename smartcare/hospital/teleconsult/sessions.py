"""Joining and ending the video room of a multi-disciplinary session, for its participants only.

Who may come in is decided as for every other step of the consultation (service._sides, from the Task): the
requesting doctor and the specialists named on it, and nobody else, not even colleagues of the receiving department
who may read the consultation (they are told so, 403); a stranger learns nothing (404). The room is closed for
good once the consultation is answered or cancelled, or a participant ended the session. Every look, join and
end is audited as the caller's; the room's Encounter is written by the platform on the participant's behalf, as
the consultation's other records are.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.hospital.teleconsult import directory, room, service, states
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext


@dataclass
class Room:
    """A session's room as its participants see it."""

    id: str
    teleconsult: service.Teleconsult
    status: str
    planned_start: str | None
    period: dict[str, str]
    minutes: int | None
    participants: list[str]
    me: str

    @property
    def joinable(self) -> bool:
        """True while the session may still be joined."""
        return self.status not in room.ENDED and self.teleconsult.state not in states.FINAL

    def as_json(self, names: dict[str, str] | None = None) -> dict[str, Any]:
        """The JSON the API answers with."""
        names = names or {}
        return {"id": self.id, "teleconsult": self.teleconsult.id, "state": self.teleconsult.state,
                "status": self.status, "joinable": self.joinable, "planned_start": self.planned_start,
                "period": self.period, "minutes": self.minutes, "me": self.me,
                "participants": [{"reference": p, "name": names.get(p, p)} for p in self.participants],
                "records": self.teleconsult.records}


class Refusal(service.TeleconsultError):
    """A refused look, join or end, audited after its transaction was rolled back (see audit_refusal)."""

    def __init__(self, message: str, *, ctx: AccessContext, patient: str, room_id: str):
        super().__init__(message)
        self.ctx, self.patient, self.room_id = ctx, patient, room_id


class NotAParticipant(Refusal):
    """A clinician of the consultation who was not convened (403)."""

    status, code = 403, "forbidden"


class RoomClosed(Refusal):
    """The session is over: answered, cancelled or ended (409)."""

    status, code = 409, "conflict"


def audit_refusal(refusal: Refusal) -> None:
    """Write a refusal to the audit trail in a transaction of its own (the refused one was rolled back)."""
    with unit_of_work() as conn:
        audit.record(conn, ctx=refusal.ctx, action="E", subtype="access-refused", outcome="4",
                     patient=refusal.patient, entities=[f"Encounter/{refusal.room_id}"],
                     description=refusal.message[:200])


def _load(conn: Connection, ctx: AccessContext, task_id: str) -> tuple[dict[str, Any], service.Teleconsult]:
    loaded = service._load(conn, task_id)
    sides = service._sides(conn, ctx, loaded)
    if not sides:
        raise service.TeleconsultNotFound(f"Task/{task_id[:64]} was not found or is not in your care")
    current = service._view(loaded, sides)
    found = service._search(conn, directory.PLATFORM, "Encounter", [("_id", room.room_id(current.id))]) \
        if current.room else []
    if not found:
        raise service.TeleconsultNotFound("This consultation has no multi-disciplinary session")
    encounter = found[0]
    if not sides & {states.REQUESTER, states.SPECIALIST}:
        raise NotAParticipant("Only the requesting doctor and the convened specialists join this session",
                              ctx=ctx, patient=current.patient, room_id=encounter["id"])
    return encounter, current


def _room(encounter: dict[str, Any], current: service.Teleconsult, me: str) -> Room:
    length = encounter.get("length") or {}
    return Room(id=encounter["id"], teleconsult=current, status=encounter.get("status", ""),
                planned_start=room.planned_start(encounter), period=encounter.get("period") or {},
                minutes=length.get("value"), participants=[current.requester, *current.specialists], me=me)


def _audit(conn: Connection, ctx: AccessContext, current: service.Teleconsult, encounter: dict[str, Any],
           action: str, subtype: str) -> None:
    audit.record(conn, ctx=ctx, action=action, subtype=subtype, patient=current.patient,
                 entities=[f"Encounter/{encounter['id']}", f"Task/{current.id}"], purpose="TREAT")


def read(conn: Connection, *, ctx: AccessContext, task_id: str) -> Room:
    """The session's room for one of its participants (audited)."""
    encounter, current = _load(conn, ctx, task_id)
    _audit(conn, ctx, current, encounter, "R", "read")
    return _room(encounter, current, ctx.fhir_user or "")


def _closed_reason(current: service.Teleconsult) -> str:
    if current.state == "answered":
        return "The consultation was answered; its session is closed"
    if current.state == "cancelled":
        return "The consultation was cancelled; its session is closed"
    return "This session has ended"


def join(conn: Connection, *, ctx: AccessContext, task_id: str) -> Room:
    """A participant comes into the room; the first one starts the session (in-progress since now)."""
    encounter, current = _load(conn, ctx, task_id)
    found = _room(encounter, current, ctx.fhir_user or "")
    if not found.joinable:
        raise RoomClosed(_closed_reason(current), ctx=ctx, patient=current.patient, room_id=encounter["id"])
    going = room.started(encounter)
    if going is not None:
        stored = _store(conn, ctx, going, int(encounter["meta"]["versionId"]), current.patient)
        found = _room(stored, current, found.me)
    _audit(conn, ctx, current, encounter, "E", "operation")
    return found


def end(conn: Connection, *, ctx: AccessContext, task_id: str) -> Room:
    """A participant ends the session for everyone: its end and duration are recorded and nobody joins again."""
    encounter, current = _load(conn, ctx, task_id)
    ended = room.closed(encounter)
    if ended is None:
        raise RoomClosed(_closed_reason(current), ctx=ctx, patient=current.patient, room_id=encounter["id"])
    stored = _store(conn, ctx, ended, int(encounter["meta"]["versionId"]), current.patient)
    return _room(stored, current, ctx.fhir_user or "")


def _store(conn: Connection, ctx: AccessContext, encounter: dict[str, Any], version: int,
           patient: str) -> dict[str, Any]:
    write = store.Write("PUT", "Encounter", encounter["id"], encounter, if_match=version)
    stored = service._write(conn, ctx, [write], patient)[0]
    return {**encounter, "meta": {"versionId": str(stored.version)}}
