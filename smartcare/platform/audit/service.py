"""Record FHIR R4 AuditEvents into the hash-chained audit_log, verify the chain, and look entries up.

An entry is first written to audit_journal in the caller's transaction (so it commits or rolls back
with the change it records), then numbered and chained by `seal`: the sealer thread (sealer.py) does
it soon after the commit, and every read of the trail does it first. Appending to the chain inside
each request made every audited request wait for the chain lock until the previous one committed.

Every entry's hash is sha256(prev_hash || seq || event), where prev_hash is the previous entry's
hash as 64 ASCII hex digits (64 zeros for entry 1), seq is the entry number as 8 bytes big-endian,
and event is the stored AuditEvent JSON (keys sorted) as UTF-8. Changing, removing or reordering
any entry therefore breaks the chain from that entry on, and `verify` names the first such entry.

What the chain cannot show on its own is a cut-off tail: removing the newest entries leaves a
shorter chain that is still intact. `verify` reports the head (the last entry number and its
hash); operators who record it elsewhere (a ticket, a printout, another system) can later pass it
back as the `anchor`, and any entry up to it that has gone missing or been rewritten is then found.

Event codes (FHIR R4 AuditEvent, IHE ATNA / DICOM PS3.15):
- REST interactions (read, vread, search, history, create, update, patch, delete, operation):
  type `rest` from http://terminology.hl7.org/CodeSystem/audit-event-type, subtype the
  interaction code from http://hl7.org/fhir/restful-interaction.
- export: type DICOM 110106 "Export".
- login, login-failed, logout: type DICOM 110114 "User Authentication", subtype DICOM 110122
  "Login" or 110123 "Logout" (a failed login is a Login with a failure outcome).
- break-the-glass: type DICOM 110113 "Security Alert", subtype DICOM 110127 "Emergency Override
  Started", purposeOfEvent v3 ActReason BTG (plus the purpose given, e.g. ETREAT).
- signup, password-reset: type DICOM 110113 "Security Alert", subtype DICOM 110137 "User Security
  Attributes Changed" (an account made by its owner and linked to a Patient; a password reset).
Subtypes that are not REST interactions also carry SmartCare's own subtype code, so the indexed
`subtype` column can be re-derived from the event (verify checks every column against it).
"""

import hashlib
import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcare.platform import clock
from smartcare.platform.audit.tables import audit_journal, audit_log
from smartcare.platform.db import after_commit, before_commit, run_prepared
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import PATIENT_ROLES

GENESIS_HASH = "0" * 64
# Key of the PostgreSQL advisory lock that makes appends one at a time:
# the first 8 bytes of sha256(b"smartcare.audit_log") as a signed 64-bit integer.
CHAIN_LOCK_KEY = -464195197689409185
PAGE_SIZE = 1000
MAX_LIMIT = 1000
MAX_TEXT = 1000
MAX_REF = 255
MAX_ENTITIES = 1000

AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
SMARTCARE_SUBTYPE = "https://smartcare.example/fhir/CodeSystem/audit-subtype"
# The FHIR extension on AuditEvent.agent for an agent acting on behalf of another (here a proxy for a patient).
ON_BEHALF_OF = "http://hl7.org/fhir/StructureDefinition/auditevent-OnBehalfOf"

ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"

