"""Remote consultation between doctors as FHIR: a ServiceRequest (category consultation) and a Task owned by the
receiving department, a Consent that shares exactly the chosen records with the specialists until it expires,
and the opinion as a DiagnosticReport about the patient, based on the request.

Access: the patient's records are read through the gateway as the acting clinician, so the one access policy
decides and audits each look; the specialists reach the shared records only through the share (the policy's
`teleconsult-share` rule), and lose them when it expires or the consultation is cancelled. The consultation's
own records (request, task, share, opinion) are written by the platform on the clinician's behalf, without a
sender organisation, because both institutions work on them (as referrals are: see referral/service.py);
each step is first allowed by the policy for the clinician's role and scopes, checked against the side the
clinician works on, and audited as theirs.
"""

import base64
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Connection

from smartcare.fhir import access, gateway, store
from smartcare.fhir.errors import FhirError, PreconditionFailed
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.teleconsult import directory, room, shares, states
from smartcare.platform import audit, clock, i18n
from smartcare.platform.notifications.service import notify
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import CONSENT_CATEGORY_SYSTEM, TELECONSULT_SHARE
from smartcare.platform.security.tables import user_account

LOCAL = "https://smartcare.example/fhir/"
STATE_SYSTEM = LOCAL + "CodeSystem/teleconsult-state"
INPUT_SYSTEM = LOCAL + "CodeSystem/teleconsult-input"
SNOMED, LOINC = "http://snomed.info/sct", "http://loinc.org"
CONSULTATION = {"system": SNOMED, "code": "11429006", "display": "Consultation"}
CONSULT_NOTE = {"system": LOINC, "code": "11488-4", "display": "Consult note"}
SHAREABLE = ("DiagnosticReport", "Observation", "ImagingStudy", "DocumentReference")
# Our urgencies as FHIR request priorities.
PRIORITY = {"routine": "routine", "urgent": "urgent", "emergency": "stat"}
SECTIONS = ("summary", "opinion", "recommendations")
SECTION_TITLES = {"summary": "Summary of findings", "opinion": "Opinion", "recommendations": "Recommendations"}
MAX_QUESTION, MAX_SECTION, MAX_REASON, MAX_RECORDS, MAX_TEAM = 2000, 4000, 500, 20, 8
MAX_SESSION_AHEAD = timedelta(days=30)
NOTIFY_KIND = "teleconsult"
URGENCY_DATA = Path(__file__).parent / "data" / "urgency.yaml"
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")
# The platform reads the consultation's own records (task, request, share); _sides decides who is shown them.
_PLATFORM = directory.PLATFORM


class TeleconsultError(Exception):
    """A refused request; status is the HTTP status, code the OperationOutcome issue code."""

    status, code = 400, "invalid"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def outcome(self) -> dict[str, Any]:
        """The refusal as a FHIR OperationOutcome."""
        return {"resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": self.code, "diagnostics": self.message}]}


class InvalidTeleconsult(TeleconsultError):
    status, code = 422, "invalid"


class TeleconsultNotFound(TeleconsultError):
    status, code = 404, "not-found"


class NotYourSide(TeleconsultError):
    status, code = 403, "forbidden"


class TransitionRefused(TeleconsultError):
    status, code = 409, "conflict"


@dataclass(frozen=True)
class Urgency:
    """How soon an urgency is answered, and how long the specialists may read what was shared."""

    target: timedelta
    share: timedelta


@cache
def urgencies() -> dict[str, Urgency]:
    """The urgencies from data/urgency.yaml, least urgent first."""
    data = yaml.safe_load(URGENCY_DATA.read_text(encoding="utf-8"))
    return {name: Urgency(timedelta(hours=v["target_hours"]), timedelta(hours=v["share_hours"]))
            for name, v in data["urgencies"].items()}


@dataclass(frozen=True)
class Draft:
    """What the requesting doctor fills in."""

    patient_id: str
    department: str  # the receiving HealthcareService id
    question: str
    urgency: str = "routine"
    records: tuple[str, ...] = ()


