"""The analyzer simulator results accessioned lab orders through the real HL7 path, once each."""

from smartcare.fhir import gateway, store
from smartcare.hospital.lab.hl7_results import PLACER
from smartcare.hospital.lab.interface import receive
from smartcare.hospital.lab.simulator import pending_messages
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM

SNOMED = "http://snomed.info/sct"


def _orders() -> None:
    resources = [
        {"resourceType": "Patient", "id": "p-sim", "gender": "female", "birthDate": "1970-01-01",
         "identifier": [{"system": "https://smartcare.example/fhir/sid/mrn", "value": "SIM-1"}]},
        {"resourceType": "ServiceRequest", "id": "sr-cbc", "status": "active", "intent": "order",
         "identifier": [{"system": PLACER, "value": "L26112600001"}], "specimen": [{"reference": "Specimen/s-in"}],
         "category": [{"coding": [{"system": SNOMED, "code": "108252007"}]}],
         "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]},
         "subject": {"reference": "Patient/p-sim"}},
        {"resourceType": "Specimen", "id": "s-in", "status": "available", "subject": {"reference": "Patient/p-sim"},
         "request": [{"reference": "ServiceRequest/sr-cbc"}]},
        # Accessioned and labelled, but the tube has not reached the laboratory: nothing to measure yet.
        {"resourceType": "ServiceRequest", "id": "sr-in-transit", "status": "active", "intent": "order",
         "identifier": [{"system": PLACER, "value": "L26112600002"}], "specimen": [{"reference": "Specimen/s-out"}],
         "category": [{"coding": [{"system": SNOMED, "code": "108252007"}]}],
         "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]},
         "subject": {"reference": "Patient/p-sim"}},
        {"resourceType": "Specimen", "id": "s-out", "status": "unavailable", "subject": {"reference": "Patient/p-sim"},
         "request": [{"reference": "ServiceRequest/sr-in-transit"}]},
        {"resourceType": "ServiceRequest", "id": "sr-waiting", "status": "active", "intent": "order",
         "category": [{"coding": [{"system": SNOMED, "code": "108252007"}]}],
         "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]},
         "subject": {"reference": "Patient/p-sim"}},
    ]
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])


def test_simulated_results_are_accepted_and_each_order_is_resulted_once(engine):
    _orders()
    messages = pending_messages(limit=5, seed=1)
    assert len(messages) == 1 and "ORC|RE|L26112600001" in messages[0] and "PID|1||SIM-1" in messages[0]
    outcome = receive(messages[0])
    assert outcome.ack_code == "AA", outcome.ack
    reports = gateway.search(SYSTEM, "DiagnosticReport", [("based-on", "ServiceRequest/sr-cbc")])
    assert reports and reports[0]["status"] == "preliminary" and len(reports[0]["result"]) >= 3
    assert pending_messages(limit=5, seed=1) == []


def test_asked_for_every_critical_value_the_analyzer_sends_critical_results_the_platform_flags(engine):
    _orders()
    assert receive(pending_messages(limit=5, seed=3, critical=1.0)[0]).ack_code == "AA"
    report = gateway.search(SYSTEM, "DiagnosticReport", [("based-on", "ServiceRequest/sr-cbc")])[0]
    flags = [c["code"] for ref in report["result"]
             for c in gateway.read(SYSTEM, ref["reference"]).get("interpretation", [{}])[0].get("coding", [])]
    # Haemoglobin, leucocytes and platelets have critical limits in the CBC; each comes back critical.
    assert flags.count("HH") + flags.count("LL") >= 3, flags
