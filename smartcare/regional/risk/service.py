"""Disease risk for a resident: run the record-based calculators and keep each result as a FHIR RiskAssessment.

A RiskAssessment names its calculator (`method`), the resources its inputs came from (`basis`, the provenance), the
inputs themselves (an extension, so a later run can tell whether anything changed), the value and category
(`prediction`) and the warnings (`note`). A calculator with inputs missing writes nothing and says which are missing.
Reading and writing go through the access policy as the caller: a doctor on demand, the system in the region's batch.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.fhir import gateway, tables
from smartcare.fhir.http import FhirRequest
from smartcare.knowledge import scores
from smartcare.platform import clock
from smartcare.platform.clock import format_instant
from smartcare.platform.security.context import AccessContext
from smartcare.regional.risk import inputs as record_inputs

LOCAL = "https://smartcare.example/fhir/"
METHOD_SYSTEM = LOCAL + "CodeSystem/risk-calculator"
CATEGORY_SYSTEM = LOCAL + "CodeSystem/risk-category"
OUTCOME_SYSTEM = LOCAL + "CodeSystem/risk-outcome"
INPUTS_EXTENSION = LOCAL + "StructureDefinition/risk-inputs"
SCORE_EXTENSION = LOCAL + "StructureDefinition/risk-score"
# The resource types whose change can change a risk, and the searches that read a record's inputs.
INPUT_TYPES = ("Patient", "Observation", "Condition", "MedicationRequest", "MedicationStatement", "FamilyMemberHistory")
# How UCUM units are written for people (the code stays in Quantity.code); annotations like {score} are not units.
UNIT_TEXT = {"mm[Hg]": "mmHg", "mL/min/{1.73_m2}": "mL/min/1.73 m²", "kg/m2": "kg/m²", "{score}": "", "{grade}": "",
             "min/wk": "min/week", "g/d": "g/day"}


def unit_text(ucum: str) -> str:
    """A UCUM unit as people write it."""
    return UNIT_TEXT.get(ucum, ucum)


OUTCOMES = {
    "pce-ascvd": ("First hard atherosclerotic cardiovascular event within 10 years", "10年内首次动脉粥样硬化性心血管病事件", 10),
    "cds-diabetes-risk": ("Undiagnosed type 2 diabetes", "未诊断的2型糖尿病", None),
    "kdigo-ckd": ("Progression and complications of chronic kidney disease", "慢性肾脏病进展及并发症", None),
    "cha2ds2-vasc": ("Stroke or systemic embolism in atrial fibrillation", "房颤患者卒中或系统性栓塞", 1),
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one calculator for one resident: assessed, unchanged, missing inputs, or not applicable."""

    calculator: str
    status: str  # assessed | unchanged | missing | not_applicable | refused
    result: scores.Result | None = None
    missing: tuple[str, ...] = ()
    reason: str = ""
    risk_assessment: str = ""  # RiskAssessment/<id> written or kept


@dataclass(frozen=True, slots=True)
class Assessment:
    """Every record-based calculator's outcome for one resident."""

    patient_id: str
    outcomes: tuple[Outcome, ...] = field(default_factory=tuple)

    @property
    def written(self) -> int:
        """How many RiskAssessments this run wrote."""
        return sum(o.status == "assessed" for o in self.outcomes)


