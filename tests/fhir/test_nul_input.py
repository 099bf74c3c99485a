"""The NUL character (U+0000), which PostgreSQL stores nowhere, is refused as bad input on both databases."""

import pytest

from tests.conftest import bearer

FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.mark.parametrize("resource", [
    {"resourceType": "Patient", "name": [{"family": "Wang\u0000"}]},
    {"resourceType": "Patient", "identifier": [{"system": "urn:oid:1.2\u0000", "value": "1"}]},
    {"resourceType": "Patient", "extension": [{"url": "http://example.org/x", "valueCode": "a\u0000"}]},
])
def test_a_resource_with_a_nul_character_is_refused_and_nothing_is_stored(client, resource):
    r = client.post("/fhir/Patient", json=resource, headers={**bearer(), **FHIR_JSON})
    assert r.status_code == 400
    outcome = r.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "NUL character" in outcome["issue"][0]["diagnostics"]
    found = client.get("/fhir/Patient", headers=bearer()).json()
    assert found["total"] == 0


@pytest.mark.parametrize("query", ["name=a%00b", "_id=a%00b", "identifier=urn:x%7Ca%00"])
def test_a_search_value_with_a_nul_character_is_refused(client, query):
    r = client.get(f"/fhir/Patient?{query}", headers=bearer())
    assert r.status_code == 400
    assert "NUL character" in r.json()["issue"][0]["diagnostics"]
