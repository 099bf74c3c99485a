"""Contraindication and interaction warnings when a medicine is added (prescribed or self-reported) or the patient's
condition changes (pregnancy, a new allergy, falling eGFR).

The checks and their data are the prescription audit the workstation uses too (smartcare.knowledge.prescribing over
the drug knowledge in smartcare.knowledge.drugs): this module takes the patient's facts (records.read_facts), asks
the audit, keeps the findings a patient must hear of, and records each as a FHIR DetectedIssue (once) with why it
fired and its source.
"""

import hashlib
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.family.medication import records
from smartcare.family.medication.records import accounts_of, read_facts
from smartcare.fhir import tables
from smartcare.knowledge.prescribing import audit, facts
from smartcare.platform import clock
from smartcare.platform.clock import format_instant
from smartcare.platform.jobs import Job, enqueue, handler
from smartcare.platform.notifications import notification_kind, notify
from smartcare.platform.notifications.texts import in_each_language, message
from smartcare.platform.security.context import SYSTEM, AccessContext

REVIEW_JOB = "medication.review"
# The audit's rules a patient is warned of; dose, route and frequency findings are the prescriber's business.
RULES = ("interaction", "allergy", "duplicate", "renal", "hepatic", "pregnancy", "lactation", "condition")
SEVERITIES = ("high", "moderate")
WARNING_SYSTEM = "https://smartcare.example/fhir/CodeSystem/medication-warning"
WARNING_ID = "https://smartcare.example/fhir/sid/medication-warning"
EXT = "https://smartcare.example/fhir/StructureDefinition/medication-warning-"
# Writes that can change what the patient should be warned of (Observations come with a DiagnosticReport, or are
# picked up by the daily review: device readings are too many to review one by one).
TRIGGERS = ("MedicationRequest", "MedicationStatement", "AllergyIntolerance", "Condition", "DiagnosticReport")
NEW_MEDICINE = ("MedicationRequest", "MedicationStatement")
# A medicine the patient takes now, as read_facts counts it: an active order, or a self-reported medicine that is
# active or intended (no MedicationRequest is ever "intended", so one list serves both).
TAKING = ("active", "intended")
_PATIENT_PARAMS = ("patient", "subject")


def _(message: str) -> str:
    """Mark a message for the catalog; it is translated where it is shown."""
    return message


WARNING = notification_kind("medication.warning", label=_("Medicine safety warnings"), default_channels=("sms",),
                            private_body=True)


@dataclass(frozen=True, slots=True)
class Warning:
    """One reason a medicine may be unsafe for this patient, in English and Chinese, with its source."""

    key: str
    rule: str
    severity: str
    medicines: tuple[str, ...]  # the MedicationRequest/MedicationStatement references it concerns
    summary_en: str
    summary_zh: str
    detail_en: str
    detail_zh: str
    advice_en: str
    advice_zh: str
    source: str


def _warning(finding: audit.Finding, patient_id: str) -> Warning:
    medicines = tuple(sorted({ref.removeprefix("current:") for ref in finding.refs}))
    basis = "|".join([patient_id, finding.rule, *sorted(finding.drugs), *sorted(finding.conditions)])
    return Warning(key=hashlib.sha256(basis.encode()).hexdigest()[:32], rule=finding.rule, severity=finding.severity,
                   medicines=medicines, summary_en=finding.summary_en, summary_zh=finding.summary_zh,
                   detail_en=finding.detail_en, detail_zh=finding.detail_zh, advice_en=finding.advice_en,
                   advice_zh=finding.advice_zh, source=finding.source)


def _kept(findings: list[audit.Finding], patient_id: str) -> list[Warning]:
    return [_warning(f, patient_id) for f in findings if f.rule in RULES and f.severity in SEVERITIES]


def _orders(orders: tuple[audit.MedicineOrder, ...]) -> tuple[audit.MedicineOrder, ...]:
    """Orders the audit accepts as new lines: doses in units it cannot read are left out (this review is about
    contraindications and interactions, not dose sizes)."""
    kept = []
    for order in orders:
        try:
            audit.audit([order], audit.PatientFacts())
            kept.append(order)
        except ValueError:
            kept.append(replace(order, dose=None, unit=None))
    return tuple(kept)


