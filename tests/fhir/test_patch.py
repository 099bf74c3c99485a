"""Tests for RFC 6902 JSON Patch: the shared conformance cases plus hostile and edge-case tables."""

import copy
import json
import os
from pathlib import Path

import pytest

from smartcare.fhir.patch import MAX_DEPTH, MAX_OPERATIONS, PatchError, apply_json_patch

CASES_FILE = Path("/work/shared/fhir-test-cases/r4/patch/json-patch-tests.json")


def _missing_cases_file() -> None:
    reason = f"JSON Patch conformance cases not found at {CASES_FILE} (the shared fhir-test-cases checkout)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _conformance_cases() -> list:
    if not CASES_FILE.is_file():
        return [pytest.param(None, id="cases-file-missing")]
    cases = json.loads(CASES_FILE.read_text(encoding="utf-8"))
    return [
        pytest.param(
            case,
            id=f"{number}-{case.get('comment', '')[:50]}",
            marks=[pytest.mark.skip(reason="marked disabled in the suite")] if case.get("disabled") else [],
        )
        for number, case in enumerate(cases)
    ]


def _nested(levels: int) -> object:
    value: object = "leaf"
    for _ in range(levels):
        value = {"n": value}
    return value


def test_conformance_suite_is_present_and_has_both_kinds_of_case():
    if not CASES_FILE.is_file():
        _missing_cases_file()
    cases = json.loads(CASES_FILE.read_text(encoding="utf-8"))
    assert any("expected" in case for case in cases)
    assert any("error" in case for case in cases)


@pytest.mark.parametrize("case", _conformance_cases())
def test_conformance_case(case):
    if case is None:
        _missing_cases_file()
    original = copy.deepcopy(case["doc"])
    if "error" in case:
        with pytest.raises(PatchError):
            apply_json_patch(case["doc"], case["patch"])
    else:
        assert apply_json_patch(case["doc"], case["patch"]) == case["expected"]
    assert case["doc"] == original


DOC = {
    "resourceType": "Patient",
    "name": [{"family": "Doe", "given": ["Jane"]}],
    "active": True,
    "count": 1,
    "a/b": "slash",
    "m~n": "tilde",
    "~1": "tilde-one",
    "": "empty key",
}

