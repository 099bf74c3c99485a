"""Staff duties of the demo hospitals in the directory: who may release laboratory results, and who heads the
departments that critical values are escalated to (PractitionerRoles coded in the staff-duty code system)."""

from typing import Any

from sqlalchemy.engine import Engine

from smartcare.fhir import bundles
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM

HOSPITALS = ("org-hosp-1", "org-hosp-2")
DUTY_SYSTEM = "https://smartcare.example/fhir/CodeSystem/staff-duty"


def _first_role(conn, service: str, code: str, *, sort: str = "_id") -> dict[str, Any] | None:
    bundle = dispatch(conn, SYSTEM, FhirRequest(method="GET", path="PractitionerRole", query=[
        ("service", service), ("role", code), ("_sort", sort), ("_count", "1")])).body or {}
    found = [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"]
    return found[0] if found else None


def _duty(role_id: str, duty: str, display: str, staff: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"PractitionerRole/{role_id}", "request": {"method": "PUT", "url": f"PractitionerRole/{role_id}"},
            "resource": {"resourceType": "PractitionerRole", "id": role_id, "active": True,
                         "practitioner": staff["practitioner"], "organization": staff["organization"],
                         "healthcareService": staff.get("healthcareService", []),
                         "code": [{"coding": [{"system": DUTY_SYSTEM, "code": duty, "display": display}]}]}}


def load_duties(engine: Engine) -> int:
    """Give each demo hospital a laboratory technician who may release results and a head of internal medicine."""
    entries = []
    with unit_of_work(engine) as conn:
        for hospital in HOSPITALS:
            short = hospital.removeprefix("org-")
            technician = _first_role(conn, f"HealthcareService/hcs-{short}-laboratory", "lab-technician")
            # The most senior-numbered internal medicine doctor heads it (the demo's other accounts take the first).
            head = _first_role(conn, f"HealthcareService/hcs-{short}-internal-medicine", "doctor", sort="-_id")
            if technician:
                entries.append(_duty(f"duty-release-{short}", "lab-release", "Releases laboratory results", technician))
            if head:
                entries.append(_duty(f"duty-head-{short}", "department-head", "Head of department", head))
    if entries:
        with unit_of_work(engine) as conn:
            bundles.transaction(conn, SYSTEM, entries, "")
    return len(entries)
