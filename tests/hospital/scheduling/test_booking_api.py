"""The booking API: public slot listing, booking from the app and at the desk, clear JSON refusals, never a 500."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from smartcare.platform import clock
from smartcare.platform.web.app import create_app
from tests.conftest import bearer

PATIENT = {"roles": {"patient"}, "kind": "user", "subject": "u-pa1", "name": "pa1",
           "fhir_user": "Patient/pa1", "patient": "Patient/pa1"}
DESK = {"roles": {"nurse"}, "kind": "user", "subject": "u-desk", "name": "desk", "fhir_user": "Practitioner/prac-desk",
        "organization": "Organization/org-h"}
DOCTOR = {"roles": {"doctor"}, "kind": "user", "subject": "u-doc", "name": "doc", "fhir_user": "Practitioner/prac-li",
          "organization": "Organization/org-h"}


@pytest.fixture
def now():
    """The clock stands at the real time: the tokens are checked against it too."""
    moment = [datetime.now(UTC).replace(microsecond=0)]
    clock.set_clock(lambda: moment[0])
    yield moment
    clock.set_clock(None)


@pytest.fixture
def web(clinic):
    with TestClient(create_app(), base_url="http://testserver") as c:
        yield c


def as_(who: dict, scope: str) -> dict:
    return bearer(scope, **who)


def test_slots_are_listed_by_doctor_without_signing_in(web, clinic):
    r = web.get("/api/v1/slots", params={"doctor": "Practitioner/prac-li", "date": clinic.day.isoformat()})
    assert r.status_code == 200
    slots = r.json()["slots"]
    assert [s["slot"] for s in slots] == [f"Slot/{s}" for s in clinic.slots]
    assert slots[0]["free"] == 1 and slots[0]["version"] == 1 and slots[0]["practitioner_name"] == "Li Wei"


@pytest.mark.parametrize("query", [{"date": "2030-03-03"}, {"doctor": "Practitioner/prac-li", "date": "3 March"},
                                   {"department": "HealthcareService/" + "x" * 300}])
def test_a_bad_slot_query_gets_a_clear_400(web, query):
    r = web.get("/api/v1/slots", params=query)
    assert r.status_code == 400 and r.json()["error"] == "invalid"


def test_a_patient_books_then_sees_the_slot_full_and_cancels(web, clinic):
    headers = as_(PATIENT, "patient/*.cruds")
    r = web.post("/api/v1/appointments", json={"slot": f"Slot/{clinic.slots[0]}", "patient": "Patient/pa1"},
                 headers=headers)
    assert r.status_code == 201, r.text
    booked = r.json()
    assert booked["status"] == "booked" and booked["payment"]["status"] == "pending" and booked["channel"] == "app"
    fhir = web.get(f"/fhir/{booked['appointment']}", headers=headers)
    assert fhir.json()["status"] == "booked"
    again = web.post("/api/v1/appointments", json={"slot": f"Slot/{clinic.slots[0]}", "patient": "Patient/pa1"},
                     headers=headers)
    assert again.status_code == 409 and again.json()["error"] == "duplicate-session"
    paid = web.post(f"/api/v1/appointments/{booked['id']}/payment", json={"confirmation": "ok"}, headers=headers)
    assert paid.json()["payment"]["status"] == "paid"
    cancelled = web.post(f"/api/v1/appointments/{booked['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["payment"]["status"] == "refunded"
    assert web.get(f"/fhir/{booked['appointment']}", headers=headers).json()["status"] == "cancelled"


def test_the_desk_books_for_a_patient_of_its_hospital_and_reschedules(web, clinic):
    headers = as_(DESK, "user/*.cruds")
    r = web.post("/api/v1/appointments", json={"slot": clinic.slots[0], "patient": "pa2"}, headers=headers)
    assert r.status_code == 201 and r.json()["channel"] == "desk"
    moved = web.post(f"/api/v1/appointments/{r.json()['id']}/reschedule", json={"slot": f"Slot/{clinic.slots[9]}"},
                     headers=headers)
    assert moved.status_code == 200 and moved.json()["slot"] == f"Slot/{clinic.slots[9]}"


def test_doctors_cannot_use_the_booking_desk(web, clinic):
    r = web.post("/api/v1/appointments", json={"slot": clinic.slots[0], "patient": "pa2"},
                 headers=as_(DOCTOR, "user/*.cruds"))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"


@pytest.mark.parametrize(("body", "status", "error"), [
    ({"slot": "Slot/nope", "patient": "Patient/pa1"}, 404, "not-found"),
    ({"slot": "Slot/x", "patient": "Patient/pa2"}, 404, "not-found"),
    ({"slot": "<script>", "patient": "Patient/pa1"}, 400, "invalid"),
    ({"slot": "s" * 5000, "patient": "Patient/pa1"}, 400, "invalid"),
    ({"slot": "Slot/x"}, 400, "invalid"),
    ({"slot": "Slot/x", "patient": "Patient/pa1", "extra": 1}, 400, "invalid"),
    ([1, 2], 400, "invalid"),
])
def test_hostile_or_malformed_bookings_get_a_json_refusal(web, body, status, error):
    r = web.post("/api/v1/appointments", json=body, headers=as_(PATIENT, "patient/*.cruds"))
    assert r.status_code == status and r.json()["error"] == error and r.json()["message"]


def test_booking_for_someone_else_is_refused_and_writes_nothing(web, clinic):
    headers = as_(PATIENT, "patient/*.cruds")
    r = web.post("/api/v1/appointments", json={"slot": clinic.slots[0], "patient": "Patient/pa2"}, headers=headers)
    assert r.status_code == 403 and "proxy" in r.json()["message"]
    assert web.get("/api/v1/slots", params={"doctor": "Practitioner/prac-li", "date": clinic.day.isoformat()}
                   ).json()["slots"][0]["free"] == 1


def test_refusals_are_translated_for_chinese_readers(web, clinic):
    headers = {**as_(PATIENT, "patient/*.cruds"), "Accept-Language": "zh-CN"}
    r = web.post("/api/v1/appointments", json={"slot": clinic.slots[0], "patient": "Patient/pa2"}, headers=headers)
    assert r.status_code == 403 and "代理" in r.json()["message"]


def test_booking_without_credentials_is_refused(web, clinic):
    r = web.post("/api/v1/appointments", json={"slot": clinic.slots[0], "patient": "Patient/pa1"})
    assert r.status_code == 401