def for_new_medicine(patient_facts: audit.PatientFacts, resource: dict[str, Any], *,
                     patient_id: str) -> list[Warning]:
    """Warnings for a medicine just added (a MedicationRequest or MedicationStatement) against the patient's facts
    and the medicines they already take."""
    order = facts.order_from_request(resource)
    if not order.medicine:
        return []
    return _kept(audit.audit(_orders((order,)), patient_facts), patient_id)


def for_current_medicines(patient_facts: audit.PatientFacts, *, patient_id: str) -> list[Warning]:
    """Warnings for everything the patient takes against their facts now (after a change of condition)."""
    orders = _orders(patient_facts.current)
    if not orders:
        return []
    return _kept(audit.audit(orders, replace(patient_facts, current=())), patient_id)


def _detected_issue(warning: Warning, patient_id: str, trigger: str) -> dict[str, Any]:
    strings = {"source": warning.source, "summary-zh": warning.summary_zh, "detail-zh": warning.detail_zh,
               "advice-en": warning.advice_en, "advice-zh": warning.advice_zh, "trigger": trigger}
    return {
        "resourceType": "DetectedIssue", "status": "preliminary", "severity": warning.severity,
        "identifier": [{"system": WARNING_ID, "value": warning.key}],
        "code": {"coding": [{"system": WARNING_SYSTEM, "code": warning.rule}], "text": warning.summary_en},
        "patient": {"reference": f"Patient/{patient_id}"}, "identifiedDateTime": format_instant(clock.now()),
        "implicated": [{"reference": ref} for ref in warning.medicines if "/" in ref],
        "detail": warning.detail_en,
        "extension": [{"url": EXT + name, "valueString": value[:2000]} for name, value in strings.items() if value],
    }


def shown(issue: dict[str, Any], *, zh: bool) -> dict[str, Any]:
    """A stored warning as pages and the API show it: what, why, what to do and the rule's source."""
    ext = {e.get("url", "").removeprefix(EXT): e.get("valueString", "") for e in issue.get("extension", [])}
    return {"id": issue.get("id"), "severity": issue.get("severity"),
            "rule": next((c.get("code") for c in (issue.get("code") or {}).get("coding", [])), ""),
            "summary": ext.get("summary-zh") if zh else (issue.get("code") or {}).get("text", ""),
            "why": ext.get("detail-zh") if zh else issue.get("detail", ""),
            "advice": ext.get("advice-zh") if zh else ext.get("advice-en", ""),
            "source": ext.get("source", ""), "trigger": ext.get("trigger", ""),
            "medicines": [i.get("reference") for i in issue.get("implicated", [])],
            "when": issue.get("identifiedDateTime", "")}


def current(conn: Connection, ctx: AccessContext, *, patient_id: str) -> list[dict[str, Any]]:
    """The patient's standing medication warnings (DetectedIssues this module wrote), newest first."""
    found = records.search(conn, ctx, "DetectedIssue", [("patient", f"Patient/{patient_id}"),
                                                        ("code", ",".join(f"{WARNING_SYSTEM}|{r}" for r in RULES))])
    standing = [i for i in found if i.get("status") in ("preliminary", "final")]
    return sorted(standing, key=lambda i: i.get("identifiedDateTime", ""), reverse=True)


def review(conn: Connection, *, patient_id: str, trigger: str) -> list[dict[str, Any]]:
    """Review the patient's medicines after trigger ("MedicationRequest/12", "Condition/3" ...): record each new
    warning as a DetectedIssue and tell the patient and the prescribers concerned; the new DetectedIssues."""
    today = clock.now().date()
    res_type = trigger.partition("/")[0]
    if res_type in NEW_MEDICINE:
        resource = records.read(conn, SYSTEM, trigger)
        if resource.get("status") not in ("active", "intended", "on-hold"):
            return []
        patient_facts = read_facts(conn, SYSTEM, patient_id=patient_id, today=today, leave_out=trigger)
        found = for_new_medicine(patient_facts, resource, patient_id=patient_id)
    else:
        patient_facts = read_facts(conn, SYSTEM, patient_id=patient_id, today=today)
        found = for_current_medicines(patient_facts, patient_id=patient_id)
    created = []
    for warning in found:
        known = records.search(conn, SYSTEM, "DetectedIssue", [("identifier", f"{WARNING_ID}|{warning.key}")])
        if known:
            continue
        issue = records.create(conn, SYSTEM, _detected_issue(warning, patient_id, trigger))
        created.append(issue)
        _tell(conn, warning, patient_id)
    return created


