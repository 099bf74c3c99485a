"""Check-in, numbers, calling order, skips, transfers and waits, on SQLite and PostgreSQL."""

import threading
from datetime import timedelta

import pytest

from smartcare.fhir import store
from smartcare.hospital.queue import service
from smartcare.platform import events
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.scopes import parse_scopes
from tests.hospital.queue.conftest import SESSION, appointment

DOCTOR = AccessContext(kind="user", name="dr.chen", roles=frozenset({"doctor"}), organization="Organization/org-a",
                       fhir_user="Practitioner/doc-a", scopes=parse_scopes("user/*.cruds"), subject="u-doc-a")
COLLEAGUE = AccessContext(kind="user", name="dr.lin", roles=frozenset({"nurse"}), organization="Organization/org-a",
                          fhir_user="Practitioner/doc-a2", scopes=parse_scopes("user/*.cruds"), subject="u-doc-a2")
STRANGER = AccessContext(kind="user", name="dr.zhou", roles=frozenset({"doctor"}), organization="Organization/org-b",
                         fhir_user="Practitioner/doc-b", scopes=parse_scopes("user/*.cruds"), subject="u-doc-b")


def patient_ctx(pid: str) -> AccessContext:
    return AccessContext(kind="user", name=f"user.{pid}", roles=frozenset({"patient"}), patient=f"Patient/{pid}",
                         fhir_user=f"Patient/{pid}", scopes=parse_scopes("patient/*.cruds"), subject=f"u-{pid}")


def check_in(pid: str, aid: str | None = None, **kw) -> dict:
    with unit_of_work() as conn:
        return service.check_in(conn, patient_ctx(pid), appointment_id=aid or f"a{pid[1:]}", **kw)


def act(action, ctx=DOCTOR, **kw):
    with unit_of_work() as conn:
        return action(conn, ctx, session_key=SESSION, **kw)


def status_of(aid: str) -> str:
    with unit_of_work() as conn:
        return store.read(conn, SYSTEM, res_type="Appointment", res_id=aid).resource["status"]


def test_checking_in_gives_the_next_number_and_marks_the_appointment_arrived(clinic):
    first, second = check_in("p2"), check_in("p1")
    assert (first["number"], second["number"]) == (1, 2)
    assert first["session"] == SESSION and status_of("a2") == "arrived"
    # p1's appointment is earlier, so p1 is called first although p2 came first.
    assert check_in("p1") == {**second, "ahead": 0, "wait_minutes": 0}
    assert check_in("p2")["ahead"] == 1


def test_a_patient_cannot_check_in_someone_elses_visit(clinic):
    with pytest.raises(service.QueueError) as refused:
        check_in("p1", "a2")
    assert refused.value.code == "no-appointment" and refused.value.status == 404
    assert status_of("a2") == "booked"


def test_check_in_opens_an_hour_before_and_closes_with_the_session(clinic, moment):
    with unit_of_work() as conn:
        store.update(conn, SYSTEM, appointment("a-late", "p1", 200), res_type="Appointment", res_id="a-late")
    with pytest.raises(service.QueueError) as early:
        check_in("p1", "a-late")
    assert early.value.code == "too-early"
    moment[0] += timedelta(hours=2, minutes=1)
    with pytest.raises(service.QueueError) as late:
        check_in("p1", "a1")
    assert late.value.code == "too-late"


def test_only_booked_visits_are_checked_in(clinic):
    with unit_of_work() as conn:
        store.update(conn, SYSTEM, appointment("a1", "p1", 10, status="cancelled"), res_type="Appointment", res_id="a1")
    with pytest.raises(service.QueueError) as refused:
        check_in("p1")
    assert refused.value.code == "not-booked"


def test_the_doctor_calls_in_appointment_order_with_the_elderly_first(clinic):
    for pid in ("p3", "p1", "p2"):
        check_in(pid)
    with unit_of_work() as conn:
        old = service.check_in(conn, patient_ctx("old"), appointment_id="a-old")
    assert old["priority"] == "elderly"
    called = [act(service.call_next)["number"] for _ in range(4)]
    assert called == [old["number"], 2, 3, 1]
    assert status_of("a-old") == "fulfilled" and status_of("a1") == "fulfilled" and status_of("a3") == "arrived"
    assert act(service.call_next) is None
    assert status_of("a3") == "fulfilled"


def test_a_skipped_patient_returns_behind_three_others(clinic):
    for pid in ("p1", "p2", "p3", "p4", "p5", "p6"):
        check_in(pid)
    assert act(service.call_next)["number"] == 1
    assert act(service.skip)["status"] == "skipped"
    assert status_of("a1") == "noshow"
    back = check_in("p1")
    assert back["number"] == 1 and back["ahead"] == 3 and status_of("a1") == "arrived"
    assert [act(service.call_next)["number"] for _ in range(5)] == [2, 3, 4, 1, 5]


