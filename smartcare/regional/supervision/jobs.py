"""The health inspectors' morning notice: licences expiring within 30 days or expired, findings past their
rectification deadline, and planned inspections due within 7 days.

A periodic job at 07:00 in the region's time zone; the job queue writes one job per day (its key names the day), and
the handler sends in the job's own transaction, so each inspector gets one notice a day however often the worker
wakes. An inspector with nothing due is not disturbed. Plan items are told to the plan's own inspectors; licences
and findings concern every inspector of the region.
"""

import gettext
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.platform import audit, i18n
from smartcare.platform.i18n import _
from smartcare.platform.jobs import Job, handler, periodic
from smartcare.platform.notifications import notification_kind, notify
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.settings import get_settings
from smartcare.regional.supervision import inspections, registry, rules
from smartcare.regional.supervision import repository as repo
from smartcare.regional.supervision.access import PURPOSE, today

DAILY_JOB = "supervision.daily-notices"
DAILY_AT = "07:00"
NOTICE = notification_kind("supervision.daily", label=_("Health supervision: licences, findings and inspections due"))
LINK = "/console/supervision"
NAMES_SHOWN = 5


def due(conn: Connection, on: date) -> dict[str, list[dict[str, Any]]]:
    """What needs an inspector's attention on a day: licences (expired or expiring within 30 days), overdue findings
    and open plan items due within 7 days."""
    facilities = [f for f in repo.facilities(conn) if f["status"] == "active"]
    held = repo.licences(conn, [f["id"] for f in facilities]) if facilities else []
    soon = (on + rules.NOTIFY_LICENCE_WITHIN).isoformat()
    licences = []
    for facility in facilities:
        current = registry.current_licence(facility, held, on)
        if current and current["status"] in ("expired", "expiring") and current["expires"] <= soon:
            licences.append({**current, "facility_name": facility["name"]})
    overdue = [f for f in (inspections.with_state(f, on) for f in repo.findings(conn, statuses=("open",)))
               if f["state"] == "overdue"]
    planned = repo.plan_items(conn, open_due_by=(on + rules.NOTIFY_PLAN_WITHIN).isoformat())
    return {"licences": licences, "findings": overdue, "planned": planned}


def _names(rows: list[dict[str, Any]]) -> str:
    names = list(dict.fromkeys(r["facility_name"] for r in rows))
    return "、".join(names[:NAMES_SHOWN]) + (" …" if len(names) > NAMES_SHOWN else "")


def _body(t: gettext.NullTranslations, found: dict[str, list[dict[str, Any]]], planned: list[dict[str, Any]]) -> str:
    lines = []
    if found["licences"]:
        lines.append(t.gettext(_("Licences expired or expiring within 30 days: %(count)s (%(names)s).")) %
                     {"count": len(found["licences"]), "names": _names(found["licences"])})
    if found["findings"]:
        lines.append(t.gettext(_("Findings past their rectification deadline: %(count)s (%(names)s).")) %
                     {"count": len(found["findings"]), "names": _names(found["findings"])})
    if planned:
        lines.append(t.gettext(_("Planned inspections due within 7 days: %(count)s (%(names)s).")) %
                     {"count": len(planned), "names": _names(planned)})
    return "\n".join(lines)[:2000]


def send_notices(conn: Connection, on: date) -> int:
    """Tell each health inspector what is due (their own plans' items, every licence and finding); how many told."""
    found = due(conn, on)
    told = 0
    for account in users.list_users(conn, role="health_inspector"):
        if account.locked:
            continue
        planned = [p for p in found["planned"] if account.username in p["plan_inspectors"].split(",")]
        if not (found["licences"] or found["findings"] or planned):
            continue
        t = i18n.translations(account.locale)
        notify(conn, user_id=account.id, kind=NOTICE.name, link=LINK,
               title=t.gettext(_("Health supervision: due today")), body=_body(t, found, planned))
        told += 1
    audit.record(conn, ctx=SYSTEM, action="R", subtype="search", purpose=PURPOSE,
                 entities=["FacilityLicence?", "Finding?state=overdue", "InspectionPlan?"],
                 description=f"health supervision: morning notices for {on.isoformat()} sent to {told} inspectors")
    return told


@handler(DAILY_JOB)
def daily_notices(conn: Connection, job: Job) -> None:
    """Send the inspectors' morning notices for today (the region's calendar day)."""
    send_notices(conn, today())


periodic(DAILY_JOB, kind=DAILY_JOB, daily_at=DAILY_AT, tz=get_settings().region_timezone)
