"""Golden identities and their links, changed only with an event in the append-only history: link, unlink,
merge, unmerge and review decisions, each with who, when, before, after and why.

A merge never moves links: the absorbed identity is marked merged into the kept one and its links keep
pointing at it, so an unmerge restores both with their links exactly as before. Where a link leads is
therefore found by following merged_into to an active identity (effective()).
"""

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.platform import audit, clock
from smartcare.platform.security.context import AccessContext
from smartcare.regional.mpi import person
from smartcare.regional.mpi.normalise import Person
from smartcare.regional.mpi.stored import block_keys, person_json
from smartcare.regional.mpi.tables import mpi_block, mpi_event, mpi_identity, mpi_link, mpi_review

ACTIVE, MERGED = "active", "merged"
OPEN, LINKED, REJECTED = "open", "linked", "rejected"
MAX_REASON = 500
# Merges are rare and chains short; a longer chain means a cycle, which merge() refuses to make.
MAX_CHAIN = 50
# The index's own reasons are stored as a code (with the record they name, if any) and put into words in the
# reader's language where they are shown; what people type is stored as typed.
MACHINE_REASON = "mpi-reason:"
NOTHING_TO_MATCH, SAME_ID_NUMBER, BEST_MATCH, NONE_CLOSE, REVIEWED = (
    "nothing-to-match", "same-id-number", "best-match", "none-close", "reviewed")
MACHINE_REASONS = frozenset({NOTHING_TO_MATCH, SAME_ID_NUMBER, BEST_MATCH, NONE_CLOSE, REVIEWED})
# How the index worded its reasons before they were stored as codes: such rows are read as their code.
_ENGLISH_REASONS = (("same identity number as ", SAME_ID_NUMBER), ("best match ", BEST_MATCH),
                    ("review ", REVIEWED), ("nothing to match on", NOTHING_TO_MATCH),
                    ("no identity close enough", NONE_CLOSE))
# What those older reasons named, so that a person's words such as "review later" are not read as one of them.
_LEGACY_ABOUT = {SAME_ID_NUMBER: re.compile(r"Patient/[A-Za-z0-9\-.]{1,64}"),
                 BEST_MATCH: re.compile(r"Patient/[A-Za-z0-9\-.]{1,64}"), REVIEWED: re.compile(r"[0-9a-f]{32}")}


class IdentityError(ValueError):
    """A link, merge or review request that cannot be carried out; the message is safe to show."""

    status = 400


class IdentityNotFound(IdentityError):
    """No such identity, source record or review item."""

    status = 404


@dataclass(frozen=True, slots=True)
class Link:
    """A source record's link as stored (identity_id is where it points, before following merges)."""

    source: str
    identity_id: str
    method: str
    probability: float | None


@dataclass(frozen=True, slots=True)
class MachineReason:
    """A reason the index gave for its own decision: its code and the record (or review item) it names."""

    code: str
    about: str | None = None


def machine_reason(code: str, about: str | None = None) -> str:
    """The stored form of one of the index's own reasons (a code of MACHINE_REASONS, and what it names)."""
    if code not in MACHINE_REASONS:
        raise ValueError(f"unknown MPI reason code {code!r}")
    return f"{MACHINE_REASON}{code}" + (f" {about}" if about else "")


def read_reason(stored: str | None) -> MachineReason | None:
    """The index's own reason in a stored reason (coded, or worded in English by older versions), or None for
    a reason a person typed."""
    if not stored:
        return None
    if stored.startswith(MACHINE_REASON):
        code, _, about = stored.removeprefix(MACHINE_REASON).partition(" ")
        return MachineReason(code, about or None) if code in MACHINE_REASONS else None
    for words, code in _ENGLISH_REASONS:
        about = stored[len(words):] if stored.startswith(words) else None
        if code in (NOTHING_TO_MATCH, NONE_CLOSE) and stored == words:
            return MachineReason(code)
        if about and _LEGACY_ABOUT[code].fullmatch(about):
            return MachineReason(code, about)
    return None


def _now() -> str:
    return clock.format_instant(clock.now())


