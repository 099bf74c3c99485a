"""Dose reminders as jobs, snooze, the caregiver's copy, doses marked taken or skipped, and pill box openings.

Reminders for the next 48 hours are written as jobs keyed by dose (so planning twice writes each once); a daily job
re-plans every patient and a changed order re-plans its patient. Each reminder reads the order again when it runs
and says nothing when the order stopped, the dose left the schedule, or the dose was already recorded.
A confirmed or skipped dose is a FHIR MedicationAdministration named by the dose (identifier), written as the
patient, or as the platform from a pill box opening near a dose time.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.family.medication import records, schedule, supply, warnings
from smartcare.family.medication.records import MedicationProblem, Record, accounts_of
from smartcare.fhir.errors import FhirError
from smartcare.platform import clock, events
from smartcare.platform.clock import format_instant
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import Job, enqueue, handler, periodic
from smartcare.platform.notifications import notification_kind, notify
from smartcare.platform.notifications.texts import message
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.settings import get_settings

PLAN_ALL_JOB = "medication.plan_all"
PLAN_JOB = "medication.plan"
REMIND_JOB = "medication.remind"
PILLBOX_JOB = "medication.pillbox"
HORIZON = timedelta(hours=48)
SNOOZE_MINUTES = (5, 10, 15, 30, 60, 120)
MAX_REASON = 200
CAREGIVER_COPY = "https://smartcare.example/fhir/StructureDefinition/medication-reminder-copy"
SKIP_REASONS = "https://smartcare.example/fhir/CodeSystem/dose-skipped"
DEVICE_EVENT = "https://smartcare.example/fhir/CodeSystem/device-event"
PILLBOX_OPEN = "pillbox-open"
SKIP_REASON_CODES = ("side-effects", "felt-well", "ran-out", "forgot", "other")


def _(message: str) -> str:
    """Mark a message for the catalog; it is translated where it is shown."""
    return message


DOSE_DUE = notification_kind("medication.reminder", label=_("Medicine reminders"), default_channels=("sms",),
                             private_body=True)
CAREGIVER = notification_kind("medication.caregiver", label=_("Medicine reminders for people I look after"),
                              default_channels=("sms",), private_body=True)
FOOD = {"before-meal": _("Take before the meal."), "after-meal": _("Take after the meal."),
        "with-meal": _("Take with the meal."), "bedtime": _("Take at bedtime."),
        "empty-stomach": _("Take on an empty stomach.")}

periodic(PLAN_ALL_JOB, kind=PLAN_ALL_JOB, daily_at="00:15", tz=get_settings().region_timezone)


def plan_patient(conn: Connection, *, patient_id: str, now: datetime | None = None) -> int:
    """Write a reminder job for each dose of the patient due in the next 48 hours; returns how many doses."""
    now = now or clock.now()
    record = records.gather(conn, SYSTEM, patient_id=patient_id, since=now - timedelta(days=1))
    recorded = record.recorded()
    doses = [d for d in schedule.doses_between(record.active, now, now + HORIZON, record.tz) if d.key not in recorded]
    for dose in doses:
        enqueue(conn, kind=REMIND_JOB, payload={"patient": patient_id, "dose": dose.key}, run_at=dose.due,
                key=f"medication:remind:{dose.key}"[:200])
    supply.check_refills(conn, record=record, patient_id=patient_id, now=now)
    return len(doses)


@handler(PLAN_ALL_JOB)
def plan_everyone(conn: Connection, _job: Job) -> None:
    """Daily: one planning job per patient with an active order (each patient planned in its own transaction)."""
    requests = records.search(conn, SYSTEM, "MedicationRequest", [("status", "active"), ("_elements", "subject")])
    patients = sorted({(r.get("subject") or {}).get("reference", "").removeprefix("Patient/") for r in requests})
    day = clock.now().date().isoformat()
    for patient_id in filter(None, patients):
        enqueue(conn, kind=PLAN_JOB, payload={"patient": patient_id}, key=f"medication:plan:{patient_id}:{day}")


@handler(PLAN_JOB)
def plan_one(conn: Connection, job: Job) -> None:
    """Plan one patient's reminders (after a change of order, or the daily run)."""
    patient_id = job.payload.get("patient")
    if not patient_id and job.payload.get("request"):
        request = records.read(conn, SYSTEM, f"MedicationRequest/{job.payload['request']}")
        patient_id = (request.get("subject") or {}).get("reference", "").removeprefix("Patient/")
    if patient_id:
        plan_patient(conn, patient_id=patient_id)
    if job.payload.get("patient"):
        # The daily run also re-checks the medicines against conditions that changed without a trigger of their
        # own (a pregnancy status or eGFR Observation).
        warnings.review(conn, patient_id=patient_id, trigger=f"Patient/{patient_id}")


