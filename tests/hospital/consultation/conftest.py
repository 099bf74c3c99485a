"""Fixtures: a hospital with a cardiology department, two doctors, patients, and one in-person diagnosis."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from smartcare.platform import clock
from tests.conftest import bearer

FHIR_JSON = {"Content-Type": "application/fhir+json"}
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def patient_token(pid: str) -> dict[str, str]:
    return bearer("patient/*.cruds", kind="user", name=f"user.{pid}", roles={"patient"}, subject=f"u-{pid}",
                  fhir_user=f"Patient/{pid}", patient=f"Patient/{pid}")


def doctor_token(pid: str, org: str = "Organization/org-a") -> dict[str, str]:
    return bearer("user/*.cruds", kind="user", name=f"dr.{pid}", roles={"doctor"}, organization=org,
                  subject=f"u-{pid}", fhir_user=f"Practitioner/{pid}")


def _patient(pid: str) -> dict:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": "Test", "given": [pid]}],
            "birthDate": "1970-01-01", "managingOrganization": {"reference": "Organization/org-a"}}


RECORDS = [
    {"resourceType": "Organization", "id": "org-a", "name": "Riverside First Hospital"},
    {"resourceType": "Organization", "id": "dept-cardio", "name": "Cardiology",
     "partOf": {"reference": "Organization/org-a"}},
    {"resourceType": "Organization", "id": "dept-derm", "name": "Dermatology",
     "partOf": {"reference": "Organization/org-a"}},
    {"resourceType": "Practitioner", "id": "doc-a", "name": [{"family": "Chen"}]},
    {"resourceType": "Practitioner", "id": "doc-b", "name": [{"family": "Lin"}]},
    {"resourceType": "Practitioner", "id": "doc-c", "name": [{"family": "Wu"}]},
    {"resourceType": "PractitionerRole", "id": "role-a", "practitioner": {"reference": "Practitioner/doc-a"},
     "organization": {"reference": "Organization/dept-cardio"}},
    {"resourceType": "PractitionerRole", "id": "role-b", "practitioner": {"reference": "Practitioner/doc-b"},
     "organization": {"reference": "Organization/dept-cardio"}},
    {"resourceType": "PractitionerRole", "id": "role-c", "practitioner": {"reference": "Practitioner/doc-c"},
     "organization": {"reference": "Organization/dept-derm"}},
    _patient("p1"), _patient("p2"), _patient("p3"),
    # p1: hypertension diagnosed in person at the cardiology clinic.
    {"resourceType": "Encounter", "id": "visit-1", "status": "finished",
     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
     "subject": {"reference": "Patient/p1"}, "serviceProvider": {"reference": "Organization/dept-cardio"},
     "period": {"start": "2026-01-10T01:00:00Z", "end": "2026-01-10T01:20:00Z"}},
    {"resourceType": "Condition", "id": "htn-1", "subject": {"reference": "Patient/p1"},
     "encounter": {"reference": "Encounter/visit-1"},
     "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                    "code": "active"}]},
     "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                        "code": "confirmed"}]},
     "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]}},
    # p3: a condition the patient reported themselves, never seen in person.
    {"resourceType": "Condition", "id": "self-3", "subject": {"reference": "Patient/p3"},
     "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                    "code": "active"}]},
     "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]}},
]


@pytest.fixture
def moment() -> Iterator[list[datetime]]:
    now = [NOW]
    clock.set_clock(lambda: now[0])
    yield now
    clock.set_clock(None)


@pytest.fixture
def hospital(client):
    """The hospital's directory and records loaded through the FHIR API."""
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in RECORDS]}
    done = client.post("/fhir", json=bundle, headers=FHIR_JSON)
    assert done.status_code == 200, done.text
    return client
