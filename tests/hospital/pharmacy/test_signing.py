"""Signing a prescription: blocked by high-severity findings until each is overridden with a reason; then the
orders, the DetectedIssues (with the override) and the pharmacist's review task are written together."""

import pytest

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.pharmacy import signing
from smartcare.hospital.pharmacy.signing import Override, PrescriptionLine
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.scopes import parse_scopes
from tests.hospital.cds.prescribing_record import DOCTOR, OTHER_DOCTOR, write_record


def context(who: dict) -> AccessContext:
    return AccessContext(kind="user", name=who["name"], roles=frozenset(who["roles"]), organization=who["organization"],
                         subject=who["subject"], fhir_user=who["fhir_user"], scopes=parse_scopes("user/*.cruds"))


IBUPROFEN = PrescriptionLine(medicine="ibuprofen", dose=400, unit="mg", frequency="TID", route="oral", days=5)
AMLODIPINE = PrescriptionLine(medicine="amlodipine", dose=5, unit="mg", frequency="QD", route="oral", days=30)


@pytest.fixture
def record(engine):
    write_record()
    return context(DOCTOR)


def orders_of(ctx) -> list[dict]:
    return gateway.search(ctx, "MedicationRequest", [("patient", "Patient/p-wang"), ("status", "active")])


def test_a_high_severity_finding_blocks_signing_and_nothing_is_written(record):
    with pytest.raises(signing.SigningRefused) as refused:
        signing.sign(ctx=record, patient_id="p-wang", lines=[IBUPROFEN], overrides={})
    assert [f.rule for f in refused.value.unresolved] == ["interaction"]
    assert "warfarin" in refused.value.unresolved[0].drugs
    assert [o["id"] for o in orders_of(record)] == ["mr-warfarin"]
    assert gateway.search(record, "DetectedIssue", [("patient", "Patient/p-wang")]) == []


def test_overriding_with_a_reason_signs_and_keeps_the_finding_and_the_reason(record):
    findings = signing.check(ctx=record, patient_id="p-wang", lines=[IBUPROFEN])
    overrides = {signing.finding_key(f): Override("will-monitor", "INR twice weekly while on ibuprofen")
                 for f in findings if f.severity == "high"}
    signed = signing.sign(ctx=record, patient_id="p-wang", lines=[IBUPROFEN], overrides=overrides)
    assert len(signed.medication_requests) == 1 and signed.review_task.startswith("Task/")
    order = gateway.read(record, signed.medication_requests[0])
    assert order["status"] == "active" and order["requester"]["reference"] == "Practitioner/prac-li"
    assert order["medicationCodeableConcept"]["coding"][0]["code"].startswith("M01AE")
    issues = gateway.search(record, "DetectedIssue", [("patient", "Patient/p-wang")])
    interaction = next(i for i in issues if i["code"]["coding"][0]["code"] == "interaction")
    assert interaction["severity"] == "high"
    assert interaction["mitigation"][0]["action"]["coding"][0]["code"] == "will-monitor"
    assert "INR twice weekly" in interaction["mitigation"][0]["action"]["text"]
    assert {r["reference"] for r in interaction["implicated"]} >= {signed.medication_requests[0],
                                                                   "MedicationRequest/mr-warfarin"}
    task = gateway.read(record, signed.review_task)
    assert task["status"] == "requested" and task["priority"] == "urgent"
    assert task["code"]["coding"][0]["code"] == "prescription-review"


def test_a_safe_prescription_signs_without_overrides_as_a_routine_review(record):
    signed = signing.sign(ctx=record, patient_id="p-wang", lines=[AMLODIPINE], overrides={})
    assert gateway.read(record, signed.review_task)["priority"] == "routine"
    assert len(orders_of(record)) == 2


def test_an_unknown_override_reason_is_refused(record):
    with pytest.raises(signing.SigningRefused, match="override reason"):
        signing.sign(ctx=record, patient_id="p-wang", lines=[AMLODIPINE], overrides={"x": Override("because")})


def test_a_doctor_outside_the_patients_care_cannot_sign_for_them(record):
    with pytest.raises(FhirError):
        signing.sign(ctx=context(OTHER_DOCTOR), patient_id="p-wang", lines=[AMLODIPINE], overrides={})


@pytest.mark.parametrize("lines", [[], [AMLODIPINE] * 21,
                                   [PrescriptionLine("amlodipine", -5, "mg", "QD", "oral")],
                                   [PrescriptionLine("amlodipine", 5, "mg", "QD", "oral", days=9999)]])
def test_nonsense_prescriptions_are_refused_clearly(record, lines):
    with pytest.raises(signing.SigningRefused):
        signing.sign(ctx=record, patient_id="p-wang", lines=lines, overrides={})
