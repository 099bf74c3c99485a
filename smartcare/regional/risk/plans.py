"""Personalised prevention programmes: drafted from a resident's risk factors, reviewed by a doctor, then active.

The programme (knowledge/interventions) becomes a FHIR CarePlan (`instantiatesUri` PLAN_DEFINITION) with its Goals as
resources of their own, so the app can follow each goal's progress. A draft is `status: draft, intent: proposal` with
Goals `proposed`; the doctor keeps or drops each goal and activity and may change a numeric target, and the accepted
plan becomes `active`, replacing (and revoking) the resident's previous programme. All of a step is one transaction.
"""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.knowledge.interventions import programme as rules
from smartcare.platform import clock
from smartcare.platform.clock import format_instant
from smartcare.platform.i18n import _
from smartcare.platform.jobs import enqueue
from smartcare.platform.security.context import AccessContext
from smartcare.platform.settings import get_settings
from smartcare.regional.risk import service
from smartcare.regional.risk.inputs import Record

LOCAL = "https://smartcare.example/fhir/"
PLAN_DEFINITION = LOCAL + "PlanDefinition/risk-intervention"
PLAN_KIND = LOCAL + "CodeSystem/care-plan-kind"
GOAL_SYSTEM = LOCAL + "CodeSystem/intervention-goal"
ACTIVITY_SYSTEM = LOCAL + "CodeSystem/intervention-activity"
SOURCE_EXTENSION = LOCAL + "StructureDefinition/rule-source"
TEMPLATE_EXTENSION = LOCAL + "StructureDefinition/monitoring-template"
TOPIC_EXTENSION = LOCAL + "StructureDefinition/education-topic"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
REVIEW = "follow-up-review"
# The job the family health module handles to give a resident a home-monitoring plan (family/monitoring/
# from_programmes.py): modules hand work to each other through the job outbox, not by importing each other.
MONITORING_JOB = "monitoring.from-programme"
MG_DL_PER_MMOL_CHOLESTEROL = 38.67
MG_DL_PER_MMOL_GLUCOSE = 18.016
# Targets a doctor may set, per UCUM unit: anything outside is a typing error, not a choice.
TARGET_LIMITS = {"mm[Hg]": (60, 200), "mmol/L": (0.5, 15), "%": (4, 12), "kg": (20, 250), "cm": (40, 200),
                 "kg/m2": (15, 45), "min/wk": (0, 1000), "g/d": (0, 20)}


class PlanRefused(Exception):
    """A programme step that cannot be done, with a message for the doctor and an HTTP status."""

    def __init__(self, message: str, *, status: int = 400, field: str = "") -> None:
        super().__init__(message)
        self.message, self.status, self.field = message, status, field


def local_day(moment: datetime) -> date:
    """The day moment falls on in the region: a programme set at 07:40 in Shanghai is dated that day, not UTC's."""
    return moment.astimezone(ZoneInfo(get_settings().region_timezone)).date()


def _mmol(fact: Any, per_mmol: float) -> float | None:
    if fact is None:
        return None
    return round(fact.value / per_mmol, 2) if fact.unit == "mg/dL" else float(fact.value)


def _value(record: Record, name: str) -> float | None:
    fact = record.facts.get(name)
    return None if fact is None else float(fact.value)


def _score(risk: dict[str, Any] | None) -> float | None:
    for ext in (risk or {}).get("extension") or []:
        if ext.get("url") == service.SCORE_EXTENSION:
            value = (ext.get("valueQuantity") or {}).get("value")
            return float(value) if isinstance(value, int | float) else None
    return None


