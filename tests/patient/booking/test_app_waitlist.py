"""The waiting list in the app: join a doctor's full day, see one's place in line, get the freed place, or leave."""

import re

import pytest
import sqlalchemy as sa

from smartcare.hospital.scheduling import scheduled, service
from smartcare.hospital.scheduling.models import booking, booking_slot, booking_waitlist
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import run_due
from smartcare.platform.notifications.service import inbox
from tests.hospital.scheduling.conftest import patient_ctx
from tests.web_support import browser, form_token, sign_in


@pytest.fixture
def full_day(hospital):
    """Dr Li sees patients at 08:00 only on Tuesday (the rest of the day is blocked), and pa2 has that place."""
    with unit_of_work(hospital.engine) as conn:
        second = conn.execute(sa.select(booking_slot.c.start).where(booking_slot.c.slot_id == hospital.slots[1])).scalar()
        last = conn.execute(sa.select(sa.func.max(booking_slot.c.end))).scalar()
        scheduled.block_period(conn, start=clock.parse_instant(second), end=clock.parse_instant(last),
                               reason="Ward round", practitioner_id="prac-li")
    with unit_of_work(hospital.engine) as conn:
        taken = service.book(conn, ctx=patient_ctx("pa2"), slot_id=hospital.slots[0], patient_id="pa2")
    return taken


@pytest.fixture
def web(hospital):
    with browser() as client:
        yield client


def slots_page(web, hospital):
    return web.get(f"/app/book/slots?doctor=prac-li&date={hospital.day.isoformat()}")


def page_token(page) -> str:
    """The session's CSRF token, from the page's meta tag (a page without a form has one too)."""
    return re.search(r'<meta name="csrf-token" content="([^"]*)"', page.text).group(1)


def join(web, hospital, patient_id: str, **changes):
    page = slots_page(web, hospital)
    return web.post("/app/book/waitlist", data={"csrf_token": page_token(page), "doctor": "prac-li",
                                                "date": hospital.day.isoformat(), "patient": patient_id, **changes})


def entries(engine) -> list[tuple[str, str]]:
    with unit_of_work(engine) as conn:
        return [tuple(r) for r in conn.execute(sa.select(booking_waitlist.c.patient_id, booking_waitlist.c.status)
                                               .order_by(booking_waitlist.c.seq))]


def waitlist_cards(page) -> list[str]:
    """The text of the waiting-list cards on "my visits"."""
    cards = re.findall(r'<article class="visit-card waitlist-card".*?</article>', page.text, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip() for c in cards]


def test_a_patient_joins_a_full_day_sees_position_one_and_gets_the_freed_place(web, hospital, full_day):
    sign_in(web, "patient.test")
    page = slots_page(web, hospital)
    assert "This day is fully booked" in page.text and "Join the waiting list for this day" in page.text
    assert 'name="patient" value="pa1"' in page.text
    joined = join(web, hospital, "pa1")
    assert joined.status_code == 303 and joined.headers["location"].startswith("/app/visits?done=waiting")
    visits = web.get(joined.headers["location"])
    assert "You are on the waiting list" in visits.text
    [card] = waitlist_cards(visits)
    assert hospital.day.isoformat() in card and "Li Wei" in card and "Waiting: number 1 in line" in card
    assert "Leave the waiting list" in card

    with unit_of_work(hospital.engine) as conn:
        service.cancel(conn, ctx=patient_ctx("pa2"), appointment_id=full_day.id)
    run_due(hospital.engine)
    with unit_of_work(hospital.engine) as conn:
        offered = conn.execute(sa.select(booking).where(booking.c.patient_id == "pa1")).one()
    after = web.get("/app/visits")
    upcoming = after.text.split("Past and cancelled")[0]
    assert f'href="/app/visits/{offered.id}"' in upcoming and "08:00" in upcoming and "Not paid yet" in upcoming
    [card] = waitlist_cards(after)
    assert "A place was booked for you" in card and "Leave the waiting list" not in card
    visit = web.get(f"/app/visits/{offered.id}")
    assert visit.status_code == 200 and "Li Wei" in visit.text
    # The notice of the offer leads to the booking.
    with unit_of_work(hospital.engine) as conn:
        told = inbox(conn, user_id=_user_id(conn, "patient.test"))
    assert [(n["title"], n["link"]) for n in told if n["kind"] == "appointment.waitlist"] == [
        ("A place from the waitlist is yours", f"/app/visits/{offered.id}")]
    # Once paid it is an ordinary visit and leaves the waiting lists.
    web.post(f"/app/visits/{offered.id}/pay", data={"csrf_token": form_token(visit)})
    assert waitlist_cards(web.get("/app/visits")) == []


