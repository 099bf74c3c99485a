"""A small hospital for the ward tests: two wards with rooms and beds, their staff, patients and signed-in users.

Hospital org-h has Internal Medicine (ward-med: room-m1 with beds bed-m1..bed-m3, room-m2 with bed-m4) and
Surgery (ward-surg: room-s1 with bed-s1, bed-s2). Doctors prac-doc (medicine) and prac-surgeon (surgery), nurses
prac-nurse (medicine) and prac-nurse-s (surgery). Patients of org-h: p-wang (adult), p-li (adult), p-child
(10 years old) and p-dead (deceased). org-x is another hospital with a doctor of its own.
"""

from typing import Any

import pytest

from smartcare.fhir import bundles
from smartcare.hospital.wards import codes
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.web_support import browser, make_user, sign_in

ROLE = "http://terminology.hl7.org/CodeSystem/practitioner-role"


def _location(loc_id: str, name: str, kind: str, part_of: str | None = None, managing: str | None = None,
              status: str | None = None, alias: str | None = None) -> dict[str, Any]:
    location: dict[str, Any] = {"resourceType": "Location", "id": loc_id, "status": "active", "name": name,
                                "mode": "instance", "physicalType": codes.concept(codes.PHYSICAL_TYPE, kind, kind)}
    if alias:
        location["alias"] = [alias]
    if part_of:
        location["partOf"] = {"reference": f"Location/{part_of}"}
    if managing:
        location["managingOrganization"] = {"reference": f"Organization/{managing}"}
    if status:
        location["operationalStatus"] = {"system": codes.BED_STATUS, "code": status}
    return location


def _staff(prac_id: str, family: str, given: str, role: str, org: str, service: str) -> list[dict[str, Any]]:
    return [{"resourceType": "Practitioner", "id": prac_id, "active": True,
             "name": [{"use": "official", "family": family, "given": [given]}]},
            {"resourceType": "PractitionerRole", "id": f"role-{prac_id}", "active": True,
             "practitioner": {"reference": f"Practitioner/{prac_id}"},
             "organization": {"reference": f"Organization/{org}"},
             "code": [{"coding": [{"system": ROLE, "code": role}]}],
             "healthcareService": [{"reference": f"HealthcareService/{service}"}]}]


def _patient(patient_id: str, family: str, given: str, birth: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": patient_id, "name": [{"use": "official", "family": family,
                                                                    "given": [given]}],
            "gender": "female", "birthDate": birth, "managingOrganization": {"reference": "Organization/org-h"},
            **extra}


def hospital_resources() -> list[dict[str, Any]]:
    """The test hospital's directory and patients."""
    resources: list[dict[str, Any]] = [
        {"resourceType": "Organization", "id": "org-h", "name": "Riverside Test Hospital", "alias": ["河畔测试医院"]},
        {"resourceType": "Organization", "id": "org-x", "name": "Elsewhere Hospital"},
    ]
    for key, name in (("med", "Internal Medicine"), ("surg", "Surgery")):
        resources += [
            {"resourceType": "Organization", "id": f"org-h-{key}", "name": name,
             "partOf": {"reference": "Organization/org-h"}},
            {"resourceType": "HealthcareService", "id": f"hcs-{key}", "name": name,
             "providedBy": {"reference": f"Organization/org-h-{key}"}},
            _location(f"ward-{key}", f"{name} Ward", codes.WARD, managing=f"org-h-{key}", alias=f"{name}病区"),
        ]
    resources += [
        _location("room-m1", "Room 1", codes.ROOM, "ward-med"), _location("room-m2", "Room 2", codes.ROOM, "ward-med"),
        _location("room-s1", "Room 1", codes.ROOM, "ward-surg"),
        *(_location(f"bed-m{n}", f"Bed {n}", codes.BED, "room-m1", status="U") for n in (1, 2, 3)),
        _location("bed-m4", "Bed 4", codes.BED, "room-m2", status="U"),
        *(_location(f"bed-s{n}", f"Bed {n}", codes.BED, "room-s1", status="U") for n in (1, 2)),
        *_staff("prac-doc", "Li", "Ming", "doctor", "org-h", "hcs-med"),
        *_staff("prac-nurse", "Zhou", "Fang", "nurse", "org-h", "hcs-med"),
        *_staff("prac-surgeon", "Chen", "Gang", "doctor", "org-h", "hcs-surg"),
        *_staff("prac-nurse-s", "Xu", "Lan", "nurse", "org-h", "hcs-surg"),
        *_staff("prac-other", "Ma", "Jun", "doctor", "org-x", "hcs-med"),
        _patient("p-wang", "Wang", "Xiu", "1950-04-02"),
        _patient("p-li", "Li", "Na", "1978-09-15"),
        _patient("p-child", "Zhao", "Le", "2016-05-01"),
        _patient("p-dead", "Sun", "Bo", "1940-01-01", deceasedDateTime="2026-01-05"),
    ]
    return resources


@pytest.fixture
def hospital(engine, now):
    """The test hospital loaded; signed-in browsers for its doctor and nurse; the doctor's and nurse's contexts."""
    entries = [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
               for r in hospital_resources()]
    with unit_of_work(engine) as conn:
        bundles.transaction(conn, SYSTEM, entries, "")
    doctor = make_user(engine, "doctor", username="li.doctor", fhir_ref="Practitioner/prac-doc",
                       organization="Organization/org-h")
    nurse = make_user(engine, "nurse", username="zhou.nurse", fhir_ref="Practitioner/prac-nurse",
                      organization="Organization/org-h")
    make_user(engine, "nurse", username="xu.nurse", fhir_ref="Practitioner/prac-nurse-s",
              organization="Organization/org-h")
    make_user(engine, "doctor", username="chen.surgeon", fhir_ref="Practitioner/prac-surgeon",
              organization="Organization/org-h")
    make_user(engine, "pharmacist", username="qian.pharmacist", fhir_ref="Practitioner/prac-pharm",
              organization="Organization/org-h")
    make_user(engine, "doctor", username="ma.elsewhere", fhir_ref="Practitioner/prac-other",
              organization="Organization/org-x")
    web = browser()
    sign_in(web, "zhou.nurse")
    return {"web": web, "doctor": users.context_for(doctor), "nurse": users.context_for(nurse)}


def signed_in(username: str):
    """A browser signed in as username."""
    web = browser()
    sign_in(web, username)
    return web
