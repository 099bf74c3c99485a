"""The close contacts of a case: a follow-up list built from the case investigation's contacts and added to by
officers, each matched to a resident where the master patient index can, with a follow-up status and the day their
medical observation ends.

The list is one FHIR List per case report (id CONTACT_LIST_PREFIX + the report's id, identifier LIST_ID_SYSTEM =
the report's id, mode working). A List rather than a Group: its entries may name people who are not in the record
at all (a Group's members must be Patients or other resources), each entry carries a workflow flag (List.entry.flag
holds the follow-up status) and the date it was added, and every change is a new version in the List's history. The
List has no subject on purpose: it is public health's working list, so it stays out of the case's own record (the
case would otherwise see which of their contacts became cases). An entry's item is the matched Patient (with the
name as display), or the name alone; relation, phone, last contact, observation end, how it was matched and the
status note are extensions of the entry.

A contact is matched to a resident only when the master patient index is sure: the name and phone typed are scored
against every registered record (its Fellegi-Sunter model, regional/mpi), the best resident reaches the index's
automatic-link threshold with the same phone number, and no other resident reaches its review threshold. Without a
phone nobody is matched: a name alone is not enough to say who someone is.
"""

import copy
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import FhirError, PreconditionFailed
from smartcare.platform import clock
from smartcare.platform.i18n import _
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import decide_dataset
from smartcare.regional.mpi import service as mpi
from smartcare.regional.mpi.normalise import person
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import control, investigation, review

LIST_ID_SYSTEM = model.LOCAL + "sid/case-contact-list"
LIST_CODE = {"system": model.LOCAL + "CodeSystem/public-health-list", "code": "close-contacts",
             "display": "Close contacts of a case"}
CONTACT_LIST_PREFIX = "contacts-"
EXTENSION = model.LOCAL + "StructureDefinition/contact-"
CASE = EXTENSION + "case"  # on the List: the case report (valueReference Composition/id)
CONTACT_ID = EXTENSION + "id"  # a stable id of the entry, for forms
RELATION = EXTENSION + "relation"  # valueCoding of the investigation's relation answers
PHONE = EXTENSION + "phone"
LAST_CONTACT = EXTENSION + "last-contact"
OBSERVATION_END = EXTENSION + "observation-end"
MATCHED_BY = EXTENSION + "matched-by"  # valueCode MPI_MATCH
ORIGIN = EXTENSION + "origin"  # valueCode investigation | officer
STATUS_NOTE = EXTENSION + "status-note"  # note, by, at of the last status change
STATUS_SYSTEM = model.LOCAL + "CodeSystem/contact-follow-up"
STATUSES = ("to-trace", "traced", "under-observation", "became-case", "released", "lost")
MPI_MATCH = "mpi-name-phone"
MAX_NAME, MAX_PHONE, MAX_NOTE = 50, 20, 500
MAX_CONTACTS = 200
MAX_PAST = timedelta(days=120)
_PHONE = re.compile(r"\+?[0-9][0-9 ()\-]{2,19}")  # as the investigation form checks it
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")

STATUS_NAMES = {"to-trace": _("to trace"), "traced": _("traced"), "under-observation": _("under medical observation"),
                "became-case": _("became a case"), "released": _("released"), "lost": _("lost to follow-up")}
NAME_NEEDED = _("Write the contact's name.")
BAD_PHONE = _("Enter a phone number: digits, spaces, brackets, a dash or a leading +.")
BAD_DATE = _("Enter the date as YYYY-MM-DD.")
FUTURE_DATE = _("The date cannot be in the future.")
TOO_OLD = _("The last contact must be within the last %(days)s days.")
TOO_LONG = _("At most %(max)s characters.")
CHOOSE = _("Choose one of the answers.")
NO_SUCH_CONTACT = _("There is no such contact on this list.")
TOO_MANY = _("A contact list holds at most %(max)s people.")
LIST_STALE = _("Someone else changed this contact list while you had it open. Read it again, then make your change.")
ALREADY_LISTED = _("This person is already on the list.")


class ContactInvalid(review.ReviewRefused):
    """What an officer typed for a contact cannot be kept: field names the form field; nothing was written."""

    def __init__(self, field: str, message: str, **values: Any):
        super().__init__(message, **values)
        self.field = field


@dataclass(frozen=True, slots=True)
class Contact:
    """One close contact on a case's list."""

    id: str
    name: str
    relation: str
    phone: str
    last_contact: date | None
    observation_end: date | None
    status: str
    note: str
    noted_by: str
    origin: str  # investigation | officer
    resident: str | None  # Patient/id when matched
    added: str


