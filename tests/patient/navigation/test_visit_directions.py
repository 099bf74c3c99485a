"""Directions to a booked visit: the visit is read through the access policy, then the department's directions open."""

import pytest

from tests.patient.booking.conftest import hospital  # noqa: F401 - the booking pages' small hospital
from tests.patient.booking.test_booking_pages import book
from tests.web_support import browser, make_user, sign_in


@pytest.fixture
def web(hospital):  # noqa: F811
    with browser() as client:
        yield client


def test_a_patient_goes_from_their_booked_visit_to_the_directions_for_its_department(web, hospital):  # noqa: F811
    sign_in(web, "patient.test")
    done = book(web, hospital.slots[0], "pa1")
    visit = web.get(done.headers["location"])
    appointment_id = done.headers["location"].rsplit("/", 1)[1]
    assert f'href="/app/directions?visit={appointment_id}"' in visit.text
    onward = web.get(f"/app/directions?visit={appointment_id}")
    assert onward.status_code == 303
    assert onward.headers["location"] == "/app/hospitals/org-h/directions?to=cardiology"


def test_someone_elses_visit_gives_no_directions(web, hospital):  # noqa: F811
    sign_in(web, "patient.test")
    done = book(web, hospital.slots[0], "pa1")
    appointment_id = done.headers["location"].rsplit("/", 1)[1]
    make_user(hospital.engine, "patient", username="stranger.test", fhir_ref="Patient/stranger")
    with browser() as other:
        sign_in(other, "stranger.test")
        assert other.get(f"/app/directions?visit={appointment_id}").status_code == 404
        assert other.get("/app/directions?visit=" + "x" * 500).status_code == 404