def profile_of(record: Record, risks: dict[str, dict[str, Any]]) -> rules.RiskProfile:
    """The risk factors a record shows, for the programme rules (unknown stays None, never guessed)."""
    facts = record.facts
    conditions = {group for group in ("hypertension", "diabetes", "ckd", "ascvd") if group in record.conditions}
    if "atrial_fibrillation" in record.conditions:
        conditions.add("af")
    egfr = _value(record, "egfr") if "egfr" in facts else _score(risks.get("kdigo-ckd"))
    if egfr is not None and egfr < 60:
        conditions.add("ckd")
    uacr = facts.get("uacr")
    proteinuria = None
    if uacr is not None:
        proteinuria = (uacr.value * (8.84 if uacr.unit == "mg/mmol" else 1)) >= 30
    age = facts.get("age")
    return rules.RiskProfile(
        age=int(age.value) if age else None, sex=facts["sex"].value if "sex" in facts else None,
        smoker=facts["smoker"].value if "smoker" in facts else None,
        systolic_bp=_value(record, "systolic_bp"), diastolic_bp=_value(record, "diastolic_bp"),
        on_bp_treatment="antihypertensive" in record.medicines,
        on_lipid_treatment="lipid_lowering" in record.medicines,
        on_glucose_treatment="glucose_lowering" in record.medicines,
        ldl_mmol=_mmol(facts.get("ldl_cholesterol"), MG_DL_PER_MMOL_CHOLESTEROL),
        total_cholesterol_mmol=_mmol(facts.get("total_cholesterol"), MG_DL_PER_MMOL_CHOLESTEROL),
        hdl_mmol=_mmol(facts.get("hdl_cholesterol"), MG_DL_PER_MMOL_CHOLESTEROL),
        hba1c_percent=_value(record, "hba1c"),
        fasting_glucose_mmol=_mmol(facts.get("fasting_glucose"), MG_DL_PER_MMOL_GLUCOSE),
        bmi=_value(record, "bmi"), waist_cm=_value(record, "waist"), weight_kg=_value(record, "weight"),
        conditions=frozenset(conditions), ten_year_ascvd_risk_percent=_score(risks.get("pce-ascvd")),
        ckd_egfr=egfr, proteinuria=proteinuria)


