"""The master patient index at run time: match each incoming Patient to a golden identity, with review and history.

A record with a valid PRC identity number shared by a known record joins that record's identity outright;
otherwise the candidates that share a blocking key are scored with the shipped Fellegi-Sunter model, and the
best identity's match probability decides (data/thresholds.yaml): automatic link, a new identity with the
close candidates queued for review, or a new identity. Link, unlink, merge, unmerge and review decisions
are kept in an append-only history (identities.py) and written to the audit trail.
"""

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir import tables as fhir_tables
from smartcare.platform import audit
from smartcare.platform.security.context import AccessContext
from smartcare.regional.mpi import identities
from smartcare.regional.mpi.batch import score
from smartcare.regional.mpi.blocking import MAX_BLOCK
from smartcare.regional.mpi.compare import compare
from smartcare.regional.mpi.identities import (
    BEST_MATCH,
    NONE_CLOSE,
    NOTHING_TO_MATCH,
    SAME_ID_NUMBER,
    IdentityError,
    IdentityNotFound,
    count_open_reviews,
    get_review,
    history,
    identity_of,
    link,
    machine_reason,
    merge,
    open_reviews,
    review_decide,
    sources_of,
    unlink,
    unmerge,
)
from smartcare.regional.mpi.model import FellegiSunterModel
from smartcare.regional.mpi.normalise import Person
from smartcare.regional.mpi.patients import person_of, usable
from smartcare.regional.mpi.stored import block_keys, person_from_json
from smartcare.regional.mpi.tables import mpi_block, mpi_link

# The index's operations on identities live in identities.py; they are part of this service's interface.
__all__ = ["Candidate", "IdentityError", "IdentityNotFound", "MatchError", "MatchResult", "count_open_reviews",
           "find_candidates", "get_review", "history", "identity_of", "link", "match_all", "match_record", "merge", "model",
           "open_reviews", "review_decide", "search", "sources_of", "thresholds", "unlink", "unmerge"]

DATA = Path(__file__).parent / "data"


