"""The break-the-glass JSON API: open, list and close emergency access; bad input is a clear 422."""

import re

import orjson
import pytest
from fastapi.testclient import TestClient

from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.web.app import create_app
from tests.fhir.test_access import as_, build_world

REASON = "Collapsed in the waiting room, no relatives reachable"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def world(client):
    return build_world(client)


def open_as(client, actor: str, body: object, raw: bytes | None = None):
    content = raw if raw is not None else orjson.dumps(body)
    return client.post("/api/break-glass", content=content, headers={**as_(actor), **JSON})


def mine(client, actor: str) -> list[dict]:
    r = client.get("/api/break-glass", headers=as_(actor))
    assert r.status_code == 200, r.text
    return r.json()["grants"]


def test_a_clinician_opens_lists_and_closes_emergency_access(world):
    assert world.get("/fhir/Patient/pa1", headers=as_("doctor-b")).status_code == 404
    opened = open_as(world, "doctor-b", {"patient": "Patient/pa1", "reason": REASON, "minutes": 15})
    assert opened.status_code == 201, opened.text
    grant = opened.json()
    assert (grant["patient"], grant["reason"], grant["active"], grant["ended"]) == ("Patient/pa1", REASON, True, None)
    assert world.get("/fhir/Patient/pa1", headers=as_("doctor-b")).status_code == 200
    assert [g["id"] for g in mine(world, "doctor-b")] == [grant["id"]]
    closed = world.post(f"/api/break-glass/{grant['id']}/close", headers=as_("doctor-b"))
    assert closed.status_code == 200
    assert closed.json()["active"] is False and closed.json()["ended"]
    assert mine(world, "doctor-b") == []
    assert world.get("/fhir/Patient/pa1", headers=as_("doctor-b")).status_code == 404


@pytest.mark.parametrize(
    ("body", "raw", "message"),
    [
        (None, b"not json at all", "The body must be a JSON object"),
        (["Patient/pa1", REASON], None, "The body must be a JSON object"),
        (None, b'{"patient": "pa1", "reason": "' + b"x" * 5000 + b'"}', "over the 4096-byte limit"),
        ({"patient": "pa1"}, None, "reason must be text"),
        ({"patient": "pa1", "reason": "because"}, None, "reason must be 10 to 500 characters"),
        ({"patient": "pa1", "reason": "<script>alert(1)</script>\u0007"}, None, "without control characters"),
        ({"patient": "pa1", "reason": REASON, "minutes": "60"}, None, "minutes must be a whole number"),
        ({"patient": "pa1", "reason": REASON, "minutes": 10_000}, None, "minutes must be a whole number"),
        ({"patient": "pa1", "reason": REASON, "minutes": None}, None, "minutes must be a whole number"),
        ({"reason": REASON}, None, "patient must be a Patient id or reference"),
        ({"patient": {"reference": "Patient/pa1"}, "reason": REASON}, None, "patient must be a Patient id"),
        ({"patient": "Patient/pa1/../pa2", "reason": REASON}, None, "patient must be a Patient id"),
        ({"patient": "Patient/ghost", "reason": REASON}, None, "There is no patient ghost"),
    ],
)
def test_bad_input_is_a_422_saying_what_is_wrong_and_opens_nothing(world, body, raw, message):
    r = open_as(world, "doctor-b", body, raw)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid"
    assert message in r.json()["message"]
    assert mine(world, "doctor-b") == []


def test_only_clinicians_at_the_workstation_may_break_the_glass(world, anonymous):
    refused = open_as(world, "patient-pa1", {"patient": "pa1", "reason": REASON})
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert anonymous.post("/api/break-glass", json={"patient": "pa1", "reason": REASON}).status_code == 401
    # Strangers are turned away before their body is even read.
    assert anonymous.post("/api/break-glass", content=b"x" * 10_000, headers=JSON).status_code == 401
    assert anonymous.get("/api/break-glass").status_code == 401


def test_a_clinician_cannot_close_another_clinicians_emergency_access(world):
    grant = open_as(world, "doctor-b", {"patient": "pa1", "reason": REASON}).json()
    r = world.post(f"/api/break-glass/{grant['id']}/close", headers=as_("doctor-a"))
    assert r.status_code == 404 and r.json()["error"] == "not-found"
    assert [g["id"] for g in mine(world, "doctor-b")] == [grant["id"]]


def test_the_workstation_page_opens_access_with_its_session_and_csrf_token(world):
    with unit_of_work() as conn:
        users.create_user(conn, username="dr.zhou", password="Blue-Harbour-Lantern-42", role="doctor",
                          fhir_ref="Practitioner/doc-b", organization="Organization/org-b")
    with TestClient(create_app(), base_url="http://testserver", follow_redirects=False) as browser:
        form = browser.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]*)"', form.text).group(1)
        signed = browser.post("/login", data={"username": "dr.zhou", "password": "Blue-Harbour-Lantern-42",
                                              "csrf_token": token})
        assert signed.status_code == 303
        page = browser.get("/account")
        csrf = re.search(r'<meta name="csrf-token" content="([^"]*)">', page.text).group(1)
        body = {"patient": "pa1", "reason": REASON, "minutes": 10}
        assert browser.post("/api/break-glass", json=body).status_code == 403
        assert browser.post("/api/break-glass", json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
        opened = browser.post("/api/break-glass", json=body, headers={"X-CSRF-Token": csrf})
        assert opened.status_code == 201, opened.text
        assert [g["id"] for g in browser.get("/api/break-glass").json()["grants"]] == [opened.json()["id"]]
