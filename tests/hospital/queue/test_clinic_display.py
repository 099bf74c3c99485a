"""A clinic's waiting-area display: every working doctor's room, called and next numbers, live over one socket."""

import json
import re

import pytest

from smartcare.hospital.queue.views import kiosk_code
from tests.conftest import bearer
from tests.hospital.queue.conftest import FHIR_JSON, SESSION, appointment, patient
from tests.hospital.queue.test_queue_web import DOCTOR, patient_token
from tests.web_support import browser, form_token, make_user, sign_in

LIN_SESSION = "doc-a2:2026-03-02:pm"
# Signed on the real clock, before the tests stop it (see test_queue_web.py).
LIN = bearer("user/*.cruds", kind="user", name="dr.lin", roles={"doctor"}, organization="Organization/org-a",
             fhir_user="Practitioner/doc-a2", subject="u-doc-a2", minutes=120)
ROOM_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "ro"}]}


@pytest.fixture
def cardiology(clinic):
    """Dr Chen (room 3) and Dr Lin (room 5) work in cardiology this afternoon; Dr Zhou is in another hospital."""
    resources = [
        {"resourceType": "HealthcareService", "id": "hcs-cardio", "name": "Cardiology",
         "providedBy": {"reference": "Organization/org-a"},
         "type": [{"coding": [{"system": "https://smartcare.example/fhir/CodeSystem/department",
                               "code": "cardiology", "display": "Cardiology"}], "text": "心内科"}]},
        {"resourceType": "Location", "id": "wing-east", "name": "East wing, 2nd floor"},
        {"resourceType": "Location", "id": "room-5", "name": "Room 5, 2nd floor", "alias": ["二楼5诊室"],
         "physicalType": ROOM_TYPE, "partOf": {"reference": "Location/wing-east"}},
        {"resourceType": "Practitioner", "id": "doc-a2", "name": [{"use": "official", "text": "林芳"},
                                                                 {"use": "official", "text": "Lin Fang"}]},
        {"resourceType": "PractitionerRole", "id": "role-a", "practitioner": {"reference": "Practitioner/doc-a"},
         "organization": {"reference": "Organization/org-a"},
         "healthcareService": [{"reference": "HealthcareService/hcs-cardio"}]},
        {"resourceType": "PractitionerRole", "id": "role-a2", "practitioner": {"reference": "Practitioner/doc-a2"},
         "organization": {"reference": "Organization/org-a"}, "location": [{"reference": "Location/room-5"}],
         "healthcareService": [{"reference": "HealthcareService/hcs-cardio"}]},
        patient("q1"), patient("q2"),
        {**appointment("b1", "q1", 15, practitioner="doc-a2"), "participant": [
            {"actor": {"reference": "Patient/q1"}, "status": "accepted"},
            {"actor": {"reference": "Practitioner/doc-a2"}, "status": "accepted"}]},
        {**appointment("b2", "q2", 25, practitioner="doc-a2"), "participant": [
            {"actor": {"reference": "Patient/q2"}, "status": "accepted"},
            {"actor": {"reference": "Practitioner/doc-a2"}, "status": "accepted"}]},
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]}
    assert clinic.post("/fhir", json=bundle, headers=FHIR_JSON).status_code == 200
    for pid, aid in (("p1", "a1"), ("p2", "a2")):
        assert clinic.post(f"/api/v1/appointments/{aid}/check-in", headers=patient_token(pid)).status_code == 200
    for aid in ("a3", "b1", "b2"):
        assert clinic.post("/kiosk", data={"code": kiosk_code(aid)}).status_code == 200
    return clinic


def _row(page_text: str, room: str) -> str:
    """The text of the display's row for a room (tags removed, spaces squeezed)."""
    rows = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)) for r in re.findall(r'<li data-session="[^"]+">.*?</li>',
                                                                              page_text, re.S)]
    found = [r for r in rows if room in r]
    assert len(found) == 1, f"{room} is on {len(found)} rows"
    return found[0]