@dataclass
class Teleconsult:
    """A remote consultation as the pages and the API show it."""

    id: str  # the Task id
    version: int
    state: str
    urgency: str
    patient: str
    patient_name: str
    department: str
    department_name: str
    requester: str
    question: str
    records: list[str]
    authored: str
    due: str
    specialists: list[str] = field(default_factory=list)
    session_start: str | None = None
    room: str | None = None  # the multi-disciplinary session's video room (an Encounter id)
    share_expires: str | None = None
    opinion: str | None = None
    answered: str | None = None
    cancel_reason: str | None = None
    history: list[dict[str, str]] = field(default_factory=list)
    sides: frozenset[str] = frozenset()
    actions: list[str] = field(default_factory=list)

    def overdue(self) -> bool:
        """True when still open past its target turnaround."""
        return self.state not in states.FINAL and clock.parse_instant(self.due) < clock.now()

    def minutes_left(self) -> int | None:
        """Minutes until the target turnaround (negative when overdue); None once answered or cancelled."""
        if self.state in states.FINAL:
            return None
        return int((clock.parse_instant(self.due) - clock.now()).total_seconds() // 60)

    def as_json(self) -> dict[str, Any]:
        """The JSON the API answers with."""
        return {"id": self.id, "version": self.version, "state": self.state, "urgency": self.urgency,
                "patient": self.patient, "patient_name": self.patient_name, "department": self.department,
                "department_name": self.department_name, "requester": self.requester, "question": self.question,
                "records": self.records, "authored": self.authored, "due": self.due, "overdue": self.overdue(),
                "minutes_left": self.minutes_left(), "specialists": self.specialists,
                "session_start": self.session_start, "room": self.room, "share_expires": self.share_expires,
                "opinion": self.opinion,
                "answered": self.answered, "cancel_reason": self.cancel_reason, "history": self.history,
                "sides": sorted(self.sides), "actions": self.actions}


def _plain_id(value: str, res_type: str) -> str:
    raw = (value or "").removeprefix(f"{res_type}/")
    if not raw or len(raw) > 64 or not _ID_CHARS.issuperset(raw):
        raise InvalidTeleconsult(f"{res_type} must be given as {res_type}/<id>")
    return raw


def _get(conn: Connection, ctx: AccessContext, reference: str) -> dict[str, Any]:
    """A resource read as ctx through the policy (audited); TeleconsultNotFound when out of reach or missing."""
    try:
        return gateway.serve_within(conn, ctx, FhirRequest(method="GET", path=reference)).body or {}
    except FhirError as exc:
        raise TeleconsultNotFound(f"{reference[:80]} was not found or is not in your reach") from exc


def _search(conn: Connection, ctx: AccessContext, res_type: str, query: list[tuple[str, str]]) -> list[dict]:
    bundle = gateway.serve_within(conn, ctx, FhirRequest(method="GET", path=res_type, query=query)).body or {}
    return [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") != "outcome"]


def _department(conn: Connection, service_id: str) -> dict[str, Any]:
    found = directory.department(conn, service_id)
    if found is None:
        raise InvalidTeleconsult(f"There is no department HealthcareService/{service_id[:64]}")
    return found


def _checked(draft: Draft) -> None:
    if draft.urgency not in urgencies():
        raise InvalidTeleconsult(f"urgency is one of {', '.join(urgencies())}")
    if not 1 <= len(draft.question.strip()) <= MAX_QUESTION:
        raise InvalidTeleconsult(f"the question is 1 to {MAX_QUESTION} characters")
    if not 1 <= len(draft.records) <= MAX_RECORDS:
        raise InvalidTeleconsult(f"share 1 to {MAX_RECORDS} records")


def _records(conn: Connection, ctx: AccessContext, draft: Draft, patient_id: str) -> list[str]:
    """The shared records as references, each a record of the patient that the requester may read."""
    refs = []
    for given in draft.records:
        res_type, _, res_id = given.partition("/")
        if res_type not in SHAREABLE:
            raise InvalidTeleconsult(f"shared records are {', '.join(SHAREABLE)}")
        resource = _get(conn, ctx, f"{res_type}/{_plain_id(res_id, res_type)}")
        named = {(resource.get(key) or {}).get("reference", "") for key in ("subject", "patient")}
        if f"Patient/{patient_id}" not in named:
            raise InvalidTeleconsult(f"{res_type}/{res_id[:64]} is not a record of this patient")
        refs.append(f"{res_type}/{resource['id']}")
    return list(dict.fromkeys(refs))


def _note(ctx: AccessContext, text: str) -> dict[str, Any]:
    note: dict[str, Any] = {"time": clock.format_instant(clock.now()), "text": text[:MAX_REASON + 100]}
    if (ctx.fhir_user or "").startswith("Practitioner/"):
        note["authorReference"] = {"reference": ctx.fhir_user}
    else:
        note["authorString"] = ctx.author
    return note


def _input(kind: str, **value: Any) -> dict[str, Any]:
    return {"type": {"coding": [{"system": INPUT_SYSTEM, "code": kind}]}, **value}


def _allowed(ctx: AccessContext, writes: list[store.Write]) -> None:
    """The policy's word on ctx's role and scopes for each write (which patient is the workflow's to decide)."""
    for w in writes:
        try:
            access.decision(ctx, "create" if w.method == "POST" else "update", w.res_type)
        except FhirError as exc:
            raise NotYourSide(f"You may not write a {w.res_type}: {exc.message}") from exc


def _write(conn: Connection, ctx: AccessContext, writes: list[store.Write], patient: str) -> list[store.Stored]:
    """Store the writes on ctx's behalf (after _allowed and the side checks) and audit them as ctx's."""
    _allowed(ctx, writes)
    on_behalf = AccessContext(kind="system", name=f"teleconsult/{ctx.name}"[:64], roles=frozenset({"system"}))
    try:
        stored = store.write_batch(conn, on_behalf, writes)
    except PreconditionFailed as exc:
        raise TransitionRefused("Someone else changed this consultation just now; look at it again") from exc
    for s in stored:
        audit.record(conn, ctx=ctx, action="C" if s.created else "U", subtype="create" if s.created else "update",
                     entities=[f"{s.res_type}/{s.res_id}"], patient=patient, purpose="TREAT")
    return stored


def create(conn: Connection, *, ctx: AccessContext, draft: Draft) -> Teleconsult:
    """Ask a hospital department for a specialist's opinion on the patient's chosen records; returns the request."""
    _checked(draft)
    if not ctx.organization or not (ctx.fhir_user or "").startswith("Practitioner/"):
        raise NotYourSide("Only a clinician of an organisation asks for a remote consultation")
    patient_id = _plain_id(draft.patient_id, "Patient")
    patient = _get(conn, ctx, f"Patient/{patient_id}")
    department = _department(conn, _plain_id(draft.department, "HealthcareService"))
    records = _records(conn, ctx, draft, patient_id)
    now = clock.now()
    due = now + urgencies()[draft.urgency].target
    request_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
    subject = {"reference": f"Patient/{patient_id}", "display": directory.person_name(patient)}
    owner = {"reference": f"HealthcareService/{department['id']}", "display": department.get("name", "")[:200]}
    request = {
        "resourceType": "ServiceRequest", "status": "active", "intent": "order", "priority": PRIORITY[draft.urgency],
        "category": [{"coding": [CONSULTATION]}], "code": {"coding": [CONSULTATION]}, "subject": subject,
        "authoredOn": clock.format_instant(now), "requester": {"reference": ctx.fhir_user}, "performer": [owner],
        "note": [{"text": draft.question.strip()}], "supportingInfo": [{"reference": r} for r in records],
    }
    task = {
        "resourceType": "Task", "status": "requested", "intent": "order", "priority": PRIORITY[draft.urgency],
        "code": {"coding": [CONSULTATION]}, "businessStatus": _state_concept("requested"),
        "focus": {"reference": f"ServiceRequest/{request_id}"}, "for": subject,
        "authoredOn": clock.format_instant(now), "lastModified": clock.format_instant(now),
        "requester": {"reference": ctx.fhir_user}, "owner": owner, "description": draft.question.strip(),
        "restriction": {"period": {"end": clock.format_instant(due)}},
        "input": [_input("requesting-organization", valueReference={"reference": ctx.organization})],
        "note": [_note(ctx, "requested")],
    }
    _write(conn, ctx, [store.Write("PUT", "ServiceRequest", request_id, request),
                       store.Write("PUT", "Task", task_id, task)], subject["reference"])
    made = read(conn, ctx=ctx, task_id=task_id)
    _tell(conn, ctx, made, directory.department_practitioners(conn, department["id"]), "requested")
    return made


def _state_concept(state: str) -> dict[str, Any]:
    return {"coding": [{"system": STATE_SYSTEM, "code": state}], "text": state}


def _coded(concept: dict | None, system: str) -> str:
    return next((c.get("code", "") for c in (concept or {}).get("coding", []) if c.get("system") == system), "")


def _inputs(task: dict, kind: str) -> list[dict]:
    return [i for i in task.get("input", []) if _coded(i.get("type"), INPUT_SYSTEM) == kind]


@dataclass
class _Loaded:
    task: dict
    request: dict
    share: dict | None


def _load(conn: Connection, task_id: str) -> _Loaded:
    """The consultation's own records, read by the platform (who may see them is decided by _sides)."""
    found = _search(conn, _PLATFORM, "Task", [("_id", _plain_id(task_id, "Task")),
                                              ("code", f"{SNOMED}|{CONSULTATION['code']}")])
    if not found:
        raise TeleconsultNotFound(f"Task/{task_id[:64]} was not found or is not in your care")
    task = found[0]
    request = _search(conn, _PLATFORM, "ServiceRequest", [("_id", task["focus"]["reference"].split("/", 1)[1])])
    share_ref = next((i["valueReference"]["reference"] for i in _inputs(task, "share")), None)
    share = _search(conn, _PLATFORM, "Consent", [("_id", share_ref.split("/", 1)[1])]) if share_ref else []
    return _Loaded(task, request[0], share[0] if share else None)


def _sides(conn: Connection, ctx: AccessContext, loaded: _Loaded) -> frozenset[str]:
    """Which sides ctx works on: the requesting clinician, the receiving department, the specialists asked."""
    me = ctx.fhir_user or ""
    if not me.startswith("Practitioner/"):
        return frozenset()
    sides = set()
    if me == loaded.task["requester"]["reference"]:
        sides.add(states.REQUESTER)
    if me in directory.department_practitioners(conn, loaded.task["owner"]["reference"].removeprefix("HealthcareService/")):
        sides.add(states.RECEIVER)
    if me in [i["valueReference"]["reference"] for i in _inputs(loaded.task, "specialist")]:
        sides.add(states.SPECIALIST)
    return frozenset(sides)


def _view(loaded: _Loaded, sides: frozenset[str]) -> Teleconsult:
    task, request = loaded.task, loaded.request
    state = _coded(task.get("businessStatus"), STATE_SYSTEM)
    urgency = next((u for u, p in PRIORITY.items() if p == task.get("priority")), "routine")
    history = [{"time": n.get("time", ""), "by": (n.get("authorReference") or {}).get("reference")
                or n.get("authorString", ""), "text": n.get("text", "")} for n in task.get("note", [])]
    session = next((i.get("valueDateTime") for i in _inputs(task, "session-start")), None)
    opinion = next((o["valueReference"]["reference"] for o in task.get("output", [])
                    if (o.get("valueReference") or {}).get("reference", "").startswith("DiagnosticReport/")), None)
    return Teleconsult(
        id=task["id"], version=int(task["meta"]["versionId"]), state=state, urgency=urgency,
        patient=task["for"]["reference"], patient_name=task["for"].get("display", ""),
        department=task["owner"]["reference"], department_name=task["owner"].get("display", ""),
        requester=task["requester"]["reference"], question=task.get("description", ""),
        records=[s["reference"] for s in request.get("supportingInfo", [])], authored=task.get("authoredOn", ""),
        due=task["restriction"]["period"]["end"],
        specialists=[i["valueReference"]["reference"] for i in _inputs(task, "specialist")], session_start=session,
        room=room.room_id(task["id"]) if session else None,
        share_expires=shares.expires(loaded.share) if loaded.share else None, opinion=opinion,
        answered=task.get("lastModified") if state == "answered" else None,
        cancel_reason=(task.get("statusReason") or {}).get("text") if state == "cancelled" else None,
        history=history, sides=sides, actions=states.actions_for(state, sides))


def read(conn: Connection, *, ctx: AccessContext, task_id: str) -> Teleconsult:
    """One consultation, for the requester, the receiving department and the specialists asked (audited)."""
    loaded = _load(conn, task_id)
    sides = _sides(conn, ctx, loaded)
    if not sides:
        raise TeleconsultNotFound(f"Task/{task_id[:64]} was not found or is not in your care")
    audit.record(conn, ctx=ctx, action="R", subtype="read", patient=loaded.task["for"]["reference"],
                 entities=[f"Task/{loaded.task['id']}", f"ServiceRequest/{loaded.request['id']}"], purpose="TREAT")
    return _view(loaded, sides)


def listing(conn: Connection, *, ctx: AccessContext, box: str) -> list[Teleconsult]:
    """Incoming (the caller's departments' and those the caller was asked to answer) or outgoing (the caller's
    own requests); open ones first, the nearest deadline first."""
    if box not in ("incoming", "outgoing"):
        raise InvalidTeleconsult("box is incoming or outgoing")
    me = ctx.fhir_user or ""
    if not me.startswith("Practitioner/"):
        return []
    code = ("code", f"{SNOMED}|{CONSULTATION['code']}")
    if box == "outgoing":
        tasks = _search(conn, _PLATFORM, "Task", [code, ("requester", me), ("_count", "200")])
    else:
        services = directory.services_of(conn, me)
        tasks = _search(conn, _PLATFORM, "Task", [code, ("owner", ",".join(services)), ("_count", "200")]) \
            if services else []
        asked = _search(conn, _PLATFORM, "Consent", [("actor", me), ("_count", "200"),
                                                     ("category", f"{CONSENT_CATEGORY_SYSTEM}|{TELECONSULT_SHARE}")])
        ids = [i["value"] for c in asked for i in c.get("identifier", []) if i.get("system") ==
               shares.TELECONSULT_ID_SYSTEM and i["value"] not in {t["id"] for t in tasks}]
        if ids:
            tasks += _search(conn, _PLATFORM, "Task", [code, ("_id", ",".join(ids)), ("_count", "200")])
    found = []
    for task in tasks:
        loaded = _load(conn, task["id"])
        sides = _sides(conn, ctx, loaded)
        if sides:
            found.append(_view(loaded, sides))
    if found:
        audit.record(conn, ctx=ctx, action="R", subtype="search", purpose="TREAT",
                     entities=[f"Task/{t.id}" for t in found][:200])
    return sorted(found, key=lambda t: (t.state in states.FINAL, t.due))


def _begin(conn: Connection, ctx: AccessContext, task_id: str, action: str,
           version: int | None) -> tuple[_Loaded, Teleconsult, states.Move]:
    """Load the consultation and check that ctx's side may take action now, or refuse."""
    loaded = _load(conn, task_id)
    sides = _sides(conn, ctx, loaded)
    if not sides:
        raise TeleconsultNotFound(f"Task/{task_id[:64]} was not found or is not in your care")
    current = _view(loaded, sides)
    try:
        step = states.move(current.state, action)
    except states.IllegalTransition as exc:
        raise TransitionRefused(str(exc)) from exc
    if not step.sides & sides:
        raise NotYourSide(f"Only the {' or '.join(sorted(step.sides))} side may {action} this consultation")
    if version is not None and version != current.version:
        raise TransitionRefused("Someone else changed this consultation since you opened it; look at it again")
    return loaded, current, step


def _moved(ctx: AccessContext, loaded: _Loaded, target: str, text: str, **changes: Any) -> store.Write:
    task = {k: v for k, v in loaded.task.items() if k != "meta"}
    task.update(status=states.TASK_STATUS[target], businessStatus=_state_concept(target),
                lastModified=clock.format_instant(clock.now()), note=[*task.get("note", []), _note(ctx, text)])
    task.update(changes)
    return store.Write("PUT", "Task", task["id"], task, if_match=int(loaded.task["meta"]["versionId"]))


def _request_status(loaded: _Loaded, target: str) -> list[store.Write]:
    status = states.REQUEST_STATUS[target]
    if status == loaded.request.get("status"):
        return []
    changed = {**{k: v for k, v in loaded.request.items() if k != "meta"}, "status": status}
    return [store.Write("PUT", "ServiceRequest", changed["id"], changed)]


def _share_writes(loaded: _Loaded, current: Teleconsult, specialists: list[str], until: datetime) -> tuple[
        list[store.Write], list[dict]]:
    """The share created for, or widened to, the specialists; and the Task inputs naming it."""
    if loaded.share is None:
        share_id = str(uuid.uuid4())
        requester_org = next((i["valueReference"]["reference"] for i in _inputs(loaded.task, "requesting-organization")),
                             None)
        made = shares.consent(task_id=current.id, patient=current.patient, requester=current.requester,
                              organization=requester_org, records=current.records, specialists=specialists,
                              until=until)
        return [store.Write("PUT", "Consent", share_id, made)], [
            _input("share", valueReference={"reference": f"Consent/{share_id}"})]
    return [store.Write("PUT", "Consent", loaded.share["id"],
                        shares.widened(loaded.share, specialists=specialists, until=until))], []


def _specialist_inputs(loaded: _Loaded, specialists: list[str]) -> list[dict]:
    named = {i["valueReference"]["reference"] for i in _inputs(loaded.task, "specialist")}
    return [_input("specialist", valueReference={"reference": s}) for s in specialists if s not in named]


def assign(conn: Connection, *, ctx: AccessContext, task_id: str, specialist: str,
           version: int | None = None) -> Teleconsult:
    """The receiving department gives the consultation to one of its specialists, who may then read what was
    shared until the share expires."""
    loaded, current, step = _begin(conn, ctx, task_id, "assign", version)
    chosen = f"Practitioner/{_plain_id(specialist, 'Practitioner')}"
    if chosen not in directory.department_practitioners(conn, current.department.removeprefix("HealthcareService/")):
        raise InvalidTeleconsult("The specialist must work in the receiving department")
    until = clock.now() + urgencies()[current.urgency].share
    share_writes, share_inputs = _share_writes(loaded, current, [chosen], until)
    task = _moved(ctx, loaded, step.target, f"assigned to {chosen}",
                  input=[*loaded.task.get("input", []), *share_inputs, *_specialist_inputs(loaded, [chosen])])
    _write(conn, ctx, [task, *share_writes, *_request_status(loaded, step.target)], current.patient)
    done = read(conn, ctx=ctx, task_id=task_id)
    _tell(conn, ctx, done, [chosen], "assigned")
    return done


def convene(conn: Connection, *, ctx: AccessContext, task_id: str, specialists: list[str], start: datetime,
            version: int | None = None) -> Teleconsult:
    """The receiving department convenes a multi-disciplinary session: several specialists of its hospital at a
    scheduled time; each may read what was shared until the share expires (at least a share's span after)."""
    loaded, current, step = _begin(conn, ctx, task_id, "convene", version)
    chosen = list(dict.fromkeys(f"Practitioner/{_plain_id(s, 'Practitioner')}" for s in specialists))
    if not 2 <= len(chosen) <= MAX_TEAM:
        raise InvalidTeleconsult(f"a multi-disciplinary session has 2 to {MAX_TEAM} specialists")
    department = _department(conn, current.department.removeprefix("HealthcareService/"))
    allowed = set(directory.hospital_specialists(conn, department))
    strangers = [s for s in chosen if s not in allowed]
    if strangers:
        raise InvalidTeleconsult(f"{strangers[0][:80]} does not work in the receiving hospital")
    if start.tzinfo is None:
        raise InvalidTeleconsult("the session's start needs a time zone")
    if not clock.now() < start <= clock.now() + MAX_SESSION_AHEAD:
        raise InvalidTeleconsult("the session starts in the future, within 30 days")
    until = start + urgencies()[current.urgency].share
    share_writes, share_inputs = _share_writes(loaded, current, chosen, until)
    inputs = [i for i in loaded.task.get("input", []) if _coded(i.get("type"), INPUT_SYSTEM) != "session-start"]
    task = _moved(ctx, loaded, step.target, f"multi-disciplinary session at {clock.format_instant(start)}",
                  input=[*inputs, *share_inputs, *_specialist_inputs(loaded, chosen),
                         _input("session-start", valueDateTime=clock.format_instant(start))])
    team = list(dict.fromkeys([*current.specialists, *chosen]))
    meeting = room.encounter(task_id=current.id, request_id=loaded.request["id"], patient=current.patient,
                             requester=current.requester, start=start,
                             specialist_roles=list(directory.roles_of(conn, team).values()))
    _write(conn, ctx, [task, *share_writes, *_request_status(loaded, step.target),
                       store.Write("PUT", "Encounter", meeting["id"], meeting)], current.patient)
    done = read(conn, ctx=ctx, task_id=task_id)
    _tell(conn, ctx, done, [*chosen, done.requester], "scheduled")  # the requester is in the session too
    return done


def answer(conn: Connection, *, ctx: AccessContext, task_id: str, sections: dict[str, str],
           version: int | None = None) -> Teleconsult:
    """A specialist writes the opinion (summary of findings, opinion, recommendations): a DiagnosticReport about
    the patient, based on the request, in the patient's record; the requester is told."""
    loaded, current, step = _begin(conn, ctx, task_id, "answer", version)
    texts = {k: (sections.get(k) or "").strip() for k in SECTIONS}
    if not texts["opinion"]:
        raise InvalidTeleconsult("the opinion is required")
    if any(len(v) > MAX_SECTION for v in texts.values()):
        raise InvalidTeleconsult(f"each section is at most {MAX_SECTION} characters")
    if loaded.share is None or not shares.in_force(loaded.share):
        raise NotYourSide("Your access to this consultation's records has expired")
    now = clock.format_instant(clock.now())
    report_id = str(uuid.uuid4())
    report = {
        "resourceType": "DiagnosticReport", "status": "final", "code": {"coding": [CONSULT_NOTE]},
        "category": [{"coding": [CONSULTATION]}], "basedOn": [{"reference": f"ServiceRequest/{loaded.request['id']}"}],
        "subject": {"reference": current.patient}, "effectiveDateTime": now, "issued": now,
        "performer": [{"reference": s} for s in current.specialists] or [{"reference": ctx.fhir_user}],
        "resultsInterpreter": [{"reference": ctx.fhir_user}], "conclusion": texts["opinion"],
        "presentedForm": [{"contentType": "text/plain; charset=utf-8", "title": SECTION_TITLES[k],
                           "data": base64.b64encode(v.encode()).decode()} for k, v in texts.items() if v],
    }
    task = _moved(ctx, loaded, step.target, "answered", output=[
        *loaded.task.get("output", []), {"type": {"text": "opinion"},
                                         "valueReference": {"reference": f"DiagnosticReport/{report_id}"}}])
    reference = f"DiagnosticReport/{report_id}"
    _write(conn, ctx, [store.Write("PUT", "DiagnosticReport", report_id, report), task,
                       store.Write("PUT", "Consent", loaded.share["id"], shares.with_record(loaded.share, reference)),
                       *_request_status(loaded, step.target), *_room_closing(conn, current)], current.patient)
    done = read(conn, ctx=ctx, task_id=task_id)
    _tell(conn, ctx, done, [done.requester], "answered")
    return done


def cancel(conn: Connection, *, ctx: AccessContext, task_id: str, reason: str,
           version: int | None = None) -> Teleconsult:
    """Either side calls the consultation off with a reason; the specialists' access ends at once."""
    loaded, current, step = _begin(conn, ctx, task_id, "cancel", version)
    reason = reason.strip()
    if not 1 <= len(reason) <= MAX_REASON:
        raise InvalidTeleconsult(f"a cancellation needs a reason of 1 to {MAX_REASON} characters")
    writes = [_moved(ctx, loaded, step.target, f"cancelled: {reason}", statusReason={"text": reason}),
              *_request_status(loaded, step.target), *_room_closing(conn, current)]
    if loaded.share is not None:
        writes.append(store.Write("PUT", "Consent", loaded.share["id"], shares.ended(loaded.share)))
    _write(conn, ctx, writes, current.patient)
    done = read(conn, ctx=ctx, task_id=task_id)
    others = [done.requester, *done.specialists] if states.RECEIVER in current.sides else [
        *directory.department_practitioners(conn, done.department.removeprefix("HealthcareService/")), *done.specialists]
    _tell(conn, ctx, done, others, "cancelled")
    return done


def _room_closing(conn: Connection, current: Teleconsult) -> list[store.Write]:
    """The write that closes the consultation's video room (answered or cancelled), if it has an open one."""
    if current.room is None:
        return []
    found = _search(conn, _PLATFORM, "Encounter", [("_id", current.room)])
    ended = room.closed(found[0]) if found else None
    return [store.Write("PUT", "Encounter", ended["id"], ended)] if ended else []


def shared_records(conn: Connection, *, ctx: AccessContext, teleconsult: Teleconsult) -> list[dict[str, Any]]:
    """The shared records as ctx may read them now (through the policy, audited): each with its resource, or
    None where it is out of reach (a share that expired, or a reader it does not name)."""
    found = []
    for ref in teleconsult.records:
        try:
            resource = gateway.serve_within(conn, ctx, FhirRequest(method="GET", path=ref)).body
        except FhirError:
            resource = None
        found.append({"reference": ref, "resource": resource})
    return found


def opinion_sections(conn: Connection, *, ctx: AccessContext, teleconsult: Teleconsult) -> list[dict[str, str]]:
    """The opinion's sections (title and text) as ctx may read the report through the policy; [] if not."""
    if not teleconsult.opinion:
        return []
    try:
        report = gateway.serve_within(conn, ctx, FhirRequest(method="GET", path=teleconsult.opinion)).body or {}
    except FhirError:
        return []
    return [{"title": f.get("title", ""), "text": base64.b64decode(f.get("data", "")).decode("utf-8", "replace")}
            for f in report.get("presentedForm", [])]


def _(message: str) -> str:
    """Mark a message for the catalog; it is translated for each recipient in _tell."""
    return message


# The titles of the notices, by step; the urgency is named in the recipient's language too.
TITLES = {"requested": _("Remote consultation requested: %(urgency)s"),
          "assigned": _("Remote consultation assigned: %(urgency)s"),
          "scheduled": _("Remote consultation scheduled: %(urgency)s"),
          "answered": _("Remote consultation answered: %(urgency)s"),
          "cancelled": _("Remote consultation cancelled: %(urgency)s")}
URGENCY_WORDS = {"routine": _("routine"), "urgent": _("urgent"), "emergency": _("emergency")}


def _users_of(conn: Connection, practitioners: list[str]) -> list[tuple[str, str]]:
    """The unlocked accounts of the practitioners, with each account's language."""
    if not practitioners:
        return []
    return [(row.id, row.locale) for row in conn.execute(sa.select(user_account.c.id, user_account.c.locale).where(
        user_account.c.fhir_ref.in_(practitioners), user_account.c.locked.is_(False)))]


def _tell(conn: Connection, ctx: AccessContext, teleconsult: Teleconsult, practitioners: list[str], what: str) -> None:
    """Notify the people concerned by a step, other than the one who took it, each in their account's language."""
    others = sorted({p for p in practitioners if p != ctx.fhir_user})
    for user_id, locale in _users_of(conn, others):
        t = i18n.translations(i18n.supported_locale(locale) or i18n.DEFAULT_LOCALE)
        title = t.gettext(TITLES[what]) % {"urgency": t.gettext(URGENCY_WORDS[teleconsult.urgency])}
        notify(conn, user_id=user_id, kind=NOTIFY_KIND, title=title, body=teleconsult.question[:300],
               link=f"/workstation/teleconsults/{teleconsult.id}", data={"teleconsult": f"Task/{teleconsult.id}"})


def candidates(conn: Connection, teleconsult: Teleconsult) -> tuple[list[str], list[str]]:
    """Who the department may assign (its own specialists) and convene (its hospital's)."""
    department = _department(conn, teleconsult.department.removeprefix("HealthcareService/"))
    return directory.department_practitioners(conn, department["id"]), directory.hospital_specialists(conn, department)


def shareable_records(conn: Connection, *, ctx: AccessContext, patient_id: str) -> list[dict[str, str]]:
    """The patient's records of the shareable kinds that ctx may read (searched through the policy)."""
    patient = f"Patient/{_plain_id(patient_id, 'Patient')}"
    found = []
    for res_type in SHAREABLE:
        for r in _search(conn, ctx, res_type, [("patient", patient), ("_count", "100"), ("_sort", "-_lastUpdated")]):
            found.append({"reference": f"{res_type}/{r['id']}", "text": record_text(r)})
    return found


def record_text(resource: dict[str, Any]) -> str:
    """A short label for a shared record."""
    concept = resource.get("code") or resource.get("type") or next(iter(resource.get("procedureCode", [])), None) or {}
    text = resource.get("description") or concept.get("text") or next(
        (c.get("display") for c in concept.get("coding", []) if c.get("display")), None)
    return f"{resource.get('resourceType')}: {(text or resource.get('id', ''))[:120]}"
