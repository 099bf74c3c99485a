"""Round-the-clock answering: offering unclaimed consultations to the doctor on duty when the clock moves on, and the
expected wait the patient is told, from recent pick-up times."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from smartcare.hospital.consultation import duty, waits
from smartcare.hospital.consultation.models import consultation_duty
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import job
from smartcare.platform.jobs.worker import tick
from smartcare.platform.notifications.tables import notification
from tests.hospital.consultation import conftest
from tests.hospital.consultation.conftest import NOW
from tests.web_support import make_user

BASE = "/api/v1/consultations"
_moment: list = []


def _real_time_token(make, who: str) -> dict[str, str]:
    """A token issued on the real clock: PyJWT checks expiry against real time whatever the test's clock says."""
    clock.set_clock(None)
    try:
        return make(who)
    finally:
        clock.set_clock(lambda: _moment[0][0])


def patient_token(who: str) -> dict[str, str]:
    return _real_time_token(conftest.patient_token, who)


def doctor_token(who: str) -> dict[str, str]:
    return _real_time_token(conftest.doctor_token, who)


@pytest.fixture
def clocked(hospital, moment):
    """The hospital, then a clock the test moves (after the hospital's own token was issued)."""
    _moment[:] = [moment]
    yield hospital
    _moment.clear()


def _open(client, who="p1", **target) -> str:
    opened = client.post(BASE, headers=patient_token(who), json={
        "patient": who, "kind": "advice", "question": "Palpitations at night", **target})
    assert opened.status_code == 201, opened.text
    return opened.json()["id"]


def _roster(*duties):
    with unit_of_work() as conn:
        for practitioner, department, start_hour, end_hour in duties:
            duty.add_duty(conn, department_id=department, practitioner_id=practitioner,
                          starts=NOW.replace(hour=start_hour), ends=NOW.replace(hour=end_hour))


def _at(moment, minutes: float, engine) -> None:
    moment[0] = NOW + timedelta(minutes=minutes)
    tick(engine)


def test_a_chosen_doctor_who_does_not_answer_in_time_is_backed_by_the_doctor_on_duty(clocked, moment, engine):
    hospital = clocked
    make_user(engine, "doctor", username="dr.lin", fhir_ref="Practitioner/doc-b", organization="Organization/org-a",
              locale="zh-Hans")
    _roster(("doc-a", "dept-cardio", 0, 12), ("doc-b", "dept-cardio", 6, 18))
    cid = _open(hospital, practitioner="doc-a")
    doc_b = doctor_token("doc-b")
    _at(moment, 9, engine)  # not yet: the pick-up time is ten minutes
    assert hospital.get(f"{BASE}/inbox", headers=doc_b).json() == []
    assert hospital.post(f"{BASE}/{cid}/pick-up", headers=doc_b).status_code == 404
    _at(moment, 11, engine)
    offered = hospital.get(f"{BASE}/inbox", headers=doc_b).json()
    assert [(c["id"], c["offered_to"]) for c in offered] == [(cid, "doc-b")]
    with unit_of_work() as conn:
        told = conn.execute(sa.select(notification.c.kind, notification.c.link, notification.c.title)).all()
    # Told in the language of their account.
    assert ("consultation.offered", f"/workstation/consultations/{cid}", "有在线咨询等待接诊") in told
    picked = hospital.post(f"{BASE}/{cid}/pick-up", headers=doc_b)
    assert picked.status_code == 200 and picked.json()["practitioner"] == "doc-b"
    _at(moment, 30, engine)  # picked up: nothing more is offered
    assert hospital.get(f"{BASE}/{cid}", headers=patient_token("p1")).json()["offers"] == 1


