"""History of resources: every version of one resource, of a type, or of the whole system."""

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import access
from smartcare.fhir import tables as t
from smartcare.fhir.errors import BadRequest, Forbidden, NotFound
from smartcare.fhir.search.values import date_bounds
from smartcare.fhir.store import Stored, check_type
from smartcare.platform.clock import format_instant
from smartcare.platform.security.context import AccessContext

H = t.history


@dataclass(slots=True)
class HistoryPage:
    """One page of versions, newest first, and how many there are in all."""

    entries: list[Stored]
    total: int
    has_next: bool


def instant_bound(name: str, value: str | None) -> str | None:
    """A _since/_at parameter as the stored lastUpdated text it compares with; BadRequest if malformed."""
    if value is None:
        return None
    try:
        lo, _hi = date_bounds(value)
    except ValueError as exc:
        raise BadRequest(f"{name} must be a FHIR instant, not '{value[:40]}'") from exc
    return format_instant(datetime.fromtimestamp(lo, UTC))


def history(
    conn: Connection,
    ctx: AccessContext,
    *,
    res_type: str | None = None,
    res_id: str | None = None,
    since: str | None = None,
    at: str | None = None,
    count: int = 20,
    offset: int = 0,
) -> HistoryPage:
    """Versions (newest first) of one resource, one type or everything, optionally since an instant."""
    if res_type:
        check_type(res_type)
    # The whole system's history is for callers who may reach every record (the platform, backend clients).
    reach = access.decision(ctx, "history", res_type or "Patient").reach
    if res_type is None and reach is not None:
        raise Forbidden("The history of the whole server is not open to you; ask for one resource type")
    q = sa.select(H.c.res_type, H.c.res_id, H.c.version, H.c.last_updated, H.c.deleted, H.c.method, H.c.content)
    conds = []
    if res_type:
        conds.append(H.c.res_type == res_type)
        limit = access.reach_condition(res_type, reach)
        if limit is not None:
            R = t.resource
            conds.append(H.c.pk.in_(sa.select(R.c.pk).where(R.c.res_type == res_type, limit)))
    if res_id:
        conds.append(H.c.res_id == res_id)
    since_s = instant_bound("_since", since)
    if since_s:
        conds.append(H.c.last_updated >= since_s)
    at_s = instant_bound("_at", at)
    if at_s:
        conds.append(H.c.last_updated <= at_s)
    total = conn.execute(sa.select(sa.func.count()).select_from(H).where(*conds)).scalar_one()
    if res_id and total == 0 and not since_s:
        raise NotFound(f"{res_type}/{res_id[:64]} is not known")
    rows = conn.execute(
        q.where(*conds).order_by(H.c.last_updated.desc(), H.c.hid.desc()).limit(count + 1).offset(offset)
    ).all()
    entries = [
        Stored(r.res_type, r.res_id, r.version, r.last_updated, r.deleted, r.content, method=r.method)
        for r in rows[:count]
    ]
    return HistoryPage(entries=entries, total=total, has_next=len(rows) > count)
