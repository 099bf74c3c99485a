"""The correction console reads and answers as the administrator, through the access policy: a hospital's
administrators reach the correction requests addressed to their hospital (and nothing else of those patients), no
other hospital's administrator does, and what they read and answer is on the patient's trail as theirs."""

import pytest

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from tests.fhir.test_access import FHIR_JSON, transaction
from tests.patient.sharing.conftest import WORLD
from tests.web_support import browser, form_token, make_user, sign_in

REQUEST_TEXT = "The HbA1c was 6.9, not 7.9"


def _signed_in(username):
    web = browser()
    sign_in(web, username)
    return web


def _ctx(engine, username):
    with unit_of_work(engine) as conn:
        return users.context_for(users.get_by_username(conn, username=username))


@pytest.fixture
def task_id(client, engine):
    """pa1 (managed by org-a) asks org-b, which sent the HbA1c, to correct it; a third hospital, org-c, has an
    administrator too. The Task's id."""
    world = [*WORLD, {"resourceType": "Organization", "id": "org-c", "name": "Lakeside Clinic"}]
    assert client.post("/fhir", json=transaction(world), headers=FHIR_JSON).status_code == 200
    make_user(engine, "patient")
    for org in ("a", "b", "c"):
        make_user(engine, "hospital_admin", f"admin.{org}", organization=f"Organization/org-{org}")
    patient = _signed_in("patient.test")
    form = patient.get("/app/corrections/new?person=pa1&item=Observation/hba1c-pa1")
    asked = patient.post("/app/corrections", data={"csrf_token": form_token(form), "person": "pa1",
                                                   "item": "Observation/hba1c-pa1", "text": REQUEST_TEXT})
    assert asked.status_code == 303
    return client.get("/fhir/Task?patient=pa1").json()["entry"][0]["resource"]["id"]


def _status(client, task_id):
    return client.get(f"/fhir/Task/{task_id}").json()["status"]


def _answer(web, task_id, status="accepted", note=""):
    page = web.get("/account")  # any signed-in page carries the session's CSRF token
    return web.post(f"/console/corrections/{task_id}", data={"csrf_token": form_token(page), "status": status,
                                                              "note": note})


@pytest.mark.parametrize("other", ["admin.c", "admin.a"])
def test_another_hospitals_admin_neither_sees_nor_answers_the_request(task_id, client, other):
    # admin.c's hospital has nothing to do with pa1; admin.a's manages pa1 but the request is addressed to org-b.
    web = _signed_in(other)
    page = web.get("/console/corrections?show=all")
    assert page.status_code == 200 and REQUEST_TEXT not in page.text and "No correction requests." in page.text
    refused = _answer(web, task_id, note="Taking it over")
    assert refused.status_code == 400 and "No such request" in refused.text
    web.get("/account?lang=zh-Hans")
    assert "没有这项申请" in _answer(web, task_id).text
    assert _status(client, task_id) == "requested"


def test_the_policy_gives_the_task_only_to_the_owning_hospitals_admin(task_id, engine):
    stranger = _ctx(engine, "admin.c")
    with pytest.raises(FhirError) as missing:
        gateway.read(stranger, f"Task/{task_id}")
    assert missing.value.status == 404
    assert gateway.search(stranger, "Task", [("owner", "Organization/org-b")]) == []

    owner = _ctx(engine, "admin.b")
    assert [t["id"] for t in gateway.search(owner, "Task", [("owner", "Organization/org-b")])] == [task_id]
    assert gateway.read(owner, f"Task/{task_id}")["description"] == REQUEST_TEXT
    # The request brings nothing else of the patient: pa1 is not org-b's patient.
    with pytest.raises(FhirError):
        gateway.read(owner, "Patient/pa1")
    with pytest.raises(FhirError):
        gateway.read(owner, "Observation/hba1c-pa1")
    assert gateway.search(owner, "Condition", [("patient", "Patient/pa1")]) == []


def _put(ctx, task):
    return gateway.serve(ctx, FhirRequest(method="PUT", path=f"Task/{task['id']}", body=task))


def test_the_owning_admin_answers_but_cannot_readdress_retarget_delete_or_make_one(task_id, engine):
    owner = _ctx(engine, "admin.b")
    task = gateway.read(owner, f"Task/{task_id}")
    for changed in ({"owner": {"reference": "Organization/org-c"}}, {"for": {"reference": "Patient/pa2"}},
                    {"code": {"text": "something else"}}):
        with pytest.raises(FhirError) as refused:
            _put(owner, {**task, **changed})
        assert refused.value.status in (403, 404)
    with pytest.raises(FhirError):
        gateway.serve(owner, FhirRequest(method="DELETE", path=f"Task/{task_id}"))
    made = {key: value for key, value in task.items() if key not in ("id", "meta")}
    with pytest.raises(FhirError):
        gateway.serve(owner, FhirRequest(method="POST", path="Task", body={**made, "for": {"reference": "Patient/pa2"}}))
    assert _put(owner, {**task, "status": "accepted"}).body["status"] == "accepted"


def test_the_listing_and_the_answer_are_on_the_patients_trail_as_the_admins(task_id, engine, client):
    admin = _signed_in("admin.b")
    page = admin.get("/console/corrections")
    assert REQUEST_TEXT in page.text
    assert _answer(admin, task_id, note="We are checking the sample").status_code == 303
    assert _status(client, task_id) == "accepted"
    with unit_of_work(engine) as conn:
        trail = audit.events_for_patient(conn, "Patient/pa1", limit=200)
    by_admin = {e["subtype"] for e in trail if e["agent"] == "user/admin.b"}
    assert {"search", "read", "update"} <= by_admin
    assert not [e for e in trail if e["agent"].startswith("system/")]
    seen = _signed_in("patient.test").get("/app/access?person=pa1")
    assert "a hospital administrator" in seen.text and "Hillside District Hospital" in seen.text
