"""The remote consultation API (JSON, OperationOutcome refusals, OpenAPI), the workstation pages in English and
Simplified Chinese, and the image viewer opening a shared study for the specialist only while it is shared."""

from datetime import timedelta

import pytest

from tests.hospital.teleconsult.conftest import SHARED
from tests.web_support import form_token

NEW = {"patient": "Patient/pa1", "department": "HealthcareService/hcs-cardio", "urgency": "urgent",
       "question": "Breathless on exertion: heart failure?", "records": SHARED}
OPINION = {"summary": "EF 35%.", "opinion": "Heart failure with reduced ejection fraction.",
           "recommendations": "ACE inhibitor and beta blocker."}


def _requested(gp) -> str:
    created = gp.post("/api/v1/teleconsults", json=NEW)
    assert created.status_code == 201, created.text
    return created.json()["id"]


def test_api_request_assign_answer(signed_in, region):
    gp, cardio = signed_in("gp"), signed_in("cardio")
    tid = _requested(gp)
    incoming = cardio.get("/api/v1/teleconsults?box=incoming").json()["teleconsults"]
    assert [(t["id"], t["state"], t["minutes_left"], t["overdue"]) for t in incoming] == [(tid, "requested", 1440,
                                                                                           False)]
    assigned = cardio.post(f"/api/v1/teleconsults/{tid}/assign", json={"specialist": "Practitioner/prac-li",
                                                                       "version": 1})
    assert assigned.status_code == 200 and assigned.json()["actions"] == ["convene", "answer", "cancel"]
    answered = cardio.post(f"/api/v1/teleconsults/{tid}/answer", json=OPINION)
    assert answered.status_code == 200, answered.text
    seen = gp.get(f"/api/v1/teleconsults/{tid}").json()
    assert seen["state"] == "answered" and seen["opinion"].startswith("DiagnosticReport/")
    assert OPINION["recommendations"] in gp.get(f"/workstation/teleconsults/{tid}").text


def test_api_refusals_are_4xx_operation_outcomes(signed_in, region, anonymous):
    gp, cardio, stranger = signed_in("gp"), signed_in("cardio"), signed_in("stranger")
    tid = _requested(gp)
    cases = [
        (gp.post("/api/v1/teleconsults", content=b"{not json"), 422),
        (gp.post("/api/v1/teleconsults", json={**NEW, "urgency": "whenever"}), 422),
        (gp.post("/api/v1/teleconsults", json={**NEW, "question": "x" * 2001}), 422),
        (gp.post("/api/v1/teleconsults", json={**NEW, "records": []}), 422),
        (gp.post("/api/v1/teleconsults", json={**NEW, "records": ["Patient/pa1"]}), 422),
        (gp.post("/api/v1/teleconsults", json={**NEW, "extra": 1}), 422),
        (gp.post("/api/v1/teleconsults", json={**NEW, "patient": "Patient/nobody"}), 404),
        (gp.post("/api/v1/teleconsults", json={**NEW, "question": "<script>alert(1)</script>" * 200}), 422),
        (gp.get("/api/v1/teleconsults?box=sideways"), 422),
        (cardio.post(f"/api/v1/teleconsults/{tid}/answer", json=OPINION), 409),
        (cardio.post(f"/api/v1/teleconsults/{tid}/convene", json={"specialists": ["Practitioner/prac-li"] * 2,
                                                                   "start": "2026-03-02T10:00:00"}), 422),
        (gp.post(f"/api/v1/teleconsults/{tid}/assign", json={"specialist": "Practitioner/prac-li"}), 403),
        (stranger.get(f"/api/v1/teleconsults/{tid}"), 404),
        (stranger.post(f"/api/v1/teleconsults/{tid}/cancel", json={"reason": "no"}), 404),
        (cardio.get("/api/v1/teleconsults/bad$id"), 422),
    ]
    for response, status in cases:
        assert response.status_code == status, (status, response.text)
        body = response.json()
        assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["diagnostics"]
    cardio.post(f"/api/v1/teleconsults/{tid}/assign", json={"specialist": "Practitioner/prac-li", "version": 1})
    stale = signed_in("cardio2").post(f"/api/v1/teleconsults/{tid}/assign",
                                      json={"specialist": "Practitioner/prac-wang", "version": 1})
    assert stale.status_code == 409
    # A stranger is turned away before the body is read: no 422 telling what the route expects.
    assert anonymous.post("/api/v1/teleconsults", content=b"{not json").status_code == 401


