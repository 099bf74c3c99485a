"""Patient/$match and Patient/$ihe-pix over the FHIR API, under the access policy."""

import random

import pytest

from smartcare.platform.jobs import run_due
from smartcare.platform.security.signup import RESIDENT_ID_SYSTEM
from smartcare.regional.mpi.synthetic import identity_number
from tests.conftest import bearer

FHIR_JSON = {"Content-Type": "application/fhir+json"}
MRN_A, MRN_B = "https://hospital-a.example/mrn", "https://hospital-b.example/mrn"
LI_NA_ID = identity_number(random.Random(3), "1975-02-03", "female")
GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"


def li_na(res_id: str, mrn_system: str, mrn: str, **fields) -> dict:
    resource = {"resourceType": "Patient", "id": res_id, "name": [{"text": "李娜"}], "gender": "female",
                "birthDate": "1975-02-03", "telecom": [{"system": "phone", "value": "13900001111"}],
                "identifier": [{"system": mrn_system, "value": mrn}, {"system": RESIDENT_ID_SYSTEM, "value": LI_NA_ID}]}
    return resource | fields


@pytest.fixture
def region(client, engine):
    return stored_region(client, engine)


def stored_region(client, engine):
    """Li Na at hospital A and (in pinyin) at hospital B, Wang Fang at A; stored through the API and matched."""
    for resource in (li_na("pa-1", MRN_A, "A-001"),
                     li_na("pb-7", MRN_B, "B-777", name=[{"family": "Li", "given": ["Na"]}]),
                     {"resourceType": "Patient", "id": "pa-2", "name": [{"text": "王芳"}], "gender": "female",
                      "birthDate": "1990-11-30", "identifier": [{"system": MRN_A, "value": "A-002"}]}):
        answer = client.put(f"/fhir/Patient/{resource['id']}", json=resource, headers=FHIR_JSON)
        assert answer.status_code in (200, 201), answer.text[:300]
    run_due(engine)
    return client


def parameters(resource: dict, **more) -> dict:
    extra = [{"name": "onlyCertainMatches", "valueBoolean": more["only"]}] if "only" in more else []
    extra += [{"name": "count", "valueInteger": more["count"]}] if "count" in more else []
    return {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": resource}, *extra]}


def test_match_finds_the_person_from_pinyin_with_a_score_and_a_grade(region):
    query = {"resourceType": "Patient", "name": [{"family": "Li", "given": ["Na"]}], "birthDate": "1975-02-03",
             "gender": "female", "telecom": [{"system": "phone", "value": "139-0000-1111"}]}
    answer = region.post("/fhir/Patient/$match", json=parameters(query), headers=FHIR_JSON)
    assert answer.status_code == 200, answer.text[:300]
    bundle = answer.json()
    assert bundle["type"] == "searchset"
    first = bundle["entry"][0]
    assert first["resource"]["id"] in ("pa-1", "pb-7")
    assert first["search"]["score"] > 0.99
    assert first["search"]["extension"] == [{"url": GRADE, "valueCode": "certain"}]
    assert "pa-2" not in {e["resource"]["id"] for e in bundle["entry"]}


def test_only_certain_matches_gives_at_most_one_and_count_limits(region):
    query = {"resourceType": "Patient", "name": [{"text": "李娜"}], "birthDate": "1975-02-03"}
    certain = region.post("/fhir/Patient/$match", json=parameters(query, only=True), headers=FHIR_JSON).json()
    assert len(certain["entry"]) <= 1
    doubtful = {"resourceType": "Patient", "name": [{"text": "李娜"}], "birthDate": "1975-02-13"}
    only = region.post("/fhir/Patient/$match", json=parameters(doubtful, only=True), headers=FHIR_JSON).json()
    assert only["entry"] == []
    some = region.post("/fhir/Patient/$match", json=parameters(doubtful, count=1), headers=FHIR_JSON).json()
    assert len(some["entry"]) == 1
    assert some["entry"][0]["search"]["extension"][0]["valueCode"] in ("probable", "possible")


@pytest.mark.parametrize(("body", "message"), [
    ({"resourceType": "Patient"}, "Parameters"),
    ({"resourceType": "Parameters", "parameter": []}, "resource"),
    (parameters({"resourceType": "Observation"}), "Patient"),
    (parameters({"resourceType": "Patient", "gender": "female"}), "nothing to match on"),
    (parameters({"resourceType": "Patient", "name": [{"text": "李娜"}], "birthDate": "1975-02-03"}, count=0), "count"),
    (parameters({"resourceType": "Patient", "name": [{"text": "李娜"}], "birthDate": "1975-02-03"}, only="yes"),
     "onlyCertainMatches"),
])
def test_match_answers_bad_input_with_an_operation_outcome(region, body, message):
    answer = region.post("/fhir/Patient/$match", json=body, headers=FHIR_JSON)
    assert answer.status_code == 400
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert message in outcome["issue"][0]["diagnostics"]


def test_pix_cross_references_the_persons_identifiers_at_other_institutions(region):
    answer = region.get("/fhir/Patient/$ihe-pix", params={"sourceIdentifier": f"{MRN_A}|A-001"})
    assert answer.status_code == 200, answer.text[:300]
    found = answer.json()["parameter"]
    assert {"name": "targetId", "valueReference": {"reference": "Patient/pb-7"}} in found
    assert {"name": "targetIdentifier", "valueIdentifier": {"system": MRN_B, "value": "B-777"}} in found
    assert all(p.get("valueReference", {}).get("reference") != "Patient/pa-2" for p in found)
    only_b = region.get("/fhir/Patient/$ihe-pix",
                        params={"sourceIdentifier": f"{MRN_A}|A-001", "targetSystem": MRN_B}).json()["parameter"]
    assert only_b == [{"name": "targetIdentifier", "valueIdentifier": {"system": MRN_B, "value": "B-777"}}]


@pytest.mark.parametrize(("query", "status"), [
    ({}, 400), ({"sourceIdentifier": "no-bar"}, 400), ({"sourceIdentifier": "|A-001"}, 400),
    ({"sourceIdentifier": f"{MRN_A}|" + "9" * 300}, 400), ({"sourceIdentifier": f"{MRN_A}|nobody"}, 404),
])
def test_pix_answers_bad_or_unknown_identifiers_with_an_operation_outcome(region, query, status):
    answer = region.get("/fhir/Patient/$ihe-pix", params=query)
    assert answer.status_code == status
    assert answer.json()["resourceType"] == "OperationOutcome"


def test_a_patient_user_cannot_look_up_other_peoples_cross_references(region):
    headers = bearer("patient/*.rs", kind="user", name="wang.fang", roles={"patient"}, subject="u-wang",
                     fhir_user="Patient/pa-2", patient="Patient/pa-2")
    answer = region.get("/fhir/Patient/$ihe-pix", params={"sourceIdentifier": f"{MRN_A}|A-001"}, headers=headers)
    assert answer.status_code in (403, 404)
    query = {"resourceType": "Patient", "name": [{"text": "李娜"}], "birthDate": "1975-02-03"}
    matched = region.post("/fhir/Patient/$match", json=parameters(query), headers={**FHIR_JSON, **headers})
    assert matched.status_code in (200, 403)
    if matched.status_code == 200:
        assert matched.json()["entry"] == []
