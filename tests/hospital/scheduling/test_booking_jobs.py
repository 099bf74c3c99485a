"""Booking's jobs: confirmations, reminders the evening before and an hour before, and notices of cancellations,
releases, waitlist offers and blocked periods, in each linked account's language."""

from datetime import UTC, datetime, timedelta

import pytest

from smartcare.hospital.scheduling import errors, jobs, scheduled, service, waitlist
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import run_due
from smartcare.platform.jobs.worker import tick
from smartcare.platform.notifications.service import inbox
from smartcare.platform.security import users
from tests.hospital.scheduling.conftest import RULES, TUESDAY, patient_ctx
from tests.web_support import PASSWORD

# The stopped clock stands at Monday 2 March 2026, 08:00 UTC (16:00 in Shanghai); slot i of Tuesday starts at
# 08:00 + 30 min * i local time (00:00 UTC + 30 min * i) in the morning.
MONDAY_EVENING = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai


@pytest.fixture
def accounts(clinic) -> dict[str, str]:
    """Accounts linked to patients: pa1 has two (English and Chinese), pa2 one."""
    ids = {}
    with unit_of_work(clinic.engine) as conn:
        for username, ref, locale in (("pa1.en", "Patient/pa1", "en"), ("pa1.zh", "Patient/pa1", "zh-Hans"),
                                      ("pa2.en", "Patient/pa2", "en")):
            ids[username] = users.create_user(conn, username=username, password=PASSWORD, role="patient",
                                              fhir_ref=ref, locale=locale).id
    return ids


def told(engine, user_id: str) -> list[tuple[str, str, str]]:
    """(kind, title, body) of a person's notifications, oldest first."""
    with unit_of_work(engine) as conn:
        return [(n["kind"], n["title"], n["body"]) for n in reversed(inbox(conn, user_id=user_id))]


def book(clinic, patient_id: str, slot_index: int, *, paid: bool = True) -> service.BookingView:
    with unit_of_work(clinic.engine) as conn:
        view = service.book(conn, ctx=patient_ctx(patient_id), slot_id=clinic.slots[slot_index],
                            patient_id=patient_id, limits=RULES)
        if paid:
            service.confirm_payment(conn, ctx=patient_ctx(patient_id), appointment_id=view.id, confirmation="ok")
    return view


def at(now, moment: datetime, engine) -> int:
    """Move the clock to moment and run the jobs due then; how many ran."""
    now[0] = moment
    return run_due(engine)


def test_a_booking_is_confirmed_to_every_linked_account_in_its_language(clinic, accounts, now):
    book(clinic, "pa1", 2, paid=False)
    with pytest.raises(errors.SlotFull), unit_of_work(clinic.engine) as conn:
        service.book(conn, ctx=patient_ctx("pa2"), slot_id=clinic.slots[2], patient_id="pa2", limits=RULES)
    run_due(clinic.engine)
    assert told(clinic.engine, accounts["pa1.en"]) == [(
        jobs.CONFIRMED.name, "Your appointment is booked",
        "Li Wei, 2026-03-03 09:00. Please pay the registration fee soon, or the place will be released.")]
    assert told(clinic.engine, accounts["pa1.zh"]) == [(
        jobs.CONFIRMED.name, "您的预约已成功", "Li Wei，2026-03-03 09:00。请尽快支付挂号费，否则号源将被释放。")]
    assert told(clinic.engine, accounts["pa2.en"]) == []  # the refused booking left no job behind


def test_reminders_come_the_evening_before_and_an_hour_before(clinic, accounts, now):
    visit = book(clinic, "pa1", 2)  # 09:00 Tuesday in Shanghai
    run_due(clinic.engine)
    reminders = lambda: [t for k, t, _ in told(clinic.engine, accounts["pa1.en"]) if k == jobs.REMINDER.name]  # noqa: E731
    at(now, MONDAY_EVENING - timedelta(seconds=1), clinic.engine)
    assert reminders() == []
    at(now, MONDAY_EVENING, clinic.engine)
    assert reminders() == ["Reminder: your appointment is tomorrow"]
    at(now, datetime.fromisoformat(visit.start.replace("Z", "+00:00")) - timedelta(hours=1, seconds=1), clinic.engine)
    assert reminders() == ["Reminder: your appointment is tomorrow"]
    at(now, datetime(2026, 3, 3, 0, 0, tzinfo=UTC), clinic.engine)  # 08:00, an hour before
    assert reminders() == ["Reminder: your appointment is tomorrow", "Reminder: your appointment is in one hour"]
    assert told(clinic.engine, accounts["pa1.zh"])[-1][1] == "提醒：您的就诊将在一小时后开始"


