"""Tests that the demo region's records hold what the risk calculators read: smoking, waist, family history, lipids."""

from collections import defaultdict
from datetime import date
from statistics import correlation, mean
from typing import Any

import pytest

from smartcare.demo import DEFAULT_AS_OF, generate_region
from smartcare.regional.risk.inputs import Record, prepare, read_record

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
CURRENT = {"449868002", "428041000124106"}
NOT_CURRENT = {"8517006", "266919005"}


def _code(concept: dict[str, Any], system: str) -> str | None:
    return next((c["code"] for c in concept.get("coding", []) if c["system"] == system), None)


@pytest.fixture(scope="module")
def region() -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Patients by id and each patient's own resources, from a 600-resident region."""
    resources = [entry["resource"] for bundle in generate_region(residents=600, seed=21) for entry in bundle["entry"]]
    patients = {r["id"]: r for r in resources if r["resourceType"] == "Patient"}
    owned: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for resource in resources:
        owner = (resource.get("subject") or resource.get("patient") or {}).get("reference", "")
        if owner.startswith("Patient/"):
            owned[owner.removeprefix("Patient/")].append(resource)
    return patients, owned


@pytest.fixture(scope="module")
def records(region) -> dict[str, Record]:
    patients, owned = region
    return {pid: read_record(patient=patient, resources=owned[pid], today=DEFAULT_AS_OF)
            for pid, patient in patients.items()}


def _patient_age(patient: dict[str, Any]) -> int:
    born = date.fromisoformat(patient["birthDate"])
    return DEFAULT_AS_OF.year - born.year - ((DEFAULT_AS_OF.month, DEFAULT_AS_OF.day) < (born.month, born.day))


def _age(record: Record) -> int:
    return record.facts["age"].value


def test_most_adults_40_to_79_have_every_pooled_cohort_equation_input(records) -> None:
    prepared = [next(p for p in prepare(record) if p.calculator == "pce-ascvd")
                for record in records.values() if 40 <= _age(record) <= 79]
    eligible = [p for p in prepared if not p.not_applicable]
    assert len(eligible) > 150
    ready = [p for p in eligible if p.ready]
    assert len(ready) / len(eligible) >= 0.6, [p.missing for p in eligible if not p.ready][:10]
    for p in ready:
        assert {"age", "sex", "total_cholesterol", "hdl_cholesterol", "systolic_bp", "smoker"} <= set(p.inputs)
        assert 2.0 < p.inputs["total_cholesterol"]["value"] < 9.0 and p.inputs["total_cholesterol"]["unit"] == "mmol/L"
    # Each answer is traced to the resources it came from, the smoking Observation among them.
    assert all(any(ref.startswith("Observation/") for ref in p.basis) for p in ready)


def test_adults_40_to_79_have_a_lipid_profile_within_five_years(records) -> None:
    middle_aged = [r for r in records.values() if 40 <= _age(r) <= 79]
    with_lipids = [r for r in middle_aged if {"total_cholesterol", "hdl_cholesterol"} <= set(r.facts)]
    assert len(with_lipids) / len(middle_aged) >= 0.75


