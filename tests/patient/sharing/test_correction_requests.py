"""Corrections: a patient's request becomes a FHIR Task owned by the record's source institution, which that
institution's administrators (and no other's) see and answer; the patient follows its status."""

import pytest

from smartcare.patient.sharing.corrections import correction_task, source_institution
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from tests.patient.sharing.conftest import signed_in
from tests.web_support import form_token


def ask(web, item="Observation/hba1c-pa1", text="The HbA1c was 6.9, not 7.9", person="pa1"):
    form = web.get(f"/app/corrections/new?person={person}&item={item}")
    assert form.status_code == 200, form.text[:300]
    return web.post("/app/corrections", data={"csrf_token": form_token(form), "person": person, "item": item,
                                              "text": text})


def test_the_request_is_a_task_owned_by_the_source_institution(region, client):
    assert ask(region).status_code == 303
    tasks = client.get("/fhir/Task?patient=pa1").json()["entry"]
    assert len(tasks) == 1
    task = tasks[0]["resource"]
    assert task["status"] == "requested" and task["code"]["coding"][0]["code"] == "change"
    assert task["focus"]["reference"] == "Observation/hba1c-pa1" and task["for"]["reference"] == "Patient/pa1"
    assert task["owner"]["reference"] == "Organization/org-b" and task["requester"]["reference"] == "Patient/pa1"
    assert task["description"] == "The HbA1c was 6.9, not 7.9"


def test_it_reaches_that_hospitals_admin_and_not_another(region, engine):
    ask(region)
    admin_b, admin_a = signed_in("admin.b"), signed_in("admin.a")
    seen = admin_b.get("/console/corrections")
    assert seen.status_code == 200 and "The HbA1c was 6.9, not 7.9" in seen.text
    assert "The HbA1c was 6.9" not in admin_a.get("/console/corrections").text
    # The listing is recorded on the patient's trail as the administrator's.
    with unit_of_work(engine) as conn:
        assert any(e["agent"] == "user/admin.b" for e in audit.events_for_patient(conn, "Patient/pa1"))
    assert signed_in("patient.test").get("/console/corrections").status_code == 403


def test_the_hospital_answers_and_the_patient_sees_the_status(region, client):
    ask(region)
    task_id = client.get("/fhir/Task?patient=pa1").json()["entry"][0]["resource"]["id"]
    admin_a, admin_b = signed_in("admin.a"), signed_in("admin.b")
    page_a = admin_a.get("/account")
    stolen = admin_a.post(f"/console/corrections/{task_id}", data={"csrf_token": form_token(page_a),
                                                                   "status": "accepted", "note": ""})
    assert stolen.status_code == 400
    page = admin_b.get("/console/corrections")
    done = admin_b.post(f"/console/corrections/{task_id}", data={
        "csrf_token": form_token(page), "status": "accepted", "note": "We are checking the <i>sample</i>"})
    assert done.status_code == 303
    mine = region.get("/app/corrections?person=pa1")
    assert "accepted, being corrected" in mine.text and "We are checking the &lt;i&gt;sample&lt;/i&gt;" in mine.text
    assert "Hillside District Hospital" in mine.text
    # completed only follows accepted; a second accept is refused.
    again = admin_b.post(f"/console/corrections/{task_id}", data={"csrf_token": form_token(page),
                                                                 "status": "accepted", "note": ""})
    assert again.status_code == 400


def test_a_hostile_request_text_is_stored_and_shown_escaped(region, client):
    hostile = "<img src=x onerror=alert(1)> ' OR 1=1 --"
    assert ask(region, text=hostile).status_code == 303
    assert client.get("/fhir/Task?patient=pa1").json()["entry"][0]["resource"]["description"] == hostile
    page = region.get("/app/corrections?person=pa1")
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text


@pytest.mark.parametrize("text,message", [("", "Say what is wrong"), ("x" * 1001, "Write at most 1000 characters")])
def test_bad_text_gets_a_form_message_and_no_task(region, client, text, message):
    answer = ask(region, text=text)
    assert answer.status_code == 400 and message in answer.text
    assert client.get("/fhir/Task?patient=pa1").json().get("entry", []) == []


def test_another_persons_record_cannot_be_the_focus(region, client):
    page = region.get("/app/share?person=pa1")
    refused = region.post("/app/corrections", data={"csrf_token": form_token(page), "person": "pa1",
                                                    "item": "Condition/flu-pa2", "text": "This is not right"})
    assert refused.status_code == 404
    assert region.get("/app/corrections/new?person=pa1&item=Condition/flu-pa2").status_code == 404
    assert client.get("/fhir/Task?patient=pa2").json().get("entry", []) == []


def test_a_caregiver_asks_for_the_child_as_their_related_person(region, client):
    carer = signed_in("caregiver.test")
    assert ask(carer, item="Condition/asthma-kid1", text="Asthma was ruled out last year", person="kid1").status_code == 303
    task = client.get("/fhir/Task?patient=kid1").json()["entry"][0]["resource"]
    assert task["requester"]["reference"] == "RelatedPerson/rp1" and task["owner"]["reference"] == "Organization/org-b"


def test_the_list_page_offers_the_records_and_is_in_chinese(region):
    page = region.get("/app/corrections?person=pa1&lang=zh-Hans")
    assert page.status_code == 200 and "我的更正申请" in page.text
    assert "item=Observation/hba1c-pa1" in page.text.replace("%2F", "/")


def test_source_institution_prefers_meta_source_then_the_performer():
    assert source_institution({"meta": {"source": "Organization/x"}, "performer": [
        {"reference": "Organization/y"}]}) == "Organization/x"
    assert source_institution({"performer": [{"reference": "Practitioner/p"}, {"reference": "Organization/y"}]}) \
        == "Organization/y"
    assert source_institution({"performer": [{"actor": {"reference": "Organization/z"}}]}) == "Organization/z"
    assert source_institution({"meta": {"source": "https://elsewhere"}}) is None
    task = correction_task(item={"resourceType": "Condition", "id": "c1", "code": {"text": "Asthma"}},
                           patient_ref="Patient/p", requester_ref="Patient/p", owner="Organization/x", text="wrong",
                           now="2026-03-02T08:00:00Z")
    assert task["focus"] == {"reference": "Condition/c1", "display": "Asthma"} and task["intent"] == "proposal"


def test_the_record_lists_offer_a_correction_for_what_an_institution_sent(region):
    lists = region.get("/app/record/lists")
    assert lists.status_code == 200
    link = "/app/corrections/new?person=pa1&amp;item=Condition/dm-pa1"
    assert link in lists.text
    form = region.get(link.replace("&amp;", "&"))
    assert form.status_code == 200 and "Type 2 diabetes" in form.text
