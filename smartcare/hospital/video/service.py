"""Video visits of online consultations: scheduling or escalating, the waiting room, admitting, notes, ending.

A video visit is a FHIR Encounter of class VR (virtual) that is partOf its consultation's Encounter, with the
patient as subject and the consultation's doctor as participant. Its status is the waiting room: planned
(scheduled or just escalated), arrived (the patient came and waits), in-progress (the doctor admitted them;
period.start is set the first time), finished (period.end and length, the duration in minutes) or cancelled
(ended before anyone was admitted). How it came about (scheduled or escalated from chat) and the planned time
are extensions.

The doctor's notes written during the call are one DocumentReference (LOINC 11488-4, consult note) whose
context.encounter is the visit, with a fixed id per visit: each save is a new version of the same document,
so the history keeps every draft, and ending the visit makes it final. An Encounter has no note element in R4,
and a DocumentReference is what the patient's record and the regional exchange already read.

A nurse may open a video visit too, outside any consultation, with a patient the access policy lets them see (a
nurse's follow-up of home readings, say): the same Encounter without partOf, the nurse as its participant and the
extension host "nurse". The nurse runs it as a doctor runs theirs (the "doctor" side: admits, writes notes as a
nurse note, LOINC 34746-8, ends); prescribing stays with doctors, in an online consultation.

Access: the consultation service decides whether the caller is the consultation's patient (or proxy) or its
doctor (consultation_view and participant_side, which ask the one access policy); a video visit's doctor side is
further limited to the doctor named on the visit. For a nurse's visit the policy decides alone: the patient (or a
proxy) who may read the visit's Encounter is its patient side, the nurse named on it who may read it its host. Every FHIR read and write goes through the store with the
caller's own context, and every access is written to the audit trail.
"""

import base64
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import store, tables
from smartcare.fhir.errors import FhirError, PreconditionFailed
from smartcare.fhir.patient_accounts import accounts_for
from smartcare.hospital.consultation import service as consultation
from smartcare.hospital.patient_notices import service as patient_notices
from smartcare.platform import audit, clock
from smartcare.platform.i18n import _
from smartcare.platform.notifications import notification_kind, notify
from smartcare.platform.notifications.texts import message
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import PATIENT_ROLES

LOCAL = "https://smartcare.example/fhir/"
EXT = LOCAL + "StructureDefinition/video-visit-"
TYPE_SYSTEM = LOCAL + "CodeSystem/encounter-type"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
MODES = ("scheduled", "escalated")
# Who may open a video visit with a patient outside an online consultation (doctors open theirs in one).
NURSE_ROLES = frozenset({"nurse"})
NOTE_TYPES = {"doctor": ("11488-4", "Consult note"), "nurse": ("34746-8", "Nurse note")}
ENDED = ("finished", "cancelled")
MAX_NOTES = 20_000
MAX_ID = 64
NURSE_VIDEO = notification_kind("video.nurse-visit", label=_("Video visits your nurse opens"),
                                default_channels=("sms",))


