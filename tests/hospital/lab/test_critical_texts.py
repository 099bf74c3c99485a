"""Critical-value, escalation and correction notices are written in the language of the person they go to, and
name the patient, the test, the value and its flag."""

from datetime import timedelta

import pytest

import smartcare.hospital.lab.jobs  # noqa: F401  (registers the escalation job)
from smartcare.fhir import gateway, store
from smartcare.hospital.lab import critical, critical_texts, release, results
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs.worker import tick
from smartcare.platform.notifications import service as notifications
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.hospital.lab.lab_workflow_record import place, received, write_hospital
from tests.web_support import make_user

POTASSIUM = "2823-3"
POTASSIUM_CODE = {"coding": [{"system": "http://loinc.org", "code": POTASSIUM}], "text": "Potassium"}


@pytest.fixture
def lab(engine, now):
    """The lab hospital, with a second, Chinese-reading account for Dr Li, and the head reading Chinese."""
    hospital = write_hospital(engine)
    zh = make_user(engine, "doctor", username="li.doctor.zh", fhir_ref="Practitioner/prac-li",
                   organization="Organization/org-h", locale="zh-Hans")
    with unit_of_work(engine) as conn:
        users.set_locale(conn, user_id=hospital["head_id"], locale="zh-Hans")
    return hospital | {"doctor_zh_id": zh.id}


def _released(lab, value: str) -> dict:
    specimen = received(lab["tech"], place(lab["doctor"], "potassium"))
    report = results.enter_results(lab["tech"], specimen_id=specimen["id"], values={POTASSIUM: value})
    results.review(lab["tech"], report_id=report["id"])
    return release.release(lab["tech"], report_id=report["id"])


def _inbox(user_id: str) -> list[dict]:
    with unit_of_work() as conn:
        return notifications.inbox(conn, user_id=user_id)


def _task() -> dict:
    [task] = gateway.search(SYSTEM, "Task", [("code", f"{critical.TASK_SYSTEM}|{critical.CRITICAL}")])
    return task


def test_the_chinese_reader_gets_the_critical_value_in_chinese_and_the_english_reader_in_english(lab):
    _released(lab, "7.0")
    task = _task()
    [english] = _inbox(lab["doctor_id"])
    [chinese] = _inbox(lab["doctor_zh_id"])
    assert english["body"].splitlines() == [
        "Wang Fang: Potassium [Moles/volume] in Serum or Plasma 7 mmol/L (HH, Critical high).",
        "Acknowledge with a read-back within 15 minutes."]
    assert chinese["title"] == "检验危急值"
    assert chinese["body"].splitlines() == ["Wang Fang：钾 7 mmol/L（HH，危急高值）。", "请在 15 分钟内复述结果以确认。"]
    assert english["link"] == chinese["link"] == f"/workstation/lab/critical/{task['id']}"
    assert english["kind"] == chinese["kind"] == critical.CRITICAL_VALUE.name


def test_a_critically_low_value_is_named_low_in_both_languages(lab):
    _released(lab, "2.1")
    assert "2.1 mmol/L (LL, Critical low)." in _inbox(lab["doctor_id"])[0]["body"]
    assert "钾 2.1 mmol/L（LL，危急低值）" in _inbox(lab["doctor_zh_id"])[0]["body"]


def test_the_task_keeps_the_test_so_the_name_is_translated_later(lab):
    _released(lab, "7.0")
    kept = critical.released(_task())
    assert kept["value"] == "7 mmol/L" and kept["flag"] == "HH"
    assert critical_texts.test_name(kept["code"], "zh-Hans") == "钾"


def test_the_escalation_reaches_the_head_in_chinese_naming_the_doctor_who_did_not_answer(lab, engine, now):
    _released(lab, "7.0")
    now[0] += critical.ACKNOWLEDGE_WITHIN + timedelta(minutes=1)
    tick(engine)
    [notice] = _inbox(lab["head_id"])
    assert notice["title"] == "危急值未按时确认"
    assert notice["body"].splitlines() == ["Wang Fang：钾 7 mmol/L（HH，危急高值）。", "Li Wei 未按时确认：请您复述结果以确认。"]
    assert notice["link"] == f"/workstation/lab/critical/{_task()['id']}"


def test_the_correction_notice_follows_each_readers_language_and_keeps_the_reason_as_typed(lab):
    report = _released(lab, "5.0")
    release.correct(lab["tech"], report_id=report["id"], values={POTASSIUM: "5.1"}, reason="<b>Re-run</b> 复测")
    [english] = [n for n in _inbox(lab["doctor_id"]) if n["kind"] == critical.CORRECTED.name]
    [chinese] = [n for n in _inbox(lab["doctor_zh_id"]) if n["kind"] == critical.CORRECTED.name]
    assert english["body"].splitlines() == [
        "Wang Fang: Potassium [Moles/volume] in Serum or Plasma was corrected after release.",
        "Reason: <b>Re-run</b> 复测"]
    assert chinese["title"] == "检验报告已更正"
    assert chinese["body"].splitlines() == ["Wang Fang：钾 发布后已更正。", "原因：<b>Re-run</b> 复测"]
    assert chinese["link"] == "/workstation/patients/p-wang"


@pytest.mark.parametrize(("locale", "expected"), [
    ("en", "Zhang San: Potassium [Moles/volume] in Serum or Plasma 6.8 mmol/L (HH, Critical high)."),
    ("zh-Hans", "Zhang San：钾 6.8 mmol/L（HH，危急高值）。"),
    ("fr", "Zhang San: Potassium [Moles/volume] in Serum or Plasma 6.8 mmol/L (HH, Critical high)."),
])
def test_the_facts_line_in_each_language_and_english_for_an_unknown_one(locale, expected):
    test = critical_texts.test_name(POTASSIUM_CODE, locale)
    facts = critical_texts.facts(locale, patient="Zhang San", test=test, value="6.8 mmol/L", flag="HH")
    assert facts == expected


def test_a_test_outside_the_catalogue_keeps_its_own_name_and_an_unknown_flag_is_shown_as_sent():
    assert critical_texts.test_name({"text": "Ammonia (send-out)"}, "zh-Hans") == "Ammonia (send-out)"
    assert critical_texts.test_name(None, "en") == ""
    assert critical_texts.flag_name("AA", "zh-Hans") == "AA"


def test_without_a_department_head_the_releaser_is_told_to_phone_in_english(lab, engine, now):
    with unit_of_work() as conn:
        store.delete(conn, SYSTEM, res_type="PractitionerRole", res_id="pr-head")
    _released(lab, "7.0")
    now[0] += critical.ACKNOWLEDGE_WITHIN + timedelta(minutes=1)
    tick(engine)
    [notice] = [n for n in _inbox(lab["tech_id"]) if n["title"] == "Critical result not acknowledged"]
    assert notice["body"].splitlines()[1] == (
        "Li Wei did not acknowledge it in time and no department head is on record: phone the ward.")
