"""Project extracts: a DUA is required, pseudonyms differ per project, dates shift per person, k >= 5 holds, the release is audited, the risk report is right."""

import json
from collections import Counter
from datetime import date, timedelta

import pytest

from smartcare.platform import audit, clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.research import projects
from smartcare.regional.research.deidentify import pseudonym
from smartcare.regional.research.extract import AGE_BAND_EXTENSION, project_key
from tests.regional.conftest import IDENTIFYING, user_token

TYPES = ["Patient", "Condition", "Observation"]


def days_from_today(days: int) -> str:
    return (clock.now().date() + timedelta(days=days)).isoformat()


def register(engine, *, researchers=("rita",), start=None, end=None, number="DUA-2026-001", types=TYPES) -> str:
    start, end = start or days_from_today(-30), end or days_from_today(365)
    with unit_of_work(engine) as conn:
        agreement = projects.register_project(
            conn, ctx=SYSTEM, title="Influenza outcomes", institution="Riverside University", purpose="Study influenza",
            data_types=list(types), researchers=list(researchers), signed=days_from_today(-40), start=start, end=end,
            number=number)
    return agreement.project


@pytest.fixture
def project(engine, region) -> str:
    return register(engine)


def ndjson(answer) -> list[dict]:
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"].startswith("application/fhir+ndjson")
    return [json.loads(line) for line in answer.text.splitlines() if line]


def extract(client, project: str, name: str = "rita", **params) -> list[dict]:
    return ndjson(client.get(f"/api/research/projects/{project}/extract", params=params,
                             headers=user_token("researcher", name=name)))


def classes(resources: list[dict]) -> Counter:
    found = Counter()
    for patient in (r for r in resources if r["resourceType"] == "Patient"):
        band = next(e["valueString"] for e in patient["extension"] if e["url"] == AGE_BAND_EXTENSION)
        place = tuple(sorted(patient.get("address", [{}])[0].items()))
        found[(band, patient.get("gender"), place)] += 1
    return found


def test_every_quasi_identifier_class_of_the_extract_holds_at_least_five_people(client, project):
    resources = extract(client, project)
    sizes = classes(resources)
    assert sizes and min(sizes.values()) >= 5
    # District level would leave groups of 1, 3 and 4 in Hexi: the city is kept instead, and the one
    # person aged 95 (a class of one however it is cut) is left out with all her records.
    assert sizes == {("40-49", "female", (("city", "Riverside City"),)): 10,
                     ("40-49", "male", (("city", "Riverside City"),)): 10}
    key = project_key(project)
    ids = {r["id"] for r in resources}
    assert pseudonym("Patient", "ph-pat-21", key=key) not in ids
    assert pseudonym("Condition", "ph-cond-21", key=key) not in ids
    assert Counter(r["resourceType"] for r in resources) == {"Patient": 20, "Condition": 24, "Observation": 3}
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in resources)
    assert [secret for secret in IDENTIFYING if secret in text] == []
    assert "birthDate" not in text and "Hedong" not in text


def test_two_projects_get_unlinkable_pseudonyms_for_the_same_patient(client, engine, project):
    other = register(engine, number="DUA-2026-002")
    first = {r["id"] for r in extract(client, project)}
    second = {r["id"] for r in extract(client, other)}
    assert pseudonym("Patient", "ph-pat-1", key=project_key(project)) in first
    assert pseudonym("Patient", "ph-pat-1", key=project_key(other)) in second
    assert first.isdisjoint(second)


def _day(value: str) -> date:
    return date.fromisoformat(value[:10])


def test_date_shift_keeps_intervals_within_a_person_and_differs_between_people(client, project):
    resources = extract(client, project)
    key = project_key(project)
    by_id = {r["id"]: r for r in resources}
    # ph-pat-1: influenza on 6 January, a second (entered-in-error) record on 7 January: one day apart.
    first = by_id[pseudonym("Condition", "ph-cond-1", key=key)]
    second = by_id[pseudonym("Condition", "ph-cond-error", key=key)]
    assert (_day(second["onsetDateTime"]) - _day(first["onsetDateTime"])).days == 1
    assert first["onsetDateTime"][:10] != "2026-01-06"
    assert first["onsetDateTime"].endswith("T10:00:00+08:00")  # the time of day is not moved
    observation = by_id[pseudonym("Observation", "ph-hr-1", key=key)]
    assert (_day(first["onsetDateTime"]) - _day(observation["effectiveDateTime"])).days == 0
    # Patients 1 to 7 all fell ill on 6 January; each moved by their own offset.
    shifted = {by_id[pseudonym("Condition", f"ph-cond-{n}", key=key)]["onsetDateTime"][:10] for n in range(1, 8)}
    assert len(shifted) >= 5
    assert all(abs((_day(day) - date(2026, 1, 6)).days) <= 182 for day in shifted)