def test_recall_and_finish_need_someone_called(clinic):
    check_in("p1")
    with pytest.raises(service.QueueError):
        act(service.recall)
    act(service.call_next)
    assert act(service.recall)["number"] == 1
    assert act(service.finish)["status"] == "done"
    with pytest.raises(service.QueueError):
        act(service.finish)


def test_only_the_doctor_and_colleagues_of_the_hospital_run_the_queue(clinic):
    check_in("p1")
    with pytest.raises(service.QueueError) as refused:
        act(service.call_next, STRANGER)
    assert refused.value.status == 403
    with pytest.raises(service.QueueError):
        act(service.call_next, patient_ctx("p1"))
    assert act(service.call_next, COLLEAGUE)["number"] == 1


def test_a_patient_is_transferred_to_a_colleague_with_a_new_number(clinic):
    check_in("p1")
    check_in("p2")
    moved = act(service.transfer, number=2, to_practitioner="doc-a2")
    assert moved["session"] == "doc-a2:2026-03-02:pm" and moved["number"] == 1 and moved["ahead"] == 0
    with pytest.raises(service.QueueError):
        act(service.transfer, number=1, to_practitioner="doc-b")  # another hospital


def test_the_estimated_wait_follows_the_doctors_pace(clinic, moment):
    for pid in ("p1", "p2", "p3", "p4"):
        check_in(pid)
    act(service.call_next)
    moment[0] += timedelta(minutes=12)
    act(service.call_next)
    moment[0] += timedelta(minutes=6)
    act(service.call_next)  # two finished consultations: 12 and 6 minutes, mean 9
    assert check_in("p4")["ahead"] == 0
    with unit_of_work() as conn:
        view = service.session_view(conn, SESSION)
    assert view["consult_minutes"] == 9.0 and view["called"]["number"] == 3
    assert [w["number"] for w in view["waiting"]] == [4]


def test_patients_are_told_when_three_are_ahead_and_when_called(clinic):
    heard = []
    listener = heard.append
    events.subscribe(service.PATIENT_NEAR, listener)
    events.subscribe(service.PATIENT_CALLED, listener)
    try:
        for pid in ("p1", "p2", "p3", "p4", "p5"):
            check_in(pid)
        act(service.call_next)
        act(service.call_next)
    finally:
        events.unsubscribe(service.PATIENT_NEAR, listener)
        events.unsubscribe(service.PATIENT_CALLED, listener)
    told = [(e.name, e.payload["patient"]) for e in heard]
    # After the first call p5 has three ahead; after the second nobody new reaches three ahead.
    assert told == [(service.PATIENT_CALLED, "p1"), (service.PATIENT_NEAR, "p5"), (service.PATIENT_CALLED, "p2")]
    assert heard[0].payload["room"] == "Location/room-3"


def test_concurrent_check_ins_never_share_a_number(clinic):
    numbers, errors = [], []

    def arrive(pid: str) -> None:
        try:
            numbers.append(check_in(pid)["number"])
        except Exception as exc:  # noqa: BLE001 (collected and asserted below)
            errors.append(exc)

    threads = [threading.Thread(target=arrive, args=(f"p{i}",)) for i in range(1, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and sorted(numbers) == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("session", ["doc-a", "doc-a:2026-13-40:pm", "doc-a:2026-03-02:noon", ":2026-03-02:am",
                                     "x" * 200 + ":2026-03-02:am"])
def test_malformed_sessions_are_refused(clinic, session):
    with pytest.raises(service.QueueError) as refused:
        service.Session.parse(session)
    assert refused.value.code == "bad-session"


def test_without_a_room_on_the_appointment_the_doctors_consulting_room_is_used(clinic):
    room = {"resourceType": "Location", "id": "room-101", "name": "Consulting room 101", "alias": ["101诊室"],
            "physicalType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                                         "code": "ro"}]}}
    role = {"resourceType": "PractitionerRole", "id": "role-a", "practitioner": {"reference": "Practitioner/doc-a"},
            "organization": {"reference": "Organization/org-a"}, "location": [{"reference": "Location/room-101"}]}
    bare = appointment("a1", "p1", 10)
    bare["participant"] = bare["participant"][:2]
    with unit_of_work() as conn:
        for resource in (room, role, bare):
            store.update(conn, SYSTEM, resource, res_type=resource["resourceType"], res_id=resource["id"])
    check_in("p1")
    with unit_of_work() as conn:
        view = service.session_view(conn, SESSION)
        assert view["room"] == "Location/room-101"
        assert service.room_label(conn, view["room"], "zh-Hans") == "101诊室"
        assert service.room_label(conn, view["room"], "en") == "Consulting room 101"
