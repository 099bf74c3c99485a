"""A small hospital for the booking pages: one cardiology department with a room, Dr Li with Tuesday's slots, people."""

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from smartcare.hospital.directory import conventions as dc
from smartcare.hospital.scheduling import schedules
from smartcare.hospital.scheduling.models import booking_slot
from smartcare.platform.db import unit_of_work
from tests.hospital.scheduling.conftest import HOURS, patient, proxy_consent, put_all, template
from tests.web_support import make_user

ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
PRACTITIONER_ROLE = "http://terminology.hl7.org/CodeSystem/practitioner-role"


def directory_resources() -> list[dict]:
    """Harbour Hospital's cardiology: department, consulting room 1 on the 3rd floor, and Dr Li (李伟)."""
    service = {"resourceType": "HealthcareService", "id": "hcs-cardio", "name": "Harbour Hospital Cardiology",
               "active": True, "providedBy": {"reference": "Organization/org-h-cardio"},
               "type": [{"coding": [{"system": dc.DEPARTMENT_SYSTEM, "code": "cardiology", "display": "Cardiology"}],
                         "text": "心内科"}], "availableTime": HOURS}
    dc.set_fees(service, {"ordinary": 10.0})
    practitioner = {"resourceType": "Practitioner", "id": "prac-li", "active": True,
                    "name": [{"use": "official", "text": "李伟", "family": "李", "given": ["伟"]},
                             {"use": "official", "text": "Li Wei", "family": "Li", "given": ["Wei"]}]}
    dc.set_title(practitioner, "chief-physician", "Chief physician", "主任医师")
    role = {"resourceType": "PractitionerRole", "id": "role-li", "active": True,
            "practitioner": {"reference": "Practitioner/prac-li"}, "organization": {"reference": "Organization/org-h"},
            "code": [{"coding": [{"system": PRACTITIONER_ROLE, "code": "doctor"}]}],
            "location": [{"reference": "Location/room-c1"}],
            "healthcareService": [{"reference": "HealthcareService/hcs-cardio"}]}
    dc.set_visit_type(role, "ordinary")
    return [
        {"resourceType": "Organization", "id": "org-h", "name": "Harbour Hospital", "alias": ["海港医院"],
         "type": [{"coding": [{"system": ORG_TYPE, "code": "prov"}]}]},
        {"resourceType": "Organization", "id": "org-h-cardio", "name": "Cardiology", "partOf": {
            "reference": "Organization/org-h"}, "type": [{"coding": [{"system": ORG_TYPE, "code": "dept"}]}]},
        service,
        {"resourceType": "Location", "id": "room-c1", "name": "Cardiology room 1", "alias": ["心内科1诊室"],
         "physicalType": {"coding": [{"system": dc.LOCATION_PHYSICAL_TYPE, "code": "ro"}]},
         "extension": [{"url": dc.FLOOR_EXT, "valueInteger": 3}]},
        practitioner, role,
    ]


@dataclass
class Hospital:
    engine: object
    day: date  # Tuesday, the day after the stopped clock's
    slots: list[str]  # that day's slot ids in time order


@pytest.fixture
def hospital(engine, now) -> Hospital:
    """The directory, patients pa1, pa2, a child whose mother (rp-mum) is proxy, and a stranger; Tuesday's slots."""
    put_all(engine, [
        *directory_resources(), patient("pa1"), patient("pa2"), patient("child"), patient("stranger"),
        {"resourceType": "RelatedPerson", "id": "rp-mum", "patient": {"reference": "Patient/child"},
         "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                       "code": "PRN"}]}]},
        proxy_consent("c-mum", "child", "rp-mum"),
    ])
    day = now[0].astimezone(schedules.region_zone()).date() + timedelta(days=1)
    with unit_of_work(engine) as conn:
        schedules.generate_slots(conn, template=template(), start=day, days=1)
        ids = conn.execute(sa.select(booking_slot.c.slot_id).order_by(booking_slot.c.start)).scalars().all()
    make_user(engine, "patient")
    make_user(engine, "caregiver", fhir_ref="RelatedPerson/rp-mum")
    return Hospital(engine, day, list(ids))
