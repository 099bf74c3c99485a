"""The registration desk's pages: find a patient, book at the window, take the fee, check in, cancel, print the slip."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from smartcare.demo.identifiers import make_resident_id
from smartcare.hospital.queue.models import queue_ticket
from smartcare.hospital.scheduling import schedules, service
from smartcare.hospital.scheduling.models import booking, booking_slot
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.signup import RESIDENT_ID_SYSTEM
from tests.hospital.scheduling.conftest import DESK, patient, put_all, template
from tests.patient.booking.conftest import Hospital, directory_resources
from tests.web_support import browser, form_token, make_user, sign_in

EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
RESIDENT_ID = make_resident_id(address_code="350102", birth_date=date(1990, 5, 1), sequence=123)
PHONE = "13912345678"
# 07:30 on Tuesday 3 March 2026 in Shanghai: the morning of the slots, when check-in is open.
TUESDAY_MORNING = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)


def person(pid: str, han: str, family: str, given: str, **extra) -> dict:
    """A patient of Harbour Hospital with a Chinese name and its pinyin, as the region records them."""
    names = [{"extension": [{"url": EN_REPRESENTATION, "valueCode": "IDE"}], "use": "official", "text": han},
             {"extension": [{"url": EN_REPRESENTATION, "valueCode": "ABC"}], "use": "official",
              "text": f"{family} {given}", "family": family, "given": [given]}]
    return patient(pid, name=names, **extra)


@pytest.fixture
def hospital(engine, now) -> Hospital:
    """Harbour Hospital's cardiology with Dr Li's Tuesday slots, its patients, another hospital's, and the clerk."""
    return open_desk(engine, now, [
        person("p-zhang", "张伟", "Zhang", "Wei", gender="male", birthDate="1990-05-01",
               telecom=[{"system": "phone", "value": PHONE, "use": "mobile"}],
               identifier=[{"system": RESIDENT_ID_SYSTEM, "value": RESIDENT_ID}]),
        person("p-dead", "赵敏", "Zhao", "Min", gender="female", birthDate="1950-01-01", deceasedBoolean=True),
        person("p-other", "王芳", "Wang", "Fang", gender="female", birthDate="1985-09-30"),
        person("p-far", "张伟", "Zhang", "Wei", gender="male", birthDate="1979-02-02",
               managingOrganization={"reference": "Organization/org-x"}),
    ])


def open_desk(engine, now, people: list[dict]) -> Hospital:
    """Harbour Hospital's directory, Hillside Hospital, the people given, Dr Li's slots tomorrow, and the clerk."""
    put_all(engine, [*directory_resources(), {"resourceType": "Organization", "id": "org-x", "name": "Hillside Hospital"},
                     *people])
    day = now[0].astimezone(schedules.region_zone()).date() + timedelta(days=1)
    with unit_of_work(engine) as conn:
        schedules.generate_slots(conn, template=template(), start=day, days=1)
        ids = conn.execute(sa.select(booking_slot.c.slot_id).order_by(booking_slot.c.start)).scalars().all()
    make_user(engine, "nurse", organization="Organization/org-h", fhir_ref="Practitioner/nurse-h")
    return Hospital(engine, day, list(ids))


@pytest.fixture
def web(hospital):
    with browser() as client:
        sign_in(client, "nurse.test")
        yield client


@pytest.fixture
def morning(hospital, now):
    """The clerk at the window at 07:30 on the slots' day (signed in then: sessions end when idle)."""
    now[0] = TUESDAY_MORNING
    with browser() as client:
        sign_in(client, "nurse.test")
        yield client


def bookings_of(engine, patient_id: str) -> list[sa.Row]:
    with unit_of_work(engine) as conn:
        return conn.execute(sa.select(booking).where(booking.c.patient_id == patient_id)).all()


def slot_form(page, slot_id: str) -> dict[str, str]:
    """The hidden fields of the booking form of one slot on the desk's slot page."""
    forms = re.findall(r'<form method="post" action="[^"]*/book">(.*?)</form>', page.text, re.S)
    form = next(f for f in forms if f'name="slot" value="{slot_id}"' in f)
    return dict(re.findall(r'type="hidden" name="([a-z_]+)" value="([^"]*)"', form))


