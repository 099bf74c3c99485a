"""Inspection plans, inspections and findings: plan the year's or quarter's visits, record an inspection from the
facility's checklist (each failed item becomes a finding with its deadline), and close findings by follow-up.

A failed item's finding takes the item's severity and a deadline of the inspection date plus the item's default
rectification days (the inspector may change it); major and critical ones are violations citing the item's source as
their legal basis. A later inspection of the facility decides each open finding: rectified, escalated, or left open.
Every read and write is audited; writes need a health inspector or a regional administrator.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.platform import audit, clock
from smartcare.platform.i18n import _
from smartcare.platform.security import users
from smartcare.platform.security.context import AccessContext
from smartcare.regional.supervision import registry, rules
from smartcare.regional.supervision import repository as repo
from smartcare.regional.supervision.access import PURPOSE, WRITERS, require_reader, require_writer, today
from smartcare.regional.supervision.checklists import KINDS, VIOLATION_SEVERITIES, checklists
from smartcare.regional.supervision.rules import SupervisionInvalid, SupervisionNotFound

MAX_INSPECTORS = 6
MAX_PLAN_DAYS = 366


@dataclass(slots=True)
class InspectionForm:
    """What an inspector fills in: per checklist item a result, a note and (for a failure) a deadline; per open
    finding of the facility a decision."""

    inspected_on: str
    kind: str
    notes: str = ""
    results: dict[str, str] = field(default_factory=dict)
    item_notes: dict[str, str] = field(default_factory=dict)
    deadlines: dict[str, str] = field(default_factory=dict)
    decisions: dict[str, str] = field(default_factory=dict)


def _audit(conn: Connection, ctx: AccessContext, action: str, subtype: str, entities: list[str], text: str) -> None:
    audit.record(conn, ctx=ctx, action=action, subtype=subtype, purpose=PURPOSE, entities=entities,
                 description=f"health supervision: {text}"[:1000])


def _inspectors(value: str | list[str], *, field_name: str, conn: Connection) -> list[str]:
    """Account names of inspectors (comma- or space-separated), each an existing inspector or regional admin."""
    given = value if isinstance(value, list) else str(value or "").replace(",", " ").split()
    names = list(dict.fromkeys(rules.username(name, field=field_name) for name in given))
    if not names or len(names) > MAX_INSPECTORS:
        raise SupervisionInvalid(_("Name 1 to %(limit)s inspectors by their account names."), field=field_name,
                                 limit=MAX_INSPECTORS)
    for name in names:
        account = users.get_by_username(conn, username=name)
        if account is None or account.role.value not in WRITERS:
            raise SupervisionInvalid(_("%(name)s is not a health inspector's account."), field=field_name,
                                     name=name)
    return names


def create_plan(conn: Connection, *, ctx: AccessContext, name: str, starts: str, ends: str, kinds: list[str],
                district: str = "", inspectors: str | list[str]) -> dict[str, Any]:
    """Plan inspections of every active facility of the kinds (in one district or all) between two dates, due dates
    spread evenly over the plan; returns the plan with its items."""
    require_writer(ctx)
    name = rules.text(name, field="name", limit=rules.MAX_NAME)
    first, last = rules.day(starts, field="starts"), rules.day(ends, field="ends")
    if last < first or (last - first).days > MAX_PLAN_DAYS:
        raise SupervisionInvalid(_("The plan ends on or after its start, within a year of it."), field="ends")
    chosen = [rules.choice(kind, KINDS, field="kinds") for kind in dict.fromkeys(kinds)]
    if not chosen:
        raise SupervisionInvalid(_("Choose at least one kind of facility."), field="kinds")
    district = rules.choice(district, ("", *registry.district_codes()), field="district")
    names = _inspectors(inspectors, field_name="inspectors", conn=conn)
    facilities = [f for kind in chosen for f in repo.facilities(conn, kind=kind, district=district or None)
                  if f["status"] == "active"]
    if not facilities:
        raise SupervisionInvalid(_("No active facility of these kinds is registered there."), field="kinds")
    plan_id = str(uuid.uuid4())
    due = rules.plan_due_dates(first, last, len(facilities))
    items = [{"id": str(uuid.uuid4()), "plan_id": plan_id, "facility_id": f["id"], "due": d.isoformat(),
              "inspection_id": None} for f, d in zip(facilities, due, strict=True)]
    row = {"id": plan_id, "name": name, "starts": first.isoformat(), "ends": last.isoformat(),
           "kinds": ",".join(chosen), "district": district or None, "inspectors": ",".join(names),
           "created": clock.format_instant(clock.now()), "created_by": ctx.name[:255]}
    repo.insert_plan(conn, row, items)
    _audit(conn, ctx, "C", "create", [f"InspectionPlan/{plan_id}"], f"plan with {len(items)} facilities")
    return {**row, "items": items}


def progress(items: list[dict[str, Any]], on: date) -> dict[str, int]:
    """A plan's progress: items planned, done, and overdue (not done, due before on)."""
    return {"planned": len(items), "done": sum(1 for i in items if i["inspection_id"]),
            "overdue": sum(1 for i in items if not i["inspection_id"] and i["due"] < on.isoformat())}


