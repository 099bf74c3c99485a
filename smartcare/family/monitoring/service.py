"""Monitoring alerts: readings judged against the patient's plan, alerts raised, deduplicated and handled.

An alert is a FHIR Task (code TASK_SYSTEM|ALERT): `for` the Patient, `focus` the newest Observation that broke
the rule, `reasonCode` the rule (code, label, and its guideline source as text), `priority` the severity
(routine < urgent < asap < stat), `owner` the clinician it is with now and `restriction.recipient` the
escalation chain in order (the patient's general practitioner, then their care teams' members),
`restriction.period.end` when it must be acknowledged. States: requested (new) -> accepted (acknowledged) ->
completed (closed with an action in `output`), or on-hold (snoozed with a reason, until an instant kept in
`input`). One open alert per patient and rule: a repeat updates it (its occurrences, newest reading, severity
if higher) instead of raising another. Every write goes through the store as an AccessContext and is audited.
"""

import re
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.family.monitoring import plans, rules, texts
from smartcare.fhir.family_accounts import account_ids
from smartcare.fhir.http import FhirRequest
from smartcare.platform import clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.notifications import notification_kind, notify
from smartcare.platform.notifications.texts import message
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import CLINICAL_ROLES
from smartcare.platform.security.tables import user_account
from smartcare.platform.settings import get_settings
from smartcare.platform.web import fhir_text

TASK_SYSTEM = plans.LOCAL + "CodeSystem/monitoring"
ALERT = "monitoring-alert"
RULE_SYSTEM = plans.LOCAL + "CodeSystem/monitoring-rule"
ACTION_SYSTEM = plans.LOCAL + "CodeSystem/monitoring-action"
ACTIONS = ("phone-call", "video-visit", "home-visit", "emergency-referral")
OPEN_STATUSES = ("requested", "accepted", "on-hold")
# The API's states and the Task statuses they are.
STATES = {"new": "requested", "acknowledged": "accepted", "snoozed": "on-hold", "closed": "completed"}
ESCALATED, EMERGENCY = "escalated", "emergency-line"
MAX_TEXT = 500
MAX_SNOOZE = timedelta(days=7)
HISTORY_LIMIT = 500
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")

ALERT_KIND = notification_kind("monitoring.alert", label=_("Home monitoring alerts"), default_channels=("sms",),
                               private_body=True)


class AlertError(Exception):
    """An alert action that cannot be done as asked; status is the HTTP status it answers with."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def _when(text: str | None) -> datetime | None:
    if not text or len(text) < 11:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _codes(concept: dict[str, Any] | None) -> set[tuple[str, str]]:
    return {(c.get("system", ""), c.get("code", "")) for c in (concept or {}).get("coding", [])}


def kind_of(observation: dict[str, Any]) -> str | None:
    """The reading's payload type (blood-pressure, glucose ...) from its code, as the device contract codes it."""
    found = _codes(observation.get("code"))
    for kind, spec in rules.catalogue()["readings"].items():
        if (spec.get("system", plans.LOINC), spec["code"]) in found:
            return kind
    return None


def _quantity(holder: dict[str, Any]) -> tuple[float, str | None] | None:
    quantity = holder.get("valueQuantity") or {}
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value), quantity.get("code") or quantity.get("unit")


def reading_of(observation: dict[str, Any]) -> rules.Reading | None:
    """An Observation as a plain reading in the contract's units; None for one the rules do not read."""
    kind = kind_of(observation)
    at = _when(observation.get("effectiveDateTime")) or _when(observation.get("issued"))
    if kind is None or at is None or observation.get("status") in ("entered-in-error", "cancelled"):
        return None
    ref = f"Observation/{observation['id']}"
    if kind == "blood-pressure":
        fields = rules.catalogue()["readings"][kind]["fields"]
        values, unit = {}, None
        for component in observation.get("component", []):
            for name, code in fields.items():
                if (plans.LOINC, code) in _codes(component.get("code")) and (found := _quantity(component)):
                    values[name], unit = found
        if set(values) != set(fields):
            return None
    elif kind == "check-in":
        answer = {c for _, c in _codes(observation.get("valueCodeableConcept"))}
        values, unit = {"value": 1.0 if "need-help" in answer else 0.0}, None
    elif "valueBoolean" in observation:
        values, unit = {"value": 1.0 if observation["valueBoolean"] else 0.0}, None
    elif "valueInteger" in observation:
        values, unit = {"value": float(observation["valueInteger"])}, None
    elif (found := _quantity(observation)) is not None:
        values, unit = {"value": found[0]}, found[1]
    else:
        return None
    try:
        return rules.Reading(kind, at, rules.normalised(kind, values, unit), ref=ref)
    except rules.RuleError:
        return None


