"""A small region for the remote consultation tests: a community clinic whose doctor asks, a hospital with a
cardiology department (two cardiologists) and a radiologist doctor in imaging, an unrelated clinic, and a patient
of the clinic with reports, observations, an imaging study and a letter sent by the clinic."""

from dataclasses import dataclass

import pytest

from smartcare.fhir import store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM, AccessContext
from tests.web_support import staff_session

PASSWORD = "Blue-Harbour-Lantern-42"
HOURS = [{"daysOfWeek": ["mon", "tue", "wed", "thu", "fri"], "availableStartTime": "08:00:00",
          "availableEndTime": "17:30:00"}]
# Key: username, practitioner, organisation, department.
STAFF = {
    "gp": ("gp.zhao", "prac-gp", "org-chc", "hcs-gp"),  # the community doctor who asks
    "cardio": ("dr.li", "prac-li", "org-h", "hcs-cardio"),  # a cardiologist of the receiving department
    "cardio2": ("dr.wang", "prac-wang", "org-h", "hcs-cardio"),
    "imaging": ("dr.sun", "prac-sun", "org-h", "hcs-imaging"),  # same hospital, imaging department
    "stranger": ("dr.xu", "prac-xu", "org-x", "hcs-x"),  # an unrelated clinic
}
STUDY_UID = "1.2.826.0.1.3680043.8.498.77001"
OTHER_UID = "1.2.826.0.1.3680043.8.498.77002"


def _role(prac: str, org: str, service: str) -> dict:
    return {"resourceType": "PractitionerRole", "id": f"role-{prac}", "active": True,
            "practitioner": {"reference": f"Practitioner/{prac}"}, "organization": {"reference": f"Organization/{org}"},
            "healthcareService": [{"reference": f"HealthcareService/{service}"}]}


def directory() -> list[dict]:
    """Organisations, departments, practitioners and their roles."""
    services = [("hcs-cardio", "Harbour Hospital - Cardiology", "org-h"), ("hcs-imaging", "Harbour Hospital - Imaging",
                                                                           "org-h"),
                ("hcs-gp", "Riverside - General practice", "org-chc"), ("hcs-x", "Far Hill - General practice", "org-x")]
    return [
        {"resourceType": "Organization", "id": "org-chc", "name": "Riverside Community Health Centre"},
        {"resourceType": "Organization", "id": "org-h", "name": "Harbour Hospital"},
        {"resourceType": "Organization", "id": "org-x", "name": "Far Hill Clinic"},
        *[{"resourceType": "HealthcareService", "id": sid, "name": name, "providedBy": {"reference": f"Organization/{org}"},
           "availableTime": HOURS} for sid, name, org in services],
        *[{"resourceType": "Practitioner", "id": prac, "name": [{"family": name}]}
          for name, prac, _org, _s in STAFF.values()],
        *[_role(prac, org, service) for _n, prac, org, service in STAFF.values()],
        {"resourceType": "Patient", "id": "pa1", "name": [{"family": "Chen", "given": ["Mei"]}],
         "managingOrganization": {"reference": "Organization/org-chc"}},
    ]


def _study(sid: str, uid: str, text: str) -> dict:
    return {"resourceType": "ImagingStudy", "id": sid, "status": "available", "subject": {"reference": "Patient/pa1"},
            "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{uid}"}], "description": text}


def clinic_records() -> list[dict]:
    """The patient's records as the clinic sent them: four to share, and one of each kind kept back."""
    subject = {"reference": "Patient/pa1"}
    return [
        {"resourceType": "DiagnosticReport", "id": "dr-echo", "status": "final", "code": {"text": "Echocardiogram"},
         "subject": subject},
        {"resourceType": "Observation", "id": "obs-bnp", "status": "final", "code": {"text": "NT-proBNP"},
         "subject": subject, "valueQuantity": {"value": 1800, "unit": "pg/mL"}},
        _study("img-chest", STUDY_UID, "Chest X-ray"),
        {"resourceType": "DocumentReference", "id": "doc-letter", "status": "current", "subject": subject,
         "content": [{"attachment": {"contentType": "text/plain", "data": "UmVmZXJyYWwgbGV0dGVy"}}]},
        {"resourceType": "Observation", "id": "obs-private", "status": "final", "code": {"text": "HIV test"},
         "subject": subject},
        {"resourceType": "DiagnosticReport", "id": "dr-private", "status": "final", "code": {"text": "Psychiatry"},
         "subject": subject},
        _study("img-other", OTHER_UID, "Pelvis X-ray"),
    ]


SHARED = ["DiagnosticReport/dr-echo", "Observation/obs-bnp", "ImagingStudy/img-chest", "DocumentReference/doc-letter"]
UNSHARED = ["Observation/obs-private", "DiagnosticReport/dr-private", "ImagingStudy/img-other", "Patient/pa1"]


@dataclass
class Region:
    engine: object
    users: dict[str, str]  # key -> user id

    def ctx(self, key: str) -> AccessContext:
        """The access context of the staff member's account, as their signed-in pages have it."""
        with unit_of_work(self.engine) as conn:
            return users.context_for(users.get_user(conn, user_id=self.users[key]))


@pytest.fixture
def region(engine, now) -> Region:
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in directory()])
        made = {key: users.create_user(conn, username=username, password=PASSWORD, role="doctor",
                                       fhir_ref=f"Practitioner/{prac}", organization=f"Organization/{org}").id
                for key, (username, prac, org, _s) in STAFF.items()}
    with unit_of_work(engine) as conn:
        gp = users.context_for(users.get_user(conn, user_id=made["gp"]))
        store.write_batch(conn, gp, [store.Write("PUT", r["resourceType"], r["id"], r) for r in clinic_records()])
    return Region(engine, made)


@pytest.fixture
def signed_in(region):
    """Browsers signed in as staff with the session cookie (key -> client); API writes send the CSRF header.
    Signing in again after the test moves the clock gives a fresh session at the new time."""
    made = {}

    def open_as(key: str, fresh: bool = False):
        if fresh or key not in made:
            made[key] = staff_session(STAFF[key][0], PASSWORD, "/workstation/teleconsults")
        return made[key]

    yield open_as
    for web in made.values():
        web.close()
