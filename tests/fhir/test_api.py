"""The FHIR REST interactions, as a client sees them, on SQLite and PostgreSQL."""

import threading

import pytest

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def patient(family: str = "Zhang", given: str = "Wei", **extra) -> dict:
    return {"resourceType": "Patient", "name": [{"family": family, "given": [given]}], "gender": "male", **extra}


def create(client, resource: dict) -> dict:
    r = client.post(f"/fhir/{resource['resourceType']}", json=resource, headers=FHIR_JSON)
    assert r.status_code == 201, r.text
    return r.json()


def test_create_assigns_id_version_and_location(client):
    r = client.post("/fhir/Patient", json={**patient(), "id": "client-chosen"}, headers=FHIR_JSON)
    assert r.status_code == 201
    body = r.json()
    assert body["id"] != "client-chosen"
    assert body["meta"]["versionId"] == "1"
    assert r.headers["ETag"] == 'W/"1"'
    assert r.headers["Location"].endswith(f"/fhir/Patient/{body['id']}/_history/1")
    assert r.headers["content-type"].startswith("application/fhir+json")
    assert "Last-Modified" in r.headers


def test_read_returns_what_was_stored(client):
    created = create(client, patient())
    r = client.get(f"/fhir/Patient/{created['id']}")
    assert r.status_code == 200
    assert r.json() == created


def test_read_unknown_is_404_with_operation_outcome(client):
    r = client.get("/fhir/Patient/nobody")
    assert r.status_code == 404
    assert r.json()["resourceType"] == "OperationOutcome"
    assert r.json()["issue"][0]["code"] == "not-found"


def test_unknown_resource_type_is_404(client):
    r = client.get("/fhir/Pokemon/1")
    assert r.status_code == 404
    assert "Pokemon" in r.json()["issue"][0]["diagnostics"]


def test_update_makes_new_version_and_vread_keeps_old(client):
    created = create(client, patient())
    changed = {**created, "gender": "female"}
    r = client.put(f"/fhir/Patient/{created['id']}", json=changed, headers=FHIR_JSON)
    assert r.status_code == 200
    assert r.json()["meta"]["versionId"] == "2"
    old = client.get(f"/fhir/Patient/{created['id']}/_history/1").json()
    assert old["gender"] == "male"
    assert client.get(f"/fhir/Patient/{created['id']}").json()["gender"] == "female"


def test_update_creates_with_client_id(client):
    r = client.put("/fhir/Patient/pat-1", json={**patient(), "id": "pat-1"}, headers=FHIR_JSON)
    assert r.status_code == 201
    assert client.get("/fhir/Patient/pat-1").json()["id"] == "pat-1"


def test_update_with_mismatched_id_is_refused(client):
    r = client.put("/fhir/Patient/pat-1", json={**patient(), "id": "pat-2"}, headers=FHIR_JSON)
    assert r.status_code == 400
    assert client.get("/fhir/Patient/pat-1").status_code == 404


