"""The outpatient day in two real browsers: a patient finds a doctor, books, pays, checks in and watches
the queue; the doctor calls from the workstation and the patient's page says it is their turn.

The server's clock stands at 09:30 in Shanghai on a Wednesday, so the morning's slots are bookable and
check-in is open whatever the hour the tests run at.
"""

import uuid
from datetime import UTC, date, datetime

import pytest

from smartcare.fhir import store
from smartcare.hospital.scheduling import schedules
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.e2e.conftest import MOBILE
from tests.e2e.steps import sign_in
from tests.hospital.scheduling.conftest import HOURS, template

PASSWORD = "Jade-River-Compass-77"
DAY = date(2026, 3, 4)
NOW = datetime(2026, 3, 4, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai


@pytest.fixture
def outpatient_day(e2e_engine):
    """A hospital with one cardiologist, today's slots, a patient account and the doctor's account."""
    tag = uuid.uuid4().hex[:6]
    ids = {"org": f"org-{tag}", "hcs": f"hcs-{tag}", "prac": f"prac-{tag}", "role": f"role-{tag}",
           "room": f"room-{tag}", "patient": f"pat-{tag}"}
    resources = [
        {"resourceType": "Organization", "id": ids["org"], "name": "Harbour Hospital"},
        {"resourceType": "Location", "id": ids["room"], "name": "Cardiology room 305", "alias": ["心内科305诊室"],
         "physicalType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                                      "code": "ro"}]}},
        {"resourceType": "HealthcareService", "id": ids["hcs"], "name": "Cardiology",
         "providedBy": {"reference": f"Organization/{ids['org']}"}, "availableTime": HOURS},
        {"resourceType": "Practitioner", "id": ids["prac"], "active": True, "name": [{"family": "Lanxi", "given": ["Wen"]}]},
        {"resourceType": "PractitionerRole", "id": ids["role"], "active": True,
         "code": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/practitioner-role", "code": "doctor"}]}],
         "practitioner": {"reference": f"Practitioner/{ids['prac']}"},
         "organization": {"reference": f"Organization/{ids['org']}"},
         "healthcareService": [{"reference": f"HealthcareService/{ids['hcs']}"}],
         "location": [{"reference": f"Location/{ids['room']}"}]},
        {"resourceType": "Patient", "id": ids["patient"], "name": [{"family": "Harbour", "given": ["Mei"]}],
         "birthDate": "1985-04-01", "managingOrganization": {"reference": f"Organization/{ids['org']}"}},
    ]
    clock.set_clock(lambda: NOW)
    try:
        with unit_of_work(e2e_engine) as conn:
            store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])
        with unit_of_work(e2e_engine) as conn:
            schedules.generate_slots(conn, start=DAY, days=1, template=template(
                role_id=ids["role"], practitioner_id=ids["prac"], practitioner_name="Wen Lanxi",
                service_id=ids["hcs"], organization_id=ids["org"]))
            users.create_user(conn, username=f"mei.{tag}", password=PASSWORD, role="patient",
                              fhir_ref=f"Patient/{ids['patient']}")
            users.create_user(conn, username=f"dr.wen.{tag}", password=PASSWORD, role="doctor",
                              fhir_ref=f"Practitioner/{ids['prac']}", organization=f"Organization/{ids['org']}")
        yield {**ids, "tag": tag}
    finally:
        clock.set_clock(None)


def test_a_patient_books_checks_in_and_is_called_while_the_doctor_calls(browser, base_url, outpatient_day):
    ids = outpatient_day
    phone = browser.new_context(viewport=MOBILE, is_mobile=True, has_touch=True, locale="en-US",
                                base_url=base_url).new_page()
    desk = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US", base_url=base_url).new_page()
    try:
        sign_in(phone, f"mei.{ids['tag']}", PASSWORD)
        # Find the doctor by name, open the profile and go on to book.
        phone.goto("/doctors?q=Lanxi")
        phone.screenshot(path="/tmp/sc-e2e-search.png", full_page=True)
        phone.get_by_role("link", name="Lanxi").first.click()
        phone.get_by_role("link", name="Book an appointment").click()
        phone.wait_for_url("**/app/book/slots**")
        phone.locator("a.slot").first.click()
        phone.wait_for_url("**/app/book/confirm**")
        phone.get_by_role("button", name="Book this time").click()
        phone.wait_for_url("**/app/visits/**")
        phone.get_by_role("button", name="Pay").first.click()
        phone.wait_for_load_state()
        # On the day: check in from the phone and get number 1.
        phone.goto("/app/queue")
        phone.get_by_role("button", name="I have arrived: check in").click()
        phone.wait_for_url("**/app/queue")
        assert phone.locator(".queue-number").first.inner_text() == "1"
        assert "Ahead of you" in phone.locator(".visit-status").first.inner_text()

        # The doctor sees the patient waiting and calls them.
        sign_in(desk, f"dr.wen.{ids['tag']}", PASSWORD)
        desk.goto("/workstation/queue")
        assert "Mei Harbour" in desk.locator("main").inner_text()
        desk.get_by_role("button", name="Call next").click()
        desk.wait_for_load_state()
        assert desk.locator(".queue-now .queue-number").inner_text() == "1"

        # The patient's open page follows the queue live and says it is their turn.
        phone.get_by_text("It is your turn now").wait_for(timeout=10_000)
        assert "Cardiology room 305" in phone.locator(".visit-status").first.inner_text()
        phone.screenshot(path="/tmp/sc-e2e-called.png", full_page=True)
    finally:
        phone.context.close()
        desk.context.close()
