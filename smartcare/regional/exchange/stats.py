"""What the exchange console shows of each member: submissions, volumes per day, rejection rate, data quality.

Volumes and rates come from the submission rows. Quality is scored over the member's most recent records in the
store (by the fhir_resource.source column the store fills from meta.source); only the aggregate scores leave here,
never a record, so no personal data reaches the console.
"""

from datetime import date, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import tables as ft
from smartcare.platform import clock
from smartcare.regional.exchange import quality
from smartcare.regional.exchange.members import Member, get_member, list_members
from smartcare.regional.exchange.tables import exchange_submission

QUALITY_SAMPLE = 2000
RECENT = 20
S = exchange_submission.c


def _rate(accepted: int, rejected: int) -> float | None:
    total = accepted + rejected
    return rejected / total if total else None


def member_summaries(conn: Connection, *, only: str | None = None) -> list[dict[str, Any]]:
    """Each member (or only the one named) with its submission count, accepted and rejected entries, and last time."""
    totals = {row.member: row for row in conn.execute(
        sa.select(S.member, sa.func.count().label("submissions"), sa.func.sum(S.accepted).label("accepted"),
                  sa.func.sum(S.rejected).label("rejected"), sa.func.max(S.received).label("last"))
        .group_by(S.member))}
    out = []
    for member in list_members(conn):
        if only is not None and member.organization != only:
            continue
        row = totals.get(member.organization)
        accepted, rejected = (int(row.accepted or 0), int(row.rejected or 0)) if row else (0, 0)
        out.append({"member": member, "submissions": row.submissions if row else 0, "accepted": accepted,
                    "rejected": rejected, "rejection_rate": _rate(accepted, rejected),
                    "last": row.last if row else None})
    return out


def volumes(conn: Connection, *, member: Member, days: int = 30) -> list[dict[str, Any]]:
    """Accepted and rejected entries per day (UTC) over the last `days` days, every day listed."""
    today = clock.now().date()
    first = today - timedelta(days=days - 1)
    day = sa.func.substr(S.received, 1, 10)
    rows = conn.execute(sa.select(day.label("day"), sa.func.sum(S.accepted).label("accepted"),
                                  sa.func.sum(S.rejected).label("rejected"), sa.func.count().label("submissions"))
                        .where(S.member == member.organization, S.received >= first.isoformat())
                        .group_by(day)).all()
    found = {r.day: r for r in rows}
    out = []
    for n in range(days):
        key = (first + timedelta(days=n)).isoformat()
        r = found.get(key)
        out.append({"day": key, "accepted": int(r.accepted or 0) if r else 0,
                    "rejected": int(r.rejected or 0) if r else 0, "submissions": int(r.submissions) if r else 0})
    return out


def recent_submissions(conn: Connection, *, member: Member, limit: int = RECENT) -> list[dict[str, Any]]:
    """The member's latest submissions, newest first, each with its report."""
    rows = conn.execute(sa.select(S.report).where(S.member == member.organization)
                        .order_by(S.received.desc()).limit(limit)).scalars()
    return [orjson.loads(r) for r in rows]


def quality_scores(conn: Connection, *, member: Member, sample: int = QUALITY_SAMPLE) -> dict[str, Any]:
    """Completeness of key fields and code validity over the member's latest records of the scored types."""
    r = ft.resource.c
    rows = conn.execute(sa.select(r.content).where(
        r.source == member.organization, r.deleted.is_(False),
        r.res_type.in_([*quality.KEY_FIELDS, "Condition"])).order_by(r.last_updated.desc()).limit(sample)).scalars()
    return quality.scores(row if isinstance(row, dict) else orjson.loads(row) for row in rows)


def member_page(conn: Connection, *, organization: str, days: int = 30) -> dict[str, Any]:
    """Everything the member's console page shows."""
    member = get_member(conn, organization=organization)
    (summary,) = member_summaries(conn, only=member.organization)
    series = volumes(conn, member=member, days=days)
    return {"member": member, "summary": summary, "volumes": series, "recent": recent_submissions(conn, member=member),
            "quality": quality_scores(conn, member=member), "since": date.fromisoformat(series[0]["day"])}
