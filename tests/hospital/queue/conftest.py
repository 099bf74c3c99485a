"""Fixtures for the queue tests: a small hospital with a doctor, patients and today's appointments."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from smartcare.platform import clock

FHIR_JSON = {"Content-Type": "application/fhir+json"}
# 16:00 in Shanghai on 2 March 2026: the afternoon session, which ends at 18:00 (10:00 UTC).
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SESSION = "doc-a:2026-03-02:pm"


@pytest.fixture
def moment() -> Iterator[list[datetime]]:
    now = [NOW]
    clock.set_clock(lambda: now[0])
    yield now
    clock.set_clock(None)


def patient(pid: str, birth: str = "1980-05-01", **extra) -> dict:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": "Test", "given": [pid]}], "birthDate": birth,
            "managingOrganization": {"reference": "Organization/org-a"}, **extra}


def appointment(aid: str, pid: str, minutes: int, practitioner: str = "doc-a", status: str = "booked",
                **extra) -> dict:
    start = NOW + timedelta(minutes=minutes)
    return {"resourceType": "Appointment", "id": aid, "status": status,
            "start": start.isoformat().replace("+00:00", "Z"),
            "end": (start + timedelta(minutes=10)).isoformat().replace("+00:00", "Z"),
            "participant": [
                {"actor": {"reference": f"Patient/{pid}"}, "status": "accepted"},
                {"actor": {"reference": f"Practitioner/{practitioner}"}, "status": "accepted"},
                {"actor": {"reference": "Location/room-3", "display": "Room 3, 2nd floor"}, "status": "accepted"},
            ], **extra}


BASE = [
    {"resourceType": "Organization", "id": "org-a", "name": "Riverside First Hospital"},
    {"resourceType": "Organization", "id": "org-b", "name": "Hillside District Hospital"},
    {"resourceType": "Location", "id": "room-3", "name": "Room 3, 2nd floor", "alias": ["二楼3诊室"]},
    {"resourceType": "Practitioner", "id": "doc-a", "name": [{"family": "Chen"}]},
    {"resourceType": "Practitioner", "id": "doc-a2", "name": [{"family": "Lin"}]},
    {"resourceType": "Practitioner", "id": "doc-b", "name": [{"family": "Zhou"}]},
    {"resourceType": "PractitionerRole", "id": "role-a", "practitioner": {"reference": "Practitioner/doc-a"},
     "organization": {"reference": "Organization/org-a"}},
    {"resourceType": "PractitionerRole", "id": "role-a2", "practitioner": {"reference": "Practitioner/doc-a2"},
     "organization": {"reference": "Organization/org-a"}},
    {"resourceType": "PractitionerRole", "id": "role-b", "practitioner": {"reference": "Practitioner/doc-b"},
     "organization": {"reference": "Organization/org-b"}},
]


@pytest.fixture
def clinic(client, moment):
    """Patients p1..p6 with afternoon appointments with doc-a, loaded through the FHIR API."""
    resources = [*BASE, *(patient(f"p{i}") for i in range(1, 7)), patient("old", "1940-01-01"),
                 *(appointment(f"a{i}", f"p{i}", 10 * i) for i in range(1, 7)),
                 appointment("a-old", "old", 45)]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]}
    done = client.post("/fhir", json=bundle, headers=FHIR_JSON)
    assert done.status_code == 200, done.text
    return client
