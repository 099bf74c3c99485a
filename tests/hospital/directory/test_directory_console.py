"""The directory console: administrators edit their own organisation's departments, doctors and rooms, and only those."""

import pytest

from smartcare.fhir import gateway
from smartcare.hospital.directory import conventions as dc
from smartcare.platform.security.context import SYSTEM
from tests.web_support import browser, form_token, make_user, sign_in


def _admin(engine, org: str = "org-hosp-1"):
    make_user(engine, "hospital_admin", username="dir.admin", organization=f"Organization/{org}")
    web = browser()
    sign_in(web, "dir.admin")
    return web


def test_a_hospital_admin_edits_their_own_department_fees_and_hours(engine, directory):
    with _admin(engine) as web:
        form = web.get("/console/directory/department/hcs-hosp-1-cardiology")
        assert form.status_code == 200
        done = web.post("/console/directory/department/hcs-hosp-1-cardiology", data={
            "csrf_token": form_token(form), "hours": "mon-fri 08:30-12:00\nsat all-day",
            "fee_ordinary": "55", "fee_specialist": "", "fee_expert": "99.5"})
        assert done.status_code == 303
    service = gateway.read(SYSTEM, "HealthcareService/hcs-hosp-1-cardiology")
    assert dc.fees_of(service) == {"ordinary": 55, "expert": 99.5}
    assert service["availableTime"][1] == {"daysOfWeek": ["sat"], "allDay": True}


def test_another_organisations_records_are_refused(engine, directory):
    with _admin(engine) as web:
        token = form_token(web.get("/console/directory/department/hcs-hosp-1-cardiology"))
        refused = web.post("/console/directory/department/hcs-hosp-2-cardiology",
                           data={"csrf_token": token, "hours": "", "fee_ordinary": "1"})
        assert refused.status_code == 403
        doctor = web.post("/console/directory/doctor/t-anna", data={
            "csrf_token": token, "title": "chief-physician", "languages": "en", "bio_en": "x", "bio_zh": ""})
        assert doctor.status_code == 403
    assert dc.fees_of(gateway.read(SYSTEM, "HealthcareService/hcs-hosp-2-cardiology"))["ordinary"] == 30


def test_a_wrong_csrf_token_is_refused(engine, directory):
    with _admin(engine) as web:
        answer = web.post("/console/directory/room/loc-hosp-1-room-cardiology-1",
                          data={"csrf_token": "forged", "name": "Hijacked", "floor": "1"})
    assert answer.status_code == 403
    assert gateway.read(SYSTEM, "Location/loc-hosp-1-room-cardiology-1")["name"] != "Hijacked"


def test_a_biography_with_html_is_saved_as_text_and_shown_escaped(engine, directory, anonymous):
    hostile = '<script>alert("x")</script><b>bold</b>'
    with _admin(engine) as web:
        form = web.get("/console/directory/doctor/t-zhangwei")
        done = web.post("/console/directory/doctor/t-zhangwei", data={
            "csrf_token": form_token(form), "title": "associate-chief-physician", "languages": ["zh-CN", "en"],
            "bio_en": hostile, "bio_zh": "心内科专家"})
        assert done.status_code == 303
    page = anonymous.get("/doctors/t-zhangwei", params={"lang": "en"})
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert "Associate chief physician" in page.text


@pytest.mark.parametrize(("kind", "item", "fields", "message"), [
    ("doctor", "t-zhangwei", {"title": "chief-physician", "languages": "en", "bio_en": "x" * 2001, "bio_zh": ""},
     "longer than 2000"),
    ("doctor", "t-zhangwei", {"title": "emperor", "languages": "en", "bio_en": "", "bio_zh": ""}, "title"),
    ("department", "hcs-hosp-1-cardiology", {"hours": "someday 25:00-26:00"}, "Cannot read"),
    ("department", "hcs-hosp-1-cardiology", {"hours": "", "fee_ordinary": "-5"}, "fee"),
    ("room", "loc-hosp-1-room-cardiology-1", {"name": "R" * 121, "floor": "2"}, "longer than 120"),
    ("room", "loc-hosp-1-room-cardiology-1", {"name": "Room", "floor": "ground"}, "floor"),
])
def test_bad_or_overlong_input_comes_back_as_a_form_error(engine, directory, kind, item, fields, message):
    with _admin(engine) as web:
        token = form_token(web.get(f"/console/directory/{kind}/{item}"))
        answer = web.post(f"/console/directory/{kind}/{item}", data={"csrf_token": token, **fields})
    assert answer.status_code == 400 and message in answer.text


def test_the_console_needs_an_administrator(engine, directory):
    make_user(engine, "doctor")
    with browser() as web:
        assert web.get("/console/directory").status_code == 303
        sign_in(web, "doctor.test")
        assert web.get("/console/directory").status_code == 403
