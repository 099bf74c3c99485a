"""A small clinic for the scheduling tests: one department, one doctor, a template, patients and a caregiver."""

from dataclasses import dataclass
from datetime import date, time, timedelta

import pytest
import sqlalchemy as sa

from smartcare.fhir import store
from smartcare.hospital.scheduling import schedules
from smartcare.hospital.scheduling.models import booking_slot
from smartcare.hospital.scheduling.rules import BookingRules, ScheduleTemplate, Session
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.scopes import parse_scopes

# The stopped clock stands at Monday 2 March 2026, 16:00 in Shanghai; slots are made from Tuesday.
TUESDAY = date(2026, 3, 3)
HOURS = [{"daysOfWeek": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "availableStartTime": "08:00:00",
          "availableEndTime": "17:30:00"}]
RULES = BookingRules(cancel_cutoff_minutes=120, daily_limit=2, unpaid_timeout_minutes=15)
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"


def template(**changes) -> ScheduleTemplate:
    """Dr Li's template: weekday mornings and afternoons, 30-minute slots, one place each, 10 CNY."""
    values = dict(role_id="role-li", practitioner_id="prac-li", practitioner_name="Li Wei", service_id="hcs-cardio",
                  organization_id="org-h", weekdays=frozenset(range(7)),
                  sessions=(Session("am", time(8), time(12)), Session("pm", time(14), time(17))),
                  slot_minutes=30, capacity=1, fee=1000)
    values.update(changes)
    return ScheduleTemplate(**values)


def patient_ctx(patient_id: str) -> AccessContext:
    return AccessContext(kind="user", name=f"user-{patient_id}", roles=frozenset({"patient"}),
                         subject=f"u-{patient_id}", fhir_user=f"Patient/{patient_id}", patient=f"Patient/{patient_id}",
                         scopes=parse_scopes("patient/*.cruds"))


def caregiver_ctx(related_person: str) -> AccessContext:
    return AccessContext(kind="user", name=f"user-{related_person}", roles=frozenset({"caregiver"}),
                         subject=f"u-{related_person}", fhir_user=f"RelatedPerson/{related_person}",
                         scopes=parse_scopes("patient/*.cruds"))


DESK = AccessContext(kind="user", name="desk-clerk", roles=frozenset({"nurse"}), organization="Organization/org-h",
                     subject="u-desk", fhir_user="Practitioner/prac-desk", scopes=parse_scopes("user/*.cruds"))


def patient(pid: str, **extra) -> dict:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": pid}],
            "managingOrganization": {"reference": "Organization/org-h"}, **extra}


def proxy_consent(cid: str, patient_id: str, related_person: str) -> dict:
    return {
        "resourceType": "Consent", "id": cid, "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "https://smartcare.example/fhir/CodeSystem/consent-category",
                                  "code": "proxy-access"}]}],
        "patient": {"reference": f"Patient/{patient_id}"},
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": {"type": "permit", "actor": [{"role": {"coding": [{"system": ROLE_CODE, "code": "PRN"}]},
                                                   "reference": {"reference": f"RelatedPerson/{related_person}"}}]},
    }


def put_all(engine, resources: list[dict]) -> None:
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])


@dataclass
class Clinic:
    engine: object
    day: date  # the day after the clock's (Tuesday for the stopped clock)
    slots: list[str]  # that day's slot ids in time order


@pytest.fixture
def clinic(engine, now) -> Clinic:
    put_all(engine, [
        {"resourceType": "Organization", "id": "org-h", "name": "Harbour Hospital"},
        {"resourceType": "HealthcareService", "id": "hcs-cardio", "name": "Cardiology",
         "providedBy": {"reference": "Organization/org-h"}, "availableTime": HOURS},
        {"resourceType": "Practitioner", "id": "prac-li", "name": [{"family": "Li", "given": ["Wei"]}]},
        {"resourceType": "PractitionerRole", "id": "role-li", "practitioner": {"reference": "Practitioner/prac-li"},
         "organization": {"reference": "Organization/org-h"},
         "healthcareService": [{"reference": "HealthcareService/hcs-cardio"}]},
        patient("pa1"), patient("pa2"), patient("child"), patient("stranger"),
        patient("dead", deceasedBoolean=True), patient("inactive", active=False),
        {"resourceType": "RelatedPerson", "id": "rp-mum", "patient": {"reference": "Patient/child"},
         "relationship": [{"coding": [{"system": ROLE_CODE, "code": "PRN"}]}]},
        proxy_consent("c-mum", "child", "rp-mum"),
    ])
    day = now[0].astimezone(schedules.region_zone()).date() + timedelta(days=1)
    with unit_of_work(engine) as conn:
        schedules.generate_slots(conn, template=template(), start=day, days=1)
        ids = conn.execute(sa.select(booking_slot.c.slot_id).order_by(booking_slot.c.start)).scalars().all()
    return Clinic(engine, day, list(ids))
