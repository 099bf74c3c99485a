"""Emergency department waits on the nearest-hospital page: from the queue's arrivals and calls, never guessed."""

import random
import re
from datetime import UTC, datetime, timedelta

import pytest

from smartcare.demo.emergency import Department, arrival_times, play_arrivals
from smartcare.fhir import store
from smartcare.hospital.queue import service as queue
from smartcare.hospital.queue import waits
from smartcare.hospital.queue.waits import Arrival, EmergencyWait, emergency_wait, summarise
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.web_support import browser

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # 16:00 in the region: the afternoon, before the queue's 18:00
ED = {"org-hosp-1": "hcs-hosp-1-emergency", "org-hosp-2": "hcs-hosp-2-emergency"}
# Jianshe Road is beside the Hexi hospital (org-hosp-2), a few km from the First Hospital (org-hosp-1).
NEAR_HEXI = {"address": "Jianshe Road 5"}


def _at(minutes_before: float) -> datetime:
    return NOW - timedelta(minutes=minutes_before)


# --- the figures, as plain functions ------------------------------------------------------------


def test_no_arrival_at_all_is_not_known():
    assert summarise([], NOW) is None


def test_arrivals_older_than_the_lookback_are_not_known_either():
    stale = Arrival("waiting", NOW - waits.LOOKBACK - timedelta(minutes=1), None, False)
    assert summarise([stale], NOW) is None


def test_the_count_is_of_patients_waiting_and_the_wait_is_the_median_of_recent_calls():
    arrivals = [Arrival("done", _at(120), _at(110), False), Arrival("done", _at(90), _at(60), False),
                Arrival("called", _at(50), _at(10), False), Arrival("waiting", _at(20), None, False),
                Arrival("waiting", _at(5), None, False)]
    assert summarise(arrivals, NOW) == EmergencyWait(waiting=2, median_minutes=30)


def test_calls_before_the_recent_window_and_returns_after_a_missed_call_do_not_make_the_wait():
    long_ago = NOW - waits.RECENT - timedelta(minutes=5)
    arrivals = [Arrival("done", long_ago - timedelta(minutes=90), long_ago, False),
                Arrival("called", _at(60), _at(1), True), Arrival("waiting", _at(3), None, False)]
    assert summarise(arrivals, NOW) == EmergencyWait(waiting=1, median_minutes=None)


def test_arrivals_come_only_when_the_queue_takes_a_check_in():
    evening = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 17:00 to 20:00 in the region; the queue closes at 18:00
    times = arrival_times(random.Random(1), doctors=3, start=evening, end=evening + timedelta(hours=3))
    assert times and all(t < evening + timedelta(hours=1) for t in times)


# --- from the queue ----------------------------------------------------------------------------


@pytest.fixture
def moment(region):
    now = [NOW]
    clock.set_clock(lambda: now[0])
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [
            *(store.Write("PUT", "Patient", f"p{i}", {"resourceType": "Patient", "id": f"p{i}",
                                                       "birthDate": "1980-01-01", "name": [{"family": f"P{i}"}]})
              for i in range(1, 40)),
            *(store.Write("PUT", "Practitioner", d, {"resourceType": "Practitioner", "id": d, "name": [{"family": d}]})
              for d in ("ed-1", "ed-2", "ed-3"))])
    yield now
    clock.set_clock(None)


def _arrive(now: list[datetime], patient: str, *, hospital: str = "org-hosp-1", doctor: str = "ed-1") -> str:
    """A walk-in at the emergency department, checked in at the desk at now[0]; the queue session's key."""
    start = clock.format_instant(now[0])
    appointment = {"resourceType": "Appointment", "status": "booked", "start": start, "end": start, "participant": [
        {"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"},
        {"actor": {"reference": f"Practitioner/{doctor}"}, "status": "accepted"},
        {"actor": {"reference": f"HealthcareService/{ED[hospital]}"}, "status": "accepted"}]}
    with unit_of_work() as conn:
        made = store.create(conn, SYSTEM, appointment)
        return queue.check_in(conn, SYSTEM, appointment_id=made.res_id, via="desk")["session"]


def _call_next(session: str) -> None:
    with unit_of_work() as conn:
        queue.call_next(conn, SYSTEM, session_key=session)


def _wait(hospital: str = "org-hosp-1") -> EmergencyWait | None:
    with unit_of_work() as conn:
        return emergency_wait(conn, ED[hospital])


