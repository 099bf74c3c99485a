"""Inspections, findings and plans: failed items become findings with deadlines, findings go overdue, a follow-up
closes them, plans track what was done, and the inspectors' morning notice goes once a day; on SQLite and PostgreSQL."""

from datetime import UTC, datetime

import pytest

from smartcare.platform import audit, clock
from smartcare.platform.clock import format_instant
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import enqueue, run_due
from smartcare.platform.jobs.schedules import schedules
from smartcare.platform.notifications.service import inbox
from smartcare.platform.security import users
from smartcare.regional.supervision import dashboard, inspections, jobs, registry
from smartcare.regional.supervision.access import SupervisionForbidden
from smartcare.regional.supervision.checklists import checklists
from smartcare.regional.supervision.inspections import InspectionForm
from smartcare.regional.supervision.rules import SupervisionInvalid
from tests.regional.supervision.conftest import DOCTOR, HEXI, INSPECTOR, OFFICER, register
from tests.web_support import make_user

VENUE = [item.id for item in checklists().kind("public_venue").items]


def answered(inspected_on: str = "2026-03-01", kind: str = "routine", failed: dict[str, str] | None = None,
             **extra) -> InspectionForm:
    """Every public-venue item passed except those failed (item -> note)."""
    failed = failed or {}
    return InspectionForm(inspected_on=inspected_on, kind=kind,
                          results={i: "fail" if i in failed else "pass" for i in VENUE},
                          item_notes=dict(failed), **extra)


def record(engine, facility_id: str, form: InspectionForm, ctx=INSPECTOR):
    with unit_of_work(engine) as conn:
        return inspections.record_inspection(conn, ctx=ctx, facility_id=facility_id, form=form)


def findings(engine, state: str = "open", facility_id: str | None = None):
    with unit_of_work(engine) as conn:
        return inspections.list_findings(conn, ctx=INSPECTOR, state=state, facility_id=facility_id)


def test_each_failed_item_becomes_a_finding_with_its_severity_deadline_and_legal_basis(engine, now):
    pool = register(engine)
    done = record(engine, pool["id"], answered(failed={"venue-pool-chlorine": "0.1 mg/L at the shallow end",
                                                       "venue-pest-control": ""}))
    by_item = {f["item_id"]: f for f in done["findings"]}
    chlorine, pests = by_item["venue-pool-chlorine"], by_item["venue-pest-control"]
    assert (chlorine["severity"], chlorine["is_violation"], chlorine["rectify_by"]) == ("critical", True, "2026-03-04")
    assert "GB 37488-2019" in chlorine["legal_basis"] and chlorine["description"] == "0.1 mg/L at the shallow end"
    assert (pests["severity"], pests["is_violation"], pests["legal_basis"], pests["rectify_by"]) == (
        "minor", False, None, "2026-03-31")
    assert done["outcome"] == "fail"
    assert record(engine, register(engine, name="Hotel")["id"], answered())["outcome"] == "pass"


def test_the_inspector_may_set_another_deadline_but_not_before_the_inspection(engine, now):
    pool = register(engine)
    done = record(engine, pool["id"], answered(failed={"venue-ventilation": ""},
                                               deadlines={"venue-ventilation": "2026-04-15"}))
    assert done["findings"][0]["rectify_by"] == "2026-04-15" and done["outcome"] == "conditional"
    for deadline in ("2026-03-01", "2026-02-20", "2027-06-01", "15/04/2026"):
        with pytest.raises(SupervisionInvalid) as refused:
            record(engine, pool["id"], answered(failed={"venue-ventilation": ""},
                                                deadlines={"venue-ventilation": deadline}))
        assert refused.value.field == "deadline-venue-ventilation"


