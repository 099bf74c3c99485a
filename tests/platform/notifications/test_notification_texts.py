"""Notices put into the reader's words: messages with values kept with a notice, and rendered for the inbox, the
live push and the SMS in the language of whoever reads them."""

import logging

import pytest

from smartcare.platform import events
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import run_due
from smartcare.platform.jobs.worker import load_handlers
from smartcare.platform.notifications import NotificationError, notification_kind, notify
from smartcare.platform.notifications.live import in_page_language
from smartcare.platform.notifications.service import NOTIFICATION_CREATED, get_notification, inbox
from smartcare.platform.notifications.texts import check, in_each_language, message, render
from smartcare.platform.security import users
from tests.web_support import make_user

VISIT = notification_kind("test.visit", label="Test video visits", default_channels=("sms",))
TITLE = message("Your doctor opened a video visit")
BODY = message("{doctor} planned a video visit for {time}. Join it from the app then.",
               doctor=message("Dr {name}", name="Chen"), time="2026-03-02 16:00")


def test_a_message_renders_in_each_language_with_its_values():
    assert render(BODY, "en") == "Dr Chen planned a video visit for 2026-03-02 16:00. Join it from the app then."
    assert render(BODY, "zh-Hans") == "Chen医生安排了 2026-03-02 16:00 的视频问诊，届时请在应用中进入。"
    assert render(BODY, "xx-unknown") == render(BODY, "en")


def test_values_may_be_words_in_each_language_and_lists_of_them():
    medicines = [in_each_language(en="Amlodipine 5 mg", zh_Hans="氨氯地平 5 mg"),
                 in_each_language(en="Metformin 500 mg")]  # no Chinese name: English stands in
    prescribed = message("{doctor} prescribed: {medicines}. See how to take them in the app.",
                         doctor=message("Your doctor"), medicines=medicines)
    assert render(prescribed, "en") == ("Your doctor prescribed: Amlodipine 5 mg, Metformin 500 mg. "
                                        "See how to take them in the app.")
    assert render(prescribed, "zh-Hans") == "您的医生开具了：氨氯地平 5 mg、Metformin 500 mg。用法请在应用中查看。"


def test_percent_style_messages_are_filled_too():
    refill = message("%(medicine)s is running out", medicine="Amlodipine")
    assert render(refill, "en") == "Amlodipine is running out"


def test_values_that_do_not_fit_fall_back_to_english_and_a_value_is_never_a_format_string():
    assert render(message("Dr {name}", nom="Chen"), "zh-Hans") == "Dr {name}"  # a wrong value: as written, no crash
    assert render(message("Dr {name}", name="{0.__class__}"), "en") == "Dr {0.__class__}"


@pytest.mark.parametrize("bad", [{}, {"msgid": ""}, {"msgid": 3}, "text", {"values": {}}])
def test_a_malformed_message_is_refused(bad):
    with pytest.raises(ValueError, match="msgid"):
        check(bad)


def test_a_message_nested_too_deep_is_refused():
    spec = message("{x}", x="end")
    for _ in range(6):
        spec = message("{x}", x=spec)
    with pytest.raises(ValueError, match="too deep"):
        check(spec)


@pytest.fixture
def reader(engine):
    load_handlers()
    return make_user(engine, "patient", phone="+8613800138000")


def test_a_notice_is_written_in_the_accounts_language_and_read_in_the_pages(engine, now, reader):
    with unit_of_work() as conn:
        users.set_locale(conn, user_id=reader.id, locale="zh-Hans")
        notice_id = notify(conn, user_id=reader.id, kind=VISIT.name, title_text=TITLE, body_text=BODY,
                           link="/app/video/v1")
    with unit_of_work() as conn:
        [stored] = inbox(conn, user_id=reader.id)
        [english] = inbox(conn, user_id=reader.id, locale="en")
        [chinese] = inbox(conn, user_id=reader.id, locale="zh-Hans")
    assert stored["title"] == chinese["title"] == "医生发起了视频问诊"
    assert english["title"] == "Your doctor opened a video visit" and english["body"].startswith("Dr Chen planned")
    assert english["id"] == notice_id and english["link"] == "/app/video/v1"


def test_the_sms_goes_out_in_the_language_the_person_has_when_it_is_sent(engine, now, reader, caplog):
    with unit_of_work() as conn:
        notify(conn, user_id=reader.id, kind=VISIT.name, title_text=TITLE, body_text=BODY)
        users.set_locale(conn, user_id=reader.id, locale="zh-Hans")  # changed before the SMS went out
    with caplog.at_level(logging.INFO, logger="smartcare.notifications"):
        run_due(engine)
    assert "医生发起了视频问诊" in caplog.text and "Your doctor opened" not in caplog.text


def test_the_live_push_puts_a_notice_into_the_words_of_the_open_page(engine, now, reader):
    pushed = []
    events.subscribe(NOTIFICATION_CREATED, pushed.append)
    try:
        with unit_of_work() as conn:
            notify(conn, user_id=reader.id, kind=VISIT.name, title_text=TITLE, body_text=BODY)
    finally:
        events.unsubscribe(NOTIFICATION_CREATED, pushed.append)
    [event] = pushed
    message_ = {"type": "notification", "notification": event.payload["notification"],
                "wording": event.payload["wording"]}
    chinese = in_page_language(message_, "zh-Hans")
    assert chinese == {"type": "notification", "notification": {**event.payload["notification"],
                                                                "title": "医生发起了视频问诊",
                                                                "body": render(BODY, "zh-Hans")}}
    assert in_page_language(message_, "en")["notification"]["title"] == "Your doctor opened a video visit"
    assert in_page_language({"type": "hello", "unread": 1}, "zh-Hans") == {"type": "hello", "unread": 1}


def test_a_notice_without_words_of_its_own_is_refused_and_plain_notices_stay_as_written(engine, now, reader):
    with unit_of_work() as conn, pytest.raises(NotificationError):
        notify(conn, user_id=reader.id, kind=VISIT.name)
    with unit_of_work() as conn, pytest.raises(NotificationError, match="msgid"):
        notify(conn, user_id=reader.id, kind=VISIT.name, title_text={"values": {}})
    with unit_of_work() as conn:
        plain = notify(conn, user_id=reader.id, kind=VISIT.name, title="Plain title", body="Plain body")
    with unit_of_work() as conn:
        found = get_notification(conn, notification_id=plain, locale="zh-Hans")
    assert found["title"] == "Plain title" and found["body"] == "Plain body"