def test_the_clinic_display_shows_every_doctors_room_called_and_next_numbers(cardiology, anonymous):
    cardiology.post(f"/api/v1/queue/{SESSION}/call-next", headers=DOCTOR)
    page = anonymous.get("/queue/clinic/hcs-cardio")
    assert page.status_code == 200 and "<h1 id=\"clinic-title\">Cardiology</h1>" in page.text
    chen = _row(page.text, "Room 3, 2nd floor")
    assert "Chen" in chen and re.search(r"Now calling 1 ", chen) and "Next: 2 3" in chen
    lin = _row(page.text, "Room 5, 2nd floor")
    assert "Lin Fang" in lin and "Now calling — " in lin and "Next: 1 2" in lin
    assert "Zhou" not in page.text
    # Numbers only: no patient's name or id reaches the public screen.
    assert "Test" not in page.text and "q1" not in page.text and "p1" not in page.text


def test_the_clinic_display_speaks_the_readers_language(cardiology, anonymous):
    page = anonymous.get("/queue/clinic/hcs-cardio?lang=zh-Hans")
    assert "<h1 id=\"clinic-title\">心内科</h1>" in page.text
    assert "二楼3诊室" in page.text and "二楼5诊室" in page.text and "林芳" in page.text
    # What the display says aloud, in the script as JSON.
    assert json.dumps("请 {number} 号到 {room} 就诊") in page.text
    assert json.dumps("Number {number}, please go to {room}") in anonymous.get("/queue/clinic/hcs-cardio?lang=en").text


def test_an_area_display_shows_only_the_rooms_of_that_area(cardiology, anonymous):
    page = anonymous.get("/queue/clinic/hcs-cardio?area=wing-east")
    assert "Room 5, 2nd floor" in page.text and "Room 3, 2nd floor" not in page.text


@pytest.mark.parametrize("clinic_id", ["nowhere", "x" * 300, "<script>alert(1)</script>"])
def test_an_unknown_or_hostile_clinic_gets_a_404_page(cardiology, anonymous, clinic_id):
    page = anonymous.get(f"/queue/clinic/{clinic_id}")
    assert page.status_code == 404 and "<script>alert(1)</script>" not in page.text


def test_the_clinic_socket_updates_when_a_doctor_calls_next(cardiology):
    with cardiology.websocket_connect("/ws/queue/clinic/hcs-cardio") as socket:
        first = {row["room"]: row for row in socket.receive_json()["sessions"]}
        assert first["Room 3, 2nd floor"]["called"] is None and first["Room 3, 2nd floor"]["next"] == [1, 2, 3]
        assert first["Room 5, 2nd floor"]["doctor"] == "Lin Fang"
        cardiology.post(f"/api/v1/queue/{LIN_SESSION}/call-next", headers=LIN)
        after = {row["room"]: row for row in socket.receive_json()["sessions"]}
        assert after["Room 5, 2nd floor"]["called"] == {"number": 1, "recalls": 0}
        assert after["Room 5, 2nd floor"]["next"] == [2]
        cardiology.post(f"/api/v1/queue/{SESSION}/call-next", headers=DOCTOR)
        later = {row["room"]: row for row in socket.receive_json()["sessions"]}
        assert later["Room 3, 2nd floor"]["called"]["number"] == 1 and later["Room 3, 2nd floor"]["next"] == [2, 3]
        assert all("Test" not in str(row) for row in later.values())


def test_the_clinic_socket_refuses_an_unknown_clinic(cardiology):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as refused, \
            cardiology.websocket_connect("/ws/queue/clinic/nowhere") as socket:
        socket.receive_json()
    assert refused.value.code == 4404


def test_the_doctors_display_links_to_the_clinic_display_which_follows_the_workstation(cardiology, anonymous, engine):
    assert 'href="/queue/clinic/hcs-cardio"' in anonymous.get("/queue/display/doc-a").text
    make_user(engine, "doctor", username="dr.lin", fhir_ref="Practitioner/doc-a2")
    with browser() as web:
        sign_in(web, "dr.lin")
        queue = web.get(f"/workstation/queue?session={LIN_SESSION}")
        called = web.post("/workstation/queue/call-next", data={"csrf_token": form_token(queue),
                                                                "session": LIN_SESSION})
        assert called.status_code == 303
    lin = _row(anonymous.get("/queue/clinic/hcs-cardio").text, "Room 5, 2nd floor")
    assert "Now calling 1 " in lin

