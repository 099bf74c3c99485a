"""The CDS Hooks service over HTTP: discovery, patient-view care gaps, order-select and order-sign audit cards,
feedback, and CDS Hooks-shaped refusals for bad calls."""

import uuid

import pytest
from fastapi.testclient import TestClient

from smartcare.platform.audit import service as audit_service
from smartcare.platform.db import unit_of_work
from smartcare.platform.web.app import create_app
from tests.conftest import bearer
from tests.hospital.cds.prescribing_record import (
    DOCTOR,
    HBA1C_DAY,
    OTHER_DOCTOR,
    PATIENT_USER,
    RECORD,
    medication_request,
    write_record,
)

INDICATORS = {"info", "warning", "critical"}


@pytest.fixture
def web(engine):
    write_record()
    with TestClient(create_app(), base_url="http://testserver") as c:
        yield c


def doctor(who: dict = DOCTOR) -> dict:
    return bearer("user/*.cruds", **who)


def hook_call(hook: str, *, prefetch: dict | None = None, **context) -> dict:
    body = {"hook": hook, "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/prac-li", "patientId": "p-wang", **context}}
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def drafts(*requests: dict) -> dict:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in requests]}


def draft(rid: str, atc: str, name: str, dose: float, unit: str, frequency: str) -> dict:
    return medication_request(rid, atc, name, dose, unit, frequency, status="draft")


def assert_valid_cards(body: dict) -> list[dict]:
    """The response has the CDS Hooks 2.0 shape: cards with summary < 140, indicator, source label, and
    selectionBehavior beside suggestions whose actions are create, update or delete."""
    assert set(body) == {"cards"}
    for card in body["cards"]:
        assert isinstance(card["summary"], str) and 0 < len(card["summary"]) < 140
        assert card["indicator"] in INDICATORS and card["source"]["label"]
        uuid.UUID(card["uuid"])
        if card.get("suggestions"):
            assert card["selectionBehavior"] in {"at-most-one", "any"}
            for suggestion in card["suggestions"]:
                assert suggestion["label"] and uuid.UUID(suggestion["uuid"])
                for action in suggestion["actions"]:
                    assert action["type"] in {"create", "update", "delete"} and action["description"]
                    assert ("resourceId" in action) if action["type"] == "delete" else ("resource" in action)
        for reason in card.get("overrideReasons", []):
            assert reason["code"] and reason["system"] and reason["display"]
    return body["cards"]


