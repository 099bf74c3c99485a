"""The queue over HTTP: check-in by API, phone and kiosk, the doctor's buttons, the public view and the live stream."""

import re

from smartcare.hospital.queue.views import kiosk_code
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from tests.conftest import bearer
from tests.hospital.queue.conftest import SESSION
from tests.web_support import PASSWORD, browser, form_token, sign_in

# Tokens are signed now, on the real clock (the tests then stop the clock on 2 March 2026, and a token
# signed then would already have expired by the real time the signature library checks against).
_TOKENS = {pid: bearer("patient/*.cruds", kind="user", name=f"user.{pid}", roles={"patient"},
                       patient=f"Patient/{pid}", fhir_user=f"Patient/{pid}", subject=f"u-{pid}", minutes=120)
           for pid in ("p1", "p2")}
DOCTOR = bearer("user/*.cruds", kind="user", name="dr.chen", roles={"doctor"}, organization="Organization/org-a",
                fhir_user="Practitioner/doc-a", subject="u-doc-a", minutes=120)
STRANGER = bearer("user/*.cruds", kind="user", name="dr.zhou", roles={"doctor"}, organization="Organization/org-b",
                  fhir_user="Practitioner/doc-b", minutes=120)


def patient_token(pid: str) -> dict[str, str]:
    return _TOKENS[pid]


def test_a_patient_checks_in_by_api_and_sees_their_place(clinic):
    first = clinic.post("/api/v1/appointments/a2/check-in", headers=patient_token("p2"))
    assert first.status_code == 200 and first.json()["number"] == 1
    second = clinic.post("/api/v1/appointments/a1/check-in", headers=patient_token("p1"))
    assert second.json()["ahead"] == 0
    mine = clinic.get(f"/api/v1/queue/{SESSION}", headers=patient_token("p2")).json()
    assert [t["number"] for t in mine["mine"]] == [1] and mine["mine"][0]["ahead"] == 1


def test_the_public_view_shows_numbers_and_no_names(clinic, anonymous):
    clinic.post("/api/v1/appointments/a1/check-in", headers=patient_token("p1"))
    view = anonymous.get(f"/api/v1/queue/{SESSION}")
    assert view.status_code == 200 and view.json()["waiting"] == [{"number": 1, "priority": False}]
    assert "p1" not in view.text and "Test" not in view.text and view.json()["mine"] == []
    assert anonymous.get("/api/v1/queue/not-a-session").status_code == 400


def test_checking_in_someone_elses_visit_is_refused(clinic):
    refused = clinic.post("/api/v1/appointments/a2/check-in", headers=patient_token("p1"))
    assert refused.status_code == 404 and refused.json()["error"] == "no-appointment"


def test_the_doctor_calls_by_api_and_strangers_cannot(clinic):
    clinic.post("/api/v1/appointments/a1/check-in", headers=patient_token("p1"))
    called = clinic.post(f"/api/v1/queue/{SESSION}/call-next", headers=DOCTOR)
    assert called.status_code == 200 and called.json()["status"] == "called"
    assert clinic.post(f"/api/v1/queue/{SESSION}/recall", headers=STRANGER).status_code == 403
    assert clinic.post(f"/api/v1/queue/{SESSION}/recall", headers=patient_token("p1")).status_code == 403
    assert clinic.post(f"/api/v1/queue/{SESSION}/dance", headers=DOCTOR).status_code == 404


def test_the_live_stream_sends_the_queue_and_every_change(clinic):
    with clinic.websocket_connect(f"/ws/queue/{SESSION}") as socket:
        assert socket.receive_json()["waiting"] == []
        clinic.post("/api/v1/appointments/a1/check-in", headers=patient_token("p1"))
        assert socket.receive_json()["waiting"] == [{"number": 1, "priority": False}]
        clinic.post(f"/api/v1/queue/{SESSION}/call-next", headers=DOCTOR)
        assert socket.receive_json()["called"]["number"] == 1


