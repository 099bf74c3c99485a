"""Signing a prescription: the audit runs on every signed medication order, and what it found is kept.

High-severity findings block signing unless the prescriber overrides each with a coded reason. On
signing, one FHIR transaction writes the MedicationRequests (active, or draft until the pharmacist's check for an
online prescription), a DetectedIssue per finding (with the
override as its mitigation) and a Task for the pharmacist's review, as the prescriber (so the access
policy decides and the write is audited). Nothing is half-written: the transaction is all or nothing.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.pharmacy import records
from smartcare.knowledge.drugs import formulary
from smartcare.knowledge.prescribing import audit, verification
from smartcare.knowledge.prescribing.dosage import parse_frequency
from smartcare.knowledge.prescribing.facts import ROUTES_BY_SNOMED
from smartcare.platform import clock
from smartcare.platform.security.context import AccessContext

LOCAL = "https://smartcare.example/fhir/"
RULE_SYSTEM = LOCAL + "CodeSystem/prescription-audit-rule"
OVERRIDE_SYSTEM = LOCAL + "CodeSystem/cds-override-reason"
TASK_SYSTEM = LOCAL + "CodeSystem/task-code"
FREQUENCY_SYSTEM = LOCAL + "CodeSystem/dosing-frequency"
ATC = "http://www.whocc.no/atc"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
REVIEW = "prescription-review"
# The reasons a prescriber may give for going ahead despite a high-severity finding.
OVERRIDE_REASONS = {
    "benefit-outweighs-risk": ("Benefit outweighs the risk", "获益大于风险"),
    "tolerated-before": ("Patient has tolerated this before", "患者既往用药可耐受"),
    "will-monitor": ("Will monitor closely", "将加强监测"),
    "dose-adjusted": ("Dose already adjusted for this", "已据此调整剂量"),
    "not-applicable": ("Does not apply to this patient", "不适用于该患者"),
}
_SNOMED_OF_ROUTE = {name: code for code, name in ROUTES_BY_SNOMED.items()}
_MAX_LINES = 20
_MAX_DAYS = 365


@dataclass(frozen=True)
class PrescriptionLine:
    """One medicine as the prescriber wrote it."""

    medicine: str
    dose: float
    unit: str
    frequency: str
    route: str
    days: int | None = None
    note: str = ""
    indication: str | None = None


@dataclass(frozen=True)
class Override:
    """Going ahead despite one finding: a reason from OVERRIDE_REASONS and the prescriber's words."""

    reason: str
    comment: str = ""


@dataclass(frozen=True)
class Signed:
    """What signing wrote."""

    medication_requests: list[str]
    detected_issues: list[str]
    review_task: str
    findings: list[audit.Finding] = field(default_factory=list)


