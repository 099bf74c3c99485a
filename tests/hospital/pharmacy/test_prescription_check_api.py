"""POST /api/v1/prescription-check: the audit for a SmartCare record or inline facts, in English or Chinese,
with clear refusals of bad input."""

import pytest
from fastapi.testclient import TestClient

from smartcare.platform.web.app import create_app
from tests.conftest import bearer
from tests.hospital.cds.prescribing_record import DOCTOR, OTHER_DOCTOR, PATIENT_USER, write_record

URL = "/api/v1/prescription-check"


@pytest.fixture
def web(engine):
    write_record()
    with TestClient(create_app(), base_url="http://testserver") as c:
        yield c


def doctor(who: dict = DOCTOR) -> dict:
    return bearer("user/*.cruds", **who)


def rules(body: dict) -> set[str]:
    return {f["rule"] for f in body["findings"]}


def test_a_record_is_checked_against_its_allergies_medicines_and_kidney_function(web):
    r = web.post(URL, headers=doctor(), json={"patient": "Patient/p-wang", "medicines": [
        {"medicine": "amoxicillin", "dose": 500, "unit": "mg", "frequency": "TID", "route": "oral", "ref": "a"},
        {"medicine": "ibuprofen", "dose": 400, "unit": "mg", "frequency": "TID", "route": "oral", "ref": "b"},
        {"medicine": "metformin", "dose": 1000, "unit": "mg", "frequency": "BID", "route": "oral", "ref": "c"}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["blocking"] is True and {"allergy", "interaction", "renal"} <= rules(body)
    assert body["patient"]["egfr_source"]["how"].startswith("CKD-EPI 2021")
    assert 30 < body["patient"]["egfr"] < 40 and body["patient"]["current"] == ["B01AA03"]
    for finding in body["findings"]:
        assert finding["source"] and finding["summary"] and finding["severity"] in {"high", "moderate", "low"}
    assert [m["drug"] for m in body["medicines"]] == ["amoxicillin", "ibuprofen", "metformin"]


def test_inline_facts_for_the_apps_can_i_take_these_together_check(web):
    r = web.post(URL, headers=bearer("patient/*.rs", **PATIENT_USER), json={
        "patient": {"age": 45, "sex": "male", "current": [{"medicine": "华法林"}]},
        "medicines": [{"medicine": "布洛芬", "dose": 200, "unit": "mg", "frequency": "TID"}]})
    assert r.status_code == 200, r.text
    interaction = next(f for f in r.json()["findings"] if f["rule"] == "interaction")
    assert set(interaction["drugs"]) == {"warfarin", "ibuprofen"}


def test_findings_come_in_chinese_when_asked(web):
    r = web.post(URL, headers={**doctor(), "Accept-Language": "zh-CN"}, json={
        "patient": {"age": 45, "current": [{"medicine": "warfarin"}]}, "medicines": [{"medicine": "ibuprofen"}]})
    finding = next(f for f in r.json()["findings"] if f["rule"] == "interaction")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in finding["summary"])


def test_a_safe_prescription_has_no_blocking_finding(web):
    r = web.post(URL, headers=doctor(), json={"patient": {"age": 50, "sex": "female", "egfr": 90, "weight": 60},
                                              "medicines": [{"medicine": "amlodipine", "dose": 5, "unit": "mg",
                                                             "frequency": "QD", "route": "oral"}]})
    assert r.status_code == 200 and r.json()["blocking"] is False
    assert not [f for f in r.json()["findings"] if f["severity"] != "low"]


def test_an_unknown_medicine_is_named_not_ignored(web):
    r = web.post(URL, headers=doctor(), json={"patient": {"age": 50}, "medicines": [{"medicine": "snake oil"}]})
    assert r.status_code == 200
    assert "unknown-medicine" in rules(r.json()) and r.json()["medicines"][0]["drug"] is None


def test_another_hospitals_doctor_cannot_check_against_a_record_they_cannot_read(web):
    r = web.post(URL, headers=doctor(OTHER_DOCTOR), json={"patient": "Patient/p-wang",
                                                          "medicines": [{"medicine": "ibuprofen"}]})
    assert r.status_code in (403, 404) and r.json()["error"] in {"forbidden", "patient"}


@pytest.mark.parametrize(("body", "words"), [
    ({"patient": {"age": 50}, "medicines": []}, "medicines"),
    ({"patient": {"age": -1}, "medicines": [{"medicine": "ibuprofen"}]}, "age"),
    ({"patient": {"age": 50}, "medicines": [{"medicine": "ibuprofen", "dose": -5}]}, "dose"),
    ({"patient": {"age": 50, "conditions": ["DROP TABLE"]}, "medicines": [{"medicine": "x"}]}, "ICD-10"),
    ({"patient": "Patient/../../etc", "medicines": [{"medicine": "ibuprofen"}]}, "Patient/{id}"),
    ({"patient": {"age": 50}, "medicines": [{"medicine": "x" * 500}]}, "medicine"),
    ({"patient": {"age": 50, "colour": "blue"}, "medicines": [{"medicine": "ibuprofen"}]}, "colour"),
])
def test_bad_input_gets_a_clear_400(web, body, words):
    r = web.post(URL, headers=doctor(), json=body)
    assert r.status_code == 400, r.text
    assert words in r.json()["message"]


def test_not_json_and_oversized_bodies_are_refused(web):
    assert web.post(URL, headers=doctor(), content="{").status_code == 400
    assert web.post(URL, headers=doctor(), content="x" * 70_000).status_code == 413


def test_the_caller_must_be_signed_in(web):
    r = web.post(URL, json={"patient": {"age": 50}, "medicines": [{"medicine": "ibuprofen"}]})
    assert r.status_code == 401


def test_the_openapi_documents_the_request_and_answer(web):
    operation = web.get("/openapi.json").json()["paths"][URL]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert {"patient", "medicines"} <= set(schema["properties"])
    assert "200" in operation["responses"] and "400" in operation["responses"]
