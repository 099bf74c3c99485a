"""The 72 official R4 examples: accepted, stored, read back equal, and found by their own search values."""

import json
import math
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from smartcare.fhir.search.extract import extract_index_rows
from tests.support import need_shared

FHIR_JSON = {"Content-Type": "application/fhir+json"}


# HL7's own bundle-questionnaire.json leaves out Questionnaire.item.linkId (1..1 in R4) on its display
# items, so a validating server must refuse it; every other official example is valid R4.
INVALID_EXAMPLES = {"bundle-questionnaire.json"}


def load_examples(*, include_invalid: bool = False) -> list[dict]:
    folder = need_shared("fhir-test-cases/r4/examples")
    return [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(folder.glob("*.json"))
        if include_invalid or p.name not in INVALID_EXAMPLES
    ]


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def esc(value: str) -> str:
    """A search value with FHIR's escapes for , $ | and backslash, then URL-quoted."""
    for ch in ("\\", ",", "$", "|"):
        value = value.replace(ch, "\\" + ch)
    return quote(value)


def queries_for(resource: dict) -> list[str]:
    """One search per index row that must find the resource it came from."""
    out = []
    for kind, rows in extract_index_rows(resource).items():
        for row in rows:
            param = row["param"]
            if "#" in param or ":" in param:
                continue
            if kind == "string":
                out.append(f"{param}:exact={esc(row['exact'])}")
            elif kind == "token" and row["code"]:
                system = row["system"]
                out.append(f"{param}={esc(system or '')}|{esc(row['code'])}")
            elif kind == "date" and math.isfinite(row["low"]) and math.isfinite(row["high"]):
                out.append(f"{param}=ge{_iso(row['low'])}&{param}=le{_iso(row['high'])}")
            elif kind == "reference" and row["target_id"]:
                out.append(f"{param}={row['target_type']}/{esc(row['target_id'])}")
            elif kind == "reference" and row["url"]:
                out.append(f"{param}={esc(row['url'])}")
            elif kind == "uri":
                out.append(f"{param}={esc(row['value'])}")
            elif kind in ("number", "quantity"):
                out.append(f"{param}=ge{quote(repr(row['value']))}&{param}=le{quote(repr(row['value']))}")
    return out


def put_example(client, example: dict):
    """Store an example under its own id (PUT), or POST it when it has none."""
    if "id" not in example:
        return client.post(f"/fhir/{example['resourceType']}", json=example, headers=FHIR_JSON)
    url = f"/fhir/{example['resourceType']}/{example['id']}"
    return client.put(url, json=example, headers=FHIR_JSON)


def test_every_official_example_is_accepted_and_reads_back_equal(client):
    examples = load_examples()
    assert len(examples) == 71
    for example in examples:
        # organization-1.json and organization-example.json share the id Organization/hl7.
        if "id" in example:
            client.delete(f"/fhir/{example['resourceType']}/{example['id']}")
        r = put_example(client, example)
        assert r.status_code == 201, f"{example['resourceType']}/{example.get('id')}: {r.text[:500]}"
        res_id = r.json()["id"]
        stored = client.get(f"/fhir/{example['resourceType']}/{res_id}").json()
        meta = stored.pop("meta")
        original = {**example, "id": res_id}
        original_meta = original.pop("meta", {})
        assert stored == original
        assert {k: v for k, v in meta.items() if k not in ("versionId", "lastUpdated")} == {
            k: v for k, v in original_meta.items() if k not in ("versionId", "lastUpdated")
        }


def test_every_official_example_is_found_by_its_search_values(client):
    examples = [e for e in load_examples() if e.get("id") != "hl7"]
    stored = []
    for example in examples:
        r = put_example(client, example)
        assert r.status_code == 201
        stored.append({**example, "id": r.json()["id"]})
    checked = 0
    for example in stored:
        res_type, res_id = example["resourceType"], example["id"]
        for query in queries_for({**example, "meta": {**example.get("meta", {}), "lastUpdated": "2026-01-01T00:00:00Z"}}):
            if query.startswith("_lastUpdated"):
                continue
            r = client.get(f"/fhir/{res_type}?{query}&_id={res_id}&_total=none")
            assert r.status_code == 200, f"{res_type}?{query}: {r.text[:300]}"
            found = [e["resource"]["id"] for e in r.json()["entry"]]
            assert found == [res_id], f"{res_type}/{res_id} not found by {query}"
            checked += 1
    assert checked > 500


@pytest.mark.parametrize("kind", ["Patient", "Observation"])
def test_example_types_search_by_id(client, kind):
    for example in load_examples():
        put_example(client, example)
    bundle = client.get(f"/fhir/{kind}").json()
    assert bundle["total"] >= 1


def test_the_invalid_official_example_is_refused_naming_the_element(client):
    folder = need_shared("fhir-test-cases/r4/examples")
    bundle = json.loads((folder / "bundle-questionnaire.json").read_text(encoding="utf-8"))
    r = put_example(client, bundle)
    assert r.status_code == 400
    expressions = [e for issue in r.json()["issue"] for e in issue.get("expression", [])]
    assert expressions and all(e.endswith(".linkId") for e in expressions)
    assert client.get(f"/fhir/Bundle/{bundle['id']}").status_code == 404
