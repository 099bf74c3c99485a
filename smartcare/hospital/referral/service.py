"""Two-way referrals as FHIR: a ServiceRequest (the referral order) performed by the receiving department and a
Task that tracks it, and at discharge a CarePlan with follow-up Tasks for the community doctor.

The receiving department's clinicians reach the patient through the access policy's own rule for open
referrals to a department they work in (platform/security/policy.py): rejecting, cancelling or completing the
referral ends that at once, with nothing else to undo.

Access: every check is the one access policy's, made with the acting clinician's own context
(`access.check_write` for each resource written, store reads and searches through the gateway, audited).
The referral's own resources are then stored by the platform on that clinician's behalf, without a
sender organisation, because both institutions work on them: stamped with the last writer's organisation,
each side's update would vanish from the other's view unless the patient had opted in to regional sharing.
Who did what stays in the Task's notes, its history and the audit trail. The patient's other records
(reports, images) stay under the policy's sharing rules; booking writes the Appointment as the clinician.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import access, gateway, store
from smartcare.fhir.errors import FhirError, PreconditionFailed
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.referral import states
from smartcare.hospital.scheduling import errors as booking_errors
from smartcare.hospital.scheduling import service as scheduling
from smartcare.hospital.scheduling.schedules import region_zone
from smartcare.platform import audit, clock, i18n
from smartcare.platform.notifications.service import notify
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.tables import user_account

LOCAL = "https://smartcare.example/fhir/"
STATE_SYSTEM = LOCAL + "CodeSystem/referral-state"
DIRECTION_SYSTEM = LOCAL + "CodeSystem/referral-direction"
REQUESTING_ORG_URL = LOCAL + "StructureDefinition/referral-requesting-organization"
SNOMED = "http://snomed.info/sct"
REFERRAL_CATEGORY = {"system": SNOMED, "code": "3457005", "display": "Patient referral"}
PRIORITIES = ("routine", "urgent", "asap", "stat")
ATTACHABLE = ("DiagnosticReport", "ImagingStudy", "Observation", "DocumentReference", "Condition")
MAX_REASON, MAX_SUMMARY, MAX_ATTACHMENTS, MAX_ITEMS = 500, 4000, 20, 20
NOTIFY_KIND = "referral"
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")


class ReferralError(Exception):
    """A refused referral request; status is the HTTP status, code the OperationOutcome issue code."""

    status, code = 400, "invalid"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def outcome(self) -> dict[str, Any]:
        """The refusal as a FHIR OperationOutcome."""
        return {"resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": self.code, "diagnostics": self.message}]}


class InvalidReferral(ReferralError):
    status, code = 422, "invalid"


class ReferralNotFound(ReferralError):
    status, code = 404, "not-found"


class NotYourSide(ReferralError):
    status, code = 403, "forbidden"


class TransitionRefused(ReferralError):
    status, code = 409, "conflict"


@dataclass(frozen=True)
class CarePlanItem:
    """One activity of the discharge care plan, or one follow-up task with a due date for the community doctor."""

    description: str
    due: date | None = None


@dataclass(frozen=True)
class ReferralDraft:
    """What the referring clinician fills in."""

    direction: str
    patient_id: str
    department: str  # the receiving HealthcareService id
    reason: str
    summary: str = ""
    priority: str = "routine"
    attachments: tuple[str, ...] = ()
    encounter_id: str | None = None
    care_plan: tuple[CarePlanItem, ...] = ()
    follow_ups: tuple[CarePlanItem, ...] = ()


@dataclass
class Referral:
    """A referral as the pages and the API show it."""

    id: str  # the Task id
    version: int
    direction: str
    state: str
    priority: str
    patient: str
    department: str
    department_name: str
    requester: str
    reason: str
    summary: str
    authored: str
    changed: str
    attachments: list[str]
    history: list[dict[str, str]]
    appointment: str | None = None
    care_plan: str | None = None
    follow_ups: list[dict[str, Any]] = field(default_factory=list)
    side: str | None = None
    actions: list[str] = field(default_factory=list)
    reject_reason: str | None = None

    def waiting_minutes(self) -> int:
        """Minutes since the referral last changed state."""
        return max(0, int((clock.now() - clock.parse_instant(self.changed)).total_seconds() // 60))

    def as_json(self) -> dict[str, Any]:
        """The JSON the API answers with."""
        return {"id": self.id, "version": self.version, "direction": self.direction, "state": self.state,
                "priority": self.priority, "patient": self.patient, "department": self.department,
                "department_name": self.department_name, "requester": self.requester, "reason": self.reason,
                "summary": self.summary, "authored": self.authored, "changed": self.changed,
                "waiting_minutes": self.waiting_minutes(), "attachments": self.attachments,
                "history": self.history, "appointment": self.appointment, "care_plan": self.care_plan,
                "follow_ups": self.follow_ups, "side": self.side, "actions": self.actions,
                "reject_reason": self.reject_reason}


def _on_behalf(ctx: AccessContext) -> AccessContext:
    """The platform storing a shared referral record for ctx, after the policy allowed ctx the write."""
    return AccessContext(kind="system", name=f"referral/{ctx.name}"[:64], roles=frozenset({"system"}))


def _plain_id(value: str, res_type: str) -> str:
    raw = (value or "").removeprefix(f"{res_type}/")
    if not raw or len(raw) > 64 or not _ID_CHARS.issuperset(raw):
        raise InvalidReferral(f"{res_type} must be given as {res_type}/<id>")
    return raw


def _get(conn: Connection, ctx: AccessContext, reference: str) -> dict[str, Any]:
    """A resource read as ctx through the policy (audited); ReferralNotFound when out of reach or missing."""
    try:
        return gateway.serve_within(conn, ctx, FhirRequest(method="GET", path=reference)).body or {}
    except FhirError as exc:
        raise ReferralNotFound(f"{reference} was not found or is not in your care") from exc


def _search(conn: Connection, ctx: AccessContext, res_type: str, query: list[tuple[str, str]]) -> list[dict]:
    bundle = gateway.serve_within(conn, ctx, FhirRequest(method="GET", path=res_type, query=query)).body or {}
    return [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") != "outcome"]


def _department(conn: Connection, service_id: str) -> dict[str, Any]:
    """The receiving HealthcareService with its organisation (the directory is public)."""
    found = _search(conn, access_ctx_directory(), "HealthcareService", [("_id", service_id)])
    if not found:
        raise InvalidReferral(f"There is no department HealthcareService/{service_id[:64]}")
    return found[0]


def access_ctx_directory() -> AccessContext:
    """Directory lookups (departments, staff roles) need no patient access: the platform reads them."""
    return AccessContext(kind="system", name="referral-directory", roles=frozenset({"system"}))


def _department_practitioners(conn: Connection, service_id: str) -> list[str]:
    """Practitioner references with an active role in the department."""
    roles = _search(conn, access_ctx_directory(), "PractitionerRole",
                    [("service", f"HealthcareService/{service_id}"), ("_count", "200")])
    return sorted({r["practitioner"]["reference"] for r in roles
                   if r.get("active", True) and (r.get("practitioner") or {}).get("reference")})


def _checked(draft: ReferralDraft) -> None:
    if draft.direction not in states.DIRECTIONS:
        raise InvalidReferral("direction is upward or downward")
    if draft.priority not in PRIORITIES:
        raise InvalidReferral("urgency is routine, urgent, asap or stat")
    if not 1 <= len(draft.reason.strip()) <= MAX_REASON:
        raise InvalidReferral(f"the reason is 1 to {MAX_REASON} characters")
    if len(draft.summary) > MAX_SUMMARY:
        raise InvalidReferral(f"the clinical summary is at most {MAX_SUMMARY} characters")
    if len(draft.attachments) > MAX_ATTACHMENTS:
        raise InvalidReferral(f"at most {MAX_ATTACHMENTS} attachments")
    if len(draft.care_plan) > MAX_ITEMS or len(draft.follow_ups) > MAX_ITEMS:
        raise InvalidReferral(f"at most {MAX_ITEMS} care plan activities and {MAX_ITEMS} follow-ups")
    if draft.direction == states.UPWARD and (draft.care_plan or draft.follow_ups):
        raise InvalidReferral("a care plan and follow-ups belong to a downward referral")
    if draft.direction == states.DOWNWARD and not (draft.care_plan or draft.follow_ups):
        raise InvalidReferral("a downward referral carries the care plan or follow-ups for the community doctor")
    for item in (*draft.care_plan, *draft.follow_ups):
        if not 1 <= len(item.description.strip()) <= MAX_REASON:
            raise InvalidReferral(f"each care plan activity or follow-up is 1 to {MAX_REASON} characters")
    for item in draft.follow_ups:
        if item.due is None or item.due < clock.now().astimezone(region_zone()).date():
            raise InvalidReferral("each follow-up has a due date, today or later")


def _attachments(conn: Connection, ctx: AccessContext, draft: ReferralDraft, patient_id: str) -> list[str]:
    """The attachments as references, each a record of the patient that the referrer may read."""
    refs = []
    for given in draft.attachments:
        res_type, _, res_id = given.partition("/")
        if res_type not in ATTACHABLE:
            raise InvalidReferral(f"attachments are {', '.join(ATTACHABLE)} records")
        resource = _get(conn, ctx, f"{res_type}/{_plain_id(res_id, res_type)}")
        if f"Patient/{patient_id}" not in _patients_named(resource):
            raise InvalidReferral(f"{res_type}/{res_id[:64]} is not a record of this patient")
        refs.append(f"{res_type}/{resource['id']}")
    return list(dict.fromkeys(refs))


def _patients_named(resource: dict[str, Any]) -> set[str]:
    return {(resource.get(key) or {}).get("reference", "") for key in ("subject", "patient")}


def _note(ctx: AccessContext, text: str) -> dict[str, Any]:
    note: dict[str, Any] = {"time": clock.format_instant(clock.now()), "text": text[:MAX_REASON + 100]}
    if ctx.fhir_user and ctx.fhir_user.startswith("Practitioner/"):
        note["authorReference"] = {"reference": ctx.fhir_user}
    else:
        note["authorString"] = ctx.author
    return note


def _state_concept(state: str) -> dict[str, Any]:
    return {"coding": [{"system": STATE_SYSTEM, "code": state}], "text": state}


def _write(conn: Connection, ctx: AccessContext, writes: list[store.Write], patient_id: str) -> list[store.Stored]:
    """Let the policy decide each write as ctx, store them on ctx's behalf, and audit them as ctx."""
    current = {(w.res_type, w.res_id): None for w in writes}
    for w in writes:
        pk = None
        if w.method != "POST":
            pk = conn.execute(sa.select(access.R.c.pk).where(access.R.c.res_type == w.res_type,
                                                             access.R.c.res_id == w.res_id)).scalar()
        current[(w.res_type, w.res_id)] = pk
        try:
            access.check_write(conn, ctx, "create" if pk is None else "update", w.res_type, w.resource, pk)
        except FhirError as exc:
            raise NotYourSide(f"You may not write this referral's {w.res_type}: {exc.message}") from exc
    try:
        stored = store.write_batch(conn, _on_behalf(ctx), writes)
    except PreconditionFailed as exc:
        raise TransitionRefused("Someone else changed this referral just now; look at it again") from exc
    for (res_type, res_id), pk in current.items():
        audit.record(conn, ctx=ctx, action="C" if pk is None else "U", subtype="create" if pk is None else "update",
                     entities=[f"{res_type}/{res_id}"], patient=f"Patient/{patient_id}")
    return stored