REJECTED = [
    # (id, operations, fragment of the message)
    ("ops-object", {"op": "remove", "path": "/active"}, "JSON array of operations, not object"),
    ("ops-json-text", '[{"op": "remove", "path": "/active"}]', "JSON array of operations, not string"),
    ("ops-null", None, "not null"),
    ("ops-tuple", ({"op": "remove", "path": "/active"},), "not tuple"),
    ("too-many-ops", [{"op": "test", "path": "/count", "value": 1}] * (MAX_OPERATIONS + 1), "at most 1000"),
    ("op-number", [1], "operation 0: must be a JSON object, not number"),
    ("op-array", [{"op": "test", "path": "", "value": DOC}, ["remove", "/a"]], "operation 1: must be a JSON"),
    ("op-missing", [{"path": "/active"}], "operation 0: the 'op' member is missing"),
    ("op-not-string", [{"op": 1, "path": "/active"}], "'op' must be a string"),
    ("op-unknown", [{"op": "delete", "path": "/active"}], 'unknown op "delete"'),
    ("op-case", [{"op": "ADD", "path": "/x", "value": 1}], 'unknown op "ADD"'),
    ("path-missing", [{"op": "remove"}], "operation 0 (remove): the 'path' member is missing"),
    ("path-number", [{"op": "remove", "path": 3}], "'path' must be a string"),
    ("path-null", [{"op": "add", "path": None, "value": 1}], "'path' must be a string"),
    ("from-missing", [{"op": "move", "path": "/x"}], "the 'from' member is missing"),
    ("from-number", [{"op": "copy", "from": 0, "path": "/x"}], "'from' must be a string"),
    ("value-missing-add", [{"op": "add", "path": "/x"}], "the 'value' member is missing"),
    ("value-missing-replace", [{"op": "replace", "path": "/count"}], "the 'value' member is missing"),
    ("value-missing-test", [{"op": "test", "path": "/count"}], "the 'value' member is missing"),
    ("value-not-json", [{"op": "add", "path": "/x", "value": {1, 2}}], "not JSON"),
    ("value-key-not-string", [{"op": "add", "path": "/x", "value": {1: "a"}}], "key that is not a string"),
    ("pointer-no-slash", [{"op": "remove", "path": "active"}], "must be empty or start with '/'"),
    ("pointer-tilde-2", [{"op": "test", "path": "/m~2n", "value": "tilde"}], "'~' not followed by"),
    ("pointer-bare-tilde", [{"op": "test", "path": "/m~", "value": "tilde"}], "'~' not followed by"),
    ("pointer-from-tilde", [{"op": "move", "from": "/~", "path": "/x"}], "'from' has a '~'"),
    ("pointer-too-long", [{"op": "remove", "path": "/" + "a" * 5000}], "longer than 4096"),
    ("index-leading-zero", [{"op": "remove", "path": "/name/00"}], "no leading zeros"),
    ("index-leading-zero-add", [{"op": "add", "path": "/name/0/given/01", "value": "x"}], "no leading zeros"),
    ("index-negative", [{"op": "remove", "path": "/name/-1"}], "not an array index"),
    ("index-plus", [{"op": "remove", "path": "/name/+0"}], "not an array index"),
    ("index-exponent", [{"op": "remove", "path": "/name/0e0"}], "not an array index"),
    ("index-unicode-digit", [{"op": "remove", "path": "/name/\u0660"}], "not an array index"),
    ("index-huge", [{"op": "remove", "path": "/name/99999999999999999999999"}], "out of range"),
    ("index-5000-digits", [{"op": "remove", "path": "/name/" + "9" * 5000}], "longer than 4096"),
    ("index-4000-digits", [{"op": "remove", "path": "/name/" + "9" * 4000}], "out of range"),
    ("index-past-end-remove", [{"op": "remove", "path": "/name/1"}], "out of range for the array"),
    ("index-past-end-add", [{"op": "add", "path": "/name/0/given/2", "value": "x"}], "of length 1"),
    ("dash-remove", [{"op": "remove", "path": "/name/-"}], "may only be added to"),
    ("dash-replace", [{"op": "replace", "path": "/name/-", "value": {}}], "may only be added to"),
    ("dash-test", [{"op": "test", "path": "/name/-", "value": {}}], "may only be added to"),
    ("dash-mid-path", [{"op": "add", "path": "/name/-/family", "value": "X"}], "may only be added to"),
    ("dash-copy-from", [{"op": "copy", "from": "/name/-", "path": "/x"}], "may only be added to"),
    ("missing-parent", [{"op": "add", "path": "/contact/0/name", "value": {}}], '"/contact" does not exist'),
    ("missing-target-remove", [{"op": "remove", "path": "/gender"}], '"/gender" does not exist'),
    ("missing-target-replace", [{"op": "replace", "path": "/gender", "value": "x"}], "does not exist"),
    ("into-scalar", [{"op": "add", "path": "/active/x", "value": 1}], '"/active" is a boolean, not an'),
    ("into-string", [{"op": "test", "path": "/resourceType/0", "value": "P"}], "is a string"),
    (
        "move-into-child",
        [{"op": "move", "from": "/name", "path": "/name/0/x"}],
        "into one of its own children",
    ),
    ("move-root", [{"op": "move", "from": "", "path": "/x"}], "into one of its own children"),
    ("move-missing", [{"op": "move", "from": "/gender", "path": "/x"}], '"/gender" does not exist'),
    ("remove-root", [{"op": "remove", "path": ""}], "whole document cannot be removed"),
    ("replace-root-array", [{"op": "replace", "path": "", "value": []}], "must stay a JSON object"),
    ("move-scalar-to-root", [{"op": "move", "from": "/count", "path": ""}], "must stay a JSON object"),
    ("test-true-vs-1", [{"op": "test", "path": "/active", "value": 1}], "test failed"),
    ("test-1-vs-true", [{"op": "test", "path": "/count", "value": True}], "test failed"),
    ("test-1-vs-1.5", [{"op": "test", "path": "/count", "value": 1.5}], "test failed"),
    ("test-number-vs-string", [{"op": "test", "path": "/count", "value": "1"}], "test failed"),
    (
        "test-null-vs-false",
        [{"op": "add", "path": "/x", "value": None}, {"op": "test", "path": "/x", "value": False}],
        'operation 1 (test at "/x"): test failed',
    ),
    (
        "test-nested-bool",
        [{"op": "add", "path": "/x", "value": [[True]]}, {"op": "test", "path": "/x", "value": [[1]]}],
        "test failed",
    ),
    (
        "test-extra-key",
        [{"op": "test", "path": "/name/0", "value": {"family": "Doe", "given": ["Jane"], "x": None}}],
        "test failed",
    ),
    ("test-order", [{"op": "test", "path": "/name/0/given", "value": ["Jane", "Jane"]}], "test failed"),
    ("test-unescaped-key", [{"op": "test", "path": "/a/b", "value": "slash"}], '"/a" does not exist'),
    ("depth-add", [{"op": "add", "path": "/x", "value": _nested(MAX_DEPTH)}], "deeper than 100 levels"),
    ("depth-add-hostile", [{"op": "add", "path": "/x", "value": _nested(100_000)}], "deeper than 100 levels"),
    (
        "depth-replace-root",
        [{"op": "replace", "path": "", "value": _nested(MAX_DEPTH + 1)}],
        "deeper than 100",
    ),
    (
        "depth-copy",
        [
            {"op": "add", "path": "/x", "value": _nested(60)},
            {"op": "copy", "from": "/x", "path": "/x" + "/n" * 50},
        ],
        "deeper than 100 levels",
    ),
    (
        "depth-move",
        [
            {"op": "add", "path": "/x", "value": _nested(60)},
            {"op": "add", "path": "/y", "value": _nested(60)},
            {"op": "move", "from": "/x", "path": "/y" + "/n" * 50},
        ],
        "deeper than 100",
    ),
]


