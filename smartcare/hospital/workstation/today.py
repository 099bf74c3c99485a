"""The doctor's today list: their queue for today's sessions, their in-patients, and results waiting for them.

"Waiting" needs no table of its own: a result waits for a doctor while it came after they last
opened that patient's chart, and each opening is in the audit trail already (the chart reads the
record with Patient/$everything, audited as an operation by that doctor on that patient).
Everything about patients is read through the FHIR gateway as the doctor, so the policy limits
each list and every read is audited; the queue's numbers come from the queue service.
"""

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import gateway
from smartcare.hospital.queue import service as queue
from smartcare.hospital.workstation.chart import may_search
from smartcare.hospital.workstation.codes import (
    effective,
    label,
    local_day,
    parse_moment,
    region_zone,
)
from smartcare.hospital.workstation.trends import is_critical, is_laboratory
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import fhir_text

RESULT_DAYS = (7, 30, 90)
DEFAULT_DAYS = 30
NEXT_SHOWN = 5
MAX_LISTED = 100
_FINAL = ("final", "amended", "corrected", "appended")
_OPEN_TASKS = "requested,received,accepted,ready,in-progress,on-hold"


def _ref_id(reference: dict[str, Any] | None, res_type: str) -> str | None:
    text = str((reference or {}).get("reference", ""))
    return text.split("/", 1)[1] if text.startswith(f"{res_type}/") else None


def _split(found: list[dict[str, Any]], res_type: str) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The matches of res_type, and the Patients included alongside them by id."""
    matches = [r for r in found if r.get("resourceType") == res_type]
    patients = {p["id"]: p for p in found if p.get("resourceType") == "Patient" and p.get("id")}
    return matches, patients


def queue_today(conn: Connection, *, practitioner_id: str, moment: datetime) -> list[dict[str, Any]]:
    """Today's morning and afternoon sessions of the doctor: who is called, how many wait, and the next ones."""
    local = moment.astimezone(queue.local_zone())
    now_half = "am" if local.hour < queue.NOON else "pm"
    sessions = []
    for half in ("am", "pm"):
        key = queue.Session(practitioner_id, local.date().isoformat(), half).key
        view = queue.session_view(conn, key)
        waiting = queue.staff_queue(conn, key)
        sessions.append({
            "key": key, "half": half, "now": half == now_half, "called": view["called"],
            "waiting": len(waiting),
            "next": [{"number": w["number"], "patient": w["patient"], "name": fhir_text.person_name(w["resource"]),
                      "time": queue.local_hhmm(w["appointment_start"]), "priority": w["priority"]}
                     for w in waiting[:NEXT_SHOWN]],
        })
    return sessions


def booked_today(ctx: AccessContext, *, practitioner_id: str, moment: datetime) -> list[dict[str, Any]] | None:
    """The doctor's appointments of today's local date, in time order, with their patients (None when the
    clinician's role does not see appointments)."""
    if not may_search(ctx, "Appointment"):
        return None
    day = moment.astimezone(region_zone()).date()
    start = datetime.combine(day, datetime.min.time(), tzinfo=region_zone())
    found = gateway.search(ctx, "Appointment", [
        ("practitioner", f"Practitioner/{practitioner_id}"), ("date", f"ge{start.isoformat()}"),
        ("date", f"lt{(start + timedelta(days=1)).isoformat()}"),
        ("status", "booked,pending,arrived,checked-in,fulfilled"),
        ("_sort", "date"), ("_total", "none"), ("_count", str(MAX_LISTED)), ("_include", "Appointment:patient")])
    appointments, patients = _split(found, "Appointment")
    rows = []
    for appointment in appointments:
        patient_id = next((pid for p in appointment.get("participant", [])
                           if (pid := _ref_id(p.get("actor"), "Patient"))), None)
        rows.append({"time": queue.local_hhmm(appointment.get("start")), "status": appointment.get("status", ""),
                     "patient": patient_id, "name": fhir_text.person_name(patients.get(patient_id or "", {}))
                     or patient_id or ""})
    return rows


