"""Ward staff keep bed status current through the FHIR API, but only that, and only in their own hospital."""

import pytest

from smartcare.fhir import store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.conftest import bearer

FHIR_JSON = {"Content-Type": "application/fhir+json"}
BED_STATUS = "http://terminology.hl7.org/CodeSystem/v2-0116"


def nurse(organization: str) -> dict:
    return {**bearer("user/*.cruds", kind="user", subject=f"u-{organization}", name="nurse", roles={"nurse"},
                     organization=f"Organization/{organization}", fhir_user="Practitioner/n1"), **FHIR_JSON}


@pytest.fixture
def ward(client):
    resources = [
        {"resourceType": "Organization", "id": "hosp-h", "name": "H"},
        {"resourceType": "Organization", "id": "hosp-k", "name": "K"},
        {"resourceType": "Organization", "id": "dept-h-med", "name": "Medicine", "partOf": {"reference": "Organization/hosp-h"}},
        {"resourceType": "Location", "id": "ward-1", "name": "Ward 1",
         "managingOrganization": {"reference": "Organization/dept-h-med"}},
        {"resourceType": "Location", "id": "room-1", "name": "Room 1", "partOf": {"reference": "Location/ward-1"}},
        {"resourceType": "Location", "id": "bed-1", "name": "Bed 1", "partOf": {"reference": "Location/room-1"},
         "operationalStatus": {"system": BED_STATUS, "code": "U"}},
    ]
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])
    return client.get("/fhir/Location/bed-1").json()


def test_a_nurse_of_the_hospital_sets_a_beds_status(client, ward):
    occupied = {**ward, "operationalStatus": {"system": BED_STATUS, "code": "O"}}
    assert client.put("/fhir/Location/bed-1", json=occupied, headers=nurse("hosp-h")).status_code == 200


def test_a_nurse_of_another_hospital_cannot(client, ward):
    occupied = {**ward, "operationalStatus": {"system": BED_STATUS, "code": "O"}}
    r = client.put("/fhir/Location/bed-1", json=occupied, headers=nurse("hosp-k"))
    assert r.status_code == 403 and "not in your hospital" in r.text


def test_ward_staff_change_nothing_but_the_status(client, ward):
    renamed = {**ward, "name": "VIP suite"}
    r = client.put("/fhir/Location/bed-1", json=renamed, headers=nurse("hosp-h"))
    assert r.status_code == 403 and "only a bed's operational status" in r.text
    assert client.post("/fhir/Location", json={"resourceType": "Location", "name": "x"},
                       headers=nurse("hosp-h")).status_code == 403
