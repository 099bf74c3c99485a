"""The inbox page, marking read, the unread count, notification settings and live push over a WebSocket."""

import pytest
from starlette.websockets import WebSocketDisconnect

from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications import notification_kind, notify
from smartcare.platform.notifications.preferences import get_preferences
from tests.web_support import browser, form_token, make_user, sign_in

notification_kind("test.web", label="Test messages", default_channels=())


def _notify(engine, user_id: str, title: str = "Lab result ready") -> str:
    with unit_of_work(engine) as conn:
        return notify(conn, user_id=user_id, kind="test.web", title=title, body="Open it <script>x</script>")


def test_the_inbox_lists_notifications_and_marks_one_read(engine):
    patient = make_user(engine, "patient")
    first = _notify(engine, patient.id, "First")
    _notify(engine, patient.id, "Second")
    with browser() as web:
        sign_in(web, "patient.test")
        assert web.get("/api/notifications/unread").json() == {"unread": 2}
        page = web.get("/inbox")
        assert page.status_code == 200 and "First" in page.text and "Second" in page.text
        assert "<script>x</script>" not in page.text
        done = web.post(f"/inbox/{first}/read", data={"csrf_token": form_token(page)})
        assert done.status_code == 303
        assert web.get("/api/notifications/unread").json() == {"unread": 1}
        web.post("/inbox/read-all", data={"csrf_token": form_token(page)})
        assert web.get("/api/notifications/unread").json() == {"unread": 0}


def test_marking_read_needs_the_forms_csrf_token(engine):
    patient = make_user(engine, "patient")
    first = _notify(engine, patient.id)
    with browser() as web:
        sign_in(web, "patient.test")
        refused = web.post(f"/inbox/{first}/read", data={"csrf_token": "forged"})
        assert refused.status_code == 403
        assert web.get("/api/notifications/unread").json() == {"unread": 1}


def test_every_role_has_an_inbox_and_strangers_are_sent_to_sign_in(engine):
    make_user(engine, "researcher")
    with browser() as web:
        assert web.get("/inbox").status_code == 303
        assert web.get("/api/notifications/unread").status_code == 401
        sign_in(web, "researcher.test")
        assert web.get("/inbox").status_code == 200


def test_a_person_saves_channels_and_quiet_hours(engine):
    patient = make_user(engine, "patient")
    with browser() as web:
        sign_in(web, "patient.test")
        page = web.get("/account/notifications")
        assert page.status_code == 200 and "Test messages" in page.text
        saved = web.post("/account/notifications", data={
            "csrf_token": form_token(page), "channel:test.web": ["sms", "wechat"], "quiet_start": "22:00",
            "quiet_end": "07:00", "time_zone": "Asia/Shanghai"})
        assert saved.status_code == 200 and "Your notification settings are saved." in saved.text
        bad = web.post("/account/notifications", data={"csrf_token": form_token(page), "quiet_start": "22:00",
                                                      "quiet_end": "07:00", "time_zone": "<b>Nowhere</b>"})
        assert bad.status_code == 400 and "<b>Nowhere" not in bad.text
        forged = web.post("/account/notifications", data={"csrf_token": "forged", "time_zone": "UTC"})
        assert forged.status_code == 403
    with unit_of_work(engine) as conn:
        prefs = get_preferences(conn, user_id=patient.id)
    assert prefs.channels["test.web"] == ("sms", "wechat")
    assert (prefs.quiet_start, prefs.quiet_end, prefs.time_zone) == ("22:00", "07:00", "Asia/Shanghai")


def test_a_new_notification_is_pushed_to_the_persons_open_browser(engine):
    patient = make_user(engine, "patient")
    other = make_user(engine, "doctor")
    with browser() as web:
        sign_in(web, "patient.test")
        with web.websocket_connect("/ws/notifications") as socket:
            assert socket.receive_json() == {"type": "hello", "unread": 0}
            _notify(engine, other.id, "Not for the patient")
            _notify(engine, patient.id, "Your result is ready")
            pushed = socket.receive_json()
    assert pushed["type"] == "notification" and pushed["notification"]["title"] == "Your result is ready"


def test_the_socket_is_refused_without_a_session_or_from_another_site(engine):
    make_user(engine, "patient")
    with browser() as web:
        with pytest.raises(WebSocketDisconnect) as refused, web.websocket_connect("/ws/notifications") as socket:
            socket.receive_json()
        assert refused.value.code == 1008
        sign_in(web, "patient.test")
        with pytest.raises(WebSocketDisconnect), web.websocket_connect(
                "/ws/notifications", headers={"origin": "https://evil.example"}) as socket:
            socket.receive_json()