def test_a_cancelled_booking_is_confirmed_cancelled_and_never_reminded(clinic, accounts, now):
    visit = book(clinic, "pa1", 2)
    run_due(clinic.engine)
    with unit_of_work(clinic.engine) as conn:
        service.cancel(conn, ctx=patient_ctx("pa1"), appointment_id=visit.id, limits=RULES)
    at(now, datetime(2026, 3, 3, 0, 30, tzinfo=UTC), clinic.engine)  # past both reminder times
    assert told(clinic.engine, accounts["pa1.en"]) == [
        (jobs.CONFIRMED.name, "Your appointment is booked", "Li Wei, 2026-03-03 09:00."),
        (jobs.CANCELLED.name, "Your appointment is cancelled", "Li Wei, 2026-03-03 09:00."),
    ]


def test_a_moved_booking_is_reminded_of_its_new_time_only(clinic, accounts, now):
    visit = book(clinic, "pa1", 2)
    run_due(clinic.engine)
    with unit_of_work(clinic.engine) as conn:
        service.reschedule(conn, ctx=patient_ctx("pa1"), appointment_id=visit.id, slot_id=clinic.slots[4],
                           limits=RULES)
    at(now, now[0] + timedelta(minutes=1), clinic.engine)  # the new time is confirmed
    at(now, MONDAY_EVENING, clinic.engine)
    assert [b for _, _, b in told(clinic.engine, accounts["pa1.en"])] == [
        "Li Wei, 2026-03-03 09:00.", "Li Wei, 2026-03-03 10:00.", "Li Wei, 2026-03-03 10:00."]
    assert [t for k, t, _ in told(clinic.engine, accounts["pa1.en"]) if k == jobs.REMINDER.name] == [
        "Reminder: your appointment is tomorrow"]
    at(now, datetime(2026, 3, 3, 1, 0, tzinfo=UTC), clinic.engine)  # 09:00: an hour before 10:00, the old time passed
    reminders = [b for k, _, b in told(clinic.engine, accounts["pa1.en"]) if k == jobs.REMINDER.name]
    assert reminders == ["Li Wei, 2026-03-03 10:00.", "Li Wei, 2026-03-03 10:00."]


def test_the_minutely_job_releases_unpaid_bookings_and_offers_the_place_from_the_waitlist(clinic, accounts, now):
    book(clinic, "pa1", 0, paid=False)
    with unit_of_work(clinic.engine) as conn:
        waitlist.join_waitlist(conn, ctx=patient_ctx("pa2"), practitioner_id="prac-li", day=TUESDAY.isoformat(),
                               patient_id="pa2")
    now[0] += timedelta(minutes=14)
    tick(clinic.engine)
    assert [k for k, _, _ in told(clinic.engine, accounts["pa1.en"])] == [jobs.CONFIRMED.name]
    now[0] += timedelta(minutes=1)
    tick(clinic.engine)
    assert told(clinic.engine, accounts["pa1.en"])[1:] == [(
        jobs.CANCELLED.name, "Your booking was released",
        "The registration fee for Li Wei, 2026-03-03 08:00 was not paid in time.")]
    assert told(clinic.engine, accounts["pa1.zh"])[-1][1] == "您的预约已被释放"
    assert told(clinic.engine, accounts["pa2.en"]) == [(
        jobs.OFFERED.name, "A place from the waitlist is yours",
        "Li Wei, 2026-03-03 08:00. Please pay the registration fee soon to keep it.")]


def test_leave_that_blocks_a_booked_slot_tells_the_patient(clinic, accounts, now):
    book(clinic, "pa1", 2)
    run_due(clinic.engine)
    start = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # 08:00 to 12:00 in Shanghai
    with unit_of_work(clinic.engine) as conn:
        scheduled.block_period(conn, start=start, end=start + timedelta(hours=4), reason="Annual leave",
                               practitioner_id="prac-li")
    at(now, MONDAY_EVENING, clinic.engine)
    assert told(clinic.engine, accounts["pa1.en"])[1:] == [(
        jobs.CANCELLED.name, "The hospital cancelled your appointment",
        "Li Wei is not available at 2026-03-03 09:00 (Annual leave). Please book another time.")]
    assert told(clinic.engine, accounts["pa1.zh"])[-1][2] == \
        "Li Wei 医生在 2026-03-03 09:00 无法出诊（Annual leave），请改约其他时间。"


def test_reminders_are_scheduled_once_per_booking_and_time(clinic, accounts, now):
    visit = book(clinic, "pa1", 2)
    run_due(clinic.engine)
    with unit_of_work(clinic.engine) as conn:
        jobs.enqueue_booking_jobs(conn, visit)  # a repeat of the same booking at the same time
    assert run_due(clinic.engine) == 0
    at(now, datetime(2026, 3, 3, 0, 0, tzinfo=UTC), clinic.engine)
    assert [k for k, _, _ in told(clinic.engine, accounts["pa1.en"])] == [
        jobs.CONFIRMED.name, jobs.REMINDER.name, jobs.REMINDER.name]
