"""Every SQL statement of health supervision: facilities, licences, plans and their items, inspections, answers and
findings. Rows come back as plain dicts; the callers (registry.py, inspections.py, dashboard.py, jobs.py) decide."""

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.regional.supervision.tables import (
    facility_licence,
    finding,
    inspection,
    inspection_answer,
    inspection_plan,
    inspection_plan_item,
    supervised_facility,
)

MAX_LISTED = 2000  # no page lists more rows than this (the region has hundreds of facilities, not millions)


def _rows(result: Iterable[Any]) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in result]


def _one(conn: Connection, query: sa.Select) -> dict[str, Any] | None:
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def insert_facility(conn: Connection, row: dict[str, Any]) -> None:
    """Add a supervised facility."""
    conn.execute(supervised_facility.insert().values(**row))


def facility(conn: Connection, facility_id: str) -> dict[str, Any] | None:
    """One facility by id."""
    return _one(conn, sa.select(supervised_facility).where(supervised_facility.c.id == facility_id))


def facility_of_organization(conn: Connection, organization_ref: str) -> dict[str, Any] | None:
    """The facility registered for a FHIR Organization, if any."""
    f = supervised_facility.c
    return _one(conn, sa.select(supervised_facility).where(f.organization_ref == organization_ref))


def facilities(conn: Connection, *, kind: str | None = None, district: str | None = None,
               name_contains: str | None = None) -> list[dict[str, Any]]:
    """Facilities by name, narrowed by kind, district and a piece of the name (case-insensitive)."""
    f = supervised_facility.c
    query = sa.select(supervised_facility).order_by(f.name, f.id).limit(MAX_LISTED)
    if kind:
        query = query.where(f.kind == kind)
    if district:
        query = query.where(f.district == district)
    if name_contains:
        escaped = name_contains.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(sa.func.lower(f.name).like(f"%{escaped}%", escape="\\"))
    return _rows(conn.execute(query))


def insert_licence(conn: Connection, row: dict[str, Any]) -> None:
    """Add a licence to a facility."""
    conn.execute(facility_licence.insert().values(**row))


def licence(conn: Connection, licence_id: str) -> dict[str, Any] | None:
    """One licence by id."""
    return _one(conn, sa.select(facility_licence).where(facility_licence.c.id == licence_id))