def _ward_names(ctx: AccessContext, encounters: list[dict[str, Any]], locale: str) -> dict[str, str]:
    """The names of the Locations the encounters are at (directory records), in the reader's language."""
    ids = sorted({w for e in encounters for loc in e.get("location", [])
                  if (w := _ref_id(loc.get("location"), "Location"))})
    if not ids:
        return {}
    places = gateway.search(ctx, "Location", [("_id", ",".join(ids)), ("_count", str(len(ids))),
                                              ("_elements", "id,name,alias")])
    return {p["id"]: ((p.get("alias") or [None])[0] if locale == "zh-Hans" else None) or p.get("name") or p["id"]
            for p in places}


def _organisation_and_departments(ctx: AccessContext, organization: str) -> set[str]:
    """The organisation and the departments part of it (directory records, readable by every clinician)."""
    departments = gateway.search(ctx, "Organization", [("partof", organization), ("_count", "1000"),
                                                       ("_elements", "id")])
    return {organization, *(f"Organization/{d['id']}" for d in departments)}


def inpatients(ctx: AccessContext, *, practitioner_id: str | None, organization: str | None,
               locale: str) -> list[dict[str, Any]] | None:
    """Patients admitted now (Encounter class IMP, in progress) whom the doctor attends or who are admitted to
    their organisation or one of its departments (whose wards they lie in), as far as the policy lets the
    doctor see them.

    One search finds every current admission in the doctor's reach (few, however large the reach) and
    the doctor's own are picked here: each search costs the policy's reach, so one beats three. None
    when the clinician's role does not see encounters.
    """
    if not may_search(ctx, "Encounter"):
        return None
    found = gateway.search(ctx, "Encounter", [("class", "IMP"), ("status", "in-progress"),
                                               ("_total", "none"), ("_count", str(MAX_LISTED)), ("_include", "Encounter:subject")])
    encounters, patients = _split(found, "Encounter")
    owners = _organisation_and_departments(ctx, organization) if organization else set()
    attending = {e["id"] for e in encounters if practitioner_id and any(
        _ref_id(p.get("individual"), "Practitioner") == practitioner_id for p in e.get("participant", []))}
    encounters = [e for e in encounters
                  if e["id"] in attending or (e.get("serviceProvider") or {}).get("reference") in owners]
    wards = _ward_names(ctx, encounters, locale)
    rows = []
    for encounter in encounters:
        patient_id = _ref_id(encounter.get("subject"), "Patient")
        ward = next((wards.get(w) or (loc.get("location") or {}).get("display", "") for loc in
                     encounter.get("location", []) if (w := _ref_id(loc.get("location"), "Location"))), "")
        rows.append({
            "patient": patient_id, "name": fhir_text.person_name(patients.get(patient_id or "", {})) or patient_id,
            "since": local_day((encounter.get("period") or {}).get("start")), "ward": ward,
            "reason": ", ".join(label(r, locale) for r in encounter.get("reasonCode", [])),
            "attending": encounter["id"] in attending,
        })
    return sorted(rows, key=lambda r: r["since"])


def chart_opens(conn: Connection, *, agent: str, patient_ids: list[str]) -> dict[str, datetime]:
    """When agent last opened each patient's chart (a successful $everything in the audit trail)."""
    if not patient_ids:
        return {}
    audit.seal_all(conn)
    log = audit.audit_log
    rows = conn.execute(sa.select(log.c.patient, sa.func.max(log.c.recorded)).where(
        log.c.patient.in_([f"Patient/{p}" for p in patient_ids]), log.c.agent == agent,
        log.c.subtype == "operation", log.c.outcome == "0").group_by(log.c.patient))
    return {patient.removeprefix("Patient/"): parse_moment(recorded) for patient, recorded in rows}


