"""Tests of the FHIR R4 structural validator against HL7's examples and table-driven bad input."""

import copy
import json
import os
import random
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from smartcare.fhir.validation import ValidationIssue, known_resource_types, validate_resource
from smartcare.fhir.validation.primitives import primitive_checks
from smartcare.fhir.validation.structures import DATA_FILE

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "fhir-test-cases" / "r4" / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json")) if EXAMPLES.is_dir() else []
# HL7's own bundle-questionnaire example leaves out Questionnaire.item.linkId (1..1 in R4) on its 50
# display items; the validator reports exactly that and nothing else.
KNOWN_EXAMPLE_DEFECTS = {"bundle-questionnaire.json": 50}


def _require_examples() -> None:
    if EXAMPLES.is_dir():
        return
    reason = f"the official R4 examples are not at {EXAMPLES} (the shared test data beside the checkout)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _errors(issues: list[ValidationIssue]) -> list[ValidationIssue]:
    return [issue for issue in issues if issue.severity == "error"]


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_official_examples_are_all_present() -> None:
    _require_examples()
    assert len(EXAMPLE_FILES) == 72


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.name for p in EXAMPLE_FILES])
def test_official_example_validates_without_errors(path: Path) -> None:
    errors = _errors(validate_resource(_load(path)))
    if path.name in KNOWN_EXAMPLE_DEFECTS:
        assert len(errors) == KNOWN_EXAMPLE_DEFECTS[path.name]
        assert {(e.code, e.expression.rsplit(".", 1)[1]) for e in errors} == {("required", "linkId")}
    else:
        assert errors == []


def test_reference_to_a_type_the_element_does_not_allow_is_only_a_warning() -> None:
    _require_examples()
    issues = validate_resource(_load(EXAMPLES / "devicemetric-example.json"))
    assert [(i.severity, i.expression) for i in issues] == [("warning", "DeviceMetric.parent.reference")]
    assert "DeviceDefinition" in issues[0].diagnostics


def _patient(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", **elements}


def _observation(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "Heart rate"}, **elements}


def _nested_contained(levels: int) -> dict[str, Any]:
    resource: dict[str, Any] = _patient(id="p0")
    for level in range(1, levels):
        resource = _patient(id=f"p{level}", contained=[resource])
    return resource


def _nested_extensions(levels: int) -> dict[str, Any]:
    extension: dict[str, Any] = {"url": "http://example.org/leaf", "valueString": "x"}
    for _ in range(levels):
        extension = {"url": "http://example.org/branch", "extension": [extension]}
    return _patient(extension=[extension])