def test_year_mode_cuts_every_date_to_the_year(client, project):
    resources = extract(client, project, dates="year")
    conditions = [r for r in resources if r["resourceType"] == "Condition" and "onsetDateTime" in r]
    assert {c["onsetDateTime"] for c in conditions} <= {"2025", "2026"}


def test_without_a_data_use_agreement_nothing_is_released_and_the_reason_is_clear(client, engine, region):
    with unit_of_work(engine) as conn:
        from smartcare.fhir import store
        study = store.create(conn, SYSTEM, {"resourceType": "ResearchStudy", "status": "active", "title": "No DUA"})
    answer = client.get(f"/api/research/projects/{study.res_id}/extract", headers=user_token("researcher", name="rita"))
    assert answer.status_code == 403
    assert answer.json() == {"error": "no-agreement", "message": "This project has no data-use agreement on record: "
                                                                 "no data can be released for it"}
    assert "Patient" not in answer.text
    with unit_of_work(engine) as conn:
        refused = audit.search(conn, agent="user/rita", subtype="access-refused")
        released = audit.search(conn, agent="user/rita", subtype="export")
    assert len(refused) == 1 and released == []


@pytest.mark.parametrize(("term", "name", "reason"), [
    ((-60, -1), "rita", "not in force today"),
    ((1, 60), "rita", "not in force today"),
    ((-30, 30), "mallory", "does not name you"),
])
def test_an_agreement_out_of_term_or_not_naming_the_researcher_refuses(client, engine, region, term, name, reason):
    project = register(engine, start=days_from_today(term[0]), end=days_from_today(term[1]))
    answer = client.get(f"/api/research/projects/{project}/risk", headers=user_token("researcher", name=name))
    assert answer.status_code == 403 and reason in answer.json()["message"]


def test_unknown_projects_and_other_roles_are_refused(client, project):
    answer = client.get("/api/research/projects/nope/extract", headers=user_token("researcher", name="rita"))
    assert answer.status_code == 403 and "no research project" in answer.json()["message"]
    for role in ("doctor", "public_health_officer", "regional_admin"):
        assert client.get(f"/api/research/projects/{project}/extract", headers=user_token(role)).status_code == 403


@pytest.mark.parametrize("params", [{"dates": "month"}, {"max_shift": "0"}, {"max_shift": "366"}, {"max_shift": "x"},
                                    {"cohort": "a,b"}, {"_include": "Condition:subject"}])
def test_bad_extract_parameters_get_a_400_naming_what_to_change(client, project, params):
    answer = client.get(f"/api/research/projects/{project}/extract", params=params,
                        headers=user_token("researcher", name="rita"))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid"


def test_the_release_is_audited_with_counts_per_type_project_and_agreement(client, engine, project):
    extract(client, project)
    with unit_of_work(engine) as conn:
        entries = audit.search(conn, agent="user/rita", subtype="export")
    assert len(entries) == 1
    event = entries[0]["event"]
    text = event["purposeOfEvent"][0]["text"]
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "HRESCH"
    assert "Condition 24, Observation 3, Patient 20" in text and "DUA-2026-001" in text
    assert "1 of 21 patients suppressed" in text and "dates shift" in text
    entities = json.dumps(event["entity"])
    assert f"ResearchStudy/{project}" in entities and "Contract/" in entities


