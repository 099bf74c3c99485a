"""The schedules console: templates saved through the form with a week's preview, making slots, leave and holidays,
refusals for other hospitals, and form messages in English and Chinese that leave everything as it was."""

import pytest
import sqlalchemy as sa

from smartcare.hospital.scheduling import service
from smartcare.hospital.scheduling.models import booking_slot, schedule_block, schedule_template
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import run_due
from smartcare.platform.notifications.service import inbox
from smartcare.platform.security import users
from tests.hospital.scheduling.conftest import RULES, patient_ctx, put_all
from tests.hospital.scheduling.test_schedule_templates import DOCTOR_CODE, wang  # noqa: F401  (the fixture)
from tests.web_support import PASSWORD, browser, form_token, make_user, sign_in

TEMPLATE = {"weekday": ["0", "2"], "start_0": "08:00", "end_0": "12:00", "start_1": "", "end_1": "",
            "start_2": "", "end_2": "", "slot_minutes": "30", "capacity": "2", "visit_type": "expert", "fee": "",
            "active": "on"}


@pytest.fixture
def admin(wang):  # noqa: F811
    make_user(wang.engine, "hospital_admin", organization="Organization/org-h")
    web = browser()
    sign_in(web, "hospital.admin.test")
    return web


def stored_templates(engine) -> int:
    with unit_of_work(engine) as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(schedule_template)).scalar_one()


def post_template(web, **changes):
    token = form_token(web.get("/console/schedules/doctors/role-wang"))
    return web.post("/console/schedules/doctors/role-wang",
                    data={**TEMPLATE, "action": "save", "csrf_token": token, **changes})


def test_the_console_lists_the_hospitals_doctors_and_is_linked_from_the_console_home(admin):
    home = admin.get("/console")
    assert 'href="/console/schedules"' in home.text
    page = admin.get("/console/schedules")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "Wang Fang" in page.text and "No template yet" in page.text


def test_a_template_saved_in_the_form_is_previewed_listed_and_makes_slots(admin, wang):  # noqa: F811
    form = admin.get("/console/schedules/doctors/role-wang")
    assert form.status_code == 200 and "A week of this template" in form.text
    assert '<input type="checkbox" name="weekday" value="0" checked> Monday' in form.text
    saved = post_template(admin)
    assert saved.status_code == 303, saved.text[:500]
    listing = admin.get(saved.headers["location"])
    assert "The schedule of Wang Fang is saved." in listing.text
    assert "Mon, Wed" in listing.text and "08:00–12:00" in listing.text and "30 min, 2 per slot" in listing.text
    edit = admin.get("/console/schedules/doctors/role-wang")
    assert "16 slots with 32 places in the week, at ¥80 each." in edit.text
    made = admin.post("/console/schedules/doctors/role-wang/slots", data={"csrf_token": form_token(edit)})
    assert made.status_code == 303
    with unit_of_work(wang.engine) as conn:
        slots = conn.execute(sa.select(booking_slot.c.fee, booking_slot.c.capacity)
                             .where(booking_slot.c.practitioner_id == "prac-wang")).all()
    assert slots and set(slots) == {(8000, 2)}
    assert f"{len(slots)} new slots were made for Wang Fang." in admin.get(made.headers["location"]).text


def test_the_form_shows_weekdays_and_the_preview_in_chinese(admin):
    page = admin.get("/console/schedules/doctors/role-wang?lang=zh-Hans")
    assert "星期一" in page.text and "星期日" in page.text and "该模板的一周" in page.text


