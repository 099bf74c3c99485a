"""Progress towards a programme's goals: each target's readings over time, the latest one and whether it is met."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from smartcare.fhir import gateway
from smartcare.platform import clock
from smartcare.platform.security.context import AccessContext
from smartcare.regional.risk import plans

LOINC = "http://loinc.org"
HISTORY = timedelta(days=730)
MOST_POINTS = 60
_CHECKS = {"<": lambda v, t: v < t, "<=": lambda v, t: v <= t, ">": lambda v, t: v > t, ">=": lambda v, t: v >= t}


@dataclass(slots=True)
class TargetProgress:
    """One target of a goal: what is measured, the target, the readings and whether the latest meets it."""

    key: str  # goal key and measure code, as in the review form
    code: str
    name: str
    name_zh: str
    comparator: str
    target: float | None
    target_code: str
    unit: str
    points: list[tuple[str, float]] = field(default_factory=list)
    latest: str = ""  # the latest value as shown (a number, or the coded answer's display)
    latest_on: str = ""
    met: bool | None = None


def _code_of(concept: dict[str, Any] | None) -> str:
    return next((c.get("code", "") for c in (concept or {}).get("coding", []) if c.get("code")), "")


def _readings(observation: dict[str, Any], code: str) -> Any:
    if code in {c.get("code") for c in (observation.get("code") or {}).get("coding", []) if c.get("system") == LOINC}:
        if "valueQuantity" in observation:
            return (observation["valueQuantity"] or {}).get("value")
        return observation.get("valueCodeableConcept")
    for component in observation.get("component") or []:
        if code in {c.get("code") for c in (component.get("code") or {}).get("coding", [])}:
            return (component.get("valueQuantity") or {}).get("value")
    return None


def _target(goal: dict[str, Any], target: dict[str, Any]) -> TargetProgress:
    measure = target.get("measure") or {}
    coding = next(iter(measure.get("coding") or [{}]))
    quantity = target.get("detailQuantity") or {}
    return TargetProgress(
        key=plans.target_key(goal, target), code=str(coding.get("code", "")),
        name=str(coding.get("display", "")), name_zh=str(measure.get("text", "")),
        comparator=str(quantity.get("comparator", "=")) if quantity else "=",
        target=quantity.get("value") if isinstance(quantity.get("value"), int | float) else None,
        target_code=_code_of(target.get("detailCodeableConcept")), unit=str(quantity.get("unit", "")))


def _judge(progress: TargetProgress, observations: list[dict[str, Any]]) -> None:
    for observation in observations:
        value = _readings(observation, progress.code)
        when = clock.wall_clock(str(observation.get("effectiveDateTime") or ""))[:10]  # the region's day
        if value is None or not when:
            continue
        if isinstance(value, int | float):
            progress.points.append((when, float(value)))
            progress.latest, progress.latest_on = f"{value:g}", when
            if progress.target is not None:
                progress.met = _CHECKS.get(progress.comparator, lambda v, t: v == t)(float(value), progress.target)
        elif isinstance(value, dict):
            progress.latest = next((c.get("display") or c.get("code") for c in value.get("coding", [])), "")
            progress.latest_on = when
            progress.met = bool(progress.target_code) and _code_of(value) == progress.target_code
    progress.points = progress.points[-MOST_POINTS:]


def goal_progress(ctx: AccessContext, patient_id: str, goals: list[dict[str, Any]], *,
                  now: datetime) -> list[tuple[dict[str, Any], list[TargetProgress]]]:
    """Each goal with its targets' progress from the resident's observations of the last two years (oldest first)."""
    targets = [(goal, [_target(goal, t) for t in goal.get("target") or []]) for goal in goals]
    codes = sorted({t.code for _g, ts in targets for t in ts if t.code and not t.code.startswith("http")})
    if codes:
        observations = gateway.search(ctx, "Observation", [
            ("patient", f"Patient/{patient_id}"), ("combo-code", ",".join(f"{LOINC}|{c}" for c in codes)),
            ("date", f"ge{(now - HISTORY).date().isoformat()}"), ("_sort", "date"), ("_count", "500")])
        for _goal, ts in targets:
            for progress in ts:
                _judge(progress, observations)
    return targets
