"""The alert workflow over time: evaluation after readings are stored, escalation, waking snoozed alerts, check-ins.

- "ReadingsStored" (published by the devices module after its commit) is judged at once in its own transaction;
  if that fails, a job retries it, so an acknowledged reading is never left unjudged.
- Each alert gets an escalation job at its acknowledgement deadline (jobs: enqueue with run_at, keyed per alert
  and step, so a job that runs twice escalates once). Still unacknowledged, it goes to the next person of its
  chain; after the last, an alert of the most severe kind (escalation.emergency_severities) goes to the emergency
  line: a Communication in the record and a notice to the configured emergency contact.
- A snoozed alert wakes at its time, back to its owner with a fresh deadline.
- Every 15 minutes plans with a silence rule (elderly living alone) are checked for people with no activity or
  reading for the rule's hours: that raises a check-in alert, deduplicated like any other.
"""

import logging
import os
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.family.monitoring import plans, rules, service, texts
from smartcare.fhir.http import FhirRequest
from smartcare.platform import clock, events
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import Job, enqueue, handler, periodic
from smartcare.platform.notifications import notify
from smartcare.platform.notifications.texts import message
from smartcare.platform.ops import metrics
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM

log = logging.getLogger(__name__)

READINGS_STORED = "ReadingsStored"
EVALUATE_JOB = "monitoring.evaluate"
ESCALATE_JOB = "monitoring.escalate"
WAKE_JOB = "monitoring.wake"
SILENCE_JOB = "monitoring.check_silence"
# The emergency contact's SmartCare account (a user id or username), told when the emergency line is called.
EMERGENCY_USER_ENV = "SMARTCARE_MONITORING_EMERGENCY_USER"
SILENCE_SWEEP = 500

periodic(SILENCE_JOB, kind=SILENCE_JOB, every_minutes=15)


def schedule_escalation(conn: Connection, task: dict[str, Any], *, step: int, final: bool = False) -> str:
    """Check the alert at its acknowledgement deadline, as the step-th person of its chain holds it (final: the
    whole chain was told at once, so the next step is the emergency line)."""
    due = clock.parse_instant(task["restriction"]["period"]["end"])
    return enqueue(conn, kind=ESCALATE_JOB, payload={"task": task["id"], "step": step, "final": final}, run_at=due,
                   key=f"monitoring:escalate:{task['id']}:{step}:{int(final)}:{task['restriction']['period']['end']}")


def schedule_wake(conn: Connection, task: dict[str, Any], until: datetime) -> str:
    """Wake a snoozed alert at until."""
    stamp = clock.format_instant(until)
    return enqueue(conn, kind=WAKE_JOB, payload={"task": task["id"], "until": stamp}, run_at=until,
                   key=f"monitoring:wake:{task['id']}:{stamp}")


def _chain(task: dict[str, Any]) -> list[str]:
    return [r["reference"] for r in (task.get("restriction") or {}).get("recipient", []) if r.get("reference")]


def _task(conn: Connection, task_id: str) -> dict[str, Any] | None:
    found = plans.search(conn, "Task", [("_id", task_id)])
    return found[0] if found else None


def escalate(conn: Connection, task_id: str, step: int, *, final: bool = False) -> str:
    """Move an unacknowledged alert on from the step-th person of its chain; what was done ("next", "emergency",
    or "none" when it was acknowledged, snoozed, closed or has moved on already)."""
    task = _task(conn, task_id)
    if task is None or task.get("status") != "requested":
        return "none"
    chain = _chain(task)
    owner = (task.get("owner") or {}).get("reference")
    if chain and (step >= len(chain) or chain[step] != owner):
        return "none"
    now = clock.now()
    stamp = clock.format_instant(now)
    severity = task.get("priority", "routine")
    if step + 1 < len(chain) and not final:
        successor = chain[step + 1]
        updated = {**task, "owner": {"reference": successor}, "businessStatus": {"text": service.ESCALATED},
                   "lastModified": stamp,
                   "restriction": {**task["restriction"], "period": {
                       "end": clock.format_instant(now + service.acknowledge_within(severity))}},
                   "note": [*task.get("note", []), {"text": f"Not acknowledged by {owner}; escalated to {successor}.",
                                                    "time": stamp}]}
        saved = service.put_alert(conn, updated, SYSTEM)
        service.tell(conn, saved, [successor], title=texts.ESCALATED_TITLE)
        schedule_escalation(conn, saved, step=step + 1)
        return "next"
    escalation = rules.catalogue()["escalation"]
    if severity not in escalation["emergency_severities"] or \
            (task.get("businessStatus") or {}).get("text") == service.EMERGENCY:
        return "none"
    call_emergency_line(conn, task, now)
    return "emergency"


