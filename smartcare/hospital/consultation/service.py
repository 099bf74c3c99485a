"""Online consultations: opening, the doctor's inbox and pick-up, messages with receipts, closing, rating.

A consultation is a FHIR Encounter of class VR (virtual); its status maps waiting/in_progress/closed/refunded
to planned/in-progress/finished/cancelled, its kind (advice or follow_up) is Encounter.type, the doctor a
participant, the on-duty pool the department (serviceProvider), a follow-up's in-person diagnosis
reasonReference, and fee, refund, summary, advice and rating are extensions. Each message is a FHIR
Communication about the Encounter (identifier = consultation id + client id, sequence number, sent, received
and read). The counter and the client-id key live in models.py, so a retried send is stored once.

Access: every call first asks the access policy (platform/security/policy.py) whether the caller's role and
scopes allow the interaction; then a patient or caregiver must reach the patient through the policy (the
Patient is read with their own context), and a doctor must be the consultation's doctor or, while it waits
in a pool, work in that department. FHIR writes go through the store with the caller's context (a pool
pick-up, which makes the doctor a participant, is written by the platform once the rule above allowed it).
Every access is written to the audit trail. Every change raises CONSULTATION_EVENT after commit: the live
chat listens to it, and so may others (video visits) with `on_consultation_event`.

A consultation nobody picked up in time is offered to the doctor on duty (duty.py): while it waits, that doctor
is on its doctor side too. A message may carry references besides its text (payload contentReference): a photo
(Media, photos.py), the patient's triage session or their answers to the department's questions
(QuestionnaireResponse, questions.py), reports shared from their record (DiagnosticReport, attachments.py), a
video visit the doctor started (Encounter, flows.py), an online prescription sent for the pharmacist's review
(MedicationRequest, prescriptions.py), tests the doctor ordered (ServiceRequest, orders.py) or a follow-up visit
the doctor booked (Appointment, workstation_views.py).
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import gateway, store, tables
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.consultation import rules, waits
from smartcare.hospital.consultation.models import consultation_message, consultation_thread
from smartcare.hospital.patient_notices import service as patient_notices
from smartcare.platform import audit, clock, events
from smartcare.platform.db import pending_events
from smartcare.platform.events import DomainEvent
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import PATIENT_ROLES, AccessDenied, decide

CONSULTATION_EVENT = "ConsultationEvent"
LOCAL = "https://smartcare.example/fhir/"
KIND_SYSTEM = LOCAL + "CodeSystem/consultation-kind"
CATEGORY_SYSTEM = LOCAL + "CodeSystem/consultation-message-category"
MESSAGE_ID_SYSTEM = LOCAL + "sid/consultation-message"
EXT = LOCAL + "StructureDefinition/consultation-"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
FHIR_STATUS = {"waiting": "planned", "in_progress": "in-progress", "closed": "finished", "refunded": "cancelled"}
CATEGORIES = ("message", "info-request", "summary")
# What a message is, as both chat views label it: its category, or for a plain message what it carries.
MESSAGE_KINDS = ("message", "photo", "triage", "questions", "reports", "info-request", "summary", "video",
                 "prescription", "follow-up", "orders")
# Messages the doctor may still add once the consultation is closed: a follow-up visit booked afterwards, and the
# tests of orders placed just as it closed (orders.py refuses new orders once it is closed; the patient must still
# hear of those already placed).
AFTER_CLOSING = ("follow-up", "orders")
TRIAGE_QUESTIONNAIRE = "https://smartcare.example/fhir/Questionnaire/triage"
MAX_TEXT = 4000
MAX_CLIENT_ID = 64
# A consultation waiting longer than this comes first in the inbox.
OVERDUE_MINUTES = 30


class ConsultationError(Exception):
    """A refused consultation action; code names it, status is the HTTP status."""

    def __init__(self, message: str, *, code: str, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def on_consultation_event(fn: Callable[[DomainEvent], None]) -> None:
    """Call fn after commit for every consultation change (payload: consultation, type, and the details)."""
    events.subscribe(CONSULTATION_EVENT, fn)


def _now() -> str:
    return clock.format_instant(clock.now())


def _raise(conn: Connection, consultation_id: str, kind: str, **details: Any) -> None:
    pending_events(conn).append(DomainEvent(CONSULTATION_EVENT, {"consultation": consultation_id, "type": kind,
                                                                 **details}))


def _ref_id(reference: str | None, res_type: str) -> str | None:
    prefix = f"{res_type}/"
    return reference[len(prefix):] if reference and reference.startswith(prefix) else None


def _content(conn: Connection, res_type: str, res_id: str) -> dict[str, Any] | None:
    r = tables.resource.c
    return conn.execute(sa.select(r.content).where(r.res_type == res_type, r.res_id == res_id,
                                                   r.deleted.is_(False))).scalar()


def _thread(conn: Connection, consultation_id: str) -> sa.Row:
    row = conn.execute(sa.select(consultation_thread).where(
        consultation_thread.c.encounter_id == consultation_id[:64])).first()
    if row is None:
        raise ConsultationError("There is no such consultation for you", code="not-found", status=404)
    return row


def _departments(conn: Connection, practitioner_id: str) -> set[str]:
    """The organisations (departments) where the practitioner holds a role."""
    ref = tables.idx_reference.c
    roles = sa.select(ref.res_pk).where(ref.res_type == "PractitionerRole", ref.param == "practitioner",
                                        ref.target_type == "Practitioner", ref.target_id == practitioner_id)
    return set(conn.execute(sa.select(ref.target_id).where(
        ref.res_pk.in_(roles), ref.res_type == "PractitionerRole", ref.param == "organization")).scalars())


def _policy(ctx: AccessContext, interaction: str, res_type: str = "Encounter") -> None:
    try:
        decide(ctx, interaction, res_type, personal=True)
    except AccessDenied as exc:
        raise ConsultationError(str(exc), code="forbidden", status=403) from exc


def _reach_patient(conn: Connection, ctx: AccessContext, patient_id: str) -> None:
    """Refuse unless the policy lets a patient or caregiver reach patient_id (their own, or as proxy)."""
    try:
        store.read(conn, ctx, res_type="Patient", res_id=patient_id)
    except FhirError as exc:
        raise ConsultationError("There is no such consultation for you", code="not-found", status=404) from exc


def _side(conn: Connection, ctx: AccessContext, thread: sa.Row, interaction: str) -> str:
    """Which side of the consultation the caller is on ('patient', 'doctor', 'system'), or refused."""
    if ctx.is_system:
        return "system"
    _policy(ctx, interaction)
    if ctx.roles & PATIENT_ROLES:
        _reach_patient(conn, ctx, thread.patient_id)
        return "patient"
    me = _ref_id(ctx.fhir_user, "Practitioner")
    if "doctor" in ctx.roles and me:
        if thread.practitioner_id == me:
            return "doctor"
        if thread.practitioner_id is None and thread.department_id in _departments(conn, me):
            return "doctor"
        if thread.status == "waiting" and thread.offered_to == me:
            return "doctor"
    raise ConsultationError("There is no such consultation for you", code="not-found", status=404)


def _audit(conn: Connection, ctx: AccessContext, thread: sa.Row, action: str, *extra: str) -> None:
    subtype = {"R": "read", "C": "create", "U": "update"}[action]
    audit.record(conn, ctx=ctx, action=action, subtype=subtype,
                 entities=[f"Encounter/{thread.encounter_id}", *extra], patient=f"Patient/{thread.patient_id}")


def _members(conn: Connection) -> dict[str, str]:
    """Every member organisation of the region (departments included) mapped to its top-level institution."""
    r = tables.resource.c
    rows = conn.execute(sa.select(r.res_id, r.content).where(r.res_type == "Organization", r.deleted.is_(False)))
    parent = {}
    for res_id, content in rows:
        if (content or {}).get("active") is False:
            continue
        parent[res_id] = _ref_id(((content or {}).get("partOf") or {}).get("reference"), "Organization")
    top = {}
    for org in parent:
        seen, current = {org}, org
        while parent.get(current) and parent[current] in parent and parent[current] not in seen:
            current = parent[current]
            seen.add(current)
        top[org] = current
    return top


def _record_of(conn: Connection, ctx: AccessContext, res_type: str, patient_id: str) -> list[dict[str, Any]]:
    """The patient's resources of res_type as ctx may see them (read through the policy, audited)."""
    bundle = gateway.serve_within(conn, ctx, FhirRequest(method="GET", path=res_type, query=[
        ("patient", patient_id), ("_count", "200")])).body or {}
    return [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") != "outcome"]


def _check_target(conn: Connection, practitioner_id: str | None, department_id: str | None) -> None:
    if bool(practitioner_id) == bool(department_id):
        raise ConsultationError("Choose a doctor or a department's on-duty pool, not both", code="bad-target",
                                status=400)
    if practitioner_id and (len(practitioner_id) > 64 or _content(conn, "Practitioner", practitioner_id) is None):
        raise ConsultationError("There is no such doctor", code="bad-target", status=400)
    if department_id and (len(department_id) > 64 or _content(conn, "Organization", department_id) is None):
        raise ConsultationError("There is no such department", code="bad-target", status=400)


def _check_text(text: str, *, limit: int = MAX_TEXT, what: str = "A message") -> str:
    text = (text or "").strip()
    if not text or len(text) > limit:
        raise ConsultationError(f"{what} has 1 to {limit} characters", code="bad-text", status=400)
    return text


def open_consultation(conn: Connection, ctx: AccessContext, *, patient_id: str, kind: str, question: str,
                      practitioner_id: str | None = None, department_id: str | None = None,
                      condition_id: str | None = None, fee: float = 0.0,
                      triage_id: str | None = None) -> dict[str, Any]:
    """Open a consultation for a patient (by the patient or their proxy) with a doctor or a department's pool.

    triage_id names one of the patient's stored triage sessions, attached as the second message.
    """
    try:
        rules.check_kind(kind)
    except rules.RuleRefused as exc:
        raise ConsultationError(str(exc), code=exc.code, status=400) from exc
    question = _check_text(question, what="The question")
    if not ctx.is_system and not ctx.roles & PATIENT_ROLES:
        raise ConsultationError("A patient or their proxy opens a consultation", code="forbidden", status=403)
    if not 0 <= fee <= 100_000:
        raise ConsultationError("The fee is 0 to 100000", code="bad-fee", status=400)
    _policy(ctx, "create")
    if not ctx.is_system:
        _reach_patient(conn, ctx, patient_id)
    _check_target(conn, practitioner_id, department_id)
    encounter: dict[str, Any] = {
        "resourceType": "Encounter", "status": "planned",
        "class": {"system": ACT_CODE, "code": "VR", "display": "virtual"},
        "type": [{"coding": [{"system": KIND_SYSTEM, "code": kind}]}],
        "subject": {"reference": f"Patient/{patient_id}"}, "period": {"start": _now()},
        "extension": [{"url": EXT + "fee", "valueMoney": {"value": fee, "currency": "CNY"}}],
    }
    if kind == rules.FOLLOW_UP:
        try:
            basis = rules.follow_up_basis(conditions=_record_of(conn, ctx, "Condition", patient_id),
                                          encounters=_record_of(conn, ctx, "Encounter", patient_id),
                                          members=_members(conn), condition_id=condition_id)
        except rules.RuleRefused as exc:
            raise ConsultationError(str(exc), code=exc.code, status=422) from exc
        encounter["reasonReference"] = [{"reference": f"Condition/{basis.condition_id}"}]
    if practitioner_id:
        encounter["participant"] = [{"individual": {"reference": f"Practitioner/{practitioner_id}"}}]
    else:
        encounter["serviceProvider"] = {"reference": f"Organization/{department_id}"}
    stored = store.create(conn, ctx, encounter)
    now = _now()
    conn.execute(consultation_thread.insert().values(
        encounter_id=stored.res_id, patient_id=patient_id, kind=kind, practitioner_id=practitioner_id,
        department_id=department_id, status="waiting", opened=now, last_seq=0, doctor_replied=False, rated=False))
    thread = _thread(conn, stored.res_id)
    _audit(conn, ctx, thread, "C")
    _raise(conn, stored.res_id, "opened", status="waiting")
    post_message(conn, ctx, consultation_id=stored.res_id, client_id="opening-question", text=question)
    if triage_id:
        _attach_triage(conn, ctx, thread, triage_id)
    return consultation_view(conn, ctx, consultation_id=stored.res_id)


def triage_summary(response: dict[str, Any]) -> dict[str, Any]:
    """What a stored triage QuestionnaireResponse says: complaint, level, departments and red flags."""
    items = {item.get("linkId"): item for item in response.get("item", [])}
    result = {item.get("linkId"): item for item in items.get("result", {}).get("item", [])}

    def codes(link: str) -> list[dict[str, Any]]:
        return [c for a in result.get(link, {}).get("answer", []) for c in [a.get("valueCoding") or {}] if c]

    level = codes("level")
    return {"id": response.get("id", ""), "authored": response.get("authored"),
            "complaint": next((a.get("valueString", "") for a in items.get("complaint", {}).get("answer", [])), ""),
            "level": level[0].get("code", "") if level else "",
            "departments": [c.get("code", "") for c in codes("departments")],
            "red_flags": [c.get("display") or c.get("code", "") for c in codes("red-flags")]}


def _attach_triage(conn: Connection, ctx: AccessContext, thread: sa.Row, triage_id: str) -> None:
    """Attach the patient's stored triage session (read through the policy) as a message of the patient's side."""
    try:
        response = store.read(conn, ctx, res_type="QuestionnaireResponse", res_id=triage_id[:64]).resource
    except FhirError as exc:
        raise ConsultationError("There is no such triage session in your record", code="bad-triage",
                                status=400) from exc
    if (response.get("questionnaire") != TRIAGE_QUESTIONNAIRE
            or (response.get("subject") or {}).get("reference") != f"Patient/{thread.patient_id}"):
        raise ConsultationError("There is no such triage session in your record", code="bad-triage", status=400)
    found = triage_summary(response)
    text = found["complaint"][:300] + (f" · {found['level']}" if found["level"] else "")
    if found["red_flags"]:
        text += " · " + "; ".join(found["red_flags"])[:300]
    store_message(conn, ctx, thread=_thread(conn, thread.encounter_id), side="patient", client_id="triage-summary",
                  text=text, references=[f"QuestionnaireResponse/{response['id']}"])


def _view(conn: Connection, thread: sa.Row, now: datetime | None = None) -> dict[str, Any]:
    encounter = _content(conn, "Encounter", thread.encounter_id) or {}
    ext = {e["url"].removeprefix(EXT): e for e in encounter.get("extension", []) if e["url"].startswith(EXT)}
    now = now or clock.now()
    waited = ((clock.parse_instant(thread.picked_up) if thread.picked_up else now)
              - clock.parse_instant(thread.opened)).total_seconds() / 60
    return {
        "id": thread.encounter_id, "kind": thread.kind, "status": thread.status, "patient": thread.patient_id,
        "practitioner": thread.practitioner_id, "department": thread.department_id, "opened": thread.opened,
        "picked_up": thread.picked_up, "closed": thread.closed, "last_seq": thread.last_seq,
        "waiting_minutes": round(max(waited, 0.0), 1),
        "priority": "overdue" if thread.status == "waiting" and waited >= OVERDUE_MINUTES else "routine",
        "fee": (ext.get("fee") or {}).get("valueMoney", {}).get("value", 0),
        "refunded": bool((ext.get("refunded") or {}).get("valueBoolean")),
        "summary": (ext.get("summary") or {}).get("valueString"),
        "advice": (ext.get("advice") or {}).get("valueString"),
        "rating": (ext.get("rating") or {}).get("valueInteger"),
        "feedback": (ext.get("feedback") or {}).get("valueString"),
        "condition": _ref_id(((encounter.get("reasonReference") or [{}])[0]).get("reference"), "Condition"),
        "offered_to": thread.offered_to if thread.status == "waiting" else None, "offers": thread.offers or 0,
        "expected_wait": waits.expected_wait(conn, thread, now) if thread.status == "waiting" else None,
    }


def consultation_view(conn: Connection, ctx: AccessContext, *, consultation_id: str) -> dict[str, Any]:
    """One consultation as either side sees it (audited)."""
    thread = _thread(conn, consultation_id)
    _side(conn, ctx, thread, "read")
    _audit(conn, ctx, thread, "R")
    return _view(conn, thread)


def my_consultations(conn: Connection, ctx: AccessContext, *, patient_id: str) -> list[dict[str, Any]]:
    """A patient's consultations, newest first (the patient or their proxy)."""
    if not ctx.roles & PATIENT_ROLES and not ctx.is_system:
        raise ConsultationError("This list is the patient's own", code="forbidden", status=403)
    _policy(ctx, "search")
    if not ctx.is_system:
        _reach_patient(conn, ctx, patient_id)
    rows = conn.execute(sa.select(consultation_thread).where(consultation_thread.c.patient_id == patient_id[:64])
                        .order_by(consultation_thread.c.opened.desc()).limit(200)).all()
    audit.record(conn, ctx=ctx, action="R", subtype="search", entities=[f"Encounter?subject=Patient/{patient_id}"],
                 patient=f"Patient/{patient_id}")
    return [_view(conn, row) for row in rows]


def inbox(conn: Connection, ctx: AccessContext) -> list[dict[str, Any]]:
    """A doctor's open consultations and their departments' waiting pool: overdue first, then longest waiting."""
    _policy(ctx, "search")
    me = _ref_id(ctx.fhir_user, "Practitioner")
    if "doctor" not in ctx.roles or not me:
        raise ConsultationError("The consultation inbox is a doctor's", code="forbidden", status=403)
    t = consultation_thread.c
    departments = sorted(_departments(conn, me))
    rows = conn.execute(sa.select(consultation_thread).where(
        t.status.in_(("waiting", "in_progress")),
        sa.or_(t.practitioner_id == me, sa.and_(t.practitioner_id.is_(None), t.department_id.in_(departments)),
               sa.and_(t.status == "waiting", t.offered_to == me)),
    ).order_by(t.opened).limit(500)).all()
    now = clock.now()
    found = [_view(conn, row, now) for row in rows]
    for row in rows:
        _audit(conn, ctx, row, "R")
    return sorted(found, key=lambda c: (c["status"] != "waiting", c["priority"] != "overdue", c["opened"]))


def recently_closed(conn: Connection, ctx: AccessContext, *, limit: int = 20) -> list[dict[str, Any]]:
    """A doctor's own consultations closed or refunded most recently, with the patients' ratings and feedback."""
    _policy(ctx, "search")
    me = _ref_id(ctx.fhir_user, "Practitioner")
    if "doctor" not in ctx.roles or not me:
        raise ConsultationError("The consultation inbox is a doctor's", code="forbidden", status=403)
    t = consultation_thread.c
    rows = conn.execute(sa.select(consultation_thread).where(
        t.practitioner_id == me, t.status.in_(("closed", "refunded"))).order_by(t.closed.desc())
        .limit(max(1, min(limit, 100)))).all()
    for row in rows:
        _audit(conn, ctx, row, "R")
    return [_view(conn, row) for row in rows]


def _update_encounter(conn: Connection, writer: AccessContext, thread: sa.Row, *, status: str | None = None,
                      extensions: dict[str, dict[str, Any]] | None = None,
                      practitioner: str | None = None) -> None:
    encounter = dict(_content(conn, "Encounter", thread.encounter_id) or {})
    encounter.pop("meta", None)
    if status:
        encounter["status"] = FHIR_STATUS[status]
        if status in ("closed", "refunded"):
            encounter["period"] = {**encounter.get("period", {}), "end": _now()}
    if practitioner:
        encounter["participant"] = [{"individual": {"reference": f"Practitioner/{practitioner}"}}]
    if extensions:
        kept = [e for e in encounter.get("extension", []) if e["url"].removeprefix(EXT) not in extensions]
        encounter["extension"] = kept + [{"url": EXT + name, **value} for name, value in extensions.items()]
    store.update(conn, writer, encounter, res_type="Encounter", res_id=thread.encounter_id)


def pick_up(conn: Connection, ctx: AccessContext, *, consultation_id: str) -> dict[str, Any]:
    """A doctor takes a waiting consultation (their own or from their department's pool)."""
    thread = _thread(conn, consultation_id)
    if _side(conn, ctx, thread, "update") != "doctor":
        raise ConsultationError("A doctor picks a consultation up", code="forbidden", status=403)
    if thread.status != "waiting":
        raise ConsultationError(f"The consultation is {thread.status.replace('_', ' ')}", code="not-waiting")
    me = _ref_id(ctx.fhir_user, "Practitioner")
    changed = conn.execute(sa.update(consultation_thread).where(
        consultation_thread.c.encounter_id == thread.encounter_id, consultation_thread.c.status == "waiting")
        .values(status="in_progress", practitioner_id=me, picked_up=_now()))
    if changed.rowcount != 1:
        raise ConsultationError("Another doctor picked this consultation up", code="not-waiting")
    # Written by the platform: the pool doctor has no care relationship with the patient until this is stored.
    _update_encounter(conn, SYSTEM, thread, status="in_progress", practitioner=me)
    _audit(conn, ctx, thread, "U")
    _raise(conn, thread.encounter_id, "status", status="in_progress", practitioner=me)
    return _view(conn, _thread(conn, consultation_id))


def _sender(ctx: AccessContext, side: str, thread: sa.Row) -> str:
    if side == "system":
        return "Device/smartcare"
    return ctx.fhir_user or (f"Patient/{thread.patient_id}" if side == "patient" else ctx.author)


def _message_view(conn: Connection, row: sa.Row) -> dict[str, Any]:
    content = _content(conn, "Communication", row.communication_id) or {}
    category = next((c.get("code") for cat in content.get("category", []) for c in cat.get("coding", [])), "message")
    photo = _payload_ref(content, "Media")
    triage = _payload_ref(content, "QuestionnaireResponse") if category == "message" else None
    kind = category if category != "message" else ("photo" if photo else "triage" if triage else "message")
    return {"consultation": row.encounter_id, "seq": row.seq, "client_id": row.client_id,
            "id": row.communication_id, "sender": row.sender,
            "side": "patient" if row.from_patient_side else "doctor", "category": category,
            "kind": kind if kind in MESSAGE_KINDS else "message",
            "text": next((p["contentString"] for p in content.get("payload", []) if "contentString" in p), ""),
            "photo": photo, "triage": triage,
            "answers": _payload_ref(content, "QuestionnaireResponse") if category == "questions" else None,
            "reports": _payload_refs(content, "DiagnosticReport"), "video": _payload_ref(content, "Encounter"),
            "prescriptions": _payload_refs(content, "MedicationRequest"),
            "appointment": _payload_ref(content, "Appointment"), "orders": _payload_refs(content, "ServiceRequest"),
            "sent": row.sent, "delivered": row.delivered, "read": row.read}


def _payload_refs(content: dict[str, Any], res_type: str) -> list[str]:
    return [found for p in content.get("payload", [])
            if (found := _ref_id((p.get("contentReference") or {}).get("reference"), res_type))]


def _payload_ref(content: dict[str, Any], res_type: str) -> str | None:
    return next(iter(_payload_refs(content, res_type)), None)


def post_message(conn: Connection, ctx: AccessContext, *, consultation_id: str, client_id: str, text: str,
                 category: str = "message") -> tuple[dict[str, Any], bool]:
    """Store a message once per client id; returns it and whether it is new (False: a retry, stored before)."""
    thread = _thread(conn, consultation_id)
    side = _side(conn, ctx, thread, "create")
    client_id = check_client_id(client_id)
    existing = stored_message(conn, thread.encounter_id, client_id)
    if existing is not None:
        return existing, False
    text = _check_text(text)
    if category not in CATEGORIES or (category != "message" and side != "doctor"):
        raise ConsultationError("Only the doctor requests information or writes the summary", code="bad-category",
                                status=400)
    return store_message(conn, ctx, thread=thread, side=side, client_id=client_id, text=text,
                         category=category), True


def check_client_id(client_id: str) -> str:
    """The client's id for a message, or refused when empty or too long."""
    client_id = (client_id or "").strip()
    if not client_id or len(client_id) > MAX_CLIENT_ID:
        raise ConsultationError(f"A message needs a client id of 1 to {MAX_CLIENT_ID} characters",
                                code="bad-client-id", status=400)
    return client_id


def stored_message(conn: Connection, consultation_id: str, client_id: str) -> dict[str, Any] | None:
    """The message already stored under this client id, if any (a retried send)."""
    m = consultation_message.c
    row = conn.execute(sa.select(consultation_message).where(
        m.encounter_id == consultation_id, m.client_id == client_id)).first()
    return _message_view(conn, row) if row is not None else None


def store_message(conn: Connection, ctx: AccessContext, *, thread: sa.Row, side: str, client_id: str, text: str,
                  category: str = "message", references: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Number and store one checked message (a Communication) with its text and references, then raise it; a
    message of the doctor's side is also a notice to the patient's side (patient_notices)."""
    if thread.status in ("closed", "refunded") and category not in AFTER_CLOSING:
        raise ConsultationError("The consultation is closed", code="closed")
    seq = conn.execute(sa.update(consultation_thread).where(consultation_thread.c.encounter_id == thread.encounter_id)
                       .values(last_seq=consultation_thread.c.last_seq + 1,
                               doctor_replied=consultation_thread.c.doctor_replied | (side == "doctor"))
                       .returning(consultation_thread.c.last_seq)).scalar_one()
    now = _now()
    sender = _sender(ctx, side, thread)
    patient_ref = f"Patient/{thread.patient_id}"
    recipient = (f"Practitioner/{thread.practitioner_id}" if thread.practitioner_id else
                 f"Organization/{thread.department_id}") if side == "patient" else patient_ref
    payload: list[dict[str, Any]] = [{"contentString": text}] if text else []
    payload += [{"contentReference": {"reference": ref}} for ref in references]
    communication = {
        "resourceType": "Communication", "status": "completed",
        "identifier": [{"system": MESSAGE_ID_SYSTEM, "value": f"{thread.encounter_id}:{client_id}"}],
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": category}]}],
        "subject": {"reference": patient_ref}, "encounter": {"reference": f"Encounter/{thread.encounter_id}"},
        "sent": now, "recipient": [{"reference": recipient}], "payload": payload,
        "extension": [{"url": EXT + "seq", "valueInteger": seq}],
    }
    if not sender.startswith("Device/"):
        communication["sender"] = {"reference": sender}
    stored = store.create(conn, ctx, communication)
    conn.execute(consultation_message.insert().values(
        encounter_id=thread.encounter_id, seq=seq, client_id=client_id, communication_id=stored.res_id,
        sender=sender, from_patient_side=side == "patient", sent=now))
    _audit(conn, ctx, thread, "C", f"Communication/{stored.res_id}", *references)
    m = consultation_message.c
    row = conn.execute(sa.select(consultation_message).where(m.encounter_id == thread.encounter_id,
                                                             m.seq == seq)).one()
    message = _message_view(conn, row)
    _raise(conn, thread.encounter_id, "message", message=message)
    if side == "doctor":
        patient_notices.tell_reply(conn, ctx, patient_id=thread.patient_id, consultation_id=thread.encounter_id,
                                   kind=message["kind"], text=message["text"])
    return message


def messages_since(conn: Connection, ctx: AccessContext, *, consultation_id: str, since: int = 0,
                   limit: int = 500) -> list[dict[str, Any]]:
    """The consultation's messages numbered after since, in order (the history, or what a client missed)."""
    thread = _thread(conn, consultation_id)
    _side(conn, ctx, thread, "read")
    m = consultation_message.c
    rows = conn.execute(sa.select(consultation_message).where(m.encounter_id == thread.encounter_id, m.seq > since)
                        .order_by(m.seq).limit(max(1, min(limit, 500)))).all()
    _audit(conn, ctx, thread, "R", *(f"Communication/{r.communication_id}" for r in rows[:50]))
    return [_message_view(conn, row) for row in rows]


def mark_receipt(conn: Connection, ctx: AccessContext, *, consultation_id: str, up_to: int,
                 receipt: str = "read") -> dict[str, Any]:
    """Mark the other side's messages up to seq up_to as delivered or read (read implies delivered)."""
    if receipt not in ("delivered", "read"):
        raise ConsultationError("A receipt is delivered or read", code="bad-receipt", status=400)
    thread = _thread(conn, consultation_id)
    side = _side(conn, ctx, thread, "update")
    m = consultation_message.c
    column = m.read if receipt == "read" else m.delivered
    rows = conn.execute(sa.select(consultation_message).where(
        m.encounter_id == thread.encounter_id, m.seq <= up_to, column.is_(None),
        m.from_patient_side == (side != "patient"))).all()
    now = _now()
    for row in rows:
        values = {"read": now, "delivered": row.delivered or now} if receipt == "read" else {"delivered": now}
        conn.execute(sa.update(consultation_message).where(m.encounter_id == row.encounter_id, m.seq == row.seq)
                     .values(**values))
        communication = dict(_content(conn, "Communication", row.communication_id) or {})
        communication.pop("meta", None)
        communication["received"] = values["delivered"]
        if receipt == "read":
            communication["extension"] = [e for e in communication.get("extension", []) if e["url"] != EXT + "read"]
            communication["extension"].append({"url": EXT + "read", "valueDateTime": now})
        store.update(conn, ctx, communication, res_type="Communication", res_id=row.communication_id)
    if rows:
        _audit(conn, ctx, thread, "U", *(f"Communication/{r.communication_id}" for r in rows[:50]))
        _raise(conn, thread.encounter_id, "receipt", receipt=receipt, up_to=max(r.seq for r in rows),
               by=side, at=now)
    return {"consultation": thread.encounter_id, "receipt": receipt, "marked": [r.seq for r in rows]}


def request_information(conn: Connection, ctx: AccessContext, *, consultation_id: str, client_id: str,
                        text: str) -> dict[str, Any]:
    """The doctor asks the patient for more information (a message of category info-request)."""
    return post_message(conn, ctx, consultation_id=consultation_id, client_id=client_id, text=text,
                        category="info-request")[0]


def close(conn: Connection, ctx: AccessContext, *, consultation_id: str, summary: str = "", advice: str = "",
          diagnosis: str | None = None) -> dict[str, Any]:
    """Close a consultation: by its doctor with a summary and advice, or withdrawn by the patient while waiting.

    One the doctor never answered is refunded. A diagnosis (ICD-10) is only recorded in a follow-up.
    """
    thread = _thread(conn, consultation_id)
    side = _side(conn, ctx, thread, "update")
    if thread.status in ("closed", "refunded"):
        raise ConsultationError("The consultation is closed already", code="closed")
    if side == "patient" and thread.status != "waiting":
        raise ConsultationError("Your doctor closes a consultation under way", code="in-progress")
    extensions: dict[str, dict[str, Any]] = {}
    if side == "doctor":
        summary, advice = _check_text(summary, what="The summary"), _check_text(advice, what="The advice")
        extensions = {"summary": {"valueString": summary}, "advice": {"valueString": advice}}
        if diagnosis:
            try:
                rules.check_online_diagnosis(thread.kind)
            except rules.RuleRefused as exc:
                raise ConsultationError(str(exc), code=exc.code, status=422) from exc
            extensions["diagnosis"] = {"valueCodeableConcept": {"coding": [
                {"system": "http://hl7.org/fhir/sid/icd-10", "code": diagnosis.strip()[:16]}]}}
        post_message(conn, ctx, consultation_id=consultation_id, client_id="closing-summary",
                     text=f"{summary}\n\n{advice}", category="summary")
        thread = _thread(conn, consultation_id)
    status = "closed" if thread.doctor_replied else "refunded"
    if status == "refunded":
        extensions["refunded"] = {"valueBoolean": True}
    conn.execute(sa.update(consultation_thread).where(consultation_thread.c.encounter_id == thread.encounter_id)
                 .values(status=status, closed=_now()))
    _update_encounter(conn, ctx, thread, status=status, extensions=extensions)
    _audit(conn, ctx, thread, "U")
    _raise(conn, thread.encounter_id, "status", status=status)
    return _view(conn, _thread(conn, consultation_id))


def rate(conn: Connection, ctx: AccessContext, *, consultation_id: str, rating: int,
         feedback: str = "") -> dict[str, Any]:
    """The patient's satisfaction (1-5) and feedback after closing, once."""
    thread = _thread(conn, consultation_id)
    if _side(conn, ctx, thread, "update") != "patient":
        raise ConsultationError("Only the patient rates a consultation", code="forbidden", status=403)
    if thread.status != "closed":
        raise ConsultationError("A consultation is rated after it is closed", code="not-closed")
    if not isinstance(rating, int) or not 1 <= rating <= 5 or len(feedback) > 1000:
        raise ConsultationError("A rating is 1 to 5, feedback at most 1000 characters", code="bad-rating",
                                status=400)
    changed = conn.execute(sa.update(consultation_thread).where(
        consultation_thread.c.encounter_id == thread.encounter_id, consultation_thread.c.rated.is_(False))
        .values(rated=True))
    if changed.rowcount != 1:
        raise ConsultationError("This consultation has been rated already", code="rated")
    extensions = {"rating": {"valueInteger": rating}}
    if feedback.strip():
        extensions["feedback"] = {"valueString": feedback.strip()}
    _update_encounter(conn, ctx, thread, extensions=extensions)
    _audit(conn, ctx, thread, "U")
    _raise(conn, thread.encounter_id, "rated", rating=rating)
    return _view(conn, _thread(conn, consultation_id))


def typing_allowed(conn: Connection, ctx: AccessContext, *, consultation_id: str) -> str:
    """The caller's side if they may show typing in this consultation (typing is not stored)."""
    return _side(conn, ctx, _thread(conn, consultation_id), "read")


def participant_side(conn: Connection, ctx: AccessContext, consultation_id: str) -> str:
    """Whether the caller is the consultation's "patient" side (the patient or a proxy) or its "doctor" side, as the
    access policy decides; anyone else, the platform included, is refused as if it did not exist."""
    side = _side(conn, ctx, _thread(conn, consultation_id), "read")
    if side not in ("patient", "doctor"):
        raise ConsultationError("There is no such consultation for you", code="not-found", status=404)
    return side
