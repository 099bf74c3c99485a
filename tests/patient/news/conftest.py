"""A small region for the news: two patients in different districts, ages and conditions, a hospital, writers."""

from dataclasses import dataclass
from datetime import timedelta

import pytest

from smartcare.fhir import store
from smartcare.patient.news import service
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.web_support import make_user

ICD10 = "http://hl7.org/fhir/sid/icd-10"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def patient(pid: str, *, district: str, born: str) -> dict:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": pid}], "birthDate": born,
            "managingOrganization": {"reference": "Organization/org-a"},
            "address": [{"use": "home", "city": "Lanzhou Bay", "district": district, "country": "CN"}]}


def condition(cid: str, pid: str, code: str, status: str = "active") -> dict:
    return {"resourceType": "Condition", "id": cid, "subject": {"reference": f"Patient/{pid}"},
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": status}]},
            "code": {"coding": [{"system": ICD10, "code": code}]}}


@dataclass
class Region:
    engine: object
    patient: users.User  # patient.test: Patient/pa1, Hedong, 75 years old, type 2 diabetes (E11.9)
    neighbour: users.User  # patient2.test: Patient/pa2, Hexi, 30 years old, hypertension resolved (I10)
    hospital_admin: users.User  # Organization/org-a, Harbour Hospital
    other_admin: users.User  # Organization/org-b
    authority: users.User  # a regional administrator


@pytest.fixture
def region(engine, now) -> Region:
    resources = [
        {"resourceType": "Organization", "id": "org-a", "name": "Harbour Hospital"},
        {"resourceType": "Organization", "id": "org-b", "name": "Hill Hospital"},
        patient("pa1", district="Hedong District", born="1950-05-01"),
        patient("pa2", district="Hexi District", born="1995-06-15"),
        condition("c1", "pa1", "E11.9"),
        condition("c2", "pa2", "I10", status="resolved"),
    ]
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])
    return Region(
        engine=engine,
        patient=make_user(engine, "patient"),
        neighbour=make_user(engine, "patient", "patient2.test", fhir_ref="Patient/pa2", locale="zh-Hans"),
        hospital_admin=make_user(engine, "hospital_admin"),
        other_admin=make_user(engine, "hospital_admin", "other.admin.test", organization="Organization/org-b"),
        authority=make_user(engine, "regional_admin"),
    )


def write(engine, user: users.User, **fields) -> str:
    """An article written by user through the service (English unless texts are given)."""
    values = {"category": "health-tips", "title_en": "Stay well", "body_en": "<p>Drink water.</p>", **fields}
    with unit_of_work(engine) as conn:
        return service.create_article(conn, ctx=users.context_for(user), draft=service.Draft(**values),
                                      organization_name="Harbour Hospital")


def later(now, **delta) -> object:
    return now[0] + timedelta(**delta)