def test_the_kiosk_checks_in_with_the_keyed_code_only(clinic, anonymous):
    page = anonymous.post("/kiosk", data={"code": kiosk_code("a3")})
    assert page.status_code == 200 and re.search(r'queue-number--big">1<', page.text)
    forged = anonymous.post("/kiosk", data={"code": "a4." + "0" * 16})
    assert forged.status_code == 400 and "not a SmartCare check-in code" in forged.text
    hostile = anonymous.post("/kiosk", data={"code": "<script>alert(1)</script>"})
    assert hostile.status_code == 400 and "<script>alert(1)</script>" not in hostile.text


def _user(engine, username: str, role: str, **links) -> None:
    with unit_of_work(engine) as conn:
        users.create_user(conn, username=username, password=PASSWORD, role=role, **links)


def test_the_patient_checks_in_on_the_phone_and_the_doctor_calls_from_the_workstation(engine, clinic):
    _user(engine, "p1.user", "patient", fhir_ref="Patient/p1")
    _user(engine, "dr.chen", "doctor", fhir_ref="Practitioner/doc-a", organization="Organization/org-a")
    with browser() as phone, browser() as workstation:
        sign_in(phone, "p1.user")
        visits = phone.get("/app/queue")
        assert visits.status_code == 200 and "I have arrived: check in" in visits.text
        done = phone.post("/app/queue/check-in", data={"csrf_token": form_token(visits), "appointment": "a1"})
        assert done.status_code == 303
        assert re.search(r'class="queue-number">1<', phone.get("/app/queue").text)
        sign_in(workstation, "dr.chen")
        queue = workstation.get("/workstation/queue")
        assert queue.status_code == 200 and "p1 Test" in queue.text
        called = workstation.post("/workstation/queue/call-next",
                                  data={"csrf_token": form_token(queue), "session": SESSION})
        assert called.status_code == 303
        assert "It is your turn now" in phone.get("/app/queue").text
        forged = workstation.post("/workstation/queue/recall", data={"csrf_token": "forged", "session": SESSION})
        assert forged.status_code == 403


def test_the_display_page_shows_the_called_number(clinic, anonymous):
    clinic.post("/api/v1/appointments/a1/check-in", headers=patient_token("p1"))
    clinic.post(f"/api/v1/queue/{SESSION}/call-next", headers=DOCTOR)
    page = anonymous.get("/queue/display/doc-a")
    assert page.status_code == 200 and re.search(r'id="called" aria-live="assertive">1<', page.text)
    assert "Room 3, 2nd floor" in page.text
    assert "二楼3诊室" in anonymous.get("/queue/display/doc-a?lang=zh-Hans").text
    assert anonymous.get("/queue/display/nobody").status_code == 404


def test_the_patient_is_notified_in_their_language_when_near_and_when_called(engine, clinic):
    from smartcare.platform.notifications.tables import notification

    with unit_of_work(engine) as conn:
        users.create_user(conn, username="p5.user", password=PASSWORD, role="patient", fhir_ref="Patient/p5",
                          locale="zh-Hans")
    for pid, aid in (("p1", "a1"), ("p2", "a2")):
        clinic.post(f"/api/v1/appointments/{aid}/check-in", headers=patient_token(pid))
    for aid in ("a3", "a4", "a5"):
        clinic.post("/kiosk", data={"code": kiosk_code(aid)})
    clinic.post(f"/api/v1/queue/{SESSION}/call-next", headers=DOCTOR)
    with unit_of_work(engine) as conn:
        near = conn.execute(notification.select()).all()
    assert [(n.kind, n.title) for n in near] == [("queue.near", "5 号：您前面还有三位患者")]
    for _ in range(4):
        clinic.post(f"/api/v1/queue/{SESSION}/call-next", headers=DOCTOR)
    with unit_of_work(engine) as conn:
        told = conn.execute(notification.select().order_by(notification.c.created)).all()
    assert [n.kind for n in told] == ["queue.near", "queue.called"]
    assert told[1].body == "请现在前往二楼3诊室。"