def test_the_wait_changes_as_patients_arrive_and_are_seen(moment):
    assert _wait() is None
    session = _arrive(moment, "p1")
    assert _wait() == EmergencyWait(waiting=1, median_minutes=None)
    moment[0] += timedelta(minutes=10)
    _arrive(moment, "p2")
    assert _wait().waiting == 2
    moment[0] += timedelta(minutes=20)
    _call_next(session)  # p1 is seen after 30 minutes
    assert _wait() == EmergencyWait(waiting=1, median_minutes=30)
    moment[0] += timedelta(minutes=30)
    _call_next(session)  # p2 after 50: the median of 30 and 50
    assert _wait() == EmergencyWait(waiting=0, median_minutes=40)
    assert _wait("org-hosp-2") is None  # the other hospital's department has had nobody


def test_only_visits_to_the_emergency_department_count(moment):
    start = clock.format_instant(moment[0])
    elsewhere = {"resourceType": "Appointment", "status": "booked", "start": start, "end": start, "participant": [
        {"actor": {"reference": "Patient/p1"}, "status": "accepted"},
        {"actor": {"reference": "Practitioner/ed-1"}, "status": "accepted"},
        {"actor": {"reference": "HealthcareService/hcs-hosp-1-cardiology"}, "status": "accepted"}]}
    with unit_of_work() as conn:
        queue.check_in(conn, SYSTEM, appointment_id=store.create(conn, SYSTEM, elsewhere).res_id, via="desk")
    assert _wait() is None


def test_the_page_shows_the_wait_and_sorts_by_it(moment):
    for n in range(3):  # the First Hospital: three arrive, the first is seen after 45 minutes, two still wait
        first = _arrive(moment, f"p{n + 1}")
    hexi = _arrive(moment, "p10", hospital="org-hosp-2", doctor="ed-2")
    moment[0] += timedelta(minutes=45)
    _call_next(first)
    moment[0] += timedelta(minutes=5)  # and Hexi's patient after 50; five more wait there
    _call_next(hexi)
    for n in range(5):
        _arrive(moment, f"p{20 + n}", hospital="org-hosp-2", doctor="ed-2")
    with browser() as web:
        by_distance = web.get("/app/nearest", params=NEAR_HEXI)
        by_wait = web.get("/app/nearest", params={**NEAR_HEXI, "sort": "wait"})
        chinese = web.get("/app/nearest", params={**NEAR_HEXI, "sort": "wait", "lang": "zh-Hans"})
    emergency = re.compile(r'<h3>([^<]+?)(?: <span class="nav-badge">|</h3>)')
    assert [n for n in emergency.findall(by_distance.text)][:2] == [
        "Hexi District People&#39;s Hospital", "Riverside City First People&#39;s Hospital"]
    assert [n for n in emergency.findall(by_wait.text)][:2] == [
        "Riverside City First People&#39;s Hospital", "Hexi District People&#39;s Hospital"]
    assert "2 patients waiting now" in by_wait.text and "5 patients waiting now" in by_wait.text
    assert "Recent wait to be seen: about 45 min" in by_wait.text and "about 50 min" in by_wait.text
    assert "Waiting time not known" not in by_wait.text
    assert "近期候诊时间约45分钟" in chinese.text and "目前5人候诊" in chinese.text and "等候时间" in chinese.text


def test_not_known_on_the_page_only_while_there_is_no_data(moment):
    with browser() as web:
        assert web.get("/app/nearest", params=NEAR_HEXI).text.count("Waiting time not known") == 2
        _arrive(moment, "p1", hospital="org-hosp-2", doctor="ed-2")
        page = web.get("/app/nearest", params=NEAR_HEXI).text
    assert page.count("Waiting time not known") == 1 and "1 patient waiting now" in page


# --- the demo's arrivals --------------------------------------------------------------------------


def test_the_demo_arrivals_leave_a_queue_and_recent_waits(moment):
    department = Department(ED["org-hosp-1"], ("ed-1", "ed-2", "ed-3"))
    with unit_of_work() as conn:
        arrived = play_arrivals(conn, random.Random(7), department, [f"p{i}" for i in range(1, 40)], now=NOW)
    clock.set_clock(lambda: NOW)
    shown = _wait()
    assert arrived > 10 and shown is not None and shown.median_minutes is not None
    with unit_of_work() as conn:
        tickets = conn.execute(queue.sa.select(queue.queue_ticket.c.status)).scalars().all()
    assert len(tickets) == arrived and shown.waiting == tickets.count("waiting")
    assert 1 <= tickets.count("called") <= 3 and tickets.count("done") > 0