def _reason(reason: str | None) -> str | None:
    if reason is not None and len(reason) > MAX_REASON:
        raise IdentityError(f"a reason is at most {MAX_REASON} characters")
    if reason is not None and reason.strip().startswith(MACHINE_REASON):
        raise IdentityError(f"a reason cannot start with {MACHINE_REASON} (the index's own reasons do)")
    return reason.strip() or None if reason is not None else None


def _event(conn: Connection, ctx: AccessContext, *, kind: str, source: str | None = None,
           identity_id: str | None = None, other: str | None = None, before: dict[str, Any],
           after: dict[str, Any], reason: str | None) -> None:
    conn.execute(mpi_event.insert().values(
        recorded=_now(), kind=kind, actor=ctx.author, source=source, identity_id=identity_id, other_identity=other,
        before=json.dumps(before, sort_keys=True), after=json.dumps(after, sort_keys=True), reason=reason))
    # Every change ends here, after the index's tables changed: the identities' FHIR Persons follow in the same
    # transaction (person.py), so the access policy and the regional record see the same links.
    person.sync(conn, {i for i in (identity_id, other) if i})


def _audit(conn: Connection, ctx: AccessContext, sources: list[str]) -> None:
    audit.record(conn, ctx=ctx, action="U", subtype="operation", entities=sources[:20],
                 patient=sources[0] if len(sources) == 1 else None)


def current_link(conn: Connection, source: str) -> Link | None:
    """The source record's link, or None if the index has not seen it."""
    row = conn.execute(sa.select(mpi_link.c.source, mpi_link.c.identity_id, mpi_link.c.method,
                                 mpi_link.c.probability).where(mpi_link.c.source == source)).first()
    return Link(row.source, row.identity_id, row.method, row.probability) if row else None


def effective(conn: Connection, identity_ids: set[str]) -> dict[str, str]:
    """Each identity mapped to the active identity it is (itself, or the one it was merged into)."""
    resolved = {i: i for i in identity_ids}
    pending = set(identity_ids)
    for _ in range(MAX_CHAIN):
        if not pending:
            break
        rows = conn.execute(sa.select(mpi_identity.c.identity_id, mpi_identity.c.merged_into).where(
            mpi_identity.c.identity_id.in_(pending), mpi_identity.c.status == MERGED)).all()
        step = {row.identity_id: row.merged_into for row in rows}
        for start, at in resolved.items():
            if at in step:
                resolved[start] = step[at]
        pending = {resolved[i] for i in resolved if resolved[i] in step}
    return resolved


def _identity(conn: Connection, identity_id: str) -> sa.Row:
    row = conn.execute(sa.select(mpi_identity).where(mpi_identity.c.identity_id == identity_id)).first()
    if row is None:
        raise IdentityNotFound(f"there is no identity {identity_id[:64]}")
    return row


def _new_identity(conn: Connection) -> str:
    identity_id = uuid.uuid4().hex
    now = _now()
    conn.execute(mpi_identity.insert().values(identity_id=identity_id, status=ACTIVE, merged_into=None,
                                              created=now, updated=now))
    return identity_id


def _store_keys(conn: Connection, source: str, record: Person) -> None:
    conn.execute(mpi_block.delete().where(mpi_block.c.source == source))
    keys = sorted(set(block_keys(record)))
    if keys:
        conn.execute(mpi_block.insert(), [{"block_key": key, "source": source} for key in keys])


def attach(conn: Connection, ctx: AccessContext, *, source: str, record: Person, version: int | None, method: str,
           probability: float | None, identity_id: str | None, reason: str) -> str:
    """Link a source record seen for the first time to an identity (a new one when identity_id is None)."""
    target = identity_id or _new_identity(conn)
    conn.execute(mpi_link.insert().values(source=source, identity_id=target, method=method, probability=probability,
                                          person=person_json(record), source_version=version, updated=_now()))
    _store_keys(conn, source, record)
    _event(conn, ctx, kind="link", source=source, identity_id=target, before={},
           after={"identity": target, "method": method, "probability": probability}, reason=reason)
    return target


def refresh(conn: Connection, *, source: str, record: Person, version: int | None) -> None:
    """Keep a linked record's demographics and blocking keys up to date with its latest version."""
    conn.execute(mpi_link.update().where(mpi_link.c.source == source).values(
        person=person_json(record), source_version=version, updated=_now()))
    _store_keys(conn, source, record)