BAD_INPUTS = [
    # (case, input, expression, issue code, text the diagnostics must contain)
    ("unknown element", _patient(foo=1), "Patient.foo", "structure", "foo"),
    (
        "unknown nested element",
        _patient(name=[{"famly": "Chalmers"}]),
        "Patient.name[0].famly",
        "structure",
        "famly",
    ),
    ("string where boolean", _patient(active="true"), "Patient.active", "structure", "boolean"),
    ("number where string", _patient(name=[{"family": 7}]), "Patient.name[0].family", "structure", "string"),
    ("month 13", _patient(birthDate="1974-13-01"), "Patient.birthDate", "value", "date"),
    ("February 30", _patient(birthDate="2023-02-30"), "Patient.birthDate", "value", "date"),
    (
        "dateTime with time but no zone",
        _patient(deceasedDateTime="2015-02-14T13:42:00"),
        "Patient.deceasedDateTime",
        "value",
        "dateTime",
    ),
    (
        "instant without seconds",
        _observation(issued="2013-04-03T15:30Z"),
        "Observation.issued",
        "value",
        "instant",
    ),
    (
        "integer above 32 bits",
        _patient(multipleBirthInteger=2**31),
        "Patient.multipleBirthInteger",
        "value",
        "range",
    ),
    (
        "integer with a fraction",
        _patient(multipleBirthInteger=2.5),
        "Patient.multipleBirthInteger",
        "value",
        "whole",
    ),
    ("negative unsignedInt", _patient(photo=[{"size": -1}]), "Patient.photo[0].size", "value", "unsignedInt"),
    (
        "decimal as a string",
        _observation(valueQuantity={"value": "72"}),
        "Observation.valueQuantity.value",
        "structure",
        "number",
    ),
    (
        "decimal not finite",
        _observation(valueQuantity={"value": float("nan")}),
        "Observation.valueQuantity.value",
        "value",
        "finite",
    ),
    (
        "Observation without status",
        {"resourceType": "Observation", "code": {"text": "x"}},
        "Observation.status",
        "required",
        "status",
    ),
    (
        "Observation without code",
        {"resourceType": "Observation", "status": "final"},
        "Observation.code",
        "required",
        "code",
    ),
    (
        "Extension without url",
        _patient(extension=[{"valueString": "x"}]),
        "Patient.extension[0].url",
        "required",
        "url",
    ),
    (
        "required choice missing",
        _patient(link=[{"type": "seealso"}]),
        "Patient.link[0].other",
        "required",
        "other",
    ),
    (
        "gender not in its value set",
        _patient(gender="xx"),
        "Patient.gender",
        "code-invalid",
        "administrative-gender",
    ),
    ("code with a double space", _patient(gender="ma  le"), "Patient.gender", "value", "code"),
    (
        "two value[x] at once",
        _observation(valueString="a", valueBoolean=True),
        "Observation.valueBoolean",
        "structure",
        "value[x]",
    ),
    (
        "value[x] given once as a value and once by its extensions",
        _observation(valueBoolean=True, _valueString={"id": "v1"}),
        "Observation._valueString",
        "structure",
        "value[x]",
    ),
    ("array for a single element", _patient(gender=["male"]), "Patient.gender", "structure", "single"),
    (
        "array for a single object",
        _patient(maritalStatus=[{"text": "M"}]),
        "Patient.maritalStatus",
        "structure",
        "single",
    ),
    (
        "object where an array is required",
        _patient(name={"family": "x"}),
        "Patient.name",
        "structure",
        "array",
    ),
    (
        "string where an array is required",
        _patient(name=[{"given": "Peter"}]),
        "Patient.name[0].given",
        "structure",
        "array",
    ),
    ("empty string", _patient(name=[{"family": ""}]), "Patient.name[0].family", "value", "empty"),
    ("only whitespace", _patient(name=[{"family": "  \t"}]), "Patient.name[0].family", "value", "whitespace"),
    ("empty object", _patient(maritalStatus={}), "Patient.maritalStatus", "structure", "empty"),
    ("empty array", _patient(telecom=[]), "Patient.telecom", "structure", "empty"),
    ("null value", _patient(active=None), "Patient.active", "structure", "null"),
    ("null inside an object array", _patient(name=[None]), "Patient.name[0]", "structure", "null"),
    (
        "null without a matching extension",
        _patient(name=[{"given": ["a", None]}]),
        "Patient.name[0].given[1]",
        "structure",
        "_given[1]",
    ),
    (
        "extension array not aligned",
        _patient(name=[{"given": ["a", "b"], "_given": [None]}]),
        "Patient.name[0]._given",
        "structure",
        "align",
    ),
    (
        "extension of a single primitive as array",
        _patient(_birthDate=[{"id": "x"}]),
        "Patient._birthDate",
        "structure",
        "object",
    ),
    (
        "extension sibling of a complex element",
        _patient(_maritalStatus={"id": "x"}),
        "Patient._maritalStatus",
        "structure",
        "_maritalStatus",
    ),
    ("id with a space", _patient(id="bad id"), "Patient.id", "value", "id"),
    ("id of 65 characters", _patient(id="a" * 65), "Patient.id", "too-long", "64"),
    (
        "uuid in capitals",
        _patient(
            identifier=[{"value": "x", "system": "urn:ietf:rfc:3986"}],
            managingOrganization={"reference": "urn:uuid:ABC"},
        ),
        "Patient.managingOrganization.reference",
        "value",
        "urn:uuid",
    ),
    (
        "reference with a space",
        _patient(managingOrganization={"reference": "Organization/ 1"}),
        "Patient.managingOrganization.reference",
        "value",
        "Organization/ 1",
    ),
    (
        "reference to an unknown type",
        _patient(managingOrganization={"reference": "Company/1"}),
        "Patient.managingOrganization.reference",
        "value",
        "Company/1",
    ),
    (
        "reference with too many segments",
        _patient(managingOrganization={"reference": "Organization/1/2"}),
        "Patient.managingOrganization.reference",
        "value",
        "Type/id",
    ),
    (
        "conditional reference outside a transaction",
        _observation(subject={"reference": "Patient?identifier=1"}),
        "Observation.subject.reference",
        "value",
        "Patient?identifier=1",
    ),
    ("unknown resourceType", {"resourceType": "Patinet"}, "Resource.resourceType", "invalid", "Patinet"),
    (
        "Medplum's own resource type",
        {"resourceType": "Project"},
        "Resource.resourceType",
        "invalid",
        "Project",
    ),
    (
        "abstract resource type",
        {"resourceType": "DomainResource"},
        "Resource.resourceType",
        "invalid",
        "DomainResource",
    ),
    ("missing resourceType", {"id": "1"}, "Resource.resourceType", "required", "resourceType"),
    ("list instead of a resource", [_patient()], "Resource", "structure", "array"),
    ("string instead of a resource", "Patient", "Resource", "structure", "string"),
    ("None instead of a resource", None, "Resource", "structure", "null"),
    (
        "error deep inside a contained resource of a bundle entry",
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": _patient(contained=[_observation(status="done")])}],
        },
        "Bundle.entry[0].resource.contained[0].status",
        "code-invalid",
        "done",
    ),
    (
        "bad resource inside Parameters",
        {
            "resourceType": "Parameters",
            "parameter": [{"name": "p", "resource": {"resourceType": "Patient", "x": 1}}],
        },
        "Parameters.parameter[0].resource.x",
        "structure",
        "x",
    ),
    (
        "bad value in a backbone element reached by contentReference",
        {
            "resourceType": "Questionnaire",
            "status": "active",
            "item": [{"linkId": "1", "type": "group", "item": [{"linkId": "1.1", "type": "essay"}]}],
        },
        "Questionnaire.item[0].item[0].type",
        "code-invalid",
        "essay",
    ),
]


