"""Home isolation of a case or contact: started with the end from the disease's data (another end needs a reason),
the family module's monitoring asked for and stopped through its jobs, the twice-daily reports read back, the
community health centre told once of each missed day and fever, and the daily job ending what is past its end."""

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

import smartcare.family.monitoring.from_programmes  # noqa: F401  (the monitoring jobs public health asks for)
import smartcare.family.monitoring.from_public_health  # noqa: F401
from smartcare.family.monitoring import special
from smartcare.fhir import gateway
from smartcare.knowledge.notifiable import load
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import job, run_due
from smartcare.platform.notifications.service import inbox
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.public_health import control, isolation, review
from tests.regional.public_health.test_contacts import OFFICER, bring_in, investigated_case
from tests.regional.public_health.test_review import put
from tests.web_support import make_user

ONE_STORE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


@pytest.fixture
def reported(engine, now):
    """The investigated measles case of the contact tests."""
    return investigated_case(engine)
CENTRES = [{"resourceType": "Organization", "id": f"org-chc-{n}", "name": f"Centre {n}",
            "alias": [f"第{n}社区卫生服务中心"]} for n in (1, 2)]


def at(moment: str) -> datetime:
    """A wall-clock time in the region (UTC+8) as the UTC instant the clock holds."""
    return datetime.fromisoformat(moment + "+08:00").astimezone(UTC)


@pytest.fixture
def isolating(reported, now):
    """Wang Fang (Hexi, served by centre 2) on the contact list; a nurse of each centre."""
    put(reported, *CENTRES)
    bring_in(reported)
    make_user(reported, "nurse", "nurse.chc2", organization="Organization/org-chc-2", fhir_ref="Practitioner/n2")
    make_user(reported, "nurse", "nurse.chc1", organization="Organization/org-chc-1", fhir_ref="Practitioner/n1")
    return reported


def start(engine, patient="Patient/res-wang", role="contact", first="2026-03-02", end="", reason=""):
    with unit_of_work(engine) as conn:
        return isolation.start(conn, ctx=OFFICER, report_id="rep-m", patient=patient, role=role, start_text=first,
                               end_text=end, reason=reason, today=review.today())


def queued(engine, kind: str) -> list[dict]:
    with unit_of_work(engine) as conn:
        return [row.payload for row in conn.execute(sa.select(job).where(job.c.kind == kind))]


def notices(engine, username: str) -> list[dict]:
    with unit_of_work(engine) as conn:
        return inbox(conn, user_id=users.get_by_username(conn, username=username).id)


def report(now, moment: str, celsius: float, symptoms: list[str] | None = None) -> None:
    """Wang Fang's home-isolation report at a wall-clock time, through the family module's own recording."""
    now[0] = at(moment)
    special.record_isolation_report(SYSTEM, patient_id="res-wang", temperature=celsius, symptoms=symptoms or [])


def home_plans(status: str) -> list[dict]:
    return gateway.search(SYSTEM, "CarePlan", [("patient", "Patient/res-wang"), ("status", status),
                                               ("instantiates-uri", "https://smartcare.example/fhir/"
                                                                    "monitoring-template/home-isolation")])


@ONE_STORE
def test_starting_isolation_asks_family_health_for_the_monitoring_and_tells_the_centre(isolating):
    found = start(isolating)
    assert (found.start, found.end, found.planned_end) == (date(2026, 3, 2), date(2026, 3, 13), date(2026, 3, 13))
    assert (found.centre, found.district, found.role, found.active) == ("Organization/org-chc-2", "339902",
                                                                        "contact", True)
    assert queued(isolating, isolation.MONITORING_START) == [{"patient": "res-wang", "templates": ["home-isolation"]}]
    run_due(isolating)
    assert len(home_plans("active")) == 1
    told = notices(isolating, "nurse.chc2")
    assert [n["title"] for n in told] == ["Home isolation in your district"]
    assert "王芳" in told[0]["body"] and told[0]["link"] == f"/workstation/isolation/{found.id}"
    assert notices(isolating, "nurse.chc1") == []
    with pytest.raises(isolation.IsolationInvalid) as twice:
        start(isolating)
    assert twice.value.message == isolation.ALREADY


