"""Search-index extraction: value types to rows, composites, references, the official examples."""

import json
from datetime import datetime

import pytest

from smartcare.fhir import tables
from smartcare.fhir.search.extract import extract_index_rows, fast_path_counts
from smartcare.fhir.search.registry import (
    all_resource_types,
    get_param,
    params_for,
    patient_compartment_params,
)
from smartcare.fhir.search.values import date_bounds, normalize_string, number_bounds, parse_reference
from tests.support import need_shared

INF = float("inf")
EXAMPLES = "fhir-test-cases/r4/examples"


def ts(instant: str) -> float:
    """Epoch seconds of an ISO instant, computed independently of date_bounds."""
    return datetime.fromisoformat(instant).timestamp()


def S(value: str, exact: str, grp: int | None = None) -> tuple[str, dict]:
    return "string", {"grp": grp, "value": value, "exact": exact}


def T(
    system: str | None, code: str | None, text: str | None = None, grp: int | None = None
) -> tuple[str, dict]:
    return "token", {"grp": grp, "system": system, "code": code, "text": text}


def D(low: float, high: float, grp: int | None = None) -> tuple[str, dict]:
    return "date", {"grp": grp, "low": low, "high": high}


def N(value: float, low: float, high: float) -> tuple[str, dict]:
    return "number", {"grp": None, "value": value, "low": low, "high": high}


def Q(system, code, unit, value, low, high, grp: int | None = None) -> tuple[str, dict]:
    return "quantity", {
        "grp": grp,
        "system": system,
        "code": code,
        "unit": unit,
        "value": value,
        "low": low,
        "high": high,
    }


def R(target_type: str | None, target_id: str | None, url: str | None = None) -> tuple[str, dict]:
    return "reference", {"grp": None, "target_type": target_type, "target_id": target_id, "url": url}


def U(value: str) -> tuple[str, dict]:
    return "uri", {"grp": None, "value": value}


def rows_of(resource: dict, param: str, **kwargs) -> list[tuple[str, dict]]:
    """The rows one parameter (or `param:modifier`, `param#i`) got, as (kind, row without param)."""
    found = []
    for kind, rows in extract_index_rows(resource, **kwargs).items():
        for row in rows:
            if row["param"] == param:
                found.append((kind, {key: value for key, value in row.items() if key != "param"}))
    return found


LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"

PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "meta": {
        "lastUpdated": "2024-03-05T10:20:30.123Z",
        "profile": ["http://example.org/StructureDefinition/my-patient"],
        "source": "http://hospital.example/fhir",
        "tag": [{"system": "http://example.org/tags", "code": "vip", "display": "Very Important"}],
        "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}],
    },
    "identifier": [
        {
            "type": {"coding": [{"system": V2_0203, "code": "MR"}], "text": "Medical record"},
            "system": "urn:oid:1.2.3",
            "value": "12345",
        }
    ],
    "active": False,
    "name": [
        {"family": "Müller", "given": ["José", "Ana  Maria"], "prefix": ["Dr."], "text": "Dr. José Müller"}
    ],
    "telecom": [
        {"system": "phone", "value": "+1 555 0100"},
        {"system": "email", "value": "Jose@Example.org"},
    ],
    "gender": "male",
    "birthDate": "1974-12",
    "address": [{"line": ["1 Rue de l'Église"], "city": "Genève", "postalCode": "1201", "country": "CH"}],
}

OBSERVATION = {
    "resourceType": "Observation",
    "id": "o1",
    "status": "final",
    "code": {
        "coding": [
            {"system": LOINC, "code": "29463-7", "display": "Body Weight"},
            {"system": LOINC, "code": "3141-9"},
        ],
        "text": "Weight",
    },
    "subject": {"reference": "Patient/p1/_history/3"},
    "effectivePeriod": {"start": "2024-01-01"},
    "valueQuantity": {"value": 72.50, "unit": "kg", "system": UCUM, "code": "kg"},
}

