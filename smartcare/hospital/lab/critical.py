"""Critical values: the ordering doctor is told on release, acknowledges with a read-back, or it is escalated.

The loop is kept as a FHIR Task per critical result (code CRITICAL in TASK_SYSTEM), chosen over Communication
because it has the states the loop needs and a policy the laboratory already works under: the releaser creates it
`requested` (focus the Observation, basedOn the order, `owner` and `restriction.recipient` the ordering doctor,
`restriction.period.end` the deadline, `input` the value, flag and test as released); the doctor completes it
by typing the value back (`output` read-back, `executionPeriod.end`); if the deadline passes, the escalation job
re-owns it to the head of the doctor's department (`businessStatus` escalated, a note saying why). Every
version stays in the FHIR history and every read and write in the audit trail, so the whole loop can be shown
afterwards. Each notice is in its recipient's language (critical_texts.py) and names patient, test, value, flag.

The deadline is ACKNOWLEDGE_WITHIN (15 minutes). CLSI GP47 (Management of critical- and significant-risk results,
2015) leaves the time to each laboratory's policy; 15 minutes is a common hospital choice and is set here.
Department heads and release rights are directory facts: an active PractitionerRole coded DUTY_SYSTEM
`department-head` (its organization is the department) or `lab-release`.
"""

import re
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import gateway
from smartcare.fhir.audit_trail import record_served
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.hospital.lab import critical_texts
from smartcare.hospital.lab.accession import LabRefused, checked_id
from smartcare.hospital.lab.results import loinc_of
from smartcare.platform import clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications import notification_kind, notify
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import AccessDenied, decide
from smartcare.platform.security.tables import user_account
from smartcare.platform.web import fhir_text

LOCAL = "https://smartcare.example/fhir/"
TASK_SYSTEM = LOCAL + "CodeSystem/lab-task"
CRITICAL = "critical-value"
DUTY_SYSTEM = LOCAL + "CodeSystem/staff-duty"
HEAD, RELEASE = "department-head", "lab-release"
ACKNOWLEDGE_WITHIN = timedelta(minutes=15)
ESCALATED, ACKNOWLEDGED = "escalated", "acknowledged"
MAX_READ_BACK = 60
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
SWEEP_LIMIT = 200


def _(message: str) -> str:
    """Mark a label for the catalog; it is translated where it is shown."""
    return message


# The notices name the patient and the value: by SMS only the title and the link go (private_body).
CRITICAL_VALUE = notification_kind("lab.critical", label=_("Critical laboratory results"), default_channels=("sms",),
                                   private_body=True)
CORRECTED = notification_kind("lab.corrected", label=_("Corrected laboratory reports"), private_body=True)


def value_text(observation: dict[str, Any]) -> str:
    """The result as the doctor reads it: value and unit."""
    quantity = observation.get("valueQuantity") or {}
    value = quantity.get("value")
    text = f"{value:g}" if isinstance(value, int | float) else str(observation.get("valueString", ""))
    return f"{text} {quantity.get('unit', '')}".strip()


def task_for(observation: dict[str, Any], request: dict[str, Any], *, releaser: str | None, flag: str,
             now: datetime, within: timedelta = ACKNOWLEDGE_WITHIN) -> dict[str, Any]:
    """The Task that asks the ordering doctor to acknowledge one critical result by a deadline."""
    doctor = (request.get("requester") or {}).get("reference")
    name = (observation.get("code") or {}).get("text", loinc_of(observation) or "")
    task: dict[str, Any] = {
        "resourceType": "Task", "status": "requested", "intent": "order", "priority": "stat",
        "code": {"coding": [{"system": TASK_SYSTEM, "code": CRITICAL, "display": "Critical value"}]},
        "description": f"{name}: {value_text(observation)} ({flag})"[:300],
        "focus": {"reference": f"Observation/{observation['id']}"}, "for": observation["subject"],
        "basedOn": [{"reference": f"ServiceRequest/{request['id']}"}],
        "authoredOn": clock.format_instant(now), "lastModified": clock.format_instant(now),
        "restriction": {"period": {"end": clock.format_instant(now + within)}},
        "input": [{"type": {"text": "value"}, "valueString": value_text(observation)},
                  {"type": {"text": "flag"}, "valueString": flag},
                  {"type": {"text": "test"}, "valueCodeableConcept": observation.get("code") or {"text": name}}],
    }
    if doctor:
        task["owner"] = {"reference": doctor}
        task["restriction"]["recipient"] = [{"reference": doctor}]
    if releaser:
        task["requester"] = {"reference": releaser}
    return task