def _scheduled(record: Record, request_id: str, due: datetime) -> schedule.Dose | None:
    around = schedule.doses_between([r for r in record.active if r.get("id") == request_id],
                                    due - timedelta(minutes=1), due + timedelta(minutes=1), record.tz)
    return next((d for d in around if d.due == due), None)


def _message(dose: schedule.Dose) -> dict[str, Any]:
    """What a reminder says of a dose, as a message read in each reader's language (with what to take it with)."""
    values = {"medicine": dose.medicine, "amount": dose.amount, "time": dose.local_time}
    if dose.food:
        return message(_("%(medicine)s %(amount)s at %(time)s. %(food)s"), **values, food=message(FOOD[dose.food]))
    return message(_("%(medicine)s %(amount)s at %(time)s."), **values)


def _caregivers(conn: Connection, patient_id: str) -> list[str]:
    """RelatedPersons designated to get a copy of the patient's medicine reminders."""
    people = records.search(conn, SYSTEM, "RelatedPerson", [("patient", f"Patient/{patient_id}")])
    return [f"RelatedPerson/{p['id']}" for p in people if p.get("active", True) and any(
        e.get("url") == CAREGIVER_COPY and e.get("valueBoolean") for e in p.get("extension", []))]


@handler(REMIND_JOB)
def remind(conn: Connection, job: Job) -> None:
    """Remind the patient of a dose due now (and their designated caregivers), unless it no longer applies."""
    patient_id, key = str(job.payload["patient"]), str(job.payload["dose"])
    request_id, due = schedule.parse_dose_key(key)
    record = records.gather(conn, SYSTEM, patient_id=patient_id, since=due - timedelta(days=1))
    dose = _scheduled(record, request_id, due)
    if dose is None or key in record.recorded():
        return
    data = {"dose": key, "request": f"MedicationRequest/{request_id}", "actions": ["taken", "skip", "snooze"]}
    body = _message(dose)
    for account in accounts_of(conn, f"Patient/{patient_id}"):
        notify(conn, user_id=account.id, kind=DOSE_DUE.name, title_text=message(_("Time for your medicine")),
               body_text=body, link="/app/medication", data=data)
    if job.payload.get("snoozed"):
        return
    name = (record.patient.get("name") or [{}])[0]
    who = name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip() or patient_id
    for caregiver in _caregivers(conn, patient_id):
        for account in accounts_of(conn, caregiver):
            notify(conn, user_id=account.id, kind=CAREGIVER.name, link=f"/app/medication?patient={patient_id}",
                   title_text=message(_("Medicine due for %(name)s"), name=who), body_text=body, data=data)


def snooze(conn: Connection, ctx: AccessContext, *, dose_key: str, minutes: int) -> datetime:
    """Remind again in `minutes` of a dose the caller may see; when the new reminder is due."""
    if minutes not in SNOOZE_MINUTES:
        raise MedicationProblem(f"minutes: one of {', '.join(map(str, SNOOZE_MINUTES))}")
    patient_id, dose = _dose_for(conn, ctx, dose_key)
    run_at = clock.now() + timedelta(minutes=minutes)
    enqueue(conn, kind=REMIND_JOB, payload={"patient": patient_id, "dose": dose.key, "snoozed": True},
            run_at=run_at, key=f"medication:snooze:{dose.key}:{format_instant(run_at)}"[:200])
    return run_at