@pytest.mark.parametrize(
    ("operations", "fragment"), [pytest.param(*case[1:], id=case[0]) for case in REJECTED]
)
def test_bad_patch_is_refused_with_a_message_naming_the_problem(operations, fragment):
    original = copy.deepcopy(DOC)
    with pytest.raises(PatchError) as raised:
        apply_json_patch(DOC, operations)
    assert fragment in str(raised.value)
    assert DOC == original


ACCEPTED = [
    # (id, operations, members of DOC set by the patch, members of DOC removed by the patch)
    ("escape-slash", [{"op": "test", "path": "/a~1b", "value": "slash"}], {}),
    ("escape-tilde", [{"op": "test", "path": "/m~0n", "value": "tilde"}], {}),
    ("escape-order", [{"op": "replace", "path": "/~01", "value": 2}], {"~1": 2}),
    ("empty-key", [{"op": "replace", "path": "/", "value": "was empty"}], {"": "was empty"}),
    ("test-int-equals-float", [{"op": "test", "path": "/count", "value": 1.0}], {}),
    ("test-true-is-true", [{"op": "test", "path": "/active", "value": True}], {}),
    (
        "test-nested-numbers",
        [
            {"op": "add", "path": "/x", "value": {"a": [1, 2.5]}},
            {"op": "test", "path": "/x", "value": {"a": [1.0, 2.5]}},
        ],
        {"x": {"a": [1, 2.5]}},
    ),
    ("test-root", [{"op": "test", "path": "", "value": DOC}], {}),
    ("add-null", [{"op": "add", "path": "/x", "value": None}], {"x": None}),
    (
        "add-dash-appends",
        [{"op": "add", "path": "/name/0/given/-", "value": "Ann"}],
        {"name": [{"family": "Doe", "given": ["Jane", "Ann"]}]},
    ),
    (
        "add-at-length",
        [{"op": "add", "path": "/name/0/given/1", "value": "Ann"}],
        {"name": [{"family": "Doe", "given": ["Jane", "Ann"]}]},
    ),
    ("add-replaces-member", [{"op": "add", "path": "/count", "value": 2}], {"count": 2}),
    ("move-same-path", [{"op": "move", "from": "/count", "path": "/count"}], {}),
    (
        "move-to-dash",
        [{"op": "add", "path": "/x", "value": []}, {"op": "move", "from": "/count", "path": "/x/-"}],
        {"x": [1]},
        ("count",),
    ),
    (
        "copy-then-change-copy",
        [
            {"op": "copy", "from": "/name", "path": "/alias"},
            {"op": "replace", "path": "/alias/0/family", "value": "Roe"},
        ],
        {"alias": [{"family": "Roe", "given": ["Jane"]}]},
    ),
    (
        "copy-then-change-original",
        [
            {"op": "copy", "from": "/name/0", "path": "/first"},
            {"op": "add", "path": "/name/0/given/0", "value": "Mary"},
        ],
        {
            "first": {"family": "Doe", "given": ["Jane"]},
            "name": [{"family": "Doe", "given": ["Mary", "Jane"]}],
        },
    ),
    (
        "depth-at-limit",
        [{"op": "add", "path": "/x", "value": _nested(MAX_DEPTH - 1)}],
        {"x": _nested(MAX_DEPTH - 1)},
    ),
    ("max-ops", [{"op": "test", "path": "/count", "value": 1}] * MAX_OPERATIONS, {}),
    ("empty-patch", [], {}),
    (
        "extra-members-ignored",
        [{"op": "remove", "path": "/count", "value": {1, 2}, "from": 3}],
        {},
        ("count",),
    ),
]