SIMPLE_CASES = [
    pytest.param(
        PATIENT, "name",
        [S("muller", "Müller"), S("jose", "José"), S("ana maria", "Ana  Maria"), S("dr.", "Dr."),
         S("dr. jose muller", "Dr. José Müller")],
        id="string-HumanName-all-parts-accent-and-space-folded",
    ),
    pytest.param(
        PATIENT, "address",
        [S("1 rue de l'eglise", "1 Rue de l'Église"), S("geneve", "Genève"), S("1201", "1201"), S("ch", "CH")],
        id="string-Address-all-parts",
    ),
    pytest.param(
        {"resourceType": "Patient", "name": [{"family": "王", "given": ["小明"]}]}, "name",
        [S("王", "王"), S("小明", "小明")],
        id="string-CJK-kept-as-is",
    ),
    pytest.param(
        {"resourceType": "Patient", "name": [{"family": "X" * 300}]}, "family",
        [S("x" * 255, "X" * 255)],
        id="string-truncated-to-255",
    ),
    pytest.param(PATIENT, "_id", [T(None, "p1")], id="token-_id"),
    pytest.param(PATIENT, "gender", [T(None, "male")], id="token-code"),
    pytest.param(PATIENT, "active", [T(None, "false")], id="token-boolean"),
    pytest.param(
        PATIENT, "_tag", [T("http://example.org/tags", "vip", "very important")], id="token-Coding-display-as-text"
    ),
    pytest.param(
        PATIENT, "_security", [T("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R")],
        id="token-_security",
    ),
    pytest.param(
        OBSERVATION, "code",
        [T(LOINC, "29463-7", "weight"), T(LOINC, "3141-9", "weight")],
        id="token-CodeableConcept-text-wins-over-display",
    ),
    pytest.param(
        {"resourceType": "Observation", "code": {"text": "Free text only"}}, "code",
        [T(None, None, "free text only")],
        id="token-CodeableConcept-text-only",
    ),
    pytest.param(
        PATIENT, "identifier", [T("urn:oid:1.2.3", "12345", "medical record")], id="token-Identifier"
    ),
    pytest.param(PATIENT, "identifier:of-type", [T(V2_0203, "MR|12345")], id="token-Identifier-of-type"),
    pytest.param(PATIENT, "telecom", [T(None, "+1 555 0100"), T(None, "Jose@Example.org")], id="token-ContactPoint"),
    pytest.param(PATIENT, "phone", [T(None, "+1 555 0100")], id="token-where-system-phone"),
    pytest.param(PATIENT, "email", [T(None, "Jose@Example.org")], id="token-where-system-email"),
    pytest.param(
        PATIENT, "birthdate", [D(ts("1974-12-01T00:00:00+00:00"), ts("1974-12-31T23:59:59.999+00:00"))],
        id="date-month-precision",
    ),
    pytest.param(
        PATIENT, "_lastUpdated",
        [D(ts("2024-03-05T10:20:30.123+00:00"), ts("2024-03-05T10:20:30.123+00:00"))],
        id="date-_lastUpdated-millisecond",
    ),
    pytest.param(OBSERVATION, "date", [D(ts("2024-01-01T00:00:00+00:00"), INF)], id="date-Period-open-end"),
    pytest.param(
        {"resourceType": "Observation", "effectivePeriod": {"end": "2024-01-01T10:00:00+02:00"}}, "date",
        [D(-INF, ts("2024-01-01T08:00:00.999+00:00"))],
        id="date-Period-open-start-with-zone",
    ),
    pytest.param(
        {"resourceType": "Observation", "effectiveDateTime": "2013-05-06T07:08:09"}, "date",
        [D(ts("2013-05-06T07:08:09+00:00"), ts("2013-05-06T07:08:09.999+00:00"))],
        id="date-choice-dateTime-without-zone-is-UTC",
    ),
    pytest.param(
        {"resourceType": "Observation", "effectiveTiming": {"event": ["2020-02-03", "2020-01-05"]}}, "date",
        [D(ts("2020-01-05T00:00:00+00:00"), ts("2020-02-03T23:59:59.999+00:00"))],
        id="date-Timing-outer-limits",
    ),
    pytest.param(
        {"resourceType": "RiskAssessment", "prediction": [{"probabilityDecimal": 0.25}]}, "probability",
        [N(0.25, 0.245, 0.255)],
        id="number-decimal-precision",
    ),
    pytest.param(
        {"resourceType": "RiskAssessment", "prediction": [{"probabilityRange": {"low": {"value": 10}}}]},
        "probability",
        [N(10.0, 9.5, INF)],
        id="number-Range-open-high",
    ),
    pytest.param(
        OBSERVATION, "value-quantity", [Q(UCUM, "kg", "kg", 72.5, 72.45, 72.55)], id="quantity-choice-Quantity"
    ),
    pytest.param(
        {"resourceType": "Observation", "valueQuantity": {"value": 100, "unit": "beats/min"}}, "value-quantity",
        [Q(None, "beats/min", "beats/min", 100.0, 99.5, 100.5)],
        id="quantity-unit-when-no-code",
    ),
    pytest.param(
        {"resourceType": "ChargeItem", "priceOverride": {"value": 12.5, "currency": "EUR"}}, "price-override",
        [Q("urn:iso:std:iso:4217", "EUR", "EUR", 12.5, 12.45, 12.55)],
        id="quantity-Money",
    ),
    pytest.param(
        {
            "resourceType": "ActivityDefinition",
            "useContext": [
                {"code": {"code": "age"}, "valueRange": {"low": {"value": 18, "unit": "a", "system": UCUM, "code": "a"},
                                                          "high": {"value": 65}}},
                {"code": {"code": "weight"}, "valueQuantity": {"value": 5, "code": "kg", "system": UCUM}},
            ],
        },
        "context-quantity",
        [Q(UCUM, "kg", None, 5.0, 4.5, 5.5), Q(UCUM, "a", "a", 18.0, 17.5, 65.5)],
        id="quantity-as-filters-each-repetition-and-Range",
    ),
    pytest.param(OBSERVATION, "subject", [R("Patient", "p1")], id="reference-relative-with-history"),
    pytest.param(OBSERVATION, "patient", [R("Patient", "p1")], id="reference-resolve-is-Patient"),
    pytest.param(
        {"resourceType": "Observation", "subject": {"reference": "Group/g1"}}, "patient", [],
        id="reference-resolve-is-Patient-skips-Group",
    ),
    pytest.param(
        {"resourceType": "Observation", "subject": {"reference": "http://other.example/fhir/Patient/9/_history/1"}},
        "subject",
        [R("Patient", None, "http://other.example/fhir/Patient/9/_history/1")],
        id="reference-absolute-elsewhere-keeps-url",
    ),
    pytest.param(
        {"resourceType": "Observation", "subject": {"reference": "urn:uuid:53fefa32-fcbb-4ff8-8a92-55ee120877b7"}},
        "subject",
        [R(None, None, "urn:uuid:53fefa32-fcbb-4ff8-8a92-55ee120877b7")],
        id="reference-urn-keeps-url",
    ),
    pytest.param(
        {"resourceType": "Observation", "subject": {"reference": "#p"}}, "subject", [],
        id="reference-contained-skipped",
    ),
    pytest.param(
        {"resourceType": "Observation", "subject": {"identifier": {"system": "urn:oid:1.2.3", "value": "12345"}}},
        "subject:identifier",
        [T("urn:oid:1.2.3", "12345")],
        id="reference-identifier-as-token",
    ),
    pytest.param(
        {"resourceType": "QuestionnaireResponse", "questionnaire": "http://example.org/Questionnaire/q|2.0"},
        "questionnaire",
        [R(None, None, "http://example.org/Questionnaire/q|2.0")],
        id="reference-canonical-url",
    ),
    pytest.param(
        PATIENT, "_profile", [U("http://example.org/StructureDefinition/my-patient")], id="uri-_profile"
    ),
    pytest.param(PATIENT, "_source", [U("http://hospital.example/fhir")], id="uri-_source"),
    pytest.param(
        {"resourceType": "ValueSet", "url": "http://example.org/ValueSet/v"}, "url",
        [U("http://example.org/ValueSet/v")],
        id="uri-url",
    ),
    pytest.param(
        {"resourceType": "Observation", "valueString": "Trace of Protein"}, "value-string",
        [S("trace of protein", "Trace of Protein")],
        id="choice-valueString",
    ),
    pytest.param(
        {"resourceType": "Observation", "valueCodeableConcept": {"coding": [{"system": "s", "code": "pos"}]}},
        "value-concept",
        [T("s", "pos")],
        id="choice-valueCodeableConcept",
    ),
    pytest.param(
        {"resourceType": "Observation", "valueString": "x"}, "value-quantity", [], id="choice-other-type-ignored"
    ),
    pytest.param(
        {"resourceType": "Patient", "deceasedDateTime": "2015-02-03"}, "deceased", [T(None, "true")],
        id="fallback-fhirpath-deceased-date",
    ),
    pytest.param({"resourceType": "Patient"}, "deceased", [T(None, "false")], id="fallback-fhirpath-not-deceased"),
    pytest.param(
        {"resourceType": "Bundle", "type": "document",
         "entry": [{"resource": {"resourceType": "Composition", "id": "c1", "status": "final"}}]},
        "composition",
        [R("Composition", "c1")],
        id="fallback-fhirpath-bundle-composition",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("resource", "param", "expected"), SIMPLE_CASES)
def test_value_type_gives_expected_rows(resource, param, expected):
    assert rows_of(resource, param) == expected


def test_reference_under_server_base_is_local():
    resource = {"resourceType": "Observation", "subject": {"reference": "https://cdr.example/fhir/Patient/7"}}
    assert rows_of(resource, "subject", server_base="https://cdr.example/fhir/") == [R("Patient", "7")]


def test_composite_code_value_quantity_shares_grp_per_repetition():
    assert rows_of(OBSERVATION, "code-value-quantity#0") == [
        T(LOINC, "29463-7", "weight", grp=0),
        T(LOINC, "3141-9", "weight", grp=0),
    ]
    assert rows_of(OBSERVATION, "code-value-quantity#1") == [Q(UCUM, "kg", "kg", 72.5, 72.45, 72.55, grp=0)]


def test_composite_components_get_one_grp_each_and_skip_incomplete_ones():
    blood_pressure = {
        "resourceType": "Observation",
        "component": [
            {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": {"value": 120, "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": {"value": 80, "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": LOINC, "code": "8867-4"}]}},
        ],
    }  # fmt: skip
    codes = rows_of(blood_pressure, "component-code-value-quantity#0")
    values = rows_of(blood_pressure, "component-code-value-quantity#1")
    assert [row["code"] for _kind, row in codes] == ["8480-6", "8462-4"]
    assert [row["value"] for _kind, row in values] == [120.0, 80.0]
    groups = [row["grp"] for _kind, row in codes]
    assert groups == [row["grp"] for _kind, row in values]
    assert len(set(groups)) == 2


def test_composite_component_from_resource_root():
    sequence = {
        "resourceType": "MolecularSequence",
        "referenceSeq": {"chromosome": {"coding": [{"system": "http://chr", "code": "1"}]}},
        "variant": [{"start": 10, "end": 11}, {"start": 20, "end": 21}],
    }
    chromosome = rows_of(sequence, "chromosome-variant-coordinate#0")
    start = rows_of(sequence, "chromosome-variant-coordinate#1")
    assert [row["grp"] for _kind, row in chromosome] == [row["grp"] for _kind, row in start] == [0, 1]
    assert [row["value"] for _kind, row in start] == [10.0, 20.0]


def test_every_row_has_exactly_its_table_columns():
    for resource in (PATIENT, OBSERVATION):
        for kind, rows in extract_index_rows(resource).items():
            columns = {c.name for c in tables.INDEX_TABLES[kind].columns} - {"res_pk", "res_type"}
            for row in rows:
                assert set(row) == columns, (kind, row)


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ({"resourceType": "Patient", "birthDate": "1974-13-01"}, "no month 13"),
        ({"resourceType": "Patient", "birthDate": "yesterday"}, "not a FHIR date"),
        ({"resourceType": "Patient", "name": "Smith"}, "R4 shape"),
        ({"resourceType": "Observation", "valueQuantity": {"value": "lots"}}, "not a number"),
        ({"resourceType": "NotAType"}, "not a FHIR R4 resource type"),
        ({"id": "x"}, "not a FHIR R4 resource type"),
    ],
)
def test_malformed_resource_raises_a_clear_value_error(resource, message):
    with pytest.raises(ValueError, match=message):
        extract_index_rows(resource)