@pytest.mark.parametrize(("changes", "english", "chinese"), [
    ({"start_1": "11:00", "end_1": "13:00"}, "Sessions am and am-2 overlap", "出诊时段 am 与 am-2 时间重叠"),
    ({"slot_minutes": "25"}, "Session am does not divide into 25-minute slots", "出诊时段 am 不能整分为 25 分钟的号源"),
    ({"start_0": "12:00", "end_0": "08:00"}, "Session pm ends before it starts", "出诊时段 pm 的结束时间早于开始时间"),
    ({"weekday": []}, "Choose at least one weekday", "请至少选择一个出诊日"),
    ({"fee": "-5"}, "A fee is a number of yuan from 0 to 10000", "费用为 0 至 10000 元的数字"),
    ({"start_0": "8 o'clock"}, "Session 1: write the times as HH:MM", "出诊时段 1：时间请写成 时:分"),
])
def test_bad_template_input_gives_the_form_message_in_the_users_language_and_writes_nothing(
        admin, wang, changes, english, chinese):  # noqa: F811
    refused = post_template(admin, **changes)
    assert refused.status_code == 400 and english in refused.text
    assert 'class="field-error"' in refused.text and '-error">' in refused.text
    admin.get("/console/schedules?lang=zh-Hans")
    refused_zh = post_template(admin, **changes)
    assert refused_zh.status_code == 400 and chinese in refused_zh.text and "未保存" in refused_zh.text
    assert stored_templates(wang.engine) == 0


def _patient_account(engine, locale: str) -> str:
    with unit_of_work(engine) as conn:
        return users.create_user(conn, username=f"pa1.{locale}", password=PASSWORD, role="patient",
                                 fhir_ref="Patient/pa1", locale=locale).id


def test_a_doctors_leave_entered_in_the_console_cancels_bookings_and_tells_the_patient(admin, wang):  # noqa: F811
    patient_zh = _patient_account(wang.engine, "zh-Hans")
    with unit_of_work(wang.engine) as conn:
        view = service.book(conn, ctx=patient_ctx("pa1"), slot_id=wang.slots[3], patient_id="pa1", limits=RULES)
    token = form_token(admin.get("/console/schedules"))
    done = admin.post("/console/schedules/leave", data={
        "csrf_token": token, "who": "role-li", "first": "2026-03-03", "last": "2026-03-03", "reason": "training",
        "reason_text": ""})
    assert done.status_code == 303, done.text[:500]
    page = admin.get(done.headers["location"])
    assert "Wei Li's slots from 2026-03-03 to 2026-03-03 are blocked." in page.text
    assert "1 booking was cancelled and its patient was told why." in page.text
    assert "The doctor is at a training or conference" in page.text and "hospital.admin.test" in page.text
    run_due(wang.engine)
    with unit_of_work(wang.engine) as conn:
        body = inbox(conn, user_id=patient_zh)[0]["body"]
        status = service._view(conn, view.id).status
    assert body == "Li Wei 医生在 2026-03-03 09:30 无法出诊（医生外出培训或参加会议），请改约其他时间。"
    assert status == "cancelled"


def test_a_hospital_holiday_entered_in_the_console_blocks_every_doctor(admin, wang):  # noqa: F811
    post_template(admin)
    admin.post("/console/schedules/doctors/role-wang/slots",
               data={"csrf_token": form_token(admin.get("/console/schedules"))})
    done = admin.post("/console/schedules/leave", data={
        "csrf_token": form_token(admin.get("/console/schedules")), "who": "", "first": "2026-03-03",
        "last": "2026-03-05", "reason": "other", "reason_text": "Hospital anniversary"})
    assert done.status_code == 303
    page = admin.get(done.headers["location"])
    assert "The whole hospital is closed from 2026-03-03 to 2026-03-05." in page.text
    assert "Hospital anniversary" in page.text
    with unit_of_work(wang.engine) as conn:
        by_day = conn.execute(sa.select(booking_slot.c.practitioner_id, booking_slot.c.day, booking_slot.c.blocked)
                              .distinct()).all()
    assert {(p, d) for p, d, blocked in by_day if blocked} == {("prac-li", "2026-03-03"), ("prac-wang", "2026-03-04")}
    assert all(not blocked for _, d, blocked in by_day if d > "2026-03-05")


