"""How much of each medicine is left: dispensed quantity less confirmed intakes, days left, refill reminders and
the one-tap renewal request to the prescriber (a FHIR Task with code "renew", focus the MedicationRequest)."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import Connection

from smartcare.family.medication import records, schedule
from smartcare.family.medication.records import MedicationProblem, Record, accounts_of
from smartcare.fhir.errors import FhirError
from smartcare.platform import clock
from smartcare.platform.clock import format_instant
from smartcare.platform.jobs import Job, enqueue, handler
from smartcare.platform.notifications import notification_kind, notify
from smartcare.platform.notifications.texts import message
from smartcare.platform.security.context import SYSTEM, AccessContext

REFILL_JOB = "medication.refill"
OPEN_TASK = ("draft", "requested", "received", "accepted", "ready", "in-progress", "on-hold")


def _(message: str) -> str:
    """Mark a message for the catalog; it is translated where it is shown."""
    return message


REFILL = notification_kind("medication.refill", label=_("Medicine running out"), default_channels=("sms",),
                           private_body=True)
RENEWAL = notification_kind("medication.renewal", label=_("Prescription renewal requests"))


@cache
def settings() -> dict[str, Any]:
    """The refill and renewal settings (data/supply.yaml)."""
    return yaml.safe_load((Path(__file__).parent / "data" / "supply.yaml").read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class Supply:
    """What is left of one medicine."""

    request_id: str
    medicine: str
    dispensed: float
    taken: float
    remaining: float | None
    per_day: float
    days_left: int | None
    runs_out: date | None
    estimated: bool  # no intake recorded since the dispense: the schedule stands in for confirmed intakes
    last_dispense: str | None


def _dispensed_for(record: Record, request_id: str) -> list[dict[str, Any]]:
    wanted = f"MedicationRequest/{request_id}"
    return [d for d in record.dispenses if d.get("status") == "completed" and any(
        (p or {}).get("reference") == wanted for p in d.get("authorizingPrescription", []))]


def _handed_over(dispense: dict[str, Any]) -> str:
    return str(dispense.get("whenHandedOver") or dispense.get("whenPrepared") or "")


def _dose_unit(request: dict[str, Any]) -> str | None:
    for rate in ((request.get("dosageInstruction") or [{}])[0].get("doseAndRate") or []):
        quantity = (rate or {}).get("doseQuantity") or {}
        if quantity.get("unit") or quantity.get("code"):
            return quantity.get("unit") or quantity.get("code")
    return None


def _days_supplied(dispense: dict[str, Any]) -> float | None:
    days = dispense.get("daysSupply") or {}
    value = days.get("value")
    return float(value) if isinstance(value, int | float) and (days.get("code") or days.get("unit")) in (
        "d", "day", "days") else None


def supply_of(record: Record, request: dict[str, Any], *, now: datetime) -> Supply:
    """What is left of one order's medicine now: dispensed less confirmed intakes (or the schedule's doses since the
    first dispense, when the patient records none).

    A dispense counted in another unit than the dose (30 capsules for doses of 500 mg, as the hospital's pharmacy
    hands over what the workstation prescribes) is counted in doses, from its days' supply; without one, what is
    left is not known."""
    tz, today = record.tz, now.astimezone(record.tz).date()
    per_day = schedule.doses_per_day(request, today, tz)
    dispenses = sorted(_dispensed_for(record, request["id"]), key=_handed_over)
    name = schedule.medicine_name(request)
    if not dispenses:
        return Supply(request["id"], name, 0, 0, None, per_day, None, None, False, None)
    dispensed = sum(float((d.get("quantity") or {}).get("value") or 0) for d in dispenses)
    since = _handed_over(dispenses[0])
    amount = schedule.dose_amount((request.get("dosageInstruction") or [{}])[0])[0] or 1
    unit = _dose_unit(request)
    if unit and any(((d.get("quantity") or {}).get("unit") or unit) != unit for d in dispenses):
        days = [_days_supplied(d) for d in dispenses]
        if None in days:
            return Supply(request["id"], name, dispensed, 0, None, per_day, None, None, False, dispenses[-1].get("id"))
        per_day, amount = per_day / amount, 1.0
        dispensed = sum(d for d in days if d is not None) * per_day
    taken_records = [a for a in record.administrations if a.get("status") == "completed"
                     and (a.get("request") or {}).get("reference") == f"MedicationRequest/{request['id']}"
                     and str(a.get("effectiveDateTime", "")) >= since]
    estimated = not taken_records
    if estimated:
        start = datetime.fromisoformat(since.replace("Z", "+00:00")) if len(since) > 10 else None
        taken = len(schedule.doses_between([request], start, now, tz)) * amount if start else 0.0
    else:
        taken = len(taken_records) * amount
    remaining = max(0.0, dispensed - taken)
    days = int(remaining // per_day) if per_day > 0 else None
    return Supply(request["id"], name, dispensed, taken, remaining, per_day, days,
                  today + timedelta(days=days) if days is not None else None, estimated, dispenses[-1].get("id"))


def supplies(record: Record, *, now: datetime) -> list[Supply]:
    """What is left of each active medicine."""
    return [supply_of(record, r, now=now) for r in record.active]


def check_refills(conn: Connection, *, record: Record, patient_id: str, now: datetime,
                  days_before: int | None = None) -> list[str]:
    """Write a refill reminder (once per dispense) for each medicine running out within days_before days (default
    from data/supply.yaml); the MedicationRequest ids reminded of."""
    limit = settings()["refill"]["days_before"] if days_before is None else days_before
    due = []
    for found in supplies(record, now=now):
        if found.days_left is not None and found.days_left <= limit:
            enqueue(conn, kind=REFILL_JOB, payload={"patient": patient_id, "request": found.request_id},
                    key=f"medication:refill:{found.request_id}:{found.last_dispense}"[:200])
            due.append(found.request_id)
    return due


@handler(REFILL_JOB)
def remind_refill(conn: Connection, job: Job) -> None:
    """Tell the patient a medicine runs out soon, with the way to ask for a renewal."""
    patient_id, request_id = str(job.payload["patient"]), str(job.payload["request"])
    record = records.gather(conn, SYSTEM, patient_id=patient_id)
    request = next((r for r in record.active if r.get("id") == request_id), None)
    if request is None:
        return
    found = supply_of(record, request, now=clock.now())
    if found.days_left is None:
        return
    for account in accounts_of(conn, f"Patient/{patient_id}"):
        notify(conn, user_id=account.id, kind=REFILL.name, link="/app/medication",
               title_text=message(_("%(medicine)s is running out"), medicine=found.medicine),
               body_text=message(_("About %(days)s days left. Ask your doctor to renew the prescription."),
                                 days=found.days_left),
               data={"request": f"MedicationRequest/{request_id}", "days_left": found.days_left})


def request_renewal(conn: Connection, ctx: AccessContext, *, request_id: str, note: str | None = None) -> dict:
    """Ask the prescriber to renew an order, as the patient (or their caregiver): a Task to the prescriber, who is
    notified. An open request for the same order is returned instead of a second one."""
    if note is not None and len(note) > 500:
        raise MedicationProblem("note: at most 500 characters")
    try:
        request = records.read(conn, ctx, f"MedicationRequest/{request_id[:64]}")
    except FhirError as exc:
        raise MedicationProblem("There is no such prescription", status=404) from exc
    prescriber = (request.get("requester") or {}).get("reference", "")
    if not prescriber.startswith(("Practitioner/", "PractitionerRole/")):
        raise MedicationProblem("This prescription names no prescriber to ask", status=409)
    focus = f"MedicationRequest/{request['id']}"
    code = settings()["renewal"]
    open_tasks = [t for t in records.search(conn, ctx, "Task", [("focus", focus), ("code", f"{code['system']}|"
                                                                                              f"{code['code']}")])
                  if t.get("status") in OPEN_TASK]
    if open_tasks:
        return open_tasks[0]
    task = {
        "resourceType": "Task", "status": "requested", "intent": "order", "priority": "routine",
        "code": {"coding": [{"system": code["system"], "code": code["code"], "display": code["display"]}]},
        "description": f"Renew {schedule.medicine_name(request)}"[:300],
        "focus": {"reference": focus}, "for": request["subject"],
        "authoredOn": format_instant(clock.now()), "owner": {"reference": prescriber},
    }
    if (ctx.fhir_user or "").startswith(("Patient/", "RelatedPerson/")):
        task["requester"] = {"reference": ctx.fhir_user}
    if note:
        task["note"] = [{"text": note}]
    stored = records.create(conn, ctx, task)
    for account in accounts_of(conn, prescriber):
        notify(conn, user_id=account.id, kind=RENEWAL.name,
               link=f"/workstation/patients/{request['subject']['reference'].removeprefix('Patient/')}",
               title_text=message(_("Prescription renewal requested")),
               body_text=message(_("A patient asks you to renew %(medicine)s."),
                                 medicine=schedule.medicine_name(request)),
               data={"task": f"Task/{stored.get('id')}", "request": focus})
    return stored
