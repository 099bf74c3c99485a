"""POST /api/v1/triage/assess: open to kiosks and the hotline without sign-in, English and Chinese, clear 4xx JSON."""

import pytest
from fastapi.testclient import TestClient

from smartcare.platform.web.app import create_app

URL = "/api/v1/triage/assess"


@pytest.fixture
def web(engine):
    with TestClient(create_app(), base_url="http://testserver") as c:
        yield c


def test_chest_pain_and_sweating_is_an_emergency_with_the_heart_attack_guide(web):
    r = web.post(URL, json={"text": "chest pain and sweating", "age": 58, "sex": "male"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["level"] == "emergency" and body["call_emergency"] is True
    assert body["red_flags"][0]["key"] == "rf-chest-pain-risk" and body["red_flags"][0]["first_aid"] == ["heart-attack"]
    assert body["departments"][0]["key"] == "emergency" and body["follow_up"] == []
    assert "ESI" in body["disclaimer_en"] and body["disclaimer_zh"]
    assert r.headers["cache-control"] == "no-store"


def test_a_chinese_request_is_understood(web):
    r = web.post(URL, json={"text": "嗓子疼三天了，没有发烧", "age": 30, "language": "zh-Hans"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["level"] == "self_care" and not body["call_emergency"]
    assert {d["key"] for d in body["departments"]} >= {"ent"}
    findings = {f["key"]: f for f in body["findings"]}
    assert findings["sore_throat"]["present"] and findings["fever"]["present"] is False
    assert findings["duration_days"]["value"] == 3
    assert body["conditions"][0]["page"] and body["reasons"][0]["source"]


def test_answers_refine_the_result(web):
    first = web.post(URL, json={"text": "my baby has a fever"}).json()
    assert "age_years" in [q["id"] for q in first["follow_up"]]
    again = web.post(URL, json={"text": "my baby has a fever", "answers": {"age_years": 0.1}}).json()
    assert again["level"] == "emergency" and again["red_flags"][0]["key"] == "rf-infant-fever"


@pytest.mark.parametrize("body, status, words", [
    (b"not json", 400, "JSON object"),
    (b"[1, 2]", 422, "body"),
    (b"{}", 422, "text"),
    (b'{"text": "   "}', 422, "text"),
    (('{"text": "' + "a" * 2001 + '"}').encode(), 422, "2000"),
    (b'{"text": "cough", "age": -3}', 422, "age"),
    (b'{"text": "cough", "answers": {"no_such_question": true}}', 422, "no_such_question"),
    (b'{"text": "cough", "answers": {"severity": 42}}', 422, "severity"),
    (b'{"text": "cough", "answers": {"sweating": "perhaps"}}', 422, "sweating"),
    (b'{"text": "cough", "shoe_size": 42}', 422, "shoe_size"),
    (('{"text": "cough", "answers": {' + ", ".join(f'"q{i}": 1' for i in range(51)) + "}}").encode(), 422, "answers"),
    (b'{"text": "' + b"x" * 40000 + b'"}', 413, "bytes"),
])
def test_bad_input_gets_a_clear_json_refusal(web, body, status, words):
    r = web.post(URL, content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert r.json()["error"] and words in r.json()["message"]


def test_the_openapi_document_describes_the_endpoint(web):
    spec = web.get("/openapi.json").json()
    op = spec["paths"][URL]["post"]
    assert "Emergency Severity Index" in " ".join(op["description"].split()) and op["summary"]
    request = op["requestBody"]["content"]["application/json"]["schema"]
    assert {"text", "age", "age_months", "sex", "pregnant", "answers", "language"} <= set(request["properties"])
    assert request["properties"]["text"]["maxLength"] == 2000
    result = spec["components"]["schemas"]["AssessResult"]
    assert {"level", "red_flags", "call_emergency", "departments", "conditions", "reasons", "follow_up", "findings",
            "disclaimer_en", "disclaimer_zh", "provisional", "safety_screen_pending", "not_understood"} <= set(
        result["properties"])
    assert {"200", "400", "422"} <= set(op["responses"])


def test_a_level_below_emergency_is_provisional_until_the_safety_screen_is_answered(web):
    first = web.post(URL, json={"text": "sore throat for 3 days and my arm feels odd", "age": 30}).json()
    assert first["level"] in ("self_care", "routine") and first["provisional"] is True
    assert first["not_understood"] == ["and my arm feels odd"]
    screen = [q["id"] for q in first["safety_screen_pending"]]
    assert {"breathing_at_rest", "chest_pain_now", "stroke_signs", "self_harm"} <= set(screen)
    assert all(q["text_en"] and q["text_zh"] and q["kind"] == "yes_no" for q in first["safety_screen_pending"])
    answers = {qid: "no" for qid in screen}
    settled = web.post(URL, json={"text": "sore throat for 3 days", "age": 30, "answers": answers}).json()
    assert settled["provisional"] is False and settled["safety_screen_pending"] == [] and settled["level"] == "self_care"
    answers["stroke_signs"] = "yes"
    worse = web.post(URL, json={"text": "sore throat for 3 days", "age": 30, "answers": answers}).json()
    assert worse["level"] == "emergency" and worse["provisional"] is False and worse["safety_screen_pending"] == []


def test_an_emergency_is_never_provisional(web):
    body = web.post(URL, json={"text": "crushing chest pain, sweating", "age": 60}).json()
    assert body["level"] == "emergency" and body["provisional"] is False and body["safety_screen_pending"] == []
