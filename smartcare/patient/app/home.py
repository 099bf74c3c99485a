"""The app home's reads: whose record, the latest results and problems, the coming appointments and what matters
now, each through the FHIR gateway as the signed-in person (so the access policy decides and every read is audited).
"""

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.knowledge.diseases.consumer import consumer_page_for
from smartcare.patient.app import now as what_now
from smartcare.platform import clock
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


def _searches(patient_id: str) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """What the home reads of a person's record, by name: (resource type, search)."""
    today = clock.now().date().isoformat()
    subject, patient = _subject(patient_id), ("patient", f"Patient/{patient_id}")
    return {
        # the most recent observations, newest first
        "observations": ("Observation", [subject, ("_sort", "-date"), ("_count", str(RECENT_RESULTS))]),
        # appointments from today on, soonest first
        "appointments": ("Appointment", [patient, ("date", f"ge{today}"), ("_sort", "date"),
                                         ("_count", str(UPCOMING))]),
        "problems": ("Condition", [subject, ("clinical-status", "active"), ("_count", str(PROBLEMS_SHOWN))]),
        "encounters": ("Encounter", [subject, ("_sort", "-date"), ("_count", "5")]),
        "reports": ("DiagnosticReport", [subject, ("_sort", "-issued"), ("_count", str(REPORTS_LOOKED_AT))]),
        "medicines": ("MedicationRequest", [subject, ("status", "active"), ("_count", "50")]),
        "tasks": ("Task", [patient, ("status", ",".join(what_now.OPEN_TASK_STATUSES)), ("_count", "20")]),
        "flags": ("Flag", [subject, ("status", "active"), ("_count", "10")]),
    }


def read_record(ctx: AccessContext, patient_id: str) -> dict[str, list[dict[str, Any]]]:
    """The person's records the home shows (FHIR resources, by the names of _searches), read in one transaction
    with an audit entry per search; FhirError at the first refused one."""
    wanted = _searches(patient_id)
    return dict(zip(wanted, gateway.search_each(ctx, list(wanted.values())), strict=True))


def result_rows(observations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Observations as the home's results table shows them."""
    return [
        {"what": fhir_text.concept_text(o.get("code")), "value": fhir_text.observation_value(o),
         "when": fhir_text.when(o)[:10], "flag": fhir_text.concept_text((o.get("interpretation") or [None])[0])}
        for o in observations
    ]


def problem_rows(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Active problems as the home lists them, each with the disease information page of its ICD-10 code where
    there is one."""
    rows = []
    for condition in conditions:
        codes = [c.get("code", "") for c in (condition.get("code") or {}).get("coding", [])
                 if c.get("system") in ICD10_SYSTEMS and c.get("code")]
        page = next((key for key in map(consumer_page_for, codes) if key), None)
        rows.append({"what": fhir_text.concept_text(condition.get("code")), "page": page,
                     "since": str(condition.get("onsetDateTime") or condition.get("recordedDate") or "")[:10]})
    return rows


def appointment_rows(appointments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Appointments as the home's list shows them."""
    return [
        {"when": fhir_text.when(a), "what": fhir_text.concept_text((a.get("serviceType") or [None])[0])
         or a.get("description", ""), "status": a.get("status", "")}
        for a in appointments
    ]


def unread_messages(conn: Connection, user_id: str) -> int:
    """How many of the signed-in account's notifications are unread (the account's own, whoever's record is open)."""
    return notifications.unread_count(conn, user_id=user_id)


def what_matters_now(record: dict[str, list[dict[str, Any]]], *, unread: int, locale: str = "en") -> dict[str, Any]:
    """The home's first card from the person's records (read_record): next appointment (and queue session), new
    results, medicines due today, unread messages and alerts (in locale where the records carry it)."""
    moment = clock.now()
    zone = ZoneInfo(get_settings().region_timezone)
    return {
        "appointment": what_now.next_appointment(record["appointments"], zone),
        "new_results": what_now.new_results(record["reports"], since=what_now.last_visit(record["encounters"]),
                                            now=moment),
        "medicines": what_now.medication_due_today(record["medicines"], moment.astimezone(zone).date()),
        "unread": unread,
        "alerts": what_now.alerts(record["observations"], record["tasks"], record["flags"], locale),
    }