def _read_history(conn: Connection, patient: str, kind: str, since: datetime) -> list[rules.Reading]:
    spec = rules.catalogue()["readings"][kind]
    found = plans.search(conn, "Observation", [
        ("patient", patient), ("code", f"{spec.get('system', plans.LOINC)}|{spec['code']}"),
        ("date", f"ge{clock.format_instant(since)}"), ("_sort", "-date"), ("_count", str(HISTORY_LIMIT))])
    return [r for r in map(reading_of, found) if r is not None]


# A trend rule (3 of 5 days raised) reads the window's history for every raised reading, and a hypertensive
# patient's monitor sends many: judging keeps each patient's recent readings of a kind for a few minutes, adding
# the readings it judges, and reads them again after HISTORY_KEEP_SECONDS (so readings stored by another process
# count within that time; single readings' thresholds never wait on it).
HISTORY_KEEP_SECONDS = 300.0
_kept_history: dict[tuple[str, str], tuple[float, datetime, list[rules.Reading]]] = {}
_kept_lock = threading.Lock()


def _history(conn: Connection, patient: str, kind: str, since: datetime) -> list[rules.Reading]:
    """The patient's readings of kind since a time, from those kept when fresh, else from the store."""
    now = time.monotonic()
    with _kept_lock:
        hit = _kept_history.get((patient, kind))
    if hit is not None and now - hit[0] < HISTORY_KEEP_SECONDS and hit[1] <= since:
        return [r for r in hit[2] if r.at >= since]
    start = since - timedelta(days=1)  # a day more, so the next readings' windows find it kept
    found = _read_history(conn, patient, kind, start)
    with _kept_lock:
        if len(_kept_history) > 50_000:
            _kept_history.clear()
        _kept_history[(patient, kind)] = (now, start, found)
    return [r for r in found if r.at >= since]


def _keep_judged(patient: str, readings: list[rules.Reading]) -> None:
    """Add newly judged readings to the patient's kept history (duplicates are dropped where it is read)."""
    with _kept_lock:
        for reading in readings:
            hit = _kept_history.get((patient, reading.kind))
            if hit is not None and reading.at >= hit[1] and len(hit[2]) < HISTORY_LIMIT:
                hit[2].append(reading)


def forget_kept_history() -> None:
    """Drop the kept histories (when a test changes the world under them)."""
    with _kept_lock:
        _kept_history.clear()


def _lookback(rule: dict[str, Any]) -> timedelta:
    if rule["type"] == "days-in-window":
        return timedelta(days=rule["window_days"] + 1)
    if rule["type"] == "rise":
        return timedelta(hours=rule["window_hours"])
    return timedelta(0)


def findings_for(conn: Connection, plan: dict[str, Any], readings: list[rules.Reading],
                 patient: str) -> list[rules.Finding]:
    """The most severe finding of each of the plan's rules on the new readings."""
    tz = get_settings().region_timezone
    histories: dict[tuple[str, timedelta], list[rules.Reading]] = {}
    out = []
    for rule in plans.rules_of(plan):
        mine = [r for r in readings if rules.may_fire(rule, r)]
        if not mine:
            continue
        back = _lookback(rule)
        history: list[rules.Reading] = []
        if back:
            key = (rule["reading"], back)
            if key not in histories:
                histories[key] = _history(conn, patient, rule["reading"], min(r.at for r in mine) - back)
            history = histories[key]
        found = [f for r in mine if (f := rules.evaluate(rule, r, history, tz=tz)) is not None]
        if found:
            out.append(max(found, key=lambda f: (rules.severity_rank(f.severity), f.reading.at)))
    return out