class VideoError(Exception):
    """A refused video-visit action; code names it, status is the HTTP status."""

    def __init__(self, message: str, *, code: str, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def _not_found() -> VideoError:
    return VideoError("There is no such video visit for you", code="not-found", status=404)


def _now() -> str:
    return clock.format_instant(clock.now())


def _ref_id(reference: str | None, res_type: str) -> str | None:
    prefix = f"{res_type}/"
    return reference[len(prefix):] if reference and reference.startswith(prefix) else None


def _raw(conn: Connection, visit_id: str) -> dict[str, Any]:
    """The visit's Encounter as stored (who it is between is decided from it before the caller reads it)."""
    r = tables.resource.c
    content = conn.execute(sa.select(r.content).where(
        r.res_type == "Encounter", r.res_id == visit_id[:MAX_ID], r.deleted.is_(False))).scalar()
    if not content or _code(content) != "video-visit" or (_consultation_of(content) is None
                                                          and _host(content) != "nurse"):
        raise _not_found()
    return content


def _host(encounter: dict[str, Any]) -> str:
    """Who runs the visit: "doctor" (a consultation's) or "nurse" (opened by a nurse outside one)."""
    return _ext(encounter, "host").get("valueCode") or "doctor"


def _code(encounter: dict[str, Any]) -> str | None:
    return next((c.get("code") for t in encounter.get("type", []) for c in t.get("coding", [])
                 if c.get("system") == TYPE_SYSTEM), None)


def _consultation_of(encounter: dict[str, Any]) -> str | None:
    return _ref_id((encounter.get("partOf") or {}).get("reference"), "Encounter")


def _doctor_of(encounter: dict[str, Any]) -> str | None:
    return next((_ref_id((p.get("individual") or {}).get("reference"), "Practitioner")
                 for p in encounter.get("participant", [])), None)


def _ext(encounter: dict[str, Any], name: str) -> dict[str, Any]:
    return next((e for e in encounter.get("extension", []) if e.get("url") == EXT + name), {})


def _caller_side(conn: Connection, ctx: AccessContext, consultation_id: str) -> str:
    """'patient' or 'doctor' of the consultation, as its service and the access policy decide; else refused."""
    try:
        return consultation.participant_side(conn, ctx, consultation_id)
    except consultation.ConsultationError as exc:
        raise _not_found() from exc


def _nurse_visit_side(conn: Connection, ctx: AccessContext, encounter: dict[str, Any]) -> str:
    """'patient' or 'doctor' (the host) of a nurse's visit, as the access policy lets the caller read it."""
    if ctx.roles & PATIENT_ROLES:
        side = "patient"
    elif ctx.roles & NURSE_ROLES and _ref_id(ctx.fhir_user, "Practitioner") == _doctor_of(encounter):
        side = "doctor"
    else:
        raise _not_found()
    _read(conn, ctx, encounter["id"])  # the policy: the patient's own record (or a proxy's), the nurse's reach
    return side


def _side(conn: Connection, ctx: AccessContext, encounter: dict[str, Any]) -> str:
    if _consultation_of(encounter) is None:
        return _nurse_visit_side(conn, ctx, encounter)
    side = _caller_side(conn, ctx, _consultation_of(encounter) or "")
    if side == "doctor" and _ref_id(ctx.fhir_user, "Practitioner") != _doctor_of(encounter):
        raise _not_found()  # a colleague of the department pool is not this visit's doctor
    if side not in ("patient", "doctor"):
        raise _not_found()
    return side


def _read(conn: Connection, ctx: AccessContext, visit_id: str) -> tuple[dict[str, Any], int]:
    """The visit as the caller may read it (through the policy), with its version."""
    try:
        stored = store.read(conn, ctx, res_type="Encounter", res_id=visit_id)
    except FhirError as exc:
        raise _not_found() from exc
    return dict(stored.resource or {}), stored.version


def _audit(conn: Connection, ctx: AccessContext, encounter: dict[str, Any], action: str, *extra: str) -> None:
    subtype = {"R": "read", "C": "create", "U": "update"}[action]
    audit.record(conn, ctx=ctx, action=action, subtype=subtype, entities=[f"Encounter/{encounter['id']}", *extra],
                 patient=(encounter.get("subject") or {}).get("reference"))


def _minutes(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round(max((clock.parse_instant(end) - clock.parse_instant(start)).total_seconds(), 0.0) / 60, 1)


def view(encounter: dict[str, Any], side: str) -> dict[str, Any]:
    """A visit as its page and API show it to one side."""
    period = encounter.get("period") or {}
    return {
        "id": encounter["id"], "consultation": _consultation_of(encounter), "side": side,
        "patient": _ref_id((encounter.get("subject") or {}).get("reference"), "Patient"),
        "practitioner": _doctor_of(encounter), "status": encounter.get("status"),
        "admitted": encounter.get("status") == "in-progress",
        "mode": _ext(encounter, "mode").get("valueCode"),
        "scheduled_for": _ext(encounter, "scheduled-for").get("valueDateTime"),
        "start": period.get("start"), "end": period.get("end"),
        "minutes": (encounter.get("length") or {}).get("value"), "host": _host(encounter),
    }


def schedule(conn: Connection, ctx: AccessContext, *, consultation_id: str, mode: str = "escalated",
             scheduled_for: datetime | None = None) -> dict[str, Any]:
    """The consultation's doctor opens a video visit: now (escalated from chat) or at a planned time; the patient's
    side is told (patient_notices)."""
    _check_when(mode, scheduled_for)
    if _caller_side(conn, ctx, consultation_id) != "doctor":
        raise VideoError("The consultation's doctor starts a video visit", code="forbidden", status=403)
    found = consultation.consultation_view(conn, ctx, consultation_id=consultation_id)
    me = _ref_id(ctx.fhir_user, "Practitioner")
    if found["practitioner"] != me:
        raise VideoError("Pick the consultation up before starting a video visit", code="not-yours")
    if found["status"] in ("closed", "refunded"):
        raise VideoError("The consultation is closed", code="closed")
    encounter = {
        **_planned_visit(found["patient"], me),
        "partOf": {"reference": f"Encounter/{found['id']}"},
        "extension": _extensions(mode, scheduled_for),
    }
    try:
        stored = store.create(conn, ctx, encounter)
    except FhirError as exc:
        raise VideoError(str(exc), code="forbidden", status=403) from exc
    created = dict(stored.resource or {})
    _audit(conn, ctx, created, "C")
    patient_notices.tell_video(conn, ctx, patient_id=found["patient"], visit_id=created["id"],
                               scheduled_for=_ext(created, "scheduled-for").get("valueDateTime"))
    return view(created, "doctor")


def _check_when(mode: str, scheduled_for: datetime | None) -> None:
    if mode not in MODES:
        raise VideoError("A video visit is scheduled or escalated", code="bad-mode", status=400)
    if mode == "scheduled" and scheduled_for is None:
        raise VideoError("A scheduled video visit needs its time", code="bad-time", status=400)
    if scheduled_for is not None and scheduled_for.tzinfo is None:
        raise VideoError("Give the time with its UTC offset", code="bad-time", status=400)


def _planned_visit(patient_id: str, practitioner_id: str) -> dict[str, Any]:
    """A planned video-visit Encounter of the patient with the practitioner hosting it."""
    return {
        "resourceType": "Encounter", "status": "planned",
        "class": {"system": ACT_CODE, "code": "VR", "display": "virtual"},
        "type": [{"coding": [{"system": TYPE_SYSTEM, "code": "video-visit", "display": "Video visit"}]}],
        "subject": {"reference": f"Patient/{patient_id}"},
        "participant": [{"individual": {"reference": f"Practitioner/{practitioner_id}"}}],
    }


def _extensions(mode: str, scheduled_for: datetime | None, host: str | None = None) -> list[dict[str, Any]]:
    extensions = [{"url": EXT + "mode", "valueCode": mode}]
    if scheduled_for is not None:
        extensions.append({"url": EXT + "scheduled-for", "valueDateTime": clock.format_instant(scheduled_for)})
    if host is not None:
        extensions.append({"url": EXT + "host", "valueCode": host})
    return extensions


def open_as_nurse(conn: Connection, ctx: AccessContext, *, patient_id: str, mode: str = "escalated",
                  scheduled_for: datetime | None = None) -> dict[str, Any]:
    """A nurse opens a video visit with a patient the access policy lets them see, now or at a planned time (not in
    an online consultation; prescribing stays with doctors); the patient's side is told."""
    _check_when(mode, scheduled_for)
    me = _ref_id(ctx.fhir_user, "Practitioner")
    if not ctx.roles & NURSE_ROLES or not me:
        raise VideoError("Only a nurse opens a video visit outside an online consultation; doctors open theirs "
                         "from the consultation", code="forbidden", status=403)
    if not patient_id or len(patient_id) > MAX_ID or not all(c.isalnum() or c in "-." for c in patient_id):
        raise VideoError("There is no such patient for you", code="not-found", status=404)
    try:
        store.read(conn, ctx, res_type="Patient", res_id=patient_id)  # the policy: is the patient in the nurse's reach
    except FhirError as exc:
        raise VideoError("There is no such patient for you", code="not-found", status=404) from exc
    encounter = {**_planned_visit(patient_id, me), "extension": _extensions(mode, scheduled_for, host="nurse")}
    try:
        stored = store.create(conn, ctx, encounter)
    except FhirError as exc:
        raise VideoError(str(exc), code="forbidden", status=403) from exc
    created = dict(stored.resource or {})
    _audit(conn, ctx, created, "C")
    _tell_nurse_visit(conn, ctx, patient_id=patient_id, visit_id=created["id"],
                      scheduled_for=_ext(created, "scheduled-for").get("valueDateTime"))
    return view(created, "doctor")


def _tell_nurse_visit(conn: Connection, ctx: AccessContext, *, patient_id: str, visit_id: str,
                      scheduled_for: str | None) -> None:
    """A notice to each account that opens the patient's record (not the nurse's own), with the visit's link."""
    if scheduled_for:
        body = message(_("Your nurse planned a video visit for {time}. Join it from the app then."),
                       time=clock.wall_clock(scheduled_for))
    else:
        body = message(_("Your nurse is waiting for you in a video visit. Join it from the app now."))
    for account in accounts_for(conn, patient_id):
        if account.id != ctx.subject:
            notify(conn, user_id=account.id, kind=NURSE_VIDEO.name, link=f"/app/video/{visit_id}",
                   title_text=message(_("Your nurse opened a video visit")), body_text=body,
                   data={"visit": f"Encounter/{visit_id}", "patient": f"Patient/{patient_id}"})


def visit(conn: Connection, ctx: AccessContext, *, visit_id: str) -> dict[str, Any]:
    """One video visit as either side sees it (audited); the doctor also gets the notes."""
    side = _side(conn, ctx, _raw(conn, visit_id))
    encounter, _ = _read(conn, ctx, visit_id)
    _audit(conn, ctx, encounter, "R")
    shown = view(encounter, side)
    if side == "doctor":
        shown["notes"] = _notes_text(conn, ctx, visit_id)
    return shown


def visits_of(conn: Connection, ctx: AccessContext, *, consultation_id: str) -> list[dict[str, Any]]:
    """The video visits of a consultation, newest first, for its patient or doctor (audited)."""
    side = _caller_side(conn, ctx, consultation_id[:MAX_ID])
    ref = tables.idx_reference.c
    ids = conn.execute(sa.select(tables.resource.c.res_id).join(
        tables.idx_reference, ref.res_pk == tables.resource.c.pk).where(
        ref.res_type == "Encounter", ref.param == "part-of", ref.target_type == "Encounter",
        ref.target_id == consultation_id[:MAX_ID], tables.resource.c.deleted.is_(False))).scalars().all()
    found = []
    for visit_id in ids:
        encounter, _ = _read(conn, ctx, visit_id)
        if _code(encounter) == "video-visit":
            _audit(conn, ctx, encounter, "R")
            found.append(view(encounter, side))
    return sorted(found, key=lambda v: v["id"], reverse=True)


def _write(conn: Connection, ctx: AccessContext, visit_id: str, change: Any) -> dict[str, Any]:
    """Read the visit, let change edit it (or return False to leave it), write it with If-Match; once more on a race."""
    for attempt in (1, 2):
        encounter, version = _read(conn, ctx, visit_id)
        if change(encounter) is False:
            return encounter
        encounter.pop("meta", None)
        try:
            stored = store.update(conn, ctx, encounter, res_type="Encounter", res_id=visit_id, if_match=version)
        except PreconditionFailed:
            if attempt == 2:
                raise VideoError("The visit changed at the same time; try again", code="conflict") from None
            continue
        except FhirError as exc:
            raise VideoError(str(exc), code="forbidden", status=403) from exc
        return dict(stored.resource or {})
    raise VideoError("The visit changed at the same time; try again", code="conflict")


def join(conn: Connection, ctx: AccessContext, *, visit_id: str) -> dict[str, Any]:
    """A party comes to the visit: the patient enters the waiting room (arrived) unless already admitted."""
    side = _side(conn, ctx, _raw(conn, visit_id))
    encounter, _ = _read(conn, ctx, visit_id)
    if encounter.get("status") in ENDED:
        raise VideoError("This video visit has ended", code="ended")
    if side == "patient":
        def arrive(e: dict[str, Any]) -> bool:
            if e.get("status") != "planned":
                return False
            e["status"] = "arrived"
            return True
        encounter = _write(conn, ctx, visit_id, arrive)
        _audit(conn, ctx, encounter, "U")
    else:
        _audit(conn, ctx, encounter, "R")
    return view(encounter, side)


def _doctor_only(conn: Connection, ctx: AccessContext, visit_id: str, what: str) -> None:
    if _side(conn, ctx, _raw(conn, visit_id)) != "doctor":
        raise VideoError(f"Only the visit's doctor {what}", code="forbidden", status=403)


def admit(conn: Connection, ctx: AccessContext, *, visit_id: str) -> dict[str, Any]:
    """The doctor lets the patient in from the waiting room; the call starts (period.start) the first time."""
    _doctor_only(conn, ctx, visit_id, "admits the patient")

    def start(e: dict[str, Any]) -> bool:
        if e.get("status") in ENDED:
            raise VideoError("This video visit has ended", code="ended")
        if e.get("status") == "in-progress":
            return False
        e["status"] = "in-progress"
        e["period"] = {**(e.get("period") or {}), "start": (e.get("period") or {}).get("start") or _now()}
        return True

    encounter = _write(conn, ctx, visit_id, start)
    _audit(conn, ctx, encounter, "U")
    return view(encounter, "doctor")


def end(conn: Connection, ctx: AccessContext, *, visit_id: str) -> dict[str, Any]:
    """The doctor ends the visit: finished with its end and duration, or cancelled if nobody was admitted."""
    _doctor_only(conn, ctx, visit_id, "ends the visit")

    def finish(e: dict[str, Any]) -> bool:
        if e.get("status") in ENDED:
            raise VideoError("This video visit has ended already", code="ended")
        period = e.get("period") or {}
        if not period.get("start"):
            e["status"] = "cancelled"
            return True
        now = _now()
        e["status"] = "finished"
        e["period"] = {**period, "end": now}
        e["length"] = {"value": _minutes(period["start"], now), "unit": "min", "system": UCUM, "code": "min"}
        return True

    encounter = _write(conn, ctx, visit_id, finish)
    _audit(conn, ctx, encounter, "U")
    notes = _notes_text(conn, ctx, visit_id)
    if notes is not None:
        _store_notes(conn, ctx, encounter, notes, final=True)
    return view(encounter, "doctor")


def notes_id(visit_id: str) -> str:
    """The id of the visit's notes document (one per visit; every save a new version)."""
    return f"vnotes-{visit_id}"[:MAX_ID]


def _notes_text(conn: Connection, ctx: AccessContext, visit_id: str) -> str | None:
    try:
        document = store.read(conn, ctx, res_type="DocumentReference", res_id=notes_id(visit_id)).resource or {}
    except FhirError:
        return None
    data = ((document.get("content") or [{}])[0].get("attachment") or {}).get("data") or ""
    return base64.b64decode(data).decode("utf-8") if data else ""


def _store_notes(conn: Connection, ctx: AccessContext, encounter: dict[str, Any], text: str, *,
                 final: bool = False) -> dict[str, Any]:
    document = {
        "resourceType": "DocumentReference", "id": notes_id(encounter["id"]), "status": "current",
        "docStatus": "final" if final else "preliminary",
        "type": {"coding": [{"system": LOINC, "code": NOTE_TYPES[_host(encounter)][0],
                             "display": NOTE_TYPES[_host(encounter)][1]}]},
        "subject": encounter["subject"], "date": _now(),
        "author": [{"reference": f"Practitioner/{_doctor_of(encounter)}"}],
        "description": "Notes written during a video visit",
        "content": [{"attachment": {"contentType": "text/plain; charset=utf-8", "title": "Video visit notes",
                                    "data": base64.b64encode(text.encode("utf-8")).decode("ascii")}}],
        "context": {"encounter": [{"reference": f"Encounter/{encounter['id']}"}],
                    "period": encounter.get("period") or {}},
    }
    try:
        stored = store.update(conn, ctx, document, res_type="DocumentReference", res_id=document["id"])
    except FhirError as exc:
        raise VideoError(str(exc), code="forbidden", status=403) from exc
    _audit(conn, ctx, encounter, "U", f"DocumentReference/{document['id']}")
    return {"visit": encounter["id"], "document": document["id"], "version": stored.version,
            "saved": stored.last_updated, "final": final}


def save_notes(conn: Connection, ctx: AccessContext, *, visit_id: str, text: str) -> dict[str, Any]:
    """The doctor saves the notes written during the call (a new version of the visit's notes document)."""
    _doctor_only(conn, ctx, visit_id, "writes the notes")
    if not isinstance(text, str) or len(text) > MAX_NOTES:
        raise VideoError(f"Notes have at most {MAX_NOTES} characters", code="bad-notes", status=400)
    encounter, _ = _read(conn, ctx, visit_id)
    if encounter.get("status") in ENDED:
        raise VideoError("This video visit has ended; its notes are final", code="ended")
    return _store_notes(conn, ctx, encounter, text)


def ice_user(ctx: AccessContext) -> str:
    """The name a participant's TURN credentials are minted for (the account, never a patient identifier)."""
    return (ctx.subject or ctx.name)[:64]
