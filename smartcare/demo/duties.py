"""Staff duties of the demo hospitals in the directory: who may release laboratory results, who heads the
departments that critical values are escalated to (PractitionerRoles coded in the staff-duty code system), and the
infection-control office (医院感染管理科) that overdue notifiable-disease reports are escalated to: a department with
its service, staffed by a nurse of respiratory medicine who holds that duty besides her ward work."""

from typing import Any

from sqlalchemy.engine import Engine

from smartcare.fhir import bundles
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM

HOSPITALS = ("org-hosp-1", "org-hosp-2")
DUTY_SYSTEM = "https://smartcare.example/fhir/CodeSystem/staff-duty"
DEPARTMENT_SYSTEM = "https://smartcare.example/fhir/CodeSystem/department"
OFFICE = ("infection-control", "Infection Control", "医院感染管理科")


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


def _put(resource: dict[str, Any]) -> dict[str, Any]:
    reference = f"{resource['resourceType']}/{resource['id']}"
    return {"fullUrl": reference, "request": {"method": "PUT", "url": reference}, "resource": resource}


def _infection_control(hospital: str, staff: dict[str, Any]) -> list[dict[str, Any]]:
    """The hospital's infection-control department, its service, and the nurse's role in it."""
    short = hospital.removeprefix("org-")
    code, name_en, name_zh = OFFICE
    department = {"resourceType": "Organization", "id": f"{hospital}-{code}", "active": True,
                  "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                                        "code": "dept", "display": "Hospital Department"}]},
                           {"coding": [{"system": DEPARTMENT_SYSTEM, "code": code, "display": name_en}],
                            "text": name_zh}],
                  "name": name_en, "alias": [name_zh], "partOf": {"reference": f"Organization/{hospital}"}}
    service = {"resourceType": "HealthcareService", "id": f"hcs-{short}-{code}", "active": True,
               "providedBy": {"reference": f"Organization/{department['id']}"}, "name": name_en,
               "type": [{"coding": [{"system": DEPARTMENT_SYSTEM, "code": code, "display": name_en}], "text": name_zh}]}
    role = {"resourceType": "PractitionerRole", "id": f"duty-{code}-{short}", "active": True,
            "practitioner": staff["practitioner"], "organization": {"reference": f"Organization/{hospital}"},
            "healthcareService": [{"reference": f"HealthcareService/{service['id']}"}],
            "code": [{"coding": [{"system": DUTY_SYSTEM, "code": code, "display": "Infection control"}]}]}
    return [_put(department), _put(service), _put(role)]


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
            # A nurse of respiratory medicine also staffs infection control (nurse.demo is internal medicine's).
            nurse = _first_role(conn, f"HealthcareService/hcs-{short}-respiratory", "nurse")
            if nurse:
                entries += _infection_control(hospital, nurse)
    if entries:
        with unit_of_work(engine) as conn:
            bundles.transaction(conn, SYSTEM, entries, "")
    return len(entries)
