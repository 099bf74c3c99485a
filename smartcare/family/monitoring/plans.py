"""Monitoring plans: a template (data/plan_templates.yaml) assigned to a patient as a FHIR CarePlan.

The CarePlan names the template (`instantiatesUri`), the readings asked for and how often (`activity.detail` with
the reading's code and a daily `scheduledTiming`), the designated family caregivers (`contributor`, RelatedPersons),
the care team (`careTeam`) and, in an extension, the rules with the care team's adjusted thresholds as JSON, so an
alert is judged by the thresholds in force when the reading came and every change is in the plan's history.
"""

import json
import re
import threading
import time
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.family.monitoring import rules
from smartcare.fhir import gateway
from smartcare.fhir.audit_trail import record_served
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.platform import clock, events
from smartcare.platform.security.context import SYSTEM, AccessContext

LOCAL = "https://smartcare.example/fhir/"
LOINC = "http://loinc.org"
PLAN_CATEGORY = {"system": LOCAL + "CodeSystem/care-plan-category", "code": "remote-monitoring",
                 "display": "Remote patient monitoring"}
TEMPLATE_URI = LOCAL + "monitoring-template/"
RULES_EXTENSION = LOCAL + "StructureDefinition/monitoring-rules"
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_REF = re.compile(r"(RelatedPerson|CareTeam)/[A-Za-z0-9\-.]{1,64}")
MAX_REFERENCES = 10


class PlanError(ValueError):
    """A plan that cannot be assigned as asked (unknown template or patient id, bad thresholds or references)."""


def serve(conn: Connection, freq: FhirRequest, ctx: AccessContext = SYSTEM) -> dict[str, Any]:
    """A FHIR interaction inside the caller's transaction, decided by the policy and audited like the gateway's."""
    response = dispatch(conn, ctx, freq)
    record_served(conn, ctx, freq, response)
    return response.body or {}


def search(conn: Connection, res_type: str, query: list[tuple[str, str]],
           ctx: AccessContext = SYSTEM) -> list[dict[str, Any]]:
    """Resources of res_type matching query, as ctx may see them, inside the caller's transaction."""
    bundle = serve(conn, FhirRequest(method="GET", path=res_type, query=query), ctx)
    return [e["resource"] for e in bundle.get("entry", []) if e.get("resource", {}).get("resourceType") == res_type]


def template(name: str) -> dict[str, Any]:
    """One plan template with its name; PlanError for an unknown one."""
    found = rules.catalogue()["templates"].get(name)
    if found is None:
        raise PlanError(f"there is no monitoring template {name[:40]!r}; choose one of "
                        f"{', '.join(rules.catalogue()['templates'])}")
    return {**found, "id": name}


