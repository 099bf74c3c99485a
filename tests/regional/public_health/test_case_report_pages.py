"""The doctor's case-report pages: the list, the report card, submitting, discarding, refusals and bad input."""

import re
from datetime import timedelta

import pytest

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.platform import events
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import reporting, service
from tests.regional.public_health.test_case_reporting import (
    COLLEAGUE,
    HOSPITAL,
    OTHER_HOSPITAL,
    POSITIVE,
    STRANGER,
    diagnosis,
    doctor,
    load,
    region_resources,
    reports,
    result,
)
from tests.web_support import browser, form_token, make_user, sign_in

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
HOSTILE = '<script>alert("x")</script>'


def _signed_in(username: str):
    web = browser()
    sign_in(web, username)
    return web


@pytest.fixture
def drafted(engine, now):
    """A J10.1 diagnosis drafted for Dr Zhou 20 minutes ago; returns (Dr Zhou's browser, the report's id)."""
    load(region_resources())
    doctor(engine)
    load([diagnosis("rep-flu", "J10.1", now[0] - timedelta(minutes=20))])
    reporting.sweep()
    [report] = reports()
    return _signed_in("zhou.doctor"), report["id"]


def _card(web, report_id: str, **changes: str) -> tuple[dict[str, str], str]:
    """The pre-filled card's fields as the browser would post them, with changes, and the page's CSRF token."""
    page = web.get(f"/workstation/case-reports/{report_id}")
    assert page.status_code == 200, page.text[:300]
    fields = dict(re.findall(r'<input id="f-(\w+)" name="\w+" type="(?:text|tel|date|datetime-local)" value="([^"]*)"',
                             page.text))
    fields["sex"] = re.search(r'name="sex" value="(\w+)" required checked', page.text).group(1)
    fields["district"] = re.search(r'<option value="(\w+)" selected>', page.text).group(1)
    fields["disease"] = "influenza"
    fields["version"] = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    return {**fields, "occupation": "teacher", "classification": "clinical", **changes}, form_token(page)


def test_the_doctor_sees_the_draft_its_time_left_and_why(drafted, now):
    web, report_id = drafted
    page = web.get("/workstation/case-reports")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert f'href="/workstation/case-reports/{report_id}"' in page.text and "王芳" in page.text
    assert "Influenza" in page.text and "23 h 40 min left" in page.text and "ICD-10 J10.1 is Influenza" in page.text
    now[0] += timedelta(hours=25)
    web = _signed_in("zhou.doctor")  # the session of the day before has ended
    overdue = web.get("/workstation/case-reports").text
    assert 'today-badge--critical">1 h 20 min overdue' in overdue
    assert "流行性感冒" in web.get("/workstation/case-reports?lang=zh-Hans").text


def test_the_card_is_prefilled_and_offers_only_the_classifications_the_disease_allows(drafted):
    web, report_id = drafted
    fields, _token = _card(web, report_id)
    assert (fields["name"], fields["id_number"], fields["birth_date"]) == ("王芳", "339901199005040026", "1990-05-04")
    assert (fields["district"], fields["onset"], fields["sex"]) == ("339901", "2026-03-01", "female")
    assert fields["diagnosed_at"] == "2026-03-02T15:40"  # 07:40 UTC in the region's time
    page = web.get(f"/workstation/case-reports/{report_id}").text
    assert re.findall(r'name="classification" value="([\w-]+)"', page) == ["clinical", "confirmed"]
    assert 'for="f-onset"' in page and 'id="f-onset"' in page


def test_the_doctor_submits_the_card_and_public_health_receives_it(drafted, now):
    web, report_id = drafted
    published = []
    events.subscribe(reporting_event := "CaseReported", published.append)
    try:
        fields, token = _card(web, report_id, remarks="Seen in the fever clinic.")
        done = web.post(f"/workstation/case-reports/{report_id}", data={**fields, "csrf_token": token})
    finally:
        events.unsubscribe(reporting_event, published.append)
    assert done.status_code == 303 and done.headers["location"] == "/workstation/case-reports?done=submitted"
    report = gateway.read(SYSTEM, f"Composition/{report_id}")
    case = model.facts(report)
    assert (case.state, report["status"], case.classification) == ("submitted", "final", "clinical")
    assert case.submitted_at == now[0] and not case.overdue
    [card] = model.section_entries(report, model.REPORT_CARD_SECTION)
    answers = {i["linkId"]: i["answer"][0] for i in gateway.read(SYSTEM, card)["item"]}
    assert answers["occupation"]["valueCoding"]["code"] == "teacher"
    assert answers["remarks"] == {"valueString": "Seen in the fever clinic."}
    assert [e.payload["composition"] for e in published] == [f"Composition/{report_id}"]
    assert published[0].payload["district"] == "339901" and published[0].payload["overdue"] is False
    officer = AccessContext(kind="user", name="officer", roles=frozenset({"public_health_officer"}))
    with unit_of_work() as conn:
        listed = service.case_reports(conn, ctx=officer)
    assert [(r.id, r.condition_code, r.status) for r in listed] == [(report_id, "J10.1", "final")]
    assert "Submitted" in web.get("/workstation/case-reports?done=submitted").text


