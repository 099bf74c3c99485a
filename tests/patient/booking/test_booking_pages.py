"""The patient's booking pages: department to doctor to slot to booking, paying, my visits, and clear refusals."""

import re

import pytest
import sqlalchemy as sa

from smartcare.hospital.scheduling import service
from smartcare.hospital.scheduling.models import booking
from smartcare.platform.db import unit_of_work
from tests.hospital.scheduling.conftest import patient_ctx
from tests.web_support import browser, form_token, sign_in


@pytest.fixture
def web(hospital):
    with browser() as client:
        yield client


def booking_form(page) -> dict[str, str]:
    """The hidden fields of the confirm page's booking form."""
    return dict(re.findall(r'type="hidden" name="([a-z_]+)" value="([^"]*)"', page.text))


def bookings_of(engine, patient_id: str) -> list[sa.Row]:
    with unit_of_work(engine) as conn:
        return conn.execute(sa.select(booking).where(booking.c.patient_id == patient_id)).all()


def book(web, slot_id: str, patient_id: str, **changes):
    form = {**booking_form(web.get(f"/app/book/confirm?slot={slot_id}")), "patient": patient_id, **changes}
    return web.post("/app/book", data=form)


def test_a_patient_books_a_visit_for_themselves_pays_and_sees_where_to_go(web, hospital):
    sign_in(web, "patient.test")
    departments = web.get("/app/book")
    assert departments.status_code == 200 and "Harbour Hospital" in departments.text
    assert "/app/book/doctors?department=hcs-cardio" in departments.text
    day = hospital.day.isoformat()
    doctors = web.get(f"/app/book/doctors?department=hcs-cardio&date={day}")
    assert "Li Wei" in doctors.text and "¥10.00" in doctors.text and "08:00" in doctors.text
    slots = web.get(f"/app/book/slots?doctor=prac-li&date={day}")
    assert slots.text.count("/app/book/confirm?slot=") == len(hospital.slots) and "1 place left" in slots.text
    confirm = web.get(f"/app/book/confirm?slot={hospital.slots[0]}")
    assert 'value="pa1"' in confirm.text and "¥10.00" in confirm.text
    done = book(web, hospital.slots[0], "pa1")
    assert done.status_code == 303 and done.headers["location"].startswith("/app/visits/")
    visit = web.get(done.headers["location"])
    for shown in (day, "08:00", "Li Wei", "Cardiology", "Cardiology room 1", "Floor 3", "¥10.00", "Not paid yet"):
        assert shown in visit.text
    assert 'href="/app/queue"' in visit.text
    paid = web.post(done.headers["location"] + "/pay", data={"csrf_token": form_token(visit)})
    assert paid.status_code == 303
    after = web.get(done.headers["location"])
    assert "Paid" in after.text and "/pay" not in after.text
    assert [b.payment_status for b in bookings_of(hospital.engine, "pa1")] == ["paid"]
    assert "1 place left" not in web.get(f"/app/book/slots?doctor=prac-li&date={day}").text.split("08:30")[0]


def test_a_caregiver_books_for_their_child_and_is_refused_for_a_stranger(web, hospital):
    sign_in(web, "caregiver.test")
    confirm = web.get(f"/app/book/confirm?slot={hospital.slots[0]}")
    assert 'value="child"' in confirm.text and 'value="stranger"' not in confirm.text
    assert book(web, hospital.slots[0], "child").status_code == 303
    refused = book(web, hospital.slots[1], "stranger")
    assert refused.status_code == 403 and 'role="alert"' in refused.text and 'data-code="forbidden"' in refused.text
    assert "whose proxy you are" in refused.text
    assert len(bookings_of(hospital.engine, "child")) == 1 and bookings_of(hospital.engine, "stranger") == []


def test_submitting_the_booking_form_twice_books_once(web, hospital):
    sign_in(web, "patient.test")
    form = {**booking_form(web.get(f"/app/book/confirm?slot={hospital.slots[2]}")), "patient": "pa1"}
    assert web.post("/app/book", data=form).status_code == 303
    again = web.post("/app/book", data=form)
    assert again.status_code == 409 and "already submitted" in again.text and 'data-code="duplicate"' in again.text
    assert len(bookings_of(hospital.engine, "pa1")) == 1


@pytest.mark.parametrize(("lang", "message"), [
    ("en", "This slot is fully booked; choose another or join the waitlist."),
    ("zh-Hans", "该号源已约满，请选择其他时段或加入候补。"),
])
def test_a_full_slot_is_refused_in_the_readers_language(web, hospital, lang, message):
    with unit_of_work(hospital.engine) as conn:
        service.book(conn, ctx=patient_ctx("pa2"), slot_id=hospital.slots[0], patient_id="pa2")
    sign_in(web, "patient.test")
    web.get(f"/app/book?lang={lang}")
    form = {**booking_form(web.get(f"/app/book/confirm?slot={hospital.slots[0]}")), "patient": "pa1"}
    form.pop("version")
    refused = web.post("/app/book", data=form)
    assert refused.status_code == 409 and 'data-code="full"' in refused.text and message in refused.text
    assert ("3 楼" if lang == "zh-Hans" else "Floor 3") in refused.text
    assert bookings_of(hospital.engine, "pa1") == []