def test_discovery_lists_the_three_services_with_prefetch_templates(web):
    services = {s["id"]: s for s in web.get("/cds-services").json()["services"]}
    assert {s["hook"] for s in services.values()} == {"patient-view", "order-select", "order-sign"}
    assert services["order-sign"]["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    assert all(s["title"] and s["description"] for s in services.values())


def test_patient_view_reads_the_record_and_shows_care_gaps_with_sources(web):
    r = web.post("/cds-services/patient-view", json=hook_call("patient-view"), headers=doctor())
    assert r.status_code == 200, r.text
    cards = assert_valid_cards(r.json())
    by_topic = {c["source"]["topic"]["code"]: c for c in cards}
    assert HBA1C_DAY in by_topic["hba1c-overdue"]["detail"] and "Standards of Care" in by_topic["hba1c-overdue"]["detail"]
    assert "156/92" in by_topic["bp-uncontrolled"]["detail"] and by_topic["bp-uncontrolled"]["indicator"] == "warning"
    order = by_topic["hba1c-overdue"]["suggestions"][0]["actions"][0]["resource"]
    assert order["resourceType"] == "ServiceRequest" and order["code"]["coding"][0]["code"] == "4548-4"


def test_reads_made_for_a_hook_are_audited_as_the_doctor(web):
    web.post("/cds-services/patient-view", json=hook_call("patient-view"), headers=doctor())
    with unit_of_work() as conn:
        entries = audit_service.events_for_patient(conn, "Patient/p-wang")
    assert any("prac-li" in str(e["event"]) or "doc" in str(e["agent"]) for e in entries)


def test_patient_view_answers_in_chinese_when_asked(web):
    r = web.post("/cds-services/patient-view", json=hook_call("patient-view"),
                 headers={**doctor(), "Accept-Language": "zh-CN"})
    assert any("糖化血红蛋白" in c["summary"] for c in r.json()["cards"])


def test_order_sign_flags_an_interaction_with_a_current_medicine_the_allergy_and_the_kidney_dose(web):
    call = hook_call("order-sign", draftOrders=drafts(
        draft("d-ibu", "M01AE01", "ibuprofen", 400, "mg", "TID"),
        draft("d-amox", "J01CA04", "amoxicillin", 500, "mg", "TID"),
        draft("d-met", "A10BA02", "metformin", 1000, "mg", "BID")))
    r = web.post("/cds-services/order-sign", json=call, headers=doctor())
    assert r.status_code == 200, r.text
    cards = assert_valid_cards(r.json())
    topics = {c["source"]["topic"]["code"] for c in cards}
    assert {"interaction", "allergy", "renal"} <= topics
    interaction = next(c for c in cards if c["source"]["topic"]["code"] == "interaction")
    assert interaction["indicator"] == "critical" and "warfarin" in interaction["detail"].lower()
    assert interaction["overrideReasons"]
    allergy = next(c for c in cards if c["source"]["topic"]["code"] == "allergy")
    assert allergy["indicator"] == "critical" and "penicillin" in (allergy["summary"] + allergy["detail"]).lower()


def test_order_sign_with_everything_prefetched_reads_nothing_and_gives_the_same_verdict(web):
    def bundle(res_type: str) -> dict:
        return {"resourceType": "Bundle", "type": "searchset",
                "entry": [{"resource": r} for r in RECORD if r["resourceType"] == res_type
                          and r.get("id") not in ("p-zhao",)]}
    prefetch = {"patient": next(r for r in RECORD if r.get("id") == "p-wang"), "conditions": bundle("Condition"),
                "allergies": bundle("AllergyIntolerance"), "medications": bundle("MedicationRequest"),
                "observations": bundle("Observation")}
    call = hook_call("order-sign", prefetch=prefetch,
                     draftOrders=drafts(draft("d-ibu", "M01AE01", "ibuprofen", 400, "mg", "TID")))
    call["fhirServer"] = "https://elsewhere.example/fhir"
    r = web.post("/cds-services/order-sign", json=call, headers=doctor())
    assert r.status_code == 200, r.text
    assert "interaction" in {c["source"]["topic"]["code"] for c in assert_valid_cards(r.json())}


def test_order_select_answers_only_for_the_selected_order(web):
    call = hook_call("order-select", selections=["MedicationRequest/d-amox"], draftOrders=drafts(
        draft("d-ibu", "M01AE01", "ibuprofen", 400, "mg", "TID"),
        draft("d-amox", "J01CA04", "amoxicillin", 500, "mg", "TID")))
    cards = assert_valid_cards(web.post("/cds-services/order-select", json=call, headers=doctor()).json())
    assert {c["source"]["topic"]["code"] for c in cards} == {"allergy"}


def test_a_safe_order_gives_no_cards(web):
    call = hook_call("order-sign", draftOrders=drafts(draft("d-aml", "C08CA01", "amlodipine", 5, "mg", "QD")))
    assert web.post("/cds-services/order-sign", json=call, headers=doctor()).json() == {"cards": []}


def test_feedback_records_an_override_with_its_reason_and_an_accepted_suggestion(web):
    call = hook_call("order-sign", draftOrders=drafts(draft("d-met", "A10BA02", "metformin", 1000, "mg", "BID"),
                                                      draft("d-ibu", "M01AE01", "ibuprofen", 400, "mg", "TID")))
    cards = web.post("/cds-services/order-sign", json=call, headers=doctor()).json()["cards"]
    overridden = next(c for c in cards if c.get("overrideReasons"))
    with_suggestion = next((c for c in cards if c.get("suggestions")), None)
    entries = [{"card": overridden["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-26T10:00:00+08:00",
                "overrideReason": {"reason": overridden["overrideReasons"][0], "userComment": "INR checked weekly"}}]
    if with_suggestion is not None and with_suggestion["uuid"] != overridden["uuid"]:
        entries.append({"card": with_suggestion["uuid"], "outcome": "accepted",
                        "outcomeTimestamp": "2026-11-26T10:00:00+08:00",
                        "acceptedSuggestions": [{"id": with_suggestion["suggestions"][0]["uuid"]}]})
    r = web.post("/cds-services/order-sign/feedback", json={"feedback": entries}, headers=doctor())
    assert r.status_code == 200, r.text
    from smartcare.hospital.cds import feedback
    with unit_of_work() as conn:
        stored = feedback.outcomes(conn, card_uuid=overridden["uuid"])
    assert stored[0]["outcome"] == "overridden" and stored[0]["override_comment"] == "INR checked weekly"
    assert stored[0]["recorded_by"] == "Practitioner/prac-li"


@pytest.mark.parametrize(("entry", "status"), [
    ({"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2026-11-26T10:00:00Z"}, 404),
    ({"card": "not-a-uuid", "outcome": "overridden", "outcomeTimestamp": "2026-11-26T10:00:00Z"}, 400),
    ({"card": str(uuid.uuid4()), "outcome": "accepted", "outcomeTimestamp": "2026-11-26T10:00:00Z"}, 400),
    ({"card": str(uuid.uuid4()), "outcome": "ignored", "outcomeTimestamp": "2026-11-26T10:00:00Z"}, 400),
])
def test_bad_feedback_is_refused_with_an_operation_outcome(web, entry, status):
    r = web.post("/cds-services/order-sign/feedback", json={"feedback": [entry]}, headers=doctor())
    assert r.status_code == status and r.json()["resourceType"] == "OperationOutcome"


def test_feedback_on_a_suggestion_the_card_never_offered_is_refused(web):
    call = hook_call("order-sign", draftOrders=drafts(draft("d-ibu", "M01AE01", "ibuprofen", 400, "mg", "TID")))
    card = web.post("/cds-services/order-sign", json=call, headers=doctor()).json()["cards"][0]
    r = web.post("/cds-services/order-sign/feedback", headers=doctor(), json={"feedback": [
        {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-11-26T10:00:00Z",
         "acceptedSuggestions": [{"id": str(uuid.uuid4())}]}]})
    assert r.status_code == 400 and "did not offer" in r.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(("path", "body", "status", "words"), [
    ("/cds-services/order-sign", "not json", 400, "JSON"),
    ("/cds-services/order-sign", {"hook": "order-sign", "context": {}}, 400, "hookInstance"),
    ("/cds-services/order-sign", hook_call("patient-view"), 400, "order-sign hook"),
    ("/cds-services/no-such", hook_call("patient-view"), 404, "no CDS service"),
    ("/cds-services/patient-view", hook_call("patient-view", patientId="../../etc/passwd"), 400, "patientId"),
    ("/cds-services/order-sign", hook_call("order-sign", draftOrders={"resourceType": "Patient"}), 400, "Bundle"),
    ("/cds-services/patient-view", hook_call("patient-view", prefetch={"patient": ["x"]}), 400, "prefetch patient"),
    ("/cds-services/patient-view", {**hook_call("patient-view"), "fhirAuthorization": {
        "access_token": "x", "token_type": "Bearer", "expires_in": 60, "scope": "user/*.r", "subject": "s"}},
     400, "cds-r-1"),
])
def test_bad_calls_get_an_operation_outcome_not_a_crash(web, path, body, status, words):
    kwargs = {"content": body} if isinstance(body, str) else {"json": body}
    r = web.post(path, headers=doctor(), **kwargs)
    assert r.status_code == status, r.text
    outcome = r.json()
    assert outcome["resourceType"] == "OperationOutcome" and words in outcome["issue"][0]["diagnostics"]


def test_missing_prefetch_for_another_fhir_server_is_412(web):
    call = {**hook_call("patient-view"), "fhirServer": "https://elsewhere.example/fhir"}
    r = web.post("/cds-services/patient-view", json=call, headers=doctor())
    assert r.status_code == 412 and "prefetch" in r.json()["issue"][0]["diagnostics"]


def test_a_doctor_of_another_hospital_cannot_read_the_record_through_a_hook(web):
    r = web.post("/cds-services/patient-view", json=hook_call("patient-view"), headers=doctor(OTHER_DOCTOR))
    assert r.status_code == 412 and "refused" in r.json()["issue"][0]["diagnostics"]


def test_callers_must_be_signed_in_clinicians(web):
    assert web.post("/cds-services/patient-view", json=hook_call("patient-view")).status_code == 401
    r = web.post("/cds-services/patient-view", json=hook_call("patient-view"),
                 headers=bearer("patient/*.rs", **PATIENT_USER))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"


def test_an_oversized_body_is_refused(web):
    r = web.post("/cds-services/order-sign", content=b"[" + b"1," * 1_100_000 + b"1]", headers=doctor())
    assert r.status_code == 413
