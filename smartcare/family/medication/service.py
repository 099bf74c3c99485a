"""What the medication page and API show of one patient: today's doses, as-needed medicines, supply, adherence,
warnings; and adding a self-reported medicine."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.family.medication import adherence, records, schedule, supply, warnings
from smartcare.family.medication.records import MedicationProblem
from smartcare.knowledge.drugs import default as formulary
from smartcare.knowledge.prescribing import verification
from smartcare.platform import clock
from smartcare.platform.clock import format_instant
from smartcare.platform.security.context import AccessContext

ATC = "http://www.whocc.no/atc"
MAX_MEDICINE = 100
MAX_DOSE_TEXT = 100


def _status(administration: dict[str, Any] | None) -> str:
    if administration is None:
        return "due"
    return "taken" if administration.get("status") == "completed" else "skipped"


def today(record: records.Record, *, now: datetime) -> list[dict[str, Any]]:
    """Today's scheduled doses (local day) with their state: taken, skipped, due, or missed (over an hour late)."""
    recorded = record.recorded()
    day = now.astimezone(record.tz).date()
    rows = []
    for dose in schedule.doses_on(record.active, day, record.tz):
        state = _status(recorded.get(dose.key))
        if state == "due" and dose.due < now - timedelta(hours=1):
            state = "missed"
        rows.append({"dose": dose.key, "request": dose.request_id, "medicine": dose.medicine, "time": dose.local_time,
                     "due": format_instant(dose.due), "amount": dose.amount, "food": dose.food, "phase": dose.phase,
                     "instruction": dose.instruction, "state": state})
    return rows


def as_needed_today(record: records.Record, *, now: datetime) -> list[dict[str, Any]]:
    """The as-needed medicines of today with their most doses a day."""
    day = now.astimezone(record.tz).date()
    return [{"request": a.request_id, "medicine": a.medicine, "amount": a.amount, "max_per_day": a.max_per_day,
             "reason": a.reason} for a in schedule.as_needed(record.active, day, record.tz)]


def supply_rows(record: records.Record, *, now: datetime) -> list[dict[str, Any]]:
    """Days left of each active medicine, with whether a refill is due."""
    limit = supply.settings()["refill"]["days_before"]
    return [{"request": s.request_id, "medicine": s.medicine, "remaining": s.remaining, "days_left": s.days_left,
             "runs_out": s.runs_out.isoformat() if s.runs_out else None, "estimated": s.estimated,
             "refill_due": s.days_left is not None and s.days_left <= limit}
            for s in supply.supplies(record, now=now)]


def adherence_view(record: records.Record, *, now: datetime) -> dict[str, Any]:
    """Adherence per medicine and per week, as the page, the chart and the API show it."""
    found = adherence.report(record.active, record.administrations, tz=record.tz, now=now)

    def tally(t: adherence.Tally) -> dict[str, Any]:
        return {"due": t.due, "taken": t.taken, "skipped": t.skipped, "missed": t.missed, "rate": t.rate}

    return {"from": format_instant(found.start), "to": format_instant(found.end), "overall": tally(found.overall),
            "medicines": [{"request": rid, "medicine": name, **tally(t)} for rid, name, t in found.medicines],
            "weeks": [{"week": week.isoformat(), **tally(t)} for week, t in found.weeks]}


def awaiting_check(record: records.Record) -> list[dict[str, Any]]:
    """Prescribed medicines that wait for the pharmacist's check: not in the schedule or reminders until checked."""
    return [{"request": r.get("id"), "medicine": schedule.medicine_name(r),
             "dosage": ((r.get("dosageInstruction") or [{}])[0]).get("text", "")}
            for r in record.requests if verification.awaiting_pharmacist(r)]


def overview(conn: Connection, ctx: AccessContext, *, patient_id: str, zh: bool = False) -> dict[str, Any]:
    """Everything the patient's medication page shows, read as ctx."""
    now = clock.now()
    record = records.gather(conn, ctx, patient_id=patient_id,
                            since=now - timedelta(weeks=adherence.WEEKS + 1))
    return {"patient": patient_id, "timezone": str(record.tz), "today": today(record, now=now),
            "as_needed": as_needed_today(record, now=now), "awaiting": awaiting_check(record),
            "supply": supply_rows(record, now=now),
            "adherence": adherence_view(record, now=now),
            "warnings": [warnings.shown(i, zh=zh) for i in warnings.current(conn, ctx, patient_id=patient_id)]}


def adherence_for(conn: Connection, ctx: AccessContext, *, patient_id: str) -> dict[str, Any]:
    """Adherence only (the doctor's view), read as ctx."""
    now = clock.now()
    record = records.gather(conn, ctx, patient_id=patient_id, since=now - timedelta(weeks=adherence.WEEKS + 1))
    return {"patient": patient_id, "timezone": str(record.tz), "adherence": adherence_view(record, now=now)}


def add_statement(conn: Connection, ctx: AccessContext, *, patient_id: str, medicine: str,
                  dose: str | None = None) -> tuple[dict[str, Any], list[warnings.Warning]]:
    """Record a medicine the patient says they take (a MedicationStatement) and the warnings it raises now."""
    name = (medicine or "").strip()
    if not 0 < len(name) <= MAX_MEDICINE or any(ord(c) < 32 for c in name):
        raise MedicationProblem(f"medicine: 1-{MAX_MEDICINE} characters")
    if dose is not None and (len(dose) > MAX_DOSE_TEXT or any(ord(c) < 32 for c in dose)):
        raise MedicationProblem(f"dose: at most {MAX_DOSE_TEXT} characters")
    drug = formulary().find(name)
    concept: dict[str, Any] = {"text": name}
    if drug is not None and drug.atc:
        concept["coding"] = [{"system": ATC, "code": drug.atc[0], "display": drug.name_en}]
    statement: dict[str, Any] = {
        "resourceType": "MedicationStatement", "status": "active", "medicationCodeableConcept": concept,
        "subject": {"reference": f"Patient/{patient_id}"}, "dateAsserted": format_instant(clock.now()),
    }
    if (ctx.fhir_user or "").startswith(("Patient/", "RelatedPerson/")):
        statement["informationSource"] = {"reference": ctx.fhir_user}
    if dose:
        statement["dosage"] = [{"text": dose.strip()}]
    patient_facts = warnings.read_facts(conn, ctx, patient_id=patient_id, today=clock.now().date())
    stored = records.create(conn, ctx, statement)
    return stored, warnings.for_new_medicine(patient_facts, stored, patient_id=patient_id)
