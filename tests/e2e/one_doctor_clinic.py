"""A hospital with one doctor working this morning, for the browser tests that book, queue and call.

The server's clock stands at 09:30 in Shanghai on a Wednesday while the clinic is open, so the morning's slots are
bookable and check-in is open whatever the hour the tests run at.
"""

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from smartcare.fhir import store
from smartcare.hospital.scheduling import schedules
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.hospital.scheduling.conftest import HOURS, template

DAY = date(2026, 3, 4)
NOW = datetime(2026, 3, 4, 1, 30, tzinfo=UTC)  # 09:30 on a Wednesday in Shanghai: the morning session is on
DOCTOR_ROLE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/practitioner-role", "code": "doctor"}]}


@contextlib.contextmanager
def one_doctor_clinic(engine, password: str, *, service: dict[str, Any], doctor: tuple[str, str],
                      room: dict[str, Any] | None = None, gender: str | None = None,
                      accounts: tuple[str, ...] = ("patient", "doctor")) -> Iterator[dict[str, str]]:
    """Open the clinic: service (the HealthcareService's name and any more fields), doctor (given, family), an
    optional consulting room (Location fields), and the accounts asked for: "patient" (mei.<tag>), "doctor"
    (dr.<given>.<tag>) and "officer" (officer.<tag>, public health). Yields the ids and the tag."""
    tag = uuid.uuid4().hex[:6]
    ids = {"org": f"org-{tag}", "hcs": f"hcs-{tag}", "prac": f"prac-{tag}", "role": f"role-{tag}",
           "room": f"room-{tag}", "patient": f"pat-{tag}", "tag": tag}
    given, family = doctor
    role = {"resourceType": "PractitionerRole", "id": ids["role"], "active": True, "code": [DOCTOR_ROLE],
            "practitioner": {"reference": f"Practitioner/{ids['prac']}"},
            "organization": {"reference": f"Organization/{ids['org']}"},
            "healthcareService": [{"reference": f"HealthcareService/{ids['hcs']}"}]}
    patient = {"resourceType": "Patient", "id": ids["patient"], "name": [{"family": "Harbour", "given": ["Mei"]}],
               "birthDate": "1985-04-01", "managingOrganization": {"reference": f"Organization/{ids['org']}"}}
    if gender:
        patient["gender"] = gender
    resources = [
        {"resourceType": "Organization", "id": ids["org"], "name": "Harbour Hospital"},
        {"resourceType": "HealthcareService", "id": ids["hcs"], "providedBy": {"reference": f"Organization/{ids['org']}"},
         "availableTime": HOURS, **service},
        {"resourceType": "Practitioner", "id": ids["prac"], "active": True, "name": [{"family": family, "given": [given]}]},
        role, patient,
    ]
    if room is not None:
        resources.insert(1, {"resourceType": "Location", "id": ids["room"], **room})
        role["location"] = [{"reference": f"Location/{ids['room']}"}]
    clock.set_clock(lambda: NOW)
    try:
        with unit_of_work(engine) as conn:
            store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])
        with unit_of_work(engine) as conn:
            schedules.generate_slots(conn, start=DAY, days=1, template=template(
                role_id=ids["role"], practitioner_id=ids["prac"], practitioner_name=f"{given} {family}",
                service_id=ids["hcs"], organization_id=ids["org"]))
            if "patient" in accounts:
                users.create_user(conn, username=f"mei.{tag}", password=password, role="patient",
                                  fhir_ref=f"Patient/{ids['patient']}")
            if "doctor" in accounts:
                users.create_user(conn, username=f"dr.{given.lower()}.{tag}", password=password, role="doctor",
                                  fhir_ref=f"Practitioner/{ids['prac']}", organization=f"Organization/{ids['org']}")
            if "officer" in accounts:
                users.create_user(conn, username=f"officer.{tag}", password=password, role="public_health_officer")
        yield ids
    finally:
        clock.set_clock(None)