def create(conn: Connection, *, ctx: AccessContext, draft: ReferralDraft) -> Referral:
    """Refer a patient up to a hospital department or down to a community clinic; returns the new referral."""
    _checked(draft)
    patient_id = _plain_id(draft.patient_id, "Patient")
    _get(conn, ctx, f"Patient/{patient_id}")
    if not ctx.organization or not (ctx.fhir_user or "").startswith("Practitioner/"):
        raise NotYourSide("Only a clinician of an organisation refers patients")
    service_id = _plain_id(draft.department, "HealthcareService")
    department = _department(conn, service_id)
    attachments = _attachments(conn, ctx, draft, patient_id)
    now = clock.format_instant(clock.now())
    request_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
    patient, owner = {"reference": f"Patient/{patient_id}"}, {"reference": f"HealthcareService/{service_id}",
                                                              "display": department.get("name", "")[:200]}
    direction = {"system": DIRECTION_SYSTEM, "code": draft.direction}
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest", "status": "active", "intent": "order", "priority": draft.priority,
        "category": [{"coding": [REFERRAL_CATEGORY, direction]}], "code": {"coding": [REFERRAL_CATEGORY]},
        "subject": patient, "authoredOn": now, "requester": {"reference": ctx.fhir_user}, "performer": [owner],
        "reasonCode": [{"text": draft.reason.strip()}],
    }
    conditions = [{"reference": a} for a in attachments if a.startswith("Condition/")]
    others = [{"reference": a} for a in attachments if not a.startswith("Condition/")]
    if conditions:
        request["reasonReference"] = conditions
    if draft.summary.strip():
        request["note"] = [{"text": draft.summary.strip()}]
    if draft.encounter_id:
        request["encounter"] = {"reference": f"Encounter/{_plain_id(draft.encounter_id, 'Encounter')}"}
    writes: list[store.Write] = []
    follow_up_ids: list[str] = []
    if draft.direction == states.DOWNWARD:
        plan_id = str(uuid.uuid4())
        follow_up_ids = [str(uuid.uuid4()) for _ in draft.follow_ups]
        writes.append(store.Write("POST", "CarePlan", plan_id, _care_plan(draft, patient, ctx, now, follow_up_ids)))
        writes += [store.Write("POST", "Task", fid, _follow_up(item, patient, owner, ctx, task_id, plan_id, now))
                   for fid, item in zip(follow_up_ids, draft.follow_ups, strict=True)]
        others.append({"reference": f"CarePlan/{plan_id}"})
    if others:
        request["supportingInfo"] = others
    task = {
        "resourceType": "Task", "status": "requested", "intent": "order", "priority": draft.priority,
        "extension": [{"url": REQUESTING_ORG_URL, "valueReference": {"reference": ctx.organization}}],
        "businessStatus": _state_concept("requested"), "code": {"coding": [REFERRAL_CATEGORY, direction]},
        "description": draft.reason.strip(), "focus": {"reference": f"ServiceRequest/{request_id}"}, "for": patient,
        "authoredOn": now, "lastModified": now, "requester": {"reference": ctx.fhir_user}, "owner": owner,
        "note": [_note(ctx, "requested")],
    }
    writes = [store.Write("POST", "ServiceRequest", request_id, request), store.Write("POST", "Task", task_id, task),
              *writes]
    _write(conn, ctx, writes, patient_id)
    referral = read(conn, ctx=ctx, task_id=task_id)
    _tell_other_side(conn, ctx, referral)
    return referral