@dataclass(frozen=True, slots=True)
class ContactList:
    """A case's contact list as stored (version 0 before the first contact)."""

    id: str
    version: int
    contacts: tuple[Contact, ...]
    resource: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Row:
    """A contact as the investigation lists it or an officer types it."""

    name: str
    relation: str
    phone: str
    last_contact: date | None


def list_id(report_id: str) -> str:
    """The id of a case report's contact list (a digest when the report's id would make it too long)."""
    made = CONTACT_LIST_PREFIX + report_id
    return made if len(made) <= 64 else CONTACT_LIST_PREFIX + hashlib.sha256(report_id.encode()).hexdigest()[:40]


def _contact(entry: dict[str, Any]) -> Contact:
    item = entry.get("item") or {}
    flag = next((c.get("code") for c in (entry.get("flag") or {}).get("coding") or []
                 if isinstance(c, dict) and c.get("system") == STATUS_SYSTEM), "to-trace")
    note = control.extension_parts(entry, STATUS_NOTE)
    reference = item.get("reference") if isinstance(item.get("reference"), str) else None
    return Contact(id=str(control.extension_value(entry, CONTACT_ID, "valueId") or ""), name=str(item.get("display") or ""),
                   relation=str((control.extension_value(entry, RELATION, "valueCoding") or {}).get("code") or ""),
                   phone=str(control.extension_value(entry, PHONE, "valueString") or ""),
                   last_contact=control.day_from(control.extension_value(entry, LAST_CONTACT, "valueDate")),
                   observation_end=control.day_from(control.extension_value(entry, OBSERVATION_END, "valueDate")),
                   status=flag if flag in STATUSES else "to-trace", note=note.get("note", ""), noted_by=note.get("by", ""),
                   origin=str(control.extension_value(entry, ORIGIN, "valueCode") or ""),
                   resident=reference if reference and reference.startswith("Patient/") else None,
                   added=str(entry.get("date") or ""))


def read_list(conn: Connection, report_id: str) -> ContactList:
    """The case report's contact list as stored (not audited); an empty one before anything was added."""
    wanted = list_id(report_id)
    try:
        stored = store.read(conn, SYSTEM, res_type="List", res_id=wanted)
    except FhirError:
        return ContactList(wanted, 0, (), None)
    entries = (stored.resource or {}).get("entry") or []
    return ContactList(wanted, stored.version, tuple(_contact(e) for e in entries if isinstance(e, dict)),
                       stored.resource)


def open_list(conn: Connection, *, ctx: AccessContext, report: review.Loaded) -> ContactList:
    """A case's contact list for an officer; audited for the case and for each resident on it."""
    decide_dataset(ctx, review.CASE_REPORTS)
    found = read_list(conn, report.facts.id)
    entity = f"List/{found.id}" if found.version else f"Composition/{report.facts.id}"
    control.audit_person(conn, ctx, report.facts.patient, [entity], "case contact list")
    for contact in found.contacts:
        if contact.resident:
            control.audit_person(conn, ctx, contact.resident, [entity], "case contact list: a contact")
    return found


def relation_options() -> list[tuple[str, str, str]]:
    """The relations a contact may have to the case (code, English, Chinese), as the investigation lists them."""
    rows = next(g.rows for g in investigation.spec().groups if g.rows and g.rows.id == "contact")
    return list(next(i for i in rows.items if i.id == "relation").options)


def _relation_codes() -> dict[str, str]:
    return {code: en for code, en, _zh in relation_options()}


def investigation_rows(conn: Connection, report: review.Loaded) -> list[Row]:
    """The contacts the case investigation names (rows with a name), in its order."""
    found = investigation.responses_of(conn, report.resource).get(model.INVESTIGATION)
    rows = []
    for group in (found.resource or {}).get("item") or [] if found else []:
        if not isinstance(group, dict) or group.get("linkId") != "contacts":
            continue
        for item in group.get("item") or []:
            if not isinstance(item, dict) or item.get("linkId") != "contact":
                continue
            parts = {str(p.get("linkId")): investigation.answer_text(p["answer"][0])
                     for p in item.get("item") or [] if isinstance(p, dict) and p.get("answer")}
            if parts.get("name", "").strip():
                rows.append(Row(parts["name"].strip()[:MAX_NAME], parts.get("relation", "")[:40],
                                parts.get("phone", "")[:MAX_PHONE], control.day_from(parts.get("last-contact"))))
    return rows


def _key(name: str, phone: str) -> tuple[str, str]:
    return ("".join(name.split()).casefold(), "".join(ch for ch in phone if ch.isdigit())[-11:])