def book(web, hospital, patient_id: str, slot_index: int, **changes):
    page = web.get(f"/desk/patients/{patient_id}/book/slots?doctor=prac-li&date={hospital.day.isoformat()}")
    return web.post(f"/desk/patients/{patient_id}/book", data={**slot_form(page, hospital.slots[slot_index]),
                                                               **changes})


def visit_id(answer) -> str:
    return re.search(r"visit=([0-9a-f-]{36})", answer.headers["location"]).group(1)


@pytest.mark.parametrize("typed", ["张伟", "Zhang Wei", "zhang", "zhangwei", PHONE, "139-1234-5678", "+86 139 1234 5678",
                                   RESIDENT_ID])
def test_the_clerk_finds_a_patient_of_the_hospital_by_name_pinyin_phone_or_resident_id(web, typed):
    page = web.get("/desk", params={"q": typed})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert 'href="/desk/patients/p-zhang"' in page.text
    assert "Zhang Wei" in page.text and "Male" in page.text and "35 years" in page.text
    assert "•" * 14 + RESIDENT_ID[-4:] in page.text and RESIDENT_ID not in page.text.replace(typed, "")
    assert "p-far" not in page.text, "a patient of another hospital is outside the clerk's reach"


def test_a_patient_of_another_hospital_is_not_found_nor_booked(web, hospital):
    assert "p-far" not in web.get("/desk", params={"q": "Zhang"}).text
    assert web.get("/desk/patients/p-far").status_code == 404
    assert web.get("/desk/patients/p-far/book").status_code == 404
    token = form_token(web.get(f"/desk/patients/p-zhang/book/slots?doctor=prac-li&date={hospital.day.isoformat()}"))
    refused = web.post("/desk/patients/p-far/book", data={"csrf_token": token, "slot": hospital.slots[0],
                                                          "doctor": "prac-li", "date": hospital.day.isoformat()})
    assert refused.status_code in (403, 404) and bookings_of(hospital.engine, "p-far") == []


def test_nobody_is_found_for_what_matches_no_patient(web):
    page = web.get("/desk", params={"q": "Nobody Here"})
    assert page.status_code == 200 and "/desk/patients/" not in page.text and "No patient of your hospital" in page.text


def test_the_clerk_books_takes_the_fee_checks_in_with_a_priority_and_prints_the_slip(morning, hospital):
    departments = morning.get("/desk/patients/p-zhang/book")
    assert departments.status_code == 200 and "Cardiology" in departments.text and "Harbour Hospital" in departments.text
    link = re.search(r'href="(/desk/patients/p-zhang/book/doctors\?[^"]+)"', departments.text).group(1)
    doctors = morning.get(link.replace("&amp;", "&"))
    assert "Li Wei" in doctors.text and "¥10.00" in doctors.text and "08:00" in doctors.text
    booked = book(morning, hospital, "p-zhang", 0)
    assert booked.status_code == 303 and "done=booked" in booked.headers["location"]
    appointment_id = visit_id(booked)
    page = morning.get(booked.headers["location"])
    assert "Booked:" in page.text and "Not paid yet" in page.text and "/check-in" not in page.text
    assert [(b.channel, b.payment_status) for b in bookings_of(hospital.engine, "p-zhang")] == [("desk", "pending")]

    paid = morning.post(f"/desk/patients/p-zhang/visits/{appointment_id}/pay",
                    data={"csrf_token": form_token(page), "method": "card"})
    assert paid.status_code == 303
    page = morning.get(paid.headers["location"])
    assert "The fee of ¥10.00 is paid." in page.text and "/pay" not in page.text
    assert bookings_of(hospital.engine, "p-zhang")[0].payment_status == "paid"

    checked = morning.post(f"/desk/patients/p-zhang/visits/{appointment_id}/check-in",
                       data={"csrf_token": form_token(page), "priority": "disabled"})
    assert checked.status_code == 303
    page = morning.get(checked.headers["location"])
    assert re.search(r"Queue number:.*?desk-number\">1<", page.text, re.S) and "Disability" in page.text
    with unit_of_work(hospital.engine) as conn:
        ticket = conn.execute(sa.select(queue_ticket)).one()
    assert (ticket.number, ticket.priority, ticket.appointment_id) == (1, "disabled", appointment_id)

    slip = morning.get(f"/desk/patients/p-zhang/visits/{appointment_id}/slip")
    assert slip.status_code == 200
    for shown in ("Registration slip", "张伟", "Zhang Wei", "Harbour Hospital", "Li Wei", "Cardiology room 1", "Floor 3",
                  "2026-03-03", "08:00", "¥10.00", "Paid", "Disability"):
        assert shown in slip.text
    assert re.search(r'queue-number">1<', slip.text) and "css/desk.css" in slip.text
    assert "data-print" in slip.text and "js/print-button.js" in slip.text