def test_all_official_examples_extract_with_an_id_row():
    folder = need_shared(EXAMPLES)
    examples = sorted(folder.glob("*.json"))
    assert len(examples) == 72
    for path in examples:
        resource = json.loads(path.read_text(encoding="utf-8"))
        rows = extract_index_rows(resource)
        ids = [row["code"] for row in rows["token"] if row["param"] == "_id"]
        # parameters-example.json is the one example written without an id.
        assert ids == ([resource["id"]] if "id" in resource else []), path.name


def test_official_parameters_compile_to_the_fast_path_except_three():
    fallbacks = {rt: fast_path_counts(rt)[1] for rt in all_resource_types()}
    assert {rt: n for rt, n in fallbacks.items() if n} == {"Bundle": 2, "Patient": 1}


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        ("2013", "2013-01-01T00:00:00+00:00", "2013-12-31T23:59:59.999+00:00"),
        ("2012-02", "2012-02-01T00:00:00+00:00", "2012-02-29T23:59:59.999+00:00"),
        ("2013-01-01", "2013-01-01T00:00:00+00:00", "2013-01-01T23:59:59.999+00:00"),
        ("2013-01-01T10:00", "2013-01-01T10:00:00+00:00", "2013-01-01T10:00:59.999+00:00"),
        ("2013-01-01T10:00:00-05:00", "2013-01-01T15:00:00+00:00", "2013-01-01T15:00:00.999+00:00"),
        ("2013-01-01T10:00:00.5Z", "2013-01-01T10:00:00.5+00:00", "2013-01-01T10:00:00.599+00:00"),
        ("9999", "9999-01-01T00:00:00+00:00", "9999-12-31T23:59:59.999+00:00"),
    ],
)
def test_date_bounds_cover_the_whole_precision(value, low, high):
    assert date_bounds(value) == pytest.approx((ts(low), ts(high)), abs=1e-6)


