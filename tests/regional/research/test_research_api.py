"""GET /api/research/dataset: researchers only, de-identified NDJSON, stable pseudonyms, paging, audit, and hostile input."""

import json

import pytest

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.regional.research.deidentify import pseudonym
from smartcare.regional.research.service import pseudonym_key
from tests.regional.conftest import IDENTIFYING, user_token

DATASET = "/api/research/dataset"
HEART_RATE = "http://loinc.org|8867-4"


def lines(answer) -> list[dict]:
    assert answer.headers["content-type"].startswith("application/fhir+ndjson")
    return [json.loads(line) for line in answer.text.splitlines() if line]


def assert_nothing_identifying(text: str) -> None:
    leaked = [secret for secret in IDENTIFYING if secret in text]
    assert leaked == []


@pytest.mark.parametrize(("role", "status"), [
    ("researcher", 200),
    ("public_health_officer", 403),
    ("regional_admin", 403),
    ("hospital_admin", 403),
    ("doctor", 403),
    ("patient", 403),
])
def test_only_researchers_get_the_deidentified_dataset(region, client, role, status):
    answer = client.get(DATASET, params={"type": "Patient"}, headers=user_token(role))
    assert answer.status_code == status
    if status == 403:
        assert answer.json()["error"] == "forbidden"
        assert_nothing_identifying(answer.text)


def test_a_backend_client_and_a_stranger_are_refused(region, client, anonymous):
    assert client.get(DATASET, params={"type": "Patient"}).status_code == 403  # the system client: not a person
    answer = anonymous.get(DATASET, params={"type": "Patient"})
    assert answer.status_code == 401 and "Patient" not in answer.text


def test_patients_come_out_deidentified_with_year_of_birth_and_district(region, client):
    answer = client.get(DATASET, params={"type": "Patient"}, headers=user_token("researcher"))
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert 'filename="deidentified-Patient.ndjson"' in answer.headers["content-disposition"]
    assert_nothing_identifying(answer.text)
    patients = lines(answer)
    assert len(patients) == 21
    key = pseudonym_key()
    expected_ids = {pseudonym("Patient", f"ph-pat-{n}", key=key) for n in range(1, 22)}
    assert {p["id"] for p in patients} == expected_ids
    young = next(p for p in patients if p["id"] == pseudonym("Patient", "ph-pat-1", key=key))
    assert young["birthDate"] == "1980"
    assert young["address"] == [{"use": "home", "city": "Riverside City", "district": "Hedong District",
                                 "country": "CN"}]
    assert young["managingOrganization"]["reference"] == f"Organization/{pseudonym('Organization', 'ph-hosp', key=key)}"
    oldest = next(p for p in patients if p["id"] == pseudonym("Patient", "ph-pat-21", key=key))
    assert "birthDate" not in oldest and oldest["extension"][0]["valueString"] == "90+"
    for p in patients:
        assert not {"name", "identifier", "telecom", "contact", "text", "meta"} & p.keys()


def test_a_code_filter_gives_only_that_code_and_subjects_join_to_the_patients(region, client):
    headers = user_token("researcher")
    answer = client.get(DATASET, params={"type": "Observation", "code": HEART_RATE}, headers=headers)
    assert answer.status_code == 200
    assert_nothing_identifying(answer.text)
    observations = lines(answer)
    assert len(observations) == 2
    assert {o["code"]["coding"][0]["code"] for o in observations} == {"8867-4"}
    assert all(o["effectiveDateTime"] == "2026" and o["issued"] == "2026" for o in observations)
    assert not any("note" in o for o in observations)
    patients = {p["id"] for p in lines(client.get(DATASET, params={"type": "Patient"}, headers=headers))}
    subjects = {o["subject"]["reference"].removeprefix("Patient/") for o in observations}
    assert subjects <= patients
    assert {o["valueQuantity"]["value"] for o in observations} == {72, 88}


def test_pseudonyms_are_the_same_on_every_request(region, client):
    headers = user_token("researcher")
    first = client.get(DATASET, params={"type": "Condition"}, headers=headers).text
    second = client.get(DATASET, params={"type": "Condition"}, headers=headers).text
    assert first == second
    assert len(lines(client.get(DATASET, params={"type": "Condition"}, headers=headers))) == 25


def test_pages_follow_the_link_header_without_gaps_or_repeats(region, client):
    headers = user_token("researcher")
    seen: list[str] = []
    url, params = DATASET, {"type": "Condition", "limit": "10"}
    for _ in range(5):
        answer = client.get(url, params=params, headers=headers)
        seen += [c["id"] for c in lines(answer)]
        link = answer.headers.get("link")
        if not link:
            break
        assert link.endswith('; rel="next"')
        url, params = link[1:link.index(">")], None
    assert len(seen) == 25 and len(set(seen)) == 25


def test_every_extract_is_audited_once_with_its_count_and_purpose(region, client, engine):
    headers = user_token("researcher", name="rita")
    client.get(DATASET, params={"type": "Observation", "code": HEART_RATE}, headers=headers)
    with unit_of_work(engine) as conn:
        entries = audit.search(conn, agent="user/rita", subtype="export")
    assert len(entries) == 1
    event = entries[0]["event"]
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "HRESCH"
    assert "2 resources" in event["purposeOfEvent"][0]["text"]
    assert event["entity"][0]["description"] == f"Observation?code={HEART_RATE}"


HOSTILE = [
    {"type": "AuditEvent"},
    {"type": "Practitioner"},
    {"type": "../Patient"},
    {"type": "patient"},
    {},
    {"type": "Patient", "code": "x"},
    {"type": "Observation", "_include": "Observation:subject"},
    {"type": "Observation", "_revinclude": "Provenance:target"},
    {"type": "Observation", "_elements": "subject,note"},
    {"type": "Observation", "subject:Patient.name": "Zhang"},
    {"type": "Observation", "_has:Condition:subject:code": "J10.1"},
    {"type": "Observation", "_summary": "text"},
    {"type": "Observation", "code": "a,b"},
    {"type": "Observation", "code": "x$y"},
    {"type": "Observation", "code": "http://loinc.org|8867-4&_include=Observation:subject"},
    {"type": "Observation", "code": "c" * 400},
    {"type": "Observation", "code": "x\x00y"},
    {"type": "Observation", "limit": "100000"},
    {"type": "Observation", "limit": "0"},
    {"type": "Observation", "limit": "²"},
    {"type": "Observation", "offset": "-1"},
    {"type": "Observation", "offset": "1e3"},
]


@pytest.mark.parametrize("params", HOSTILE, ids=[json.dumps(p)[:60] for p in HOSTILE])
def test_hostile_parameters_are_refused_and_reach_nothing_identified(region, client, params):
    answer = client.get(DATASET, params=params, headers=user_token("researcher"))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid"
    assert_nothing_identifying(answer.text)


def test_a_repeated_type_cannot_smuggle_a_second_type(region, client):
    answer = client.get(f"{DATASET}?type=Observation&type=Patient", headers=user_token("researcher"))
    assert answer.status_code == 400


@pytest.mark.parametrize("path", ["/fhir/Patient", "/fhir/Patient/ph-pat-1", "/fhir/Observation?code=8867-4",
                                  "/fhir/Patient/ph-pat-1/$everything", "/fhir/Composition"])
def test_the_fhir_api_gives_a_researcher_no_identified_record(region, client, path):
    answer = client.get(path, headers=user_token("researcher"))
    assert answer.status_code in (403, 404)
    assert_nothing_identifying(answer.text)
