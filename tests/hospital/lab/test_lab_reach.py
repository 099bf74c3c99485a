"""A laboratory works for the patients whose orders it performs, whoever manages them; nobody else gains reach."""

import pytest

from smartcare.fhir import gateway, store
from smartcare.fhir.errors import FhirError
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.hospital.lab.lab_workflow_record import write_hospital
from tests.web_support import make_user

SNOMED = "http://snomed.info/sct"


def _order(order_id: str, patient: str, status: str = "active") -> dict:
    return {"resourceType": "ServiceRequest", "id": order_id, "status": status, "intent": "order",
            "category": [{"coding": [{"system": SNOMED, "code": "108252007"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]},
            "subject": {"reference": f"Patient/{patient}"},
            "performer": [{"reference": "HealthcareService/hcs-laboratory"}]}


@pytest.fixture
def sent_samples(engine, now):
    """Two patients of a health centre: Mr Sun's sample was sent to the hospital's laboratory, Ms Qian's was not."""
    people = write_hospital(engine)
    resources = [
        {"resourceType": "Organization", "id": "org-chc", "name": "Riverside Health Centre"},
        {"resourceType": "Patient", "id": "p-sun", "managingOrganization": {"reference": "Organization/org-chc"}},
        {"resourceType": "Patient", "id": "p-qian", "managingOrganization": {"reference": "Organization/org-chc"}},
        {"resourceType": "Patient", "id": "p-wu", "managingOrganization": {"reference": "Organization/org-chc"}},
        _order("sr-sun", "p-sun"), _order("sr-wu", "p-wu", status="revoked"),
    ]
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])
    nurse = make_user(engine, "nurse", username="ward.nurse", organization="Organization/org-h")
    return people | {"nurse": users.context_for(nurse)}


def _can_read(ctx, ref: str) -> bool:
    try:
        gateway.read(ctx, ref)
    except FhirError:
        return False
    return True


def test_the_laboratory_reaches_the_patient_whose_sample_it_was_sent(sent_samples):
    tech = sent_samples["tech"]
    assert _can_read(tech, "Patient/p-sun") and _can_read(tech, "ServiceRequest/sr-sun")
    orders = gateway.search(tech, "ServiceRequest", [("performer", "HealthcareService/hcs-laboratory"),
                                                     ("status", "active")])
    assert [o["id"] for o in orders] == ["sr-sun"]


def test_no_order_or_a_revoked_one_gives_the_laboratory_no_reach(sent_samples):
    tech = sent_samples["tech"]
    assert not _can_read(tech, "Patient/p-qian")
    assert not _can_read(tech, "Patient/p-wu")


def test_other_staff_of_the_hospital_do_not_reach_patients_through_laboratory_orders(sent_samples):
    assert not _can_read(sent_samples["nurse"], "Patient/p-sun")