def _care_plan(draft: ReferralDraft, patient: dict, ctx: AccessContext, now: str, follow_ups: list[str]) -> dict:
    activities: list[dict[str, Any]] = [
        {"detail": {"status": "not-started", "description": item.description.strip()}} for item in draft.care_plan]
    activities += [{"reference": {"reference": f"Task/{fid}"}} for fid in follow_ups]
    return {"resourceType": "CarePlan", "status": "active", "intent": "plan", "subject": patient,
            "title": "Discharge care plan", "description": draft.reason.strip(), "created": now,
            "author": {"reference": ctx.fhir_user}, "activity": activities}


def _follow_up(item: CarePlanItem, patient: dict, owner: dict, ctx: AccessContext, task_id: str, plan_id: str,
               now: str) -> dict:
    return {"resourceType": "Task", "status": "requested", "intent": "plan", "description": item.description.strip(),
            "partOf": [{"reference": f"Task/{task_id}"}], "basedOn": [{"reference": f"CarePlan/{plan_id}"}],
            "for": patient, "authoredOn": now, "requester": {"reference": ctx.fhir_user}, "owner": owner,
            "restriction": {"period": {"end": item.due.isoformat()}}}


def _stored_task(conn: Connection, ctx: AccessContext, task_id: str) -> tuple[dict, dict]:
    """The referral's Task and ServiceRequest as ctx may read them."""
    task = _get(conn, ctx, f"Task/{_plain_id(task_id, 'Task')}")
    if not any(c.get("code") == REFERRAL_CATEGORY["code"] for c in (task.get("code") or {}).get("coding", [])):
        raise ReferralNotFound(f"Task/{task_id[:64]} is not a referral")
    request = _get(conn, ctx, task["focus"]["reference"])
    return task, request