@pytest.mark.parametrize(("form", "english", "chinese"), [
    ({"first": "2026-03-05", "last": "2026-03-03"}, "The last day is before the first day", "结束日期早于开始日期"),
    ({"first": "", "last": "2026-03-03"}, "Give the first day as a date", "请填写开始日期"),
    ({"reason": "other", "reason_text": ""}, "Choose a reason, or write one under Other", "请选择原因"),
    ({"reason": "other", "reason_text": "x" * 201}, "The reason is 1 to 200 characters on one line",
     "原因须为一行，1 至 200 个字符"),
])
def test_bad_leave_input_gives_the_form_message_in_the_users_language_and_blocks_nothing(
        admin, wang, form, english, chinese):  # noqa: F811
    values = {"who": "role-li", "first": "2026-03-03", "last": "2026-03-03", "reason": "leave", "reason_text": "",
              **form}
    refused = admin.post("/console/schedules/leave",
                         data={**values, "csrf_token": form_token(admin.get("/console/schedules"))})
    assert refused.status_code == 400 and english in refused.text and "Nothing was blocked:" in refused.text
    refused_zh = admin.post("/console/schedules/leave?lang=zh-Hans",
                            data={**values, "csrf_token": form_token(admin.get("/console/schedules"))})
    assert refused_zh.status_code == 400 and chinese in refused_zh.text
    with unit_of_work(wang.engine) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schedule_block)).scalar_one() == 0
        assert not any(conn.execute(sa.select(booking_slot.c.blocked)).scalars())


def test_an_administrator_of_another_hospital_is_refused(wang):  # noqa: F811
    make_user(wang.engine, "hospital_admin", username="other.admin.test")  # of Organization/org-a
    web = browser()
    sign_in(web, "other.admin.test")
    listing = web.get("/console/schedules")
    assert listing.status_code == 200 and "Wang Fang" not in listing.text
    assert web.get("/console/schedules/doctors/role-wang").status_code == 403
    token = form_token(listing)
    assert web.post("/console/schedules/doctors/role-wang",
                    data={**TEMPLATE, "action": "save", "csrf_token": token}).status_code == 403
    assert web.post("/console/schedules/leave", data={"csrf_token": token, "who": "role-li", "first": "2026-03-03",
                                                      "last": "2026-03-03", "reason": "leave"}).status_code == 403
    assert stored_templates(wang.engine) == 0
    with unit_of_work(wang.engine) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schedule_block)).scalar_one() == 0


def test_a_form_without_its_csrf_token_is_refused(admin, wang):  # noqa: F811
    refused = admin.post("/console/schedules/doctors/role-wang", data={**TEMPLATE, "action": "save"})
    assert refused.status_code == 403
    assert stored_templates(wang.engine) == 0


@pytest.mark.parametrize("role", ["regional_admin", "doctor", "patient"])
def test_other_roles_cannot_open_the_schedules_console(wang, role):  # noqa: F811
    make_user(wang.engine, role)
    web = browser()
    sign_in(web, role.replace("_", ".") + ".test")
    assert web.get("/console/schedules").status_code == 403


def test_the_doctor_list_narrows_to_one_department(admin, wang):  # noqa: F811
    put_all(wang.engine, [  # Dr Li of cardiology, as the directory lists a doctor
        {"resourceType": "PractitionerRole", "id": "role-li", "active": True, "code": [DOCTOR_CODE],
         "practitioner": {"reference": "Practitioner/prac-li"}, "organization": {"reference": "Organization/org-h"},
         "healthcareService": [{"reference": "HealthcareService/hcs-cardio"}]},
        {"resourceType": "Practitioner", "id": "prac-li", "name": [{"text": "Li Wei"}]}])
    everyone = admin.get("/console/schedules")
    assert "Wang Fang" in everyone.text and "Li Wei" in everyone.text
    assert '<option value="hcs-derm">' in everyone.text
    dermatology = admin.get("/console/schedules?department=hcs-derm")
    assert "Wang Fang" in dermatology.text and "Li Wei" not in dermatology.text
    assert '<option value="hcs-derm" selected>' in dermatology.text
    unknown = admin.get("/console/schedules?department=<script>")
    assert "Wang Fang" in unknown.text and "Li Wei" in unknown.text and "<script>" not in unknown.text
    chinese = admin.get("/console/schedules?department=hcs-derm&lang=zh-Hans")
    assert "全部科室" in chinese.text and "显示" in chinese.text
