"""From a resident's record to a calculator's inputs: the latest recent value of each, where it came from, what is missing.

Pure functions over FHIR resource dicts. A value too old (data/inputs.yaml) or in a unit the calculator does not take
is not used; an input not found is reported missing, never guessed.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from smartcare.knowledge import calculators, scores

DATA = Path(__file__).parent / "data" / "inputs.yaml"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ATC = "http://www.whocc.no/atc"
INACTIVE = {"inactive", "resolved", "remission", "entered-in-error"}
# Calculators run on records: each needs facts found in a record (FINDRISC and HAS-BLED ask about lifestyle and
# history a record rarely holds; they stay on the form and the API).
FROM_RECORDS = ("pce-ascvd", "cds-diabetes-risk", "kdigo-ckd", "cha2ds2-vasc")


@cache
def codes() -> dict[str, Any]:
    """The codes, units and maximum ages of each input, as data."""
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class Fact:
    """One input's value as found in the record: the value, its unit, when it was taken and the resource holding it."""

    value: Any
    unit: str = ""
    when: str = ""
    reference: str = ""


@dataclass(slots=True)
class Record:
    """What a record says about one person on a day: facts by name, and the condition and medicine groups held."""

    today: date
    facts: dict[str, Fact] = field(default_factory=dict)
    conditions: dict[str, str] = field(default_factory=dict)  # group -> Condition reference
    medicines: dict[str, str] = field(default_factory=dict)  # group -> MedicationRequest/Statement reference
    family_diabetes: str | None = None  # FamilyMemberHistory reference, when a first-degree relative has diabetes
    family_history_recorded: bool = False


@dataclass(frozen=True, slots=True)
class Prepared:
    """A calculator's inputs from a record, the resources they came from, and what stops it."""

    calculator: str
    inputs: dict[str, Any]
    basis: tuple[str, ...]
    missing: tuple[str, ...] = ()  # input names not found (or too old)
    not_applicable: str = ""  # why the calculator does not apply to this person

    @property
    def ready(self) -> bool:
        """True when the calculator can run."""
        return not self.missing and not self.not_applicable


def _codings(concept: dict[str, Any] | None, system: str) -> list[str]:
    return [str(c.get("code", "")) for c in (concept or {}).get("coding", []) if c.get("system") == system]


def _when(observation: dict[str, Any]) -> str:
    return str(observation.get("effectiveDateTime") or (observation.get("effectivePeriod") or {}).get("start")
               or observation.get("issued") or "")