class MatchError(ValueError):
    """A record the index cannot take (no id, not a Patient); the message is safe to show."""

    status = 400


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Match probabilities from which an identity is linked automatically, or put up for review."""

    auto_link: float
    review: float
    review_candidates: int


@dataclass(frozen=True, slots=True)
class Candidate:
    """A known source record scored against an incoming one, with the identity it belongs to."""

    source: str
    identity_id: str
    probability: float
    match_weight: float
    deterministic: bool
    field_weights: dict[str, float | None]
    person: Person


@dataclass(frozen=True, slots=True)
class MatchResult:
    """What the index decided for one record: its identity, how, and the candidates it weighed."""

    source: str
    identity_id: str
    decision: str  # national-id | probabilistic | review | new | unusable | kept
    probability: float | None
    candidates: tuple[Candidate, ...]
    reviews: tuple[str, ...] = ()


@cache
def model() -> FellegiSunterModel:
    """The shipped model (data/model.json), loaded once per process."""
    return FellegiSunterModel.load(DATA / "model.json")


@cache
def thresholds() -> Thresholds:
    """The decision thresholds (data/thresholds.yaml)."""
    data = yaml.safe_load((DATA / "thresholds.yaml").read_text(encoding="utf-8"))
    found = Thresholds(float(data["auto_link"]), float(data["review"]), int(data["review_candidates"]))
    if not 0 < found.review < found.auto_link < 1:
        raise ValueError("thresholds.yaml: 0 < review < auto_link < 1 must hold")
    return found


def find_candidates(conn: Connection, record: Person, *, exclude: str | None = None) -> list[Candidate]:
    """Known records sharing a blocking key with this one, scored, the best per identity first.

    Two queries: the size of each of the record's blocks (a block larger than MAX_BLOCK is a placeholder
    value and is skipped), then the links of every source in the remaining blocks with their demographics.
    """
    keys = block_keys(record)
    if not keys:
        return []
    counts = conn.execute(
        sa.select(mpi_block.c.block_key, sa.func.count()).where(mpi_block.c.block_key.in_(keys))
        .group_by(mpi_block.c.block_key)
    ).all()
    kept = [key for key, count in counts if count <= MAX_BLOCK]
    if not kept:
        return []
    in_blocks = sa.select(mpi_block.c.source).where(mpi_block.c.block_key.in_(kept))
    rows = conn.execute(
        sa.select(mpi_link.c.source, mpi_link.c.identity_id, mpi_link.c.person).where(mpi_link.c.source.in_(in_blocks))
    ).all()
    effective = identities.effective(conn, {row.identity_id for row in rows})
    fs_model = model()
    best: dict[str, Candidate] = {}
    for row in rows:
        if row.source == exclude:
            continue
        known = person_from_json(row.person)
        verdict = score(fs_model, record, known)
        identity_id = effective[row.identity_id]
        current = best.get(identity_id)
        if current is None or (verdict.match_probability, verdict.match_weight) > (current.probability,
                                                                                    current.match_weight):
            best[identity_id] = Candidate(
                source=row.source, identity_id=identity_id, probability=verdict.match_probability,
                match_weight=verdict.match_weight, deterministic=verdict.deterministic,
                field_weights=fs_model.field_weights(compare(record, known), record), person=known)
    return sorted(best.values(), key=lambda c: (-c.probability, -c.match_weight, c.identity_id))


def conflicting_ids(a: Person, b: Person) -> bool:
    """Whether the two records carry different valid identity numbers: then they are two people."""
    return a.id_valid and b.id_valid and a.id_number != b.id_number


def _source_of(patient: Any) -> str:
    if not isinstance(patient, dict) or patient.get("resourceType") != "Patient":
        raise MatchError("the MPI matches Patient resources only")
    res_id = patient.get("id")
    if not isinstance(res_id, str) or not 0 < len(res_id) <= 64:
        raise MatchError("a Patient needs its id (1-64 characters) to be linked in the MPI")
    return f"Patient/{res_id}"


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"mpi:{key}".encode(), digest_size=8).digest(), "big", signed=True)


def _serialise(conn: Connection, source: str, record: Person) -> None:
    """Make concurrent matches of records that could be the same person wait for one another (PostgreSQL).

    Two institutions registering the same new resident at once would otherwise each find no candidate and
    each make an identity. Every match takes a transaction-scoped advisory lock per blocking key of its
    record (and one for the record itself), so a second match sharing a key waits until the first commits
    and then finds its link. Locks are taken in ascending order of their ids, so two matches never wait
    for each other in a circle. SQLite runs one writing transaction at a time and needs none of this.
    """
    if conn.dialect.name != "postgresql":
        return
    locks = sorted({_lock_id(key) for key in (f"source:{source}", *block_keys(record))})
    # One round trip: unnest yields the sorted ids in order, and each lock is taken as its row is read.
    conn.execute(sa.text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:locks AS bigint[])) AS k"),
                 {"locks": locks})


def match_record(conn: Connection, ctx: AccessContext, patient: dict[str, Any], *,
                 version: int | None = None) -> MatchResult:
    """Link a stored Patient to its golden identity (creating one when no known identity is close enough).

    A record matched before keeps its identity (no flapping as details change) unless its identity
    number now shows it belongs to another one and it was not linked by hand; its demographics and
    blocking keys are refreshed either way.
    """
    source = _source_of(patient)
    record = person_of(patient, record_id=source)
    _serialise(conn, source, record)
    existing = identities.current_link(conn, source)
    candidates = find_candidates(conn, record, exclude=source) if usable(record) else []
    deterministic = next((c for c in candidates if c.deterministic), None)
    if existing is not None:
        result = _rematch(conn, ctx, source, record, version, existing, deterministic, candidates)
    elif not usable(record):
        identity_id = identities.attach(conn, ctx, source=source, record=record, version=version, method="new",
                                        probability=None, identity_id=None, reason=machine_reason(NOTHING_TO_MATCH))
        result = MatchResult(source, identity_id, "unusable", None, ())
    elif deterministic is not None:
        identity_id = identities.attach(conn, ctx, source=source, record=record, version=version,
                                        method="national-id", probability=1.0, identity_id=deterministic.identity_id,
                                        reason=machine_reason(SAME_ID_NUMBER, deterministic.source))
        result = MatchResult(source, identity_id, "national-id", 1.0, tuple(candidates))
    else:
        result = _decide(conn, ctx, source, record, version, candidates)
    audit.record(conn, ctx=ctx, action="E", subtype="operation", entities=[source], patient=source)
    return result


def _decide(conn: Connection, ctx: AccessContext, source: str, record: Person, version: int | None,
            candidates: list[Candidate]) -> MatchResult:
    limits = thresholds()
    eligible = [c for c in candidates if not conflicting_ids(record, c.person)]
    best = eligible[0] if eligible else None
    if best is not None and best.probability >= limits.auto_link:
        identity_id = identities.attach(conn, ctx, source=source, record=record, version=version,
                                        method="probabilistic", probability=best.probability,
                                        identity_id=best.identity_id, reason=machine_reason(BEST_MATCH, best.source))
        return MatchResult(source, identity_id, "probabilistic", best.probability, tuple(candidates))
    identity_id = identities.attach(conn, ctx, source=source, record=record, version=version, method="new",
                                    probability=None, identity_id=None, reason=machine_reason(NONE_CLOSE))
    close = [c for c in candidates if c.probability >= limits.review][: limits.review_candidates]
    reviews = tuple(
        identities.queue_review(conn, source=source, candidate=c.source, probability=c.probability,
                                match_weight=c.match_weight, field_weights=c.field_weights)
        for c in close
    )
    return MatchResult(source, identity_id, "review" if reviews else "new",
                       best.probability if best else None, tuple(candidates), reviews)


def _rematch(conn: Connection, ctx: AccessContext, source: str, record: Person, version: int | None,
             existing: identities.Link, deterministic: Candidate | None, candidates: list[Candidate]) -> MatchResult:
    current = identities.effective(conn, {existing.identity_id})[existing.identity_id]
    identities.refresh(conn, source=source, record=record, version=version)
    if deterministic is not None and deterministic.identity_id != current and existing.method != "manual":
        identity_id = identities.move(conn, ctx, source=source, identity_id=deterministic.identity_id,
                                      method="national-id", probability=1.0,
                                      reason=machine_reason(SAME_ID_NUMBER, deterministic.source))
        return MatchResult(source, identity_id, "national-id", 1.0, tuple(candidates))
    return MatchResult(source, current, "kept", existing.probability, tuple(candidates))


def search(conn: Connection, ctx: AccessContext, patient: dict[str, Any]) -> tuple[Person, list[Candidate]]:
    """Candidates for a Patient that need not be stored (for $match): its normalised form and the scored identities."""
    if not isinstance(patient, dict) or patient.get("resourceType") != "Patient":
        raise MatchError("the resource to match must be a Patient")
    record = person_of(patient, record_id="Patient/?")
    if not usable(record):
        raise MatchError("the Patient holds nothing to match on: give a name with a birth date or phone, "
                         "or a resident identity number")
    candidates = find_candidates(conn, record)
    audit.record(conn, ctx=ctx, action="E", subtype="operation", entities=["Patient?_operation=match"])
    return record, candidates


def match_all(conn: Connection, ctx: AccessContext, *, limit: int = 200) -> dict[str, int]:
    """Match up to limit stored Patients the index has not seen yet, in id order (a bulk load's catch-up, the same
    decisions the per-record jobs make); returns how many records each decision took (empty when none is left).

    Call it in a fresh transaction per batch: on PostgreSQL each match holds its advisory locks until commit,
    and the server's lock table is shared by every connection.
    """
    res = fhir_tables.resource.c
    seen = sa.select(mpi_link.c.source).where(mpi_link.c.source == sa.literal("Patient/") + res.res_id)
    unseen = sa.select(res.res_id).where(res.res_type == "Patient", res.deleted.is_(False), ~sa.exists(seen))
    ids = conn.execute(unseen.order_by(res.res_id).limit(limit)).scalars()
    decisions: dict[str, int] = {}
    for res_id in list(ids):
        stored = store.read(conn, ctx, res_type="Patient", res_id=res_id)
        result = match_record(conn, ctx, stored.resource or {}, version=stored.version)
        decisions[result.decision] = decisions.get(result.decision, 0) + 1
    return decisions