def accounts_of(conn: Connection, reference: str | None) -> list[tuple[str, str]]:
    """The user accounts (id, locale) linked to a Practitioner reference."""
    if not reference:
        return []
    rows = conn.execute(sa.select(user_account.c.id, user_account.c.locale).where(user_account.c.fhir_ref == reference))
    return [(row.id, row.locale) for row in rows]


def released(task: dict[str, Any]) -> dict[str, Any]:
    """What the laboratory released, as the Task keeps it: the test's code, the value with its unit, the flag."""
    given = {(i.get("type") or {}).get("text"): i for i in task.get("input", [])}
    # Tasks opened before the test was kept in input name it only in the description ("Potassium: 7 mmol/L").
    code = (given.get("test") or {}).get("valueCodeableConcept") or {
        "text": str(task.get("description", "")).split(":")[0]}
    return {"code": code, "value": str((given.get("value") or {}).get("valueString", "")),
            "flag": str((given.get("flag") or {}).get("valueString", ""))}


def result_facts(task: dict[str, Any], *, patient: str, locale: str) -> dict[str, str]:
    """The patient, test (in the reader's language), value and flag of a critical-value Task, as notices say."""
    kept = released(task)
    test = critical_texts.test_name(kept["code"], locale)
    return {"patient": patient, "test": test, "value": kept["value"], "flag": kept["flag"]}


def name_of(conn: Connection, reference: str | None) -> str:
    """The name of the Patient or Practitioner a notice is about, read as the platform (audited), else ''."""
    if not reference or reference.count("/") != 1:
        return ""
    try:
        found = _serve(conn, FhirRequest(method="GET", path=reference))
    except FhirError:
        return ""
    return fhir_text.person_name(found) if found.get("resourceType") == reference.split("/")[0] else ""


def correction_text(locale: str, *, patient: str, report: dict[str, Any], reason: str) -> str:
    """The notice of a corrected report in the reader's language: patient, report, the reason as typed."""
    return critical_texts.corrected_body(locale, patient=patient, reason=reason,
                                         report=critical_texts.test_name(report.get("code"), locale))


def _patient_name(conn: Connection, task: dict[str, Any]) -> str:
    reference = str((task.get("for") or {}).get("reference", ""))
    return name_of(conn, reference) or reference