def licences(conn: Connection, facility_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Licences, newest issue first: of the facilities given, or all."""
    c = facility_licence.c
    query = sa.select(facility_licence).order_by(c.facility_id, c.issued.desc(), c.created.desc())
    if facility_ids is not None:
        query = query.where(c.facility_id.in_(list(facility_ids)))
    return _rows(conn.execute(query))


def revoke_licence(conn: Connection, licence_id: str, *, on: str, reason: str) -> None:
    """Record a licence's revocation."""
    conn.execute(facility_licence.update().where(facility_licence.c.id == licence_id)
                 .values(revoked_on=on, revoked_reason=reason))


def insert_plan(conn: Connection, row: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """Add a plan and its items."""
    conn.execute(inspection_plan.insert().values(**row))
    if items:
        conn.execute(inspection_plan_item.insert(), items)


def plan(conn: Connection, plan_id: str) -> dict[str, Any] | None:
    """One plan by id."""
    return _one(conn, sa.select(inspection_plan).where(inspection_plan.c.id == plan_id))


def plans(conn: Connection) -> list[dict[str, Any]]:
    """Every plan, the latest first."""
    p = inspection_plan.c
    return _rows(conn.execute(sa.select(inspection_plan).order_by(p.starts.desc(), p.created.desc())
                              .limit(MAX_LISTED)))


def plan_items(conn: Connection, *, plan_id: str | None = None, open_due_by: str | None = None,
               facility_id: str | None = None) -> list[dict[str, Any]]:
    """Plan items with their facility's name, kind and district and their plan's name and inspectors, by due date:
    of one plan, or the open ones due by a day, or the open ones of a facility."""
    i, f, p = inspection_plan_item.c, supervised_facility.c, inspection_plan.c
    query = (sa.select(inspection_plan_item, f.name.label("facility_name"), f.kind.label("facility_kind"),
                       f.district.label("facility_district"), p.name.label("plan_name"),
                       p.inspectors.label("plan_inspectors"), p.starts.label("plan_starts"),
                       p.ends.label("plan_ends"))
             .join(supervised_facility, f.id == i.facility_id).join(inspection_plan, p.id == i.plan_id)
             .order_by(i.due, f.name, i.id))
    if plan_id is not None:
        query = query.where(i.plan_id == plan_id)
    if open_due_by is not None:
        query = query.where(i.inspection_id.is_(None), i.due <= open_due_by)
    if facility_id is not None:
        query = query.where(i.inspection_id.is_(None), i.facility_id == facility_id)
    return _rows(conn.execute(query))


def all_plan_items(conn: Connection) -> list[dict[str, Any]]:
    """Every plan item's plan, due date and whether it is done (for progress counts)."""
    i = inspection_plan_item.c
    return _rows(conn.execute(sa.select(i.plan_id, i.due, i.inspection_id)))


def mark_plan_item_done(conn: Connection, item_id: str, inspection_id: str) -> None:
    """Record the inspection that did a plan item."""
    conn.execute(inspection_plan_item.update().where(inspection_plan_item.c.id == item_id)
                 .values(inspection_id=inspection_id))


def insert_inspection(conn: Connection, row: dict[str, Any], answers: list[dict[str, Any]],
                      findings: list[dict[str, Any]]) -> None:
    """Add an inspection with its checklist answers and the findings it raised."""
    conn.execute(inspection.insert().values(**row))
    if answers:
        conn.execute(inspection_answer.insert(), answers)
    if findings:
        conn.execute(finding.insert(), findings)


def get_inspection(conn: Connection, inspection_id: str) -> dict[str, Any] | None:
    """One inspection by id."""
    return _one(conn, sa.select(inspection).where(inspection.c.id == inspection_id))


def answers(conn: Connection, inspection_id: str) -> list[dict[str, Any]]:
    """An inspection's checklist answers."""
    a = inspection_answer.c
    return _rows(conn.execute(sa.select(inspection_answer).where(a.inspection_id == inspection_id)))


def inspections(conn: Connection, *, facility_id: str | None = None, since: str | None = None,
                limit: int = MAX_LISTED) -> list[dict[str, Any]]:
    """Inspections with their facility's name, the latest first."""
    s = inspection.c
    query = (sa.select(inspection, supervised_facility.c.name.label("facility_name"))
             .join(supervised_facility, supervised_facility.c.id == s.facility_id)
             .order_by(s.inspected_on.desc(), s.created.desc()).limit(limit))
    if facility_id is not None:
        query = query.where(s.facility_id == facility_id)
    if since is not None:
        query = query.where(s.inspected_on >= since)
    return _rows(conn.execute(query))


def raised_severities(conn: Connection, inspection_ids: list[str]) -> dict[str, list[str]]:
    """The severity of every checklist finding each inspection raised."""
    fi = finding.c
    found: dict[str, list[str]] = {key: [] for key in inspection_ids}
    for start in range(0, len(inspection_ids), 500):
        chunk = inspection_ids[start:start + 500]
        for row in conn.execute(sa.select(fi.inspection_id, fi.severity)
                                .where(fi.inspection_id.in_(chunk), fi.item_id.is_not(None))):
            found[row.inspection_id].append(row.severity)
    return found


def findings(conn: Connection, *, facility_id: str | None = None, inspection_id: str | None = None,
             statuses: tuple[str, ...] | None = None, closed_by: str | None = None) -> list[dict[str, Any]]:
    """Findings with their facility's name and kind, by deadline."""
    fi, f = finding.c, supervised_facility.c
    query = (sa.select(finding, f.name.label("facility_name"), f.kind.label("facility_kind"),
                       f.district.label("facility_district"))
             .join(supervised_facility, f.id == fi.facility_id).order_by(fi.rectify_by, f.name, fi.id)
             .limit(MAX_LISTED))
    if facility_id is not None:
        query = query.where(fi.facility_id == facility_id)
    if inspection_id is not None:
        query = query.where(fi.inspection_id == inspection_id)
    if closed_by is not None:
        query = query.where(fi.closed_by_inspection_id == closed_by)
    if statuses is not None:
        query = query.where(fi.status.in_(statuses))
    return _rows(conn.execute(query))


def decide_finding(conn: Connection, finding_id: str, *, status: str, inspection_id: str, on: str) -> None:
    """Record what a later inspection found of a finding: rectified or escalated."""
    conn.execute(finding.update().where(finding.c.id == finding_id)
                 .values(status=status, closed_by_inspection_id=inspection_id, closed_on=on))


def facility_counts(conn: Connection) -> dict[str, int]:
    """Active facilities by kind."""
    f = supervised_facility.c
    rows = conn.execute(sa.select(f.kind, sa.func.count()).where(f.status == "active").group_by(f.kind))
    return {kind: count for kind, count in rows}
