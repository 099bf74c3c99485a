"""Stored schedule templates: the slots they make, idempotent regeneration, the nightly horizon, fees from the
department, and leave and holidays that cancel bookings and tell the patients why."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from smartcare.fhir import store
from smartcare.hospital.directory import conventions as dc
from smartcare.hospital.scheduling import leave, schedules, service, templates_store
from smartcare.hospital.scheduling.models import booking_slot, schedule_block, schedule_template
from smartcare.hospital.scheduling.rules import Session, TemplateInvalid
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import run_due
from smartcare.platform.jobs.worker import load_handlers, tick
from smartcare.platform.notifications.service import inbox
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.hospital.scheduling.conftest import HOURS, RULES, TUESDAY, patient_ctx, put_all
from tests.web_support import PASSWORD

WEDNESDAY, NEXT_MONDAY = date(2026, 3, 4), date(2026, 3, 9)
MORNING = (Session("am", time(8), time(12)),)
DOCTOR_CODE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/practitioner-role", "code": "doctor"}]}


def dermatology(fees: dict[str, float]) -> dict:
    service_resource = {"resourceType": "HealthcareService", "id": "hcs-derm", "name": "Dermatology",
                        "providedBy": {"reference": "Organization/org-h"}, "availableTime": HOURS}
    dc.set_fees(service_resource, fees)
    return service_resource


@pytest.fixture
def wang(clinic):
    """Dr Wang, an expert in dermatology at the clinic's hospital, whose department charges 20 / 80 yuan."""
    role = {"resourceType": "PractitionerRole", "id": "role-wang", "active": True, "code": [DOCTOR_CODE],
            "practitioner": {"reference": "Practitioner/prac-wang"}, "organization": {"reference": "Organization/org-h"},
            "healthcareService": [{"reference": "HealthcareService/hcs-derm"}]}
    dc.set_visit_type(role, "expert")
    put_all(clinic.engine, [dermatology({"ordinary": 20, "expert": 80}),
                            {"resourceType": "Practitioner", "id": "prac-wang", "name": [{"text": "Wang Fang"}]}, role])
    return clinic


def save(engine, **changes) -> templates_store.StoredTemplate:
    values = dict(role_id="role-wang", weekdays=frozenset({0, 2}), sessions=MORNING, slot_minutes=30, capacity=2,
                  visit_type="expert", fee=None, updated_by="admin.test")
    values.update(changes)
    with unit_of_work(engine) as conn:
        return templates_store.save_template(conn, **values)


def slots_of(engine, practitioner_id: str = "prac-wang") -> list[sa.Row]:
    with unit_of_work(engine) as conn:
        return conn.execute(sa.select(booking_slot).where(booking_slot.c.practitioner_id == practitioner_id)
                            .order_by(booking_slot.c.start)).all()


def local(instant: str) -> datetime:
    return datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(schedules.region_zone())


def test_a_saved_template_makes_its_slots_on_its_weekdays_in_shanghai_time(wang):
    save(wang.engine)
    with unit_of_work(wang.engine) as conn:
        made = templates_store.generate(conn, role_id="role-wang", start=TUESDAY, days=7)
    rows = slots_of(wang.engine)
    assert made.created == len(rows) == 16
    assert {r.day for r in rows} == {WEDNESDAY.isoformat(), NEXT_MONDAY.isoformat()}
    starts = sorted({local(r.start).strftime("%H:%M") for r in rows})
    assert starts == ["08:00", "08:30", "09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
    assert rows[0].start == "2026-03-04T00:00:00.000Z" and rows[-1].end == "2026-03-09T04:00:00.000Z"
    assert {(r.capacity, r.visit_type, r.session) for r in rows} == {(2, "ROUTINE", "am")}


def test_generating_a_stored_template_again_makes_no_duplicates(wang):
    save(wang.engine)
    with unit_of_work(wang.engine) as conn:
        templates_store.generate(conn, role_id="role-wang", start=TUESDAY, days=7)
        again = templates_store.generate(conn, role_id="role-wang", start=TUESDAY, days=7)
        fhir_slots = conn.execute(sa.text("SELECT count(*) FROM fhir_resource WHERE res_type = 'Slot' "
                                          "AND res_id LIKE 'slot-role-wang-%'")).scalar_one()
    assert (again.created, again.existing) == (0, 16)
    assert len(slots_of(wang.engine)) == fhir_slots == 16


def test_the_nightly_job_extends_every_active_template_to_the_horizon_as_the_days_pass(wang, now):
    load_handlers()
    save(wang.engine, weekdays=frozenset(range(7)), slot_minutes=60)
    save(wang.engine, role_id="role-li", weekdays=frozenset(range(7)), slot_minutes=60, visit_type="ordinary",
         fee=1500, active=False)
    tick(wang.engine)
    first = slots_of(wang.engine)
    # 16:00 in Shanghai on 2 March: today's morning is over, so 3 to 15 March, four slots a day.
    assert len(first) == 13 * 4 and first[-1].day == "2026-03-15"
    assert len(slots_of(wang.engine, "prac-li")) == len(wang.slots)  # inactive: nothing new
    now[0] = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)  # 01:00 on 4 March in Shanghai
    tick(wang.engine)
    later = slots_of(wang.engine)
    assert later[-1].day == "2026-03-17" and len(later) == len(first) + 2 * 4
    assert len({r.slot_id for r in later}) == len(later)
    with unit_of_work(wang.engine) as conn:
        schedule = store.read(conn, SYSTEM, res_type="Schedule", res_id="sched-role-wang").resource
    assert schedule["planningHorizon"]["end"] == "2026-03-17T16:00:00.000Z"  # 18 March 00:00 in Shanghai