@pytest.mark.parametrize("value", ["", "13", "2013-1-1", "2013-02-29", "2013-01-01T24:00:00Z", "2013-01-01T10:00:00+15:00",
                                   "2013-01-01 10:00", "'; drop table x; --"])  # fmt: skip
def test_date_bounds_rejects_bad_dates(value):
    with pytest.raises(ValueError, match="FHIR date|no |not a valid|time zone"):
        date_bounds(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100", (100.0, 99.5, 100.5)),
        ("100.00", (100.0, 99.995, 100.005)),
        ("0.1", (0.1, 0.05, 0.15)),
        ("-3", (-3.0, -3.5, -2.5)),
        ("1e2", (100.0, 50.0, 150.0)),
        ("1.5E-3", (0.0015, 0.00145, 0.00155)),
    ],
)
def test_number_bounds_follow_significant_digits(text, expected):
    assert number_bounds(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "abc", "1.", ".5", "1e", "NaN", "Infinity", "01", "1" * 5000 + "x"])
def test_number_bounds_rejects_non_numbers(text):
    with pytest.raises(ValueError, match="not a decimal"):
        number_bounds(text)


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("  Élodie   DU\tMarché ", "elodie du marche"),
        ("Ｊｏｈｎ", "john"),
        ("Straße", "strasse"),
        ("ガンダム", "ガンダム"),
        ("김철수", "김철수"),
        ("Zoë 王小明", "zoe 王小明"),
    ],
)
def test_normalize_string_folds_case_accents_and_space(raw, folded):
    assert normalize_string(raw) == folded