@pytest.mark.parametrize(("form", "field"), [
    (answered(inspected_on="2026-03-03"), "inspected_on"),  # tomorrow
    (answered(inspected_on="yesterday"), "inspected_on"),
    (answered(kind="raid"), "kind"),
    (InspectionForm(inspected_on="2026-03-01", kind="routine", results={VENUE[0]: "pass"}), f"result-{VENUE[1]}"),
    (InspectionForm(inspected_on="2026-03-01", kind="routine", results={i: "maybe" for i in VENUE}),
     f"result-{VENUE[0]}"),
    (answered(failed={"venue-licence": "x" * 501}), "note-venue-licence"),
    (answered(notes="n" * 2001), "notes"),
])
def test_incomplete_or_bad_inspections_are_refused_and_nothing_is_written(engine, now, form, field):
    pool = register(engine)
    with pytest.raises(SupervisionInvalid) as refused:
        record(engine, pool["id"], form)
    assert refused.value.field == field
    assert findings(engine, state="all") == []


def test_a_finding_past_its_deadline_is_overdue_and_a_follow_up_closes_it(engine, now):
    pool = register(engine)
    first = record(engine, pool["id"], answered(failed={"venue-pool-chlorine": "", "venue-staff-health": ""}))
    chlorine, staff = sorted(first["findings"], key=lambda f: f["rectify_by"])
    assert [f["state"] for f in findings(engine)] == ["open", "open"]
    now[0] = datetime(2026, 3, 10, 2, tzinfo=UTC)  # chlorine was due on the 4th, staff certificates on the 16th
    assert [(f["id"], f["state"]) for f in findings(engine)] == [(chlorine["id"], "overdue"), (staff["id"], "open")]
    assert [f["id"] for f in findings(engine, state="overdue")] == [chlorine["id"]]
    follow = record(engine, pool["id"], InspectionForm(
        inspected_on="2026-03-10", kind="follow-up", results={"venue-pool-chlorine": "pass"},
        decisions={chlorine["id"]: "rectified"}))
    assert follow["findings"] == [] and follow["decisions"] == {chlorine["id"]: "rectified", staff["id"]: "open"}
    assert [f["id"] for f in findings(engine)] == [staff["id"]]
    rectified = findings(engine, state="rectified")
    assert [(f["id"], f["closed_by_inspection_id"], f["closed_on"]) for f in rectified] == [
        (chlorine["id"], follow["id"], "2026-03-10")]
    with unit_of_work(engine) as conn:
        seen = inspections.get_inspection(conn, ctx=OFFICER, inspection_id=follow["id"])
    assert [f["id"] for f in seen["closed"]] == [chlorine["id"]] and len(seen["answers"]) == 1


def test_a_follow_up_may_escalate_and_refuses_an_unknown_decision(engine, now):
    pool = register(engine)
    finding = record(engine, pool["id"], answered(failed={"venue-licence": ""}))["findings"][0]
    with pytest.raises(SupervisionInvalid):
        record(engine, pool["id"], InspectionForm(inspected_on="2026-03-02", kind="follow-up",
                                                  decisions={finding["id"]: "forgotten"}))
    record(engine, pool["id"], InspectionForm(inspected_on="2026-03-02", kind="follow-up",
                                              decisions={finding["id"]: "escalated"}))
    assert findings(engine) == [] and findings(engine, state="escalated")[0]["id"] == finding["id"]


def test_a_plan_spreads_due_dates_and_counts_the_inspections_that_do_it(engine, now, inspector):
    venues = [register(engine, name=f"Hexi Venue {n}") for n in range(3)]
    register(engine, kind="school", name="Hexi School")
    with unit_of_work(engine) as conn:
        plan = inspections.create_plan(conn, ctx=INSPECTOR, name="Spring routine inspection of public venues",
                                       starts="2026-02-15", ends="2026-05-15", kinds=["public_venue"],
                                       district=HEXI, inspectors="insp.wang")
    assert sorted(i["due"] for i in plan["items"]) == ["2026-03-17", "2026-04-15", "2026-05-15"]
    before = record(engine, venues[1]["id"], answered(inspected_on="2026-02-10"))  # before the plan: not its work
    done = record(engine, venues[0]["id"], answered())
    with unit_of_work(engine) as conn:
        shown = inspections.get_plan(conn, ctx=OFFICER, plan_id=plan["id"])
        figures = dashboard.summary(conn, ctx=OFFICER)
    assert shown["progress"] == {"planned": 3, "done": 1, "overdue": 0}
    assert done["plan_item_id"] in {i["id"] for i in shown["items"] if i["inspection_id"] == done["id"]}
    assert before["plan_item_id"] is None
    assert figures["plans"] == {"planned": 3, "done": 1, "overdue": 0}
    assert figures["facilities"]["public_venue"] == 3 and figures["chart"]["inspections"][-2:] == [1, 1]
    assert figures["chart"]["passed_percent"][-2:] == [100.0, 100.0]