@pytest.mark.parametrize(
    ("resource", "expression", "code", "mentions"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_is_reported_at_the_element(
    resource: Any, expression: str, code: str, mentions: str
) -> None:
    errors = _errors(validate_resource(resource))
    assert [(e.expression, e.code) for e in errors] == [(expression, code)]
    assert expression in errors[0].diagnostics
    assert mentions in errors[0].diagnostics


@pytest.mark.parametrize(
    "resource",
    [
        _patient(
            name=[
                {
                    "given": ["Jim", None],
                    "_given": [None, {"extension": [{"url": "http://e.org/x", "valueString": "y"}]}],
                }
            ]
        ),
        _patient(_birthDate={"extension": [{"url": "http://e.org/unknown", "valueBoolean": True}]}),
        _patient(
            deceasedDateTime="2015-02-14T13:42:00+10:00", birthDate="1974", multipleBirthInteger=-(2**31)
        ),
        _patient(managingOrganization={"reference": "Organization/1/_history/2"}),
        _patient(managingOrganization={"reference": "https://fhir.example.org/r4/Organization/1"}),
        _patient(managingOrganization={"reference": "#org1"}),
        _patient(managingOrganization={"reference": "urn:oid:1.2.3.4"}),
        _patient(managingOrganization={"reference": "urn:uuid:04121321-4af5-424c-a0e1-ed3aab1c349d"}),
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "resource": _observation(subject={"reference": "Patient?identifier=http://x|1"}),
                    "request": {"method": "POST", "url": "Observation"},
                }
            ],
        },
        _observation(valueQuantity={"value": 72.5, "unit": "beats/min"}),
    ],
    ids=[
        "null paired with an extension",
        "primitive given only by its extension",
        "partial date and 32-bit minimum",
        "versioned reference",
        "absolute reference",
        "local reference",
        "oid reference",
        "uuid reference",
        "conditional reference in a transaction",
        "decimal",
    ],
)
def test_valid_edge_cases_have_no_issues(resource: dict[str, Any]) -> None:
    assert validate_resource(resource) == []


def test_control_characters_in_a_string_are_a_warning() -> None:
    issues = validate_resource(_patient(name=[{"family": "Chal\x07mers"}]))
    assert [(i.severity, i.expression) for i in issues] == [("warning", "Patient.name[0].family")]


def test_very_deep_extension_nesting_is_rejected_without_crashing() -> None:
    issues = validate_resource(_nested_extensions(5000))
    assert [(i.code, i.severity) for i in issues] == [("too-long", "error")]
    assert issues[0].expression.startswith("Patient.extension[0].extension[0].extension[0]")


