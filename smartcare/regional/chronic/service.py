"""Chronic-disease follow-up in a health centre: the registries, the due lists, one resident's file and the visit."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.knowledge.chronic import followup
from smartcare.platform import clock
from smartcare.platform.i18n import _
from smartcare.platform.security.context import AccessContext
from smartcare.platform.settings import get_settings
from smartcare.platform.web.fhir_text import person_name
from smartcare.regional.chronic.form import classify, parse_form
from smartcare.regional.chronic.resources import (
    ATC,
    CHECKUP,
    ICD10,
    TERMINOLOGY,
    Visit,
    birth_of,
    created_id,
    local_day,
    visit_bundle,
    visit_of,
)

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_ORG = re.compile(r"Organization/[A-Za-z0-9\-.]{1,64}")
_PRACTITIONER = re.compile(r"Practitioner/[A-Za-z0-9\-.]{1,64}")
# Conditions that no longer say anything about the resident.
_NOT_CONDITIONS = frozenset({"entered-in-error", "refuted"})
_ENDED_CONDITIONS = frozenset({"resolved", "inactive", "remission"})
NOT_FOUND = _("No such resident in your reach.")
NO_CENTRE = _("Your account is not linked to a health centre.")


class ChronicRefused(Exception):
    """A step that cannot be done; message is an English msgid the page shows in the reader's language."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


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


def age_on(birth: date | None, on: date) -> int | None:
    """Age in whole years on a day (None without a birth date)."""
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


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
    for condition in gateway.search_all(ctx, "Condition", query):
        verification = _codes(condition.get("verificationStatus"), TERMINOLOGY + "condition-ver-status")
        clinical = _codes(condition.get("clinicalStatus"), TERMINOLOGY + "condition-clinical")
        if set(verification) & _NOT_CONDITIONS or set(clinical) & _ENDED_CONDITIONS:
            continue
        patient = (condition.get("subject") or {}).get("reference", "").removeprefix("Patient/")
        day = local_day(condition.get("recordedDate")) or local_day(condition.get("onsetDateTime"))
        conditions.setdefault(patient, []).extend((code, day) for code in _codes(condition.get("code"), ICD10))
    medicines: dict[str, list[tuple[str, date | None]]] = {}
    for res_type in ("MedicationRequest", "MedicationStatement"):
        for item in gateway.search_all(ctx, res_type, [*query, ("status", "active")]):
            patient = (item.get("subject") or {}).get("reference", "").removeprefix("Patient/")
            day = local_day(item.get("authoredOn") or item.get("effectiveDateTime")
                             or (item.get("effectivePeriod") or {}).get("start"))
            medicines.setdefault(patient, []).extend(
                (code, day) for code in _codes(item.get("medicationCodeableConcept"), ATC))
    return conditions, medicines


def _visits(ctx: AccessContext, query: list[tuple[str, str]]) -> dict[tuple[str, str], list[Visit]]:
    by_key: dict[tuple[str, str], list[Visit]] = {}
    for response in gateway.search_all(ctx, "QuestionnaireResponse", [*query, ("status", "completed")]):
        visit = visit_of(response)
        if visit is not None:
            by_key.setdefault((visit.patient_id, visit.registry), []).append(visit)
    for visits in by_key.values():
        visits.sort(key=lambda v: (v.day, v.response_id))
    return by_key


def _last_checks(ctx: AccessContext, query: list[tuple[str, str]], year: int) -> dict[str, date]:
    found: dict[str, date] = {}
    for encounter in gateway.search_all(ctx, "Encounter", [*query, ("type", CHECKUP), ("date", f"ge{year}-01-01")]):
        patient = (encounter.get("subject") or {}).get("reference", "").removeprefix("Patient/")
        day = local_day((encounter.get("period") or {}).get("start"))
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
    residents = gateway.search_all(ctx, "Patient", _patient_filter(organization, practitioner, chained=False))
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
        birth = birth_of(patient)
        age = age_on(birth, day)
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
    return PatientFile(patient, _name(patient), age_on(birth_of(patient), day), registered,
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


def record_follow_up(ctx: AccessContext, *, patient_id: str, form: Mapping[str, str]) -> Recorded:
    """Check and record a follow-up visit as one transaction (Encounter, Observations, QuestionnaireResponse)."""
    found = patient_file(ctx, patient_id=patient_id)
    checked = parse_form(form, registered=found.registries)
    earlier = found.visits[checked.registry]
    previous = earlier[-1].classification if earlier else None
    result = classify(checked, age=found.age, previous=previous)
    next_due = found.today + timedelta(days=result.next_due_in_days)
    doctor = ctx.fhir_user if (ctx.fhir_user or "").startswith("Practitioner/") else None
    centre = (found.patient.get("managingOrganization") or {}).get("reference") or ctx.organization
    bundle = visit_bundle(patient_id=patient_id, when=clock.format_instant(clock.now()), form=checked, result=result,
                          next_due=next_due, previous=previous, codings=found.conditions.get(checked.registry) or [],
                          doctor=doctor, centre=centre)
    answer = gateway.serve(ctx, FhirRequest(method="POST", path="", body=bundle)).body or {}
    ids = [created_id(e) for e in answer.get("entry", [])]
    return Recorded(checked.registry, result, next_due, ids[0] if ids else "", ids[-1] if ids else "")


def recorded_visit(ctx: AccessContext, response_id: str) -> Visit | None:
    """A recorded follow-up visit by its QuestionnaireResponse id, if ctx may see it."""
    if not _ID.fullmatch(response_id or ""):
        return None
    try:
        return visit_of(gateway.read(ctx, f"QuestionnaireResponse/{response_id}"))
    except FhirError:
        return None