def test_the_fee_comes_from_the_department_unless_the_template_sets_one(wang):
    save(wang.engine)
    with unit_of_work(wang.engine) as conn:
        templates_store.generate(conn, role_id="role-wang", start=TUESDAY, days=2)
    assert {r.fee for r in slots_of(wang.engine)} == {8000}
    put_all(wang.engine, [dermatology({"ordinary": 20, "expert": 95.5})])
    with unit_of_work(wang.engine) as conn:
        templates_store.generate(conn, role_id="role-wang", start=NEXT_MONDAY, days=1)
    assert {r.day: r.fee for r in slots_of(wang.engine)} == {"2026-03-04": 8000, "2026-03-09": 9550}
    save(wang.engine, fee=12000, weekdays=frozenset({3}))
    with unit_of_work(wang.engine) as conn:
        templates_store.generate(conn, role_id="role-wang", start=TUESDAY, days=3)
    assert {r.day: r.fee for r in slots_of(wang.engine)}["2026-03-05"] == 12000


def test_a_visit_type_the_department_has_no_fee_for_needs_a_fee_and_stores_nothing(wang):
    with pytest.raises(TemplateInvalid, match="no fee for this visit type"):
        save(wang.engine, visit_type="specialist")
    save(wang.engine, visit_type="specialist", fee=4000)
    with unit_of_work(wang.engine) as conn:
        assert templates_store.load_template(conn, role_id="role-wang").fee == 4000


@pytest.mark.parametrize(("changes", "message"), [
    ({"sessions": (Session("am", time(8), time(12)), Session("am-2", time(11), time(13)))},
     "Sessions am and am-2 overlap"),
    ({"slot_minutes": 25}, "Session am does not divide into 25-minute slots"),
    ({"sessions": (Session("am", time(12), time(8)),)}, "Session am ends before it starts"),
    ({"weekdays": frozenset()}, "Choose at least one weekday"),
    ({"capacity": 0}, "A slot holds from 1 to 500 patients"),
    ({"sessions": (Session("eve", time(18), time(20)),)}, "outside the department's opening hours"),
])
def test_a_template_that_cannot_work_is_refused_and_nothing_is_stored(wang, changes, message):
    with pytest.raises(TemplateInvalid, match=message):
        save(wang.engine, **changes)
    with unit_of_work(wang.engine) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schedule_template)).scalar_one() == 0


def _accounts(engine) -> dict[str, str]:
    with unit_of_work(engine) as conn:
        return {name: users.create_user(conn, username=name, password=PASSWORD, role="patient", fhir_ref=ref,
                                        locale=locale).id
                for name, ref, locale in (("pa1.en", "Patient/pa1", "en"), ("pa1.zh", "Patient/pa1", "zh-Hans"),
                                          ("pa2.en", "Patient/pa2", "en"))}


def _book(engine, patient_id: str, slot_id: str) -> str:
    with unit_of_work(engine) as conn:
        view = service.book(conn, ctx=patient_ctx(patient_id), slot_id=slot_id, patient_id=patient_id, limits=RULES)
        service.confirm_payment(conn, ctx=patient_ctx(patient_id), appointment_id=view.id, confirmation="ok")
    return view.id


