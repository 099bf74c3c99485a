"""Chronic-disease follow-up in a health centre: registries, due lists, the recorded visit and the yearly indicators."""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.knowledge.chronic import followup
from smartcare.platform import clock
from smartcare.platform.i18n import _
from smartcare.platform.security.context import AccessContext
from smartcare.platform.settings import get_settings
from smartcare.platform.web.fhir_text import person_name

LOCAL = "https://smartcare.example/fhir/"
QUESTIONNAIRE = LOCAL + "Questionnaire/bphs-chronic-follow-up"
ENCOUNTER_TYPE = LOCAL + "CodeSystem/encounter-type"
FOLLOW_UP = "chronic-follow-up"
ANSWERS = LOCAL + "CodeSystem/bphs-follow-up"
REGISTRY_SYSTEM = LOCAL + "CodeSystem/chronic-registry"
CLASS_SYSTEM = LOCAL + "CodeSystem/follow-up-classification"
ACTION_SYSTEM = LOCAL + "CodeSystem/follow-up-action"
REASON_SYSTEM = LOCAL + "CodeSystem/follow-up-reason"
SYMPTOM_SYSTEM = LOCAL + "CodeSystem/follow-up-symptom"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ATC = "http://www.whocc.no/atc"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"
CHECKUP = SNOMED + "|185349003"  # Encounter for check up: the yearly health check
PAGE = 1000
MAX_TEXT = 500
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_ORG = re.compile(r"Organization/[A-Za-z0-9\-.]{1,64}")
_PRACTITIONER = re.compile(r"Practitioner/[A-Za-z0-9\-.]{1,64}")
# Conditions that no longer say anything about the resident.
_NOT_CONDITIONS = frozenset({"entered-in-error", "refuted"})
_ENDED_CONDITIONS = frozenset({"resolved", "inactive", "remission"})

# Plausible entries on the form (typing mistakes are refused); these are bounds of data entry, not clinical
# thresholds, which come from knowledge/chronic/data/followup.yaml.
# name: (label msgid, low, high, decimals, unit)
NUMBERS: dict[str, tuple[str, float, float, int, str]] = {
    "systolic": (_("Systolic blood pressure"), 50, 300, 0, "mmHg"),
    "diastolic": (_("Diastolic blood pressure"), 20, 200, 0, "mmHg"),
    "heart_rate": (_("Heart rate"), 20, 250, 0, "/min"),
    "fasting_glucose": (_("Fasting blood glucose"), 1.0, 40.0, 1, "mmol/L"),
    "weight": (_("Weight"), 20, 300, 1, "kg"),
    "height": (_("Height"), 80, 250, 0, "cm"),
    "cigarettes": (_("Cigarettes per day"), 0, 100, 0, ""),
    "alcohol": (_("Alcohol per day"), 0, 40, 1, "liang"),
    "exercise_sessions": (_("Exercise sessions per week"), 0, 21, 0, ""),
    "exercise_minutes": (_("Minutes per session"), 0, 600, 0, ""),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "salt": ("light", "moderate", "heavy"),
    "psychology": ("good", "fair", "poor"),
    "adherence": ("regular", "intermittent", "none"),
    "adverse_reaction": ("no", "yes"),
}
OPTIONAL_NUMBERS = frozenset({"cigarettes", "alcohol", "exercise_sessions", "exercise_minutes"})
OUT_OF_RANGE = _("{what} must be a number from {low} to {high} {unit}.")
CHOOSE = _("Choose one of the answers.")
DIASTOLIC_BELOW = _("The diastolic pressure must be lower than the systolic.")
NEEDS_GLUCOSE = _("A diabetes follow-up needs the fasting blood glucose.")
DESCRIBE_REACTION = _("Describe the adverse drug reaction.")
TOO_LONG = _("Write at most {limit} characters.")
UNKNOWN_SYMPTOM = _("Choose symptoms from the list only.")
NOT_ON_REGISTRY = _("This resident is not on that registry.")
NOT_FOUND = _("No such resident in your reach.")
NO_CENTRE = _("Your account is not linked to a health centre.")


