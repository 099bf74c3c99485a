"""The pharmacist's review of signed prescriptions, and dispensing with batch, expiry and a plain label.

A signed prescription arrives as a Task (code prescription-review) owned by the prescriber's hospital.
The pharmacist accepts it (Task completed) or returns it to the doctor with a note (Task rejected and the
prescriber notified; the orders stay the prescriber's to change, and nothing is dispensed from a returned
prescription). Accepted orders are dispensed as MedicationDispense with the
batch and expiry on a contained Medication and a label in the patient's language. Every read and write
goes through the FHIR gateway as the pharmacist.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.pharmacy import labels
from smartcare.hospital.pharmacy.signing import REVIEW, TASK_SYSTEM
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.notifications import notification_kind
from smartcare.platform.notifications import service as notifications
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.tables import user_account

QUEUE_SIZE = 50
RETURNED = notification_kind("prescription.returned", label=_("Prescriptions returned by the pharmacy"),
                             private_body=True)  # the pharmacist's note is about a patient
MAX_NOTE = 500
_LOT = 40


class ReviewRefused(Exception):
    """A review or dispensing step that cannot be done, with what was wrong."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Prescription:
    """One prescription as the pharmacist sees it: the task, the orders, what the audit found."""

    task: dict[str, Any]
    patient: dict[str, Any]
    orders: list[dict[str, Any]]
    issues: list[dict[str, Any]]
    dispenses: list[dict[str, Any]]


def queue(ctx: AccessContext, *, status: str = "requested") -> list[dict[str, Any]]:
    """The review tasks of the pharmacist's hospital in a status, urgent (overridden findings) first."""
    params = [("code", f"{TASK_SYSTEM}|{REVIEW}"), ("status", status), ("_sort", "-authored-on"),
              ("_count", str(QUEUE_SIZE))]
    if ctx.organization:
        params.append(("owner", ctx.organization))
    tasks = gateway.search(ctx, "Task", params)
    return sorted(tasks, key=lambda t: t.get("priority") != "urgent")


def _inputs(task: dict[str, Any]) -> list[str]:
    return [i["valueReference"]["reference"] for i in task.get("input", [])
            if (i.get("valueReference") or {}).get("reference", "").startswith("MedicationRequest/")]


def prescription(ctx: AccessContext, task_id: str) -> Prescription:
    """The review task with its patient, orders, DetectedIssues and dispenses."""
    task = _task(ctx, task_id)
    orders = [gateway.read(ctx, ref) for ref in _inputs(task)]
    patient = gateway.read(ctx, task["for"]["reference"])
    wanted = {f"MedicationRequest/{o['id']}" for o in orders}
    issues = [i for i in gateway.search(ctx, "DetectedIssue", [("patient", task["for"]["reference"]),
                                                               ("_sort", "-identified"), ("_count", "100")])
              if wanted & {r.get("reference") for r in i.get("implicated", [])}]
    dispenses = gateway.search(ctx, "MedicationDispense", [("prescription", ",".join(sorted(wanted))),
                                                           ("_count", "100")]) if wanted else []
    return Prescription(task=task, patient=patient, orders=orders, issues=issues, dispenses=dispenses)


def _task(ctx: AccessContext, task_id: str) -> dict[str, Any]:
    if not task_id or len(task_id) > 64 or not all(c.isalnum() or c in "-." for c in task_id):
        raise ReviewRefused("no such review task", status=404)
    task = gateway.read(ctx, f"Task/{task_id}")
    codes = {c.get("code") for c in (task.get("code") or {}).get("coding", [])}
    if REVIEW not in codes:
        raise ReviewRefused("that task is not a prescription review", status=404)
    return task


def _put(ctx: AccessContext, resource: dict[str, Any]) -> dict[str, Any]:
    path = f"{resource['resourceType']}/{resource['id']}"
    version = (resource.get("meta") or {}).get("versionId")
    headers = {"if-match": f'W/"{version}"'} if version else {}
    return gateway.serve(ctx, FhirRequest(method="PUT", path=path, body=resource, headers=headers)).body or {}


def accept(ctx: AccessContext, task_id: str, *, note: str = "") -> dict[str, Any]:
    """Approve a prescription for dispensing."""
    task = _task(ctx, task_id)
    if task["status"] not in ("requested", "received", "accepted", "in-progress"):
        raise ReviewRefused(f"this prescription was already {task['status']}", status=409)
    task = {**task, "status": "completed", "lastModified": clock.format_instant(clock.now()),
            "businessStatus": {"text": "approved"}}
    if ctx.fhir_user:
        task["owner"] = task.get("owner") or {"reference": ctx.organization or ctx.fhir_user}
    if note.strip():
        task["note"] = [*task.get("note", []), {"text": note.strip()[:MAX_NOTE], "time": task["lastModified"]}]
    return _put(ctx, task)