def call_emergency_line(conn: Connection, task: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Hand an unanswered alert to the emergency line: a Communication in the patient's record, a notice to the
    configured emergency contact, and the alert marked so."""
    stamp = clock.format_instant(now)
    line = rules.catalogue()["escalation"]["emergency_line"]
    patient = task["for"]["reference"]
    text = f"Emergency line {line}: unacknowledged home monitoring alert - {task.get('description', '')}"[:1000]
    communication = plans.serve(conn, FhirRequest(method="POST", path="Communication", body={
        "resourceType": "Communication", "status": "completed", "priority": "stat",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/communication-category",
                                  "code": "alert"}]}],
        "subject": {"reference": patient}, "about": [{"reference": f"Task/{task['id']}"}],
        "medium": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode",
                                "code": "PHONE"}]}],
        "sent": stamp, "payload": [{"contentString": text}],
    }))
    contact = _emergency_contact(conn)
    if contact is not None:
        user_id, _locale = contact
        reading = str((service.inputs(task).get("reading") or {}).get("valueString", ""))
        notify(conn, user_id=user_id, kind=service.ALERT_KIND.name, title_text=message(texts.EMERGENCY_TITLE),
               body_text=texts.alert_message(patient=service.patient_name(conn, patient),
                                             rule_id=service.rule_of(task) or "", label="", detail=reading,
                                             severity=task.get("priority", "stat")),
               link=f"/workstation/monitoring/alerts/{task['id']}",
               data={"task": f"Task/{task['id']}", "communication": f"Communication/{communication['id']}",
                     "line": line})
    updated = {**task, "businessStatus": {"text": service.EMERGENCY}, "lastModified": stamp,
               "note": [*task.get("note", []), {"text": f"Nobody acknowledged; emergency line {line} called.",
                                                "time": stamp}]}
    return service.put_alert(conn, updated, SYSTEM)


def _emergency_contact(conn: Connection) -> tuple[str, str] | None:
    wanted = os.environ.get(EMERGENCY_USER_ENV, "").strip()
    if not wanted:
        return None
    user = users.get_by_username(conn, username=wanted)
    if user is None:
        try:
            user = users.get_user(conn, user_id=wanted)
        except users.UserNotFound:
            user = None
    if user is not None:
        return user.id, user.locale
    log.error("the emergency contact %s=%r is no SmartCare account", EMERGENCY_USER_ENV, wanted[:64])
    return None


def wake(conn: Connection, task_id: str, until: str) -> bool:
    """Wake an alert snoozed until `until`: back to requested with a fresh deadline, its owner told again."""
    task = _task(conn, task_id)
    if task is None or task.get("status") != "on-hold" or \
            (service.inputs(task).get("snoozed-until") or {}).get("valueDateTime") != until:
        return False
    now = clock.now()
    stamp = clock.format_instant(now)
    updated = {**task, "status": "requested", "businessStatus": {"text": "woken"}, "lastModified": stamp,
               "restriction": {**task.get("restriction", {}), "period": {
                   "end": clock.format_instant(now + service.acknowledge_within(task.get("priority", "routine")))}},
               "note": [*task.get("note", []), {"text": "Snooze ended.", "time": stamp}]}
    updated.pop("statusReason", None)
    saved = service.put_alert(conn, updated, SYSTEM)
    owner = (saved.get("owner") or {}).get("reference")
    if owner:
        service.tell(conn, saved, [owner], title=texts.ALERT_TITLE)
    chain = _chain(saved)
    schedule_escalation(conn, saved, step=chain.index(owner) if owner in chain else 0)
    return True


def check_silence(conn: Connection) -> int:
    """Raise a check-in alert for every plan whose silence rule has gone unanswered; how many were raised."""
    now = clock.now()
    found = plans.search(conn, "CarePlan", [
        ("status", "active"), ("category", f"{plans.PLAN_CATEGORY['system']}|{plans.PLAN_CATEGORY['code']}"),
        ("_count", str(SILENCE_SWEEP))])
    raised = 0
    for plan in found:
        for rule in (r for r in plans.rules_of(plan) if r["type"] == "silence"):
            patient = plan["subject"]["reference"]
            last = _last_reading(conn, patient, rule["readings"])
            since = clock.parse_instant(plan["period"]["start"]) if plan.get("period", {}).get("start") else now
            if not rules.silent(rule, last, since, now):
                continue
            reading = rules.Reading("silence", now, {"hours": float(rule["hours"])}, ref=None)
            finding = rules.Finding(rule["id"], rule["severity"], f"no reading for {rule['hours']} h", reading)
            if not any(service.rule_of(t) == rule["id"] for t in service.open_alerts(conn, patient)):
                raised += 1
            service.raise_alert(conn, plan=plan, rule=rule, finding=finding, patient=patient)
    return raised


def _last_reading(conn: Connection, patient: str, kinds: list[str]) -> datetime | None:
    spec = rules.catalogue()["readings"]
    codes = ",".join(f"{spec[k].get('system', plans.LOINC)}|{spec[k]['code']}" for k in kinds if k in spec)
    found = plans.search(conn, "Observation", [("patient", patient), ("code", codes), ("_sort", "-date"),
                                               ("_count", "1")])
    readings = [service.reading_of(o) for o in found]
    return readings[0].at if readings and readings[0] is not None else None


def on_readings_stored(event: events.DomainEvent) -> None:
    """Judge the readings of a stored frame; when that fails, leave a job to judge them again.

    Frames come by the thousand a second: a frame of kinds no kept plan of the patient has a rule about costs no
    database work, and the device pipeline hands over the stored Observations so a normal reading needs no read.
    """
    payload = {"patient": str(event.payload.get("patient", ""))[:80],
               "observations": [str(o)[:80] for o in event.payload.get("observations", [])][:200]}
    if not payload["patient"].startswith("Patient/") or not payload["observations"]:
        return
    kinds = {str(k) for k in event.payload.get("kinds") or []}
    kept = plans.kept_plans(payload["patient"])
    if kept is not None and kinds and not kinds & {r.get("reading") for p in kept for r in plans.rules_of(p)}:
        return
    resources = event.payload.get("resources")
    try:
        with unit_of_work() as conn:
            alerts = service.evaluate_readings(conn, **payload,
                                               resources=resources if isinstance(resources, list) else None)
        _note_alert_latency(event.payload.get("received"), alerts)
    except Exception:  # the readings are stored; their judgement must still happen, so a job takes it over
        log.exception("judging the readings of %s failed; a job will retry", payload["patient"])
        with unit_of_work() as conn:
            enqueue(conn, kind=EVALUATE_JOB, payload=payload)


def _note_alert_latency(received: object, alerts: list[dict[str, Any]]) -> None:
    """Count, for Prometheus, the time from the readings' arrival to the alerts they raised (committed by now)."""
    if not alerts or not isinstance(received, str):
        return
    try:
        arrived = clock.parse_instant(received)
    except ValueError:
        return
    metrics.observe_alert_latency((clock.now() - arrived).total_seconds())


@handler(EVALUATE_JOB)
def evaluate_job(conn: Connection, job: Job) -> None:
    """Judge readings whose judgement failed when they were stored."""
    service.evaluate_readings(conn, patient=job.payload["patient"], observations=job.payload["observations"])


@handler(ESCALATE_JOB)
def escalate_job(conn: Connection, job: Job) -> None:
    """Escalate an alert nobody acknowledged by its deadline."""
    escalate(conn, job.payload["task"], int(job.payload["step"]), final=bool(job.payload.get("final")))


@handler(WAKE_JOB)
def wake_job(conn: Connection, job: Job) -> None:
    """Wake a snoozed alert."""
    wake(conn, job.payload["task"], job.payload["until"])


@handler(SILENCE_JOB)
def silence_job(conn: Connection, _job: Job) -> None:
    """Check the people living alone for silence."""
    check_silence(conn)


_installed: list[bool] = []


def install() -> None:
    """Judge readings when they are stored (once per process)."""
    if not _installed:
        events.subscribe(READINGS_STORED, on_readings_stored)
        _installed.append(True)


install()
