"""Submissions from member institutions: FHIR bundles and NDJSON files, validated, written, stamped and reported.

Semantics (documented in the report's `mode`):
- a `transaction` Bundle is all-or-nothing, as FHIR says: one bad entry rejects the whole bundle, nothing is kept;
- a `batch` Bundle and an NDJSON file are taken entry by entry (each in its own savepoint): a nightly load with one
  bad Observation keeps the other 999 and reports the one with its OperationOutcome.
Every written resource carries meta.source = Organization/<member> (the store stamps the writer's organisation),
and one Provenance per submission names the member as author and the submission as source entity. The same
content sent again (same sha256 of its canonical JSON) changes nothing and is answered with the first report.
"""

import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import bundles, store
from smartcare.fhir import tables as ft
from smartcare.fhir.errors import FhirError
from smartcare.platform import clock
from smartcare.platform.db import pending_events
from smartcare.regional.exchange import quality
from smartcare.regional.exchange.members import Member, submission_context
from smartcare.regional.exchange.tables import exchange_submission

SUBMISSION_SYSTEM = "urn:smartcare:exchange:submission"
MAX_ENTRIES = bundles.MAX_ENTRIES
_TAKEN_METHODS = ("POST", "PUT")
# A reference another entry of the same bundle resolves: urn:uuid/urn:oid, or a conditional one (Type?query).
_INTER_ENTRY = re.compile(rb'"reference":"(urn:|[A-Za-z]+\?)')


class SubmissionInvalid(ValueError):
    """A submission that cannot be taken at all (not a Bundle, not NDJSON, too large); the message is safe to show."""


@dataclass(slots=True)
class Entry:
    """One resource of a submission, as a bundle entry with its index in what was sent (line number for NDJSON)."""

    index: int
    entry: dict[str, Any] | None
    problem: str | None = None


def content_sha256(value: Any) -> str:
    """The sha256 of a JSON value's canonical form (sorted keys), so whitespace and key order do not count."""
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def report_for_content(conn: Connection, member: Member, kind: str, digest: str) -> dict[str, Any] | None:
    """The report of the member's earlier submission of the same content, unless nothing of it was taken."""
    row = conn.execute(sa.select(exchange_submission.c.report, exchange_submission.c.accepted).where(
        exchange_submission.c.member == member.organization, exchange_submission.c.kind == kind,
        exchange_submission.c.content_sha256 == digest)).first()
    if row is None:
        return None
    report = orjson.loads(row.report)
    # A submission nothing was taken from is tried again (what it referred to may exist now).
    return report if row.accepted or not report["rejected"] else None


def stored_report(conn: Connection, *, member: Member, submission_id: str) -> dict[str, Any] | None:
    """The report of one of the member's submissions, or None."""
    row = conn.execute(sa.select(exchange_submission.c.report).where(
        exchange_submission.c.submission_id == submission_id[:64],
        exchange_submission.c.member == member.organization)).first()
    return orjson.loads(row.report) if row else None


def outcome_of(message: str) -> dict[str, Any]:
    """An OperationOutcome with one error issue saying message."""
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "invalid", "diagnostics": message[:500]}]}