def test_very_deep_contained_nesting_is_rejected_without_crashing() -> None:
    issues = validate_resource(_nested_contained(2000))
    assert [i.code for i in _errors(issues)] == ["too-long"]


def test_moderate_nesting_is_accepted() -> None:
    assert validate_resource(_nested_extensions(40)) == []


def _mutations(value: Any, rng: random.Random) -> Any:
    """Replace random parts of a resource with hostile JSON values."""
    hostile = [
        None,
        [],
        {},
        "",
        " ",
        [None],
        [[[]]],
        2**70,
        -1,
        1.5,
        True,
        "x" * 70,
        "\x00",
        {"a": {}},
        "2020-13-45",
    ]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            roll = rng.random()
            if roll < 0.05:
                continue
            out[key] = rng.choice(hostile) if roll < 0.12 else _mutations(item, rng)
        if rng.random() < 0.05:
            out[rng.choice(["_x", "resourceType", "_id", "contained", "valueString"])] = rng.choice(hostile)
        return out
    if isinstance(value, list):
        return [rng.choice(hostile) if rng.random() < 0.07 else _mutations(item, rng) for item in value]
    return value


def test_hostile_mutations_of_the_examples_never_raise() -> None:
    _require_examples()
    rng = random.Random(20240601)
    for path in EXAMPLE_FILES:
        original = _load(path)
        for _ in range(10):
            issues = validate_resource(_mutations(copy.deepcopy(original), rng))
            assert all(isinstance(issue, ValidationIssue) for issue in issues)


TRICKY_LEXICAL_VALUES = [
    "1974-12-25",
    "1974-12",
    "1974",
    "0000-01-01",
    "1974-02-29",
    "2000-02-29",
    "1900-02-29",
    "19741225",
    "1974-12-25T10:00:00Z",
    "1974-12-25T10:00:00+14:00",
    "1974-12-25T10:00:00+14:30",
    "1974-12-25T24:00:00Z",
    "1974-12-25T10:00:60Z",
    "1974-12-25T10:00:00.123456789-05:00",
    "1974-12-25T10:00",
    "1974-12-25 10:00:00Z",
    "1974-12-2５",
    "http://loinc.org",
    "http://a b",
    "a\tb",
    "urn:oid:1.2.3",
    "male",
    " male",
    "ma le",
    "ma  le",
    "male ",
    "x\u00a0y",
    "\x01",
    "日本",
    "",
]


def _spec_accepts(type_name: str, spec: re.Pattern[str], value: str) -> bool:
    """What the R4 regex plus "dates SHALL be valid dates" say about a value."""
    if not value or spec.fullmatch(value) is None:
        return False
    if type_name in ("date", "dateTime", "instant") and len(value) >= 10:
        try:
            date(int(value[:4]), int(value[5:7]), int(value[8:10]))
        except ValueError:
            return False
    return True


@pytest.mark.parametrize("type_name", ["date", "dateTime", "instant", "uri", "url", "canonical", "code"])
def test_primitive_shortcuts_agree_with_the_spec_regexes(type_name: str) -> None:
    formats = json.loads(DATA_FILE.read_text(encoding="utf-8"))["p"]
    check = primitive_checks(formats)[type_name]
    spec = re.compile(formats[type_name]["re"], re.ASCII)
    for value in TRICKY_LEXICAL_VALUES:
        assert (check(value) is None) == _spec_accepts(type_name, spec, value), value


def test_structures_data_is_base_r4_only_and_compact() -> None:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    assert data["source"].startswith("HL7 FHIR R4 4.0.1")
    assert data["fhirVersion"] == "4.0.1"
    assert DATA_FILE.stat().st_size < 900 * 1024
    types = known_resource_types()
    assert len(types) == 146
    assert {"Patient", "Observation", "Bundle", "Parameters", "Questionnaire"} <= types
    # Medplum's own resource types and R4B's SubscriptionStatus ride along in the npm package.
    assert not {"Project", "User", "Bot", "AccessPolicy", "ClientApplication", "SubscriptionStatus"} & types
    assert not {"Resource", "DomainResource"} & types
    assert set(data["v"]["resource-types"]) == types | {"Resource", "DomainResource"}
    for structure in data["t"].values():
        for element in structure.values():
            spec = {"t": element} if isinstance(element, str) else element
            assert spec["t"] in data["t"] or spec["t"] in data["p"] or spec["t"] == "Resource"
            assert "v" not in spec or spec["v"] in data["v"]