def _dose_for(conn: Connection, ctx: AccessContext, dose_key: str) -> tuple[str, schedule.Dose]:
    """The patient and scheduled dose named by dose_key, read as ctx; MedicationProblem 404 when it is not one
    (or the caller may not see it: the same answer, so a stranger learns nothing)."""
    try:
        request_id, due = schedule.parse_dose_key(dose_key)
    except schedule.ScheduleError as exc:
        raise MedicationProblem(str(exc)) from exc
    try:
        request = records.read(conn, ctx, f"MedicationRequest/{request_id}")
    except FhirError as exc:
        raise MedicationProblem("There is no such dose", status=404) from exc
    patient_id = (request.get("subject") or {}).get("reference", "").removeprefix("Patient/")
    tz = schedule.patient_zone(records.read(conn, ctx, f"Patient/{patient_id}"), get_settings().region_timezone)
    dose = _scheduled(Record(patient={}, tz=tz, requests=[request]), request_id, due)
    if dose is None:
        raise MedicationProblem("There is no such dose", status=404)
    return patient_id, dose


def _existing(conn: Connection, ctx: AccessContext, key: str) -> dict[str, Any] | None:
    found = records.search(conn, ctx, "MedicationAdministration", [("identifier", f"{schedule.DOSE_SYSTEM}|{key}")])
    return found[0] if found else None


def _administration(request: dict[str, Any], dose: schedule.Dose, *, taken: bool, when: datetime,
                    performer: str | None, reason: str | None, note: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration", "status": "completed" if taken else "not-done",
        "identifier": [{"system": schedule.DOSE_SYSTEM, "value": dose.key}],
        "medicationCodeableConcept": request.get("medicationCodeableConcept") or {"text": dose.medicine},
        "subject": request["subject"], "request": {"reference": f"MedicationRequest/{request['id']}"},
        "effectiveDateTime": format_instant(when),
        "dosage": {"text": f"{dose.amount} {dose.local_time}".strip()},
    }
    if performer:
        resource["performer"] = [{"actor": {"reference": performer}}]
    if not taken:
        code = reason if reason in SKIP_REASON_CODES else "other"
        resource["statusReason"] = [{"coding": [{"system": SKIP_REASONS, "code": code}], "text": code}]
    if note:
        resource["note"] = [{"text": note[:MAX_REASON]}]
    return resource


def record_intake(conn: Connection, ctx: AccessContext, *, dose_key: str, taken: bool, reason: str | None = None,
                  note: str | None = None, when: datetime | None = None) -> dict[str, Any]:
    """Mark a dose taken or skipped as the caller (the patient, or a caregiver acting for them); recording it again
    changes the earlier record. Returns the MedicationAdministration."""
    if reason is not None and reason not in SKIP_REASON_CODES:
        raise MedicationProblem(f"reason: one of {', '.join(SKIP_REASON_CODES)}")
    if note is not None and len(note) > MAX_REASON:
        raise MedicationProblem(f"note: at most {MAX_REASON} characters")
    _patient_id, dose = _dose_for(conn, ctx, dose_key)
    request = records.read(conn, ctx, f"MedicationRequest/{dose.request_id}")
    performer = ctx.fhir_user if (ctx.fhir_user or "").startswith(("Patient/", "RelatedPerson/")) else None
    resource = _administration(request, dose, taken=taken, when=when or clock.now(), performer=performer,
                               reason=reason, note=note)
    existing = _existing(conn, ctx, dose.key)
    if existing is None:
        return records.create(conn, ctx, resource)
    return records.update(conn, ctx, {**resource, "id": existing["id"]})