@ONE_STORE
def test_the_end_comes_from_the_data_and_another_end_needs_a_reason(isolating):
    with pytest.raises(isolation.IsolationInvalid) as no_period:
        start(isolating, patient="Patient/h1-1", role="case")  # measles: the rule is in words, no number of days
    assert (no_period.value.field, no_period.value.message) == ("end", isolation.END_NEEDED)
    assert start(isolating, patient="Patient/h1-1", role="case", end="2026-03-06").end == date(2026, 3, 6)
    with pytest.raises(isolation.IsolationInvalid) as why:
        start(isolating, end="2026-03-20")
    assert (why.value.field, why.value.message) == ("reason", isolation.REASON_NEEDED)
    longer = start(isolating, end="2026-03-20", reason="lives with a second case")
    assert longer.end_change["reason"] == "lives with a second case" and longer.end_change["by"] == "officer.li"


@pytest.mark.parametrize(("first", "end", "field", "message"), [
    ("2026-13-01", "", "start", isolation.BAD_DATE),
    ("<script>", "", "start", isolation.BAD_DATE),
    ("2026-01-01", "", "start", isolation.START_RANGE),
    ("2026-03-03", "", "start", isolation.START_RANGE),
    ("2026-03-02", "2026-03-01", "end", isolation.END_BEFORE),
    ("2026-03-02", "2026-09-01", "end", isolation.END_TOO_LATE),
])
@ONE_STORE
def test_bad_dates_are_refused_and_nothing_is_started(isolating, first, end, field, message):
    with pytest.raises(isolation.IsolationInvalid) as refused:
        start(isolating, first=first, end=end, reason="x")
    assert (refused.value.field, refused.value.message) == (field, message)
    with unit_of_work(isolating) as conn:
        assert isolation.of_case(conn, "rep-m") == []
    assert queued(isolating, isolation.MONITORING_START) == []


@ONE_STORE
def test_only_the_case_or_a_matched_contact_can_be_isolated(isolating):
    for patient, role in (("Patient/res-nobody", "contact"), ("Patient/h1-1", "contact"), ("Patient/res-wang", "x")):
        with pytest.raises(isolation.IsolationInvalid) as refused:
            start(isolating, patient=patient, role=role)
        assert refused.value.message == isolation.NOT_A_RESIDENT


@ONE_STORE
def test_twice_daily_reports_are_read_back_and_a_missed_day_alerts_the_centre_once(isolating, now):
    found = start(isolating)
    run_due(isolating)
    report(now, "2026-03-03T08:00:00", 36.6)
    report(now, "2026-03-03T20:00:00", 36.8, ["cough"])
    report(now, "2026-03-04T08:10:00", 36.7)
    now[0] = at("2026-03-05T00:30:00")
    with unit_of_work(isolating) as conn:
        seen = isolation.watched(conn, isolation.read(conn, found.id), review.today())
    assert [(d.day.day, d.count, d.judged, d.missed) for d in seen.reports.days] == [
        (2, 0, False, False), (3, 2, True, False), (4, 1, True, True), (5, 0, False, False)]
    assert seen.reports.last.celsius == 36.7 and seen.reports.fever is None
    assert seen.reports.symptoms == ()  # the last report had none; the cough was the one before
    for _run in range(2):
        isolation.sweep(engine=isolating)
        run_due(isolating)
    missed = [n for n in notices(isolating, "nurse.chc2") if n["title"] == "Home isolation reports missed"]
    assert len(missed) == 1 and "1 of the 2" in missed[0]["body"] and "2026-03-04" in missed[0]["body"]