def _owners(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
    """The source (sending organisation) of each existing resource among keys."""
    r = ft.resource.c
    out: dict[tuple[str, str], str | None] = {}
    by_type: dict[str, list[str]] = {}
    for res_type, res_id in keys:
        by_type.setdefault(res_type, []).append(res_id)
    for res_type, ids in by_type.items():
        for start in range(0, len(ids), 500):
            rows = conn.execute(sa.select(r.res_id, r.source).where(
                r.res_type == res_type, r.res_id.in_(ids[start:start + 500]), r.deleted.is_(False)))
            out.update({(res_type, row.res_id): row.source for row in rows})
    return out


def _precheck(conn: Connection, member: Member, entries: list[Entry]) -> list[dict[str, Any]]:
    """Refuse entries a member may not send (deletes, overwriting another institution's records); return warnings."""
    warnings: list[dict[str, Any]] = []
    puts: dict[tuple[str, str], Entry] = {}
    for e in entries:
        if e.problem:
            continue
        request = e.entry.get("request") if isinstance(e.entry, dict) else None
        resource = e.entry.get("resource") if isinstance(e.entry, dict) else None
        if not isinstance(request, dict) or not isinstance(resource, dict):
            e.problem = "The entry needs a resource and a request (method POST or PUT, and a url)"
            continue
        method, url = request.get("method"), str(request.get("url") or "")
        if method not in _TAKEN_METHODS:
            e.problem = f"Submissions create and update records (POST, PUT); {str(method)[:10]} is not taken"
            continue
        if method == "PUT" and "?" in url:
            e.problem = ("Conditional updates are not taken (they could overwrite another institution's record); "
                         "send PUT with your own id, or POST with ifNoneExist")
            continue
        if method == "PUT" and url.count("/") == 1:
            puts[tuple(url.split("/"))] = e  # type: ignore[index]
        source = (resource.get("meta") or {}).get("source") if isinstance(resource.get("meta"), dict) else None
        if source and source != member.organization:
            warnings.append({"entry": e.index, "message": f"meta.source '{str(source)[:80]}' was replaced by "
                                                          f"{member.organization}, the sender"})
        for name in quality.missing_fields(resource):
            warnings.append({"entry": e.index, "message": f"{resource.get('resourceType')} has no {name}"})
        for code in quality.unknown_codes(resource):
            warnings.append({"entry": e.index, "message": f"{code} is not in the platform's code lists"})
    for key, owner in _owners(conn, list(puts)).items():
        if owner and owner != member.organization:
            puts[key].problem = f"{key[0]}/{key[1]} is another institution's record; send your own id"
    return warnings


def _reference(location: str | None) -> str | None:
    if not location:
        return None
    parts = location.split("/_history/")[0].strip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else None


def _accepted(index: int, out: dict[str, Any]) -> dict[str, Any]:
    """A report's line for an entry the store took: its place in the submission, the record written, the status."""
    resource = out.get("resource") or {}
    return {"entry": index, "status": out["response"]["status"],
            "reference": _reference(out["response"].get("location"))
            or _reference(f"{resource.get('resourceType')}/{resource.get('id')}")}


def provenance_for(submission_id: str, member: Member, kind: str, targets: list[str], now: str) -> dict[str, Any]:
    """The Provenance of a submission: the member as author, the submission's id as source entity, its records."""
    return {
        "resourceType": "Provenance", "id": f"exchange-{submission_id}"[:64],
        "target": [{"reference": ref} for ref in targets], "recorded": now,
        "activity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                                 "code": "CREATE", "display": "create"}]},
        "agent": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                                        "code": "author", "display": "Author"}]},
                   "who": {"reference": member.organization, "display": member.name}}],
        "entity": [{"role": "source", "what": {"identifier": {"system": SUBMISSION_SYSTEM, "value": submission_id},
                                               "display": f"{kind} submission from {member.name}"[:200]}}],
    }


def _invalid(e: Entry) -> str | None:
    """Why the entry's resource is not valid R4 (checked without the database), or None."""
    request, resource = e.entry["request"], e.entry["resource"]
    try:
        store.validate(resource, res_type=str(request.get("url") or "").split("/")[0].split("?")[0])
    except FhirError as exc:
        return exc.message
    return None


def _in_one_write(conn: Connection, member: Member, taken: list[Entry], remote: str | None) -> list | None:
    """Write entries together, as a transaction does, when that means the same as one by one; None if it failed.

    Entries that refer to each other (urn:uuid, conditional references) are resolved only inside a transaction,
    so such a batch is never written this way: its outcome must not depend on which way it went.
    """
    if any(str(e.entry.get("fullUrl") or "").startswith("urn:") or _INTER_ENTRY.search(orjson.dumps(e.entry["resource"]))
           for e in taken):
        return None
    events = pending_events(conn)
    raised = len(events)
    try:
        with conn.begin_nested():
            answer = bundles.transaction(conn, submission_context(member, remote_addr=remote),
                                         [e.entry for e in taken], "")
    except FhirError:
        del events[raised:]
        return None
    return [_accepted(e.index, out) for e, out in zip(taken, answer["entry"], strict=True)]