class SigningRefused(Exception):
    """The prescription cannot be signed: bad input, or high-severity findings not overridden."""

    def __init__(self, message: str, *, findings: list[audit.Finding] | None = None,
                 unresolved: list[audit.Finding] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.findings = findings or []
        self.unresolved = unresolved or []


def finding_key(finding: audit.Finding) -> str:
    """A stable name for a finding within one prescription, by which an override refers to it."""
    return "|".join((finding.rule, "+".join(sorted(finding.drugs)), "+".join(sorted(finding.conditions)),
                     "+".join(sorted(finding.refs))))


def _orders(lines: list[PrescriptionLine]) -> list[audit.MedicineOrder]:
    return [audit.MedicineOrder(medicine=line.medicine, dose=line.dose, unit=line.unit, frequency=line.frequency,
                                route=line.route, ref=str(n), indication=line.indication)
            for n, line in enumerate(lines, start=1)]


def check(*, ctx: AccessContext, patient_id: str, lines: list[PrescriptionLine]) -> list[audit.Finding]:
    """The audit's findings for a prescription about to be signed (reads the record as ctx)."""
    return check_with_facts(ctx=ctx, patient_id=patient_id, lines=lines)[0]


def check_with_facts(*, ctx: AccessContext, patient_id: str, lines: list[PrescriptionLine],
                     ) -> tuple[list[audit.Finding], audit.PatientFacts, dict[str, Any]]:
    """The audit's findings, the patient's facts it used, and how those were found (eGFR computed or recorded)."""
    if not 1 <= len(lines) <= _MAX_LINES:
        raise SigningRefused(f"a prescription has 1 to {_MAX_LINES} medicines")
    found = records.read(ctx, patient_id)
    facts, how = records.facts_from(found, today=clock.now().date())
    try:
        return audit.audit(_orders(lines), facts), facts, how
    except ValueError as exc:
        raise SigningRefused(str(exc)) from None


def _timing(frequency: str) -> dict[str, Any]:
    parsed = parse_frequency(frequency)
    code = parsed.code if parsed else frequency
    timing: dict[str, Any] = {"code": {"coding": [{"system": FREQUENCY_SYSTEM, "code": code}], "text": frequency}}
    if parsed is None or parsed.per_day is None:
        return timing
    if code == "STAT":
        timing["repeat"] = {"count": 1}
    elif code.startswith("Q") and code.endswith("H"):
        timing["repeat"] = {"frequency": 1, "period": int(code[1:-1]), "periodUnit": "h"}
    elif parsed.per_day < 1:
        timing["repeat"] = {"frequency": 1, "period": round(1 / parsed.per_day, 2), "periodUnit": "d"}
    else:
        timing["repeat"] = {"frequency": int(parsed.per_day), "period": 1, "periodUnit": "d"}
        if code == "QN":
            timing["repeat"]["when"] = ["HS"]
    return timing


def medication_request(line: PrescriptionLine, *, patient_id: str, ctx: AccessContext, encounter_id: str | None,
                       group: str, now: str) -> dict[str, Any]:
    """The MedicationRequest for one prescription line."""
    drug = formulary.default().find(line.medicine)
    concept: dict[str, Any] = {"text": drug.name_en if drug else line.medicine}
    if drug is not None and drug.atc:
        concept["coding"] = [{"system": ATC, "code": drug.atc[0], "display": drug.name_en}]
    dosage: dict[str, Any] = {
        "sequence": 1, "text": f"{line.dose:g} {line.unit} {line.frequency} {line.route}".strip(),
        "timing": _timing(line.frequency),
        "doseAndRate": [{"doseQuantity": {"value": line.dose, "unit": line.unit, "system": UCUM, "code": line.unit}}],
    }
    if line.frequency.upper() == "PRN":
        dosage["asNeededBoolean"] = True
    route_code = _SNOMED_OF_ROUTE.get(line.route.lower())
    dosage["route"] = ({"coding": [{"system": SNOMED, "code": route_code, "display": line.route}], "text": line.route}
                       if route_code else {"text": line.route})
    if line.note:
        dosage["patientInstruction"] = line.note
    request: dict[str, Any] = {
        "resourceType": "MedicationRequest", "status": "active", "intent": "order",
        "groupIdentifier": {"system": LOCAL + "sid/prescription", "value": group},
        "medicationCodeableConcept": concept, "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": now, "dosageInstruction": [dosage],
    }
    if ctx.fhir_user:
        request["requester"] = {"reference": ctx.fhir_user}
    if encounter_id:
        request["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    if line.days:
        request["dispenseRequest"] = {"expectedSupplyDuration": {"value": line.days, "unit": "days", "system": UCUM,
                                                                 "code": "d"}}
    if line.indication:
        request["reasonCode"] = [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": line.indication}]}]
    return request


def detected_issue(finding: audit.Finding, *, patient_id: str, implicated: list[str], now: str,
                   override: Override | None, ctx: AccessContext) -> dict[str, Any]:
    """The DetectedIssue recording one finding, with the prescriber's override as its mitigation."""
    issue: dict[str, Any] = {
        "resourceType": "DetectedIssue", "status": "final", "severity": finding.severity,
        "code": {"coding": [{"system": RULE_SYSTEM, "code": finding.rule}], "text": finding.summary_en},
        "patient": {"reference": f"Patient/{patient_id}"}, "identifiedDateTime": now,
        "detail": f"{finding.detail_en} {finding.advice_en} Source: {finding.source}"[:4000],
    }
    if implicated:
        issue["implicated"] = [{"reference": ref} for ref in implicated]
    if override is not None:
        display = OVERRIDE_REASONS[override.reason][0]
        mitigation: dict[str, Any] = {"action": {"coding": [{"system": OVERRIDE_SYSTEM, "code": override.reason,
                                                             "display": display}], "text": override.comment or display},
                                      "date": now}
        if ctx.fhir_user and ctx.fhir_user.startswith(("Practitioner/", "PractitionerRole/")):
            mitigation["author"] = {"reference": ctx.fhir_user}
        issue["mitigation"] = [mitigation]
    return issue


def _review_task(*, patient_id: str, requests: list[str], ctx: AccessContext, now: str, urgent: bool) -> dict[str, Any]:
    task: dict[str, Any] = {
        "resourceType": "Task", "status": "requested", "intent": "order", "priority": "urgent" if urgent else "routine",
        "code": {"coding": [{"system": TASK_SYSTEM, "code": REVIEW, "display": "Review prescription"}]},
        "focus": {"reference": requests[0]}, "for": {"reference": f"Patient/{patient_id}"}, "authoredOn": now,
        "input": [{"type": {"text": "MedicationRequest"}, "valueReference": {"reference": r}} for r in requests],
    }
    if ctx.fhir_user:
        task["requester"] = {"reference": ctx.fhir_user}
    if ctx.organization:
        task["owner"] = {"reference": ctx.organization}
    return task


def _implicated(finding: audit.Finding, urls: list[str]) -> list[str]:
    """The new orders (by their transaction urls) and the current MedicationRequests a finding involves."""
    found = []
    for ref in finding.refs:
        current = ref.removeprefix("current:")
        if ref.isdigit() and 0 < int(ref) <= len(urls):
            found.append(urls[int(ref) - 1])
        elif current != ref and current.startswith("MedicationRequest/"):
            found.append(current)
    return found


def _check_overrides(overrides: dict[str, Override]) -> None:
    for key, override in overrides.items():
        if override.reason not in OVERRIDE_REASONS:
            raise SigningRefused(f"unknown override reason {override.reason[:40]!r}")
        if len(override.comment) > 1000 or len(key) > 500:
            raise SigningRefused("an override comment is at most 1000 characters")


def sign(*, ctx: AccessContext, patient_id: str, lines: list[PrescriptionLine], overrides: dict[str, Override],
         encounter_id: str | None = None, hold_for_review: bool = False) -> Signed:
    """Audit and sign a prescription: refused while a high-severity finding is neither fixed nor overridden.
    hold_for_review: the orders take effect only once the pharmacist accepts them (draft until then; online
    prescriptions, knowledge/prescribing/verification.py)."""
    _check_overrides(overrides)
    for line in lines:
        if line.days is not None and not 1 <= line.days <= _MAX_DAYS:
            raise SigningRefused(f"days of supply are 1 to {_MAX_DAYS}")
    findings = check(ctx=ctx, patient_id=patient_id, lines=lines)
    unresolved = [f for f in findings if f.severity == "high" and finding_key(f) not in overrides]
    if unresolved:
        raise SigningRefused(f"{len(unresolved)} high-severity finding(s) must be fixed or overridden with a reason",
                             findings=findings, unresolved=unresolved)
    now = clock.format_instant(clock.now())
    group = str(uuid.uuid4())
    urls = [f"urn:uuid:{uuid.uuid4()}" for _ in lines]
    orders = [medication_request(line, patient_id=patient_id, ctx=ctx, encounter_id=encounter_id, group=group, now=now)
              for line in lines]
    if hold_for_review:
        orders = [verification.held_for_review(order) for order in orders]
    entries = [{"fullUrl": url, "resource": order, "request": {"method": "POST", "url": "MedicationRequest"}}
               for url, order in zip(urls, orders, strict=True)]
    for finding in findings:
        implicated = _implicated(finding, urls)
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "request": {"method": "POST", "url": "DetectedIssue"},
                        "resource": detected_issue(finding, patient_id=patient_id, implicated=implicated, now=now,
                                                   override=overrides.get(finding_key(finding)), ctx=ctx)})
    urgent = any(finding_key(f) in overrides for f in findings)
    entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "request": {"method": "POST", "url": "Task"},
                    "resource": _review_task(patient_id=patient_id, requests=urls, ctx=ctx, now=now, urgent=urgent)})
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    response = gateway.serve(ctx, FhirRequest(method="POST", path="", body=bundle)).body or {}
    locations = ["/".join((e.get("response") or {}).get("location", "").split("/_history")[0].split("/")[-2:])
                 for e in response.get("entry", [])]
    return Signed(medication_requests=locations[:len(lines)], detected_issues=locations[len(lines):-1],
                  review_task=locations[-1], findings=findings)