class ChronicRefused(Exception):
    """A step that cannot be done; message is an English msgid the page shows in the reader's language."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class FollowUpInvalid(Exception):
    """The follow-up form has mistakes: field -> (English msgid, values for it); nothing was written."""

    def __init__(self, errors: dict[str, tuple[str, dict[str, Any]]]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Visit:
    """One recorded follow-up visit, read back from its QuestionnaireResponse."""

    response_id: str
    patient_id: str
    registry: str
    day: date
    classification: str
    at_target: bool | None
    next_due: date | None
    answers: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Entry:
    """A resident on one registry with their family doctor, last follow-up, schedule and yearly check."""

    patient_id: str
    name: str
    birth_date: date | None
    age: int | None
    sex: str
    practitioner: str | None
    registry: str
    registered_on: date
    reasons: tuple[followup.Reason, ...]
    due: followup.DueState
    annual: followup.AnnualCheck | None
    visits: tuple[Visit, ...]
    on: date  # the day the schedule was worked out for

    @property
    def days_overdue(self) -> int:
        """Days since the follow-up fell due (0 when it is not overdue)."""
        return max(0, (self.on - self.due.next_due).days) if self.due.status == "overdue" else 0


@dataclass(frozen=True, slots=True)
class ToConfirm:
    """A resident whose records suggest a registry that a clinician should confirm."""

    patient_id: str
    name: str
    registry: str
    reasons: tuple[followup.Reason, ...]


@dataclass(frozen=True, slots=True)
class Registry:
    """The registered residents of a health centre (one entry per registry) and those to confirm."""

    organization: str
    today: date
    entries: tuple[Entry, ...]
    to_confirm: tuple[ToConfirm, ...]
    residents: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class WorkList:
    """The doctor's patients due or overdue for follow-up, most overdue first, with counts."""

    entries: tuple[Entry, ...]
    overdue: int
    due: int
    annual_due: int
    registered: int
    to_confirm: tuple[ToConfirm, ...]


@dataclass(frozen=True, slots=True)
class Recorded:
    """What recording a follow-up produced: its class, the next due date and the new records' ids."""

    registry: str
    classification: followup.Classification
    next_due: date
    encounter_id: str
    response_id: str


def today() -> date:
    """Today in the region's time zone."""
    return clock.now().astimezone(ZoneInfo(get_settings().region_timezone)).date()


def _local_day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        if len(text) <= 10:
            return date.fromisoformat(text[:10]) if len(text) == 10 else None
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(ZoneInfo(get_settings().region_timezone)).date()