def _drop_empty(resource: dict[str, Any]) -> None:
    """FHIR has no empty lists: a list with nothing in it is left out."""
    for name in [k for k, v in resource.items() if v == []]:
        del resource[name]


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _target(target: rules.Target, due: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if target.loinc:
        out["measure"] = {"coding": [{"system": LOINC, "code": target.loinc, "display": target.name_en}],
                          "text": target.name_zh}
    else:
        out["measure"] = {"coding": [{"system": GOAL_SYSTEM, "code": target.measure, "display": target.name_en}],
                          "text": target.name_zh}
    if target.code is not None:
        out["detailCodeableConcept"] = {"coding": [{"system": target.code.system, "code": target.code.code,
                                                    "display": target.code.display}]}
    elif target.value is not None:
        quantity: dict[str, Any] = {"value": target.value}
        if target.comparator in ("<", "<=", ">=", ">"):
            quantity["comparator"] = target.comparator
        if target.unit:
            quantity |= {"unit": service.unit_text(target.unit), "system": UCUM, "code": target.unit}
        out["detailQuantity"] = quantity
    if due:
        out["dueDate"] = due
    return out


def _goal(goal: rules.Goal, patient: str, risks: list[str], now: datetime) -> dict[str, Any]:
    due = local_day(now + timedelta(days=goal.due_in_days)).isoformat() if goal.due_in_days else None
    resource: dict[str, Any] = {
        "resourceType": "Goal", "lifecycleStatus": "proposed",
        "description": {"coding": [{"system": GOAL_SYSTEM, "code": goal.key, "display": goal.name_en}],
                        "text": goal.name_zh},
        "subject": {"reference": patient}, "startDate": local_day(now).isoformat(),
        "target": [_target(t, due) for t in goal.targets],
        "addresses": [{"reference": ref} for ref in risks],
        "note": [{"text": goal.text_en}, {"text": goal.text_zh}],
        "extension": [{"url": SOURCE_EXTENSION, "valueString": goal.source[:1000]}],
    }
    _drop_empty(resource)
    status = {"achieve": "in-progress", "maintain": "sustaining"}.get(goal.status)
    if status:
        resource["achievementStatus"] = {"coding": [{"system": ACHIEVEMENT, "code": status}]}
    return resource


def _timing(timing: rules.Timing | None) -> dict[str, Any]:
    if timing is None:
        return {}
    return {"scheduledTiming": {"repeat": {"frequency": timing.frequency, "period": timing.period,
                                           "periodUnit": timing.unit}}}


def _activity(activity: rules.Activity) -> dict[str, Any]:
    extensions = [{"url": SOURCE_EXTENSION, "valueString": activity.source[:1000]}]
    if activity.monitoring_template:
        extensions.append({"url": TEMPLATE_EXTENSION, "valueString": activity.monitoring_template})
    if activity.topic:
        extensions.append({"url": TOPIC_EXTENSION, "valueString": activity.topic})
    return {"extension": extensions, "detail": {
        "code": {"coding": [{"system": ACTIVITY_SYSTEM, "code": activity.key, "display": activity.text_en[:250]}],
                 "text": activity.text_zh},
        "status": "not-started", "description": activity.text_en, **_timing(activity.timing)}}


def _review(follow_up: rules.FollowUp, now: datetime) -> dict[str, Any]:
    first = now + timedelta(days=follow_up.first_review_in_days)
    return {"extension": [{"url": SOURCE_EXTENSION, "valueString": follow_up.source[:1000]}], "detail": {
        "code": {"coding": [{"system": ACTIVITY_SYSTEM, "code": REVIEW, "display": follow_up.text_en[:250]}],
                 "text": follow_up.text_zh},
        "status": "scheduled", "description": follow_up.text_en,
        "scheduledTiming": {"event": [local_day(first).isoformat()],
                            "repeat": {"frequency": 1, "period": follow_up.every_days, "periodUnit": "d"}}}}


def _notes(made: rules.Programme) -> list[dict[str, str]]:
    notes = [{"text": f"{r.text_en} / {r.text_zh}"[:1000]} for r in made.reasons]
    if made.missing:
        names = "; ".join(f"{m.name_en} ({m.name_zh})" for m in made.missing)
        notes.append({"text": f"Not known, so no goal was set from it: {names}"[:1000]})
    return notes


def draft_resources(*, patient_id: str, made: rules.Programme, risks: list[str], addresses: list[str],
                    now: datetime) -> list[dict[str, Any]]:
    """Transaction entries creating the draft CarePlan and its proposed Goals."""
    patient = f"Patient/{patient_id}"
    goals = [(_urn(), _goal(g, patient, risks, now)) for g in made.goals]
    plan = {
        "resourceType": "CarePlan", "status": "draft", "intent": "proposal",
        "instantiatesUri": [PLAN_DEFINITION],
        "category": [{"coding": [{"system": PLAN_KIND, "code": "risk-intervention",
                                  "display": "Personalised prevention programme"}], "text": "个性化干预方案"}],
        "title": "Personalised prevention programme", "subject": {"reference": patient},
        "created": format_instant(now), "period": {"start": local_day(now).isoformat()},
        "goal": [{"reference": urn} for urn, _g in goals],
        "addresses": [{"reference": ref} for ref in addresses],
        "supportingInfo": [{"reference": ref} for ref in risks],
        "activity": [*(_activity(a) for a in made.activities), _review(made.follow_up, now)],
        "note": _notes(made),
    }
    _drop_empty(plan)
    entries = [{"fullUrl": urn, "resource": goal, "request": {"method": "POST", "url": "Goal"}} for urn, goal in goals]
    entries.append({"fullUrl": _urn(), "resource": plan, "request": {"method": "POST", "url": "CarePlan"}})
    return entries


@dataclass(frozen=True, slots=True)
class Programme:
    """A resident's programme as stored: the CarePlan and its Goals, in order."""

    plan: dict[str, Any]
    goals: list[dict[str, Any]]


def _transaction(ctx: AccessContext, entries: list[dict[str, Any]]) -> dict[str, Any]:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    try:
        answer = gateway.serve(ctx, FhirRequest(method="POST", path="", body=bundle)).body or {}
    except FhirError as exc:
        if exc.status == 412:
            raise PlanRefused(_("Someone else changed this programme after you opened it. Reload it and review it "
                                "again."), status=409) from exc
        if exc.status in (401, 403, 404):
            raise PlanRefused(_("You cannot change this patient's record."), status=403) from exc
        raise
    return answer


def programmes(ctx: AccessContext, patient_id: str) -> list[Programme]:
    """The resident's prevention programmes (draft and active first, newest first), each with its Goals."""
    plans = gateway.search(ctx, "CarePlan", [("patient", f"Patient/{patient_id}"),
                                             ("instantiates-uri", PLAN_DEFINITION), ("_count", "50"),
                                             ("_include", "CarePlan:goal")])
    found = {f"Goal/{r['id']}": r for r in plans if r.get("resourceType") == "Goal"}
    order = {"draft": 0, "active": 1}
    out = [Programme(p, [found[g["reference"]] for g in p.get("goal", []) if g.get("reference") in found])
           for p in plans if p.get("resourceType") == "CarePlan"]
    return sorted(out, key=lambda p: (order.get(p.plan.get("status", ""), 2), str(p.plan.get("created", ""))[::-1]))


def current(ctx: AccessContext, patient_id: str, *, status: str) -> Programme | None:
    """The resident's programme in a status (draft or active), if any."""
    return next((p for p in programmes(ctx, patient_id) if p.plan.get("status") == status), None)


def draft(ctx: AccessContext, patient_id: str, *, now: datetime | None = None) -> Programme:
    """Draft a programme from the resident's record and latest risks (a previous draft is revoked); returns it."""
    now = now or clock.now()
    _patient, record, current_risks = service.read_record(ctx, patient_id, now=now)
    latest = service.latest_by_method(current_risks)
    made = rules.programme(profile_of(record, latest))
    risks = [f"RiskAssessment/{r['id']}" for r in latest.values()]
    addresses = sorted({ref for group, ref in record.conditions.items()
                        if group in ("hypertension", "diabetes", "ckd", "ascvd", "atrial_fibrillation")})
    entries = draft_resources(patient_id=patient_id, made=made, risks=risks, addresses=addresses, now=now)
    old = current(ctx, patient_id, status="draft")
    if old is not None:
        entries += _retire(old, plan_status="revoked", goal_status="cancelled")
    _transaction(ctx, entries)
    made_now = current(ctx, patient_id, status="draft")
    assert made_now is not None
    return made_now


def _update(resource: dict[str, Any]) -> dict[str, Any]:
    version = (resource.get("meta") or {}).get("versionId")
    request = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
    if version:
        request["ifMatch"] = f'W/"{version}"'
    return {"fullUrl": f"{resource['resourceType']}/{resource['id']}", "resource": resource, "request": request}


def _retire(old: Programme, *, plan_status: str, goal_status: str) -> list[dict[str, Any]]:
    goals = [_update({**g, "lifecycleStatus": goal_status}) for g in old.goals
             if g.get("lifecycleStatus") in ("proposed", "active", "accepted", "planned")]
    return [*goals, _update({**old.plan, "status": plan_status})]


def next_review(plan: dict[str, Any], today: date) -> date | None:
    """The programme's next review day on or after today: the first review, then every interval after it."""
    review = next((a for a in plan.get("activity") or [] if activity_key(a) == REVIEW), None)
    timing = ((review or {}).get("detail") or {}).get("scheduledTiming") or {}
    try:
        first = date.fromisoformat(str((timing.get("event") or [""])[0])[:10])
    except ValueError:
        return None
    every = int((timing.get("repeat") or {}).get("period") or 0)
    if first >= today or every <= 0:
        return first
    return first + timedelta(days=-(-(today - first).days // every) * every)


def ask_for_monitoring(conn: Connection, programme: Programme) -> str | None:
    """Queue home monitoring for the templates the active programme's kept activities name (the family health
    module's job MONITORING_JOB assigns them); the job's id, or None when no activity asks for monitoring."""
    templates = sorted({e.get("valueString", "") for a in programme.plan.get("activity") or []
                        for e in a.get("extension", []) if e.get("url") == TEMPLATE_EXTENSION and e.get("valueString")})
    if not templates:
        return None
    patient = str((programme.plan.get("subject") or {}).get("reference", "")).removeprefix("Patient/")
    return enqueue(conn, kind=MONITORING_JOB, payload={"patient": patient, "templates": templates},
                   key=f"programme:{programme.plan.get('id')}:monitoring")


def goal_key(goal: dict[str, Any]) -> str:
    """The programme rule a Goal was made from."""
    return next((c.get("code", "") for c in (goal.get("description") or {}).get("coding", [])
                 if c.get("system") == GOAL_SYSTEM), "")


def activity_key(activity: dict[str, Any]) -> str:
    """The programme rule an activity was made from."""
    return next((c.get("code", "") for c in ((activity.get("detail") or {}).get("code") or {}).get("coding", [])
                 if c.get("system") == ACTIVITY_SYSTEM), "")


def target_key(goal: dict[str, Any], target: dict[str, Any]) -> str:
    """The name of a numeric target's form field: goal key and measure code."""
    measure = next((c.get("code", "") for c in (target.get("measure") or {}).get("coding", [])), "")
    return f"{goal_key(goal)}:{measure}"


def _adjusted(goal: dict[str, Any], targets: dict[str, str]) -> dict[str, Any]:
    changed = []
    for target in goal.get("target") or []:
        quantity = target.get("detailQuantity")
        name = target_key(goal, target)
        if quantity is None or name not in targets or targets[name].strip() == "":
            changed.append(target)
            continue
        text = targets[name].strip()[:12]
        low, high = TARGET_LIMITS.get(str(quantity.get("code", "")), (0, 10_000))
        try:
            value = float(text)
        except ValueError:
            raise PlanRefused(_("A target must be a number."), field=name) from None
        if not low <= value <= high:
            raise PlanRefused(_("A target must be from {low} to {high} {unit}.").format(
                low=f"{low:g}", high=f"{high:g}", unit=quantity.get("unit", "")), field=name)
        kept = int(value) if value.is_integer() else round(value, 2)  # 140 stays "140", not "140.0"
        changed.append({**target, "detailQuantity": {**quantity, "value": kept}})
    return {**goal, "target": changed}


def accept(ctx: AccessContext, patient_id: str, plan_id: str, *, keep_goals: set[str], keep_activities: set[str],
           targets: dict[str, str], now: datetime | None = None) -> Programme:
    """Make a reviewed draft the resident's active programme: kept goals active (targets as the doctor set them),
    dropped goals rejected, dropped activities removed; the previous active programme is revoked."""
    now = now or clock.now()
    proposed = current(ctx, patient_id, status="draft")
    if proposed is None or proposed.plan.get("id") != plan_id:
        raise PlanRefused(_("This draft programme is no longer waiting for review."), status=409)
    kept = [g for g in proposed.goals if goal_key(g) in keep_goals]
    activities = [a for a in proposed.plan.get("activity") or []
                  if activity_key(a) in keep_activities or activity_key(a) == REVIEW]
    if not kept and len(activities) <= 1:
        raise PlanRefused(_("Keep at least one goal or activity, or leave the draft for later."))
    today = local_day(now).isoformat()
    entries = [_update({**_adjusted(g, targets), "lifecycleStatus": "active", "statusDate": today}) for g in kept]
    entries += [_update({**g, "lifecycleStatus": "rejected", "statusDate": today})
                for g in proposed.goals if g not in kept]
    plan = {**proposed.plan, "status": "active", "intent": "plan", "activity": activities,
            "goal": [{"reference": f"Goal/{g['id']}"} for g in kept], "period": {"start": today}}
    if ctx.fhir_user and ctx.fhir_user.startswith("Practitioner/"):
        plan["author"] = {"reference": ctx.fhir_user}
    previous = current(ctx, patient_id, status="active")
    if previous is not None:
        plan["replaces"] = [{"reference": f"CarePlan/{previous.plan['id']}"}]
        entries += _retire(previous, plan_status="revoked", goal_status="cancelled")
    entries.append(_update(plan))
    _transaction(ctx, entries)
    active = current(ctx, patient_id, status="active")
    assert active is not None
    return active
