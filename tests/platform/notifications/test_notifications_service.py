"""notify: inbox rows, delivery on chosen channels through jobs, quiet hours, preferences."""

import logging
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from smartcare.platform.clock import format_instant
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import run_due
from smartcare.platform.jobs.tables import job
from smartcare.platform.jobs.worker import load_handlers
from smartcare.platform.notifications import NotificationError, notification_kind, notify
from smartcare.platform.notifications.preferences import (
    PreferenceError,
    get_preferences,
    quiet_until,
    save_preferences,
)
from smartcare.platform.notifications.service import inbox, mark_read, unread_count
from tests.web_support import make_user

REMINDER = notification_kind("test.reminder", label="Appointment reminders", default_channels=("sms",))
ABOUT_A_PATIENT = notification_kind("test.about-patient", label="Results of your patients", default_channels=("sms",),
                                    private_body=True)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def patient(engine):
    load_handlers()
    return make_user(engine, "patient", phone="+8613800138000", email="pa1@example.org")


@pytest.mark.parametrize(("local", "expected"), [
    ("21:59", None), ("22:00", "2026-03-03T07:00"), ("23:30", "2026-03-03T07:00"), ("06:59", "2026-03-02T07:00"),
    ("07:00", None), ("12:00", None),
])
def test_quiet_hours_across_midnight(local, expected):
    hour, minute = map(int, local.split(":"))
    moment = datetime(2026, 3, 2, hour, minute, tzinfo=SHANGHAI)
    ends = quiet_until(moment, start=time(22), end=time(7), tz=SHANGHAI)
    assert (ends.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M") if ends else None) == expected


def test_a_notification_reaches_the_inbox_and_is_sent_by_sms(engine, now, patient, caplog):
    with unit_of_work(engine) as conn:
        notify(conn, user_id=patient.id, kind="test.reminder", title="Appointment tomorrow",
               body="Dr Li at 09:30, Clinic A", link="/app")
    with unit_of_work(engine) as conn:
        (item,) = inbox(conn, user_id=patient.id)
        assert unread_count(conn, user_id=patient.id) == 1
    assert item["title"] == "Appointment tomorrow" and item["read"] is None
    with caplog.at_level(logging.INFO, logger="smartcare.notifications"):
        assert run_due(engine) == 1
    (sent,) = [r for r in caplog.records if r.name == "smartcare.notifications"]
    assert sent.getMessage().startswith("sms to user") and "Appointment tomorrow" in sent.getMessage()
    assert "13800138000" not in sent.getMessage()


def test_a_notice_about_a_patient_goes_out_by_sms_without_its_body(engine, now, patient, caplog):
    with unit_of_work(engine) as conn:
        notify(conn, user_id=patient.id, kind="test.about-patient", title="Critical laboratory result",
               body="Wang Fang: Potassium 6.8 mmol/L (HH)", link="/workstation/lab/critical/t1")
    with caplog.at_level(logging.INFO, logger="smartcare.notifications"):
        assert run_due(engine) == 1
    (sent,) = [r for r in caplog.records if r.name == "smartcare.notifications"]
    assert "Critical laboratory result" in sent.getMessage() and "/workstation/lab/critical/t1" in sent.getMessage()
    assert "Wang Fang" not in sent.getMessage() and "6.8" not in sent.getMessage()
    with unit_of_work(engine) as conn:
        assert inbox(conn, user_id=patient.id)[0]["body"] == "Wang Fang: Potassium 6.8 mmol/L (HH)"


def test_a_rolled_back_notification_leaves_nothing(engine, now, patient):
    with pytest.raises(RuntimeError), unit_of_work(engine) as conn:
        notify(conn, user_id=patient.id, kind="test.reminder", title="t", body="b")
        raise RuntimeError("the booking failed")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(job)).scalar_one() == 0
        assert unread_count(conn, user_id=patient.id) == 0


def test_quiet_hours_hold_back_sms_until_they_end_but_not_the_inbox(engine, now, patient, caplog):
    with unit_of_work(engine) as conn:
        save_preferences(conn, user_id=patient.id, channels={"test.reminder": ["sms", "email"]},
                         quiet_start="22:00", quiet_end="07:00", time_zone="Asia/Shanghai")
    now[0] = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    with unit_of_work(engine) as conn:
        notify(conn, user_id=patient.id, kind="test.reminder", title="Result ready", body="Your report is ready")
        assert unread_count(conn, user_id=patient.id) == 1
    with engine.connect() as conn:
        run_ats = set(conn.execute(sa.select(job.c.run_at)).scalars())
    assert run_ats == {format_instant(datetime(2026, 3, 2, 23, 0, tzinfo=UTC))}
    with caplog.at_level(logging.INFO, logger="smartcare.notifications"):
        assert run_due(engine) == 0
        now[0] = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
        assert run_due(engine) == 2
    assert sorted(r.getMessage().split()[0] for r in caplog.records if r.name == "smartcare.notifications") == [
        "email", "sms"]


def test_choosing_no_channel_leaves_the_inbox_only(engine, now, patient):
    with unit_of_work(engine) as conn:
        save_preferences(conn, user_id=patient.id, channels={"test.reminder": []}, quiet_start=None, quiet_end=None,
                         time_zone="UTC")
        notify(conn, user_id=patient.id, kind="test.reminder", title="t", body="b")
        assert get_preferences(conn, user_id=patient.id).channels["test.reminder"] == ()
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(job)).scalar_one() == 0


@pytest.mark.parametrize("bad", [
    {"channels": {"test.reminder": ["pigeon"]}}, {"channels": {"nope": ["sms"]}}, {"quiet_start": "25:00"},
    {"quiet_start": "22:00", "quiet_end": None}, {"time_zone": "Mars/Olympus"}, {"time_zone": "../../etc/passwd"},
])
def test_bad_preferences_are_refused(engine, patient, bad):
    args = {"channels": {}, "quiet_start": "22:00", "quiet_end": "07:00", "time_zone": "UTC", **bad}
    with unit_of_work(engine) as conn, pytest.raises(PreferenceError):
        save_preferences(conn, user_id=patient.id, **args)


@pytest.mark.parametrize("bad", [{"title": ""}, {"title": "x" * 201}, {"body": "x" * 2001},
                                 {"link": "https://evil.example/"}, {"link": "//evil.example"}, {"user_id": "nobody"}])
def test_bad_notifications_are_refused(engine, patient, bad):
    args = {"user_id": patient.id, "kind": "test.reminder", "title": "t", "body": "b", **bad}
    with unit_of_work(engine) as conn, pytest.raises(NotificationError):
        notify(conn, **args)


def test_people_mark_only_their_own_notifications_read(engine, now, patient):
    other = make_user(engine, "doctor")
    with unit_of_work(engine) as conn:
        mine = notify(conn, user_id=patient.id, kind="test.reminder", title="t", body="b")
        assert not mark_read(conn, user_id=other.id, notification_id=mine)
        assert mark_read(conn, user_id=patient.id, notification_id=mine)
        assert unread_count(conn, user_id=patient.id) == 0
