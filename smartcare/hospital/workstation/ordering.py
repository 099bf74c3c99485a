"""Orders other than medicines: lab tests and panels, imaging, procedures, referrals and follow-up visits.

Each order becomes a FHIR ServiceRequest (category, LOINC/SNOMED code, priority, reason, the encounter) whose
performer is the department of the doctor's hospital that does the work (the laboratory, radiology, the
department referred to), so it lands on that department's worklist; a follow-up becomes a proposed
Appointment the patient or the desk books. All of one submission is written in one FHIR transaction as the
doctor (policy-checked, audited).
"""

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from smartcare.fhir import gateway
from smartcare.hospital.imaging import orders as imaging_orders
from smartcare.knowledge.diseases import icd10
from smartcare.knowledge.orders import catalogue, order_sets
from smartcare.platform import clock
from smartcare.platform.security.context import AccessContext

LOCAL = "https://smartcare.example/fhir/"
DEPARTMENT_SYSTEM = LOCAL + "CodeSystem/department"
ORDER_SYSTEM = LOCAL + "CodeSystem/order-catalogue"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
DICOM_MODALITY = "http://dicom.nema.org/resources/ontology/DCM"
# ServiceRequest.category by order kind (SNOMED CT), and the department that performs it.
CATEGORIES = {
    "lab": ("108252007", "Laboratory procedure"), "panel": ("108252007", "Laboratory procedure"),
    "imaging": ("363679005", "Imaging"), "procedure": ("103693007", "Diagnostic procedure"),
    "referral": ("3457005", "Patient referral"),
}
PERFORMING_DEPARTMENT = {"lab": "laboratory", "panel": "laboratory", "imaging": "radiology"}
PRIORITIES = ("routine", "urgent", "stat")
MAX_ORDERS = 30
MAX_NOTE = 500


class OrderRefused(Exception):
    """Orders that cannot be placed: what was wrong."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class OrderRequest:
    """One order as the doctor chose it: a catalogue key or code, with priority, reason and a note."""

    key: str
    priority: str = "routine"
    reason: str | None = None
    note: str = ""


@dataclass(frozen=True)
class FollowUp:
    """A follow-up visit in so many days with a department, for a reason."""

    in_days: int
    department: str
    note: str = ""


def _department_service(ctx: AccessContext, department: str) -> str | None:
    """The HealthcareService of a department of the caller's hospital (the directory is public)."""
    if not ctx.organization:
        return None
    found = gateway.search(ctx, "HealthcareService", [("service-type", f"{DEPARTMENT_SYSTEM}|{department}"),
                                                      ("organization.partof", ctx.organization), ("_count", "1")])
    if not found:
        found = gateway.search(ctx, "HealthcareService", [("service-type", f"{DEPARTMENT_SYSTEM}|{department}"),
                                                          ("organization", ctx.organization), ("_count", "1")])
    return f"HealthcareService/{found[0]['id']}" if found else None


def _code(order: catalogue.Order) -> dict[str, Any]:
    codings = [{"system": ORDER_SYSTEM, "code": order.key, "display": order.name_en}]
    if order.kind in ("lab", "panel", "imaging") and order.code:
        codings.insert(0, {"system": LOINC, "code": order.code, "display": order.name_en})
    elif order.kind == "procedure" and order.code:
        codings.insert(0, {"system": SNOMED, "code": order.code, "display": order.name_en})
    return {"coding": codings, "text": order.name_en}


def service_request(ctx: AccessContext, order: catalogue.Order, wanted: OrderRequest, *, patient_id: str,
                    encounter_id: str | None, now: str) -> dict[str, Any]:
    """The ServiceRequest for one catalogue order, routed to the department that performs it."""
    code, display = CATEGORIES[order.kind]
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest", "status": "active", "intent": "order", "priority": wanted.priority,
        "category": [{"coding": [{"system": SNOMED, "code": code, "display": display}]}],
        "code": _code(order), "subject": {"reference": f"Patient/{patient_id}"}, "authoredOn": now,
    }
    if order.kind == "imaging":
        request["bodySite"] = [{"coding": [{"system": SNOMED, "code": order.body_part.snomed,
                                            "display": order.body_part.name_en}], "text": order.body_part.term}]
        request["orderDetail"] = [{"coding": [{"system": DICOM_MODALITY, "code": order.modality}]}]
        if order.preparation:
            request["patientInstruction"] = order.preparation
    elif order.kind in ("lab", "panel"):
        if order.fasting:
            request["patientInstruction"] = "Fasting for 8 hours before the sample."
    elif order.kind == "procedure" and order.preparation:
        request["patientInstruction"] = order.preparation
    department = PERFORMING_DEPARTMENT.get(order.kind) or getattr(order, "department", None)
    performer = _department_service(ctx, department) if department else None
    if performer:
        request["performer"] = [{"reference": performer}]
    if ctx.fhir_user:
        request["requester"] = {"reference": ctx.fhir_user}
    if encounter_id:
        request["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    if wanted.reason:
        diagnosis = icd10.find(wanted.reason)
        request["reasonCode"] = [{"coding": [{"system": ICD10, "code": diagnosis.code, "display": diagnosis.title_en}]}]
    if wanted.note:
        request["note"] = [{"text": wanted.note}]
    return request


def _checked(wanted: OrderRequest) -> catalogue.Order:
    order = catalogue.find_order(wanted.key)
    if order is None:
        raise OrderRefused(f"{wanted.key[:60]!r} is not in the order catalogue")
    if wanted.priority not in PRIORITIES:
        raise OrderRefused("priority is routine, urgent or stat")
    if wanted.reason and icd10.find(wanted.reason) is None:
        raise OrderRefused(f"{wanted.reason[:20]!r} is not an ICD-10 code")
    if len(wanted.note) > MAX_NOTE:
        raise OrderRefused(f"a note is at most {MAX_NOTE} characters")
    return order


def follow_up_appointment(ctx: AccessContext, follow_up: FollowUp, *, patient_id: str, today: date) -> dict[str, Any]:
    """A proposed Appointment for the follow-up: the week around the day asked, with the department."""
    if not 1 <= follow_up.in_days <= 730:
        raise OrderRefused("a follow-up is 1 to 730 days away")
    if len(follow_up.note) > MAX_NOTE:
        raise OrderRefused(f"a note is at most {MAX_NOTE} characters")
    service = _department_service(ctx, follow_up.department)
    if service is None:
        raise OrderRefused(f"your hospital has no {follow_up.department[:40]} department")
    target = today + timedelta(days=follow_up.in_days)
    appointment: dict[str, Any] = {
        "resourceType": "Appointment", "status": "proposed",
        "serviceType": [{"coding": [{"system": DEPARTMENT_SYSTEM, "code": follow_up.department}]}],
        "appointmentType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0276",
                                        "code": "FOLLOWUP", "display": "A follow up visit from a previous appointment"}]},
        "description": follow_up.note or "Follow-up visit",
        "requestedPeriod": [{"start": (target - timedelta(days=3)).isoformat(),
                             "end": (target + timedelta(days=3)).isoformat()}],
        "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "needs-action"},
                        {"actor": {"reference": service}, "status": "needs-action"}],
    }
    if ctx.fhir_user and ctx.fhir_user.startswith("Practitioner/"):
        appointment["participant"].append({"actor": {"reference": ctx.fhir_user}, "status": "tentative"})
    return appointment


