"""De-identification after Safe Harbor: on HL7's official R4 examples nothing identifying survives, and what carries meaning stays."""

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from smartcare.fhir.access import is_personal
from smartcare.regional.research.deidentify import (
    AGE_GROUP_EXTENSION,
    deidentified_reference,
    deidentify,
    pseudonym,
    year_only,
)
from tests.support import need_shared

KEY = bytes(range(32))
YEAR = 2026
# A FHIR date, dateTime or instant finer than the year (NDC codes such as 0069-2587-10 are not dates).
EXACT_DATE = re.compile(r"\d{4}-\d{2}(-\d{2}(T\S+)?)?")


def example(name: str) -> dict[str, Any]:
    return json.loads((need_shared("fhir-test-cases/r4/examples") / name).read_text(encoding="utf-8"))


def personal_examples() -> list[str]:
    """The official examples that are personal health data (Patient and the Patient compartment's types)."""
    folder = need_shared("fhir-test-cases/r4/examples")
    names = []
    for path in sorted(folder.glob("*.json")):
        resource = json.loads(path.read_text(encoding="utf-8"))
        if is_personal(resource["resourceType"]):
            names.append(path.name)
    return names


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, text) of every string in a JSON value, keys included as paths."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for item in value:
            yield from strings(item, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{path}.{key}" if path else key)


def identifying(resource: Any) -> set[str]:
    """Every identifying text of a resource: name parts, Identifier and ContactPoint values, street parts, displays outside Codings."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            if value.keys() & {"family", "given"}:
                found.update(text for _, text in strings({k: value.get(k) for k in ("family", "given", "text")}))
            if isinstance(value.get("value"), str):
                found.add(value["value"])
            if not value.keys() & {"code", "system"} and isinstance(value.get("display"), str):
                found.add(value["display"])
            if value.keys() & {"line", "postalCode"}:
                found.update(text for _, text in strings({k: value.get(k) for k in ("line", "postalCode", "text")}))
            for item in value.values():
                walk(item)

    walk(resource)
    # A Reference's display may repeat a coded concept's name (a medication), which is no identifier.
    concepts = {text for path, text in strings(resource) if path.endswith("coding.display")}
    return {text for text in found if len(text) >= 3 and not any(text in concept for concept in concepts)}


@pytest.fixture(scope="module")
def examples() -> list[str]:
    return personal_examples()


def test_the_official_examples_include_the_identifying_kinds(examples):
    """The table below is only worth something if the examples carry names, identifiers, telecom and addresses."""
    assert {"patient-example.json", "observation-example.json", "condition-example.json",
            "medicationrequest0301.json", "encounter-example.json"} <= set(examples)
    patient = identifying(example("patient-example.json"))
    assert {"Chalmers", "12345", "(03) 5555 6473", "534 Erewhon St", "3999"} <= patient


@pytest.mark.parametrize("name", personal_examples())
def test_no_identifier_survives_in_any_official_example(name):
    original = example(name)
    out = deidentify(original, key=KEY, as_of_year=YEAR)
    texts = list(strings(out))
    leaked = [(path, text) for path, text in texts for secret in identifying(original) if secret in text]
    assert leaked == [], f"identifying text survived in {name}"
    dated = [(path, text) for path, text in texts if EXACT_DATE.fullmatch(text)]
    assert dated == [], f"a date finer than the year survived in {name}"
    forbidden_elements = {"name", "telecom", "identifier", "photo", "contact", "link", "text", "note", "extension",
                          "meta", "display"}
    paths = {path for path, _ in texts}
    present = {part for path in paths for part in path.split(".")} & forbidden_elements
    # Coding.display (terminology) is kept; a Reference's display is not (checked above through identifying()).
    assert present <= {"display"}, f"{name} kept {present}"
    assert out["resourceType"] == original["resourceType"]
    if "id" in original:
        assert out["id"] == pseudonym(original["resourceType"], original["id"], key=KEY) != original["id"]


# (example, path into the output, expected value): what carries meaning stays, places are coarsened.
KEPT = [
    ("patient-example.json", ("birthDate",), "1974"),
    ("patient-example.json", ("gender",), "male"),
    ("patient-example.json", ("address",), [{"use": "home", "type": "both", "city": "PleasantVille",
                                              "district": "Rainbow", "state": "Vic"}]),
    ("patient-example.json", ("managingOrganization", "reference"), f"Organization/{pseudonym('Organization', '1', key=KEY)}"),
    ("observation-example.json", ("valueQuantity",), {"value": 185, "unit": "lbs", "system": "http://unitsofmeasure.org",
                                                      "code": "[lb_av]"}),
    ("observation-example.json", ("effectiveDateTime",), "2016"),
    ("observation-example.json", ("status",), "final"),
    ("observation-example.json", ("code", "coding", 0, "code"), "29463-7"),
    ("observation-example.json", ("subject", "reference"), f"Patient/{pseudonym('Patient', 'example', key=KEY)}"),
    ("condition-example.json", ("onsetDateTime",), "2012"),
    ("condition-example.json", ("code", "coding", 0, "code"), "39065001"),
    ("condition-example.json", ("clinicalStatus", "coding", 0, "code"), "active"),
    ("medicationrequest0301.json", ("authoredOn",), "2015"),
    ("medicationrequest0301.json", ("medicationReference", "reference"), "#med0310"),
    ("medicationrequest0301.json", ("subject",), {"reference": f"Patient/{pseudonym('Patient', 'pat1', key=KEY)}"}),
    ("encounter-example.json", ("class", "code"), "IMP"),
]


@pytest.mark.parametrize(("name", "path", "expected"), KEPT, ids=[f"{n}:{'.'.join(map(str, p))}" for n, p, _ in KEPT])
def test_codes_values_units_statuses_and_coarse_places_are_kept(name, path, expected):
    value: Any = deidentify(example(name), key=KEY, as_of_year=YEAR)
    for step in path:
        value = value[step]
    assert value == expected


def test_the_input_resource_is_left_unchanged():
    original = example("patient-example.json")
    before = json.dumps(original, sort_keys=True)
    deidentify(original, key=KEY, as_of_year=YEAR)
    assert json.dumps(original, sort_keys=True) == before


@pytest.mark.parametrize(("born", "as_of", "kept"), [
    ("1974-12-25", 2026, "1974"),
    ("1937-06-01", 2026, "1937"),  # 89 this year: still shown
    ("1936-06-01", 2026, None),  # 90 this year: grouped
    ("1920", 2026, None),
])
def test_ages_over_89_are_grouped_as_90_or_older(born, as_of, kept):
    out = deidentify({"resourceType": "Patient", "id": "p", "birthDate": born}, key=KEY, as_of_year=as_of)
    if kept:
        assert out["birthDate"] == kept and "extension" not in out
    else:
        assert "birthDate" not in out
        assert out["extension"] == [{"url": AGE_GROUP_EXTENSION, "valueString": "90+"}]


@pytest.mark.parametrize(("age", "grouped"), [
    ({"value": 45, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"}, False),
    ({"value": 93, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"}, True),
    ({"value": 1100, "unit": "mo", "system": "http://unitsofmeasure.org", "code": "mo"}, True),
])
def test_age_values_over_89_years_are_grouped(age, grouped):
    condition = {"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p"}, "onsetAge": age}
    out = deidentify(condition, key=KEY, as_of_year=YEAR)
    if grouped:
        assert out["onsetAge"] == {"value": 90, "comparator": ">=", "unit": "a", "system": "http://unitsofmeasure.org",
                                   "code": "a"}
    else:
        assert out["onsetAge"] == age


def test_pseudonyms_are_stable_keyed_and_join_a_patients_records():
    first = pseudonym("Patient", "pa1", key=KEY)
    assert first == pseudonym("Patient", "pa1", key=KEY)
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != pseudonym("Patient", "pa2", key=KEY)
    assert first != pseudonym("Patient", "pa1", key=bytes(32)), "another key gives other pseudonyms"
    assert first != pseudonym("Observation", "pa1", key=KEY), "the type is part of what is hashed"
    patient = deidentify({"resourceType": "Patient", "id": "pa1"}, key=KEY, as_of_year=YEAR)
    observation = deidentify({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
                              "subject": {"reference": "Patient/pa1"}}, key=KEY, as_of_year=YEAR)
    assert observation["subject"]["reference"] == f"Patient/{patient['id']}"


@pytest.mark.parametrize(("reference", "expected"), [
    ("Patient/pa1", f"Patient/{pseudonym('Patient', 'pa1', key=KEY)}"),
    ("Patient/pa1/_history/3", f"Patient/{pseudonym('Patient', 'pa1', key=KEY)}"),
    ("https://other.example/fhir/Patient/pa1", f"Patient/{pseudonym('Patient', 'pa1', key=KEY)}"),
    ("#contained-1", "#contained-1"),
    ("urn:uuid:9a1e0c1e-0000-4000-8000-000000000001", None),
    ("mailto:someone@example.org", None),
])
def test_references_keep_their_type_and_lose_their_target(reference, expected):
    assert deidentified_reference(reference, key=KEY) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-01-06", "2026"), ("2026-01", "2026"), ("2026", "2026"), ("2026-01-06T09:31:00.000Z", "2026"),
    ("2026-01-06T09:30:00+08:00", "2026"), ("8867-4", "8867-4"), ("final", "final"),
])
def test_dates_are_cut_to_the_year_and_codes_are_not_taken_for_dates(value, expected):
    assert year_only(value) == expected


def test_free_text_attachments_extensions_and_network_addresses_go_wherever_they_are():
    observation = {
        "resourceType": "Observation", "id": "o", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}], "text": "pulse of Mr Chalmers"},
        "valueString": "Peter Chalmers felt faint",
        "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                       "valueQuantity": {"value": 120, "unit": "mm[Hg]"},
                       "extension": [{"url": "http://example.org/x", "valueString": "MRN 12345"}]}],
        "derivedFrom": [{"reference": "Media/photo-1", "display": "photo of Peter Chalmers"}],
        "device": {"identifier": {"system": "urn:serial", "value": "SN-99812"}},
        "_status": {"extension": [{"url": "http://example.org/y", "valueString": "typed by Jim"}]},
        "contained": [{"resourceType": "Media", "id": "m", "status": "completed",
                       "content": {"contentType": "image/jpeg", "data": "aGVsbG8=", "title": "Peter"}}],
    }
    out = deidentify(observation, key=KEY, as_of_year=YEAR)
    text = json.dumps(out)
    for secret in ("Chalmers", "12345", "SN-99812", "Jim", "aGVsbG8=", "Peter"):
        assert secret not in text
    assert out["component"][0]["valueQuantity"] == {"value": 120, "unit": "mm[Hg]"}
    assert "device" not in out and "_status" not in out
    endpoint = deidentify({"resourceType": "AuditEvent", "id": "a",
                           "agent": [{"network": {"address": "10.1.2.3", "type": "2"}}]}, key=KEY, as_of_year=YEAR)
    assert "10.1.2.3" not in json.dumps(endpoint)
