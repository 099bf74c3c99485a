"""Tests of the demo-region generator: determinism, bundle shape, references, identifiers and clinical coherence."""

import gc
import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import date
from statistics import mean
from typing import Any

import pytest

from smartcare.demo import DEFAULT_AS_OF, count_region, generate_region
from smartcare.demo.identifiers import InvalidResidentId, check_character, parse_resident_id
from smartcare.demo.physiology import ckd_epi_2009
from smartcare.demo.reference import DATA_DIR, band_value, load
from smartcare.fhir.validation import validate_resource

LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
UCUM = "http://unitsofmeasure.org"
ATC = "http://www.whocc.no/atc"
RESIDENT_ID = "https://smartcare.example/fhir/sid/cn-resident-id"
ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
ICD10_PATTERN = re.compile(r"^[A-Z][0-9]{2}(\.[0-9])?$")


def _resources(bundles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry["resource"] for bundle in bundles for entry in bundle["entry"]]


def _of_type(resources: list[dict[str, Any]], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == resource_type]


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [ref for item in value.values() for ref in _references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _references(item)]
    return []


def _code(concept: dict[str, Any], system: str) -> str | None:
    return next((c["code"] for c in concept.get("coding", []) if c["system"] == system), None)


def _by_patient(resources: list[dict[str, Any]], resource_type: str, code_system: str) -> dict[str, set[str]]:
    result: dict[str, set[str]] = {}
    for resource in _of_type(resources, resource_type):
        owner = (resource.get("subject") or resource.get("patient"))["reference"]
        concept = resource.get("code") or resource.get("medicationCodeableConcept")
        result.setdefault(owner, set()).add(_code(concept, code_system))
    return result


def _adult(patient: dict[str, Any], as_of: date = DEFAULT_AS_OF) -> bool:
    born = date.fromisoformat(patient["birthDate"])
    return (as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))) >= 18


def _lab_values(resources: list[dict[str, Any]], loinc: str) -> dict[str, list[float]]:
    values: dict[str, list[float]] = {}
    for obs in _of_type(resources, "Observation"):
        if _code(obs["code"], LOINC) == loinc:
            values.setdefault(obs["subject"]["reference"], []).append(obs["valueQuantity"]["value"])
    return values


@pytest.fixture(scope="module")
def small_region() -> list[dict[str, Any]]:
    return list(generate_region(residents=150, seed=7))


@pytest.fixture(scope="module")
def big_region() -> list[dict[str, Any]]:
    # Keeping ~85,000 fresh dicts alive makes the cyclic collector rescan them over and over; the data
    # has no cycles, so collection is paused while it is built.
    gc.disable()
    try:
        return _resources(list(generate_region(residents=2000, seed=11)))
    finally:
        gc.enable()


# --- determinism --------------------------------------------------------------------------------


def test_same_arguments_give_byte_identical_bundles(small_region) -> None:
    again = list(generate_region(residents=150, seed=7))
    assert json.dumps(again, ensure_ascii=False) == json.dumps(small_region, ensure_ascii=False)


def test_different_seed_gives_a_different_region(small_region) -> None:
    other = list(generate_region(residents=150, seed=8))
    assert json.dumps(other) != json.dumps(small_region)
    names = {p["name"][0]["text"] for p in _of_type(_resources(small_region), "Patient")}
    assert names != {p["name"][0]["text"] for p in _of_type(_resources(other), "Patient")}


def test_as_of_date_moves_the_history_with_it() -> None:
    later = _resources(list(generate_region(residents=20, seed=3, as_of=date(2030, 6, 1))))
    starts = [e["period"]["start"][:10] for e in _of_type(later, "Encounter")]
    assert starts and min(starts) >= "2028-06-01" and max(starts) < "2030-06-01"