def _prescriber_users(prescriber: str | None) -> list[str]:
    if not prescriber:
        return []
    with unit_of_work() as conn:
        return list(conn.execute(sa.select(user_account.c.id).where(user_account.c.fhir_ref == prescriber)).scalars())


def return_to_prescriber(ctx: AccessContext, task_id: str, *, note: str) -> dict[str, Any]:
    """Send a prescription back to the doctor with the pharmacist's note; nothing is dispensed from it."""
    note = note.strip()
    if not note:
        raise ReviewRefused("say why the prescription goes back to the doctor")
    if len(note) > MAX_NOTE:
        raise ReviewRefused(f"the note is at most {MAX_NOTE} characters")
    task = _task(ctx, task_id)
    if task["status"] not in ("requested", "received", "accepted", "in-progress"):
        raise ReviewRefused(f"this prescription was already {task['status']}", status=409)
    now = clock.format_instant(clock.now())
    task = {**task, "status": "rejected", "lastModified": now, "statusReason": {"text": note},
            "note": [*task.get("note", []), {"text": note, "time": now}]}
    saved = _put(ctx, task)
    for user_id in _prescriber_users((task.get("requester") or {}).get("reference")):
        with unit_of_work() as conn:
            notifications.notify(conn, user_id=user_id, kind=RETURNED.name,
                                 title="Prescription returned by the pharmacy", body=note[:300],
                                 link=f"/workstation/patients/{task['for']['reference'].split('/')[-1]}")
    return saved


def patient_language(patient: dict[str, Any], default: str = "zh") -> str:
    """The language the patient reads labels in: their preferred Patient.communication language, else default."""
    spoken = patient.get("communication") or []
    chosen = next((c for c in spoken if c.get("preferred")), spoken[0] if spoken else None)
    codes = [c.get("code", "") for c in ((chosen or {}).get("language") or {}).get("coding", [])]
    code = next((c for c in codes if c), "")
    return "zh" if code.lower().startswith("zh") else "en" if code.lower().startswith("en") else default


def dispense(ctx: AccessContext, task_id: str, *, order_id: str, lot: str, expiry: str, quantity: float,
             unit: str, language: str | None = None) -> dict[str, Any]:
    """Hand over one accepted order: a MedicationDispense with batch, expiry and a label in the patient's language."""
    task = _task(ctx, task_id)
    if task["status"] != "completed":
        raise ReviewRefused("a prescription is dispensed after the pharmacist has accepted it", status=409)
    reference = f"MedicationRequest/{order_id}"
    if reference not in _inputs(task):
        raise ReviewRefused("that order is not part of this prescription", status=404)
    lot = lot.strip()
    if not lot or len(lot) > _LOT or not all(c.isalnum() or c in "-_/." for c in lot):
        raise ReviewRefused(f"the batch number is 1 to {_LOT} letters, digits or - _ / .")
    try:
        expires = date.fromisoformat(expiry)
    except ValueError:
        raise ReviewRefused("the expiry date is written YYYY-MM-DD") from None
    if expires <= clock.now().date():
        raise ReviewRefused("that batch has expired; do not dispense it")
    if not 0 < quantity <= 10_000:
        raise ReviewRefused("the quantity must be more than 0 and at most 10000")
    order = gateway.read(ctx, reference)
    if language is None:
        language = patient_language(gateway.read(ctx, order["subject"]["reference"]))
    label = labels.label(order, language=language)
    now = clock.format_instant(clock.now())
    concept = order.get("medicationCodeableConcept") or {"text": "medicine"}
    dosage = [{**d, "patientInstruction": label} for d in order.get("dosageInstruction", [])[:1]] or [
        {"patientInstruction": label}]
    resource: dict[str, Any] = {
        "resourceType": "MedicationDispense", "status": "completed",
        "contained": [{"resourceType": "Medication", "id": "dispensed", "code": concept,
                       "batch": {"lotNumber": lot, "expirationDate": expires.isoformat()}}],
        "medicationReference": {"reference": "#dispensed", "display": concept.get("text", "")},
        "subject": order["subject"], "authorizingPrescription": [{"reference": reference}],
        "quantity": {"value": quantity, "unit": unit[:20]}, "whenPrepared": now, "whenHandedOver": now,
        "dosageInstruction": dosage,
    }
    supply = (order.get("dispenseRequest") or {}).get("expectedSupplyDuration")
    if supply:
        resource["daysSupply"] = supply
    if ctx.fhir_user:
        resource["performer"] = [{"actor": {"reference": ctx.fhir_user}}]
    return gateway.serve(ctx, FhirRequest(method="POST", path="MedicationDispense", body=resource)).body or {}
