"""The case investigation: its questions as data with a source, the checks of each answer, the draft saved and then
completed as a QuestionnaireResponse the case report names, and the page in the officer's language."""

from datetime import date

import pytest

from smartcare.fhir import store
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import investigation
from tests.regional.public_health.test_review import case, institutions, person, put, read
from tests.web_support import browser, form_token, make_user, sign_in

TODAY = date(2026, 3, 2)
PAGE = "/console/public-health/cases/rep-a/investigation"
HOSTILE = "<img src=x onerror=alert(1)>"
COMPLETE = {"onset-date": "2026-02-18", "case-contact": "no", "animal-contact": "unknown", "food-water": "no",
            "travelled": "yes", "trip.1.place": "广州市", "trip.1.from": "2026-02-08", "trip.1.to": "2026-02-12",
            "contact.1.name": "王芳", "contact.1.relation": "household", "contact.1.phone": "+86 139 0000 0001",
            "contact.1.last-contact": "2026-02-20", "symptoms:fever": "on", "symptoms:cough": "on",
            "highest-temperature": "39.2"}


def test_the_form_is_data_that_cites_its_sources_and_says_what_was_not_verified():
    form = investigation.spec()
    assert form.url == model.INVESTIGATION
    assert "个案调查表" in form.source and "WHO" in form.source and "could not be checked" in form.verification
    groups = {g.id: g for g in form.groups}
    assert [i.id for i in groups["contacts"].rows.items] == ["name", "relation", "phone", "last-contact"]
    assert {"onset", "exposure", "travel", "contacts", "specimens"} <= set(groups)


@pytest.mark.parametrize(("item", "message"), [
    ({"id": "x", "type": "slider", "en": "X", "zh": "X"}, "unknown type"),
    ({"id": "x", "type": "choice", "en": "X", "zh": "X"}, "needs options"),
    ({"id": "x", "type": "decimal", "en": "X", "zh": "X", "min": 1}, "needs min and max"),
    ({"id": "onset", "type": "date", "en": "X", "zh": "X"}, "must be unique"),
])
def test_an_inconsistent_form_file_is_refused(item, message):
    raw = {"url": "u", "version": "1", "title_en": "t", "title_zh": "t", "source": "s", "verification": "v",
           "groups": [{"id": "onset", "en": "Onset", "zh": "发病", "items": [item]}]}
    with pytest.raises(investigation.InvestigationSpecInvalid, match=message):
        investigation.parse_spec(raw)


def test_the_form_is_a_valid_fhir_questionnaire():
    questionnaire = investigation.questionnaire()
    store.validate(questionnaire, res_type="Questionnaire")
    contacts = next(i for i in questionnaire["item"] if i["linkId"] == "contacts")["item"][0]
    assert (contacts["linkId"], contacts["type"], contacts["repeats"]) == ("contact", "group", True)


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"onset-date": "2026-03-09"}, "onset-date", investigation.FUTURE_DATE),
    ({"onset-date": "2026-02-30"}, "onset-date", investigation.NO_SUCH_DATE),
    ({"onset-date": "18/02/2026"}, "onset-date", investigation.BAD_DATE),
    ({"contact.2.phone": "call me"}, "contact.2.phone", investigation.BAD_PHONE),
    ({"contact.2.phone": "13900000000"}, "contact.2.name", investigation.ROW_KEY),
    ({"trip.1.place": "x", "trip.1.from": "2026-02-10", "trip.1.to": "2026-02-01"}, "trip.1.to",
     investigation.TO_BEFORE_FROM),
    ({"summary": "x" * 2001}, "summary", investigation.TOO_LONG),
    ({"contact.1.name": HOSTILE * 10}, "contact.1.name", investigation.TOO_LONG),
    ({"hospitalised": "maybe"}, "hospitalised", investigation.CHOOSE),
    ({"symptoms:<b>": "on"}, "symptoms", investigation.CHOOSE_LISTED),
    ({"highest-temperature": "120"}, "highest-temperature", investigation.OUT_OF_RANGE),
    ({"highest-temperature": "nan"}, "highest-temperature", investigation.OUT_OF_RANGE),
])
def test_each_bad_answer_is_named_with_its_field(fields, field, message):
    with pytest.raises(investigation.InvestigationInvalid) as invalid:
        investigation.read_form(fields, today=TODAY, complete=False)
    assert invalid.value.errors[field][0] == message