def test_an_unpaid_visit_is_not_checked_in(morning, hospital):
    appointment_id = visit_id(book(morning, hospital, "p-zhang", 1))
    page = morning.get("/desk/patients/p-zhang")
    refused = morning.post(f"/desk/patients/p-zhang/visits/{appointment_id}/check-in",
                       data={"csrf_token": form_token(page), "priority": ""})
    assert refused.status_code == 409 and 'data-code="unpaid"' in refused.text and 'role="alert"' in refused.text
    assert "Take the registration fee before checking the patient in." in refused.text
    with unit_of_work(hospital.engine) as conn:
        assert conn.execute(sa.select(queue_ticket)).all() == []


def test_a_priority_not_on_the_list_is_refused(morning, hospital):
    appointment_id = visit_id(book(morning, hospital, "p-zhang", 0))
    token = form_token(morning.get("/desk/patients/p-zhang"))
    morning.post(f"/desk/patients/p-zhang/visits/{appointment_id}/pay", data={"csrf_token": token, "method": "cash"})
    refused = morning.post(f"/desk/patients/p-zhang/visits/{appointment_id}/check-in",
                       data={"csrf_token": token, "priority": "vip"})
    assert refused.status_code == 400 and "Choose a priority from the list." in refused.text


def test_the_clerk_cancels_a_visit_and_the_place_is_free_again(web, hospital):
    afternoon = hospital.slots[8]
    appointment_id = visit_id(book(web, hospital, "p-zhang", 8))
    page = web.get("/desk/patients/p-zhang")
    assert f"/visits/{appointment_id}/cancel" in page.text
    cancelled = web.post(f"/desk/patients/p-zhang/visits/{appointment_id}/cancel", data={"csrf_token": form_token(page)})
    assert cancelled.status_code == 303
    after = web.get(cancelled.headers["location"])
    assert "The visit is cancelled." in after.text and "Cancelled" in after.text
    assert f"/visits/{appointment_id}/cancel" not in after.text
    assert bookings_of(hospital.engine, "p-zhang")[0].status == "cancelled"
    with unit_of_work(hospital.engine) as conn:
        assert conn.execute(sa.select(booking_slot.c.booked).where(booking_slot.c.slot_id == afternoon)).scalar() == 0


@pytest.mark.parametrize(("lang", "full", "deceased"), [
    ("en", "This slot is fully booked; choose another or join the waitlist.", "This patient is recorded as deceased."),
    ("zh-Hans", "该号源已约满，请选择其他时段或加入候补。", "该患者已登记为死亡。"),
])
def test_refusals_are_shown_in_the_clerks_language_and_nothing_is_written(web, hospital, lang, full, deceased):
    web.get(f"/desk?lang={lang}")
    page = web.get(f"/desk/patients/p-zhang/book/slots?doctor=prac-li&date={hospital.day.isoformat()}")
    taken = slot_form(page, hospital.slots[0])
    with unit_of_work(hospital.engine) as conn:
        service.book(conn, ctx=DESK, slot_id=hospital.slots[0], patient_id="p-other", channel="desk")
    refused = web.post("/desk/patients/p-zhang/book", data={**taken, "version": ""})
    assert refused.status_code == 409 and 'data-code="full"' in refused.text and full in refused.text
    assert 'role="alert"' in refused.text and ("3 楼" if lang == "zh-Hans" else "Floor 3") in refused.text
    dead = book(web, hospital, "p-dead", 1)
    assert dead.status_code == 422 and 'data-code="deceased"' in dead.text and deceased in dead.text
    assert bookings_of(hospital.engine, "p-zhang") == [] and bookings_of(hospital.engine, "p-dead") == []
    with unit_of_work(hospital.engine) as conn:
        assert conn.execute(sa.select(booking_slot.c.booked).where(booking_slot.c.slot_id == hospital.slots[1])).scalar() == 0