def test_the_slot_page_shows_a_full_slot_as_full(web, hospital):
    with unit_of_work(hospital.engine) as conn:
        service.book(conn, ctx=patient_ctx("pa2"), slot_id=hospital.slots[0], patient_id="pa2")
    sign_in(web, "patient.test")
    page = web.get(f"/app/book/slots?doctor=prac-li&date={hospital.day.isoformat()}")
    assert f"/app/book/confirm?slot={hospital.slots[0]}" not in page.text and "Full" in page.text


def test_a_booking_without_the_sessions_csrf_token_is_refused(web, hospital):
    sign_in(web, "patient.test")
    refused = book(web, hospital.slots[0], "pa1", csrf_token="forged")
    assert refused.status_code == 403 and bookings_of(hospital.engine, "pa1") == []


@pytest.mark.parametrize("slot", ["../../etc/passwd", "x" * 300, "<script>"])
def test_a_hostile_slot_gets_a_page_not_a_500(web, hospital, slot):
    sign_in(web, "patient.test")
    assert web.get("/app/book/confirm", params={"slot": slot}).status_code == 404
    token = form_token(web.get(f"/app/book/confirm?slot={hospital.slots[1]}"))
    refused = web.post("/app/book", data={"csrf_token": token, "slot": slot, "patient": "pa1", "request_key": "k"})
    assert refused.status_code in (400, 404) and bookings_of(hospital.engine, "pa1") == []


def test_my_visits_reschedules_and_cancels_a_visit(web, hospital):
    sign_in(web, "patient.test")
    location = book(web, hospital.slots[0], "pa1").headers["location"]
    appointment_id = location.rsplit("/", 1)[1]
    visits = web.get("/app/visits")
    assert "Li Wei" in visits.text and f"/app/visits/{appointment_id}/cancel" in visits.text
    choose = web.get(f"/app/visits/{appointment_id}/reschedule")
    assert choose.status_code == 200 and f'value="{hospital.slots[0]}"' not in choose.text
    moved = web.post(f"/app/visits/{appointment_id}/reschedule",
                     data={"csrf_token": form_token(choose), "slot": hospital.slots[3]})
    assert moved.status_code == 303
    assert "09:30" in web.get(location).text and bookings_of(hospital.engine, "pa1")[0].slot_id == hospital.slots[3]
    cancelled = web.post(f"/app/visits/{appointment_id}/cancel", data={"csrf_token": form_token(visits)})
    assert cancelled.status_code == 303
    after = web.get(cancelled.headers["location"])
    upcoming, past = after.text.split("Past and cancelled")
    assert "Li Wei" not in upcoming and "Cancelled" in past
    assert bookings_of(hospital.engine, "pa1")[0].status == "cancelled"


@pytest.mark.parametrize(("lang", "message"), [
    ("en", "Appointments can be changed only up to 120 minutes before the visit."),
    ("zh-Hans", "预约只能在就诊前 120 分钟之前更改。"),
])
def test_cancelling_after_the_cut_off_is_refused_clearly(web, hospital, now, lang, message):
    with unit_of_work(hospital.engine) as conn:
        booked = service.book(conn, ctx=patient_ctx("pa1"), slot_id=hospital.slots[0], patient_id="pa1")
    # An hour before the 08:00 visit: inside the two-hour cut-off.
    now[0] = now[0].replace(hour=23)
    sign_in(web, "patient.test")
    visits = web.get(f"/app/visits?lang={lang}")
    refused = web.post(f"/app/visits/{booked.id}/cancel", data={"csrf_token": form_token(visits)})
    assert refused.status_code == 409 and 'role="alert"' in refused.text and message in refused.text
    assert bookings_of(hospital.engine, "pa1")[0].status == "booked"


def test_someone_elses_visit_cannot_be_seen_or_cancelled(web, hospital):
    with unit_of_work(hospital.engine) as conn:
        booked = service.book(conn, ctx=patient_ctx("pa2"), slot_id=hospital.slots[0], patient_id="pa2")
    sign_in(web, "patient.test")
    assert web.get(f"/app/visits/{booked.id}").status_code == 404
    token = form_token(web.get(f"/app/book/confirm?slot={hospital.slots[1]}"))
    refused = web.post(f"/app/visits/{booked.id}/cancel", data={"csrf_token": token})
    assert refused.status_code == 404 and bookings_of(hospital.engine, "pa2")[0].status == "booked"
