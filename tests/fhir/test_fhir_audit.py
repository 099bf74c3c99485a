"""Every FHIR access leaves an audit entry: served ones in their own transaction, refused ones too."""

import pytest

from smartcare.platform.audit import events_for_patient, verify
from smartcare.platform.db import unit_of_work
from tests.conftest import bearer

FHIR_JSON = {"Content-Type": "application/fhir+json"}
DOCTOR = dict(scope="user/*.cruds", kind="user", name="dr.chen", roles={"doctor"},
              organization="Organization/org-a", fhir_user="Practitioner/doc-a")
PATIENT = dict(scope="patient/*.cruds", kind="user", name="zhang", roles={"patient"}, patient="Patient/pa1")


@pytest.fixture
def clinic(client):
    entries = [{"resourceType": "Organization", "id": "org-a", "name": "Riverside CHC"}]
    for pid in ("pa1", "pa2", "pa3"):
        entries.append({"resourceType": "Patient", "id": pid, "managingOrganization": {"reference": "Organization/org-a"}})
        entries.append({"resourceType": "Observation", "id": f"obs-{pid}", "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                        "subject": {"reference": f"Patient/{pid}"}})
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in entries]}
    assert client.post("/fhir", json=bundle, headers=FHIR_JSON).status_code == 200
    return client


def who_opened(engine, patient: str) -> list[tuple[str, str, str]]:
    """The patient's audit list, leaving out the test's own set-up (a backend client's transaction)."""
    with unit_of_work(engine) as conn:
        return [(e["agent"], e["subtype"], e["outcome"]) for e in events_for_patient(conn, patient)
                if e["agent"] != "client/test suite"]


def test_a_read_is_audited_against_the_patient(clinic, engine):
    assert clinic.get("/fhir/Observation/obs-pa1", headers=bearer(**PATIENT)).status_code == 200
    assert who_opened(engine, "Patient/pa1") == [("user/zhang", "read", "0")]


def test_a_search_over_several_patients_is_audited_for_each(clinic, engine):
    r = clinic.get("/fhir/Observation", headers=bearer(**DOCTOR))
    assert len(r.json()["entry"]) == 3
    for pid in ("pa1", "pa2", "pa3"):
        assert who_opened(engine, f"Patient/{pid}") == [("user/dr.chen", "search", "0")]


def test_refused_and_anonymous_attempts_are_audited(clinic, engine):
    assert clinic.get("/fhir/Observation/obs-pa2", headers=bearer(**PATIENT)).status_code == 404
    assert clinic.get("/fhir/Patient/pa2", headers={"Authorization": "Bearer forged"}).status_code == 401
    with unit_of_work(engine) as conn:
        from smartcare.platform.audit import search

        refused = search(conn, outcome="4")
    assert {(e["agent"], e["subtype"]) for e in refused} == {("user/zhang", "read"), ("anonymous/anonymous", "read")}


def test_the_trail_verifies_after_a_working_day(clinic, engine):
    clinic.get("/fhir/Patient", headers=bearer(**DOCTOR))
    clinic.post("/fhir/Observation", json={"resourceType": "Observation", "status": "final",
                                           "code": {"text": "home BP"}, "subject": {"reference": "Patient/pa1"}},
                headers={**bearer(**PATIENT), **FHIR_JSON})
    with unit_of_work(engine) as conn:
        report = verify(conn)
    assert report.ok and report.checked >= 4


def test_nothing_is_answered_or_saved_without_its_audit_entry(clinic, engine, monkeypatch):
    import smartcare.fhir.audit_trail as trail

    def broken(*args, **kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(trail, "record", broken)
    r = clinic.post("/fhir/Observation", json={"resourceType": "Observation", "id": "x", "status": "final",
                                               "code": {"text": "BP"}, "subject": {"reference": "Patient/pa1"}},
                    headers={**bearer(**PATIENT), **FHIR_JSON})
    assert r.status_code == 500
    with unit_of_work(engine) as conn:
        stored = conn.exec_driver_sql("SELECT count(*) FROM fhir_resource WHERE res_type = 'Observation'").scalar_one()
    assert stored == 3
    r = clinic.get("/fhir/Observation/obs-pa1", headers=bearer(**PATIENT))
    assert r.status_code == 500 and "Observation" not in r.text.replace("OperationOutcome", "")