def plan_rules(name: str, adjustments: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The rules of template name with the care team's adjustments ({rule id: {threshold: value}})."""
    chosen = template(name)
    adjustments = adjustments or {}
    unknown = sorted(set(adjustments) - set(chosen["rules"]))
    if unknown:
        raise PlanError(f"the {name} template has no rule {unknown[0][:40]!r}")
    try:
        return [rules.adjusted(rules.rule(r), adjustments.get(r) or {}) for r in chosen["rules"]]
    except rules.RuleError as exc:
        raise PlanError(str(exc)) from exc


def _reading_code(kind: str) -> dict[str, Any]:
    spec = rules.catalogue()["readings"][kind]
    return {"coding": [{"system": spec.get("system", LOINC), "code": spec["code"]}], "text": kind}


def care_plan(*, patient_id: str, name: str, plan: list[dict[str, Any]], caregivers: list[str],
              care_teams: list[str], start: str) -> dict[str, Any]:
    """The CarePlan of template name with its resolved rules for one patient."""
    chosen = template(name)
    resource: dict[str, Any] = {
        "resourceType": "CarePlan", "status": "active", "intent": "plan",
        "category": [{"coding": [PLAN_CATEGORY]}], "title": f"Remote monitoring: {chosen['name']}",
        "instantiatesUri": [TEMPLATE_URI + name], "subject": {"reference": f"Patient/{patient_id}"},
        "period": {"start": start}, "created": start,
        "description": str(chosen["source"])[:1000],
        "activity": [{"detail": {"status": "scheduled", "code": _reading_code(r["type"]),
                                 "scheduledTiming": {"repeat": {"frequency": r["per_day"], "period": 1,
                                                                "periodUnit": "d"}}}}
                     for r in chosen["readings"]],
        "extension": [{"url": RULES_EXTENSION, "valueString": json.dumps(plan, ensure_ascii=False)}],
    }
    if caregivers:
        resource["contributor"] = [{"reference": r} for r in caregivers]
    if care_teams:
        resource["careTeam"] = [{"reference": r} for r in care_teams]
    return resource


def _references(values: list[str] | None, kind: str) -> list[str]:
    values = list(values or [])
    if len(values) > MAX_REFERENCES or not all(isinstance(v, str) and _REF.fullmatch(v) and v.startswith(kind)
                                               for v in values):
        raise PlanError(f"list at most {MAX_REFERENCES} {kind} references like {kind}/abc")
    return values


def assign_plan(ctx: AccessContext, *, patient_id: str, template_name: str,
                adjustments: dict[str, dict[str, Any]] | None = None, caregivers: list[str] | None = None,
                care_teams: list[str] | None = None) -> dict[str, Any]:
    """Give a patient a monitoring plan from a template (replacing their active plan of that template), as ctx."""
    if not _ID.fullmatch(patient_id or ""):
        raise PlanError("a patient id is 1-64 letters, digits, '-' or '.'")
    resolved = plan_rules(template_name, adjustments)
    resource = care_plan(patient_id=patient_id, name=template_name, plan=resolved,
                         caregivers=_references(caregivers, "RelatedPerson"),
                         care_teams=_references(care_teams, "CareTeam"),
                         start=clock.format_instant(clock.now()))
    current = [p for p in gateway.search(ctx, "CarePlan", [("patient", f"Patient/{patient_id}"), ("status", "active"),
                                                           ("instantiates-uri", TEMPLATE_URI + template_name)])]
    if current:
        plan_id = current[0]["id"]
        resource = {**resource, "id": plan_id, "period": current[0].get("period", resource["period"])}
        return gateway.serve(ctx, FhirRequest(method="PUT", path=f"CarePlan/{plan_id}", body=resource)).body or {}
    return gateway.serve(ctx, FhirRequest(method="POST", path="CarePlan", body=resource)).body or {}


def rules_of(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The rules a CarePlan holds (none for a plan that is not a monitoring plan)."""
    for extension in plan.get("extension", []):
        if extension.get("url") == RULES_EXTENSION:
            return json.loads(extension.get("valueString") or "[]")
    return []


def template_of(plan: dict[str, Any]) -> str | None:
    """The template name a monitoring CarePlan was made from."""
    return next((u[len(TEMPLATE_URI):] for u in plan.get("instantiatesUri", []) if u.startswith(TEMPLATE_URI)), None)


def active_plans(conn: Connection, patient: str, ctx: AccessContext = SYSTEM) -> list[dict[str, Any]]:
    """The patient's active monitoring CarePlans (patient as Patient/id)."""
    found = search(conn, "CarePlan", [("patient", patient), ("status", "active"),
                                      ("category", f"{PLAN_CATEGORY['system']}|{PLAN_CATEGORY['code']}"),
                                      ("_count", "20")], ctx)
    return [p for p in found if rules_of(p)]


# Readings come by the thousand a second and most patients' plans change rarely: judging keeps each patient's active
# plans for a minute. A plan written in this process is seen at once (the cache is dropped on every CarePlan write);
# one written by another process (the web server, while `smartcare devices listen` judges) within PLAN_CACHE_SECONDS.
PLAN_CACHE_SECONDS = 60.0
_plan_cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}
_plan_cache_lock = threading.Lock()


def kept_plans(patient: str) -> list[dict[str, Any]] | None:
    """The patient's active plans if kept and fresh, else None (no database needed to ask)."""
    with _plan_cache_lock:
        hit = _plan_cache.get(patient)
    return hit[1] if hit is not None and time.monotonic() - hit[0] < PLAN_CACHE_SECONDS else None


def active_plans_cached(conn: Connection, patient: str) -> list[dict[str, Any]]:
    """active_plans as the platform sees them, kept for PLAN_CACHE_SECONDS (for judging stored readings)."""
    kept = kept_plans(patient)
    if kept is not None:
        return kept
    now = time.monotonic()
    found = active_plans(conn, patient)
    with _plan_cache_lock:
        if len(_plan_cache) > 100_000:
            _plan_cache.clear()
        _plan_cache[patient] = (now, found)
    return found


def forget_cached_plans(event: events.DomainEvent | None = None) -> None:
    """Drop the kept plans (after a CarePlan write, or when a test changes the world under them)."""
    if event is None or event.payload.get("type") == "CarePlan":
        with _plan_cache_lock:
            _plan_cache.clear()


for _name in ("ResourceCreated", "ResourceUpdated", "ResourceDeleted"):
    events.subscribe(_name, forget_cached_plans)


def expected_per_day(plan: dict[str, Any]) -> dict[str, float]:
    """How many readings of each kind a plan asks for per day."""
    out: dict[str, float] = {}
    for activity in plan.get("activity", []):
        detail = activity.get("detail") or {}
        kind = (detail.get("code") or {}).get("text")
        repeat = (detail.get("scheduledTiming") or {}).get("repeat") or {}
        if kind and repeat.get("frequency"):
            out[kind] = out.get(kind, 0) + float(repeat["frequency"]) / float(repeat.get("period") or 1)
    return out