ACTIONS = frozenset("CRUDE")
OUTCOMES = {"0": "success", "4": "minor failure", "8": "serious failure", "12": "major failure"}
_ANY_ACTION = ACTIONS
_REST_ACTIONS = {
    "read": {"R"}, "vread": {"R"}, "search": {"R"}, "history": {"R"}, "create": {"C"},
    "update": {"U"}, "patch": {"U"}, "delete": {"D"}, "operation": _ANY_ACTION,
}
_REST_TYPE = {"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "RESTful Operation"}
_USER_AUTHENTICATION = {"system": DICOM, "code": "110114", "display": "User Authentication"}
_LOGIN = {"system": DICOM, "code": "110122", "display": "Login"}
# Subtypes that are not REST interactions: (event type, standard subtype codings, allowed actions).
_OTHER = {
    "export": ({"system": DICOM, "code": "110106", "display": "Export"}, [], {"R", "E"}),
    "login": (_USER_AUTHENTICATION, [_LOGIN], {"E"}),
    "login-failed": (_USER_AUTHENTICATION, [_LOGIN], {"E"}),
    "logout": (_USER_AUTHENTICATION, [{"system": DICOM, "code": "110123", "display": "Logout"}], {"E"}),
    "break-the-glass": (
        {"system": DICOM, "code": "110113", "display": "Security Alert"},
        [{"system": DICOM, "code": "110127", "display": "Emergency Override Started"}],
        {"E"},
    ),
    # A page or app route the access policy refused (FHIR refusals keep their REST subtype).
    "access-refused": (
        {"system": DICOM, "code": "110113", "display": "Security Alert"},
        [{"system": DICOM, "code": "110132", "display": "Use of Restricted Function"}],
        {"E", "R", "C", "U", "D"},
    ),
    # Apps, devices and other security settings registered, changed or disabled by an administrator.
    "security-config": (
        {"system": DICOM, "code": "110113", "display": "Security Alert"},
        [{"system": DICOM, "code": "110129", "display": "Security Configuration"}],
        {"C", "U", "D", "E"},
    ),
    # A person made their own account (linked to a Patient) or reset their password with a code.
    "signup": (
        {"system": DICOM, "code": "110113", "display": "Security Alert"},
        [{"system": DICOM, "code": "110137", "display": "User Security Attributes Changed"}],
        {"C"},
    ),
    "password-reset": (
        {"system": DICOM, "code": "110113", "display": "Security Alert"},
        [{"system": DICOM, "code": "110137", "display": "User Security Attributes Changed"}],
        {"U"},
    ),
}
SUBTYPES = frozenset(_REST_ACTIONS) | frozenset(_OTHER)
PURPOSES = {
    "TREAT": "treatment",
    "ETREAT": "Emergency Treatment",
    "BTG": "break the glass",
    "HPAYMT": "healthcare payment",
    "HOPERAT": "healthcare operations",
    "HRESCH": "healthcare research",
    "PUBHLTH": "public health",
    "PATRQT": "patient requested",
}
_PATIENT_REF = re.compile(r"Patient/[A-Za-z0-9\-.]{1,64}")
_RESOURCE_REF = re.compile(r"[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]{1,64})?")
_COLUMNS = ("seq", "recorded", "patient", "agent", "action", "subtype", "outcome")


class AuditError(ValueError):
    """An audit record or query that makes no sense (unknown code, bad reference, text too long)."""

    status = 400


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What verify found: whether the chain is intact, how far it got, and the first bad entry.

    head_seq and head_hash name the last entry found intact; recorded outside the database they
    are the anchor that later shows a cut-off tail.
    """

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    head_seq: int = 0
    head_hash: str = GENESIS_HASH


def chain_hash(prev_hash: str, seq: int, event: bytes) -> str:
    """The hash of entry seq: sha256 over the previous hash, the entry number and the event bytes."""
    return hashlib.sha256(prev_hash.encode("ascii") + seq.to_bytes(8, "big") + event).hexdigest()


def record(
    conn: Connection,
    *,
    ctx: AccessContext,
    action: str,
    subtype: str,
    outcome: str = "0",
    entities: Iterable[str] = (),
    patient: str | None = None,
    purpose: str | None = None,
    description: str | None = None,
    remote_addr: str | None = None,
) -> dict[str, Any]:
    """Write one AuditEvent to the journal inside the caller's transaction; return it (without its entry number).

    It commits or rolls back with the caller's change, and the sealer then numbers and chains it into
    audit_log (see seal); every read of the trail seals what is waiting first, so none is missed.
    entities are references ("Observation/7") or, for searches, the query ("Observation?code=x").
    description goes to outcomeDesc for failures, else to the purposeOfEvent text (the reason
    given for breaking the glass, which that subtype requires).
    """
    _check_record(ctx, action, subtype, outcome, patient, purpose, description, remote_addr)
    recorded = clock.format_instant(clock.now())
    event = build_event(
        seq=0, recorded=recorded, ctx=ctx, action=action, subtype=subtype, outcome=outcome,
        entities=entities, patient=patient, purpose=purpose, description=description,
        remote_addr=remote_addr or ctx.remote_addr,
    )
    del event["id"]
    text = orjson.dumps(event).decode()
    journal = before_commit(conn, JOURNAL_KEY, _Journal)
    if journal is None:
        run_prepared(conn, "INSERT INTO audit_journal (event) VALUES (?)", (text,))
    else:
        journal.events.append(text)
    after_commit(conn, "audit.seal", _wake_sealer)
    return {"event": event, **columns_of({**event, "id": "0"}), "seq": None}


JOURNAL_KEY = "audit.journal"
_JOURNAL_BATCH = 100


class _Journal:
    """The entries a unit of work recorded, written to the journal in one statement just before it commits.

    Still inside the caller's transaction, so they commit or roll back with its change; one round trip for a
    request that served several resources instead of one each.
    """

    def __init__(self) -> None:
        self.events: list[str] = []

    def __call__(self, conn: Connection) -> None:
        for start in range(0, len(self.events), _JOURNAL_BATCH):
            batch = self.events[start:start + _JOURNAL_BATCH]
            placeholders = ", ".join(["(?)"] * len(batch))  # only placeholders: the events are parameters
            run_prepared(conn, f"INSERT INTO audit_journal (event) VALUES {placeholders}", tuple(batch))  # noqa: S608
        self.events = []


def _flush_journal(conn: Connection) -> None:
    """Write what this transaction recorded so far, before reading the journal in the same transaction."""
    journal = (conn.info.get("smartcare_before_commit") or {}).get(JOURNAL_KEY)
    if journal is not None:
        journal(conn)


def _wake_sealer(engine: Engine) -> None:
    from smartcare.platform.audit.sealer import wake

    wake(engine)


def seal(conn: Connection, *, limit: int = PAGE_SIZE) -> int:
    """Number and chain up to limit journalled entries into audit_log, oldest first; return how many.

    The chain lock makes sealers take turns (across processes on PostgreSQL); entries of
    transactions not yet committed are not visible, and are sealed by a later call.
    """
    _flush_journal(conn)
    waiting_now = sa.select(audit_journal).order_by(audit_journal.c.id).limit(limit)
    if conn.execute(waiting_now.with_only_columns(audit_journal.c.id).limit(1)).first() is None:
        return 0  # nothing waits: no need to take the lock (a read of the trail would hold it to its end)
    _lock_chain(conn)
    waiting = conn.execute(waiting_now).all()  # again under the lock: another sealer may have taken them
    if not waiting:
        return 0
    last = conn.execute(
        sa.select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (last.seq, last.hash) if last else (0, GENESIS_HASH)
    rows = []
    for entry in waiting:
        seq += 1
        event = {**orjson.loads(entry.event), "id": str(seq)}
        event_bytes = orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
        entry_hash = chain_hash(prev_hash, seq, event_bytes)
        rows.append({**columns_of(event), "prev_hash": prev_hash, "hash": entry_hash, "event": event_bytes.decode()})
        prev_hash = entry_hash
    conn.execute(audit_log.insert(), rows)
    conn.execute(audit_journal.delete().where(audit_journal.c.id.in_([entry.id for entry in waiting])))
    return len(rows)


def seal_all(conn: Connection) -> int:
    """Seal every entry waiting in the journal (what the reads of the trail do first); return how many."""
    total = 0
    while (sealed := seal(conn)) == PAGE_SIZE:
        total += sealed
    return total + sealed


def _lock_chain(conn: Connection) -> None:
    # Held until the caller's transaction ends, so the next writer reads this entry as the last one.
    # SQLite needs nothing: unit_of_work begins IMMEDIATE, so writers already take turns.
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})


def _check_record(
    ctx: AccessContext,
    action: str,
    subtype: str,
    outcome: str,
    patient: str | None,
    purpose: str | None,
    description: str | None,
    remote_addr: str | None,
) -> None:
    if subtype not in SUBTYPES:
        raise AuditError(f"unknown audit subtype {subtype[:40]!r}; expected one of {', '.join(sorted(SUBTYPES))}")
    allowed = _REST_ACTIONS[subtype] if subtype in _REST_ACTIONS else _OTHER[subtype][2]
    if action not in allowed:
        raise AuditError(f"action {action[:10]!r} does not fit a {subtype} (expected {'/'.join(sorted(allowed))})")
    if outcome not in OUTCOMES:
        raise AuditError(f"unknown audit outcome {outcome[:10]!r}; expected 0, 4, 8 or 12")
    if subtype == "login-failed" and outcome == "0":
        raise AuditError("a failed login needs a failure outcome (4, 8 or 12)")
    if patient is not None and not _PATIENT_REF.fullmatch(patient):
        raise AuditError(f"{patient[:80]!r} is not a Patient reference like 'Patient/123'")
    if purpose is not None and purpose not in PURPOSES:
        raise AuditError(f"unknown purpose of use {purpose[:20]!r}; expected one of {', '.join(PURPOSES)}")
    if subtype == "break-the-glass" and not (description and description.strip()):
        raise AuditError("breaking the glass needs a reason")
    if description is not None and len(description) > MAX_TEXT:
        raise AuditError(f"the description is longer than {MAX_TEXT} characters")
    if len(ctx.author) > MAX_REF:
        raise AuditError(f"the agent name is longer than {MAX_REF} characters")
    address = remote_addr or ctx.remote_addr
    if address is not None and len(address) > MAX_REF:
        raise AuditError(f"the network address is longer than {MAX_REF} characters")


def build_event(
    *,
    seq: int,
    recorded: str,
    ctx: AccessContext,
    action: str,
    subtype: str,
    outcome: str,
    entities: Iterable[str],
    patient: str | None,
    purpose: str | None,
    description: str | None,
    remote_addr: str | None,
) -> dict[str, Any]:
    """The FHIR R4 AuditEvent resource for one entry (checked input; no database)."""
    if subtype in _REST_ACTIONS:
        event_type = _REST_TYPE
        subtypes = [{"system": RESTFUL_INTERACTION, "code": subtype, "display": subtype}]
    else:
        event_type, standard, _ = _OTHER[subtype]
        subtypes = [*standard, {"system": SMARTCARE_SUBTYPE, "code": subtype, "display": subtype}]
    agent: dict[str, Any] = {"who": {"display": ctx.author}, "requestor": True}
    # The record the person is (their Practitioner, Patient or RelatedPerson), and the account behind it.
    if ctx.fhir_user and _RESOURCE_REF.fullmatch(ctx.fhir_user):
        agent["who"]["reference"] = ctx.fhir_user
    if ctx.subject:
        agent["altId"] = ctx.subject[:64]
    if ctx.roles:
        agent["role"] = [{"text": role} for role in sorted(ctx.roles)]
    if remote_addr:
        agent["network"] = {"address": remote_addr, "type": _network_type(remote_addr)}
    if on_behalf_of(ctx, patient):
        # A patient's proxy (a parent, an adult child) acting on someone else's record: whose, on the agent itself.
        agent["extension"] = [{"url": ON_BEHALF_OF, "valueReference": {"reference": patient}}]
    agents = [agent]
    # The organisation the person acts for, as a second, non-requesting agent.
    if ctx.organization and _RESOURCE_REF.fullmatch(ctx.organization):
        agents.append({"who": {"reference": ctx.organization}, "requestor": False,
                       "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleClass",
                                            "code": "PROV", "display": "healthcare provider"}]}})
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(seq),
        "type": event_type,
        "subtype": subtypes,
        "action": action,
        "recorded": recorded,
        "outcome": outcome,
        "agent": agents,
        "source": {
            "site": "SmartCare",
            "observer": {"display": "SmartCare"},
            "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
    }
    purposes = (["BTG"] if subtype == "break-the-glass" else []) + ([purpose] if purpose else [])
    purposes = list(dict.fromkeys(purposes))
    if purposes:
        event["purposeOfEvent"] = [
            {"coding": [{"system": ACT_REASON, "code": code, "display": PURPOSES[code]}]} for code in purposes
        ]
    if description:
        if outcome == "0" and purposes:
            event["purposeOfEvent"][0]["text"] = description
        else:
            event["outcomeDesc"] = description
    entity = _entities(entities, patient)
    if entity:
        event["entity"] = entity
    return event


def on_behalf_of(ctx: AccessContext, patient: str | None) -> bool:
    """Whether a patient-side user (a patient or caregiver account) acts on another person's record: a proxy.

    The caller's own record is ctx.patient (their Patient); a caregiver's account has none, so every patient they
    touch is someone else's. (A resident registered at two institutions reading their own second registration
    counts too: the audit entry then names it, which over-tells and never hides.)
    """
    if not patient or not ctx.roles & PATIENT_ROLES or ctx.kind != "user":
        return False
    return patient != (ctx.patient or ctx.fhir_user)


def on_behalf_of_patient(event: dict[str, Any]) -> str | None:
    """The patient an entry's requesting agent acted for as their proxy (the OnBehalfOf extension), if any."""
    for extension in (event.get("agent") or [{}])[0].get("extension") or []:
        if extension.get("url") == ON_BEHALF_OF:
            return (extension.get("valueReference") or {}).get("reference")
    return None


