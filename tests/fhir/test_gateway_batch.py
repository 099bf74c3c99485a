"""Several reads through the gateway in one transaction: each answered read audited, a refusal stops them all."""

import pytest

from smartcare.fhir import gateway, store
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.platform.audit import service as audit_service
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.scopes import parse_scopes

DOCTOR = AccessContext(kind="user", name="doc", roles=frozenset({"doctor"}), organization="Organization/org-a",
                       subject="u-doc", fhir_user="Practitioner/doc-a", scopes=parse_scopes("user/*.rs"))


@pytest.fixture
def records(engine):
    resources = [{"resourceType": "Organization", "id": "org-a", "name": "A"},
                 {"resourceType": "Organization", "id": "org-b", "name": "B"},
                 {"resourceType": "Patient", "id": "pa", "managingOrganization": {"reference": "Organization/org-a"}},
                 {"resourceType": "Patient", "id": "pb", "managingOrganization": {"reference": "Organization/org-b"}},
                 {"resourceType": "Condition", "id": "ca", "subject": {"reference": "Patient/pa"},
                  "code": {"text": "hypertension"}}]
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])


def test_reads_in_one_transaction_each_leave_their_audit_entry(records):
    answers = gateway.serve_all(DOCTOR, [FhirRequest(method="GET", path="Patient/pa"),
                                         FhirRequest(method="GET", path="Condition", query=[("patient", "pa")])])
    assert answers[0].body["id"] == "pa" and answers[1].body["entry"][0]["resource"]["id"] == "ca"
    with unit_of_work() as conn:
        entries = audit_service.events_for_patient(conn, "Patient/pa")
    assert len([e for e in entries if e["agent"].endswith("doc")]) >= 2


def test_a_refused_read_stops_the_batch_and_is_audited(records):
    with pytest.raises(FhirError):
        gateway.serve_all(DOCTOR, [FhirRequest(method="GET", path="Patient/pa"),
                                   FhirRequest(method="GET", path="Patient/pb")])
    with unit_of_work() as conn:
        refused = audit_service.search(conn, outcome="4")
    assert refused and any("Patient/pb" in str(e["event"]) for e in refused)


def _queries(entries: list[dict]) -> list[str]:
    return [e["description"] for entry in entries for e in entry["event"]["entity"] if e.get("description")]


def test_searches_in_one_transaction_give_their_resources_and_are_audited_as_asked(records):
    conditions, patients = gateway.search_each(DOCTOR, [("Condition", [("patient", "pa")]),
                                                        ("Patient", [("_id", "pa")])])
    assert [c["id"] for c in conditions] == ["ca"] and [p["id"] for p in patients] == ["pa"]
    with unit_of_work() as conn:
        asked = _queries(audit_service.events_for_patient(conn, "Patient/pa"))
    assert "Condition?patient=pa" in asked and "Patient?_id=pa" in asked
    assert not any("_total" in query for query in asked)


def test_a_refused_search_stops_the_others_and_is_audited_as_asked(records):
    with pytest.raises(FhirError):
        gateway.search_each(DOCTOR, [("Condition", [("patient", "pa")]), ("Patient", [("_count", "many")])])
    with unit_of_work() as conn:
        refused = _queries(audit_service.search(conn, outcome="4"))
        served = _queries(audit_service.events_for_patient(conn, "Patient/pa"))
    assert refused == ["Patient?_count=many"]
    assert "Condition?patient=pa" not in served