def test_output_does_not_depend_on_the_python_hash_seed() -> None:
    script = (
        "import hashlib, json; from smartcare.demo import generate_region; "
        "print(hashlib.sha256(json.dumps(list(generate_region(residents=40, seed=5))).encode()).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        digests.add(done.stdout.strip())
    local = hashlib.sha256(json.dumps(list(generate_region(residents=40, seed=5))).encode()).hexdigest()
    assert digests == {local}


# --- bundles and references ---------------------------------------------------------------------


def test_bundles_are_transactions_of_at_most_100_puts_to_the_resources_own_url(small_region) -> None:
    assert len(small_region) > 1
    for bundle in small_region:
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
        assert 1 <= len(bundle["entry"]) <= 100
        for entry in bundle["entry"]:
            resource = entry["resource"]
            assert entry["request"] == {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
    assert all(len(bundle["entry"]) == 100 for bundle in small_region[:-1])


def test_resource_ids_are_unique_and_valid_fhir_ids(small_region) -> None:
    keys = [f"{r['resourceType']}/{r['id']}" for r in _resources(small_region)]
    assert len(keys) == len(set(keys))
    assert all(ID_PATTERN.match(key.split("/")[1]) for key in keys)


def test_every_reference_points_to_a_resource_earlier_in_the_same_or_an_earlier_bundle(small_region) -> None:
    seen: set[str] = set()
    checked = 0
    for bundle in small_region:
        for entry in bundle["entry"]:
            resource = entry["resource"]
            for ref in _references(resource):
                assert ref in seen, f"{resource['resourceType']}/{resource['id']} refers forward to {ref}"
                checked += 1
            seen.add(f"{resource['resourceType']}/{resource['id']}")
    assert checked > 10_000


def test_facilities_come_before_residents(small_region) -> None:
    types = [r["resourceType"] for r in _resources(small_region)]
    first_patient = types.index("Patient")
    assert {"Organization", "Location", "HealthcareService", "Practitioner", "PractitionerRole"} == set(
        types[:first_patient])
    assert not {"Organization", "Practitioner"} & set(types[first_patient:])


def test_no_two_resources_share_a_mutable_object(small_region) -> None:
    owners: dict[int, str] = {}

    def claim(value: Any, owner: str) -> None:
        if isinstance(value, dict | list):
            assert owners.setdefault(id(value), owner) == owner, f"{owner} shares an object with {owners[id(value)]}"
            for item in value.values() if isinstance(value, dict) else value:
                claim(item, owner)

    for resource in _resources(small_region):
        claim(resource, f"{resource['resourceType']}/{resource['id']}")


@pytest.mark.parametrize(("residents", "seed"), [(0, 1), (1, 2), (150, 7)])
def test_count_region_equals_the_number_of_generated_resources(residents: int, seed: int) -> None:
    generated = sum(len(b["entry"]) for b in generate_region(residents=residents, seed=seed))
    assert count_region(residents=residents, seed=seed) == generated


@pytest.mark.parametrize("residents", [-1, 10**9])
def test_out_of_range_resident_counts_are_rejected(residents: int) -> None:
    with pytest.raises(ValueError, match="residents"):
        next(generate_region(residents=residents))
    with pytest.raises(ValueError, match="residents"):
        count_region(residents=residents, seed=1)


def test_every_generated_resource_validates_without_errors(small_region) -> None:
    errors = [(r["resourceType"], r["id"], issue.diagnostics)
              for r in _resources(small_region) for issue in validate_resource(r) if issue.severity == "error"]
    assert errors == []
    assert all(issue.severity != "error" for issue in validate_resource(small_region[0]))


# --- people and identifiers -----------------------------------------------------------------------


def test_check_character_matches_the_standard_examples() -> None:
    assert check_character("11010519491231002") == "X"
    assert check_character("44052418800101001") == "4"
    with pytest.raises(InvalidResidentId):
        parse_resident_id("110105194912310021")


def test_resident_ids_are_valid_unique_and_agree_with_birth_date_and_gender(small_region) -> None:
    people = _of_type(_resources(small_region), "Patient") + _of_type(_resources(small_region), "Practitioner")
    values = []
    for person in people:
        value = next(i["value"] for i in person["identifier"] if i["system"] == RESIDENT_ID)
        parsed = parse_resident_id(value)
        assert parsed.birth_date.isoformat() == person["birthDate"]
        assert parsed.gender == person["gender"]
        values.append(value)
    assert len(values) == len(set(values)) == 150 + 222


def test_patients_have_chinese_and_pinyin_names_a_district_address_and_a_community_centre(small_region) -> None:
    districts = {d["name_en"] for d in load("region")["districts"]}
    for patient in _of_type(_resources(small_region), "Patient"):
        chinese, pinyin = patient["name"]
        assert [e["valueCode"] for e in chinese["extension"] + pinyin["extension"]] == ["IDE", "ABC"]
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", chinese["text"])
        assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", pinyin["text"])
        assert patient["address"][0]["district"] in districts
        assert patient["managingOrganization"]["reference"].startswith("Organization/org-chc-")
        assert patient["communication"][0]["language"]["coding"][0]["code"] == "zh-CN"


def test_age_structure_follows_the_census_pyramid(big_region) -> None:
    patients = _of_type(big_region, "Patient")
    ages = [DEFAULT_AS_OF.year - int(p["birthDate"][:4]) for p in patients]
    assert 0.14 < sum(a <= 14 for a in ages) / len(ages) < 0.22
    assert 0.15 < sum(a >= 60 for a in ages) / len(ages) < 0.23
    assert 0.48 < sum(p["gender"] == "male" for p in patients) / len(patients) < 0.545


# --- clinical coherence ------------------------------------------------------------------------


def test_hypertension_prevalence_among_adults_is_near_the_cited_survey_rate(big_region) -> None:
    adults = {f"Patient/{p['id']}" for p in _of_type(big_region, "Patient") if _adult(p)}
    diagnosed = {ref for ref, codes in _by_patient(big_region, "Condition", ICD10).items() if "I10" in codes}
    rate = len(diagnosed & adults) / len(adults)
    assert abs(rate - 0.232) < 0.035, rate
    assert diagnosed <= adults


def test_diabetics_have_higher_hba1c_and_glucose_than_non_diabetics(big_region) -> None:
    diabetics = {ref for ref, codes in _by_patient(big_region, "Condition", ICD10).items() if "E11.9" in codes}
    for loinc, gap in (("4548-4", 1.0), ("14771-0", 1.5)):
        values = _lab_values(big_region, loinc)
        with_dm = [v for ref, vs in values.items() if ref in diabetics for v in vs]
        without = [v for ref, vs in values.items() if ref not in diabetics for v in vs]
        assert len(with_dm) > 50 and len(without) > 50
        assert mean(with_dm) - mean(without) > gap
        assert max(without) < (6.5 if loinc == "4548-4" else 7.0)


def test_kidney_results_match_the_ckd_stage(big_region) -> None:
    conditions = _by_patient(big_region, "Condition", ICD10)
    patients = {f"Patient/{p['id']}": p for p in _of_type(big_region, "Patient")}
    egfr = _lab_values(big_region, "62238-1")
    for ref, values in egfr.items():
        codes = conditions.get(ref, set())
        if "N18.3" in codes:
            assert all(30 <= v < 60 for v in values)
        else:
            assert all(v >= 60 for v in values), (ref, values)
        if "N18.1" in codes:
            assert all(v >= 90 for v in values)
    assert any("N18.3" in conditions.get(ref, set()) for ref in egfr)
    creatinine = _lab_values(big_region, "14682-9")
    for ref, values in creatinine.items():
        patient = patients[ref]
        age = DEFAULT_AS_OF.year - int(patient["birthDate"][:4])
        for value, reported in zip(values, egfr[ref], strict=True):
            assert abs(ckd_epi_2009(value, age, patient["gender"]) - reported) < 4


def test_treated_hypertensives_have_lower_blood_pressure_than_untreated(big_region) -> None:
    conditions = _by_patient(big_region, "Condition", ICD10)
    drugs = _by_patient(big_region, "MedicationRequest", ATC)
    systolic: dict[str, list[float]] = {}
    for obs in _of_type(big_region, "Observation"):
        if _code(obs["code"], LOINC) == "85354-9":
            systolic.setdefault(obs["subject"]["reference"], []).append(obs["component"][0]["valueQuantity"]["value"])
    groups: dict[str, list[float]] = {"treated": [], "untreated": [], "normotensive": []}
    for ref, values in systolic.items():
        if "I10" not in conditions.get(ref, set()):
            groups["normotensive"] += values
            assert max(values) < 140
        elif any(code.startswith(("C08", "C09", "C03", "C07")) for code in drugs.get(ref, set())):
            groups["treated"] += values
        else:
            groups["untreated"] += values
    assert mean(groups["untreated"]) > mean(groups["treated"]) + 8 > mean(groups["normotensive"]) + 8


def test_lab_interpretation_flags_agree_with_their_reference_ranges(big_region) -> None:
    flags = {"H": 0, "L": 0, "N": 0}
    for obs in _of_type(big_region, "Observation"):
        if obs["category"][0]["coding"][0]["code"] != "laboratory":
            continue
        value = obs["valueQuantity"]["value"]
        limits = obs["referenceRange"][0]
        expected = ("H" if "high" in limits and value > limits["high"]["value"]
                    else "L" if "low" in limits and value < limits["low"]["value"] else "N")
        assert obs["interpretation"][0]["coding"][0]["code"] == expected
        flags[expected] += 1
    assert all(count > 20 for count in flags.values()), flags


def test_every_condition_has_an_icd10_code(big_region) -> None:
    for condition in _of_type(big_region, "Condition"):
        code = _code(condition["code"], ICD10)
        assert code and ICD10_PATTERN.match(code), condition["id"]


def test_every_observation_has_a_loinc_code_and_ucum_quantities(big_region) -> None:
    for obs in _of_type(big_region, "Observation"):
        assert _code(obs["code"], LOINC), obs["id"]
        if obs["category"][0]["coding"][0]["code"] == "social-history":
            # Smoking status is answered with a SNOMED CT finding, not a quantity.
            assert _code(obs["valueCodeableConcept"], "http://snomed.info/sct"), obs["id"]
            continue
        quantities = [obs["valueQuantity"]] if "valueQuantity" in obs else [c["valueQuantity"] for c in obs["component"]]
        for component in obs.get("component", []):
            assert _code(component["code"], LOINC)
        assert quantities and all(q["system"] == UCUM and q["code"] for q in quantities), obs["id"]


def test_body_mass_index_is_weight_over_height_squared(big_region) -> None:
    by_encounter: dict[tuple[str, str], float] = {}
    for obs in _of_type(big_region, "Observation"):
        key = (obs.get("encounter", {}).get("reference", ""), _code(obs["code"], LOINC))
        if key[1] in ("29463-7", "8302-2", "39156-5"):
            by_encounter[key] = obs["valueQuantity"]["value"]
    checked = 0
    for (encounter, code), bmi in by_encounter.items():
        weight, height = by_encounter.get((encounter, "29463-7")), by_encounter.get((encounter, "8302-2"))
        if code == "39156-5" and weight and height:
            assert abs(weight / (height / 100) ** 2 - bmi) < 0.11
            checked += 1
    assert checked > 100


def test_penicillin_allergic_residents_are_never_prescribed_penicillins(big_region) -> None:
    allergic = {ref for ref, codes in _by_patient(big_region, "AllergyIntolerance", "http://snomed.info/sct").items()
                if "764146007" in codes}
    assert allergic
    for ref, codes in _by_patient(big_region, "MedicationRequest", ATC).items():
        if ref in allergic:
            assert not any(code.startswith(("J01C", "J01D")) for code in codes)


def test_chronic_prescriptions_treat_the_patients_own_conditions(big_region) -> None:
    conditions = {f"Condition/{c['id']}": c["subject"]["reference"] for c in _of_type(big_region, "Condition")}
    requests = _of_type(big_region, "MedicationRequest")
    assert requests
    for request in requests:
        for reason in request.get("reasonReference", []):
            assert conditions[reason["reference"]] == request["subject"]["reference"]
        assert request.get("reasonReference") or request.get("reasonCode")


def test_five_hundred_residents_make_fifteen_to_thirty_thousand_resources() -> None:
    assert 15_000 <= count_region(residents=500, seed=1) <= 30_000


# --- reference data ----------------------------------------------------------------------------


def test_every_data_file_cites_a_source() -> None:
    files = sorted(DATA_DIR.glob("*.json"))
    assert len(files) >= 8
    for path in files:
        assert len(load(path.stem)["source"]) > 40, path.name


def test_census_bands_reproduce_the_published_aggregates() -> None:
    data = load("population")
    bands = data["bands"]
    total = sum(b["millions"] for b in bands)
    share = {
        "age_0_14": sum(b["millions"] for b in bands if b["to"] <= 14) / total,
        "age_15_59": sum(b["millions"] for b in bands if 15 <= b["from"] <= 59) / total,
        "age_60_plus": sum(b["millions"] for b in bands if b["from"] >= 60) / total,
        "male": sum(b["millions"] * b["sex_ratio"] / (100 + b["sex_ratio"]) for b in bands) / total,
    }
    for key, published in data["published_aggregates"].items():
        assert abs(share[key] - published) < 0.005, key


def test_prevalence_bands_reproduce_each_conditions_headline_rate() -> None:
    bands = load("population")["bands"]
    for condition in load("conditions")["chronic"]:
        headline = condition["headline"]
        cases = people = 0.0
        for band in bands:
            male = band["millions"] * band["sex_ratio"] / (100 + band["sex_ratio"]) / (band["to"] - band["from"] + 1)
            female = band["millions"] / (band["to"] - band["from"] + 1) - male
            for age in range(max(band["from"], headline["min_age"]), band["to"] + 1):
                people += male + female
                cases += (male * band_value(condition["prevalence"], age, 2)
                          + female * band_value(condition["prevalence"], age, 3))
        assert abs(cases / people - headline["rate"]) < 0.002, condition["key"]


def test_every_drug_allergy_and_department_named_in_the_data_exists() -> None:
    drugs = load("medications")["drugs"]
    aliases = load("medications")["aliases"]
    allergies = {row["key"] for row in load("allergies")["substances"]}
    departments = {row["key"] for row in load("facilities")["departments"]}
    conditions = load("conditions")
    for row in conditions["chronic"]:
        assert all(drug in drugs for _, regimen in row["regimens"] for drug in regimen)
        assert row["specialty"] in departments
    for row in conditions["acute_outpatient"]["episodes"]:
        assert all(aliases.get(drug, drug) in drugs for _, drug in row["drugs"])
    for row in conditions["admissions"]["reasons"]:
        assert row["department"] in departments
        assert all(aliases.get(drug, drug) in drugs for drug in row["drugs"])
    for row in drugs.values():
        assert set(row.get("avoid_if_allergic", [])) <= allergies
        assert "alternative" not in row or row["alternative"] in drugs