@pytest.mark.parametrize(("fields", "field"), [
    ({"inspectors": "nobody.here"}, "inspectors"), ({"inspectors": "<b>"}, "inspectors"),
    ({"kinds": []}, "kinds"), ({"kinds": ["casino"]}, "kinds"), ({"kinds": ["water_supply"]}, "kinds"),
    ({"ends": "2026-03-31"}, "ends"), ({"name": ""}, "name"), ({"district": "999999"}, "district"),
])
def test_a_plan_is_refused_without_inspectors_kinds_facilities_or_sound_dates(engine, now, inspector, fields, field):
    register(engine)
    make_user(engine, "doctor", username="dr.li")
    values = {"name": "Plan", "starts": "2026-04-01", "ends": "2026-06-30", "kinds": ["public_venue"],
              "inspectors": "insp.wang", **fields}
    with unit_of_work(engine) as conn, pytest.raises(SupervisionInvalid) as refused:
        inspections.create_plan(conn, ctx=INSPECTOR, **values)
    assert refused.value.field == field


def test_recording_is_for_inspectors_and_regional_admins_only(engine, now):
    pool = register(engine)
    for ctx in (OFFICER, DOCTOR):
        with pytest.raises(SupervisionForbidden) as refused:
            record(engine, pool["id"], answered(), ctx=ctx)
        assert refused.value.status == 403
    with unit_of_work(engine) as conn, pytest.raises(SupervisionForbidden):
        inspections.list_findings(conn, ctx=DOCTOR)
    with unit_of_work(engine) as conn:
        created = audit.search(conn, agent="user/insp.wang", subtype="create")
    assert len(created) == 1  # the facility; nothing was recorded for the refused callers


def _run_morning_job(engine) -> None:
    schedule = next(s for s in schedules() if s.name == jobs.DAILY_JOB)
    with unit_of_work(engine) as conn:
        start = schedule.period_start(clock.now())
        enqueue(conn, kind=schedule.kind, payload={"period": format_instant(start)}, run_at=start,
                key=f"periodic:{schedule.name}:{format_instant(start)}")
    run_due(engine)


def test_the_morning_notice_tells_each_inspector_once_a_day(engine, now, inspector):
    other = make_user(engine, "health_inspector", username="insp.li", locale="zh-Hans")
    pool = register(engine, name="Hexi Pool")
    water = register(engine, kind="water_supply", name="Hexi Water Works")
    with unit_of_work(engine) as conn:
        registry.add_licence(conn, ctx=INSPECTOR, facility_id=water["id"], number="W-1", issued="2022-03-20")
        inspections.create_plan(conn, ctx=INSPECTOR, name="Spring", starts="2026-03-02", ends="2026-03-05",
                                kinds=["public_venue"], inspectors="insp.wang")
    record(engine, pool["id"], answered(inspected_on="2026-02-20", kind="complaint",
                                        failed={"venue-pool-chlorine": ""}))  # due 23 February: overdue
    now[0] = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # 08:30 in Riverside City
    _run_morning_job(engine)
    _run_morning_job(engine)
    with unit_of_work(engine) as conn:
        wang = inbox(conn, user_id=users.get_by_username(conn, username="insp.wang").id)
        li = inbox(conn, user_id=other.id)
    assert len(wang) == 1 and len(li) == 1
    assert "Hexi Water Works" in wang[0]["body"] and "Hexi Pool" in wang[0]["body"]
    assert "Planned inspections due within 7 days: 1" in wang[0]["body"]
    assert "Planned" not in li[0]["body"] and "计划" not in li[0]["body"]  # not on insp.li's plan
    now[0] = datetime(2026, 3, 3, 0, 30, tzinfo=UTC)
    _run_morning_job(engine)
    with unit_of_work(engine) as conn:
        assert len(inbox(conn, user_id=other.id)) == 2