def place(*, ctx: AccessContext, patient_id: str, orders: list[OrderRequest], follow_up: FollowUp | None = None,
          encounter_id: str | None = None) -> list[str]:
    """Place the orders (and the follow-up) in one transaction as the doctor; returns the new references."""
    if not orders and follow_up is None:
        raise OrderRefused("choose at least one order")
    if len(orders) > MAX_ORDERS:
        raise OrderRefused(f"at most {MAX_ORDERS} orders at once")
    checked = [(_checked(o), o) for o in orders]
    now = clock.format_instant(clock.now())
    entries = [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "request": {"method": "POST", "url": "ServiceRequest"},
                "resource": service_request(ctx, order, wanted, patient_id=patient_id, encounter_id=encounter_id,
                                            now=now)} for order, wanted in checked]
    if follow_up is not None:
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "request": {"method": "POST", "url": "Appointment"},
                        "resource": follow_up_appointment(ctx, follow_up, patient_id=patient_id,
                                                          today=clock.now().date())})
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    response = imaging_orders.place_transaction(ctx, bundle)  # imaging orders get their accession numbers
    return ["/".join((e.get("response") or {}).get("location", "").split("/_history")[0].split("/")[-2:])
            for e in response.get("entry", [])]


def interval_days(interval: str) -> int | None:
    """The days of an ISO 8601 duration like P3M or P2W (months as 30 days), or None if it is not one."""
    unit_days = {"D": 1, "W": 7, "M": 30, "Y": 365}
    if len(interval) < 3 or interval[0] != "P" or interval[-1] not in unit_days or not interval[1:-1].isdigit():
        return None
    return int(interval[1:-1]) * unit_days[interval[-1]]


def order_sets_for_patient(ctx: AccessContext, patient_id: str) -> list[tuple[order_sets.OrderSet, str]]:
    """The order sets that fit the patient's active diagnoses, each with the diagnosis code it fits."""
    conditions = gateway.search(ctx, "Condition", [("patient", patient_id), ("_count", "200")])
    found: dict[str, tuple[order_sets.OrderSet, str]] = {}
    for condition in conditions:
        status = {c.get("code") for c in (condition.get("clinicalStatus") or {}).get("coding", [])}
        if status & {"inactive", "resolved", "remission"}:
            continue
        for coding in (condition.get("code") or {}).get("coding", []):
            if coding.get("system") == ICD10 and coding.get("code"):
                for fitting in order_sets.order_sets_for(coding["code"]):
                    found.setdefault(fitting.key, (fitting, coding["code"]))
    return list(found.values())


def place_order_set(*, ctx: AccessContext, patient_id: str, key: str, reason: str | None,
                    follow_up_department: str | None = None, encounter_id: str | None = None) -> list[str]:
    """Place every order of an order set (and its follow-up visit with a department) for the patient."""
    chosen = order_sets.order_set(key)
    if chosen is None:
        raise OrderRefused(f"there is no order set {key[:40]!r}", status=404)
    orders = [OrderRequest(key=order.key, reason=reason, note=chosen.name_en) for order in chosen.orders]
    follow_up = None
    if chosen.follow_up is not None and follow_up_department:
        days = interval_days(chosen.follow_up.interval)
        if days is not None:
            follow_up = FollowUp(in_days=min(days, 730), department=follow_up_department,
                                 note=chosen.follow_up.note_en[:MAX_NOTE])
    return place(ctx=ctx, patient_id=patient_id, orders=orders, follow_up=follow_up, encounter_id=encounter_id)


def worklist(ctx: AccessContext, *, department: str, status: str = "active") -> list[dict[str, Any]]:
    """The ServiceRequests waiting for a department of the caller's hospital, urgent first."""
    service = _department_service(ctx, department)
    if service is None:
        return []
    found = gateway.search(ctx, "ServiceRequest", [("performer", service), ("status", status),
                                                   ("_sort", "-authored"), ("_count", "100")])
    rank = {"stat": 0, "asap": 1, "urgent": 2, "routine": 3}
    return sorted(found, key=lambda r: rank.get(r.get("priority", "routine"), 3))