def test_a_draft_may_leave_out_what_completing_needs():
    answers = investigation.read_form({"onset-date": "2026-02-18"}, today=TODAY, complete=False)
    assert answers["items"]["onset-date"] == "2026-02-18" and answers["rows"]["contact"] == []
    with pytest.raises(investigation.InvestigationInvalid) as invalid:
        investigation.read_form({"onset-date": "2026-02-18", "travelled": "yes"}, today=TODAY, complete=True)
    assert set(invalid.value.errors) == {"case-contact", "animal-contact", "food-water", "trip.1.place"}


def test_contacts_are_kept_as_structured_items_of_the_response():
    answers = investigation.read_form(COMPLETE, today=TODAY, complete=True)
    items = investigation.response_items(answers)
    contacts = next(g for g in items if g["linkId"] == "contacts")["item"]
    assert [c["linkId"] for c in contacts] == ["contact"]
    parts = {p["linkId"]: p["answer"][0] for p in contacts[0]["item"]}
    assert parts["name"] == {"valueString": "王芳"} and parts["last-contact"] == {"valueDate": "2026-02-20"}
    assert parts["relation"]["valueCoding"]["code"] == "household"
    assert investigation.form_fields({"item": items}) == {**COMPLETE, "highest-temperature": "39.2"}


@pytest.fixture
def reported(engine, now):
    put(engine, *institutions(), person("h1-1"), case("rep-a", "h1-1"), case("rep-d", "h1-1", state="draft"))
    make_user(engine, "public_health_officer")
    web = browser()
    sign_in(web, "public.health.officer.test")
    yield web
    web.close()


ONE_STORE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def _post(web, fields: dict, action: str, **versions: str):
    token = form_token(web.get(PAGE))
    return web.post(PAGE, data={"csrf_token": token, "report_version": "1", "form_version": "", "action": action,
                                **versions, **fields})


@ONE_STORE
def test_a_draft_is_saved_then_completed_as_a_response_the_report_names(reported, engine):
    draft = _post(reported, {"onset-date": "2026-02-18", "contact.1.name": "王芳"}, "save")
    assert draft.status_code == 303 and draft.headers["location"] == PAGE + "?saved=1"
    report = read(engine, "rep-a")
    assert report.facts.state == "submitted" and report.version == 2
    with unit_of_work(engine) as conn:
        saved = investigation.responses_of(conn, report.resource)[model.INVESTIGATION]
    assert saved.resource["status"] == "in-progress" and saved.resource["subject"] == {"reference": "Patient/h1-1"}
    page = reported.get(PAGE)
    assert 'id="inv-saved"' not in page.text and 'value="王芳"' in page.text
    done = _post(reported, COMPLETE, "complete", report_version="2", form_version="1")
    assert done.status_code == 303
    with unit_of_work(engine) as conn:
        completed = store.read(conn, SYSTEM, res_type="QuestionnaireResponse", res_id=saved.res_id)
        trail = audit.search(conn, agent="user/public.health.officer.test", patient="Patient/h1-1")
    assert completed.resource["status"] == "completed" and completed.version == 2
    assert {"create", "update", "read"} <= {e["subtype"] for e in trail}
    assert read(engine, "rep-a").version == 2  # the report names the response once


@ONE_STORE
def test_a_second_officer_saving_an_old_version_gets_a_conflict(reported, engine):
    _post(reported, {"onset-date": "2026-02-18"}, "save")
    stale = _post(reported, {"onset-date": "2026-02-17"}, "save", report_version="1", form_version="")
    assert stale.status_code == 409 and "Someone else changed this report" in stale.text
    report = read(engine, "rep-a")
    with unit_of_work(engine) as conn:
        saved = investigation.responses_of(conn, report.resource)[model.INVESTIGATION]
    assert investigation.form_fields(saved.resource)["onset-date"] == "2026-02-18"


@ONE_STORE
def test_mistakes_are_shown_by_their_fields_in_chinese_escaped_and_nothing_is_written(reported, engine):
    reported.get(PAGE, params={"lang": "zh-Hans"})
    page = _post(reported, {"onset-date": "2027-01-01", "contact.1.name": HOSTILE, "contact.1.phone": "abc"},
                 "complete")
    assert page.status_code == 400
    assert 'aria-describedby="e-onset-date"' in page.text and "日期不能晚于今天。" in page.text
    assert "请填写电话号码" in page.text and "完成调查前请填写此项。" in page.text
    assert HOSTILE not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert read(engine, "rep-a").version == 1


@ONE_STORE
def test_a_report_not_yet_reported_cannot_be_investigated(reported, engine):
    page = reported.get("/console/public-health/cases/rep-d/investigation")
    assert page.status_code == 200 and "Only a reported case can be investigated" in page.text
    assert "<form method=\"post\"" not in page.text