def _last_notice(engine, user_id: str) -> tuple[str, str]:
    with unit_of_work(engine) as conn:
        latest = inbox(conn, user_id=user_id)[0]
    return latest["title"], latest["body"]


def test_leave_cancels_the_doctors_bookings_in_the_period_and_tells_each_patient_why(clinic):
    ids = _accounts(clinic.engine)
    booked = _book(clinic.engine, "pa1", clinic.slots[2])  # Tuesday 09:00 with Dr Li
    zone = schedules.region_zone()
    with unit_of_work(clinic.engine) as conn:
        done = leave.block(conn, organization_id="org-h", practitioner_id="prac-li", reason=leave.REASONS["leave"],
                           start=datetime.combine(TUESDAY, time(0), zone),
                           end=datetime.combine(TUESDAY + timedelta(days=1), time(0), zone), created_by="admin.test")
    assert [c.appointment_id for c in done.cancelled] == [booked]
    run_due(clinic.engine)
    assert _last_notice(clinic.engine, ids["pa1.en"]) == (
        "The hospital cancelled your appointment",
        "Li Wei is not available at 2026-03-03 09:00 (The doctor is on leave). Please book another time.")
    assert _last_notice(clinic.engine, ids["pa1.zh"]) == (
        "医院已取消您的预约", "Li Wei 医生在 2026-03-03 09:00 无法出诊（医生休假），请改约其他时间。")
    with unit_of_work(clinic.engine) as conn:
        assert inbox(conn, user_id=ids["pa2.en"]) == []
        appointment = store.read(conn, SYSTEM, res_type="Appointment", res_id=booked).resource
        recorded = leave.blocks_of(conn, organization_id="org-h")
    assert appointment["status"] == "cancelled"
    assert [(b.practitioner_id, b.cancelled, b.reason) for b in recorded] == [("prac-li", 1, "The doctor is on leave")]
    assert {r.blocked for r in slots_of(clinic.engine, "prac-li")} == {True}


def test_a_holiday_blocks_the_whole_hospital_also_slots_made_afterwards(wang):
    save(wang.engine)
    _accounts(wang.engine)
    zone = schedules.region_zone()
    booked = _book(wang.engine, "pa2", wang.slots[0])  # Dr Li, Tuesday 08:00
    with unit_of_work(wang.engine) as conn:
        done = leave.block(conn, organization_id="org-h", reason=leave.REASONS["holiday"],
                           start=datetime.combine(TUESDAY, time(0), zone),
                           end=datetime.combine(date(2026, 3, 6), time(0), zone), created_by="admin.test")
        templates_store.generate(conn, role_id="role-wang", start=TUESDAY, days=7)  # made after the holiday
    assert [c.appointment_id for c in done.cancelled] == [booked]
    assert {r.blocked for r in slots_of(wang.engine, "prac-li")} == {True}
    wang_slots = slots_of(wang.engine)
    assert {r.day: r.blocked for r in wang_slots} == {"2026-03-04": True, "2026-03-09": False}
    with unit_of_work(wang.engine) as conn:
        fhir_status = store.read(conn, SYSTEM, res_type="Slot", res_id=wang_slots[0].slot_id).resource["status"]
        blocks = conn.execute(sa.select(schedule_block)).all()
    assert fhir_status == "busy-unavailable"
    assert [(b.practitioner_id, b.organization_id) for b in blocks] == [(None, "org-h")]


def test_a_leave_that_ends_before_it_starts_is_refused_and_nothing_is_blocked(clinic):
    start = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
    with pytest.raises(leave.BlockInvalid, match="must end after it starts"), unit_of_work(clinic.engine) as conn:
        leave.block(conn, organization_id="org-h", practitioner_id="prac-li", reason="Annual leave", start=start,
                    end=start - timedelta(hours=1), created_by="admin.test")
    assert {r.blocked for r in slots_of(clinic.engine, "prac-li")} == {False}


def test_the_demo_stores_its_templates_with_the_departments_fees(wang):
    with unit_of_work(wang.engine) as conn:
        made = schedules.generate_demo_schedules(conn, days=7)
        stored = templates_store.templates_of(conn, organization_id="org-h")
    assert [t.role_id for t in stored] == ["role-wang"] and stored[0].fee is None
    assert made.created == len(slots_of(wang.engine)) > 0
    assert {r.fee for r in slots_of(wang.engine)} == {8000}