def _coded(concept: dict | None, system: str) -> str:
    return next((c.get("code", "") for c in (concept or {}).get("coding", []) if c.get("system") == system), "")


def side_of(conn: Connection, ctx: AccessContext, task: dict) -> str | None:
    """Which side of the referral ctx works on: the receiving department's clinicians, or the requesting clinic."""
    owner = task["owner"]["reference"].removeprefix("HealthcareService/")
    if ctx.fhir_user and ctx.fhir_user in _department_practitioners(conn, owner):
        return states.RECEIVER
    requesting = next((e.get("valueReference", {}).get("reference") for e in task.get("extension", [])
                       if e.get("url") == REQUESTING_ORG_URL), None)
    if ctx.fhir_user == task["requester"]["reference"] or (ctx.organization and ctx.organization == requesting):
        return states.REQUESTER
    return None


def _view(conn: Connection, ctx: AccessContext, task: dict, request: dict, *, follow_ups: bool = False) -> Referral:
    direction = _coded(task.get("code"), DIRECTION_SYSTEM)
    state = _coded(task.get("businessStatus"), STATE_SYSTEM)
    side = side_of(conn, ctx, task)
    history = [{"time": n.get("time", ""), "by": (n.get("authorReference") or {}).get("reference")
                or n.get("authorString", ""), "text": n.get("text", "")} for n in task.get("note", [])]
    appointment = next((o["valueReference"]["reference"] for o in task.get("output", [])
                        if (o.get("valueReference") or {}).get("reference", "").startswith("Appointment/")), None)
    supporting = [s["reference"] for s in request.get("supportingInfo", [])]
    attachments = [r["reference"] for r in request.get("reasonReference", [])] + \
        [s for s in supporting if not s.startswith("CarePlan/")]
    plan = next((s for s in supporting if s.startswith("CarePlan/")), None)
    tasks = []
    if follow_ups and plan:
        found = _search(conn, ctx, "Task", [("part-of", f"Task/{task['id']}"), ("_count", "50")])
        tasks = [{"id": t["id"], "description": t.get("description", ""), "status": t.get("status"),
                  "due": ((t.get("restriction") or {}).get("period") or {}).get("end")} for t in found]
    return Referral(
        id=task["id"], version=int(task["meta"]["versionId"]), direction=direction, state=state,
        priority=task.get("priority", "routine"), patient=task["for"]["reference"],
        department=task["owner"]["reference"], department_name=task["owner"].get("display", ""),
        requester=task["requester"]["reference"], reason=task.get("description", ""),
        summary=" ".join(n.get("text", "") for n in request.get("note", [])), authored=task.get("authoredOn", ""),
        changed=task.get("lastModified") or task["meta"]["lastUpdated"], attachments=attachments, history=history,
        appointment=appointment, care_plan=plan, follow_ups=tasks, side=side,
        actions=states.actions_from(direction, state, side) if side else [],
        reject_reason=(task.get("statusReason") or {}).get("text") if state == "rejected" else None)