def _minutes_given(task: dict[str, Any]) -> int:
    end = ((task.get("restriction") or {}).get("period") or {}).get("end")
    start = task.get("authoredOn")
    if not end or not start:
        return int(ACKNOWLEDGE_WITHIN.total_seconds() // 60)
    return max(1, round((clock.parse_instant(end) - clock.parse_instant(start)).total_seconds() / 60))


def _link(task: dict[str, Any]) -> str:
    return f"/workstation/lab/critical/{task['id']}"


def tell_doctor(task: dict[str, Any]) -> None:
    """Notify the task's owner of the critical result in their language, linking to the acknowledgement page.

    The notice names the patient, test, value and flag (the workstation's live alert shows them; data keeps
    them apart as well), and its link names the Task.
    """
    with unit_of_work() as conn:
        accounts = accounts_of(conn, (task.get("owner") or {}).get("reference"))
        patient = _patient_name(conn, task) if accounts else ""
        for user_id, locale in accounts:
            result = result_facts(task, patient=patient, locale=locale)
            notify(conn, user_id=user_id, kind=CRITICAL_VALUE.name,
                   title=i18n.translations(locale).gettext(_("Critical laboratory result")),
                   body=critical_texts.critical_body(locale, minutes=_minutes_given(task), **result)[:2000],
                   link=_link(task), data={"task": f"Task/{task['id']}", **result})


def read_task(ctx: AccessContext, task_id: str) -> dict[str, Any]:
    """One critical-value Task; LabRefused (404) for anything else."""
    task = gateway.read(ctx, f"Task/{checked_id(task_id, 'critical value')}")
    if not any(c.get("system") == TASK_SYSTEM and c.get("code") == CRITICAL
               for c in (task.get("code") or {}).get("coding", [])):
        raise LabRefused("no such critical value", status=404)
    return task


def read_back_matches(typed: str, expected: dict[str, Any]) -> bool:
    """True when the typed read-back states the released number (a unit, if typed, must be the result's)."""
    numbers = _NUMBER.findall(typed)
    value = (expected.get("valueQuantity") or {}).get("value")
    if len(numbers) != 1 or not isinstance(value, int | float):
        return False
    if abs(float(numbers[0]) - float(value)) > 1e-9 * max(1.0, abs(float(value))):
        return False
    rest = _NUMBER.sub("", typed, count=1).strip().casefold()
    unit = str((expected.get("valueQuantity") or {}).get("unit", "")).casefold()
    return not rest or rest == unit


def acknowledge(ctx: AccessContext, *, task_id: str, read_back: str) -> dict[str, Any]:
    """The doctor acknowledges a critical result by typing it back; it must match what the laboratory released."""
    read_back = (read_back or "").strip()
    if not read_back or len(read_back) > MAX_READ_BACK:
        raise LabRefused(f"type the value back (at most {MAX_READ_BACK} characters)")
    task = read_task(ctx, task_id)
    if task.get("status") != "requested":
        raise LabRefused("this critical value was already acknowledged", status=409)
    recipients = {r.get("reference") for r in (task.get("restriction") or {}).get("recipient", [])}
    if not ctx.fhir_user or ctx.fhir_user not in recipients:
        raise LabRefused("this critical value is for the ordering doctor or their department head", status=403)
    observation = gateway.read(ctx, task["focus"]["reference"])
    if not read_back_matches(read_back, observation):
        raise LabRefused("the value read back does not match the result; read it again")
    now = clock.format_instant(clock.now())
    done = {**task, "status": "completed", "businessStatus": {"text": ACKNOWLEDGED}, "lastModified": now,
            "owner": {"reference": ctx.fhir_user}, "executionPeriod": {"start": task.get("authoredOn", now), "end": now},
            "output": [{"type": {"text": "read-back"}, "valueString": read_back}]}
    version = (task.get("meta") or {}).get("versionId")
    request = FhirRequest(method="PUT", path=f"Task/{task['id']}", body=done,
                          headers={"if-match": f'W/"{version}"'} if version else {})
    return gateway.serve(ctx, request).body or {}


def may_follow(ctx: AccessContext) -> bool:
    """True when the policy lets ctx search critical-value Tasks at all (a radiologist's work needs none)."""
    try:
        decide(ctx, "search", "Task", personal=True)
    except AccessDenied:
        return False
    return True


def open_for(ctx: AccessContext, *, owner: str | None = None) -> list[dict[str, Any]]:
    """Critical values waiting for acknowledgement that ctx may see (only owner's, when given), oldest first."""
    params = [("code", f"{TASK_SYSTEM}|{CRITICAL}"), ("status", "requested"), ("_sort", "authored-on"),
              ("_count", "100")]
    if owner:
        params.append(("owner", owner))
    return gateway.search(ctx, "Task", params)


def _serve(conn: Connection, freq: FhirRequest) -> dict[str, Any]:
    """A FHIR interaction as the platform inside the job's own transaction, audited like the gateway's."""
    response = dispatch(conn, SYSTEM, freq)
    record_served(conn, SYSTEM, freq, response)
    return response.body or {}


def _search(conn: Connection, res_type: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
    bundle = _serve(conn, FhirRequest(method="GET", path=res_type, query=query))
    return [e["resource"] for e in bundle.get("entry", []) if e.get("resource", {}).get("resourceType") == res_type]


def department_heads(conn: Connection, doctor: str) -> list[str]:
    """The Practitioners heading the departments the doctor works in (directory PractitionerRoles)."""
    roles = _search(conn, "PractitionerRole", [("practitioner", doctor), ("active", "true"), ("_count", "20")])
    departments = sorted({r["organization"]["reference"] for r in roles if (r.get("organization") or {}).get(
        "reference")})
    if not departments:
        return []
    heads = _search(conn, "PractitionerRole", [("organization", ",".join(departments)), ("active", "true"),
                                               ("role", f"{DUTY_SYSTEM}|{HEAD}"), ("_count", "20")])
    return sorted({h["practitioner"]["reference"] for h in heads if (h.get("practitioner") or {}).get("reference")
                   and h["practitioner"]["reference"] != doctor})


def overdue(task: dict[str, Any], now: datetime) -> bool:
    """True for an unacknowledged, not yet escalated critical value past its deadline."""
    end = ((task.get("restriction") or {}).get("period") or {}).get("end")
    return (task.get("status") == "requested" and (task.get("businessStatus") or {}).get("text") != ESCALATED
            and bool(end) and clock.parse_instant(end) <= now)


def escalate_overdue(conn: Connection) -> int:
    """Escalate every critical value unacknowledged past its deadline to the department head; returns how many."""
    now = clock.now()
    tasks = _search(conn, "Task", [("code", f"{TASK_SYSTEM}|{CRITICAL}"), ("status", "requested"),
                                   ("_count", str(SWEEP_LIMIT))])
    escalated = 0
    for task in tasks:
        if overdue(task, now):
            _escalate(conn, task, now)
            escalated += 1
    return escalated


def _escalate(conn: Connection, task: dict[str, Any], now: datetime) -> None:
    doctor = next((r.get("reference") for r in (task.get("restriction") or {}).get("recipient", [])), None)
    heads = department_heads(conn, doctor) if doctor else []
    stamp = clock.format_instant(now)
    if heads:
        note = f"Not acknowledged in time by {doctor}; escalated to {', '.join(heads)}."
        owner = {"reference": heads[0]}
    else:
        note = f"Not acknowledged in time by {doctor or 'the ordering doctor'}, and no department head is on record; " \
               "the laboratory must phone the ward."
        owner = task.get("requester") or task.get("owner")
    recipients = [*(task.get("restriction") or {}).get("recipient", []), *({"reference": h} for h in heads)]
    updated = {**task, "businessStatus": {"text": ESCALATED}, "lastModified": stamp, "owner": owner,
               "restriction": {**task.get("restriction", {}), "recipient": recipients},
               "note": [*task.get("note", []), {"text": note, "time": stamp}]}
    saved = _serve(conn, FhirRequest(method="PUT", path=f"Task/{task['id']}", body=updated,
                                     headers={"if-match": f'W/"{task["meta"]["versionId"]}"'}))
    _tell_escalated(conn, saved or task, doctor=doctor, heads=heads)


def _tell_escalated(conn: Connection, task: dict[str, Any], *, doctor: str | None, heads: list[str]) -> None:
    accounts = [a for reference in heads or [(task.get("requester") or {}).get("reference")]
                for a in accounts_of(conn, reference)]
    if not accounts:
        return
    patient = _patient_name(conn, task)
    doctor_name = name_of(conn, doctor)
    for user_id, locale in accounts:
        result = result_facts(task, patient=patient, locale=locale)
        who = doctor_name or critical_texts.ordering_doctor(locale)
        body = critical_texts.escalated_body(locale, doctor=who, to_head=bool(heads), **result)
        notify(conn, user_id=user_id, kind=CRITICAL_VALUE.name,
               title=i18n.translations(locale).gettext(_("Critical result not acknowledged")),
               body=body[:2000], link=_link(task), data={"task": f"Task/{task['id']}", **result})