def _network_type(address: str) -> str:
    # AuditEvent.agent.network.type: 2 is an IP address, 1 a machine name.
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return "1"
    return "2"


def _entities(entities: Iterable[str], patient: str | None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if patient:
        found.append({
            "what": {"reference": patient},
            "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
            "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
        })
    seen = {patient}
    for item in entities:
        if item in seen:
            continue
        seen.add(item)
        if len(seen) > MAX_ENTITIES + 1:
            raise AuditError(f"more than {MAX_ENTITIES} entities in one audit event")
        found.append(_entity(item))
    return found


def _entity(item: object) -> dict[str, Any]:
    if not isinstance(item, str) or not item or len(item) > MAX_TEXT:
        raise AuditError(f"an audit entity must be a reference or query of 1 to {MAX_TEXT} characters")
    system_object = {"system": ENTITY_TYPE, "code": "2", "display": "System Object"}
    if "?" in item:
        return {
            "type": system_object,
            "role": {"system": OBJECT_ROLE, "code": "24", "display": "Query"},
            "description": item,
        }
    if not _RESOURCE_REF.fullmatch(item):
        raise AuditError(f"{item[:80]!r} is not a resource reference like 'Observation/7'")
    return {
        "what": {"reference": item},
        "type": system_object,
        "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
    }


def columns_of(event: dict[str, Any]) -> dict[str, Any]:
    """The indexed columns of an entry, derived from its AuditEvent (so verify can check them)."""
    subtypes = event.get("subtype", [])
    subtype = next((c["code"] for c in subtypes if c.get("system") == SMARTCARE_SUBTYPE), None)
    if subtype is None:
        subtype = next((c["code"] for c in subtypes if c.get("system") == RESTFUL_INTERACTION), None)
    patient = next(
        (e["what"]["reference"] for e in event.get("entity", []) if e.get("role", {}).get("code") == "1"), None
    )
    return {
        "seq": int(event["id"]),
        "recorded": event["recorded"],
        "patient": patient,
        "agent": event["agent"][0]["who"]["display"],
        "action": event["action"],
        "subtype": subtype,
        "outcome": event["outcome"],
    }


def verify(
    conn: Connection,
    *,
    anchor: tuple[int, str] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ChainReport:
    """Walk the whole trail in order and report whether every entry is present, unaltered and linked.

    anchor is a (seq, hash) pair from an earlier report kept outside the database; with it a
    trail cut off or rewritten up to that entry is caught too. on_progress gets the entries checked.
    """
    seal_all(conn)
    checked, prev_hash = 0, GENESIS_HASH
    while True:
        rows = conn.execute(
            sa.select(audit_log).where(audit_log.c.seq > checked).order_by(audit_log.c.seq).limit(PAGE_SIZE)
        ).all()
        for row in rows:
            problem = _entry_problem(row, checked + 1, prev_hash)
            if problem is None and anchor and row.seq == anchor[0] and row.hash != anchor[1]:
                problem = f"entry {row.seq} does not match its anchor: the trail was rewritten up to there"
            if problem:
                return ChainReport(False, checked, checked + 1, problem, checked, prev_hash)
            checked, prev_hash = row.seq, row.hash
        if on_progress:
            on_progress(checked)
        if len(rows) < PAGE_SIZE:
            break
    if anchor and anchor[0] > checked:
        reason = (
            f"entry {checked + 1} is missing: the trail ends at entry {checked} "
            f"but entry {anchor[0]} was anchored"
        )
        return ChainReport(False, checked, checked + 1, reason, checked, prev_hash)
    return ChainReport(True, checked, None, None, checked, prev_hash)


def _entry_problem(row: sa.Row, expected: int, prev_hash: str) -> str | None:
    if row.seq != expected:
        return f"entry {expected} is missing"
    event_bytes = row.event.encode()
    if chain_hash(row.prev_hash, row.seq, event_bytes) != row.hash:
        return f"entry {row.seq} was altered: its hash does not match its content"
    if row.prev_hash != prev_hash:
        if row.seq == 1:
            return "entry 1 does not start the chain"
        return f"entry {row.seq} does not follow entry {row.seq - 1}"
    try:
        derived = columns_of(orjson.loads(event_bytes))
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, ValueError, AttributeError):
        return f"entry {row.seq} was altered: its content is not an AuditEvent"
    for name in _COLUMNS:
        if getattr(row, name) != derived[name]:
            return f"entry {row.seq} was altered: its {name} column does not match its content"
    return None


def events_for_patient(
    conn: Connection, patient_ref: str, *, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """The entries about one patient, newest first: who opened their record, when and why.

    Each entry's "purpose" is its first purpose of use (e.g. "BTG" for break-the-glass access), or None.
    """
    if not _PATIENT_REF.fullmatch(patient_ref):
        raise AuditError(f"{patient_ref[:80]!r} is not a Patient reference like 'Patient/123'")
    seal_all(conn)
    query = sa.select(audit_log).where(audit_log.c.patient == patient_ref)
    return [{**entry, "purpose": _purpose_of(entry["event"])} for entry in _page(conn, query, limit, offset)]


def _purpose_of(event: dict[str, Any]) -> str | None:
    for purpose in event.get("purposeOfEvent", []):
        for coding in purpose.get("coding", []):
            if coding.get("system") == ACT_REASON:
                return coding.get("code")
    return None


def search(
    conn: Connection,
    *,
    agent: str | None = None,
    patient: str | None = None,
    subtype: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    outcome: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Entries matching every filter given, newest first; since is inclusive, until exclusive."""
    seal_all(conn)
    query = sa.select(audit_log)
    for column, value in ((audit_log.c.agent, agent), (audit_log.c.patient, patient)):
        if value is not None:
            if len(value) > MAX_REF:
                raise AuditError(f"a {column.name} filter is at most {MAX_REF} characters")
            query = query.where(column == value)
    if subtype is not None:
        if subtype not in SUBTYPES:
            raise AuditError(f"unknown audit subtype {subtype[:40]!r}")
        query = query.where(audit_log.c.subtype == subtype)
    if outcome is not None:
        if outcome not in OUTCOMES:
            raise AuditError(f"unknown audit outcome {outcome[:10]!r}; expected 0, 4, 8 or 12")
        query = query.where(audit_log.c.outcome == outcome)
    if since is not None:
        query = query.where(audit_log.c.recorded >= clock.format_instant(_parse_time(since, "since")))
    if until is not None:
        query = query.where(audit_log.c.recorded < clock.format_instant(_parse_time(until, "until")))
    return _page(conn, query, limit, offset)


def _page(conn: Connection, query: sa.Select, limit: int, offset: int) -> list[dict[str, Any]]:
    if not 1 <= limit <= MAX_LIMIT:
        raise AuditError(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise AuditError("offset must not be negative")
    rows = conn.execute(query.order_by(audit_log.c.seq.desc()).limit(limit).offset(offset)).mappings()
    return [{**row, "event": orjson.loads(row["event"])} for row in rows]


def _parse_time(value: datetime | str, name: str) -> datetime:
    if isinstance(value, str):
        try:
            if len(value) > 40:
                raise ValueError(value)
            value = datetime.fromisoformat(value)
        except ValueError:
            raise AuditError(f"{name} must be a date or an ISO-8601 instant, not {value[:40]!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)