def read(conn: Connection, *, ctx: AccessContext, task_id: str) -> Referral:
    """One referral, if ctx's reach includes its patient and ctx works on one of its two sides."""
    task, request = _stored_task(conn, ctx, task_id)
    referral = _view(conn, ctx, task, request, follow_ups=True)
    if referral.side is None:
        raise ReferralNotFound(f"Task/{task_id[:64]} was not found or is not in your care")
    return referral


def _caller_services(conn: Connection, ctx: AccessContext) -> list[str]:
    if not (ctx.fhir_user or "").startswith("Practitioner/"):
        return []
    roles = _search(conn, access_ctx_directory(), "PractitionerRole",
                    [("practitioner", ctx.fhir_user), ("_count", "50")])
    return sorted({s["reference"] for r in roles if r.get("active", True) for s in r.get("healthcareService", [])})


def listing(conn: Connection, *, ctx: AccessContext, box: str, state: str | None = None,
            priority: str | None = None, direction: str | None = None) -> list[Referral]:
    """The incoming referrals of the caller's departments, or the outgoing ones the caller made; urgent first."""
    if box not in ("incoming", "outgoing"):
        raise InvalidReferral("box is incoming or outgoing")
    if state is not None and state not in states.STATES:
        raise InvalidReferral(f"state is one of {', '.join(states.STATES)}")
    if priority is not None and priority not in PRIORITIES:
        raise InvalidReferral("urgency is routine, urgent, asap or stat")
    if direction is not None and direction not in states.DIRECTIONS:
        raise InvalidReferral("direction is upward or downward")
    query = [("code", f"{SNOMED}|{REFERRAL_CATEGORY['code']}"), ("_count", "200"), ("_sort", "-_lastUpdated")]
    if box == "incoming":
        services = _caller_services(conn, ctx)
        if not services:
            return []
        query.append(("owner", ",".join(services)))
    else:
        if not ctx.fhir_user:
            return []
        query.append(("requester", ctx.fhir_user))
    if state:
        query.append(("business-status", f"{STATE_SYSTEM}|{state}"))
    if priority:
        query.append(("priority", priority))
    if direction:
        query.append(("code", f"{DIRECTION_SYSTEM}|{direction}"))
    tasks = _search(conn, ctx, "Task", query)
    requests = {f"ServiceRequest/{r['id']}": r for r in _search(conn, ctx, "ServiceRequest", [
        ("_id", ",".join(t["focus"]["reference"].removeprefix("ServiceRequest/") for t in tasks)),
        ("_count", "200")])} if tasks else {}
    found = [_view(conn, ctx, t, requests[t["focus"]["reference"]]) for t in tasks if t["focus"]["reference"] in requests]
    rank = {"stat": 0, "asap": 1, "urgent": 2, "routine": 3}
    return sorted(found, key=lambda r: (r.state in states.FINAL, rank.get(r.priority, 3), r.changed))