def _latest_smoking(owned: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for pid, resources in owned.items():
        for obs in resources:
            if obs["resourceType"] == "Observation" and _code(obs["code"], LOINC) == "72166-2":
                if pid not in latest or obs["effectiveDateTime"] > latest[pid]["effectiveDateTime"]:
                    latest[pid] = obs
    return latest


def test_smoking_status_is_a_coded_social_history_observation_and_prevalence_follows_the_survey(region) -> None:
    patients, owned = region
    latest = _latest_smoking(owned)
    current = {"male": 0, "female": 0}
    ex_smokers = {"male": 0, "female": 0}
    asked = {"male": 0, "female": 0}
    for pid, obs in latest.items():
        assert obs["category"][0]["coding"][0]["code"] == "social-history"
        assert obs["encounter"]["reference"].startswith("Encounter/")
        answer = _code(obs["valueCodeableConcept"], SNOMED)
        assert answer in CURRENT | NOT_CURRENT
        sex = patients[pid]["gender"]
        asked[sex] += 1
        current[sex] += answer in CURRENT
        ex_smokers[sex] += answer == "8517006"
    assert asked["male"] > 100 and asked["female"] > 100
    # 2018 China Adult Tobacco Survey: 50.5% of men and 2.1% of women smoke.
    assert 0.38 < current["male"] / asked["male"] < 0.62
    assert current["female"] / asked["female"] < 0.07
    assert 0.05 < ex_smokers["male"] / asked["male"] < 0.3
    # Only adults are asked.
    children = [pid for pid in latest if _patient_age(patients[pid]) < 18]
    assert children == []


def test_waist_is_measured_with_bmi_and_follows_it_by_sex(region) -> None:
    patients, owned = region
    pairs: dict[str, list[tuple[float, float]]] = {"male": [], "female": []}
    for pid, resources in owned.items():
        by_encounter: dict[str, dict[str, float]] = defaultdict(dict)
        for obs in resources:
            if obs["resourceType"] == "Observation" and _code(obs["code"], LOINC) in ("39156-5", "8280-0"):
                assert obs["valueQuantity"]["code"] == ("cm" if _code(obs["code"], LOINC) == "8280-0" else "kg/m2")
                by_encounter[obs["encounter"]["reference"]][_code(obs["code"], LOINC)] = obs["valueQuantity"]["value"]
        for values in by_encounter.values():
            if "8280-0" in values:
                assert "39156-5" in values  # waist is only taken with weight, height and BMI
                pairs[patients[pid]["gender"]].append((values["39156-5"], values["8280-0"]))
    for sex, cut_off in (("male", 90), ("female", 85)):
        bmis, waists = zip(*pairs[sex], strict=True)
        assert len(waists) > 150 and all(55 <= w <= 140 for w in waists)
        assert correlation(bmis, waists) > 0.6
        # WS/T 428-2013 central obesity: obese people are mostly over the cut-off, lean people mostly under it.
        assert mean(w for b, w in pairs[sex] if b >= 28) > cut_off > mean(w for b, w in pairs[sex] if b < 24)
    lean_men = mean(w for b, w in pairs["male"] if 21 <= b < 24)
    lean_women = mean(w for b, w in pairs["female"] if 21 <= b < 24)
    assert lean_men > lean_women


def test_family_history_records_diabetic_relatives_and_parents_asked_about(region, records) -> None:
    patients, owned = region
    histories = [r for resources in owned.values() for r in resources if r["resourceType"] == "FamilyMemberHistory"]
    assert histories
    for history in histories:
        assert history["status"] == "completed"
        assert _code(history["relationship"], ROLE_CODE) in {"FTH", "MTH", "BRO", "SIS"}
        for condition in history.get("condition", []):
            assert _code(condition["code"], ICD10) in {"E11", "I10"}
    adults = [pid for pid, patient in patients.items() if _patient_age(patient) >= 18]
    asked = [pid for pid in adults if records[pid].family_history_recorded]
    diabetic_relative = [pid for pid in asked if records[pid].family_diabetes]
    assert len(asked) / len(adults) > 0.5
    assert 0.08 < len(diabetic_relative) / len(asked) < 0.35
    # A resident whose parents were asked about and have no diabetes is a recorded "no" for the diabetes score.
    answered_no = [pid for pid in asked if not records[pid].family_diabetes and 20 <= _patient_age(patients[pid]) <= 74
                   and "diabetes" not in records[pid].conditions]
    assert answered_no
    cds = [next(p for p in prepare(records[pid]) if p.calculator == "cds-diabetes-risk") for pid in answered_no]
    assert all(p.inputs["family_history"] is False for p in cds)
    assert all("family_history" not in p.missing for p in cds)
    # Never asked before adulthood.
    assert not [pid for pid, patient in patients.items()
                if _patient_age(patient) < 18 and records[pid].family_history_recorded]