def _pillbox_opening(observation: dict[str, Any]) -> bool:
    return observation.get("status") in ("final", "amended") and any(
        c.get("system") == DEVICE_EVENT and c.get("code") == PILLBOX_OPEN
        for c in (observation.get("code") or {}).get("coding", []))


def confirm_from_pillbox(conn: Connection, *, observation: dict[str, Any]) -> list[str]:
    """Confirm the doses whose time is nearest a pill box opening, when it falls in the confirmation window; the
    dose keys confirmed."""
    if not _pillbox_opening(observation):
        return []
    patient_id = (observation.get("subject") or {}).get("reference", "").removeprefix("Patient/")
    opened = datetime.fromisoformat(str(observation.get("effectiveDateTime", "")).replace("Z", "+00:00"))
    window = schedule.dose_times()["confirmation"]
    before, after = timedelta(minutes=window["pillbox_before_minutes"]), timedelta(minutes=window[
        "pillbox_after_minutes"])
    record = records.gather(conn, SYSTEM, patient_id=patient_id, since=opened - timedelta(days=1))
    recorded = record.recorded()
    near = [d for d in schedule.doses_between(record.active, opened - after, opened + before + timedelta(seconds=1),
                                              record.tz) if d.key not in recorded]
    if not near:
        return []
    nearest = min(near, key=lambda d: abs(d.due - opened)).due
    by_id = {r["id"]: r for r in record.active}
    confirmed = []
    for dose in (d for d in near if d.due == nearest):
        resource = _administration(by_id[dose.request_id], dose, taken=True, when=opened,
                                   performer=(observation.get("device") or {}).get("reference"),
                                   reason=None, note=None)
        resource["device"] = [observation["device"]] if observation.get("device") else []
        resource["supportingInformation"] = [{"reference": f"Observation/{observation['id']}"}]
        records.create(conn, SYSTEM, resource)
        confirmed.append(dose.key)
    return confirmed


@handler(PILLBOX_JOB)
def pillbox_opened(conn: Connection, job: Job) -> None:
    """Confirm doses from the pill box openings of one stored frame."""
    for reference in job.payload.get("observations", []):
        observation = records.read(conn, SYSTEM, str(reference))
        confirm_from_pillbox(conn, observation=observation)


def _on_readings(event: events.DomainEvent) -> None:
    """After a device frame is stored: a job to confirm doses from its pill box openings."""
    if PILLBOX_OPEN not in (event.payload.get("kinds") or []):
        return
    observations = [str(o) for o in event.payload.get("observations", [])][:100]
    if not observations:
        return
    with unit_of_work() as conn:
        enqueue(conn, kind=PILLBOX_JOB, payload={"observations": observations},
                key=f"medication:pillbox:{observations[0]}"[:200])


def _on_write(event: events.DomainEvent) -> None:
    """After a write that can change a patient's schedule or warnings: jobs to re-plan and to review (one
    transaction for both; other types return at once, as device readings come by the thousand). A condition,
    allergy or report of a patient who takes no medicine is not reviewed: there is nothing to warn of, and a
    medicine added later is checked against the whole record then."""
    res_type = event.payload.get("type")
    if res_type not in warnings.TRIGGERS:
        return
    res_id, version = str(event.payload.get("id")), event.payload.get("version")
    with unit_of_work() as conn:
        if res_type not in warnings.NEW_MEDICINE and not warnings.concerns_medicines(conn, res_type=res_type,
                                                                                      res_id=res_id):
            return
        warnings.enqueue_review(conn, trigger=f"{res_type}/{res_id}", version=version)
        if res_type == "MedicationRequest":
            enqueue(conn, kind=PLAN_JOB, payload={"request": res_id},
                    key=f"medication:plan:request:{res_id}:{version}"[:200])


events.subscribe("ReadingsStored", _on_readings)
events.subscribe("ResourceCreated", _on_write)
events.subscribe("ResourceUpdated", _on_write)
