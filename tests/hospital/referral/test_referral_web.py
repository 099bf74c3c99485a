"""The referral API (JSON and OperationOutcome refusals) and the workstation dashboards in both languages."""

import re

import pytest

from tests.web_support import form_token

NEW = {"direction": "upward", "patient": "Patient/pa1", "department": "HealthcareService/hcs-cardio",
       "reason": "Palpitations with syncope", "urgency": "urgent", "attachments": ["Observation/obs-bp"]}


def test_api_create_read_transition_and_book(signed_in, region):
    gp, cardio = signed_in("gp"), signed_in("cardio")
    created = gp.post("/api/v1/referrals", json=NEW)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    incoming = cardio.get("/api/v1/referrals?box=incoming&urgency=urgent").json()["referrals"]
    assert [r["id"] for r in incoming] == [rid]
    accepted = cardio.post(f"/api/v1/referrals/{rid}/transitions", json={"action": "accept", "version": 1})
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    slots = cardio.get(f"/api/v1/referrals/{rid}/slots").json()["slots"]
    booked = cardio.post(f"/api/v1/referrals/{rid}/booking", json={"slot": slots[0]["slot"]})
    assert booked.status_code == 200, booked.text
    assert booked.json()["state"] == "scheduled" and booked.json()["appointment"].startswith("Appointment/")


def test_api_refusals_are_4xx_operation_outcomes(signed_in, region):
    gp, cardio, stranger = signed_in("gp"), signed_in("cardio"), signed_in("stranger")
    rid = gp.post("/api/v1/referrals", json=NEW).json()["id"]
    cases = [
        (gp.post("/api/v1/referrals", content=b"{not json"), 422),
        (gp.post("/api/v1/referrals", json={**NEW, "urgency": "whenever"}), 422),
        (gp.post("/api/v1/referrals", json={**NEW, "reason": "x" * 501}), 422),
        (gp.post("/api/v1/referrals", json={**NEW, "extra": 1}), 422),
        (gp.post("/api/v1/referrals", json={**NEW, "patient": "Patient/nobody"}), 404),
        (gp.get("/api/v1/referrals?box=sideways"), 422),
        (cardio.post(f"/api/v1/referrals/{rid}/transitions", json={"action": "complete"}), 409),
        (cardio.post(f"/api/v1/referrals/{rid}/transitions", json={"action": "reject"}), 422),
        (gp.post(f"/api/v1/referrals/{rid}/transitions", json={"action": "accept"}), 403),
        (stranger.get(f"/api/v1/referrals/{rid}"), 404),
        (stranger.post(f"/api/v1/referrals/{rid}/transitions", json={"action": "accept"}), 404),
        (cardio.get("/api/v1/referrals/bad$id"), 422),
    ]
    for response, status in cases:
        assert response.status_code == status, (status, response.text)
        body = response.json()
        assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["diagnostics"]
    cardio.post(f"/api/v1/referrals/{rid}/transitions", json={"action": "accept", "version": 1})
    stale = signed_in("cardio2").post(f"/api/v1/referrals/{rid}/transitions", json={"action": "accept", "version": 1})
    assert stale.status_code == 409


def test_api_is_in_openapi(signed_in, region):
    schema = signed_in("gp").get("/openapi.json").json()
    assert "/api/v1/referrals" in schema["paths"] and "/api/v1/referrals/{referral_id}/transitions" in schema["paths"]
    body = schema["paths"]["/api/v1/referrals"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "reason" in body["properties"]


@pytest.mark.parametrize(("lang", "words"), [("en", ("Referrals", "Incoming", "Upward referral", "Urgent")),
                                             ("zh-Hans", ("双向转诊", "转入", "上转", "紧急"))])
def test_dashboards_and_detail_in_both_languages(signed_in, region, lang, words):
    gp, cardio = signed_in("gp"), signed_in("cardio")
    rid = gp.post("/api/v1/referrals", json=NEW).json()["id"]
    page = cardio.get(f"/workstation/referrals?box=incoming&lang={lang}")
    assert page.status_code == 200
    for word in words:
        assert word in page.text
    assert f"/workstation/referrals/{rid}" in page.text
    outgoing = gp.get(f"/workstation/referrals?box=outgoing&lang={lang}")
    assert f"/workstation/referrals/{rid}" in outgoing.text
    detail = cardio.get(f"/workstation/referrals/{rid}?lang={lang}")
    assert detail.status_code == 200 and 'value="accept"' in detail.text and 'value="reject"' in detail.text


def test_pages_accept_then_book_and_refuse_outsiders(signed_in, region):
    gp, cardio, stranger = signed_in("gp"), signed_in("cardio"), signed_in("stranger")
    rid = gp.post("/api/v1/referrals", json=NEW).json()["id"]
    page = cardio.get(f"/workstation/referrals/{rid}")
    token = form_token(page)
    done = cardio.post(f"/workstation/referrals/{rid}", data={"csrf_token": token, "action": "accept", "version": "1"})
    assert done.status_code == 303
    page = cardio.get(f"/workstation/referrals/{rid}")
    slot = re.search(r'<option value="(Slot/[^"]+)"', page.text).group(1)
    done = cardio.post(f"/workstation/referrals/{rid}", data={"csrf_token": token, "action": "schedule", "slot": slot})
    assert done.status_code == 303
    assert "Mark arrived" in cardio.get(f"/workstation/referrals/{rid}").text
    illegal = cardio.post(f"/workstation/referrals/{rid}", data={"csrf_token": token, "action": "complete"})
    assert illegal.status_code == 409 and 'role="alert"' in illegal.text
    assert stranger.get(f"/workstation/referrals/{rid}").status_code == 404
    assert rid not in stranger.get("/workstation/referrals?box=incoming").text
