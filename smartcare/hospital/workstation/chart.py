"""The patient chart: one patient's record read through the FHIR gateway as the clinician, shaped for the page.

The whole record comes from Patient/$everything, limited to the types the chart shows: one
request, one policy decision, one audit entry per page of it, and much cheaper than a search per
type (each search filters the whole store by the clinician's reach, where $everything checks the
one patient once; see bench/chart.py). Everything else is arranged here in Python.
"""

import re
from datetime import date
from typing import Any

from smartcare.fhir import gateway, store
from smartcare.fhir.errors import FhirError, Forbidden, NotFound
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.cds import care_gaps
from smartcare.hospital.workstation import banner as banner_facts
from smartcare.hospital.workstation import sections, trends
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import AccessDenied, decide

PATIENT_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
CHART_TYPES = ("Patient", "Condition", "AllergyIntolerance", "MedicationRequest", "MedicationStatement", "Observation",
               "Encounter", "DiagnosticReport", "ImagingStudy", "DocumentReference", "Composition", "CarePlan",
               "RiskAssessment")
PAGE_SIZE = 1000
MAX_PAGES = 10


class ChartError(Exception):
    """A chart that cannot be shown; status is the page's HTTP status."""

    status = 400


class NoSuchPatient(ChartError):
    """The id is not a patient record id, or there is no such patient."""

    status = 404


class PatientOutOfReach(ChartError):
    """The patient exists but the access policy does not let this clinician see them."""

    status = 403


def may_search(ctx: AccessContext, res_type: str) -> bool:
    """True when the policy lets ctx search res_type records at all (a pharmacist's work needs no Encounters)."""
    try:
        decide(ctx, "search", res_type, personal=True)
    except AccessDenied:
        return False
    return True


def _exists(patient_id: str) -> bool:
    try:
        with unit_of_work() as conn:
            store.read(conn, SYSTEM, res_type="Patient", res_id=patient_id)
    except FhirError:
        return False
    return True


def _about(resource: dict[str, Any], patient_id: str) -> bool:
    """True for the patient and their own records ($everything also brings what the records refer to)."""
    res_type = resource.get("resourceType")
    if res_type not in CHART_TYPES:
        return False
    if res_type == "Patient":
        return resource.get("id") == patient_id
    owner = resource.get("subject") or resource.get("patient") or {}
    return owner.get("reference") == f"Patient/{patient_id}"


def record_of(*, ctx: AccessContext, patient_id: str) -> dict[str, list[dict[str, Any]]]:
    """The patient's resources of the chart's types that ctx may see, by type; ChartError when refused."""
    if not PATIENT_ID.fullmatch(patient_id):
        raise NoSuchPatient("not a patient record id")
    by_type: dict[str, list[dict[str, Any]]] = {t: [] for t in CHART_TYPES}
    for page in range(MAX_PAGES):
        request = FhirRequest(method="GET", path=f"Patient/{patient_id}/$everything", query=[
            ("_type", ",".join(CHART_TYPES)), ("_count", str(PAGE_SIZE)), ("_offset", str(page * PAGE_SIZE))])
        try:
            bundle = gateway.serve(ctx, request).body or {}
        except (NotFound, Forbidden) as exc:
            # The refusal is audited by the gateway; whether the record exists is no secret to clinicians
            # (break-the-glass tells them too), and it decides between "not yours" and "no such patient".
            if _exists(patient_id):
                raise PatientOutOfReach(str(exc)) from exc
            raise NoSuchPatient(str(exc)) from exc
        for entry in bundle.get("entry", []):
            resource = entry.get("resource") or {}
            if _about(resource, patient_id):
                by_type[resource["resourceType"]].append(resource)
        if not any(link.get("relation") == "next" for link in bundle.get("link", [])):
            break
    return by_type


def patient_chart(*, ctx: AccessContext, patient_id: str, today: date, locale: str) -> dict[str, Any]:
    """Everything the chart page shows of one patient, read as ctx; ChartError when it cannot be shown."""
    by_type = record_of(ctx=ctx, patient_id=patient_id)
    patient = next((p for p in by_type["Patient"] if p.get("id") == patient_id), None)
    if patient is None:
        raise NoSuchPatient("the patient record is not there")
    facts = banner_facts.banner(patient, by_type, today=today, locale=locale)
    observations, conditions = by_type["Observation"], by_type["Condition"]
    reports = by_type["DiagnosticReport"]
    adult = facts["age"] is not None and facts["age"] >= 18
    return {
        "id": patient_id,
        # Types the clinician's role does not see: their sections say so rather than look empty.
        "hidden": sorted(t for t in CHART_TYPES if not may_search(ctx, t)),
        "banner": facts,
        "problems": sections.problems(conditions, locale),
        "medications": sections.medications(by_type["MedicationRequest"], by_type["MedicationStatement"], locale),
        "allergies": sections.allergies(by_type["AllergyIntolerance"], locale),
        "vitals": trends.vitals(observations, adult=adult),
        "labs": trends.labs(observations, locale),
        "lab_reports": sections.lab_reports(reports, locale),
        "imaging": sections.imaging(by_type["ImagingStudy"], reports, locale),
        "encounters": sections.encounters(by_type["Encounter"], conditions, locale),
        "documents": sections.documents(by_type["DocumentReference"], by_type["Composition"], reports, locale),
        "care_plans": sections.care_plans(by_type["CarePlan"], locale),
        "risks": sections.risk_assessments(by_type["RiskAssessment"], locale),
        "care_gaps": _care_gaps(ctx, by_type, today=today, zh=locale == "zh-Hans"),
    }


def _care_gaps(ctx: AccessContext, by_type: dict[str, list[dict[str, Any]]], *, today: date,
               zh: bool) -> list[dict[str, Any]]:
    """The patient-view decision support (the CDS service's care gaps) from the record already read."""
    if not all(may_search(ctx, t) for t in ("Condition", "Observation", "Encounter")):
        return []
    gaps = care_gaps.care_gaps(conditions=by_type["Condition"], observations=by_type["Observation"],
                               encounters=by_type["Encounter"], risks=by_type.get("RiskAssessment", []), today=today)
    return [{"indicator": g.indicator, "summary": g.summary_zh if zh else g.summary_en,
             "detail": g.detail_zh if zh else g.detail_en, "source": g.source,
             "order": g.order["code"] if g.order else None} for g in gaps]