def _prescribers(conn: Connection, warning: Warning) -> set[str]:
    found = set()
    for ref in warning.medicines:
        if ref.startswith("MedicationRequest/"):
            requester = (records.read(conn, SYSTEM, ref).get("requester") or {}).get("reference", "")
            if requester.startswith("Practitioner/"):
                found.add(requester)
    return found


def _tell(conn: Connection, warning: Warning, patient_id: str) -> None:
    data = {"patient": f"Patient/{patient_id}", "rule": warning.rule, "source": warning.source[:300]}
    # The warning's words come in both languages from the rules' data; the notice keeps both for its reader.
    title = message("{text}", text=in_each_language(en=warning.summary_en[:200], zh_Hans=warning.summary_zh[:200]))
    body = message("{text}", text=in_each_language(en=f"{warning.advice_en} {warning.detail_en}"[:2000],
                                                   zh_Hans=f"{warning.advice_zh} {warning.detail_zh}"[:2000]))
    for account in accounts_of(conn, f"Patient/{patient_id}"):
        notify(conn, user_id=account.id, kind=WARNING.name, link="/app/medication", data=data, title_text=title,
               body_text=body)
    for prescriber in _prescribers(conn, warning):
        for account in accounts_of(conn, prescriber):
            notify(conn, user_id=account.id, kind=WARNING.name, link=f"/workstation/patients/{patient_id}",
                   title=warning.summary_en[:200], body=f"{warning.detail_en} {warning.advice_en}"[:2000], data=data)


def _patient_of(resource: dict[str, Any]) -> str:
    for name in ("subject", "patient"):
        reference = (resource.get(name) or {}).get("reference", "")
        if reference.startswith("Patient/"):
            return reference.removeprefix("Patient/")
    return ""


def concerns_medicines(conn: Connection, *, res_type: str, res_id: str) -> bool:
    """Whether the resource's patient takes a medicine now (so a change to their record may change their
    warnings): one query over the store's reference and token indexes, without reading any resource."""
    resource = tables.resource.c
    written, medicine = tables.idx_reference.alias("written"), tables.idx_reference.alias("medicine")
    status = tables.idx_token.alias("medicine_status")
    query = (
        sa.select(sa.literal(1))
        .select_from(tables.resource)
        .join(written, sa.and_(written.c.res_pk == resource.pk, written.c.param.in_(_PATIENT_PARAMS),
                               written.c.target_type == "Patient"))
        .join(medicine, sa.and_(medicine.c.res_type.in_(NEW_MEDICINE), medicine.c.param.in_(_PATIENT_PARAMS),
                                medicine.c.target_id == written.c.target_id, medicine.c.target_type == "Patient"))
        .join(status, sa.and_(status.c.res_pk == medicine.c.res_pk, status.c.param == "status",
                              status.c.code.in_(TAKING)))
        .where(resource.res_type == res_type, resource.res_id == res_id)
        .limit(1)
    )
    return conn.execute(query).first() is not None


def enqueue_review(conn: Connection, *, trigger: str, version: object) -> None:
    """In the caller's transaction: a job to review the patient's medicines after a write of trigger."""
    enqueue(conn, kind=REVIEW_JOB, payload={"trigger": trigger}, key=f"medication:review:{trigger}:{version}"[:200])


@handler(REVIEW_JOB)
def review_job(conn: Connection, job: Job) -> None:
    """Review one patient's medicines after a write that can change their warnings."""
    trigger = str(job.payload["trigger"])
    patient_id = _patient_of(records.read(conn, SYSTEM, trigger))
    if patient_id:
        review(conn, patient_id=patient_id, trigger=trigger)