def test_api_is_in_openapi(signed_in, region):
    paths = signed_in("gp").get("/openapi.json").json()["paths"]
    assert "/api/v1/teleconsults" in paths and "/api/v1/teleconsults/{teleconsult_id}/answer" in paths
    body = paths["/api/v1/teleconsults"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"patient", "department", "question", "urgency", "records"} <= set(body["properties"])


def test_viewer_opens_the_shared_study_for_the_specialist_only_while_shared(signed_in, region, now):
    gp, cardio = signed_in("gp"), signed_in("cardio")
    tid = _requested(gp)
    viewer = "/workstation/imaging/studies/{}/viewer"
    assert cardio.get(viewer.format("img-chest")).status_code == 404  # not assigned yet
    cardio.post(f"/api/v1/teleconsults/{tid}/assign", json={"specialist": "Practitioner/prac-li"})
    page = cardio.get(f"/workstation/teleconsults/{tid}")
    assert viewer.format("img-chest") in page.text
    assert cardio.get(viewer.format("img-chest")).status_code == 200
    assert cardio.get(viewer.format("img-other")).status_code == 404
    now[0] += timedelta(hours=73)
    cardio = signed_in("cardio", fresh=True)
    assert cardio.get(viewer.format("img-chest")).status_code == 404
    assert viewer.format("img-chest") not in cardio.get(f"/workstation/teleconsults/{tid}").text


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ["Remote consultations", "Incoming", "Urgent", "Requested", "h 0 min left"]),
    ("zh-Hans", ["远程会诊", "转入", "加急", "已申请", "剩余"]),
])
def test_pages_in_both_languages(signed_in, region, lang, words):
    gp, cardio = signed_in("gp"), signed_in("cardio")
    tid = _requested(gp)
    listing = cardio.get(f"/workstation/teleconsults?box=incoming&lang={lang}")
    assert listing.status_code == 200
    for word in words:
        assert word in listing.text, word
    detail = cardio.get(f"/workstation/teleconsults/{tid}?lang={lang}")
    expected = {"en": ["Assign a specialist", "Convene a multi-disciplinary session", "Shared records"],
                "zh-Hans": ["指派专家", "召集多学科会诊", "共享的资料"]}[lang]
    for word in expected:
        assert word in detail.text, word


def test_pages_request_assign_convene_and_answer(signed_in, region, now):
    gp, cardio, imaging = signed_in("gp"), signed_in("cardio"), signed_in("imaging")
    form = gp.get("/workstation/teleconsults/new?patient=Patient/pa1")
    assert form.status_code == 200 and "DiagnosticReport/dr-echo" in form.text
    sent = gp.post("/workstation/teleconsults", data={
        "csrf_token": form_token(form), "patient": "Patient/pa1", "department": "HealthcareService/hcs-cardio",
        "urgency": "routine", "question": "Murmur: valve disease?", "records": ["DiagnosticReport/dr-echo",
                                                                                 "ImagingStudy/img-chest"]})
    assert sent.status_code == 303
    tid = sent.headers["location"].rsplit("/", 1)[1]
    page = cardio.get(f"/workstation/teleconsults/{tid}")
    refused = cardio.post(f"/workstation/teleconsults/{tid}", data={
        "csrf_token": form_token(page), "action": "convene", "specialists": ["Practitioner/prac-li"],
        "start": "2026-03-03T09:00"})
    assert refused.status_code == 422 and "2 to 8" in refused.text
    convened = cardio.post(f"/workstation/teleconsults/{tid}", data={
        "csrf_token": form_token(page), "action": "convene",
        "specialists": ["Practitioner/prac-li", "Practitioner/prac-sun"], "start": "2026-03-03T09:00"})
    assert convened.status_code == 303
    page = imaging.get(f"/workstation/teleconsults/{tid}")
    assert "Write the opinion" in page.text and "/workstation/imaging/studies/img-chest/viewer" in page.text
    answered = imaging.post(f"/workstation/teleconsults/{tid}", data={
        "csrf_token": form_token(page), "action": "answer", **OPINION})
    assert answered.status_code == 303
    assert OPINION["summary"] in imaging.get(f"/workstation/teleconsults/{tid}").text
    shown = gp.get(f"/workstation/teleconsults/{tid}?lang=zh-Hans")
    assert "会诊意见" in shown.text and OPINION["opinion"] in shown.text
    assert signed_in("stranger").get(f"/workstation/teleconsults/{tid}").status_code == 404