def transition(conn: Connection, *, ctx: AccessContext, task_id: str, action: str, reason: str = "",
               version: int | None = None, appointment: str | None = None) -> Referral:
    """Move a referral on (accept, reject with a reason, mark arrived, complete, cancel); refused when illegal,
    when ctx is not on the side that takes this step, or when someone else changed it since version."""
    task, request = _stored_task(conn, ctx, task_id)
    current = _view(conn, ctx, task, request)
    if current.side is None:
        raise ReferralNotFound(f"Task/{task_id[:64]} was not found or is not in your care")
    if action not in states.ACTIONS:
        raise InvalidReferral(f"action is one of {', '.join(states.ACTIONS)}")
    if action == "schedule" and appointment is None:
        raise InvalidReferral("a referral is scheduled by booking an appointment from it")
    try:
        step = states.move(current.direction, current.state, action)
    except states.IllegalTransition as exc:
        raise TransitionRefused(str(exc)) from exc
    if step.side != current.side:
        raise NotYourSide(f"Only the {step.side} side may {action} a referral")
    reason = reason.strip()
    if action == "reject" and not 1 <= len(reason) <= MAX_REASON:
        raise InvalidReferral(f"a rejection needs a reason of 1 to {MAX_REASON} characters")
    if len(reason) > MAX_REASON:
        raise InvalidReferral(f"a reason is at most {MAX_REASON} characters")
    if version is not None and version != current.version:
        raise TransitionRefused("Someone else changed this referral since you opened it; look at it again")
    now = clock.format_instant(clock.now())
    changed = {**task, "status": states.TASK_STATUS[step.target], "businessStatus": _state_concept(step.target),
               "lastModified": now, "note": [*task.get("note", []), _note(ctx, f"{step.target}: {reason}"
                                                                          if reason else step.target)]}
    if reason:
        changed["statusReason"] = {"text": reason}
    if appointment:
        changed["output"] = [*task.get("output", []), {"type": {"text": "appointment"},
                                                       "valueReference": {"reference": appointment}}]
    changed.pop("meta", None)
    writes = [store.Write("PUT", "Task", task["id"], changed, if_match=current.version)]
    status = states.REQUEST_STATUS[step.target]
    if status != request.get("status"):
        writes.append(store.Write("PUT", "ServiceRequest", request["id"],
                                  {**{k: v for k, v in request.items() if k != "meta"}, "status": status}))
    if step.target in states.FINAL:
        writes += _end_legacy_care_team(conn, ctx, task, now)
    stored = _write(conn, ctx, writes, current.patient.removeprefix("Patient/"))
    # Built from what was written: a rejected or cancelled referral may be out of the writer's reach already.
    referral = _view(conn, ctx, stored[0].resource, stored[1].resource if len(stored) > 1
                     and stored[1].res_type == "ServiceRequest" else request)
    _tell_other_side(conn, ctx, referral)
    return referral


def _end_legacy_care_team(conn: Connection, ctx: AccessContext, task: dict, now: str) -> list[store.Write]:
    """The care team that referrals made before the policy's department rule wrote (Task.input), made inactive
    when the referral ends, so that such a team does not keep the department in the patient's care."""
    writes = []
    for given in task.get("input", []):
        reference = (given.get("valueReference") or {}).get("reference", "")
        if reference.startswith("CareTeam/"):
            team = _get(conn, ctx, reference)
            if team.get("status") != "active":
                continue
            ended = {k: v for k, v in team.items() if k != "meta"}
            writes.append(store.Write("PUT", "CareTeam", team["id"], {**ended, "status": "inactive",
                                                                     "period": {**team.get("period", {}), "end": now}}))
    return writes


