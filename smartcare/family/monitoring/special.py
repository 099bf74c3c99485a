"""Special groups: daily check-ins for people with disability, twice-daily reports from home isolation.

A check-in answer is an Observation (code CHECK_IN, valueCodeableConcept well | need-help) written as whoever
answered: the person or their caregiver (the access policy decides that the caregiver may); asking for help raises
an alert at once, and the plan's silence rule asks for a call when no answer comes. The daily prompt goes to the
person and their caregivers through a scheduled job. An isolation report is a body-temperature Observation (the
fever rule judges it like a device reading) and a symptoms Observation (SNOMED CT findings as components); after
commit a domain event "IsolationReport" carries it to public health.
"""

import re
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.family.monitoring import plans, rules, service, texts
from smartcare.fhir.http import FhirRequest
from smartcare.platform import clock
from smartcare.platform.db import pending_events, unit_of_work
from smartcare.platform.events import DomainEvent
from smartcare.platform.i18n import _
from smartcare.platform.jobs import Job, handler, periodic
from smartcare.platform.notifications import notification_kind, notify
from smartcare.platform.notifications.texts import message
from smartcare.platform.security.context import AccessContext
from smartcare.platform.settings import get_settings

CHECK_IN_SYSTEM = plans.LOCAL + "CodeSystem/monitoring-check-in"
ANSWERS = ("well", "need-help")
ISOLATION_REPORT = "IsolationReport"
SYMPTOMS_CODE = {"system": plans.LOCAL + "CodeSystem/monitoring", "code": "isolation-symptoms",
                 "display": "Symptoms reported in home isolation"}
SNOMED = "http://snomed.info/sct"
PROMPT_JOB = "monitoring.check_in_prompts"
CHECK_IN_TEMPLATE = "disability-check-in"
LOWEST_TEMPERATURE, HIGHEST_TEMPERATURE = 30.0, 45.0
MAX_NOTE = 500
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")

CHECK_IN_KIND = notification_kind("monitoring.check-in", label=_("Daily check-in prompts"))
periodic(PROMPT_JOB, kind=PROMPT_JOB, daily_at="09:00", tz=get_settings().region_timezone)


class ReportError(ValueError):
    """A check-in or isolation report that cannot be recorded as given."""


def _patient(patient_id: str) -> str:
    if not _ID.fullmatch(patient_id or ""):
        raise ReportError("a patient id is 1-64 letters, digits, '-' or '.'")
    return f"Patient/{patient_id}"


def _base(ctx: AccessContext, patient: str, category: str) -> dict[str, Any]:
    stamp = clock.format_instant(clock.now())
    base: dict[str, Any] = {
        "resourceType": "Observation", "status": "final", "subject": {"reference": patient},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": category}]}],
        "effectiveDateTime": stamp, "issued": stamp}
    if ctx.fhir_user:
        base["performer"] = [{"reference": ctx.fhir_user}]
    return base


def _judge(conn: Connection, patient: str, observations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return service.evaluate_readings(conn, patient=patient,
                                     observations=[f"Observation/{o['id']}" for o in observations])


def record_check_in(ctx: AccessContext, *, patient_id: str, answer: str, note: str | None = None) -> dict[str, Any]:
    """Record a daily check-in answered by the person or their caregiver; asking for help raises an alert."""
    patient = _patient(patient_id)
    if answer not in ANSWERS:
        raise ReportError(f"the answer is one of {', '.join(ANSWERS)}")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ReportError(f"a note is at most {MAX_NOTE} characters")
    spec = rules.catalogue()["readings"]["check-in"]
    observation = {**_base(ctx, patient, "survey"),
                   "code": {"coding": [{"system": spec["system"], "code": spec["code"]}], "text": "Daily check-in"},
                   "valueCodeableConcept": {"coding": [{"system": CHECK_IN_SYSTEM, "code": answer}], "text": answer}}
    if note:
        observation["note"] = [{"text": note}]
    with unit_of_work() as conn:
        saved = plans.serve(conn, FhirRequest(method="POST", path="Observation", body=observation), ctx)
        _judge(conn, patient, [saved])
    return saved


def record_isolation_report(ctx: AccessContext, *, patient_id: str, temperature: float,
                            symptoms: list[str]) -> dict[str, Any]:
    """Record a home-isolation report (temperature in °C and symptoms), judge it, and tell public health."""
    patient = _patient(patient_id)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or \
            not LOWEST_TEMPERATURE <= temperature <= HIGHEST_TEMPERATURE:
        raise ReportError(f"the temperature is {LOWEST_TEMPERATURE:g} to {HIGHEST_TEMPERATURE:g} °C")
    known = rules.catalogue()["symptoms"]["codes"]
    if len(symptoms) > len(known) or not set(symptoms) <= set(known):
        raise ReportError(f"symptoms are some of {', '.join(known)}")
    temperature_obs = {**_base(ctx, patient, "vital-signs"),
                       "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]},
                       "code": {"coding": [{"system": plans.LOINC, "code": "8310-5"}], "text": "Body temperature"},
                       "valueQuantity": {"value": round(float(temperature), 1), "unit": "Cel",
                                         "system": "http://unitsofmeasure.org", "code": "Cel"}}
    symptoms_obs = {**_base(ctx, patient, "survey"), "code": {"coding": [SYMPTOMS_CODE]},
                    "valueBoolean": bool(symptoms),
                    "component": [{"code": {"coding": [{"system": SNOMED, "code": known[s]["code"],
                                                        "display": known[s]["display"]}], "text": s},
                                   "valueBoolean": True} for s in dict.fromkeys(symptoms)]}
    if not symptoms_obs["component"]:
        symptoms_obs.pop("component")
    with unit_of_work() as conn:
        saved = [plans.serve(conn, FhirRequest(method="POST", path="Observation", body=o), ctx)
                 for o in (temperature_obs, symptoms_obs)]
        alerts = _judge(conn, patient, saved[:1])
        pending_events(conn).append(DomainEvent(ISOLATION_REPORT, {
            "patient": patient, "observations": [f"Observation/{o['id']}" for o in saved],
            "temperature": temperature_obs["valueQuantity"]["value"], "symptoms": list(dict.fromkeys(symptoms)),
            "time": temperature_obs["effectiveDateTime"], "alerts": [f"Task/{a['id']}" for a in alerts]}))
    return {"temperature": saved[0], "symptoms": saved[1], "alerts": [service.shown(a) for a in alerts]}


def prompt_check_ins(conn: Connection) -> int:
    """Send today's check-in prompt to every person on a check-in plan and to their caregivers; how many told."""
    found = plans.search(conn, "CarePlan", [
        ("status", "active"), ("instantiates-uri", plans.TEMPLATE_URI + CHECK_IN_TEMPLATE), ("_count", "500")])
    told = 0
    for plan in found:
        patient = plan["subject"]["reference"]
        name = service.patient_name(conn, patient)
        for user_id, _locale in service.accounts_of(conn, [patient, *service.caregivers(conn, patient, plan)]):
            notify(conn, user_id=user_id, kind=CHECK_IN_KIND.name, title_text=message(texts.CHECK_IN_TITLE),
                   body_text=message(texts.CHECK_IN_BODY, patient=name),
                   data={"patient": patient, "check_in": True})
            told += 1
    return told


@handler(PROMPT_JOB)
def prompt_job(conn: Connection, _job: Job) -> None:
    """The daily check-in prompts."""
    prompt_check_ins(conn)