def test_the_risk_report_gives_the_measured_figures_before_and_after(client, project):
    answer = client.get(f"/api/research/projects/{project}/risk", headers=user_token("researcher", name="rita"))
    assert answer.status_code == 200
    report = answer.json()
    # Before: 5-year bands by district: classes of 7, 6, 3, 4 and 1 among 21 people.
    assert report["before"] == {"records": 21, "classes": 5, "smallest_class": 1, "prosecutor_max": 1.0,
                                "prosecutor_average": round(5 / 21, 4), "records_at_risk": 8,
                                "share_at_risk": round(8 / 21, 4), "journalist_max": 1.0,
                                "marketer": round(5 / 21, 4)}
    # After: 10-year bands by city, the 95-year-old suppressed: two classes of 10.
    assert report["after"] == {"records": 20, "classes": 2, "smallest_class": 10, "prosecutor_max": 0.1,
                               "prosecutor_average": 0.1, "records_at_risk": 0, "share_at_risk": 0.0,
                               "journalist_max": 0.1, "marketer": 0.1}
    assert report["generalisation"] == "10-year age bands, city" and report["suppressed_patients"] == 1
    assert report["agreement"] == "DUA-2026-001" and report["institution"] == "Riverside University"
    assert report["aggregates"]["patients_by_icd10_category"]["rows"] == [{"key": "A09", "count": 5},
                                                                          {"key": "J10", "count": 15}]


def test_a_cohort_too_small_for_k_anonymity_releases_nobody(client, project):
    report = client.get(f"/api/research/projects/{project}/risk", params={"cohort": "A09"},
                        headers=user_token("researcher", name="rita")).json()
    assert report["cohort_patients"] == 5 and report["suppressed_patients"] == 5
    assert report["after"]["records"] == 0
    assert extract(client, project, cohort="A09") == []


def test_the_researcher_lists_the_projects_that_name_them(client, engine, project):
    register(engine, researchers=("someone.else",), number="DUA-OTHER")
    answer = client.get("/api/research/projects", headers=user_token("researcher", name="rita"))
    listed = answer.json()["projects"]
    assert [p["number"] for p in listed] == ["DUA-2026-001"]
    assert listed[0]["data_types"] == TYPES and listed[0]["start"] == days_from_today(-30)


@pytest.mark.parametrize("bad", [{"data_types": ["AuditEvent"]}, {"researchers": ["bad name!"]}, {"end": "2025-01-01"},
                                 {"title": "x" * 600}, {"signed": "yesterday"}])
def test_an_agreement_that_cannot_be_recorded_is_refused_whole(engine, bad):
    args = {"title": "T", "institution": "I", "purpose": "P", "data_types": ["Patient"], "researchers": ["rita"],
            "signed": "2026-01-01", "start": "2026-01-01", "end": "2026-12-31", "number": "N"} | bad
    with pytest.raises(projects.ProjectInvalid), unit_of_work(engine) as conn:
        projects.register_project(conn, ctx=SYSTEM, **args)


def agreement_body(**changes) -> dict:
    return {"title": "Asthma study", "institution": "Riverside University", "purpose": "Asthma in adults",
            "number": "DUA-API-1", "data_types": ["Patient", "Condition"], "researchers": ["rita"],
            "signed": days_from_today(-2), "start": days_from_today(-1), "end": days_from_today(90)} | changes


def test_a_regional_administrator_records_an_agreement_and_the_researcher_can_then_extract(client, region):
    answer = client.post("/api/research/projects", json=agreement_body(), headers=user_token("regional_admin"))
    assert answer.status_code == 201, answer.text
    recorded = answer.json()
    assert recorded["number"] == "DUA-API-1" and recorded["status"] == "executed"
    contract = client.get(f"/fhir/Contract/{recorded['contract']}").json()
    assert contract["subject"][0]["reference"] == f"ResearchStudy/{recorded['project']}"
    assert contract["applies"] == {"start": days_from_today(-1), "end": days_from_today(90)}
    resources = extract(client, recorded["project"])
    assert {r["resourceType"] for r in resources} == {"Patient", "Condition"}


@pytest.mark.parametrize("role", ["researcher", "doctor", "hospital_admin", "public_health_officer"])
def test_only_a_regional_administrator_records_agreements(client, role):
    answer = client.post("/api/research/projects", json=agreement_body(), headers=user_token(role))
    assert answer.status_code == 403


@pytest.mark.parametrize(("changes", "named"), [({"data_types": ["AuditEvent"]}, "data types"),
                                                ({"signed": "2026-13-01"}, "signed"),
                                                ({"extra": "x"}, "extra"), ({"title": "t" * 501}, "title"),
                                                ({"researchers": []}, "researchers")])
def test_a_bad_agreement_gets_a_400_naming_the_field_and_records_nothing(client, changes, named):
    answer = client.post("/api/research/projects", json=agreement_body(**changes), headers=user_token("regional_admin"))
    assert answer.status_code == 400 and named in answer.json()["message"]
    assert client.get("/fhir/Contract").json().get("entry", []) == []