def _write_batch(conn: Connection, member: Member, taken: list[Entry], remote: str | None) -> tuple[list, list]:
    """Write entries each on its own: (accepted, rejected) lists for the report.

    Invalid resources are refused first without the database; the rest are usually all good and go in one write,
    and only when that fails is each written in its own savepoint (several times slower on a nightly load).
    """
    rejected: list[dict[str, Any]] = []
    for e in taken:
        if (reason := _invalid(e)) is not None:
            e.problem = reason
            rejected.append({"entry": e.index, "reason": reason[:500], "outcome": outcome_of(reason)})
    good = [e for e in taken if not e.problem]
    if not good:
        return [], rejected
    together = _in_one_write(conn, member, good, remote)
    if together is not None:
        return together, rejected
    accepted: list[dict[str, Any]] = []
    answer = bundles.batch(conn, submission_context(member, remote_addr=remote), [e.entry for e in good], "")
    for e, out in zip(good, answer["entry"], strict=True):
        response = out["response"]
        if response["status"].startswith("2"):
            accepted.append(_accepted(e.index, out))
        else:
            outcome = response.get("outcome") or outcome_of(response["status"])
            reason = "; ".join(i.get("diagnostics", "") for i in outcome.get("issue", []))[:500]
            rejected.append({"entry": e.index, "reason": reason or response["status"], "outcome": outcome})
    return accepted, rejected


def _write_transaction(conn: Connection, member: Member, taken: list[Entry], remote: str | None) -> tuple[list, list]:
    """Write all entries atomically; on any failure nothing is kept and every entry is reported rejected."""
    events = pending_events(conn)
    raised = len(events)
    try:
        with conn.begin_nested():
            answer = bundles.transaction(conn, submission_context(member, remote_addr=remote),
                                         [e.entry for e in taken], "")
    except FhirError as exc:
        del events[raised:]  # the savepoint rolled back: its events must not be published
        outcome = exc.outcome()
        return [], [{"entry": e.index, "reason": f"The transaction was rolled back: {exc.message}"[:500],
                     "outcome": outcome} for e in taken]
    accepted = [_accepted(e.index, out) for e, out in zip(taken, answer["entry"], strict=True)]
    return accepted, []


def take(conn: Connection, *, member: Member, kind: str, digest: str, entries: list[Entry],
         remote: str | None = None) -> dict[str, Any]:
    """Validate, write and record a submission of entries; returns its report (the stored one for a resend)."""
    stored = report_for_content(conn, member, kind, digest)
    if stored is not None:
        return {**stored, "duplicate": True}
    submission_id = str(uuid.uuid4())
    now = clock.format_instant(clock.now())
    warnings = _precheck(conn, member, entries)
    refused = [{"entry": e.index, "reason": e.problem, "outcome": outcome_of(e.problem)} for e in entries if e.problem]
    taken = [e for e in entries if not e.problem]
    if kind == "transaction" and refused:
        accepted: list[dict[str, Any]] = []
        rejected = refused + [{"entry": e.index, "reason": "Not written: the transaction holds rejected entries",
                               "outcome": outcome_of("Not written: the transaction holds rejected entries")}
                              for e in taken]
    elif kind == "transaction":
        accepted, rejected = _write_transaction(conn, member, taken, remote)
    else:
        accepted, rejected = _write_batch(conn, member, taken, remote)
        rejected = refused + rejected
    rejected.sort(key=lambda r: r["entry"])
    provenance = None
    # A create whose ifNoneExist found the record already there (200, not 201) wrote nothing: no provenance claim.
    found = {e.index for e in taken if (e.entry or {}).get("request", {}).get("method") == "POST"}
    targets = [a["reference"] for a in accepted if a.get("reference")
               and not (a["entry"] in found and a["status"].startswith("200"))]
    if targets:
        resource = provenance_for(submission_id, member, kind, targets, now)
        store.write_batch(conn, submission_context(member, remote_addr=remote),
                          [store.Write("PUT", "Provenance", resource["id"], resource)])
        provenance = f"Provenance/{resource['id']}"
    report = {
        "submission": submission_id, "member": member.organization, "kind": kind,
        "mode": "all-or-nothing" if kind == "transaction" else "entry-by-entry", "received": now,
        "status": "rejected" if not accepted and rejected else ("partial" if rejected else "accepted"),
        "counts": {"entries": len(entries), "accepted": len(accepted), "rejected": len(rejected),
                   "warnings": len(warnings)},
        "accepted": accepted, "rejected": rejected, "warnings": warnings, "provenance": provenance,
    }
    record(conn, member=member, kind=kind, digest=digest, report=report)
    return {**report, "duplicate": False}