def test_if_match_with_stale_version_is_412(client):
    created = create(client, patient())
    url = f"/fhir/Patient/{created['id']}"
    ok = client.put(url, json=created, headers={**FHIR_JSON, "If-Match": 'W/"1"'})
    assert ok.status_code == 200
    stale = client.put(url, json=created, headers={**FHIR_JSON, "If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert client.get(url).json()["meta"]["versionId"] == "2"


def test_concurrent_updates_with_same_if_match_exactly_one_wins(client):
    created = create(client, patient())
    url = f"/fhir/Patient/{created['id']}"
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def attempt(i: int) -> None:
        body = {**created, "birthDate": f"19{50 + i}-01-01"}
        barrier.wait()
        statuses.append(client.put(url, json=body, headers={**FHIR_JSON, "If-Match": 'W/"1"'}).status_code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(statuses).count(200) == 1
    assert all(s in (200, 409, 412) for s in statuses)
    history = client.get(f"{url}/_history").json()
    assert history["total"] == 2


def test_delete_then_read_is_410_and_history_keeps_versions(client):
    created = create(client, patient())
    url = f"/fhir/Patient/{created['id']}"
    assert client.delete(url).status_code == 200
    assert client.get(url).status_code == 410
    history = client.get(f"{url}/_history").json()
    assert history["type"] == "history"
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "POST"]
    assert client.get(f"{url}/_history/1").json()["gender"] == "male"


def test_deleted_resource_is_not_found_by_search(client):
    created = create(client, patient(family="Gone"))
    client.delete(f"/fhir/Patient/{created['id']}")
    assert client.get("/fhir/Patient?family=Gone").json()["total"] == 0


def test_json_patch_changes_resource(client):
    created = create(client, patient())
    ops = [{"op": "replace", "path": "/gender", "value": "female"}, {"op": "add", "path": "/birthDate", "value": "1980-02-03"}]
    r = client.patch(f"/fhir/Patient/{created['id']}", json=ops, headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 200, r.text
    assert r.json()["gender"] == "female"
    assert r.json()["birthDate"] == "1980-02-03"
    assert r.json()["meta"]["versionId"] == "2"


def test_json_patch_that_makes_resource_invalid_is_refused(client):
    created = create(client, patient())
    ops = [{"op": "replace", "path": "/gender", "value": "robot"}]
    r = client.patch(f"/fhir/Patient/{created['id']}", json=ops, headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 400
    assert client.get(f"/fhir/Patient/{created['id']}").json()["gender"] == "male"


def test_conditional_create_finds_existing(client):
    ident = {"system": "urn:sc:id", "value": "110101199003077777"}
    first = create(client, patient(identifier=[ident]))
    r = client.post(
        "/fhir/Patient",
        json=patient(identifier=[ident]),
        headers={**FHIR_JSON, "If-None-Exist": "identifier=urn:sc:id|110101199003077777"},
    )
    assert r.status_code == 200
    assert r.json()["id"] == first["id"]
    assert client.get("/fhir/Patient").json()["total"] == 1


def test_conditional_update_and_delete(client):
    ident = {"system": "urn:sc:id", "value": "A1"}
    r = client.put("/fhir/Patient?identifier=urn:sc:id|A1", json=patient(identifier=[ident]), headers=FHIR_JSON)
    assert r.status_code == 201
    pid = r.json()["id"]
    r = client.put("/fhir/Patient?identifier=urn:sc:id|A1", json=patient(identifier=[ident], gender="female"),
                   headers=FHIR_JSON)
    assert r.status_code == 200 and r.json()["id"] == pid and r.json()["gender"] == "female"
    create(client, patient(identifier=[{"system": "urn:sc:id", "value": "B2"}, ident]))
    r = client.delete("/fhir/Patient?identifier=urn:sc:id|A1")
    assert r.status_code == 412
    r = client.delete("/fhir/Patient?identifier=urn:sc:id|B2")
    assert r.status_code == 200


def test_prefer_return_minimal_and_operation_outcome(client):
    r = client.post("/fhir/Patient", json=patient(), headers={**FHIR_JSON, "Prefer": "return=minimal"})
    assert r.status_code == 201 and r.content == b"" and "Location" in r.headers
    r = client.post("/fhir/Patient", json=patient(), headers={**FHIR_JSON, "Prefer": "return=OperationOutcome"})
    assert r.json()["resourceType"] == "OperationOutcome"


def test_type_and_system_history(client):
    a = create(client, patient())
    create(client, {"resourceType": "Organization", "name": "Riverside Hospital"})
    client.put(f"/fhir/Patient/{a['id']}", json=a, headers=FHIR_JSON)
    assert client.get("/fhir/Patient/_history").json()["total"] == 2
    assert client.get("/fhir/_history").json()["total"] == 3


@pytest.mark.parametrize(
    ("body", "expected_status", "expression"),
    [
        (b"{not json", 400, None),
        (b'{"resourceType": "Patient", "gender": 7}', 400, "Patient.gender"),
        (b'{"resourceType": "Patient", "shoeSize": 42}', 400, "Patient.shoeSize"),
        (b'{"resourceType": "Observation", "status": "final"}', 400, "Observation.code"),
        (b'{"resourceType": "Patient", "birthDate": "1990-13-45"}', 400, "Patient.birthDate"),
        (b"[1, 2, 3]", 400, None),
    ],
)
def test_invalid_bodies_are_refused_with_operation_outcome_and_store_nothing(client, body, expected_status, expression):
    res_type = "Observation" if b"Observation" in body else "Patient"
    r = client.post(f"/fhir/{res_type}", content=body, headers=FHIR_JSON)
    assert r.status_code == expected_status
    outcome = r.json()
    assert outcome["resourceType"] == "OperationOutcome"
    if expression:
        assert any(expression in e for issue in outcome["issue"] for e in issue.get("expression", []))
    assert client.get(f"/fhir/{res_type}").json()["total"] == 0


def test_body_over_size_limit_is_413(client, monkeypatch):
    from smartcare.platform.settings import get_settings

    monkeypatch.setattr(get_settings(), "max_request_bytes", 1000)
    big = patient(text={"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">" + "x" * 5000 + "</div>"})
    r = client.post("/fhir/Patient", json=big, headers=FHIR_JSON)
    assert r.status_code == 413
    assert r.json()["issue"][0]["code"] == "too-long"


def test_xml_is_not_acceptable(client):
    r = client.get("/fhir/metadata", headers={"Accept": "application/fhir+xml"})
    assert r.status_code == 406
    assert client.get("/fhir/metadata?_format=xml").status_code == 406
    assert client.get("/fhir/metadata?_format=json").status_code == 200


def test_pretty_output(client):
    r = client.get("/fhir/metadata?_pretty=true")
    assert r.text.startswith("{\n")


def test_capability_statement_tells_the_truth(client):
    cs = client.get("/fhir/metadata").json()
    assert cs["fhirVersion"] == "4.0.1"
    resources = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert "Patient" in resources and "Observation" in resources
    assert {"name": "family", "type": "string"} in resources["Patient"]["searchParam"]
    ops = [o["name"] for o in resources["Patient"].get("operation", [])]
    assert "validate" in ops


def test_validate_operation_reports_without_storing(client):
    ok = client.post("/fhir/Patient/$validate", json=patient(), headers=FHIR_JSON).json()
    assert ok["issue"][0]["severity"] == "information"
    bad = client.post("/fhir/Patient/$validate", json={"resourceType": "Patient", "gender": "x"}, headers=FHIR_JSON).json()
    assert bad["issue"][0]["severity"] == "error"
    assert client.get("/fhir/Patient").json()["total"] == 0


def test_if_none_match_gives_304(client):
    created = create(client, patient())
    r = client.get(f"/fhir/Patient/{created['id']}", headers={"If-None-Match": 'W/"1"'})
    assert r.status_code == 304
