"""Patient/$everything and history with _since, as a client sees them."""

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def put(client, resource: dict) -> None:
    r = client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource, headers=FHIR_JSON)
    assert r.status_code in (200, 201), r.text


def obs(oid: str, patient: str, performer: str | None = None) -> dict:
    body = {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{patient}"}}
    if performer:
        body["performer"] = [{"reference": f"Practitioner/{performer}"}]
    return body


def seed(client) -> None:
    put(client, {"resourceType": "Organization", "id": "org1", "name": "Riverside CHC"})
    put(client, {"resourceType": "Practitioner", "id": "doc1", "name": [{"family": "Chen"}]})
    put(client, {"resourceType": "Patient", "id": "alice", "managingOrganization": {"reference": "Organization/org1"}})
    put(client, {"resourceType": "Patient", "id": "bob"})
    put(client, obs("o-alice", "alice", performer="doc1"))
    put(client, obs("o-bob", "bob"))
    put(client, {"resourceType": "Condition", "id": "c-alice", "subject": {"reference": "Patient/alice"},
                 "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]}})


def everything(client, url: str) -> set[tuple[str, str]]:
    r = client.get(url)
    assert r.status_code == 200, r.text
    return {(e["resource"]["resourceType"], e["resource"]["id"]) for e in r.json()["entry"]}


def test_everything_holds_the_patient_their_records_and_what_those_refer_to(client):
    seed(client)
    got = everything(client, "/fhir/Patient/alice/$everything")
    assert got == {("Patient", "alice"), ("Observation", "o-alice"), ("Condition", "c-alice"),
                   ("Practitioner", "doc1"), ("Organization", "org1")}
    assert ("Observation", "o-bob") not in got


def test_everything_type_filter(client):
    seed(client)
    got = everything(client, "/fhir/Patient/alice/$everything?_type=Condition")
    assert got == {("Patient", "alice"), ("Condition", "c-alice")}
    assert client.get("/fhir/Patient/alice/$everything?_type=Pokemon").status_code == 400


def test_everything_pages_with_next_links(client):
    seed(client)
    first = client.get("/fhir/Patient/alice/$everything?_count=2").json()
    assert len(first["entry"]) == 2
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = client.get(next_url.replace("http://testserver", "")).json()
    ids = {e["resource"]["id"] for e in first["entry"]} | {e["resource"]["id"] for e in second["entry"]}
    assert len(ids) == 4


def test_everything_for_unknown_patient_is_404(client):
    assert client.get("/fhir/Patient/nobody/$everything").status_code == 404


def test_history_since_leaves_out_older_versions(client):
    from datetime import UTC, datetime

    from smartcare.platform import clock

    try:
        clock.set_clock(lambda: datetime(2026, 1, 1, tzinfo=UTC))
        put(client, {"resourceType": "Patient", "id": "old"})
        clock.set_clock(lambda: datetime(2026, 6, 1, tzinfo=UTC))
        put(client, {"resourceType": "Patient", "id": "new"})
    finally:
        clock.set_clock(None)
    bundle = client.get("/fhir/Patient/_history?_since=2026-03-01T00:00:00Z").json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == ["new"]
    assert client.get("/fhir/Patient/_history?_since=yesterday").status_code == 400


def test_search_by_tag_profile_and_source(client):
    put(client, {"resourceType": "Patient", "id": "tagged", "meta": {
        "tag": [{"system": "urn:sc:tag", "code": "vip"}],
        "profile": ["http://example.org/fhir/StructureDefinition/cn-patient"],
        "source": "urn:sc:org:riverside-first"}})
    put(client, {"resourceType": "Patient", "id": "plain"})
    for query in ("_tag=urn:sc:tag|vip", "_profile=http://example.org/fhir/StructureDefinition/cn-patient",
                  "_source=urn:sc:org:riverside-first"):
        bundle = client.get(f"/fhir/Patient?{query}").json()
        assert [e["resource"]["id"] for e in bundle["entry"]] == ["tagged"], query