def free_slots(conn: Connection, *, ctx: AccessContext, task_id: str, days: int = 14) -> list[dict[str, Any]]:
    """Bookable slots of the receiving department over the next days, for booking from the referral."""
    referral = read(conn, ctx=ctx, task_id=task_id)
    service_id = referral.department.removeprefix("HealthcareService/")
    today = clock.now().astimezone(region_zone()).date()
    found: list[dict[str, Any]] = []
    for offset in range(max(1, min(days, 31))):
        day = (today + timedelta(days=offset)).isoformat()
        found += [s for s in scheduling.list_slots(conn, day=day, service_id=service_id)
                  if s["bookable"] and s["free"] > 0]
        if len(found) >= 60:
            break
    return found[:60]


def book(conn: Connection, *, ctx: AccessContext, task_id: str, slot_id: str, version: int | None = None) -> Referral:
    """Book the patient into a slot of the receiving department and mark the referral scheduled, in one go."""
    referral = read(conn, ctx=ctx, task_id=task_id)
    if referral.side != states.RECEIVER:
        raise NotYourSide("Only the receiving department books from a referral")
    try:
        states.move(referral.direction, referral.state, "schedule")
    except states.IllegalTransition as exc:
        raise TransitionRefused(str(exc)) from exc
    try:
        booked = scheduling.book(conn, ctx=ctx, slot_id=_plain_id(slot_id, "Slot"),
                                 patient_id=referral.patient.removeprefix("Patient/"), channel="referral",
                                 comment=f"Referral Task/{referral.id}")
    except booking_errors.BookingRefused as exc:
        refusal = TransitionRefused(f"The booking was refused: {exc}")
        refusal.status = exc.status if exc.status in (404, 409, 422) else 409
        raise refusal from exc
    if f"HealthcareService/{booked.service}" != referral.department:
        raise InvalidReferral("That slot belongs to another department than the one referred to")
    return transition(conn, ctx=ctx, task_id=task_id, action="schedule", version=version,
                      appointment=f"Appointment/{booked.id}")


def _(message: str) -> str:
    """Mark a message for the catalog; it is translated in each recipient's language when sent."""
    return message


# A notice's title for each state the referral reached, and the words it is filled with.
_TITLES = {
    "requested": _("New referral: %(direction)s, %(urgency)s"),
    "accepted": _("Referral accepted: %(direction)s, %(urgency)s"),
    "rejected": _("Referral rejected: %(direction)s, %(urgency)s"),
    "scheduled": _("Referral booked: %(direction)s, %(urgency)s"),
    "arrived": _("Referred patient arrived: %(direction)s, %(urgency)s"),
    "completed": _("Referral completed: %(direction)s, %(urgency)s"),
    "cancelled": _("Referral cancelled: %(direction)s, %(urgency)s"),
}
_DIRECTION_WORDS = {states.UPWARD: _("Upward referral"), states.DOWNWARD: _("Downward referral")}
_URGENCY_WORDS = {"routine": _("Routine"), "urgent": _("Urgent"), "asap": _("As soon as possible"),
                  "stat": _("Immediately")}


def _tell_other_side(conn: Connection, ctx: AccessContext, referral: Referral) -> None:
    """Notify the side that did not act, each account in its own language: the department's clinicians, or the
    referring clinician. The reason is sent as it was typed."""
    if referral.side == states.RECEIVER:
        others = [referral.requester]
    else:
        others = _department_practitioners(conn, referral.department.removeprefix("HealthcareService/"))
    others = [p for p in others if p != ctx.fhir_user]
    if not others:
        return
    accounts = conn.execute(sa.select(user_account.c.id, user_account.c.locale).where(
        user_account.c.fhir_ref.in_(others), user_account.c.locked.is_(False))).all()
    for account in accounts:
        t = i18n.translations(account.locale)
        title = t.gettext(_TITLES[referral.state]) % {
            "direction": t.gettext(_DIRECTION_WORDS[referral.direction]),
            "urgency": t.gettext(_URGENCY_WORDS.get(referral.priority, _URGENCY_WORDS["routine"]))}
        notify(conn, user_id=account.id, kind=NOTIFY_KIND, title=title, body=referral.reason[:300],
               link=f"/workstation/referrals/{referral.id}", data={"referral": f"Task/{referral.id}"})