def test_a_pool_consultation_goes_round_the_doctors_on_duty_and_waits_when_nobody_is(clocked, moment, engine):
    hospital = clocked
    _roster(("doc-a", "dept-cardio", 0, 12), ("doc-b", "dept-cardio", 6, 9))
    cid = _open(hospital, department="dept-cardio")
    seen = []
    for minutes in (11, 22, 33):
        _at(moment, minutes, engine)
        seen.append(hospital.get(f"{BASE}/{cid}", headers=patient_token("p1")).json()["offered_to"])
    assert seen == ["doc-a", "doc-b", "doc-a"]
    _at(moment, 60 * 5, engine)  # 13:00: nobody on duty in cardiology any more, so the offer stays where it was
    after = hospital.get(f"{BASE}/{cid}", headers=patient_token("p1")).json()
    assert (after["offered_to"], after["offers"]) == ("doc-a", 3)
    with unit_of_work() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(job).where(
            job.c.kind == "consultation.offer_unclaimed")).scalar() >= 4  # the periodic job did the work


def test_the_roster_refuses_impossible_duties(hospital):
    with unit_of_work() as conn, pytest.raises(duty.RosterInvalid):
        duty.add_duty(conn, department_id="dept-cardio", practitioner_id="doc-a", starts=NOW, ends=NOW)
    with unit_of_work() as conn, pytest.raises(duty.RosterInvalid):
        duty.add_duty(conn, department_id="dept-cardio", practitioner_id="doc-c", starts=NOW,
                      ends=NOW + timedelta(hours=8))  # a dermatologist on the cardiology roster
    with unit_of_work() as conn, pytest.raises(duty.RosterInvalid):
        duty.add_duty(conn, department_id="dept-cardio", practitioner_id="doc-a", starts=NOW,
                      ends=NOW + timedelta(days=8))


def test_next_on_duty_never_offers_to_the_chosen_doctor_or_the_same_one_twice():
    assert duty.next_on_duty(["a", "b", "c"], chosen="a", current=None, offers=0) == "b"
    assert duty.next_on_duty(["a", "b", "c"], chosen="a", current="b", offers=1) == "c"
    assert duty.next_on_duty(["a", "b"], chosen="a", current="b", offers=1) is None
    assert duty.next_on_duty(["a"], chosen="a", current=None, offers=0) is None


def test_the_expected_wait_is_the_median_of_recent_pick_ups_less_the_time_already_waited(clocked, moment):
    hospital = clocked
    doc = doctor_token("doc-b")
    for n, wait in enumerate((4, 6, 20)):
        moment[0] = NOW + timedelta(hours=n)
        cid = _open(hospital, department="dept-cardio")
        moment[0] += timedelta(minutes=wait)
        assert hospital.post(f"{BASE}/{cid}/pick-up", headers=doc).status_code == 200
    moment[0] = NOW + timedelta(hours=5)
    first = _open(hospital, "p2", department="dept-cardio")
    moment[0] += timedelta(minutes=2)
    second = _open(hospital, department="dept-cardio")
    told = hospital.get(f"{BASE}/{first}", headers=patient_token("p2")).json()["expected_wait"]
    assert told == {"typical_minutes": 6.0, "remaining_minutes": 4.0, "samples": 3, "basis": "pool", "ahead": 0}
    behind = hospital.get(f"{BASE}/{second}", headers=patient_token("p1")).json()["expected_wait"]
    assert (behind["remaining_minutes"], behind["ahead"]) == (6.0, 1)
    moment[0] += timedelta(minutes=30)
    assert hospital.get(f"{BASE}/{second}", headers=patient_token("p1")).json()["expected_wait"][
        "remaining_minutes"] == 0.0
    # Dermatology has no recent pick-ups of its own: the whole service's figure is told instead.
    derm = _open(hospital, "p3", department="dept-derm")
    assert hospital.get(f"{BASE}/{derm}", headers=patient_token("p3")).json()["expected_wait"]["basis"] == "service"
    mine = hospital.get(BASE, params={"patient": "p1"}, headers=patient_token("p1")).json()
    assert [c["expected_wait"] is None for c in mine if c["status"] != "waiting"] == [True] * 3


def test_typical_and_remaining_wait_figures():
    assert waits.typical_wait([]) is None
    assert waits.typical_wait([3.0, 30.0, 5.0, 4.0]) == 4.5
    assert waits.remaining_wait(None, 3) is None
    assert waits.remaining_wait(10.0, 3.5) == 6.5 and waits.remaining_wait(10.0, 12) == 0.0


