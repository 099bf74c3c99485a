"""Members submit Bundles and NDJSON files: reports with reasons, source and provenance, idempotent resends."""

import sqlalchemy as sa

from smartcare.fhir import store
from smartcare.fhir import tables as ft
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import run_due
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.mpi.tables import mpi_link
from tests.conftest import bearer
from tests.regional.exchange.conftest import bundle, heart_rate, patient

URL = "/api/v1/exchange/bundles"


def count(engine, res_type: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(ft.resource).where(
            ft.resource.c.res_type == res_type, ft.resource.c.deleted.is_(False))).scalar()


def read(engine, res_type: str, res_id: str) -> dict:
    with unit_of_work(engine) as conn:
        return store.read(conn, SYSTEM, res_type=res_type, res_id=res_id).resource


def test_the_same_bundle_twice_gives_one_set_of_resources_and_the_same_report(anonymous, engine, hospital_a):
    sent = bundle("transaction", patient("xa-p1"), heart_rate("xa-o1", "xa-p1"), heart_rate("xa-o2", "xa-p1", 80))
    first = anonymous.post(URL, json=sent, headers=hospital_a.headers)
    assert first.status_code == 200, first.text
    report = first.json()
    assert report["status"] == "accepted" and report["counts"]["accepted"] == 3 and report["duplicate"] is False
    assert {a["reference"] for a in report["accepted"]} == {"Patient/xa-p1", "Observation/xa-o1", "Observation/xa-o2"}
    versions = read(engine, "Observation", "xa-o1")["meta"]["versionId"]
    again = anonymous.post(URL, json=sent, headers=hospital_a.headers)
    assert again.status_code == 200
    assert again.json() == {**report, "duplicate": True}
    assert count(engine, "Observation") == 2 and count(engine, "Provenance") == 1
    assert read(engine, "Observation", "xa-o1")["meta"]["versionId"] == versions  # not written a second time


def test_every_stored_resource_names_the_member_as_source_with_a_provenance(anonymous, engine, hospital_a):
    claimed = {**patient("xa-p2"), "meta": {"source": "Organization/org-xb"}}  # says it comes from another member
    report = anonymous.post(URL, json=bundle("batch", claimed, heart_rate("xa-o3", "xa-p2")),
                            headers=hospital_a.headers).json()
    assert read(engine, "Patient", "xa-p2")["meta"]["source"] == "Organization/org-xa"
    assert read(engine, "Observation", "xa-o3")["meta"]["source"] == "Organization/org-xa"
    assert any("replaced by Organization/org-xa" in w["message"] for w in report["warnings"])
    provenance = read(engine, "Provenance", report["provenance"].split("/")[1])
    assert provenance["agent"][0]["who"]["reference"] == "Organization/org-xa"
    assert {t["reference"] for t in provenance["target"]} == {"Patient/xa-p2", "Observation/xa-o3"}
    assert provenance["entity"][0]["what"]["identifier"]["value"] == report["submission"]


def test_a_batch_keeps_the_good_entries_and_rejects_the_bad_one_with_its_reason(anonymous, engine, hospital_a):
    bad = heart_rate("xa-bad", "xa-p3", value="seventy")  # a string where a decimal belongs
    report = anonymous.post(URL, json=bundle("batch", patient("xa-p3"), heart_rate("xa-o4", "xa-p3"), bad),
                            headers=hospital_a.headers)
    assert report.status_code == 200
    body = report.json()
    assert body["status"] == "partial" and body["counts"] == {"entries": 3, "accepted": 2, "rejected": 1,
                                                               "warnings": 0}
    (rejected,) = body["rejected"]
    assert rejected["entry"] == 2 and "value" in rejected["reason"]
    assert rejected["outcome"]["resourceType"] == "OperationOutcome"
    assert count(engine, "Observation") == 1


def test_a_transaction_with_one_bad_entry_writes_nothing(anonymous, engine, hospital_a):
    bad = heart_rate("xa-bad", "xa-p4", value="seventy")
    answer = anonymous.post(URL, json=bundle("transaction", patient("xa-p4"), bad), headers=hospital_a.headers)
    assert answer.status_code == 422
    body = answer.json()
    assert body["status"] == "rejected" and body["counts"]["rejected"] == 2 and body["mode"] == "all-or-nothing"
    assert "rolled back" in body["rejected"][0]["reason"]
    assert count(engine, "Patient") == 0 and count(engine, "Provenance") == 0


def test_warnings_name_missing_key_fields_and_unknown_codes(anonymous, hospital_a):
    unknown = heart_rate("xa-o5", "xa-p5")
    unknown["code"]["coding"][0]["code"] = "99999-9"
    body = anonymous.post(URL, json=bundle("batch", patient("xa-p5", identifier=None, born=None), unknown),
                          headers=hospital_a.headers).json()
    messages = [w["message"] for w in body["warnings"]]
    assert "Patient has no birthDate" in messages and "Patient has no identifier" in messages
    assert "LOINC 99999-9 is not in the platform's code lists" in messages
    assert body["status"] == "accepted"


