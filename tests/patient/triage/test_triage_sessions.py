"""Triage sessions: a signed-in patient's completed interview is stored as a QuestionnaireResponse and handed to
the doctor's chart; nothing is stored for signed-out visitors; another organisation's doctor sees none."""

import re

import pytest

from smartcare.fhir import gateway, store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.patient.triage.test_triage_pages import _form, _hidden, calm_answer
from tests.web_support import browser, make_user, sign_in

QUESTIONNAIRE = "https://smartcare.example/fhir/Questionnaire/triage"


@pytest.fixture
def region(engine):
    """Patient pa1 of organisation org-a (a woman born 1990), her account, a doctor of org-a and one of org-b."""
    resources = [
        {"resourceType": "Organization", "id": "org-a", "name": "Harbour Hospital"},
        {"resourceType": "Organization", "id": "org-b", "name": "Hill Hospital"},
        {"resourceType": "Patient", "id": "pa1", "name": [{"family": "Harbour", "given": ["Mei"]}],
         "gender": "female", "birthDate": "1990-05-01", "managingOrganization": {"reference": "Organization/org-a"}},
    ]
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])
    make_user(engine, "patient")
    make_user(engine, "doctor")
    make_user(engine, "doctor", username="doctor.other", fhir_ref="Practitioner/doc-b", organization="Organization/org-b")
    return engine



def _stored() -> list[dict]:
    return gateway.search(SYSTEM, "QuestionnaireResponse", [("subject", "Patient/pa1")])


def _interview(web, text: str) -> str:
    start = web.get("/app/triage")
    token = re.search(r'name="csrf_token" value="([^"]*)"', start.text).group(1)
    page = web.post("/app/triage", data={"csrf_token": token, "text": text, "age": "35", "sex": "female",
                                         "screen": "0"})
    for _ in range(8):
        fields = _hidden(page)
        shown = dict(fields).get("shown")
        if shown is None:
            break
        page = web.post("/app/triage", data=_form([*fields, *((f"a_{q}", calm_answer(q)) for q in shown.split(","))]))
    assert page.status_code == 200
    return page.text


def _sessions_seen_by(username: str) -> str:
    web = browser()
    sign_in(web, username)
    return web.get("/workstation/patients/pa1/triage").text


def test_the_form_is_prefilled_from_the_patients_record(region):
    web = browser()
    sign_in(web, "patient.test")
    page = web.get("/app/triage")
    assert 'name="age" inputmode="decimal" maxlength="8" value="35"' in page.text or 'value="36"' in page.text
    assert '<option value="female" selected>' in page.text


def test_a_signed_in_patients_session_is_stored_and_listed_in_the_history(region):
    web = browser()
    sign_in(web, "patient.test")
    result = _interview(web, "sore throat for 3 days")
    assert "Saved to your record" in result
    history = web.get("/app/triage/history")
    assert history.status_code == 200 and "sore throat for 3 days" in history.text
    assert "Self-care" in history.text or "Routine" in history.text


def test_the_stored_session_is_a_completed_questionnaire_response_about_the_patient(region):
    web = browser()
    sign_in(web, "patient.test")
    _interview(web, "chest pain and sweating")
    resources = _stored()
    assert len(resources) == 1
    qr = resources[0]
    assert qr["status"] == "completed" and qr["subject"]["reference"] == "Patient/pa1"
    assert qr["questionnaire"] == QUESTIONNAIRE and qr["authored"]
    items = {i["linkId"]: i for i in qr["item"]}
    assert items["complaint"]["answer"][0]["valueString"] == "chest pain and sweating"
    result = {i["linkId"]: i for i in items["result"]["item"]}
    assert result["level"]["answer"][0]["valueCoding"]["code"] == "emergency"
    assert result["red-flags"]["answer"][0]["valueCoding"]["code"] == "rf-chest-pain-risk"


def test_nothing_is_stored_for_a_signed_out_visitor(region):
    web = browser()
    page = web.post("/app/triage", data={"text": "chest pain and sweating", "age": "58", "screen": "0"})
    assert "This may be an emergency" in page.text and "Saved to your record" not in page.text
    assert _stored() == []
    assert "Triage before the visit (0)" in _sessions_seen_by("doctor.test").replace("<small>", "").replace(
        "</small>", "")


def test_the_doctor_sees_the_session_in_the_chart_and_another_organisations_doctor_does_not(region):
    web = browser()
    sign_in(web, "patient.test")
    _interview(web, "sore throat for 3 days")
    own = _sessions_seen_by("doctor.test")
    assert "sore throat for 3 days" in own and "Self-care" in own
    other = _sessions_seen_by("doctor.other")
    assert "sore throat for 3 days" not in other
    chart = browser()
    sign_in(chart, "doctor.test")
    page = chart.get("/workstation/patients/pa1")
    assert 'hx-get="/workstation/patients/pa1/triage"' in page.text


def test_the_history_needs_sign_in(region):
    page = browser().get("/app/triage/history")
    assert page.status_code == 303 and "/login" in page.headers["location"]


def test_a_forged_form_from_another_site_is_refused_for_a_signed_in_patient(region):
    web = browser()
    sign_in(web, "patient.test")
    page = web.post("/app/triage", data={"csrf_token": "forged", "text": "sore throat", "screen": "0"})
    assert page.status_code == 403


def test_posting_the_last_screen_again_stores_no_second_session(region):
    web = browser()
    sign_in(web, "patient.test")
    start = web.get("/app/triage")
    fields = {name: re.search(rf'name="{name}" value="([^"]*)"', start.text).group(1)
              for name in ("csrf_token", "session")}
    emergency = {**fields, "text": "crushing chest pain and sweating", "age": "60", "sex": "male", "screen": "0"}
    for _ in range(2):  # the result page reloaded: the browser posts the same form again
        page = web.post("/app/triage", data=emergency)
        assert page.status_code == 200 and "120" in page.text
    assert len(_stored()) == 1