def not_yet_listed(rows: list[Row], contacts: tuple[Contact, ...]) -> list[Row]:
    """The investigation's contacts that are not on the list yet (same name and phone, spaces and case aside)."""
    listed = {_key(c.name, c.phone) for c in contacts}
    fresh: list[Row] = []
    for row in rows:
        if _key(row.name, row.phone) not in listed:
            listed.add(_key(row.name, row.phone))
            fresh.append(row)
    return fresh


def observation_end(last_contact: date | None, facts: model.CaseFacts) -> date | None:
    """The last day of a contact's medical observation: last contact plus the disease's observation period."""
    found = control.control_of(facts)
    if last_contact is None or found is None or found.observation_days is None:
        return None
    return last_contact + timedelta(days=found.observation_days)


def match_resident(conn: Connection, name: str, phone: str) -> str | None:
    """The Patient record of the resident a contact is, when the master patient index is sure (module text)."""
    record = person("contact", full_name=name, phone_number=phone)
    if not record.phone or not (record.family or record.given):
        return None
    candidates = mpi.find_candidates(conn, record)
    if not candidates:
        return None
    best, limits = candidates[0], mpi.thresholds()
    if best.probability < limits.auto_link or best.person.phone != record.phone:
        return None
    if any(other.probability >= limits.review for other in candidates[1:]):
        return None
    return best.source if best.source.startswith("Patient/") else None


def _entry(conn: Connection, row: Row, facts: model.CaseFacts, origin: str) -> dict[str, Any]:
    resident = match_resident(conn, row.name, row.phone)
    item: dict[str, Any] = {"display": row.name}
    extensions: list[dict[str, Any]] = [{"url": CONTACT_ID, "valueId": uuid.uuid4().hex[:16]},
                                        {"url": ORIGIN, "valueCode": origin}]
    relations = _relation_codes()
    if row.relation in relations:
        extensions.append({"url": RELATION, "valueCoding": {"system": investigation.ANSWERS, "code": row.relation,
                                                            "display": relations[row.relation]}})
    if row.phone:
        extensions.append({"url": PHONE, "valueString": row.phone})
    if row.last_contact:
        extensions.append({"url": LAST_CONTACT, "valueDate": row.last_contact.isoformat()})
    if end := observation_end(row.last_contact, facts):
        extensions.append({"url": OBSERVATION_END, "valueDate": end.isoformat()})
    if resident:
        item["reference"] = resident
        extensions.append({"url": MATCHED_BY, "valueCode": MPI_MATCH})
    return {"extension": extensions, "flag": {"coding": [{"system": STATUS_SYSTEM, "code": "to-trace"}]},
            "date": clock.format_instant(clock.now()), "item": item}


def _list_resource(report: review.Loaded, current: ContactList) -> dict[str, Any]:
    if current.resource is not None:
        resource = copy.deepcopy(current.resource)
        resource.pop("meta", None)
    else:
        resource = {"resourceType": "List", "id": current.id, "status": "current", "mode": "working",
                    "title": "Close contacts", "code": {"coding": [LIST_CODE]},
                    "identifier": [{"system": LIST_ID_SYSTEM, "value": report.facts.id}],
                    "extension": [{"url": CASE, "valueReference": {"reference": f"Composition/{report.facts.id}"}}]}
    resource["date"] = clock.format_instant(clock.now())
    return resource


def _write(conn: Connection, ctx: AccessContext, report: review.Loaded, resource: dict[str, Any], seen: int,
           description: str, residents: list[str | None]) -> ContactList:
    """Save the list on the version the officer saw (0: none yet), audited for the case and the residents named."""
    current = read_list(conn, report.facts.id)
    if current.version != seen:
        raise review.VersionConflict(LIST_STALE)
    try:
        saved = store.write_batch(conn, SYSTEM, [store.Write("PUT", "List", current.id, resource, seen or None)])[0]
    except (PreconditionFailed, sa.exc.IntegrityError):  # another officer saved (or made the list) first
        raise review.VersionConflict(LIST_STALE) from None
    entity = f"List/{saved.res_id}/_history/{saved.version}"
    action, subtype = ("C", "create") if saved.version == 1 else ("U", "update")
    control.audit_person(conn, ctx, report.facts.patient, [entity, f"Composition/{report.facts.id}"], description,
                         action=action, subtype=subtype)
    for resident in dict.fromkeys(r for r in residents if r):
        control.audit_person(conn, ctx, resident, [entity], description, action=action, subtype=subtype)
    return read_list(conn, report.facts.id)


