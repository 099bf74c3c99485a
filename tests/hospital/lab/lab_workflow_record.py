"""A hospital with a laboratory for the lab workflow tests: departments, staff with their duties, and lab orders.

Mrs Wang (p-wang, 76, female) of hospital org-h is the patient (tests/hospital/cds/prescribing_record.py).
Dr Li (prac-li) works in internal medicine, headed by Dr Zhou (prac-head); lab.tech (prac-lab) holds the
laboratory's release authorisation, lab.junior (prac-junior) does not.
"""

from smartcare.fhir import store
from smartcare.hospital.lab import critical, specimens
from smartcare.hospital.lab.accession import accession
from smartcare.hospital.workstation import ordering
from smartcare.hospital.workstation.ordering import OrderRequest
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM, AccessContext
from tests.hospital.cds.prescribing_record import write_record
from tests.web_support import make_user

DEPARTMENT = "https://smartcare.example/fhir/CodeSystem/department"


def _department(key: str) -> list[dict]:
    return [{"resourceType": "Organization", "id": f"dept-{key}", "name": key, "partOf": {"reference": "Organization/org-h"}},
            {"resourceType": "HealthcareService", "id": f"hcs-{key}", "name": key,
             "providedBy": {"reference": f"Organization/dept-{key}"},
             "type": [{"coding": [{"system": DEPARTMENT, "code": key}]}]}]


def _role(role_id: str, practitioner: str, department: str, duty: str | None = None) -> dict:
    role = {"resourceType": "PractitionerRole", "id": role_id, "active": True,
            "practitioner": {"reference": f"Practitioner/{practitioner}"},
            "organization": {"reference": f"Organization/dept-{department}"}}
    if duty:
        role["code"] = [{"coding": [{"system": critical.DUTY_SYSTEM, "code": duty}]}]
    return role


def write_directory() -> None:
    """Write Mrs Wang's record and the hospital's laboratory and medicine departments with their staff duties."""
    write_record()
    resources = [*_department("laboratory"), *_department("medicine"),
                 _role("pr-li", "prac-li", "medicine"), _role("pr-head", "prac-head", "medicine", critical.HEAD),
                 _role("pr-lab", "prac-lab", "laboratory", critical.RELEASE), _role("pr-junior", "prac-junior", "laboratory"),
                 *({"resourceType": "Practitioner", "id": pid, "name": [{"text": name}]}
                   for pid, name in (("prac-head", "Zhou Min"), ("prac-lab", "Chen Jing"), ("prac-junior", "Sun Yu")))]
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])


def write_hospital(engine) -> dict[str, AccessContext]:
    """Write the record, departments and duties, make the accounts; contexts by name."""
    write_directory()
    accounts = {
        "doctor": make_user(engine, "doctor", username="li.doctor", fhir_ref="Practitioner/prac-li",
                            organization="Organization/org-h"),
        "head": make_user(engine, "doctor", username="zhou.head", fhir_ref="Practitioner/prac-head",
                          organization="Organization/org-h"),
        "tech": make_user(engine, "lab_technician", username="lab.tech", fhir_ref="Practitioner/prac-lab",
                          organization="Organization/org-h"),
        "junior": make_user(engine, "lab_technician", username="lab.junior", fhir_ref="Practitioner/prac-junior",
                            organization="Organization/org-h"),
    }
    return {name: users.context_for(user) for name, user in accounts.items()} | {
        f"{name}_id": user.id for name, user in accounts.items()}


def place(ctx: AccessContext, key: str) -> str:
    """Place one catalogue order for Mrs Wang as the doctor; the ServiceRequest id."""
    return ordering.place(ctx=ctx, patient_id="p-wang", orders=[OrderRequest(key)])[0].split("/")[1]


def received(tech: AccessContext, request_id: str) -> dict:
    """Accession, collect and receive the order's specimen as the technician; the received Specimen."""
    specimen = accession(tech, request_id=request_id)
    specimens.collect(tech, specimen_id=specimen["id"])
    return specimens.receive(tech, specimen_id=specimen["id"])