def test_a_card_submitted_after_its_deadline_is_recorded_as_late(drafted, now):
    _web, report_id = drafted
    now[0] += timedelta(hours=24)
    web = _signed_in("zhou.doctor")
    fields, token = _card(web, report_id)
    assert web.post(f"/workstation/case-reports/{report_id}", data={**fields, "csrf_token": token}).status_code == 303
    assert model.facts(gateway.read(SYSTEM, f"Composition/{report_id}")).overdue
    assert "late" in web.get("/workstation/case-reports").text


def test_bad_input_gets_field_errors_shown_escaped_and_writes_nothing(drafted):
    web, report_id = drafted
    before = gateway.read(SYSTEM, f"Composition/{report_id}")
    fields, token = _card(web, report_id, onset="2026-03-09", classification="carrier", remarks="x" * 10_000,
                          name=HOSTILE)
    page = web.post(f"/workstation/case-reports/{report_id}", data={**fields, "csrf_token": token})
    assert page.status_code == 400
    assert '<small id="e-onset" class="field-error">This cannot be in the future.</small>' in page.text
    assert 'aria-describedby="e-classification"' in page.text
    assert "This disease is not reported with that classification." in page.text
    assert "Write at most 500 characters." in page.text
    assert HOSTILE not in page.text and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    after = gateway.read(SYSTEM, f"Composition/{report_id}")
    assert after["meta"]["versionId"] == before["meta"]["versionId"] and model.state_of(after) == "draft"
    assert gateway.search(SYSTEM, "QuestionnaireResponse", []) == []


def test_the_chinese_card_gives_its_errors_in_chinese(drafted):
    web, report_id = drafted
    fields, token = _card(web, report_id, onset="2026-03-09")
    page = web.post(f"/workstation/case-reports/{report_id}?lang=zh-Hans", data={**fields, "csrf_token": token})
    assert page.status_code == 400 and "传染病报告卡" in page.text and "不能是将来的日期或时间。" in page.text


def test_a_concurrent_change_gets_a_clear_message_not_a_lost_update(drafted, now):
    web, report_id = drafted
    fields, token = _card(web, report_id)
    load([result("rep-flu-pcr", "92142-9", POSITIVE, now[0])])  # the result joins the draft meanwhile
    reporting.sweep()
    page = web.post(f"/workstation/case-reports/{report_id}", data={**fields, "csrf_token": token})
    assert page.status_code == 409 and "was changed while you had it open" in page.text
    report = gateway.read(SYSTEM, f"Composition/{report_id}")
    assert model.state_of(report) == "draft" and model.facts(report).classification == "confirmed"
    assert f'name="version" value="{report["meta"]["versionId"]}"' in page.text  # submit again, knowingly


def test_another_hospitals_doctor_is_refused_and_a_colleague_may_open_it(drafted, engine):
    _web, report_id = drafted
    doctor(engine, "qian.doctor", STRANGER, OTHER_HOSPITAL)
    doctor(engine, "wu.doctor", COLLEAGUE, HOSPITAL)
    stranger = _signed_in("qian.doctor")
    assert stranger.get(f"/workstation/case-reports/{report_id}").status_code == 404
    token = form_token(stranger.get("/workstation"))
    refused = stranger.post(f"/workstation/case-reports/{report_id}", data={"csrf_token": token, "version": "1"})
    assert refused.status_code == 404
    assert model.state_of(gateway.read(SYSTEM, f"Composition/{report_id}")) == "draft"
    assert _signed_in("wu.doctor").get(f"/workstation/case-reports/{report_id}").status_code == 200