def evaluate_readings(conn: Connection, *, patient: str, observations: list[str],
                      resources: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Judge newly stored Observations (references; or the stored resources themselves, as the device pipeline
    hands them over) against the patient's active plans; the alerts raised or updated. Runs as the platform
    (every read and write audited); a reading no rule can fire on costs no read at all."""
    active = plans.active_plans_cached(conn, patient)
    ids = [o.split("/", 1)[1] for o in observations if o.startswith("Observation/") and _ID.fullmatch(o[12:])]
    if not active or not ids:
        return []
    wanted = set(ids)
    if resources is not None:
        stored = [r for r in resources if r.get("id") in wanted
                  and (r.get("subject") or {}).get("reference") == patient]
    else:
        stored = plans.search(conn, "Observation", [("_id", ",".join(ids[:200])), ("patient", patient),
                                                    ("_count", "200")])
    readings = [r for r in map(reading_of, stored) if r is not None]
    _keep_judged(patient, readings)
    alerts = []
    for plan in active:
        for finding in findings_for(conn, plan, readings, patient):
            rule = next(r for r in plans.rules_of(plan) if r["id"] == finding.rule)
            alerts.append(raise_alert(conn, plan=plan, rule=rule, finding=finding, patient=patient))
    return alerts


def open_alerts(conn: Connection, patient: str, ctx: AccessContext = SYSTEM) -> list[dict[str, Any]]:
    """The patient's alerts not yet closed."""
    return plans.search(conn, "Task", [("code", f"{TASK_SYSTEM}|{ALERT}"), ("patient", patient),
                                       ("status", ",".join(OPEN_STATUSES)), ("_count", "100")], ctx)


def rule_of(task: dict[str, Any]) -> str | None:
    """The rule id an alert was raised by."""
    return next((c.get("code") for c in (task.get("reasonCode") or {}).get("coding", [])
                 if c.get("system") == RULE_SYSTEM), None)


def inputs(task: dict[str, Any]) -> dict[str, Any]:
    """An alert's inputs by their type's text."""
    return {(i.get("type") or {}).get("text"): i for i in task.get("input", [])}


def _with_input(task: dict[str, Any], name: str, **value: Any) -> list[dict[str, Any]]:
    kept = [i for i in task.get("input", []) if (i.get("type") or {}).get("text") != name]
    return [*kept, {"type": {"text": name}, **value}]


def occurrences(task: dict[str, Any]) -> int:
    """How many readings have broken the alert's rule while it was open."""
    return int((inputs(task).get("occurrences") or {}).get("valueInteger", 1))


def responsible(conn: Connection, patient: str, plan: dict[str, Any]) -> list[str]:
    """The escalation chain, in order: the patient's general practitioners, then the members of the plan's care
    teams, then of the patient's other active care teams (Practitioner references, each once)."""
    found = plans.search(conn, "Patient", [("_id", patient.split("/", 1)[1])])
    chain = [g["reference"] for g in (found[0].get("generalPractitioner", []) if found else [])
             if str(g.get("reference", "")).startswith("Practitioner/")]
    named = [t["reference"] for t in plan.get("careTeam", []) if t.get("reference")]
    teams = plans.search(conn, "CareTeam", [("patient", patient), ("status", "active"), ("_count", "20")])
    teams.sort(key=lambda t: f"CareTeam/{t['id']}" not in named)
    for team in teams:
        chain += [p["member"]["reference"] for p in team.get("participant", [])
                  if str((p.get("member") or {}).get("reference", "")).startswith("Practitioner/")]
    return list(dict.fromkeys(chain))


def caregivers(conn: Connection, patient: str, plan: dict[str, Any]) -> list[str]:
    """The family caregivers the care team designated in the plan (its RelatedPerson contributors) who are still
    active and about this patient; nobody else is told, since a notice names the patient and the reading."""
    named = [c["reference"].split("/", 1)[1] for c in plan.get("contributor", [])
             if str(c.get("reference", "")).startswith("RelatedPerson/")]
    if not named:
        return []
    people = plans.search(conn, "RelatedPerson", [("_id", ",".join(named)), ("patient", patient), ("_count", "20")])
    return [f"RelatedPerson/{p['id']}" for p in people if p.get("active") is not False]


def accounts_of(conn: Connection, references: list[str]) -> list[tuple[str, str]]:
    """The user accounts (id, locale) of the people at references (and the family accounts RelatedPersons name)."""
    if not references:
        return []
    named = account_ids(conn, references)  # family accounts a RelatedPerson stands for
    rows = conn.execute(sa.select(user_account.c.id, user_account.c.locale)
                        .where(sa.or_(user_account.c.fhir_ref.in_(references), user_account.c.id.in_(named)))
                        .order_by(user_account.c.id))
    return [(row.id, row.locale) for row in rows]


def patient_name(conn: Connection, patient: str) -> str:
    """The patient's name as notices give it (the reference when the record has none)."""
    found = plans.search(conn, "Patient", [("_id", patient.split("/", 1)[1])])
    return (fhir_text.person_name(found[0]) if found else "") or patient


def tell(conn: Connection, task: dict[str, Any], people: list[str], *, title: str) -> int:
    """Notify the accounts of people about an alert, in the words of whoever reads it; how many were told."""
    accounts = accounts_of(conn, people)
    if not accounts:
        return 0
    patient = str((task.get("for") or {}).get("reference", ""))
    name = patient_name(conn, patient)
    rule_id = rule_of(task) or ""
    label = (task.get("reasonCode") or {}).get("coding", [{}])[0].get("display", "")
    detail = str((inputs(task).get("reading") or {}).get("valueString", ""))
    family = {row.id for row in conn.execute(sa.select(user_account.c.id).where(
        user_account.c.id.in_([user_id for user_id, _ in accounts]), user_account.c.fhir_ref.like("RelatedPerson/%")))}
    family.update(account_ids(conn, people))  # a family account (a resident's own) looks after them in the app too
    for user_id, _locale in accounts:
        # A caregiver cannot open the workstation: their notice leads to the app, on the person they look after.
        link = (f"/app/family?person={patient.removeprefix('Patient/')}" if user_id in family
                else f"/workstation/monitoring/alerts/{task['id']}")
        notify(conn, user_id=user_id, kind=ALERT_KIND.name, title_text=message(title),
               body_text=texts.alert_message(patient=name, rule_id=rule_id, label=label, detail=detail,
                                             severity=task.get("priority", "routine")),
               link=link,
               data={"task": f"Task/{task['id']}", "patient": patient, "rule": rule_id,
                     "severity": task.get("priority")})
    return len(accounts)


def acknowledge_within(severity: str) -> timedelta:
    """How long an alert of severity may wait for acknowledgement before it escalates."""
    return timedelta(minutes=rules.catalogue()["escalation"]["acknowledge_within_minutes"][severity])


def alert_task(*, plan: dict[str, Any], rule: dict[str, Any], finding: rules.Finding, patient: str,
               chain: list[str], now: datetime) -> dict[str, Any]:
    """A new alert's Task."""
    stamp = clock.format_instant(now)
    task: dict[str, Any] = {
        "resourceType": "Task", "status": "requested", "intent": "order", "priority": finding.severity,
        "code": {"coding": [{"system": TASK_SYSTEM, "code": ALERT, "display": "Home monitoring alert"}]},
        "description": f"{rule.get('label', rule['id'])}: {finding.detail}"[:300],
        # The same in plain words of each language (FHIR's translation extension), for the app's pages.
        "_description": fhir_text.translations({locale: texts.say(
            locale, _("{rule}: {reading}"), rule=texts.rule_label(rule["id"], locale, rule.get("label", "")),
            reading=texts.reading_text(finding.detail, locale))[:300] for locale in i18n.SUPPORTED_LOCALES}),
        "for": {"reference": patient},
        "basedOn": [{"reference": f"CarePlan/{plan['id']}"}],
        "reasonCode": {"coding": [{"system": RULE_SYSTEM, "code": rule["id"], "display": rule.get("label", "")}],
                       "text": str(rule.get("source", ""))[:1000]},
        "authoredOn": stamp, "lastModified": stamp,
        "restriction": {"period": {"end": clock.format_instant(now + acknowledge_within(finding.severity))}},
        "input": [{"type": {"text": "reading"}, "valueString": finding.detail[:200]},
                  {"type": {"text": "occurrences"}, "valueInteger": 1}],
    }
    if finding.reading.ref:
        task["focus"] = {"reference": finding.reading.ref}
    if chain:
        task["owner"] = {"reference": chain[0]}
        task["restriction"]["recipient"] = [{"reference": r} for r in chain]
    return task


def raise_alert(conn: Connection, *, plan: dict[str, Any], rule: dict[str, Any], finding: rules.Finding,
                patient: str) -> dict[str, Any]:
    """Raise an alert for a finding, or update the patient's open alert of the same rule (no second notice
    unless it became more severe while someone still has to acknowledge it)."""
    from smartcare.family.monitoring import flows

    now = clock.now()
    same = [t for t in open_alerts(conn, patient) if rule_of(t) == rule["id"]]
    if same:
        return _repeat(conn, same[0], finding, now)
    chain = responsible(conn, patient, plan)
    task = plans.serve(conn, FhirRequest(method="POST", path="Task", body=alert_task(
        plan=plan, rule=rule, finding=finding, patient=patient, chain=chain, now=now)))
    immediate = bool(rule.get("immediate"))
    tell(conn, task, chain if immediate else chain[:1], title=texts.ALERT_TITLE)
    tell(conn, task, caregivers(conn, patient, plan), title=texts.ALERT_TITLE)
    # An immediate rule (a fall) has told the whole team at once: the next step is the emergency line.
    flows.schedule_escalation(conn, task, step=0, final=immediate)
    return task


def _repeat(conn: Connection, task: dict[str, Any], finding: rules.Finding, now: datetime) -> dict[str, Any]:
    stamp = clock.format_instant(now)
    worse = rules.severity_rank(finding.severity) > rules.severity_rank(task.get("priority", "routine"))
    updated = {**task, "lastModified": stamp,
               "input": _with_input({**task, "input": _with_input(task, "reading",
                                                                  valueString=finding.detail[:200])},
                                    "occurrences", valueInteger=occurrences(task) + 1)}
    if finding.reading.ref:
        updated["focus"] = {"reference": finding.reading.ref}
    if worse:
        updated["priority"] = finding.severity
    saved = put_alert(conn, updated, SYSTEM)
    if worse and saved.get("status") == "requested" and saved.get("owner"):
        tell(conn, saved, [saved["owner"]["reference"]], title=texts.ALERT_TITLE)
    return saved


def put_alert(conn: Connection, task: dict[str, Any], ctx: AccessContext) -> dict[str, Any]:
    """Write a changed alert as ctx, only over the version that was read."""
    version = (task.get("meta") or {}).get("versionId")
    return plans.serve(conn, FhirRequest(method="PUT", path=f"Task/{task['id']}", body=task,
                                         headers={"if-match": f'W/"{version}"'} if version else {}), ctx)


def read_alert(conn: Connection, ctx: AccessContext, alert_id: str) -> dict[str, Any]:
    """One alert ctx may see; AlertError 404 for anything else."""
    if not _ID.fullmatch(alert_id or ""):
        raise AlertError("no such alert", status=404)
    found = plans.search(conn, "Task", [("_id", alert_id), ("code", f"{TASK_SYSTEM}|{ALERT}")], ctx)
    if not found:
        raise AlertError("no such alert", status=404)
    return found[0]


def _acting(ctx: AccessContext) -> None:
    if not ctx.is_system and not (ctx.kind == "client" or ctx.roles & CLINICAL_ROLES):
        raise AlertError("only the care team acts on monitoring alerts", status=403)


def _text(value: str | None, what: str, *, required: bool) -> str:
    value = (value or "").strip()
    if (required and not value) or len(value) > MAX_TEXT:
        raise AlertError(f"{what} is {'1' if required else '0'}-{MAX_TEXT} characters")
    return value


def _note(task: dict[str, Any], ctx: AccessContext, text: str, stamp: str) -> list[dict[str, Any]]:
    author = {"authorReference": {"reference": ctx.fhir_user}} if ctx.fhir_user else {"authorString": ctx.author}
    return [*task.get("note", []), {"text": text, "time": stamp, **author}]


def acknowledge(ctx: AccessContext, *, alert_id: str, note: str | None = None) -> dict[str, Any]:
    """The clinician takes the alert on: it is theirs now and escalation stops."""
    _acting(ctx)
    note = _text(note, "a note", required=False)
    with unit_of_work() as conn:
        task = read_alert(conn, ctx, alert_id)
        if task["status"] not in ("requested", "on-hold"):
            raise AlertError(f"this alert is already {task['status']}", status=409)
        stamp = clock.format_instant(clock.now())
        updated = {**task, "status": "accepted", "businessStatus": {"text": "acknowledged"}, "lastModified": stamp,
                   "note": _note(task, ctx, note or "Acknowledged", stamp)}
        if (ctx.fhir_user or "").startswith("Practitioner/"):
            updated["owner"] = {"reference": ctx.fhir_user}
        updated.pop("statusReason", None)
        return put_alert(conn, updated, ctx)


def snooze(ctx: AccessContext, *, alert_id: str, minutes: int, reason: str) -> dict[str, Any]:
    """Put an alert on hold for minutes with a reason: repeats update it quietly until it wakes."""
    from smartcare.family.monitoring import flows

    _acting(ctx)
    reason = _text(reason, "a reason to snooze", required=True)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_SNOOZE.total_seconds() // 60:
        raise AlertError(f"snooze for 1 to {int(MAX_SNOOZE.total_seconds() // 60)} minutes")
    with unit_of_work() as conn:
        task = read_alert(conn, ctx, alert_id)
        if task["status"] not in ("requested", "accepted", "on-hold"):
            raise AlertError(f"this alert is already {task['status']}", status=409)
        now = clock.now()
        until = now + timedelta(minutes=minutes)
        stamp = clock.format_instant(now)
        updated = {**task, "status": "on-hold", "statusReason": {"text": reason}, "lastModified": stamp,
                   "businessStatus": {"text": "snoozed"},
                   "input": _with_input(task, "snoozed-until", valueDateTime=clock.format_instant(until)),
                   "note": _note(task, ctx, f"Snoozed for {minutes} min: {reason}", stamp)}
        saved = put_alert(conn, updated, ctx)
        flows.schedule_wake(conn, saved, until)
        return saved


def close(ctx: AccessContext, *, alert_id: str, action: str, note: str | None = None) -> dict[str, Any]:
    """Close an alert with the action taken (phone call, video visit, home visit, emergency referral)."""
    _acting(ctx)
    if action not in ACTIONS:
        raise AlertError(f"the action is one of {', '.join(ACTIONS)}")
    note = _text(note, "a note", required=False)
    with unit_of_work() as conn:
        task = read_alert(conn, ctx, alert_id)
        if task["status"] not in OPEN_STATUSES:
            raise AlertError(f"this alert is already {task['status']}", status=409)
        stamp = clock.format_instant(clock.now())
        concept = {"coding": [{"system": ACTION_SYSTEM, "code": action}], "text": action}
        updated = {**task, "status": "completed", "businessStatus": {"text": "closed"}, "lastModified": stamp,
                   "statusReason": concept, "executionPeriod": {"start": task.get("authoredOn", stamp), "end": stamp},
                   "output": [{"type": {"text": "action"}, "valueCodeableConcept": concept}],
                   "note": _note(task, ctx, note or f"Closed: {action}", stamp)}
        return put_alert(conn, updated, ctx)


def state_of(task: dict[str, Any]) -> str:
    """An alert's state as the API and pages name it."""
    return next((state for state, status in STATES.items() if status == task.get("status")), task.get("status", ""))


def shown(task: dict[str, Any]) -> dict[str, Any]:
    """An alert as the API returns it."""
    coding = ((task.get("reasonCode") or {}).get("coding") or [{}])[0]
    given = inputs(task)
    return {
        "id": task["id"], "patient": (task.get("for") or {}).get("reference"), "severity": task.get("priority"),
        "state": state_of(task), "rule": coding.get("code"), "label": coding.get("display"),
        "source": (task.get("reasonCode") or {}).get("text"),
        "reading": (given.get("reading") or {}).get("valueString"), "occurrences": occurrences(task),
        "observation": (task.get("focus") or {}).get("reference"),
        "owner": (task.get("owner") or {}).get("reference"),
        "escalated": (task.get("businessStatus") or {}).get("text") in (ESCALATED, EMERGENCY),
        "acknowledge_by": ((task.get("restriction") or {}).get("period") or {}).get("end"),
        "snoozed_until": (given.get("snoozed-until") or {}).get("valueDateTime"),
        "action": next((o["valueCodeableConcept"]["coding"][0]["code"] for o in task.get("output", [])
                        if o.get("valueCodeableConcept")), None),
        "raised": task.get("authoredOn"), "updated": task.get("lastModified"),
    }


def list_alerts(ctx: AccessContext, *, patient: str | None = None, severity: str | None = None,
                state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The alerts ctx may see (the access policy limits them to patients in reach), newest first."""
    query = [("code", f"{TASK_SYSTEM}|{ALERT}"), ("_sort", "-authored-on"), ("_count", str(min(max(limit, 1), 200)))]
    if patient is not None:
        if not _ID.fullmatch(patient):
            raise AlertError("patient is a Patient id (1-64 letters, digits, '-' or '.')")
        query.append(("patient", f"Patient/{patient}"))
    if severity is not None:
        if severity not in rules.SEVERITIES:
            raise AlertError(f"severity is one of {', '.join(rules.SEVERITIES)}")
        query.append(("priority", severity))
    if state is not None:
        if state != "open" and state not in STATES:
            raise AlertError(f"state is open or one of {', '.join(STATES)}")
        query.append(("status", ",".join(OPEN_STATUSES) if state == "open" else STATES[state]))
    with unit_of_work() as conn:
        return [shown(t) for t in plans.search(conn, "Task", query, ctx)]
