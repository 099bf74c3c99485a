"""The pharmacist's review of signed prescriptions, and dispensing with batch, expiry and a plain label.

A signed prescription arrives as a Task (code prescription-review) owned by the prescriber's hospital.
The pharmacist accepts it (Task completed) or returns it to the doctor with a note (Task rejected and the
prescriber notified; the orders stay the prescriber's to change, and nothing is dispensed from a returned
prescription). An online prescription's orders wait for this check as drafts: accepting makes them active,
returning cancels them, in the same transaction as the Task (knowledge/prescribing/verification.py). Accepted
orders are dispensed as MedicationDispense with the batch and expiry on a contained Medication and a label in the
patient's language. Every read and write goes through the FHIR gateway as the pharmacist.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.pharmacy import labels
from smartcare.hospital.pharmacy.signing import REVIEW, TASK_SYSTEM
from smartcare.knowledge.prescribing import verification
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


@dataclass(frozen=True)
class Queued:
    """One review task of the queue with what it points at: the patient, the prescriber and the orders."""

    task: dict[str, Any]
    patient: dict[str, Any] | None
    prescriber: dict[str, Any] | None
    orders: list[dict[str, Any]]


def queue(ctx: AccessContext, *, status: str = "requested") -> list[Queued]:
    """The review tasks of the pharmacist's hospital in a status, urgent (overridden findings) first, each with its
    patient, prescriber and orders: one search with _include, and one more for the orders of prescriptions with
    several medicines (Task.focus names only the first). Read as the pharmacist, each search audited."""
    params = [("code", f"{TASK_SYSTEM}|{REVIEW}"), ("status", status), ("_sort", "-authored-on"),
              ("_count", str(QUEUE_SIZE)), ("_include", "Task:patient"), ("_include", "Task:requester"),
              ("_include", "Task:focus")]
    if ctx.organization:
        params.append(("owner", ctx.organization))
    found = gateway.search(ctx, "Task", params)
    tasks = [r for r in found if r.get("resourceType") == "Task"]
    known = {f"{r.get('resourceType')}/{r.get('id')}": r for r in found if r.get("resourceType") != "Task"}
    missing = sorted({ref for task in tasks for ref in inputs(task) if ref not in known})
    if missing:
        ids = ",".join(ref.removeprefix("MedicationRequest/") for ref in missing)
        for order in gateway.search(ctx, "MedicationRequest", [("_id", ids), ("_count", str(len(missing)))]):
            known[f"MedicationRequest/{order['id']}"] = order
    queued = [Queued(task=task, patient=known.get((task.get("for") or {}).get("reference", "")),
                     prescriber=known.get((task.get("requester") or {}).get("reference", "")),
                     orders=[known[ref] for ref in inputs(task) if ref in known]) for task in tasks]
    return sorted(queued, key=lambda q: q.task.get("priority") != "urgent")


def inputs(task: dict[str, Any]) -> list[str]:
    """The MedicationRequests a review task is about ("MedicationRequest/<id>")."""
    return [i["valueReference"]["reference"] for i in task.get("input", [])
            if (i.get("valueReference") or {}).get("reference", "").startswith("MedicationRequest/")]


def prescription(ctx: AccessContext, task_id: str) -> Prescription:
    """The review task with its patient, orders, DetectedIssues and dispenses."""
    task = _task(ctx, task_id)
    orders = [gateway.read(ctx, ref) for ref in inputs(task)]
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


def _entry(resource: dict[str, Any], version: str | None) -> dict[str, Any]:
    request: dict[str, Any] = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
    if version:
        request["ifMatch"] = f'W/"{version}"'
    return {"resource": resource, "request": request}


def _decide(ctx: AccessContext, task: dict[str, Any], change: Callable[[dict[str, Any]], dict[str, Any]],
            ) -> dict[str, Any]:
    """Write the task's outcome, and change each of its orders that waits for the pharmacist (an online
    prescription: knowledge/prescribing/verification.py), in one transaction as the pharmacist; the task as stored."""
    refs = inputs(task)
    orders = gateway.search(ctx, "MedicationRequest", [("_id", ",".join(r.removeprefix("MedicationRequest/")
                                                                        for r in refs)),
                                                       ("_count", str(len(refs)))]) if refs else []
    held = [o for o in orders if verification.awaiting_pharmacist(o)]
    if not held:
        return _put(ctx, task)
    entries = [_entry(task, (task.get("meta") or {}).get("versionId")),
               *(_entry(change(o), (o.get("meta") or {}).get("versionId")) for o in held)]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    response = gateway.serve(ctx, FhirRequest(method="POST", path="", body=bundle)).body or {}
    return ((response.get("entry") or [{}])[0]).get("resource") or {}


def accept(ctx: AccessContext, task_id: str, *, note: str = "") -> dict[str, Any]:
    """Approve a prescription for dispensing; orders that waited for this check take effect (active)."""
    task = _task(ctx, task_id)
    if task["status"] not in ("requested", "received", "accepted", "in-progress"):
        raise ReviewRefused(f"this prescription was already {task['status']}", status=409)
    task = {**task, "status": "completed", "lastModified": clock.format_instant(clock.now()),
            "businessStatus": {"text": "approved"}}
    if ctx.fhir_user:
        task["owner"] = task.get("owner") or {"reference": ctx.organization or ctx.fhir_user}
    if note.strip():
        task["note"] = [*task.get("note", []), {"text": note.strip()[:MAX_NOTE], "time": task["lastModified"]}]
    return _decide(ctx, task, verification.verified)


def _prescriber_users(prescriber: str | None) -> list[str]:
    if not prescriber:
        return []
    with unit_of_work() as conn:
        return list(conn.execute(sa.select(user_account.c.id).where(user_account.c.fhir_ref == prescriber)).scalars())


def return_to_prescriber(ctx: AccessContext, task_id: str, *, note: str) -> dict[str, Any]:
    """Send a prescription back to the doctor with the pharmacist's note; nothing is dispensed from it, and orders
    that waited for this check never take effect (cancelled)."""
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
    saved = _decide(ctx, task, verification.returned)
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
    if reference not in inputs(task):
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