@ONE_STORE
def test_a_fever_report_alerts_the_centre_at_once_and_once_a_day(isolating, now):
    start(isolating)
    run_due(isolating)
    report(now, "2026-03-03T08:00:00", 38.4, ["fever", "cough"])
    report(now, "2026-03-03T20:00:00", 38.9, ["fever"])
    run_due(isolating)
    fevers = [n for n in notices(isolating, "nurse.chc2") if n["title"] == "Fever in home isolation"]
    assert len(fevers) == 1 and "38.4 °C" in fevers[0]["body"]
    isolation.sweep(engine=isolating)  # the daily check finds nothing it has not told
    run_due(isolating)
    assert len([n for n in notices(isolating, "nurse.chc2") if n["title"] == "Fever in home isolation"]) == 1
    with unit_of_work(isolating) as conn:
        seen = isolation.watched(conn, isolation.active_of(conn, "Patient/res-wang")[0], review.today())
    assert seen.reports.fever.celsius == 38.9 and seen.reports.symptoms == ("386661006",)


@ONE_STORE
def test_the_daily_job_ends_an_isolation_past_its_end_and_stops_the_monitoring(isolating, now):
    found = start(isolating, end="2026-03-04", reason="short exposure")
    run_due(isolating)
    now[0] = at("2026-03-04T23:00:00")
    assert isolation.sweep(engine=isolating)["ended"] == 0
    now[0] = at("2026-03-05T00:30:00")
    assert isolation.sweep(engine=isolating)["ended"] == 1
    with unit_of_work(isolating) as conn:
        ended = isolation.read(conn, found.id)
    assert (ended.status, ended.end, ended.closing["how"]) == ("finished", date(2026, 3, 4), "end-date")
    assert queued(isolating, isolation.MONITORING_END) == [{"patient": "res-wang"}]
    run_due(isolating)
    assert home_plans("active") == [] and len(home_plans("completed")) == 1


@ONE_STORE
def test_an_officer_moves_the_end_then_ends_it_early_each_audited(isolating, now):
    found = start(isolating)
    with unit_of_work(isolating) as conn:
        with pytest.raises(isolation.IsolationInvalid):
            isolation.change_end(conn, ctx=OFFICER, isolation_id=found.id, seen_version=1, end_text="2026-03-15",
                                 reason="  ", today=review.today())
        moved = isolation.change_end(conn, ctx=OFFICER, isolation_id=found.id, seen_version=1,
                                     end_text="2026-03-15", reason="second exposure on 22 February",
                                     today=review.today())
    assert moved.end == date(2026, 3, 15) and moved.end_change["reason"] == "second exposure on 22 February"
    with unit_of_work(isolating) as conn, pytest.raises(review.VersionConflict):
        isolation.finish(conn, ctx=OFFICER, isolation_id=found.id, seen_version=1, reason="x", today=review.today())
    now[0] = at("2026-03-06T10:00:00")
    with unit_of_work(isolating) as conn:
        ended = isolation.finish(conn, ctx=OFFICER, isolation_id=found.id, seen_version=2,
                                 reason="negative test, not a contact after all", today=review.today())
        with pytest.raises(review.ActRefused):
            isolation.finish(conn, ctx=OFFICER, isolation_id=found.id, seen_version=3, reason="x",
                             today=review.today())
        trail = audit.search(conn, agent="user/officer.li", patient="Patient/res-wang")
    assert (ended.status, ended.end, ended.closing["reason"]) == ("finished", date(2026, 3, 6),
                                                                   "negative test, not a contact after all")
    assert {"home isolation started (contact)", "home isolation end moved to 2026-03-15",
            "home isolation finished (officer)"} <= {e["event"]["purposeOfEvent"][0]["text"] for e in trail}


def test_a_day_is_judged_only_once_it_is_whole_and_the_isolation_had_begun():
    rules = load().control
    obs = [{"code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]}, "valueQuantity": {"value": v},
            "effectiveDateTime": t} for t, v in (("2026-03-03T01:00:00Z", 36.5), ("2026-03-03T12:00:00Z", 37.3))]
    found = control.summarise(obs, first_day=date(2026, 3, 2), judged_from=date(2026, 3, 3), last_day=date(2026, 3, 9),
                              today=date(2026, 3, 4), rules_=rules)
    assert [(d.day.day, d.count, d.missed) for d in found.days] == [(2, 0, False), (3, 2, False), (4, 0, False)]
    assert found.fever.celsius == 37.3  # the fever line is 37.3 °C or more