def _all(ctx: AccessContext, res_type: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return gateway.search(ctx, res_type, [*query, ("_count", "500")])


def read_record(ctx: AccessContext, patient_id: str, *, now: datetime) -> tuple[dict[str, Any], record_inputs.Record,
                                                                                   list[dict[str, Any]]]:
    """The resident's Patient, the facts their record holds now, and their current RiskAssessments."""
    patient = gateway.read(ctx, f"Patient/{patient_id}")
    subject = [("patient", f"Patient/{patient_id}")]
    loinc = ",".join(f"http://loinc.org|{code}" for spec in record_inputs.codes()["observations"].values()
                     for code in spec["codes"])
    oldest = max(spec["max_age_days"] for spec in record_inputs.codes()["observations"].values())
    since = (now - timedelta(days=oldest)).date().isoformat()
    resources = [
        *_all(ctx, "Observation", [*subject, ("combo-code", loinc), ("date", f"ge{since}"), ("_sort", "-date")]),
        *_all(ctx, "Condition", subject),
        *_all(ctx, "MedicationRequest", [*subject, ("status", "active")]),
        *_all(ctx, "MedicationStatement", [*subject, ("status", "active")]),
        *_all(ctx, "FamilyMemberHistory", subject),
    ]
    record = record_inputs.read_record(patient=patient, resources=resources, today=now.date())
    current = _all(ctx, "RiskAssessment", [*subject, ("status", "final")])
    return patient, record, current


def _score_quantity(result: scores.Result) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": result.value, "system": "http://unitsofmeasure.org", "code": result.unit}
    if unit_text(result.unit):  # a score has no unit to write ({score} is a UCUM annotation)
        quantity["unit"] = unit_text(result.unit)
    return quantity


def _inputs_of(risk: dict[str, Any]) -> dict[str, Any] | None:
    for ext in risk.get("extension") or []:
        if ext.get("url") == INPUTS_EXTENSION:
            try:
                return json.loads(ext.get("valueString") or "null")
            except ValueError:
                return None
    return None


def _method(risk: dict[str, Any]) -> str:
    return next((c.get("code", "") for c in (risk.get("method") or {}).get("coding", [])
                 if c.get("system") == METHOD_SYSTEM), "")


def latest_by_method(risks: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The most recent RiskAssessment of each calculator."""
    latest: dict[str, dict[str, Any]] = {}
    for risk in risks:
        method = _method(risk)
        if method and str(risk.get("occurrenceDateTime", "")) >= str(latest.get(method, {}).get("occurrenceDateTime", "")):
            latest[method] = risk
    return latest


def to_fhir(*, patient_id: str, prepared: record_inputs.Prepared, result: scores.Result,
            now: datetime) -> dict[str, Any]:
    """The RiskAssessment of one calculator's result for a resident."""
    calculator = scores.CALCULATORS[prepared.calculator]
    outcome_en, outcome_zh, years = OUTCOMES[prepared.calculator]
    prediction: dict[str, Any] = {
        "outcome": {"coding": [{"system": OUTCOME_SYSTEM, "code": calculator.name, "display": outcome_en}],
                    "text": outcome_zh},
        "qualitativeRisk": {"coding": [{"system": CATEGORY_SYSTEM, "code": result.category,
                                        "display": calculator.label(result.category)}],
                            "text": calculator.label(result.category, zh=True)},
        "rationale": f"{calculator.title}: {result.value:g} {unit_text(result.unit)}".strip()[:500],
    }
    if result.unit == "%":
        prediction["probabilityDecimal"] = round(result.value / 100, 4)
    if years:
        prediction["whenRange"] = {"high": {"value": years, "unit": "years", "system": "http://unitsofmeasure.org",
                                            "code": "a"}}
    notes = [{"text": note.text} for note in result.warnings]
    notes.append({"text": f"Source: {result.source}"[:1000]})
    return {
        "resourceType": "RiskAssessment",
        "status": "final",
        "subject": {"reference": f"Patient/{patient_id}"},
        "occurrenceDateTime": format_instant(now),
        "code": {"coding": [{"system": OUTCOME_SYSTEM, "code": calculator.name, "display": outcome_en}],
                 "text": outcome_zh},
        "method": {"coding": [{"system": METHOD_SYSTEM, "code": calculator.name, "display": calculator.title}],
                   "text": calculator.title},
        "basis": [{"reference": ref} for ref in prepared.basis],
        "prediction": [prediction],
        "note": notes,
        "extension": [
            {"url": INPUTS_EXTENSION, "valueString": json.dumps(prepared.inputs, sort_keys=True, ensure_ascii=False)},
            {"url": SCORE_EXTENSION, "valueQuantity": _score_quantity(result)},
        ],
    }


def _run(prepared: record_inputs.Prepared) -> tuple[scores.Result | None, str]:
    try:
        return scores.calculate(prepared.calculator, prepared.inputs), ""
    except (scores.ScoreInputError, scores.NotApplicable) as exc:
        return None, str(exc)


def decide(patient_id: str, record: record_inputs.Record, current: list[dict[str, Any]], *,
           now: datetime) -> list[tuple[Outcome, dict[str, Any] | None]]:
    """Each record-based calculator's outcome for a resident, with the RiskAssessment to write where inputs changed."""
    latest = latest_by_method(current)
    decided: list[tuple[Outcome, dict[str, Any] | None]] = []
    for prepared in record_inputs.prepare(record):
        if prepared.not_applicable:
            decided.append((Outcome(prepared.calculator, "not_applicable", reason=prepared.not_applicable), None))
            continue
        if prepared.missing:
            decided.append((Outcome(prepared.calculator, "missing", missing=prepared.missing), None))
            continue
        result, refusal = _run(prepared)
        if result is None:
            decided.append((Outcome(prepared.calculator, "refused", reason=refusal), None))
            continue
        held = latest.get(prepared.calculator)
        if held is not None and _inputs_of(held) == json.loads(json.dumps(prepared.inputs, sort_keys=True)):
            decided.append((Outcome(prepared.calculator, "unchanged", result,
                                    risk_assessment=f"RiskAssessment/{held.get('id', '')}"), None))
            continue
        body = to_fhir(patient_id=patient_id, prepared=prepared, result=result, now=now)
        decided.append((Outcome(prepared.calculator, "assessed", result), body))
    return decided


def assess(ctx: AccessContext, patient_id: str, *, now: datetime | None = None) -> Assessment:
    """Run every record-based calculator for one resident and write a RiskAssessment where the inputs changed."""
    now = now or clock.now()
    _patient, record, current = read_record(ctx, patient_id, now=now)
    outcomes = []
    for outcome, body in decide(patient_id, record, current, now=now):
        if body is not None:
            written = gateway.serve(ctx, FhirRequest(method="POST", path="RiskAssessment", body=body)).body or {}
            outcome = replace(outcome, risk_assessment=f"RiskAssessment/{written.get('id', '')}")
        outcomes.append(outcome)
    return Assessment(patient_id, tuple(outcomes))


def changed_patients(conn: Connection, *, since: datetime, limit: int = 10_000) -> list[str]:
    """Residents with a record that could change a risk (an input resource) written since a moment."""
    resource, ref = tables.resource, tables.idx_reference
    stamp = format_instant(since)
    touched = sa.select(ref.c.target_id).select_from(resource.join(ref, ref.c.res_pk == resource.c.pk)).where(
        resource.c.res_type.in_(INPUT_TYPES[1:]), resource.c.last_updated >= stamp,
        ref.c.param.in_(("subject", "patient")), ref.c.target_type == "Patient")
    patients = sa.select(resource.c.res_id).where(resource.c.res_type == "Patient", resource.c.last_updated >= stamp,
                                                  resource.c.deleted.is_(False))
    query = sa.union(touched, patients).limit(limit)
    return sorted({row[0] for row in conn.execute(query)})


def all_patients(conn: Connection) -> list[str]:
    """Every resident in the store."""
    resource = tables.resource
    return [row[0] for row in conn.execute(sa.select(resource.c.res_id).where(
        resource.c.res_type == "Patient", resource.c.deleted.is_(False)).order_by(resource.c.res_id))]