def test_a_nurse_is_turned_away_from_case_reports(drafted, engine):
    _web, report_id = drafted
    make_user(engine, "nurse")
    assert _signed_in("nurse.test").get(f"/workstation/case-reports/{report_id}").status_code == 403


def test_the_doctor_discards_a_draft_with_a_reason(drafted):
    web, report_id = drafted
    page = web.get(f"/workstation/case-reports/{report_id}")
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    token = form_token(page)
    missing = web.post(f"/workstation/case-reports/{report_id}/discard",
                       data={"csrf_token": token, "version": version, "reason": "other", "discard_text": ""})
    assert missing.status_code == 400 and 'id="e-discard_text"' in missing.text
    done = web.post(f"/workstation/case-reports/{report_id}/discard",
                    data={"csrf_token": token, "version": version, "reason": "reported-elsewhere",
                          "discard_text": "Reported by the district hospital"})
    assert done.status_code == 303
    report = gateway.read(SYSTEM, f"Composition/{report_id}")
    assert (model.state_of(report), report["status"]) == ("discarded", "entered-in-error")
    reason = model.extension(report, model.DISCARD_REASON)["valueCodeableConcept"]
    assert (reason["coding"][0]["code"], reason["text"]) == ("reported-elsewhere", "Reported by the district hospital")
    assert "No case report waits for you." in web.get("/workstation/case-reports").text


def test_the_workstation_home_links_to_the_reports_with_a_count(drafted):
    web, _report_id = drafted
    home = web.get("/workstation").text
    assert 'hx-get="/workstation/case-reports/open-count"' in home
    badge = web.get("/workstation/case-reports/open-count")
    assert badge.status_code == 200 and ">1</span>" in badge.text and "1 case report to complete" in badge.text


def test_a_report_of_an_unknown_id_is_not_found(drafted):
    web, _report_id = drafted
    assert web.get("/workstation/case-reports/no-such-report").status_code == 404
    assert web.get("/workstation/case-reports/" + "x" * 300).status_code == 404


def test_a_report_sent_back_for_correction_is_prefilled_with_the_answers_and_resubmitted_amended(drafted, now):
    web, report_id = drafted
    fields, token = _card(web, report_id)
    web.post(f"/workstation/case-reports/{report_id}", data={**fields, "csrf_token": token})
    first = now[0]
    now[0] += timedelta(hours=30)  # public health asks the next day, after the report's deadline
    web = _signed_in("zhou.doctor")
    report = gateway.read(SYSTEM, f"Composition/{report_id}")
    [card_ref] = model.section_entries(report, model.REPORT_CARD_SECTION)
    model.move(report, "request-correction")
    model.set_extension(report, model.CORRECTION, {"valueString": "The onset date looks wrong."})
    gateway.serve(SYSTEM, FhirRequest(method="PUT", path=f"Composition/{report_id}", body=report))
    listed = web.get("/workstation/case-reports").text
    assert "Reported in time; correct it and send it again" in listed and "overdue" not in listed
    again, token = _card(web, report_id, onset="2026-02-28")
    page = web.get(f"/workstation/case-reports/{report_id}").text
    assert "The onset date looks wrong." in page and '<option value="teacher" selected>' in page
    assert web.post(f"/workstation/case-reports/{report_id}", data={**again, "csrf_token": token}).status_code == 303
    report = gateway.read(SYSTEM, f"Composition/{report_id}")
    assert (model.state_of(report), report["status"], str(model.facts(report).onset)) == ("submitted", "amended",
                                                                                          "2026-02-28")
    assert model.section_entries(report, model.REPORT_CARD_SECTION) == [card_ref]
    assert model.facts(report).submitted_at == first and not model.facts(report).overdue
    assert gateway.read(SYSTEM, card_ref)["meta"]["versionId"] == "2"


def test_reporting_another_disease_takes_that_diseases_deadline(drafted, now):
    web, report_id = drafted
    fields, token = _card(web, report_id, disease="cholera", classification="confirmed")
    assert web.post(f"/workstation/case-reports/{report_id}", data={**fields, "csrf_token": token}).status_code == 303
    case = model.facts(gateway.read(SYSTEM, f"Composition/{report_id}"))
    assert (case.disease, case.deadline) == ("cholera", now[0] - timedelta(minutes=20) + timedelta(hours=2))
