"""The new-referral form of the workstation: both languages, up and down, errors by their fields, CSRF."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from smartcare.hospital.referral import service
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications import service as notifications
from tests.hospital.referral.conftest import as_user
from tests.web_support import form_token

FORM = "/workstation/referrals/new"
UP = {"direction": "upward", "patient": "pa1", "department": "HealthcareService/hcs-cardio", "urgency": "urgent",
      "reason": "Palpitations with syncope", "summary": "Holter pending; BP 150/90", "attachment": "Observation/obs-bp"}

# The form only composes what the service writes; the service and the access rule run on both stores in their own
# tests, so the pages run on one store.
pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def post(web, fields: dict, *, token: str | None = None):
    return web.post(FORM, data={"csrf_token": token or form_token(web.get(f"{FORM}?patient=pa1")), **fields})


def tasks(region) -> int:
    with unit_of_work(region.engine) as conn:
        return conn.execute(sa.text("SELECT count(*) FROM fhir_resource WHERE res_type = 'Task'")).scalar()


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ("New referral", "Receiving department", "Reason for referral", "Harbour Hospital - Cardiology")),
    ("zh-Hans", ("新建转诊", "接收科室", "转诊原因", "随转诊附带的患者病历记录"))])
def test_form_finds_the_patient_and_offers_departments_and_records_in_both_languages(signed_in, lang, words):
    gp = signed_in("gp")
    assert f'href="{FORM}"' in gp.get(f"/workstation/referrals?lang={lang}").text
    found = gp.get(f"{FORM}?q=Chen&lang={lang}")
    assert found.status_code == 200 and "patient=pa1" in found.text
    # Only patients in the doctor's reach are found: pa2 is the hospital's.
    assert "patient=pa2" not in gp.get(f"{FORM}?q=Hu").text
    page = gp.get(f"{FORM}?patient=pa1&lang={lang}")
    assert page.status_code == 200
    for word in words:
        assert word in page.text
    assert 'value="Observation/obs-bp"' in page.text
    # The doctor's own clinic is not among the receiving departments.
    assert 'value="HealthcareService/hcs-cardio"' in page.text and 'value="HealthcareService/hcs-gp"' not in page.text


def test_a_community_doctor_refers_up_and_both_sides_see_it(signed_in, region):
    gp, cardio = signed_in("gp"), signed_in("cardio")
    sent = post(gp, UP)
    assert sent.status_code == 303, sent.text
    rid = sent.headers["location"].rsplit("/", 1)[1]
    detail = gp.get(sent.headers["location"])
    assert "Palpitations with syncope" in detail.text and "Observation/obs-bp" in detail.text
    assert f"/workstation/referrals/{rid}" in gp.get("/workstation/referrals?box=outgoing").text
    assert f"/workstation/referrals/{rid}" in cardio.get("/workstation/referrals?box=incoming").text
    with unit_of_work(region.engine) as conn:
        inbox = notifications.inbox(conn, user_id=region.users["cardio"])
    assert [n["title"] for n in inbox] == ["New referral: Upward referral, Urgent"]


def test_a_discharge_referral_down_carries_the_care_plan_and_follow_up_tasks(signed_in, region, now):
    cardio = signed_in("cardio")
    page = cardio.get(f"{FORM}?direction=downward&patient=pa2")
    token = form_token(page)
    assert page.text.count('name="follow_up"') == 3
    more = cardio.post(FORM, data={"csrf_token": token, "direction": "downward", "patient": "pa2",
                                   "reason": "Kept", "more_rows": "1"})
    assert more.status_code == 200 and more.text.count('name="follow_up"') == 6 and 'value="Kept"' in more.text
    today = now[0].date()
    sent = cardio.post(FORM, data={
        "csrf_token": token, "direction": "downward", "patient": "pa2", "department": "HealthcareService/hcs-gp",
        "urgency": "routine", "reason": "Discharged after NSTEMI", "summary": "",
        "care_plan": ["Aspirin and statin daily", "", "Low-salt diet"],
        "follow_up": ["Blood pressure check", "Lipid panel", ""],
        "follow_up_due": [str(today + timedelta(days=7)), str(today + timedelta(days=42)), ""]})
    assert sent.status_code == 303, sent.text
    rid = sent.headers["location"].rsplit("/", 1)[1]
    gp = as_user(region, "gp")
    with unit_of_work(region.engine) as conn:
        seen = service.read(conn, ctx=gp, task_id=rid)
    assert seen.direction == "downward" and seen.side == "receiver"
    assert sorted((f["description"], f["due"]) for f in seen.follow_ups) == [
        ("Blood pressure check", str(today + timedelta(days=7))), ("Lipid panel", str(today + timedelta(days=42)))]


BAD = [
    ({"patient": "nobody"}, "patient", "Choose a patient in your care."),
    ({"patient": "pa2"}, "patient", "Choose a patient in your care."),  # the hospital's patient, out of reach
    ({"department": "HealthcareService/hcs-nowhere"}, "department", "Choose the receiving department from the list."),
    ({"reason": "   "}, "reason", "Give the reason for the referral."),
    ({"reason": "<script>alert(1)</script>"}, "reason", "Write plain text, without HTML tags or control characters."),
    ({"summary": "x" * 4001}, "summary", "At most 4000 characters."),
    ({"attachment": "Observation/obs-other"}, "attachments", "Choose only records of this patient from the list."),
    ({"urgency": "whenever"}, "urgency", "Choose an urgency from the list."),
]


def test_bad_input_is_shown_by_its_field_and_nothing_is_written(signed_in, region):
    gp = signed_in("gp")
    token = form_token(gp.get(f"{FORM}?patient=pa1"))
    for change, field, message in BAD:
        refused = post(gp, {**UP, **change}, token=token)
        assert refused.status_code == 422, change
        assert f'id="f-{field}-problem" class="field-error">{message}</small>' in refused.text, change
        assert "<script>alert" not in refused.text
        if field != "reason":
            assert 'value="Palpitations with syncope"' in refused.text  # what was typed is kept
    assert tasks(region) == 0


def test_errors_come_in_the_readers_language_and_follow_ups_need_a_future_due_date(signed_in, region, now):
    cardio = signed_in("cardio")
    cardio.get(f"{FORM}?lang=zh-Hans")
    token = form_token(cardio.get(f"{FORM}?direction=downward&patient=pa2"))
    refused = cardio.post(FORM, data={
        "csrf_token": token, "direction": "downward", "patient": "pa2", "department": "HealthcareService/hcs-gp",
        "urgency": "routine", "reason": "", "follow_up": ["Blood pressure check", ""],
        "follow_up_due": [str(now[0].date() - timedelta(days=1)), "2026-13-40"]})
    assert refused.status_code == 422
    assert "请填写转诊原因。" in refused.text and "截止日期须为今天或以后。" in refused.text
    assert re.search(r'id="f-follow_up_due-0"[^>]*aria-invalid="true"', refused.text)
    empty = cardio.post(FORM, data={"csrf_token": token, "direction": "downward", "patient": "pa2",
                                    "department": "HealthcareService/hcs-gp", "reason": "Home", "urgency": "routine"})
    assert empty.status_code == 422 and "下转须附带至少一项照护计划内容或随访任务。" in empty.text
    assert tasks(region) == 0


def test_a_post_without_the_sessions_csrf_token_is_refused(signed_in, region):
    gp = signed_in("gp")
    assert gp.post(FORM, data=UP).status_code == 403
    assert post(gp, UP, token="forged").status_code == 403
    assert tasks(region) == 0
