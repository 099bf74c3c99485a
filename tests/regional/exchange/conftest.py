"""Members of a test region: two hospitals registered as exchange members, each with its client's token."""

from dataclasses import dataclass
from typing import Any

import pytest

from smartcare.fhir import store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.exchange import members
from tests.conftest import bearer

LOINC = "http://loinc.org"


@dataclass
class TestMember:
    member: members.Member
    secret: str

    @property
    def headers(self) -> dict[str, str]:
        """A bearer token as the member's client gets it from /auth/token (its id, organisation and scopes)."""
        return bearer(members.MEMBER_SCOPES, subject=self.member.client_id, name=f"Exchange {self.member.org_id}",
                      organization=self.member.organization)


def register(engine, org_id: str, name: str, facility: str | None = None, **kw: Any) -> TestMember:
    with unit_of_work(engine) as conn:
        store.update(conn, SYSTEM, {"resourceType": "Organization", "id": org_id, "name": name},
                     res_type="Organization", res_id=org_id)
        done = members.register_member(conn, SYSTEM, org_id=org_id, hl7_facility=facility, **kw)
    return TestMember(done.member, done.client_secret)


@pytest.fixture
def hospital_a(engine) -> TestMember:
    return register(engine, "org-xa", "Riverside First Hospital", facility="RIVERSIDE-1",
                    fhir_base="https://his.riverside.example/fhir", mllp_address="mllp://10.0.0.5:2575",
                    sends="Patient,Encounter,Observation,hl7v2:ADT")


@pytest.fixture
def hospital_b(engine) -> TestMember:
    return register(engine, "org-xb", "Hexi Community Health Centre", facility="HEXI-CHC")


def patient(pid: str, *, identifier: str | None = "A-0001", born: str | None = "1971-05-04") -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient", "id": pid, "gender": "female",
                                "name": [{"family": "Chen", "given": ["Mei"]}]}
    if identifier:
        resource["identifier"] = [{"system": "urn:oid:2.16.156.xa.mrn", "value": identifier}]
    if born:
        resource["birthDate"] = born
    return resource


def heart_rate(oid: str, pid: str, value: Any = 72) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "8867-4", "display": "Heart rate"}]},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2026-03-01T09:00:00+08:00",
            "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}}


def put(resource: dict[str, Any]) -> dict[str, Any]:
    return {"resource": resource, "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}}


def bundle(kind: str, *resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": [put(r) for r in resources]}
