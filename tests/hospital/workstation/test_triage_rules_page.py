"""The clinician-facing triage rules page: every rule with its level, when it fires, first aid and source."""

import re

import pytest

from smartcare.knowledge import triage
from tests.web_support import browser, make_user, sign_in


@pytest.fixture
def doctor(engine):
    make_user(engine, "doctor")
    web = browser()
    sign_in(web, "doctor.test")
    return web


def test_every_rule_is_listed_with_its_source_and_first_aid(doctor):
    page = doctor.get("/workstation/triage/rules")
    assert page.status_code == 200
    rules = triage.list_rules()
    assert len(re.findall(r'<tr id="rule-', page.text)) == len(rules)
    chest = next(r for r in rules if r["id"] == "rf-chest-pain-risk")
    assert chest["condition_en"] in page.text
    assert 'href="/app/first-aid/heart-attack"' in page.text
    assert "Gilboy" in page.text or rules[0]["source"][0][:20] in page.text


def test_the_filter_shows_only_one_level(doctor):
    page = doctor.get("/workstation/triage/rules?level=urgent")
    shown = len(re.findall(r'<tr id="rule-', page.text))
    assert shown == sum(1 for r in triage.list_rules() if r["level"] == "urgent")
    assert shown < len(triage.list_rules())


def test_the_page_is_in_chinese_and_shows_no_agreement_figure(doctor):
    page = doctor.get("/workstation/triage/rules?lang=zh-Hans")
    assert "分诊规则" in page.text
    chest = next(r for r in triage.list_rules() if r["id"] == "rf-chest-pain-risk")
    assert chest["condition_zh"] in page.text
    assert "%" not in re.sub(r"<style.*?</style>", "", page.text, flags=re.S).split("<main")[1]


def test_a_patient_may_not_open_the_rules_page(engine):
    make_user(engine, "patient")
    web = browser()
    sign_in(web, "patient.test")
    assert web.get("/workstation/triage/rules").status_code == 403


def test_the_safety_screens_are_listed_with_the_context_screens_in_both_languages(doctor):
    page = doctor.get("/workstation/triage/rules")
    assert 'id="safety-screens"' in page.text
    by_id = {q.id: q for q in triage.questions()}
    for qid in triage.safety_screen():
        assert by_id[qid].text_en in page.text
    for screen in triage.context_screens():
        assert screen.label_en in page.text
        assert all(by_id[q].text_en in page.text for q in screen.questions)
    zh = doctor.get("/workstation/triage/rules?lang=zh-Hans")
    assert "安全筛查问题" in zh.text and "5岁以下儿童" in zh.text and by_id["child_green_vomit"].text_zh in zh.text
