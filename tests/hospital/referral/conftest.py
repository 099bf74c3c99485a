"""A small region for the referral tests: a community clinic, a hospital with a cardiology department and slots,
an unrelated clinic, their doctors (with accounts, so notifications reach them) and a patient of the clinic."""

from dataclasses import dataclass
from datetime import date, time, timedelta

import pytest
import sqlalchemy as sa

from smartcare.fhir import store
from smartcare.hospital.scheduling import schedules
from smartcare.hospital.scheduling.models import booking_slot
from smartcare.hospital.scheduling.rules import ScheduleTemplate, Session
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.scopes import parse_scopes
from tests.web_support import staff_session

HOURS = [{"daysOfWeek": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "availableStartTime": "08:00:00",
          "availableEndTime": "17:30:00"}]
PASSWORD = "Blue-Harbour-Lantern-42"
# Username, practitioner, organisation.
STAFF = {
    "gp": ("gp.zhao", "prac-gp", "org-chc"),  # the community doctor who refers up
    "cardio": ("dr.li", "prac-li", "org-h"),  # a cardiologist of the receiving department
    "cardio2": ("dr.wang", "prac-wang", "org-h"),  # a second one (the other clerk in the race)
    "ortho": ("dr.sun", "prac-sun", "org-h"),  # same hospital, another department
    "stranger": ("dr.xu", "prac-xu", "org-x"),  # an unrelated clinic
}


def ctx_of(key: str) -> AccessContext:
    username, prac, org = STAFF[key]
    return AccessContext(kind="user", name=username, roles=frozenset({"doctor"}), organization=f"Organization/{org}",
                         subject=f"u-{username}", fhir_user=f"Practitioner/{prac}",
                         scopes=parse_scopes("user/*.cruds"))


def _role(role_id: str, prac: str, org: str, service: str) -> dict:
    return {"resourceType": "PractitionerRole", "id": role_id, "active": True,
            "practitioner": {"reference": f"Practitioner/{prac}"}, "organization": {"reference": f"Organization/{org}"},
            "healthcareService": [{"reference": f"HealthcareService/{service}"}]}


def region_resources() -> list[dict]:
    """The directory and the patient with her records."""
    return [
        {"resourceType": "Organization", "id": "org-chc", "name": "Riverside Community Health Centre"},
        {"resourceType": "Organization", "id": "org-h", "name": "Harbour Hospital"},
        {"resourceType": "Organization", "id": "org-h-cardio", "name": "Harbour Hospital - Cardiology",
         "partOf": {"reference": "Organization/org-h"}},
        {"resourceType": "Organization", "id": "org-x", "name": "Far Hill Clinic"},
        {"resourceType": "HealthcareService", "id": "hcs-cardio", "name": "Harbour Hospital - Cardiology",
         "providedBy": {"reference": "Organization/org-h-cardio"}, "availableTime": HOURS},
        {"resourceType": "HealthcareService", "id": "hcs-ortho", "name": "Harbour Hospital - Orthopaedics",
         "providedBy": {"reference": "Organization/org-h"}, "availableTime": HOURS},
        {"resourceType": "HealthcareService", "id": "hcs-gp", "name": "Riverside - General practice",
         "providedBy": {"reference": "Organization/org-chc"}, "availableTime": HOURS},
        {"resourceType": "HealthcareService", "id": "hcs-x", "name": "Far Hill - General practice",
         "providedBy": {"reference": "Organization/org-x"}, "availableTime": HOURS},
        *[{"resourceType": "Practitioner", "id": prac, "name": [{"family": name}]}
          for name, prac, _org in STAFF.values()],
        _role("role-gp", "prac-gp", "org-chc", "hcs-gp"),
        _role("role-li", "prac-li", "org-h", "hcs-cardio"),
        _role("role-wang", "prac-wang", "org-h", "hcs-cardio"),
        _role("role-sun", "prac-sun", "org-h", "hcs-ortho"),
        _role("role-xu", "prac-xu", "org-x", "hcs-x"),
        {"resourceType": "Patient", "id": "pa1", "name": [{"family": "Chen", "given": ["Mei"]}],
         "managingOrganization": {"reference": "Organization/org-chc"}},
        {"resourceType": "Patient", "id": "pa2", "name": [{"family": "Hu"}],
         "managingOrganization": {"reference": "Organization/org-h"}},
        {"resourceType": "Observation", "id": "obs-bp", "status": "final", "code": {"text": "Blood pressure"},
         "subject": {"reference": "Patient/pa1"}},
        {"resourceType": "Observation", "id": "obs-other", "status": "final", "code": {"text": "Weight"},
         "subject": {"reference": "Patient/pa2"}},
    ]


@dataclass
class Region:
    engine: object
    day: date
    slots: list[str]  # cardiology's slots of that day, in time order
    users: dict[str, str]  # key -> user id


@pytest.fixture
def region(engine, now) -> Region:
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r)
                                         for r in region_resources()])
        made = {key: users.create_user(conn, username=username, password=PASSWORD, role="doctor",
                                       fhir_ref=f"Practitioner/{prac}", organization=f"Organization/{org}").id
                for key, (username, prac, org) in STAFF.items()}
    day = now[0].astimezone(schedules.region_zone()).date() + timedelta(days=1)
    template = ScheduleTemplate(role_id="role-li", practitioner_id="prac-li", practitioner_name="Li",
                                service_id="hcs-cardio", organization_id="org-h", weekdays=frozenset(range(7)),
                                sessions=(Session("am", time(8), time(12)),), slot_minutes=30, capacity=1, fee=0)
    with unit_of_work(engine) as conn:
        schedules.generate_slots(conn, template=template, start=day, days=1)
        ids = conn.execute(sa.select(booking_slot.c.slot_id).order_by(booking_slot.c.start)).scalars().all()
    return Region(engine, day, list(ids), made)


def as_user(region: Region, key: str) -> AccessContext:
    """The access context of the staff member's real account, as a signed-in page would have it."""
    with unit_of_work(region.engine) as conn:
        return users.context_for(users.get_user(conn, user_id=region.users[key]))


@pytest.fixture
def signed_in(region):
    """Browsers signed in as staff (key -> client); API writes send the session's CSRF token in a header."""
    made = {}

    def open_as(key: str):
        if key not in made:
            made[key] = staff_session(STAFF[key][0], PASSWORD, "/workstation/referrals")
        return made[key]

    yield open_as
    for web in made.values():
        web.close()