@pytest.mark.parametrize(
    ("reference", "parsed"),
    [
        ("Patient/1", ("Patient", "1", None)),
        ("Patient/1/_history/2", ("Patient", "1", None)),
        ("https://x.org/fhir/Observation/a-1.b", ("Observation", "a-1.b", "https://x.org/fhir")),
        ("#contained", None),
        ("urn:uuid:8c3e5b52-7e1b-4b1c-9b0b-1a2b3c4d5e6f", None),
        ("Patient/" + "x" * 65, None),
        ("Patient/1/extra", None),
        ("http://h/" + "a/" * 100_000 + "Patient/1", ("Patient", "1", "http://h" + "/a" * 100_000)),
    ],
)
def test_parse_reference(reference, parsed):
    assert parse_reference(reference) == parsed


def test_registry_merges_common_parameters_into_every_type():
    assert all_resource_types()[:2] == ("Account", "ActivityDefinition")
    assert len(all_resource_types()) == 145
    for res_type in all_resource_types():
        assert {"_id", "_lastUpdated", "_tag", "_profile", "_security", "_source"} <= set(
            params_for(res_type)
        )
    assert get_param("Patient", "_id").base == "Resource"
    assert get_param("Patient", "nope") is None
    assert get_param("NoSuchType", "_id") is None


def test_registry_splits_multi_base_expressions_per_type():
    assert get_param("Condition", "code").expression == "Condition.code"
    assert get_param("Observation", "code").expression == "Observation.code"
    assert get_param("Observation", "patient").targets == ("Patient",)


def test_registry_composite_components_name_their_parameters():
    composite = get_param("Observation", "code-value-quantity")
    assert [(c.code, c.type, c.expression) for c in composite.components] == [
        ("code", "token", "code"),
        ("value-quantity", "quantity", "value.as(Quantity)"),
    ]


def test_patient_compartment_params():
    assert patient_compartment_params("Observation") == ("subject", "performer")
    assert patient_compartment_params("Patient") == ("link",)
    assert patient_compartment_params("ValueSet") == ()
