"""Transaction and batch bundles: atomicity, urn:uuid and conditional references, per-entry outcomes."""

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def tx(entries: list[dict], kind: str = "transaction") -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def post(full_url: str, resource: dict, **request) -> dict:
    return {"fullUrl": full_url, "resource": resource, "request": {"method": "POST", "url": resource["resourceType"], **request}}


def test_transaction_resolves_urn_uuid_references(client):
    bundle = tx([
        post("urn:uuid:11111111-1111-1111-1111-111111111111", {"resourceType": "Patient", "name": [{"family": "Li"}]}),
        post("urn:uuid:22222222-2222-2222-2222-222222222222", {
            "resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": "urn:uuid:11111111-1111-1111-1111-111111111111"},
            "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
        }),
    ])
    r = client.post("/fhir", json=bundle, headers=FHIR_JSON)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["type"] == "transaction-response"
    assert [e["response"]["status"] for e in out["entry"]] == ["201 Created", "201 Created"]
    patient_id = out["entry"][0]["resource"]["id"]
    assert out["entry"][1]["resource"]["subject"]["reference"] == f"Patient/{patient_id}"
    found = client.get(f"/fhir/Observation?subject=Patient/{patient_id}").json()
    assert found["total"] == 1


def test_transaction_with_one_bad_entry_stores_nothing(client):
    bundle = tx([
        post("urn:uuid:a", {"resourceType": "Patient", "name": [{"family": "Wang"}]}),
        {"resource": {"resourceType": "Patient", "id": "p2", "gender": "nonsense"},
         "request": {"method": "PUT", "url": "Patient/p2"}},
    ])
    r = client.post("/fhir", json=bundle, headers=FHIR_JSON)
    assert r.status_code == 400
    assert "Patient.gender" in r.text
    assert client.get("/fhir/Patient").json()["total"] == 0


def test_transaction_failing_late_entry_rolls_back_earlier_writes(client):
    client.put("/fhir/Patient/keep", json={"resourceType": "Patient", "id": "keep", "gender": "male"}, headers=FHIR_JSON)
    bundle = tx([
        {"resource": {"resourceType": "Patient", "id": "keep", "gender": "female"},
         "request": {"method": "PUT", "url": "Patient/keep"}},
        {"request": {"method": "DELETE", "url": "Patient?identifier=x|1"}},
        {"request": {"method": "GET", "url": "Patient/does-not-exist"}},
    ])
    r = client.post("/fhir", json=bundle, headers=FHIR_JSON)
    assert r.status_code == 404
    assert client.get("/fhir/Patient/keep").json()["gender"] == "male"


def test_transaction_conditional_create_and_conditional_reference(client):
    ident = {"system": "urn:sc:nid", "value": "110101199003078888"}
    client.post("/fhir/Patient", json={"resourceType": "Patient", "identifier": [ident]}, headers=FHIR_JSON)
    bundle = tx([
        post("urn:uuid:p", {"resourceType": "Patient", "identifier": [ident]},
             ifNoneExist="identifier=urn:sc:nid|110101199003078888"),
        post("urn:uuid:c", {
            "resourceType": "Condition",
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]},
            "subject": {"reference": "Patient?identifier=urn:sc:nid|110101199003078888"},
        }),
    ])
    out = client.post("/fhir", json=bundle, headers=FHIR_JSON).json()
    assert out["entry"][0]["response"]["status"] == "200 OK"
    assert client.get("/fhir/Patient").json()["total"] == 1
    pid = out["entry"][0]["resource"]["id"]
    assert out["entry"][1]["resource"]["subject"]["reference"] == f"Patient/{pid}"


def test_batch_entries_succeed_or_fail_on_their_own(client):
    bundle = tx([
        {"resource": {"resourceType": "Patient", "gender": "male"}, "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Patient", "gender": "bad"}, "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient/nope"}},
    ], kind="batch")
    out = client.post("/fhir", json=bundle, headers=FHIR_JSON).json()
    statuses = [e["response"]["status"] for e in out["entry"]]
    assert statuses[0] == "201 Created"
    assert statuses[1].startswith("400")
    assert statuses[2].startswith("404")
    assert out["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert client.get("/fhir/Patient").json()["total"] == 1


def test_bundle_of_wrong_type_is_refused(client):
    r = client.post("/fhir", json={"resourceType": "Bundle", "type": "collection"}, headers=FHIR_JSON)
    assert r.status_code == 400


def test_transaction_writing_same_resource_twice_is_refused(client):
    entry = {"resource": {"resourceType": "Patient", "id": "dup"}, "request": {"method": "PUT", "url": "Patient/dup"}}
    r = client.post("/fhir", json=tx([entry, entry]), headers=FHIR_JSON)
    assert r.status_code == 400