def _quantities(observation: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    """(LOINC code, valueQuantity) pairs of an observation and of its components."""
    for code in _codings(observation.get("code"), LOINC):
        if isinstance(observation.get("valueQuantity"), dict):
            yield code, observation["valueQuantity"]
    for component in observation.get("component") or []:
        for code in _codings(component.get("code"), LOINC):
            if isinstance(component.get("valueQuantity"), dict):
                yield code, component["valueQuantity"]


def _day(text: Any) -> date | None:
    try:
        return date.fromisoformat(str(text or "")[:10])
    except ValueError:
        return None


def _recent(when: str, today: date, max_age_days: int) -> bool:
    taken = _day(when)
    return taken is not None and today - timedelta(days=max_age_days) <= taken <= today


def _keep(record: Record, name: str, fact: Fact) -> None:
    held = record.facts.get(name)
    if held is None or fact.when > held.when:
        record.facts[name] = fact


def _observation_facts(record: Record, observation: dict[str, Any]) -> None:
    if observation.get("status") not in ("final", "amended", "corrected"):
        return
    when, ref = _when(observation), f"Observation/{observation.get('id', '')}"
    wanted = codes()["observations"]
    for name, spec in wanted.items():
        if not _recent(when, record.today, spec["max_age_days"]):
            continue
        if name == "smoking_status":
            if set(_codings(observation.get("code"), LOINC)) & set(spec["codes"]):
                answer = set(_codings(observation.get("valueCodeableConcept"), SNOMED))
                smoking = codes()["smoking"]
                if answer & set(smoking["current"]) or answer & set(smoking["not_current"]):
                    _keep(record, "smoker", Fact(bool(answer & set(smoking["current"])), "", when, ref))
            continue
        for code, quantity in _quantities(observation):
            unit = str(quantity.get("code") or quantity.get("unit") or "").replace("µ", "u").replace("μ", "u")
            if code in spec["codes"] and unit in spec["units"] and isinstance(quantity.get("value"), int | float):
                _keep(record, name, Fact(quantity["value"], unit, when, ref))


def _active(resource: dict[str, Any], status_field: str) -> bool:
    status = resource.get(status_field)
    code = next(iter(_codings(status, "http://terminology.hl7.org/CodeSystem/condition-clinical")), None) \
        if isinstance(status, dict) else status
    verification = next(iter(_codings(resource.get("verificationStatus"),
                                      "http://terminology.hl7.org/CodeSystem/condition-ver-status")), "")
    return code not in INACTIVE and verification not in ("refuted", "entered-in-error")


def _matches(code: str, prefixes: Iterable[str]) -> bool:
    return any(code.upper().startswith(p) for p in prefixes)


def read_record(*, patient: dict[str, Any], resources: Iterable[dict[str, Any]], today: date) -> Record:
    """The facts a record holds on a day: age, sex, the latest recent observations, conditions, medicines, family."""
    record = Record(today=today)
    ref = f"Patient/{patient.get('id', '')}"
    born = _day(patient.get("birthDate"))
    if born is not None:  # a year-only or unreadable birth date leaves the age missing, to be reported
        record.facts["age"] = Fact(calculators.age_in_years(born, today), "a", "", ref)
    if patient.get("gender") in ("female", "male"):
        record.facts["sex"] = Fact(patient["gender"], "", "", ref)
    groups = codes()
    for resource in resources:
        kind = resource.get("resourceType")
        here = f"{kind}/{resource.get('id', '')}"
        if kind == "Observation":
            _observation_facts(record, resource)
        elif kind == "Condition" and _active(resource, "clinicalStatus"):
            for code in _codings(resource.get("code"), ICD10):
                for group, prefixes in groups["conditions"].items():
                    if _matches(code, prefixes):
                        record.conditions.setdefault(group, here)
        elif kind in ("MedicationRequest", "MedicationStatement") and resource.get("status") == "active":
            concept = resource.get("medicationCodeableConcept")
            for code in _codings(concept, ATC):
                for group, prefixes in groups["medicines"].items():
                    if _matches(code, prefixes):
                        record.medicines.setdefault(group, here)
        elif kind == "FamilyMemberHistory" and resource.get("status") != "entered-in-error":
            record.family_history_recorded = True
            relation = set(_codings(resource.get("relationship"),
                                    "http://terminology.hl7.org/CodeSystem/v3-RoleCode"))
            diabetic = any(_matches(code, groups["conditions"]["diabetes"])
                           for condition in resource.get("condition") or []
                           for code in _codings(condition.get("code"), ICD10))
            if diabetic and relation & set(groups["first_degree"]):
                record.family_diabetes = here
    return record


def _measured(record: Record, name: str, basis: list[str], missing: list[str], as_input: str | None = None,
              inputs: dict[str, Any] | None = None) -> None:
    fact = record.facts.get(name)
    if fact is None:
        missing.append(as_input or name)
        return
    assert inputs is not None
    inputs[as_input or name] = {"value": fact.value, "unit": fact.unit} if fact.unit and fact.unit != "a" else fact.value
    if fact.reference and fact.reference not in basis:
        basis.append(fact.reference)


def _flag(record: Record, group: str, held: dict[str, str], basis: list[str]) -> bool:
    reference = held.get(group)
    if reference and reference not in basis:
        basis.append(reference)
    return reference is not None


def _age_applies(record: Record, calculator: str, missing: list[str]) -> str:
    """Why the person's age is outside the calculator's range ('' if inside or unknown)."""
    age = record.facts.get("age")
    if age is None:
        missing.append("age")
        return ""
    spec = next(f for f in scores.CALCULATORS[calculator].fields if f.name == "age")
    if (spec.minimum is not None and age.value < spec.minimum) or (spec.maximum is not None and age.value > spec.maximum):
        return f"age {age.value} is outside {spec.minimum:g}-{spec.maximum:g}, the ages the calculator is defined for"
    return ""


def _pce(record: Record) -> Prepared:
    basis: list[str] = []
    missing: list[str] = []
    inputs: dict[str, Any] = {"race": "other"}
    if "ascvd" in record.conditions:
        return Prepared("pce-ascvd", {}, (record.conditions["ascvd"],), not_applicable=(
            "established atherosclerotic cardiovascular disease: the equations are for primary prevention"))
    reason = _age_applies(record, "pce-ascvd", missing)
    for name in ("age", "sex", "total_cholesterol", "hdl_cholesterol", "systolic_bp", "smoker"):
        _measured(record, name, basis, missing, inputs=inputs)
    inputs["treated_hypertension"] = _flag(record, "antihypertensive", record.medicines, basis)
    inputs["diabetes"] = _flag(record, "diabetes", record.conditions, basis)
    return Prepared("pce-ascvd", inputs, tuple(basis), tuple(missing), reason)


def _cds(record: Record) -> Prepared:
    basis: list[str] = []
    missing: list[str] = []
    inputs: dict[str, Any] = {}
    if "diabetes" in record.conditions:
        return Prepared("cds-diabetes-risk", {}, (record.conditions["diabetes"],),
                        not_applicable="already known to have diabetes: the score screens for undiagnosed diabetes")
    reason = _age_applies(record, "cds-diabetes-risk", missing)
    for name in ("age", "sex", "bmi", "waist", "systolic_bp"):
        _measured(record, name, basis, missing, inputs=inputs)
    if record.family_diabetes:
        inputs["family_history"] = True
        basis.append(record.family_diabetes)
    elif record.family_history_recorded:
        inputs["family_history"] = False
    else:
        missing.append("family_history")
    return Prepared("cds-diabetes-risk", inputs, tuple(basis), tuple(missing), reason)


def _kdigo(record: Record) -> Prepared:
    basis: list[str] = []
    missing: list[str] = []
    inputs: dict[str, Any] = {}
    if "egfr" in record.facts:
        _measured(record, "egfr", basis, missing, inputs=inputs)
    elif {"creatinine", "age", "sex"} <= set(record.facts) and record.facts["age"].value >= 18:
        creatinine = record.facts["creatinine"]
        mg_dl = calculators.creatinine_mg_dl(creatinine.value, creatinine.unit)
        egfr = calculators.egfr_ckd_epi_2021(creatinine_mg_per_dl=mg_dl, age_years=record.facts["age"].value,
                                             female=record.facts["sex"].value == "female")
        inputs["egfr"] = round(egfr)
        basis.append(creatinine.reference)
    else:
        missing.append("egfr")
    _measured(record, "uacr", basis, missing, inputs=inputs)
    return Prepared("kdigo-ckd", inputs, tuple(basis), tuple(missing))


def _cha2ds2_vasc(record: Record) -> Prepared:
    if "atrial_fibrillation" not in record.conditions:
        return Prepared("cha2ds2-vasc", {}, (), not_applicable="no atrial fibrillation recorded")
    basis: list[str] = [record.conditions["atrial_fibrillation"]]
    missing: list[str] = []
    inputs: dict[str, Any] = {}
    reason = _age_applies(record, "cha2ds2-vasc", missing)
    for name in ("age", "sex"):
        _measured(record, name, basis, missing, inputs=inputs)
    for field_name, group in (("congestive_heart_failure", "heart_failure"), ("hypertension", "hypertension"),
                              ("diabetes", "diabetes"), ("stroke_tia_thromboembolism", "stroke_tia_thromboembolism"),
                              ("vascular_disease", "vascular_disease")):
        inputs[field_name] = _flag(record, group, record.conditions, basis)
    return Prepared("cha2ds2-vasc", inputs, tuple(basis), tuple(missing), reason)


PREPARERS = {"pce-ascvd": _pce, "cds-diabetes-risk": _cds, "kdigo-ckd": _kdigo, "cha2ds2-vasc": _cha2ds2_vasc}


def prepare(record: Record) -> list[Prepared]:
    """Each record-based calculator's inputs, basis, missing inputs or reason it does not apply."""
    return [PREPARERS[name](record) for name in FROM_RECORDS]