def list_plans(conn: Connection, *, ctx: AccessContext) -> list[dict[str, Any]]:
    """Every plan with its progress."""
    require_reader(ctx)
    on, items = today(), repo.all_plan_items(conn)
    found = [{**p, "progress": progress([i for i in items if i["plan_id"] == p["id"]], on)} for p in repo.plans(conn)]
    _audit(conn, ctx, "R", "search", ["InspectionPlan?"], f"plans listed: {len(found)}")
    return found


def get_plan(conn: Connection, *, ctx: AccessContext, plan_id: str) -> dict[str, Any]:
    """A plan with its items (facility, due date, the inspection that did it) and progress."""
    require_reader(ctx)
    found = repo.plan(conn, str(plan_id)[:36])
    if found is None:
        raise SupervisionNotFound(plan_id)
    items = repo.plan_items(conn, plan_id=found["id"])
    _audit(conn, ctx, "R", "read", [f"InspectionPlan/{found['id']}"], "plan read")
    return {**found, "items": items, "progress": progress(items, today())}


def _answers(kind: str, form: InspectionForm, inspected_on: date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The answers and findings of a filled-in checklist (ids filled in by the caller)."""
    spec = checklists().kind(kind)
    answers, findings = [], []
    for item in spec.items:
        result = form.results.get(item.id, "")
        if not result and form.kind == "follow-up":
            continue  # a follow-up checks what was wrong; items left blank were not checked this time
        result = rules.choice(result, rules.RESULTS, field=f"result-{item.id}")
        note = rules.text(form.item_notes.get(item.id, ""), field=f"note-{item.id}", limit=rules.MAX_NOTE,
                          required=False)
        answers.append({"item_id": item.id, "result": result, "note": note})
        if result != "fail":
            continue
        typed = form.deadlines.get(item.id, "").strip()
        deadline = (rules.day(typed, field=f"deadline-{item.id}") if typed
                    else inspected_on + timedelta(days=item.rectify_days))
        rules.check_rectify_by(deadline, inspected_on=inspected_on, field=f"deadline-{item.id}")
        violation = item.severity in VIOLATION_SEVERITIES
        findings.append({"item_id": item.id, "description": (note or item.en)[:1000],
                         "severity": item.severity, "is_violation": violation,
                         "legal_basis": item.source[:300] if violation else None, "rectify_by": deadline.isoformat(),
                         "status": "open", "closed_by_inspection_id": None, "closed_on": None})
    return answers, findings


def record_inspection(conn: Connection, *, ctx: AccessContext, facility_id: str, form: InspectionForm,
                      co_inspectors: str = "") -> dict[str, Any]:
    """Record an inspection: its answers, a finding per failed item, the decisions on the facility's open findings,
    and the plan item a routine one does (the facility's earliest open one whose plan covers the day); returns it with
    its findings and outcome."""
    require_writer(ctx)
    facility = registry.get_facility(conn, ctx=ctx, facility_id=facility_id, audited=False)
    kind = rules.choice(form.kind, rules.INSPECTION_KINDS, field="kind")
    inspected_on = rules.day(form.inspected_on, field="inspected_on")
    rules.check_inspection_dates(inspected_on=inspected_on, today=today())
    notes = rules.text(form.notes, field="notes", limit=rules.MAX_NOTES, required=False)
    names = [ctx.name[:64], *(_inspectors(co_inspectors, field_name="co_inspectors", conn=conn)
                              if co_inspectors.strip() else [])]
    answers, findings = _answers(facility["kind"], form, inspected_on)
    if not answers and not form.decisions:
        raise SupervisionInvalid(_("Answer at least one checklist item."), field="results")
    open_before = repo.findings(conn, facility_id=facility["id"], statuses=("open",))
    decisions = {f["id"]: rules.choice(form.decisions.get(f["id"]) or "open", rules.DECISIONS,
                                       field=f"decision-{f['id']}") for f in open_before}
    inspection_id = str(uuid.uuid4())
    day = inspected_on.isoformat()
    planned = [p for p in repo.plan_items(conn, facility_id=facility["id"]) if p["plan_starts"] <= day <= p["plan_ends"]]
    plan_item = planned[0]["id"] if planned and kind == "routine" else None
    row = {"id": inspection_id, "facility_id": facility["id"], "plan_item_id": plan_item,
           "inspected_on": inspected_on.isoformat(), "inspectors": ",".join(dict.fromkeys(names)), "kind": kind,
           "notes": notes, "created": clock.format_instant(clock.now()), "created_by": ctx.name[:255]}
    answers = [{**a, "inspection_id": inspection_id} for a in answers]
    findings = [{**f, "id": str(uuid.uuid4()), "inspection_id": inspection_id, "facility_id": facility["id"]}
                for f in findings]
    repo.insert_inspection(conn, row, answers, findings)
    for finding_id, decision in decisions.items():
        if decision != "open":
            repo.decide_finding(conn, finding_id, status=decision, inspection_id=inspection_id,
                                on=inspected_on.isoformat())
    if plan_item:
        repo.mark_plan_item_done(conn, plan_item, inspection_id)
    _audit(conn, ctx, "C", "create", [f"Inspection/{inspection_id}", f"SupervisedFacility/{facility['id']}"],
           f"inspection recorded: {len(findings)} findings, "
           f"{sum(1 for d in decisions.values() if d == 'rectified')} rectified")
    return {**row, "answers": answers, "findings": findings, "decisions": decisions,
            "outcome": rules.inspection_outcome([f["severity"] for f in findings])}


def get_inspection(conn: Connection, *, ctx: AccessContext, inspection_id: str) -> dict[str, Any]:
    """An inspection with its answers, the findings it raised, those it closed, and its outcome."""
    require_reader(ctx)
    found = repo.get_inspection(conn, str(inspection_id)[:36])
    if found is None:
        raise SupervisionNotFound(inspection_id)
    raised = repo.findings(conn, inspection_id=found["id"])
    closed = repo.findings(conn, closed_by=found["id"])
    on = today()
    _audit(conn, ctx, "R", "read", [f"Inspection/{found['id']}"], "inspection read")
    return {**found, "answers": repo.answers(conn, found["id"]), "findings": [with_state(f, on) for f in raised],
            "closed": [with_state(f, on) for f in closed],
            "outcome": rules.inspection_outcome([f["severity"] for f in raised if f["item_id"]])}


def with_state(finding: dict[str, Any], on: date) -> dict[str, Any]:
    """A finding row with its state as of on (overdue computed)."""
    return {**finding, "state": rules.finding_state(status=finding["status"],
                                                    rectify_by=date.fromisoformat(finding["rectify_by"]), today=on)}


def list_findings(conn: Connection, *, ctx: AccessContext, state: str = "open",
                  facility_id: str | None = None) -> list[dict[str, Any]]:
    """Findings in a state: open (open and overdue), overdue, rectified, escalated, or all."""
    require_reader(ctx)
    state = rules.choice(state, ("all", *rules.FINDING_STATES), field="state")
    stored = {"open": ("open",), "overdue": ("open",), "rectified": ("rectified",), "escalated": ("escalated",)}
    on = today()
    found = [with_state(f, on) for f in repo.findings(conn, facility_id=facility_id, statuses=stored.get(state))]
    if state == "overdue":
        found = [f for f in found if f["state"] == "overdue"]
    _audit(conn, ctx, "R", "search", [f"Finding?state={state}"], f"findings listed: {len(found)}")
    return found


def inspection_outcomes(conn: Connection, *, since: str, facility_id: str | None = None) -> list[dict[str, Any]]:
    """Inspections since a day with their outcome (callers audit the read they are part of)."""
    found = repo.inspections(conn, facility_id=facility_id, since=since)
    severities = repo.raised_severities(conn, [i["id"] for i in found])
    return [{**i, "outcome": rules.inspection_outcome(severities[i["id"]])} for i in found]


def facility_record(conn: Connection, *, ctx: AccessContext, facility_id: str) -> dict[str, Any]:
    """A facility with its licences (status as of today), inspections (with outcome), open findings and open plan
    items; one audited read."""
    facility = registry.get_facility(conn, ctx=ctx, facility_id=facility_id)
    on = today()
    held = [registry.with_status(lic, on) for lic in repo.licences(conn, [facility["id"]])]
    return {**facility, "licences": held, "licence_state": registry.licence_state(facility, held, on),
            "inspections": inspection_outcomes(conn, since="0000-01-01", facility_id=facility["id"]),
            "findings": [with_state(f, on) for f in repo.findings(conn, facility_id=facility["id"],
                                                                   statuses=("open", "escalated"))],
            "planned": repo.plan_items(conn, facility_id=facility["id"])}