def _results_since(ctx: AccessContext, since: datetime) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Final reports and laboratory results of the patients in reach since a moment, each once: a result
    inside a report counts as the report (with its critical values), others on their own."""
    # Statuses are checked here rather than in the searches: a second token filter doubled their cost.
    reports = gateway.search(ctx, "DiagnosticReport", [
        ("issued", f"ge{since.isoformat()}"), ("_sort", "-issued"), ("_total", "none"), ("_count", str(MAX_LISTED)),
        ("_include", "DiagnosticReport:subject")]) if may_search(ctx, "DiagnosticReport") else []
    observations = gateway.search(ctx, "Observation", [
        ("category", "laboratory"), ("date", f"ge{since.isoformat()}"), ("_sort", "-date"),
        ("_total", "none"), ("_count", str(2 * MAX_LISTED)), ("_include", "Observation:subject")]) if may_search(ctx, "Observation") else []
    found_reports, patients = _split(reports, "DiagnosticReport")
    found_observations, more = _split(observations, "Observation")
    found_reports = [r for r in found_reports if r.get("status") in _FINAL]
    found_observations = [o for o in found_observations if o.get("status") in _FINAL]
    critical = {o["id"] for o in found_observations if is_laboratory(o) and is_critical(o)}
    results, reported = [], set()
    for report in found_reports:
        members = {_ref_id(r, "Observation") for r in report.get("result", [])}
        reported |= members
        results.append({"patient": _ref_id(report.get("subject"), "Patient"),
                        "at": report.get("issued") or effective(report), "critical": len(members & critical)})
    results += [{"patient": _ref_id(o.get("subject"), "Patient"), "at": o.get("issued") or effective(o),
                 "critical": int(o["id"] in critical)}
                for o in found_observations if is_laboratory(o) and o.get("id") not in reported]
    return [r for r in results if r["patient"]], {**more, **patients}


def _overdue_tasks(ctx: AccessContext, now: datetime) -> dict[str, int]:
    """How many open Tasks are past their due time, per patient (Task.for)."""
    if not may_search(ctx, "Task"):
        return {}
    tasks = gateway.search(ctx, "Task", [("status", _OPEN_TASKS), ("_total", "none"), ("_count", str(MAX_LISTED))])
    overdue: dict[str, int] = {}
    for task in tasks:
        due = parse_moment(((task.get("restriction") or {}).get("period") or {}).get("end"))
        patient_id = _ref_id(task.get("for"), "Patient")
        if due is not None and due < now and patient_id:
            overdue[patient_id] = overdue.get(patient_id, 0) + 1
    return overdue


def _names(ctx: AccessContext, patient_ids: list[str], known: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The patients' names, reading those not already at hand in one search."""
    missing = [p for p in patient_ids if p not in known]
    if missing:
        known = {**known, **{p["id"]: p for p in gateway.search(ctx, "Patient", [
            ("_id", ",".join(missing)), ("_count", str(len(missing))), ("_elements", "id,name")])}}
    return {p: fhir_text.person_name(known[p]) if p in known else p for p in patient_ids}


def results_waiting(ctx: AccessContext, *, now: datetime, days: int) -> list[dict[str, Any]] | None:
    """Patients with results from the last days that came after the doctor last opened their chart, with
    badges: how many new results, how many critical values, how many overdue tasks.

    The gateway's reads run in their own transactions; the audit trail is read in a short one of its own
    (on SQLite a transaction held open around the reads would block them). None when the clinician's role
    sees neither reports nor observations.
    """
    if not (may_search(ctx, "DiagnosticReport") or may_search(ctx, "Observation")):
        return None
    results, patients = _results_since(ctx, now - timedelta(days=days))
    overdue = _overdue_tasks(ctx, now)
    by_patient: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        by_patient.setdefault(result["patient"], []).append(result)
    concerned = sorted(set(by_patient) | set(overdue))
    with unit_of_work() as conn:
        opened = chart_opens(conn, agent=ctx.author, patient_ids=concerned)
    rows = []
    for patient_id in concerned:
        last = opened.get(patient_id)
        fresh = [r for r in by_patient.get(patient_id, []) if last is None or (parse_moment(r["at"]) or now) > last]
        if fresh or overdue.get(patient_id):
            rows.append({"patient": patient_id, "new": len(fresh), "critical": sum(r["critical"] for r in fresh),
                         "overdue": overdue.get(patient_id, 0),
                         "latest": local_day(max(fresh, key=lambda r: parse_moment(r["at"]) or now)["at"])
                         if fresh else "",
                         "opened": local_day(last.isoformat()) if last else ""})
    names = _names(ctx, [r["patient"] for r in rows], patients)
    for row in rows:
        row["name"] = names[row["patient"]]
    rows.sort(key=lambda r: r["latest"], reverse=True)
    rows.sort(key=lambda r: (r["critical"] == 0, r["overdue"] == 0))
    return rows[:MAX_LISTED]