def _reported(conn: Connection, ctx: AccessContext, report_id: str) -> review.Loaded:
    decide_dataset(ctx, review.CASE_REPORTS)
    report = review.find_report(conn, report_id)
    if report.facts.state not in model.COUNTED:
        raise review.ActRefused(investigation.NOT_REPORTED, state=report.facts.state)
    return report


def bring_in(conn: Connection, *, ctx: AccessContext, report_id: str, seen_version: int) -> int:
    """Add the investigation's contacts that are not on the list yet (matched, observation end set); how many."""
    report = _reported(conn, ctx, report_id)
    current = read_list(conn, report_id)
    fresh = not_yet_listed(investigation_rows(conn, report), current.contacts)
    if not fresh:
        return 0
    if len(current.contacts) + len(fresh) > MAX_CONTACTS:
        raise review.ReviewRefused(TOO_MANY, max=MAX_CONTACTS)
    resource = _list_resource(report, current)
    entries = [_entry(conn, row, report.facts, "investigation") for row in fresh]
    resource["entry"] = [*(resource.get("entry") or []), *entries]
    _write(conn, ctx, report, resource, seen_version, f"case contact list: {len(entries)} from the investigation",
           [e["item"].get("reference") for e in entries])
    return len(entries)


def read_row(fields: dict[str, str], *, today: date) -> Row:
    """A contact typed by an officer, checked; ContactInvalid names the first wrong field."""
    name = _CONTROL_CHARS.sub("", fields.get("name") or "").strip()
    if not name:
        raise ContactInvalid("name", NAME_NEEDED)
    if len(name) > MAX_NAME:
        raise ContactInvalid("name", TOO_LONG, max=MAX_NAME)
    relation = (fields.get("relation") or "").strip()
    if relation and relation not in _relation_codes():
        raise ContactInvalid("relation", CHOOSE)
    phone = (fields.get("phone") or "").strip()
    if phone and not _PHONE.fullmatch(phone):
        raise ContactInvalid("phone", BAD_PHONE)
    text = (fields.get("last_contact") or "").strip()
    last = control.day_from(text)
    if last is None:
        raise ContactInvalid("last_contact", BAD_DATE)
    if last > today:
        raise ContactInvalid("last_contact", FUTURE_DATE)
    if last < today - MAX_PAST:
        raise ContactInvalid("last_contact", TOO_OLD, days=MAX_PAST.days)
    return Row(name, relation, phone, last)


def add(conn: Connection, *, ctx: AccessContext, report_id: str, seen_version: int, row: Row) -> Contact:
    """Add a contact an officer found (checked by read_row) to the case's list; the contact as listed."""
    report = _reported(conn, ctx, report_id)
    current = read_list(conn, report_id)
    if not not_yet_listed([row], current.contacts):
        raise ContactInvalid("name", ALREADY_LISTED)
    if len(current.contacts) >= MAX_CONTACTS:
        raise review.ReviewRefused(TOO_MANY, max=MAX_CONTACTS)
    resource = _list_resource(report, current)
    entry = _entry(conn, row, report.facts, "officer")
    resource["entry"] = [*(resource.get("entry") or []), entry]
    saved = _write(conn, ctx, report, resource, seen_version, "case contact list: a contact added",
                   [entry["item"].get("reference")])
    return saved.contacts[-1]


def set_status(conn: Connection, *, ctx: AccessContext, report_id: str, contact_id: str, seen_version: int,
               status: str, note: str) -> Contact:
    """Change a contact's follow-up status (with an optional note) on the version the officer saw; audited."""
    if status not in STATUSES:
        raise ContactInvalid("status", CHOOSE)
    note = _CONTROL_CHARS.sub(" ", note).strip()
    if len(note) > MAX_NOTE:
        raise ContactInvalid("note", TOO_LONG, max=MAX_NOTE)
    report = _reported(conn, ctx, report_id)
    current = read_list(conn, report_id)
    resource = _list_resource(report, current)
    entries = resource.get("entry") or []
    index = next((n for n, c in enumerate(current.contacts) if c.id == contact_id and contact_id), None)
    if index is None:
        raise review.CaseNotFound(NO_SUCH_CONTACT)
    was = current.contacts[index].status
    entry = entries[index]
    entry["flag"] = {"coding": [{"system": STATUS_SYSTEM, "code": status}]}
    model.set_extension(entry, STATUS_NOTE, {"extension": [
        {"url": "by", "valueString": ctx.name[:200]}, {"url": "at", "valueDateTime": resource["date"]},
        *([{"url": "note", "valueString": note}] if note else [])]})
    saved = _write(conn, ctx, report, resource, seen_version, f"case contact follow-up: {was} to {status}",
                   [current.contacts[index].resident])
    return saved.contacts[index]