@pytest.mark.parametrize(
    ("operations", "changes", "removed"), [pytest.param(*(*case, ())[1:4], id=case[0]) for case in ACCEPTED]
)
def test_valid_patch_gives_the_expected_document(operations, changes, removed):
    original = copy.deepcopy(DOC)
    expected = {key: value for key, value in {**original, **changes}.items() if key not in removed}
    result = apply_json_patch(DOC, operations)
    assert result == expected
    assert result is not DOC
    assert DOC == original


def test_patching_never_mutates_the_input_document_or_the_patch():
    document = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "component": [{"valueQuantity": {"value": 60}}, {"valueQuantity": {"value": 61}}],
        "note": [{"text": "resting"}],
    }
    operations = [
        {"op": "add", "path": "/code/coding/-", "value": {"system": "urn:local", "code": "hr"}},
        {"op": "replace", "path": "/component/0/valueQuantity/value", "value": 72},
        {"op": "move", "from": "/component/1", "path": "/component/0"},
        {"op": "copy", "from": "/note/0", "path": "/note/-"},
        {"op": "replace", "path": "/note/1/text", "value": "after exercise"},
        {"op": "remove", "path": "/code/coding/0"},
        {"op": "add", "path": "/code/coding/0/display", "value": "Heart rate"},
    ]
    document_before, operations_before = copy.deepcopy(document), copy.deepcopy(operations)

    result = apply_json_patch(document, operations)

    assert document == document_before
    assert operations == operations_before
    assert result == {
        "resourceType": "Observation",
        "code": {"coding": [{"system": "urn:local", "code": "hr", "display": "Heart rate"}]},
        "component": [{"valueQuantity": {"value": 61}}, {"valueQuantity": {"value": 72}}],
        "note": [{"text": "resting"}, {"text": "after exercise"}],
    }
    result["code"]["coding"][0]["code"] = "changed"
    assert operations == operations_before


def test_failing_operation_after_changes_leaves_the_input_untouched():
    document = {"name": [{"given": ["Jane"]}], "active": True}
    before = copy.deepcopy(document)
    operations = [
        {"op": "add", "path": "/name/0/given/-", "value": "Ann"},
        {"op": "remove", "path": "/active"},
        {"op": "test", "path": "/name/0/given/1", "value": "Bob"},
    ]
    with pytest.raises(PatchError, match=r'operation 2 \(test at "/name/0/given/1"\)'):
        apply_json_patch(document, operations)
    assert document == before


def test_patch_error_is_a_value_error():
    with pytest.raises(ValueError):
        apply_json_patch({}, "not a patch")


def test_document_must_be_an_object():
    with pytest.raises(PatchError, match="must be a JSON object, not array"):
        apply_json_patch([], [])  # type: ignore[arg-type]