def test_a_member_cannot_overwrite_another_institutions_record(anonymous, engine, hospital_a, hospital_b):
    anonymous.post(URL, json=bundle("batch", patient("shared-1")), headers=hospital_b.headers)
    body = anonymous.post(URL, json=bundle("batch", patient("shared-1", identifier="A-9")),
                          headers=hospital_a.headers).json()
    assert body["status"] == "rejected" and "another institution's record" in body["rejected"][0]["reason"]
    assert read(engine, "Patient", "shared-1")["identifier"][0]["value"] == "A-0001"


def test_bad_input_gets_an_operation_outcome_with_the_right_status(anonymous, engine, hospital_a):
    malformed = anonymous.post(URL, content=b'{"resourceType": "Bundle", ', headers=hospital_a.headers)
    assert malformed.status_code == 400 and "not JSON" in malformed.json()["issue"][0]["diagnostics"]
    not_bundle = anonymous.post(URL, json=patient("xa-p6"), headers=hospital_a.headers)
    assert not_bundle.status_code == 400 and "must be a FHIR Bundle" in not_bundle.json()["issue"][0]["diagnostics"]
    history = anonymous.post(URL, json={"resourceType": "Bundle", "type": "history", "entry": [{}]},
                             headers=hospital_a.headers)
    assert history.status_code == 400 and "transaction or batch" in history.text
    assert anonymous.post(URL, json=bundle("batch", patient("x"))).status_code == 401
    assert count(engine, "Patient") == 0


def test_only_a_members_own_client_may_submit(anonymous, engine, hospital_a, hospital_b):
    # A system client that is not a member, and a token claiming hospital B's organisation with A's client id.
    for headers in (bearer(), bearer("system/*.cu", subject=hospital_a.member.client_id,
                                      organization=hospital_b.member.organization),
                    bearer("patient/*.rs", kind="user", name="pat", roles={"patient"}, subject="u1")):
        refused = anonymous.post(URL, json=bundle("batch", patient("xa-p7")), headers=headers)
        assert refused.status_code == 403, refused.text
        assert refused.json()["resourceType"] == "OperationOutcome"
    assert count(engine, "Patient") == 0


def test_an_ndjson_file_is_taken_line_by_line_and_a_resend_changes_nothing(anonymous, engine, hospital_a):
    import orjson
    lines = [orjson.dumps(heart_rate(f"xa-n{i}", "xa-p8", 60 + i)).decode() for i in range(3)]
    lines.insert(1, "{not json")
    lines.append(orjson.dumps(patient("xa-p9")).decode())
    text = "\n".join(lines) + "\n"
    headers = {**hospital_a.headers, "Content-Type": "application/fhir+ndjson"}
    first = anonymous.post("/api/v1/exchange/ndjson/Observation", content=text, headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["counts"]["accepted"] == 3 and body["counts"]["rejected"] == 2
    reasons = {r["entry"]: r["reason"] for r in body["rejected"]}
    assert reasons == {2: "Line 2 is not JSON",
                       5: "Line 5 holds a Patient, not a Observation: one resource type per file"}
    again = anonymous.post("/api/v1/exchange/ndjson/Observation", content=text, headers=headers)
    assert again.json()["submission"] == body["submission"] and again.json()["duplicate"] is True
    assert count(engine, "Observation") == 3
    report = anonymous.get(f"/api/v1/exchange/submissions/{body['submission']}", headers=hospital_a.headers)
    assert report.status_code == 200 and report.json()["counts"]["accepted"] == 3


def test_a_submitted_patient_gets_an_mpi_identity(anonymous, engine, hospital_a):
    anonymous.post(URL, json=bundle("batch", patient("xa-p10")), headers=hospital_a.headers)
    run_due(engine)
    with engine.connect() as conn:
        identity = conn.execute(sa.select(mpi_link.c.identity_id).where(mpi_link.c.source == "Patient/xa-p10")).scalar()
    assert identity


def test_conditional_writes_cannot_touch_or_claim_another_institutions_record(anonymous, engine, hospital_a,
                                                                             hospital_b):
    anonymous.post(URL, json=bundle("batch", patient("shared-2", identifier="B-2")), headers=hospital_b.headers)
    query = "identifier=urn:oid:2.16.156.xa.mrn|B-2"
    sent = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": patient("x", identifier="B-2"), "request": {"method": "PUT", "url": f"Patient?{query}"}},
        {"resource": patient("y", identifier="B-2"), "request": {"method": "POST", "url": "Patient",
                                                                 "ifNoneExist": query}}]}
    body = anonymous.post(URL, json=sent, headers=hospital_a.headers).json()
    assert "Conditional updates are not taken" in body["rejected"][0]["reason"]
    assert body["accepted"][0]["status"].startswith("200") and body["provenance"] is None  # found, nothing written
    assert read(engine, "Patient", "shared-2")["meta"]["source"] == "Organization/org-xb"
    assert count(engine, "Patient") == 1