def _age(birth: date | None, on: date) -> int | None:
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _search_all(ctx: AccessContext, res_type: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Every resource of res_type matching query that ctx may see, page by page."""
    found: list[dict[str, Any]] = []
    while True:
        page = [r for r in gateway.search(ctx, res_type, [*query, ("_count", str(PAGE)),
                                                          ("_offset", str(len(found)))])
                if r.get("resourceType") == res_type]
        found += page
        if len(page) < PAGE:
            return found


def _codes(concept: Mapping[str, Any] | None, system: str) -> list[str]:
    return [c["code"] for c in (concept or {}).get("coding", []) if c.get("system") == system and c.get("code")]


def _patient_filter(organization: str, practitioner: str | None, *, chained: bool) -> list[tuple[str, str]]:
    prefix = "subject:Patient." if chained else ""
    query = [(prefix + "organization", organization)]
    if practitioner:
        query.append((prefix + "general-practitioner", practitioner))
    return query


def _evidence(ctx: AccessContext, query: list[tuple[str, str]]) -> tuple[dict[str, list], dict[str, list]]:
    """ICD-10 conditions and ATC medicines by patient id, each as (code, first recorded day)."""
    conditions: dict[str, list[tuple[str, date | None]]] = {}
    for condition in _search_all(ctx, "Condition", query):
        verification = _codes(condition.get("verificationStatus"), TERMINOLOGY + "condition-ver-status")
        clinical = _codes(condition.get("clinicalStatus"), TERMINOLOGY + "condition-clinical")
        if set(verification) & _NOT_CONDITIONS or set(clinical) & _ENDED_CONDITIONS:
            continue
        patient = (condition.get("subject") or {}).get("reference", "").removeprefix("Patient/")
        day = _local_day(condition.get("recordedDate")) or _local_day(condition.get("onsetDateTime"))
        conditions.setdefault(patient, []).extend((code, day) for code in _codes(condition.get("code"), ICD10))
    medicines: dict[str, list[tuple[str, date | None]]] = {}
    for res_type in ("MedicationRequest", "MedicationStatement"):
        for item in _search_all(ctx, res_type, [*query, ("status", "active")]):
            patient = (item.get("subject") or {}).get("reference", "").removeprefix("Patient/")
            day = _local_day(item.get("authoredOn") or item.get("effectiveDateTime")
                             or (item.get("effectivePeriod") or {}).get("start"))
            medicines.setdefault(patient, []).extend(
                (code, day) for code in _codes(item.get("medicationCodeableConcept"), ATC))
    return conditions, medicines


LISTS = frozenset({"symptoms", "actions", "reason_rules", "reasons", "reasons_zh"})


def visit_of(response: Mapping[str, Any]) -> Visit | None:
    """A follow-up visit from its QuestionnaireResponse (None for any other response)."""
    if response.get("questionnaire") != QUESTIONNAIRE:
        return None
    answers: dict[str, Any] = {}
    for item in response.get("item", []):
        values = [_answer_value(a) for a in item.get("answer", [])]
        if item.get("linkId") in LISTS:
            answers[item["linkId"]] = values
        elif values:
            answers[item.get("linkId", "")] = values[0]
    day = _local_day(response.get("authored"))
    registry = answers.get("registry")
    classification = answers.get("classification")
    if day is None or registry not in followup.REGISTRIES or classification not in followup.CLASSES:
        return None
    next_due = answers.get("next_due")
    return Visit(response_id=response.get("id", ""),
                 patient_id=(response.get("subject") or {}).get("reference", "").removeprefix("Patient/"),
                 registry=registry, day=day, classification=classification, at_target=answers.get("at_target"),
                 next_due=date.fromisoformat(next_due) if isinstance(next_due, str) else None, answers=answers)


def _answer_value(answer: Mapping[str, Any]) -> Any:
    for key, value in answer.items():
        if key == "valueCoding":
            return value.get("code")
        if key.startswith("value"):
            return value
    return None


def _visits(ctx: AccessContext, query: list[tuple[str, str]]) -> dict[tuple[str, str], list[Visit]]:
    by_key: dict[tuple[str, str], list[Visit]] = {}
    for response in _search_all(ctx, "QuestionnaireResponse", [*query, ("status", "completed")]):
        visit = visit_of(response)
        if visit is not None:
            by_key.setdefault((visit.patient_id, visit.registry), []).append(visit)
    for visits in by_key.values():
        visits.sort(key=lambda v: (v.day, v.response_id))
    return by_key


def _last_checks(ctx: AccessContext, query: list[tuple[str, str]], year: int) -> dict[str, date]:
    found: dict[str, date] = {}
    for encounter in _search_all(ctx, "Encounter", [*query, ("type", CHECKUP), ("date", f"ge{year}-01-01")]):
        patient = (encounter.get("subject") or {}).get("reference", "").removeprefix("Patient/")
        day = _local_day((encounter.get("period") or {}).get("start"))
        if day is not None and (patient not in found or day > found[patient]):
            found[patient] = day
    return found


def registry(ctx: AccessContext, *, organization: str, practitioner: str | None = None,
             on: date | None = None) -> Registry:
    """The residents a health centre manages on the hypertension and diabetes registries, with their schedule."""
    if not _ORG.fullmatch(organization or ""):
        raise ChronicRefused(NO_CENTRE, status=403)
    if practitioner is not None and not _PRACTITIONER.fullmatch(practitioner):
        raise ChronicRefused(NOT_FOUND, status=404)
    day = on or today()
    residents = _search_all(ctx, "Patient", _patient_filter(organization, practitioner, chained=False))
    chained = _patient_filter(organization, practitioner, chained=True)
    conditions, medicines = _evidence(ctx, chained)
    visits = _visits(ctx, chained)
    checks = _last_checks(ctx, chained, day.year)
    min_age = followup.rules()["registries"]["population_min_age"]
    entries: list[Entry] = []
    confirm: list[ToConfirm] = []
    for patient in residents:
        if patient.get("deceasedBoolean") or patient.get("deceasedDateTime") or patient.get("active") is False:
            continue
        pid = patient["id"]
        birth = _birth(patient)
        age = _age(birth, day)
        if age is not None and age < min_age:
            continue
        coded = conditions.get(pid, [])
        drugs = medicines.get(pid, [])
        if not coded and not drugs:
            continue
        match = followup.registries(conditions=[c for c, _ in coded], medicines=[m for m, _ in drugs])
        name = _name(patient)
        for key in sorted(match.to_confirm):
            confirm.append(ToConfirm(pid, name, key, _reasons_for(match, key)))
        for key in followup.REGISTRIES:
            if key not in match.registries:
                continue
            seen = [v for v in visits.get((pid, key), []) if v.day <= day]
            started = [d for c, d in coded if d is not None and d <= day and _registers(key, condition=c)]
            started += [d for m, d in drugs if d is not None and d <= day and _registers(key, medicine=m)]
            registered_on = min(started) if started else (seen[0].day if seen else day)
            state = followup.due_state(registered_on=registered_on,
                                       visits=[(v.day, v.classification) for v in seen], today=day)
            annual = (followup.annual_check_due(birth_date=birth, last_check=checks.get(pid), today=day,
                                                on_registry=True) if birth else None)
            entries.append(Entry(pid, name, birth, age, patient.get("gender", ""), _gp(patient), key,
                                 registered_on, _reasons_for(match, key), state, annual, tuple(seen), day))
    return Registry(organization, day, tuple(entries), tuple(confirm), tuple(residents))


def _registers(key: str, *, condition: str | None = None, medicine: str | None = None) -> bool:
    """True when this one code would put a resident on the registry (its date then counts as the start)."""
    match = followup.registries(conditions=[condition] if condition else [], medicines=[medicine] if medicine else [])
    return key in match.registries


def _reasons_for(match: followup.RegistryMatch, key: str) -> tuple[followup.Reason, ...]:
    return tuple(r for r in match.reasons if r.rule.startswith(key + ":"))


def _birth(patient: Mapping[str, Any]) -> date | None:
    text = patient.get("birthDate") or ""
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def _gp(patient: Mapping[str, Any]) -> str | None:
    refs = [g.get("reference", "") for g in patient.get("generalPractitioner", [])]
    return next((r for r in refs if r.startswith("Practitioner/")), None)


def _name(patient: Mapping[str, Any]) -> str:
    return person_name(dict(patient))


def work_list(ctx: AccessContext, *, practitioner: str | None, on: date | None = None,
              registry_key: str | None = None) -> WorkList:
    """The family doctor's registered patients due or overdue for follow-up (most overdue first), with counts."""
    if not ctx.organization:
        raise ChronicRefused(NO_CENTRE, status=403)
    found = registry(ctx, organization=ctx.organization, practitioner=practitioner, on=on)
    entries = [e for e in found.entries if registry_key in (None, e.registry)]
    waiting = sorted((e for e in entries if e.due.status in ("overdue", "due")),
                     key=lambda e: (e.due.next_due, e.name, e.registry))
    return WorkList(tuple(waiting), sum(1 for e in entries if e.due.status == "overdue"),
                    sum(1 for e in entries if e.due.status == "due"),
                    len({e.patient_id for e in entries if e.annual and e.annual.due}),
                    len(entries), tuple(c for c in found.to_confirm if registry_key in (None, c.registry)))


# --- one patient ------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PatientFile:
    """One resident's registries, visits per registry and the facts the follow-up form needs."""

    patient: dict[str, Any]
    name: str
    age: int | None
    registries: tuple[str, ...]
    reasons: dict[str, tuple[followup.Reason, ...]]
    conditions: dict[str, list[dict[str, Any]]]
    visits: dict[str, list[Visit]]
    today: date


def patient_file(ctx: AccessContext, *, patient_id: str, on: date | None = None) -> PatientFile:
    """The resident's registries and follow-up visits so far; ChronicRefused(404) when out of reach."""
    if not _ID.fullmatch(patient_id or ""):
        raise ChronicRefused(NOT_FOUND, status=404)
    try:
        patient = gateway.read(ctx, f"Patient/{patient_id}")
    except FhirError:
        raise ChronicRefused(NOT_FOUND, status=404) from None
    day = on or today()
    query = [("subject", f"Patient/{patient_id}")]
    conditions, medicines = _evidence(ctx, query)
    coded = conditions.get(patient_id, [])
    match = followup.registries(conditions=[c for c, _ in coded],
                                medicines=[m for m, _ in medicines.get(patient_id, [])])
    visits = _visits(ctx, query)
    registered = tuple(k for k in followup.REGISTRIES if k in match.registries)
    condition_codes = {key: _registry_conditions(key, [c for c, _ in coded]) for key in registered}
    return PatientFile(patient, _name(patient), _age(_birth(patient), day), registered,
                       {k: _reasons_for(match, k) for k in followup.REGISTRIES},
                       condition_codes, {k: visits.get((patient_id, k), []) for k in followup.REGISTRIES}, day)


def _registry_conditions(key: str, codes: list[str]) -> list[dict[str, Any]]:
    """The registering ICD-10 codes of the resident for a registry, as codings (the visit's reason)."""
    shown = []
    for code in codes:
        match = followup.registries(conditions=[code], medicines=[])
        if key in match.registries:
            entry = next(r for r in match.reasons if r.rule.startswith(key + ":"))
            shown.append({"system": ICD10, "code": code, "display": entry.text_en.split("(", 1)[-1].split(")")[0]})
    return shown


# --- the form ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Form:
    """A checked follow-up form, in the units the specification's form uses."""

    registry: str
    symptoms: tuple[str, ...]
    systolic: int
    diastolic: int
    heart_rate: int
    fasting_glucose: float | None
    weight: float
    height: float
    bmi: float
    cigarettes: int | None
    alcohol: float | None
    exercise_sessions: int | None
    exercise_minutes: int | None
    salt: str
    psychology: str
    adherence: str
    adverse_reaction: bool
    adverse_reaction_text: str
    adverse_reaction_unmanageable: bool
    new_complication: bool
    complication_text: str


def symptoms_for(registry_key: str) -> list[str]:
    """The danger-sign symptom codes the specification lists for a registry, in the data file's order."""
    known = followup.rules()["classification"]["emergency"]["symptoms"]
    return [code for code, spec in known.items() if registry_key in spec["in"]]


def _number(key: str, text: str, errors: dict[str, tuple[str, dict[str, Any]]]) -> float | None:
    label, low, high, decimals, unit = NUMBERS[key]
    text = (text or "").strip().replace(",", ".")
    if not text and key in OPTIONAL_NUMBERS:
        return None
    try:
        value = float(text) if 0 < len(text) <= 8 else None
    except ValueError:
        value = None
    if value is None or value != value or not low <= value <= high:
        errors[key] = (OUT_OF_RANGE, {"what": label, "low": f"{low:g}", "high": f"{high:g}", "unit": unit})
        return None
    return round(value, decimals) if decimals else float(round(value))


def _text(key: str, form: Mapping[str, str], errors: dict[str, tuple[str, dict[str, Any]]]) -> str:
    text = (form.get(key) or "").strip()
    if len(text) > MAX_TEXT:
        errors[key] = (TOO_LONG, {"limit": MAX_TEXT})
        return ""
    return text


def parse_form(form: Mapping[str, str], *, registered: Iterable[str]) -> Form:
    """Check a follow-up form; FollowUpInvalid names every mistake at once."""
    errors: dict[str, tuple[str, dict[str, Any]]] = {}
    key = form.get("registry", "")
    if key not in followup.REGISTRIES or key not in set(registered):
        errors["registry"] = (NOT_ON_REGISTRY, {})
    offered = symptoms_for(key) if key in followup.REGISTRIES else []
    chosen = [name.removeprefix("symptom:") for name, value in form.items()
              if name.startswith("symptom:") and value]
    if any(code not in offered for code in chosen):
        errors["symptoms"] = (UNKNOWN_SYMPTOM, {})
    numbers = {name: _number(name, form.get(name, ""), errors) for name in NUMBERS if name != "fasting_glucose"}
    glucose_text = (form.get("fasting_glucose") or "").strip()
    glucose = _number("fasting_glucose", glucose_text, errors) if glucose_text else None
    if key == "diabetes" and not glucose_text:
        errors["fasting_glucose"] = (NEEDS_GLUCOSE, {})
    if "systolic" not in errors and "diastolic" not in errors and numbers["diastolic"] >= numbers["systolic"]:
        errors["diastolic"] = (DIASTOLIC_BELOW, {})
    picked = {}
    for name, options in CHOICES.items():
        picked[name] = form.get(name, "")
        if picked[name] not in options:
            errors[name] = (CHOOSE, {})
    reaction_text = _text("adverse_reaction_text", form, errors)
    if picked["adverse_reaction"] == "yes" and not reaction_text and "adverse_reaction_text" not in errors:
        errors["adverse_reaction_text"] = (DESCRIBE_REACTION, {})
    complication_text = _text("complication_text", form, errors)
    if errors:
        raise FollowUpInvalid(errors)
    weight, height = float(numbers["weight"] or 0), float(numbers["height"] or 0)
    bmi = round(weight / (height / 100) ** 2, 1)

    def whole(name: str) -> int | None:
        return None if numbers[name] is None else int(numbers[name])

    return Form(registry=key, symptoms=tuple(c for c in offered if c in chosen),
                systolic=int(numbers["systolic"] or 0), diastolic=int(numbers["diastolic"] or 0),
                heart_rate=int(numbers["heart_rate"] or 0), fasting_glucose=glucose, weight=weight, height=height,
                bmi=bmi, cigarettes=whole("cigarettes"), alcohol=numbers["alcohol"],
                exercise_sessions=whole("exercise_sessions"), exercise_minutes=whole("exercise_minutes"),
                salt=picked["salt"], psychology=picked["psychology"], adherence=picked["adherence"],
                adverse_reaction=picked["adverse_reaction"] == "yes",
                adverse_reaction_text=reaction_text if picked["adverse_reaction"] == "yes" else "",
                adverse_reaction_unmanageable=picked["adverse_reaction"] == "yes"
                and bool(form.get("adverse_reaction_unmanageable")),
                new_complication=bool(form.get("new_complication")), complication_text=complication_text)


def classify(form: Form, *, age: int | None, previous: str | None) -> followup.Classification:
    """The specification's class of this visit, given the previous visit's class (no override)."""
    # Without a recorded birth date the under-65 target (the lower one) is applied.
    return followup.classify_visit(
        registry=form.registry, age=age if age is not None else 0, systolic=form.systolic,
        diastolic=form.diastolic, fasting_glucose=form.fasting_glucose, symptoms=form.symptoms,
        heart_rate=form.heart_rate, adverse_reaction=form.adverse_reaction,
        adverse_reaction_unmanageable=form.adverse_reaction_unmanageable, new_complication=form.new_complication,
        previous_classification=previous)


# --- writing the visit ------------------------------------------------------------------------------------------

def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _quantity(value: float, unit: str, code: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


def _loinc(code: str, display: str) -> dict[str, Any]:
    return {"coding": [_coding(LOINC, code, display)], "text": display}


def _observation(base: dict[str, Any], category: str, code: dict[str, Any], **values: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final",
            "category": [{"coding": [_coding(TERMINOLOGY + "observation-category", category)]}],
            "code": code, **base, **values}


def observations(form: Form, base: dict[str, Any]) -> list[dict[str, Any]]:
    """The visit's vital-signs Observations (and fasting glucose), linked to its Encounter through base."""
    made = [
        _observation(base, "vital-signs", _loinc("85354-9", "Blood pressure panel with all children optional"),
                     component=[
                         {"code": _loinc("8480-6", "Systolic blood pressure"),
                          "valueQuantity": _quantity(form.systolic, "mmHg", "mm[Hg]")},
                         {"code": _loinc("8462-4", "Diastolic blood pressure"),
                          "valueQuantity": _quantity(form.diastolic, "mmHg", "mm[Hg]")}]),
        _observation(base, "vital-signs", _loinc("8867-4", "Heart rate"),
                     valueQuantity=_quantity(form.heart_rate, "/min", "/min")),
        _observation(base, "vital-signs", _loinc("29463-7", "Body weight"),
                     valueQuantity=_quantity(form.weight, "kg", "kg")),
        _observation(base, "vital-signs", _loinc("8302-2", "Body height"),
                     valueQuantity=_quantity(form.height, "cm", "cm")),
        _observation(base, "vital-signs", _loinc("39156-5", "Body mass index (BMI) [Ratio]"),
                     valueQuantity=_quantity(form.bmi, "kg/m2", "kg/m2")),
    ]
    if form.fasting_glucose is not None:
        # 14771-0 is fasting glucose in moles per volume (mmol/L); 1558-6 is the same in mass per volume (mg/dL).
        made.append(_observation(base, "laboratory", _loinc("14771-0", "Fasting glucose [Moles/volume] in Serum or "
                                                                     "Plasma"),
                                 valueQuantity=_quantity(form.fasting_glucose, "mmol/L", "mmol/L")))
    return made


def _item(link: str, text: str, *answers: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": link, "text": text}
    if answers:
        item["answer"] = list(answers)
    return item


def questionnaire_items(form: Form, result: followup.Classification, next_due: date,
                        previous: str | None = None) -> list[dict[str, Any]]:
    """The whole form with the classification, next due date, actions and reasons as QuestionnaireResponse items."""
    def number(link: str, text: str, value: float | int | None) -> list[dict[str, Any]]:
        if value is None:
            return []
        key = "valueInteger" if isinstance(value, int) else "valueDecimal"
        return [_item(link, text, {key: value})]

    def choice(link: str, text: str, code: str) -> dict[str, Any]:
        return _item(link, text, {"valueCoding": _coding(ANSWERS, code)})

    items = [
        _item("registry", "Registry", {"valueCoding": _coding(REGISTRY_SYSTEM, form.registry)}),
        _item("symptoms", "Symptoms", *({"valueCoding": _coding(SYMPTOM_SYSTEM, s)} for s in form.symptoms)),
        *number("systolic", "Systolic blood pressure (mmHg)", form.systolic),
        *number("diastolic", "Diastolic blood pressure (mmHg)", form.diastolic),
        *number("heart_rate", "Heart rate (/min)", form.heart_rate),
        *number("fasting_glucose", "Fasting blood glucose (mmol/L)", form.fasting_glucose),
        *number("weight", "Weight (kg)", form.weight),
        *number("height", "Height (cm)", form.height),
        *number("bmi", "Body mass index (kg/m2)", form.bmi),
        *number("cigarettes", "Cigarettes per day", form.cigarettes),
        *number("alcohol", "Alcohol per day (liang)", form.alcohol),
        *number("exercise_sessions", "Exercise sessions per week", form.exercise_sessions),
        *number("exercise_minutes", "Minutes per session", form.exercise_minutes),
        choice("salt", "Salt intake", form.salt),
        choice("psychology", "Psychological adjustment", form.psychology),
        choice("adherence", "Medication adherence", form.adherence),
        _item("adverse_reaction", "Adverse drug reaction", {"valueBoolean": form.adverse_reaction}),
        _item("adverse_reaction_unmanageable", "Adverse reaction hard to control",
              {"valueBoolean": form.adverse_reaction_unmanageable}),
        _item("new_complication", "New or worsened complication", {"valueBoolean": form.new_complication}),
        _item("classification", "Classification", {"valueCoding": _coding(CLASS_SYSTEM, result.key)}),
        _item("next_due", "Next follow-up due", {"valueDate": next_due.isoformat()}),
        _item("actions", "Actions", *({"valueCoding": _coding(ACTION_SYSTEM, a)} for a in result.actions)),
        _item("reason_rules", "Rules applied", *({"valueCoding": _coding(REASON_SYSTEM, r.rule)}
                                                 for r in result.reasons)),
        _item("reasons", "Reasons", *({"valueString": r.text_en} for r in result.reasons)),
        _item("reasons_zh", "Reasons (Chinese)", *({"valueString": r.text_zh} for r in result.reasons)),
    ]
    if previous:
        items.append(_item("previous_classification", "Previous classification",
                           {"valueCoding": _coding(CLASS_SYSTEM, previous)}))
    if form.adverse_reaction_text:
        items.append(_item("adverse_reaction_text", "Adverse reaction", {"valueString": form.adverse_reaction_text}))
    if form.complication_text:
        items.append(_item("complication_text", "Complication", {"valueString": form.complication_text}))
    if result.at_target is not None:
        items.append(_item("at_target", "Reading at target", {"valueBoolean": result.at_target}))
    return items


def record_follow_up(ctx: AccessContext, *, patient_id: str, form: Mapping[str, str]) -> Recorded:
    """Check and record a follow-up visit as one transaction (Encounter, Observations, QuestionnaireResponse)."""
    found = patient_file(ctx, patient_id=patient_id)
    checked = parse_form(form, registered=found.registries)
    earlier = found.visits[checked.registry]
    previous = earlier[-1].classification if earlier else None
    result = classify(checked, age=found.age, previous=previous)
    now = clock.now()
    when = clock.format_instant(now)
    next_due = found.today + timedelta(days=result.next_due_in_days)
    patient_ref = f"Patient/{patient_id}"
    doctor = ctx.fhir_user if (ctx.fhir_user or "").startswith("Practitioner/") else None
    centre = (found.patient.get("managingOrganization") or {}).get("reference") or ctx.organization
    codings = found.conditions.get(checked.registry) or []
    names = {"hypertension": "Hypertension", "diabetes": "Type 2 diabetes mellitus"}
    reason = {"coding": codings[:1], "text": names[checked.registry]} if codings else {
        "text": f"{names[checked.registry]} (registered on treatment; diagnosis to confirm)"}
    encounter: dict[str, Any] = {
        "resourceType": "Encounter", "status": "finished",
        "class": _coding(TERMINOLOGY + "v3-ActCode", "AMB", "ambulatory"),
        "type": [{"coding": [_coding(ENCOUNTER_TYPE, FOLLOW_UP, "Chronic disease follow-up")],
                  "text": "Chronic disease follow-up"}],
        "subject": {"reference": patient_ref}, "period": {"start": when, "end": when},
        "reasonCode": [reason],
    }
    if doctor:
        encounter["participant"] = [{"type": [{"coding": [_coding(TERMINOLOGY + "v3-ParticipationType", "ATND",
                                                                  "attender")]}],
                                     "individual": {"reference": doctor}}]
    if centre:
        encounter["serviceProvider"] = {"reference": centre}
    base: dict[str, Any] = {"subject": {"reference": patient_ref}, "encounter": {"reference": "urn:uuid:visit"},
                            "effectiveDateTime": when}
    if doctor:
        base["performer"] = [{"reference": doctor}]
    made = observations(checked, base)
    bmi = next(o for o in made if o["code"]["coding"][0]["code"] == "39156-5")
    bmi["derivedFrom"] = [{"reference": "urn:uuid:obs-2"}, {"reference": "urn:uuid:obs-3"}]
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse", "questionnaire": QUESTIONNAIRE, "status": "completed",
        "subject": {"reference": patient_ref}, "encounter": {"reference": "urn:uuid:visit"}, "authored": when,
        "item": questionnaire_items(checked, result, next_due, previous),
    }
    if doctor:
        response["author"] = {"reference": doctor}
    entries = [{"fullUrl": "urn:uuid:visit", "resource": encounter, "request": {"method": "POST", "url": "Encounter"}},
               *({"fullUrl": f"urn:uuid:obs-{i}", "resource": o, "request": {"method": "POST", "url": "Observation"}}
                 for i, o in enumerate(made)),
               {"fullUrl": "urn:uuid:form", "resource": response,
                "request": {"method": "POST", "url": "QuestionnaireResponse"}}]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    answer = gateway.serve(ctx, FhirRequest(method="POST", path="", body=bundle)).body or {}
    ids = [_created_id(e) for e in answer.get("entry", [])]
    return Recorded(checked.registry, result, next_due, ids[0] if ids else "", ids[-1] if ids else "")


def _created_id(entry: Mapping[str, Any]) -> str:
    if entry.get("resource", {}).get("id"):
        return entry["resource"]["id"]
    location = (entry.get("response") or {}).get("location", "")
    parts = location.split("/")
    return parts[1] if len(parts) > 1 else ""


def recorded_visit(ctx: AccessContext, response_id: str) -> Visit | None:
    """A recorded follow-up visit by its QuestionnaireResponse id, if ctx may see it."""
    if not _ID.fullmatch(response_id or ""):
        return None
    try:
        return visit_of(gateway.read(ctx, f"QuestionnaireResponse/{response_id}"))
    except FhirError:
        return None


# --- indicators -------------------------------------------------------------------------------------------------

@cache
def prevalence() -> dict[str, Any]:
    """The adult prevalence of each condition with its source (data/prevalence.yaml)."""
    return yaml.safe_load((Path(__file__).parent / "data" / "prevalence.yaml").read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class AreaIndicators:
    """One health centre's or district's indicators per registry, and its monthly control-rate points."""

    key: str
    name: str
    alias: str  # the Chinese name where the record has one
    adults: int
    by_registry: dict[str, followup.Indicators]
    monthly_control: dict[str, list[tuple[str, float | None]]]


@dataclass(frozen=True, slots=True)
class IndicatorReport:
    """The indicators of a year for each health centre and each district."""

    year: int
    centres: tuple[AreaIndicators, ...]
    districts: tuple[AreaIndicators, ...]


def _year_rows(entries: Iterable[Entry], key: str, until: date) -> list[dict[str, Any]]:
    rows = []
    for entry in entries:
        if entry.registry != key or entry.registered_on > until:
            continue
        visits = [v for v in entry.visits if v.day.year == until.year and v.day <= until]
        last = visits[-1] if visits else None
        rows.append({"registry": key, "visits_in_year": len(visits),
                     "last_classification": last.classification if last else None,
                     "last_at_target": last.at_target if last else None})
    return rows


def _area(key: str, names: tuple[str, str], adults: int, entries: list[Entry], year: int,
          last_day: date) -> AreaIndicators:
    rates = prevalence()
    by_registry = {}
    monthly: dict[str, list[tuple[str, float | None]]] = {}
    for registry_key in followup.REGISTRIES:
        estimated = round(adults * rates[registry_key]["prevalence"]) if adults else None
        by_registry[registry_key] = followup.indicators(patients=_year_rows(entries, registry_key, last_day),
                                                        estimated_prevalent=estimated)
        points = []
        for month in range(1, last_day.month + 1 if last_day.year == year else 13):
            end = min(date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1), last_day)
            result = followup.indicators(patients=_year_rows(entries, registry_key, end), estimated_prevalent=None)
            points.append((f"{year}-{month:02d}", result.control_rate))
        monthly[registry_key] = points
    return AreaIndicators(key, *names, adults, by_registry, monthly)


def indicators(ctx: AccessContext, *, organizations: list[str], year: int, on: date | None = None) -> IndicatorReport:
    """Management, standardised-management and control rates per health centre and district for a year."""
    day = on or today()
    if year > day.year or year < 2000:
        raise ChronicRefused(_("Choose a year that has begun."))
    last_day = min(day, date(year, 12, 31))
    min_age = prevalence()["population_min_age"]
    centres: list[AreaIndicators] = []
    districts: dict[str, tuple[str, int, list[Entry]]] = {}
    for organization in organizations:
        found = registry(ctx, organization=organization, on=last_day)
        adults = sum(1 for p in found.residents if (a := _age(_birth(p), last_day)) is not None and a >= min_age)
        try:
            org = gateway.read(ctx, organization)
        except FhirError:
            org = {}
        names = (org.get("name") or organization, (org.get("alias") or [""])[0] or org.get("name") or organization)
        centres.append(_area(organization, names, adults, list(found.entries), year, last_day))
        district = ((org.get("address") or [{}])[0]).get("district") or ""
        adults_before, entries_before = districts.get(district, ("", 0, []))[1:]
        districts[district] = (district, adults_before + adults, entries_before + list(found.entries))
    return IndicatorReport(year, tuple(centres), tuple(_area(k, (n, n), a, e, year, last_day)
                                                       for k, (n, a, e) in sorted(districts.items())))