def move(conn: Connection, ctx: AccessContext, *, source: str, identity_id: str, method: str,
         probability: float | None, reason: str | None, kind: str = "link") -> str:
    """Point a known source record at another identity, with the event; returns the identity."""
    before = current_link(conn, source)
    if before is None:
        raise IdentityNotFound(f"the MPI has no record {source[:80]}")
    conn.execute(mpi_link.update().where(mpi_link.c.source == source).values(
        identity_id=identity_id, method=method, probability=probability, updated=_now()))
    _event(conn, ctx, kind=kind, source=source, identity_id=identity_id, other=before.identity_id,
           before={"identity": before.identity_id, "method": before.method, "probability": before.probability},
           after={"identity": identity_id, "method": method, "probability": probability}, reason=reason)
    return identity_id


def link(conn: Connection, ctx: AccessContext, *, source: str, identity_id: str, reason: str | None = None) -> str:
    """Link a source record to an identity by hand (to the identity it was merged into, if it was)."""
    reason = _reason(reason)
    _identity(conn, identity_id)
    target = effective(conn, {identity_id})[identity_id]
    moved = move(conn, ctx, source=source, identity_id=target, method="manual", probability=None, reason=reason)
    _audit(conn, ctx, [source])
    return moved


def unlink(conn: Connection, ctx: AccessContext, *, source: str, reason: str | None = None) -> str:
    """Take a source record out of its identity into a new identity of its own; returns the new identity."""
    reason = _reason(reason)
    if current_link(conn, source) is None:
        raise IdentityNotFound(f"the MPI has no record {source[:80]}")
    target = _new_identity(conn)
    moved = move(conn, ctx, source=source, identity_id=target, method="manual", probability=None, reason=reason,
                 kind="unlink")
    _audit(conn, ctx, [source])
    return moved


def _state(row: sa.Row) -> dict[str, Any]:
    return {"status": row.status, "merged_into": row.merged_into}


def merge(conn: Connection, ctx: AccessContext, *, keep: str, absorb: str, reason: str | None = None) -> str:
    """Merge identity absorb into keep (both active): absorb's records then count as keep's; returns keep."""
    reason = _reason(reason)
    kept, absorbed = _identity(conn, keep), _identity(conn, absorb)
    if keep == absorb:
        raise IdentityError("an identity cannot be merged into itself")
    if kept.status != ACTIVE or absorbed.status != ACTIVE:
        raise IdentityError("only active identities can be merged (one of these was merged already)")
    conn.execute(mpi_identity.update().where(mpi_identity.c.identity_id == absorb).values(
        status=MERGED, merged_into=keep, updated=_now()))
    _event(conn, ctx, kind="merge", identity_id=absorb, other=keep, before=_state(absorbed),
           after={"status": MERGED, "merged_into": keep}, reason=reason)
    _audit(conn, ctx, sources_of(conn, keep))
    return keep


def unmerge(conn: Connection, ctx: AccessContext, *, identity_id: str, reason: str | None = None) -> str:
    """Undo the merge of identity_id: it is active again with exactly the records it had; returns it."""
    reason = _reason(reason)
    row = _identity(conn, identity_id)
    if row.status != MERGED:
        raise IdentityError("this identity is not merged into another")
    conn.execute(mpi_identity.update().where(mpi_identity.c.identity_id == identity_id).values(
        status=ACTIVE, merged_into=None, updated=_now()))
    _event(conn, ctx, kind="unmerge", identity_id=identity_id, other=row.merged_into, before=_state(row),
           after={"status": ACTIVE, "merged_into": None}, reason=reason)
    _audit(conn, ctx, sources_of(conn, identity_id) + sources_of(conn, row.merged_into))
    return identity_id


def sources_of(conn: Connection, identity_id: str) -> list[str]:
    """Every source record that belongs to the identity, through the identities merged into it too."""
    members, frontier = {identity_id}, {identity_id}
    for _ in range(MAX_CHAIN):
        found = {row.identity_id for row in conn.execute(sa.select(mpi_identity.c.identity_id).where(
            mpi_identity.c.merged_into.in_(frontier), mpi_identity.c.status == MERGED))}
        frontier = found - members
        if not frontier:
            break
        members |= frontier
    return sorted(conn.execute(sa.select(mpi_link.c.source).where(mpi_link.c.identity_id.in_(members))).scalars())


