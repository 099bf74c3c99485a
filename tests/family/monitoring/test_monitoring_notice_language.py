"""Monitoring alerts read in the reader's language: the inbox notice, the family view and the app home's
"what matters now", whatever language the account had when the alert was raised."""

import pytest

from smartcare.family.monitoring import flows, plans, texts
from smartcare.platform import events
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications.service import inbox
from tests.family.monitoring.monitoring_record import blood_pressure, stored, write_record
from tests.web_support import browser, make_user, sign_in

SON = "RelatedPerson/rp-son"


@pytest.fixture
def crisis(engine, now):
    """Mr Chen on a hypertension plan with his son as caregiver, and a crisis reading raised as an alert."""
    people = write_record(engine)
    make_user(engine, "patient", "chen.patient", fhir_ref="Patient/p-chen")
    plans.assign_plan(people["gp"], patient_id="p-chen", template_name="hypertension", caregivers=[SON])
    events.publish(events.DomainEvent(flows.READINGS_STORED, {
        "patient": "Patient/p-chen", "device": "Device/dev-1", "observations": stored(engine, blood_pressure(184, 112)),
        "kinds": ["blood-pressure"]}))
    return people


def _notice(user_id, locale):
    with unit_of_work() as conn:
        [found] = inbox(conn, user_id=user_id, locale=locale)
    return found


def test_the_sons_alert_notice_reads_in_chinese_on_a_chinese_page_and_in_english_on_an_english_one(crisis):
    chinese = _notice(crisis["son_id"], "zh-Hans")
    assert chinese["title"] == "居家监测警报"
    assert chinese["body"] == "Chen Guoqiang：血压达到或高于 180/110（血压 184/112）。严重程度：加急。"
    english = _notice(crisis["son_id"], "en")
    assert english["title"] == "Home monitoring alert"
    assert english["body"] == ("Chen Guoqiang: Blood pressure 180/110 or higher (Blood pressure 184/112). "
                               "Severity: Urgent.")
    assert english["link"] == chinese["link"] == "/app/family?person=p-chen"


def test_the_inbox_page_and_the_family_view_show_the_alert_in_chinese(crisis):
    son = browser()
    sign_in(son, "chen.son")
    page = son.get("/inbox?lang=zh-Hans")
    assert "居家监测警报" in page.text and "血压达到或高于 180/110（血压 184/112）" in page.text
    assert "Home monitoring alert" not in page.text
    family = son.get("/app/family?lang=zh-Hans")
    assert "(血压 184/112)" in family.text and "blood-pressure 184/112" not in family.text


def test_the_patients_home_lists_the_alert_in_his_language(crisis):
    patient = browser()
    sign_in(patient, "chen.patient")
    chinese = patient.get("/app?lang=zh-Hans")
    assert "血压达到或高于 180/110：血压 184/112" in chinese.text
    english = patient.get("/app?lang=en")
    assert "Blood pressure 180/110 or higher: Blood pressure 184/112" in english.text


@pytest.mark.parametrize(("detail", "english", "chinese"), [
    ("blood-pressure 184/112", "Blood pressure 184/112", "血压 184/112"),
    ("blood-pressure raised on 3 of the last 5 days", "Blood pressure raised on 3 of the last 5 days",
     "血压在最近 5 天中有 3 天偏高"),
    ("body-weight up 2.4 in 72 h", "Weight up 2.4 in 72 h", "体重在 72 小时内上升 2.4"),
    ("fall reported", "Fall reported", "报告跌倒"),
    ("no reading for 12 h", "No reading for 12 h", "12 小时无测量数据"),
    ("something a person typed <b>", "something a person typed <b>", "something a person typed <b>"),
    ("", "", ""),
])
def test_an_alerts_reading_is_put_into_the_readers_words(detail, english, chinese):
    assert texts.reading_text(detail, "en") == english
    assert texts.reading_text(detail, "zh-Hans") == chinese