def _duties() -> list[tuple[str, str, str]]:
    with unit_of_work() as conn:
        return [tuple(r) for r in conn.execute(sa.select(
            consultation_duty.c.practitioner_id, consultation_duty.c.starts, consultation_duty.c.ends)
            .order_by(consultation_duty.c.starts)).all()]


def _on_duty_at(when) -> list[str]:
    with unit_of_work() as conn:
        return duty.on_duty(conn, department_ids=["dept-cardio"], at=when)


def test_the_roster_rolls_on_from_its_weekly_pattern_as_the_days_pass_and_rolling_twice_adds_nothing(
        clocked, moment, engine):
    # The week's pattern: Lin the day shift and Chen the night on the first day, Chen the day shift three days on.
    _roster(("doc-b", "dept-cardio", 8, 20))
    with unit_of_work() as conn:
        duty.add_duty(conn, department_id="dept-cardio", practitioner_id="doc-a", starts=NOW.replace(hour=20),
                      ends=NOW.replace(hour=20) + timedelta(hours=12))
        duty.add_duty(conn, department_id="dept-cardio", practitioner_id="doc-a", starts=NOW + timedelta(days=3),
                      ends=NOW + timedelta(days=3, hours=12))
    assert _on_duty_at(NOW + timedelta(days=7, hours=1)) == []  # nothing beyond the pattern yet
    _at(moment, 10 * 24 * 60, engine)  # ten days on: the hourly roster job has run
    assert _on_duty_at(NOW + timedelta(days=10, hours=1)) == ["doc-a"]  # the pattern's fourth day, a week later
    assert _on_duty_at(NOW + timedelta(days=14, hours=1)) == ["doc-b"]
    assert _on_duty_at(NOW + timedelta(days=14, hours=13)) == ["doc-a"]
    assert _on_duty_at(NOW + timedelta(days=16, hours=1)) == []  # the pattern has nobody then
    rolled = _duties()
    assert len(rolled) == len(set(rolled))
    with unit_of_work() as conn:
        assert duty.roll_rosters(conn) == 0
    _at(moment, 10 * 24 * 60 + 30, engine)
    assert _duties() == rolled
    # A week ahead and no further: Chen's night two weeks on is the last; the next hour's run reaches the day after.
    assert rolled[-1][1] == clock.format_instant(NOW + timedelta(days=14, hours=12))
    _at(moment, 10 * 24 * 60 + 60, engine)
    assert _duties()[-1][:2] == ("doc-a", clock.format_instant(NOW + timedelta(days=17)))


def test_a_roster_left_unrolled_for_weeks_resumes_now_and_a_removed_duty_is_not_put_back(clocked, moment, engine):
    _roster(("doc-a", "dept-cardio", 0, 12), ("doc-b", "dept-cardio", 12, 23))
    moment[0] = NOW + timedelta(days=30)  # five weeks on, two days into the week
    with unit_of_work() as conn:
        assert duty.roll_rosters(conn) == 2  # only the coming week: nothing for the weeks gone by
    assert _on_duty_at(NOW + timedelta(days=35, hours=3)) == ["doc-a"]
    assert _on_duty_at(NOW + timedelta(days=35, hours=13)) == ["doc-b"]
    with unit_of_work() as conn:
        conn.execute(sa.delete(consultation_duty).where(
            consultation_duty.c.practitioner_id == "doc-a",
            consultation_duty.c.starts == clock.format_instant(NOW.replace(hour=0) + timedelta(days=35))))
        assert duty.roll_rosters(conn) == 0
    assert _on_duty_at(NOW + timedelta(days=35, hours=3)) == []


def test_a_doctor_who_left_the_department_is_not_rolled_onto_its_roster(clocked, moment, engine):
    _roster(("doc-a", "dept-cardio", 0, 12), ("doc-b", "dept-cardio", 12, 23))
    hospital = clocked
    assert hospital.delete("/fhir/PractitionerRole/role-b").status_code in (200, 204)
    with unit_of_work() as conn:
        assert duty.roll_rosters(conn, now=NOW + timedelta(days=1)) == 1
    assert _on_duty_at(NOW + timedelta(days=7, hours=13)) == []
    assert _on_duty_at(NOW + timedelta(days=7, hours=3)) == ["doc-a"]