def identity_of(conn: Connection, source: str) -> str | None:
    """The active identity a source record belongs to, or None if the index has not seen it."""
    found = current_link(conn, source)
    return effective(conn, {found.identity_id})[found.identity_id] if found else None


def queue_review(conn: Connection, *, source: str, candidate: str, probability: float, match_weight: float,
                 field_weights: dict[str, float | None]) -> str:
    """Put a candidate pair in the review queue; returns its review id."""
    review_id = uuid.uuid4().hex
    conn.execute(mpi_review.insert().values(
        review_id=review_id, source=source, candidate=candidate, probability=probability, match_weight=match_weight,
        field_weights=json.dumps(field_weights, sort_keys=True), status=OPEN, created=_now()))
    return review_id


def _review(row: Any) -> dict[str, Any]:
    return {**row._asdict(), "field_weights": json.loads(row.field_weights)}


def open_reviews(conn: Connection, *, limit: int = 100, offset: int = 0,
                 newest_first: bool = False) -> list[dict[str, Any]]:
    """Pairs waiting for a person's decision, with their per-field match weights: most likely matches first, or
    newest first (the console's queue), a page of limit from offset."""
    c = mpi_review.c
    order = (c.created.desc(), c.review_id.desc()) if newest_first else (c.probability.desc(), c.review_id)
    rows = conn.execute(sa.select(mpi_review).where(c.status == OPEN).order_by(*order)
                        .limit(limit).offset(max(offset, 0))).all()
    return [_review(row) for row in rows]


def count_open_reviews(conn: Connection) -> int:
    """How many pairs wait for a decision."""
    return conn.execute(sa.select(sa.func.count()).select_from(mpi_review)
                        .where(mpi_review.c.status == OPEN)).scalar_one()


def get_review(conn: Connection, review_id: str) -> dict[str, Any] | None:
    """One queued pair, whatever its status, or None."""
    row = conn.execute(sa.select(mpi_review).where(mpi_review.c.review_id == review_id)).first()
    return _review(row) if row is not None else None


def review_decide(conn: Connection, ctx: AccessContext, *, review_id: str, decision: str,
                  reason: str | None = None) -> str:
    """Decide a queued pair: "link" joins the record to the candidate's identity, "reject" keeps them apart."""
    reason = _reason(reason)
    if decision not in ("link", "reject"):
        raise IdentityError('a review decision is "link" or "reject"')
    row = conn.execute(sa.select(mpi_review).where(mpi_review.c.review_id == review_id)).first()
    if row is None:
        raise IdentityNotFound("there is no such review item")
    if row.status != OPEN:
        raise IdentityError(f"this pair was already decided ({row.status})")
    status = LINKED if decision == "link" else REJECTED
    conn.execute(mpi_review.update().where(mpi_review.c.review_id == review_id).values(
        status=status, decided=_now(), decided_by=ctx.author, reason=reason))
    _event(conn, ctx, kind="review", source=row.source, before={"review": review_id, "status": OPEN},
           after={"review": review_id, "status": status, "candidate": row.candidate}, reason=reason)
    if decision == "link":
        target = identity_of(conn, row.candidate)
        if target is None:
            raise IdentityNotFound(f"the MPI has no record {row.candidate[:80]}")
        move(conn, ctx, source=row.source, identity_id=target, method="manual", probability=row.probability,
             reason=reason or machine_reason(REVIEWED, review_id))
    _audit(conn, ctx, [row.source, row.candidate])
    return status


def history(conn: Connection, *, source: str | None = None, identity_id: str | None = None) -> list[dict[str, Any]]:
    """The events about a source record or an identity (either side of a merge or move), oldest first."""
    e = mpi_event.c
    query = sa.select(mpi_event).order_by(e.seq)
    if source is not None:
        query = query.where(e.source == source)
    if identity_id is not None:
        query = query.where(sa.or_(e.identity_id == identity_id, e.other_identity == identity_id))
    return [{**row._asdict(), "before": json.loads(row.before), "after": json.loads(row.after)}
            for row in conn.execute(query)]