def test_a_caregiver_joins_for_their_child_behind_others_and_leaves(web, hospital, full_day):
    sign_in(web, "patient.test")
    assert join(web, hospital, "pa1").status_code == 303
    with browser() as mum:
        sign_in(mum, "caregiver.test")
        page = slots_page(mum, hospital)
        assert 'value="child"' in page.text and 'value="stranger"' not in page.text
        assert join(mum, hospital, "child").status_code == 303
        [card] = waitlist_cards(mum.get("/app/visits"))
        assert "Waiting: number 2 in line" in card
        refused = join(mum, hospital, "stranger")
        assert refused.status_code == 403 and 'data-code="forbidden"' in refused.text
        assert "whose proxy you are" in refused.text
    # pa1 leaves; the child moves up to first in line.
    visits = web.get("/app/visits")
    leave_url = re.search(r'action="(/app/waitlist/[^"]+/leave)"', visits.text).group(1)
    left = web.post(leave_url, data={"csrf_token": form_token(visits)})
    assert left.status_code == 303 and "You have left the waiting list." in web.get(left.headers["location"]).text
    assert entries(hospital.engine) == [("pa1", "left"), ("child", "waiting")]
    with browser() as mum:
        sign_in(mum, "caregiver.test")
        [card] = waitlist_cards(mum.get("/app/visits"))
        assert "Waiting: number 1 in line" in card
        # Someone else's entry cannot be left from another account.
        again = mum.post(leave_url, data={"csrf_token": form_token(mum.get("/app/visits"))})
        assert again.status_code == 404 and 'data-code="not-found"' in again.text


@pytest.mark.parametrize(("lang", "message"), [
    ("en", "This patient is already on the waitlist for this doctor on this day."),
    ("zh-Hans", "该患者已在这位医生当天的候补名单中。"),
])
def test_joining_twice_is_refused_in_the_readers_language(web, hospital, full_day, lang, message):
    sign_in(web, "patient.test")
    web.get(f"/app/book?lang={lang}")
    assert join(web, hospital, "pa1").status_code == 303
    again = join(web, hospital, "pa1")
    assert again.status_code == 409 and 'role="alert"' in again.text and message in again.text
    assert entries(hospital.engine) == [("pa1", "waiting")]


def test_a_day_with_free_places_offers_no_waiting_list_and_refuses_one(web, hospital):
    sign_in(web, "patient.test")
    page = slots_page(web, hospital)
    assert "Join the waiting list for this day" not in page.text
    refused = join(web, hospital, "pa1")
    assert refused.status_code == 409 and 'data-code="places-free"' in refused.text
    assert "book one of them instead" in refused.text and entries(hospital.engine) == []


def test_joining_without_the_sessions_csrf_token_is_refused(web, hospital, full_day):
    sign_in(web, "patient.test")
    assert join(web, hospital, "pa1", csrf_token="forged").status_code == 403
    assert entries(hospital.engine) == []


@pytest.mark.parametrize("hostile", ["<script>alert(1)</script>", "x" * 500, "../../etc"])
def test_hostile_waitlist_input_gets_a_page_not_a_500(web, hospital, full_day, hostile):
    sign_in(web, "patient.test")
    for changes in ({"doctor": hostile}, {"date": hostile}, {"patient": hostile}):
        answer = join(web, hospital, "pa1", **changes)
        assert answer.status_code in (400, 403, 404) and "<script>alert(1)</script>" not in answer.text
    token = page_token(web.get("/app/visits"))
    assert web.post(f"/app/waitlist/{hostile[:60]}/leave", data={"csrf_token": token}).status_code in (404, 405)
    assert entries(hospital.engine) == []


def _user_id(conn, username: str) -> str:
    from smartcare.platform.security.tables import user_account

    return conn.execute(sa.select(user_account.c.id).where(user_account.c.username == username)).scalar_one()