def test_submitting_the_same_booking_twice_books_once(web, hospital):
    page = web.get(f"/desk/patients/p-zhang/book/slots?doctor=prac-li&date={hospital.day.isoformat()}")
    form = slot_form(page, hospital.slots[2])
    assert web.post("/desk/patients/p-zhang/book", data=form).status_code == 303
    again = web.post("/desk/patients/p-zhang/book", data=form)
    assert again.status_code == 409 and "already submitted" in again.text
    assert len(bookings_of(hospital.engine, "p-zhang")) == 1


def test_forms_without_the_sessions_csrf_token_are_refused(web, hospital):
    refused = book(web, hospital, "p-zhang", 0, csrf_token="forged")
    assert refused.status_code == 403 and bookings_of(hospital.engine, "p-zhang") == []
    appointment_id = visit_id(book(web, hospital, "p-zhang", 0))
    no_token = web.post(f"/desk/patients/p-zhang/visits/{appointment_id}/pay", data={"method": "cash"})
    assert no_token.status_code == 403 and bookings_of(hospital.engine, "p-zhang")[0].payment_status == "pending"


@pytest.mark.parametrize(("role", "status"), [("patient", 403), ("doctor", 403), ("hospital_admin", 200)])
def test_only_nurses_and_hospital_administrators_open_the_desk(hospital, role, status):
    make_user(hospital.engine, role, organization="Organization/org-h")
    with browser() as other:
        sign_in(other, role.replace("_", ".") + ".test")
        assert other.get("/desk").status_code == status
        assert other.get("/desk/patients/p-zhang").status_code == (200 if status == 200 else 403)


def test_strangers_are_sent_to_sign_in(hospital):
    with browser() as stranger:
        page = stranger.get("/desk/patients/p-zhang")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/desk/patients/p-zhang"


def test_the_desk_is_linked_from_the_nurses_and_the_hospital_administrators_homes(web, hospital):
    assert 'href="/desk"' in web.get("/workstation").text
    make_user(hospital.engine, "hospital_admin", organization="Organization/org-h")
    make_user(hospital.engine, "doctor", organization="Organization/org-h")
    with browser() as admin:
        sign_in(admin, "hospital.admin.test")
        assert 'href="/desk"' in admin.get("/console").text
    with browser() as doctor:
        sign_in(doctor, "doctor.test")
        assert 'href="/desk"' not in doctor.get("/workstation").text


@pytest.mark.parametrize("typed", ["<script>alert(1)</script>", "x" * 500, "a,b\\c|d$", "%00", "zhang\x00wei", "\u200b"])
def test_hostile_searches_get_a_page_not_a_500(web, typed):
    page = web.get("/desk", params={"q": typed})
    assert page.status_code == 200 and "<script>alert(1)</script>" not in page.text


@pytest.mark.parametrize("path", ["/desk/patients/..%2F..%2Fetc", "/desk/patients/" + "x" * 300, "/desk/patients/p%00",
                                  "/desk/patients/p-zhang/book/slots?doctor=prac-li%00&date=%00",
                                  "/desk/patients/p-zhang/visits/nope/slip", "/desk/patients/p-zhang/book/slots?doctor=<b>",
                                  "/desk/patients/p-zhang/book/doctors?department=hcs-nope"])
def test_hostile_or_unknown_ids_get_a_404(web, path):
    assert web.get(path).status_code == 404
