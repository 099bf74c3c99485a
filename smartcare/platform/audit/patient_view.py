"""A patient's own view of the audit trail: what other people did, apart from what the patient's own side did.

Most entries about a patient are the patient's own (every page of the app they open reads their record) and
their family's (the accounts that look after the record). The "who opened my record" page shows the others first
and folds the own side by day, so these queries split the patient's entries by agent. The own side is every
patient or caregiver account with a successful entry about the patient: the access policy lets such an account
reach a patient's record only as that patient or as a proxy the patient (or their proxy) named, so no other
person's access is ever folded away; what such an account was refused stays among the others.
"""

from collections.abc import Collection
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.platform.audit.service import AuditError, seal_all
from smartcare.platform.audit.tables import audit_log
from smartcare.platform.security.policy import PATIENT_ROLES
from smartcare.platform.security.tables import user_account

MAX_LIMIT = 1000
# The own side's entries looked at for the days they fall on, newest first (years of daily use).
MAX_OWN_SIDE = 20000
_SUCCESS = "0"


def _patient(patient_ref: str) -> str:
    if not patient_ref.startswith("Patient/") or len(patient_ref) > 255:
        raise AuditError(f"{patient_ref[:80]!r} is not a Patient reference like 'Patient/123'")
    return patient_ref


def own_side_agents(conn: Connection, patient_ref: str) -> frozenset[str]:
    """The agents ("user/<name>") of the patient's own side: patient and caregiver accounts with a successful entry
    about the patient."""
    seal_all(conn)
    agents = conn.execute(sa.select(audit_log.c.agent).distinct().where(
        audit_log.c.patient == _patient(patient_ref), audit_log.c.outcome == _SUCCESS,
        audit_log.c.agent.like("user/%"))).scalars().all()
    by_key = {agent.removeprefix("user/").lower(): agent for agent in agents}
    if not by_key:
        return frozenset()
    keys = conn.execute(sa.select(user_account.c.username_key).where(
        user_account.c.username_key.in_(sorted(by_key)), user_account.c.role.in_(sorted(PATIENT_ROLES)))).scalars()
    return frozenset(by_key[key] for key in keys)


def _own_side(own_side: Collection[str]) -> sa.ColumnElement[bool]:
    return sa.and_(audit_log.c.outcome == _SUCCESS, audit_log.c.agent.in_(sorted(own_side)))


def _entries(conn: Connection, query: sa.Select) -> list[dict[str, Any]]:
    return [{**row, "event": orjson.loads(row["event"])} for row in conn.execute(query).mappings()]


def entries_by_others(conn: Connection, patient_ref: str, *, own_side: Collection[str], limit: int,
                      offset: int = 0) -> list[dict[str, Any]]:
    """The entries about the patient other than the own side's successful ones, newest first."""
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise AuditError(f"limit must be between 1 and {MAX_LIMIT} and offset not negative")
    seal_all(conn)
    query = sa.select(audit_log).where(audit_log.c.patient == _patient(patient_ref))
    if own_side:
        query = query.where(sa.not_(_own_side(own_side)))
    return _entries(conn, query.order_by(audit_log.c.seq.desc()).limit(limit).offset(offset))


def own_side_times(conn: Connection, patient_ref: str, *, own_side: Collection[str],
                   limit: int = MAX_OWN_SIDE) -> list[tuple[int, str, str]]:
    """(entry number, recorded, agent) of the own side's successful entries about the patient, newest first."""
    if not own_side:
        return []
    seal_all(conn)
    rows = conn.execute(sa.select(audit_log.c.seq, audit_log.c.recorded, audit_log.c.agent).where(
        audit_log.c.patient == _patient(patient_ref), _own_side(own_side)).order_by(audit_log.c.seq.desc())
        .limit(limit))
    return [(row.seq, row.recorded, row.agent) for row in rows]


def entries_numbered(conn: Connection, patient_ref: str, seqs: Collection[int]) -> list[dict[str, Any]]:
    """The entries about the patient with these entry numbers, newest first."""
    if not seqs:
        return []
    if len(seqs) > MAX_LIMIT:
        raise AuditError(f"at most {MAX_LIMIT} entries at a time")
    return _entries(conn, sa.select(audit_log).where(audit_log.c.patient == _patient(patient_ref),
                                                     audit_log.c.seq.in_(sorted(seqs)))
                    .order_by(audit_log.c.seq.desc()))
