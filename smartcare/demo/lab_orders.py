"""Open laboratory orders for the demo, so the laboratory's worklist has work at every step.

The hospital doctor of the demo accounts (accounts.hospital_doctor) ordered tests for some of the patients they
saw; the first hospital's laboratory has them waiting to be collected, accessioned, collected and received (ready
for results: `smartcare lis simulate` then plays the analyzer). Built as FHIR resources the way the workstation and
the laboratory write them (ordering.service_request's shape, accession.specimen_for), times relative to the load.
"""

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from smartcare.demo.accounts import first_resource, hospital_doctor
from smartcare.fhir import bundles
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.hospital.lab.accession import (
    LAB_CATEGORY,
    LOINC,
    ORDER_SYSTEM,
    PLACER_SYSTEM,
    SNOMED,
    accession_number,
    specimen_for,
)
from smartcare.knowledge.orders import catalogue
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.settings import get_settings

HOSPITAL = "org-hosp-1"
LABORATORY = "HealthcareService/hcs-hosp-1-laboratory"
# (catalogue key, how far the sample has come, priority): one patient each while the doctor's patients last.
ORDERS = (
    ("potassium", "ordered", "urgent"), ("cbc", "ordered", "routine"), ("renal", "accessioned", "routine"),
    ("glucose", "collected", "routine"), ("lipid", "received", "routine"), ("liver", "received", "routine"),
    ("hba1c", "received", "routine"), ("electrolytes", "received", "stat"), ("urinalysis", "received", "routine"),
)
# The demo's accession numbers start high in the day's sequence, clear of those the laboratory gives out later.
FIRST_SEQUENCE = 90_001


def doctor_patients(conn: Any, doctor: str, wanted: int) -> list[str]:
    """The doctor's patients from their visits at the hospital, in a stable order."""
    bundle = dispatch(conn, SYSTEM, FhirRequest(method="GET", path="Encounter", query=[
        ("participant", doctor), ("service-provider.partof", f"Organization/{HOSPITAL}"), ("_sort", "_id"),
        ("_count", "200")])).body or {}
    seen: list[str] = []
    for entry in bundle.get("entry", []):
        subject = (entry.get("resource", {}).get("subject") or {}).get("reference", "")
        if subject.startswith("Patient/") and subject not in seen:
            seen.append(subject)
    return seen[:wanted]


def _order(key: str, priority: str, patient: str, doctor: str, at: str) -> dict[str, Any]:
    order = catalogue.find_order(key)
    codings = [{"system": ORDER_SYSTEM, "code": key, "display": order.name_en}]
    if order.code:
        codings.insert(0, {"system": LOINC, "code": order.code, "display": order.name_en})
    request = {"resourceType": "ServiceRequest", "id": f"demo-lab-{key}", "status": "active", "intent": "order",
               "priority": priority,
               "category": [{"coding": [{"system": SNOMED, "code": LAB_CATEGORY, "display": "Laboratory procedure"}]}],
               "code": {"coding": codings, "text": order.name_en}, "subject": {"reference": patient},
               "authoredOn": at, "requester": {"reference": doctor}, "performer": [{"reference": LABORATORY}]}
    if getattr(order, "fasting", False):
        request["patientInstruction"] = "Fasting for 8 hours before the sample."
    return request


def _specimen(request: dict[str, Any], stage: str, number: str, technician: str | None,
              at: str) -> dict[str, Any]:
    order = catalogue.find_order(request["id"].removeprefix("demo-lab-"))
    specimen = {**specimen_for(request, order, number=number), "id": f"demo-specimen-{number}"}
    if stage in ("collected", "received"):
        specimen["collection"] = {"collectedDateTime": at, **({"collector": {"reference": technician}}
                                                               if technician else {})}
    if stage == "received":
        specimen.update(status="available", receivedTime=at)
    return specimen


def load_lab_orders(engine: Engine) -> int:
    """Write the open laboratory orders (and their specimens); how many resources were written."""
    with unit_of_work(engine) as conn:
        doctor = hospital_doctor(conn)
        role = first_resource(conn, "PractitionerRole", [("_id", "duty-release-hosp-1")])
        patients = doctor_patients(conn, doctor, len(ORDERS)) if doctor else []
    if not patients or doctor is None:
        return 0
    technician = (role or {}).get("practitioner", {}).get("reference")
    now = clock.now()
    day = now.astimezone(ZoneInfo(get_settings().region_timezone)).date()
    entries: list[dict[str, Any]] = []
    for n, (key, stage, priority) in enumerate(ORDERS):
        patient = patients[n % len(patients)]  # a small demo region's doctor has seen fewer patients
        ordered = clock.format_instant(now - timedelta(minutes=90 - 8 * n))
        request = _order(key, priority, patient, doctor, ordered)
        if stage != "ordered":
            number = accession_number(day, FIRST_SEQUENCE + n)
            specimen = _specimen(request, stage, number, technician,
                                 clock.format_instant(now - timedelta(minutes=40 - 3 * n)))
            request["identifier"] = [{"system": PLACER_SYSTEM, "value": number}]
            request["specimen"] = [{"reference": f"Specimen/{specimen['id']}"}]
            entries.append({"resource": specimen, "request": {"method": "PUT", "url": f"Specimen/{specimen['id']}"}})
        entries.append({"resource": request, "request": {"method": "PUT", "url": f"ServiceRequest/{request['id']}"}})
    with unit_of_work(engine) as conn:
        bundles.transaction(conn, SYSTEM, entries, "")
    return len(entries)
