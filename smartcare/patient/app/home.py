"""The app home's reads: whose record, the latest results and problems, the coming appointments and what matters
now, each through the FHIR gateway as the signed-in person (so the access policy decides and every read is audited).
"""

from typing import Any
from zoneinfo import ZoneInfo

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.knowledge.diseases.consumer import consumer_page_for
from smartcare.patient.app import now as what_now
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications import service as notifications
from smartcare.platform.security.context import AccessContext
from smartcare.platform.settings import get_settings
from smartcare.platform.web import fhir_text

RECENT_RESULTS = 8
UPCOMING = 5
PROBLEMS_SHOWN = 20
PATIENTS_SHOWN = 20
REPORTS_LOOKED_AT = 20
ICD10_SYSTEMS = ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm")


def person_row(patient: dict[str, Any]) -> dict[str, Any]:
    """A Patient as the home's person switcher and card show it."""
    return {
        "id": patient.get("id"),
        "name": fhir_text.person_name(patient),
        "gender": patient.get("gender", ""),
        "birth_date": patient.get("birthDate", ""),
        "organization": (patient.get("managingOrganization") or {}).get("reference", ""),
    }


def people(ctx: AccessContext) -> list[dict[str, Any]]:
    """The records the caller may open: their own, and those whose proxy consent names them."""
    return [person_row(p) for p in gateway.search(ctx, "Patient", [("_count", str(PATIENTS_SHOWN))])]


def organization_name(ctx: AccessContext, reference: str) -> str:
    """The name of a directory Organization (readable by everyone signed in), else the reference itself."""
    if not reference.startswith("Organization/"):
        return reference
    try:
        return gateway.read(ctx, reference).get("name") or reference
    except FhirError:
        return reference


def _subject(patient_id: str) -> tuple[str, str]:
    return ("subject", f"Patient/{patient_id}")


def latest_observations(ctx: AccessContext, patient_id: str) -> list[dict[str, Any]]:
    """The person's most recent observations, newest first (as FHIR resources)."""
    return gateway.search(ctx, "Observation", [_subject(patient_id), ("_sort", "-date"),
                                               ("_count", str(RECENT_RESULTS))])


def result_rows(observations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Observations as the home's results table shows them."""
    return [
        {"what": fhir_text.concept_text(o.get("code")), "value": fhir_text.observation_value(o),
         "when": fhir_text.when(o)[:10], "flag": fhir_text.concept_text((o.get("interpretation") or [None])[0])}
        for o in observations
    ]


def problems(ctx: AccessContext, patient_id: str) -> list[dict[str, Any]]:
    """The person's active problems, each with the disease information page of its ICD-10 code where there is one."""
    found = gateway.search(ctx, "Condition", [
        _subject(patient_id), ("clinical-status", "active"), ("_count", str(PROBLEMS_SHOWN)),
    ])
    rows = []
    for condition in found:
        codes = [c.get("code", "") for c in (condition.get("code") or {}).get("coding", [])
                 if c.get("system") in ICD10_SYSTEMS and c.get("code")]
        page = next((key for key in map(consumer_page_for, codes) if key), None)
        rows.append({"what": fhir_text.concept_text(condition.get("code")), "page": page,
                     "since": str(condition.get("onsetDateTime") or condition.get("recordedDate") or "")[:10]})
    return rows


def upcoming_appointments(ctx: AccessContext, patient_id: str) -> list[dict[str, Any]]:
    """The person's appointments from today on, soonest first (as FHIR resources)."""
    today = clock.now().date().isoformat()
    return gateway.search(ctx, "Appointment", [
        ("patient", f"Patient/{patient_id}"), ("date", f"ge{today}"), ("_sort", "date"), ("_count", str(UPCOMING)),
    ])


def appointment_rows(appointments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Appointments as the home's list shows them."""
    return [
        {"when": fhir_text.when(a), "what": fhir_text.concept_text((a.get("serviceType") or [None])[0])
         or a.get("description", ""), "status": a.get("status", "")}
        for a in appointments
    ]


def unread_messages(user_id: str) -> int:
    """How many of the signed-in account's notifications are unread (the account's own, whoever's record is open)."""
    with unit_of_work() as conn:
        return notifications.unread_count(conn, user_id=user_id)


def what_matters_now(ctx: AccessContext, *, user_id: str, patient_id: str, observations: list[dict[str, Any]],
                     appointments: list[dict[str, Any]]) -> dict[str, Any]:
    """The home's first card: next appointment (and queue session), new results, medicines due today, unread
    messages and alerts for the person whose record is open."""
    moment = clock.now()
    zone = ZoneInfo(get_settings().region_timezone)
    encounters = gateway.search(ctx, "Encounter", [_subject(patient_id), ("_sort", "-date"), ("_count", "5")])
    reports = gateway.search(ctx, "DiagnosticReport", [_subject(patient_id), ("_sort", "-issued"),
                                                       ("_count", str(REPORTS_LOOKED_AT))])
    requests = gateway.search(ctx, "MedicationRequest", [_subject(patient_id), ("status", "active"),
                                                         ("_count", "50")])
    tasks = gateway.search(ctx, "Task", [("patient", f"Patient/{patient_id}"),
                                         ("status", ",".join(what_now.OPEN_TASK_STATUSES)), ("_count", "20")])
    flags = gateway.search(ctx, "Flag", [_subject(patient_id), ("status", "active"), ("_count", "10")])
    return {
        "appointment": what_now.next_appointment(appointments, zone),
        "new_results": what_now.new_results(reports, since=what_now.last_visit(encounters), now=moment),
        "medicines": what_now.medication_due_today(requests, moment.astimezone(zone).date()),
        "unread": unread_messages(user_id),
        "alerts": what_now.alerts(observations, tasks, flags),
    }