def record(conn: Connection, *, member: Member, kind: str, digest: str, report: dict[str, Any]) -> None:
    """Keep a submission's report (replacing the row of an earlier, fully rejected try of the same content)."""
    conn.execute(exchange_submission.delete().where(
        exchange_submission.c.member == member.organization, exchange_submission.c.kind == kind,
        exchange_submission.c.content_sha256 == digest, exchange_submission.c.accepted == 0))
    conn.execute(exchange_submission.insert().values(
        submission_id=report["submission"], member=member.organization, kind=kind, content_sha256=digest,
        received=report["received"], accepted=report["counts"]["accepted"], rejected=report["counts"]["rejected"],
        warnings=report["counts"]["warnings"], report=orjson.dumps(report).decode()))


def submit_bundle(conn: Connection, *, member: Member, bundle: Any, remote: str | None = None) -> dict[str, Any]:
    """Take a member's Bundle: `transaction` all-or-nothing, `batch` entry by entry."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise SubmissionInvalid("The body must be a FHIR Bundle (resourceType 'Bundle')")
    kind = bundle.get("type")
    if kind not in ("transaction", "batch"):
        raise SubmissionInvalid(f"Bundle.type must be transaction or batch, not '{str(kind)[:40]}'")
    raw = bundle.get("entry") or []
    if not isinstance(raw, list) or not raw:
        raise SubmissionInvalid("The Bundle has no entries")
    if len(raw) > MAX_ENTRIES:
        raise SubmissionInvalid(f"A submission holds at most {MAX_ENTRIES} entries")
    entries = [Entry(i, e if isinstance(e, dict) else None, None if isinstance(e, dict) else "The entry is not an object")
               for i, e in enumerate(raw)]
    return take(conn, member=member, kind=kind, digest=content_sha256(bundle), entries=entries, remote=remote)


def ndjson_entries(text: str, res_type: str) -> list[Entry]:
    """The resources of an NDJSON file of one type as batch entries (PUT with their id, else POST), line by line."""
    lines = [line for line in text.splitlines()]
    if sum(1 for line in lines if line.strip()) > MAX_ENTRIES:
        raise SubmissionInvalid(f"An NDJSON file holds at most {MAX_ENTRIES} resources")
    entries: list[Entry] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            resource = orjson.loads(line)
        except orjson.JSONDecodeError:
            entries.append(Entry(number, None, f"Line {number} is not JSON"))
            continue
        if not isinstance(resource, dict) or resource.get("resourceType") != res_type:
            got = resource.get("resourceType") if isinstance(resource, dict) else type(resource).__name__
            entries.append(Entry(number, None, f"Line {number} holds a {str(got)[:40]}, not a {res_type}: "
                                               "one resource type per file"))
            continue
        res_id = resource.get("id")
        if isinstance(res_id, str) and res_id:
            request = {"method": "PUT", "url": f"{res_type}/{res_id}"}
        else:
            request = {"method": "POST", "url": res_type}
        entries.append(Entry(number, {"resource": resource, "request": request}))
    if not entries:
        raise SubmissionInvalid("The NDJSON file holds no resources")
    return entries


def submit_ndjson(conn: Connection, *, member: Member, res_type: str, text: str,
                  remote: str | None = None) -> dict[str, Any]:
    """Take a member's Bulk Data NDJSON file of one resource type, entry by entry."""
    store.check_type(res_type)
    entries = ndjson_entries(text, res_type)
    digest = content_sha256([res_type, [e.entry for e in entries], [e.problem for e in entries]])
    return take(conn, member=member, kind="ndjson", digest=digest, entries=entries, remote=remote)


def submit_resources(conn: Connection, *, member: Member, kind: str, resources: list[dict[str, Any]],
                     remote: str | None = None) -> dict[str, Any]:
    """Take resources fetched for a member (a pull), each as a PUT with its id, entry by entry."""
    entries = [Entry(i, {"resource": r, "request": {"method": "PUT", "url": f"{r.get('resourceType')}/{r.get('id')}"}})
               for i, r in enumerate(resources)]
    digest = content_sha256([kind, resources])
    return take(conn, member=member, kind=kind, digest=digest, entries=entries, remote=remote)
