"""The outpatient day in two real browsers: a patient finds a doctor, books, pays, checks in and watches
the queue; the doctor calls from the workstation and the patient's page says it is their turn.

The server's clock stands at 09:30 in Shanghai on a Wednesday, so the morning's slots are bookable and
check-in is open whatever the hour the tests run at.
"""


import pytest

from tests.e2e.conftest import MOBILE
from tests.e2e.one_doctor_clinic import one_doctor_clinic
from tests.e2e.steps import sign_in

PASSWORD = "Jade-River-Compass-77"


@pytest.fixture
def outpatient_day(e2e_engine):
    """A hospital with one cardiologist, today's slots, a patient account and the doctor's account."""
    room = {"name": "Cardiology room 305", "alias": ["心内科305诊室"],
            "physicalType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                                         "code": "ro"}]}}
    with one_doctor_clinic(e2e_engine, PASSWORD, service={"name": "Cardiology"}, doctor=("Wen", "Lanxi"),
                           room=room) as ids:
        yield ids


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
