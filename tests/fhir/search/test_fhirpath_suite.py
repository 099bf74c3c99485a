"""The official FHIRPath R4 test suite, run on the compiled fast path wherever its subset applies."""

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import fhirpathpy
import pytest
from fhirpathpy.models import models

from smartcare.fhir.search.fhirpath import CompiledPath, FhirPathError, compile_path
from smartcare.fhir.search.registry import params_for
from tests.support import SHARED, need_shared

SUITE = "fhir-test-cases/r4/fhirpath/tests-fhir-r4.xml"
EXAMPLES = "fhir-test-cases/r4/examples"
# Strict FHIRPath fails `as` on several items; search parameters (useContext.value as Quantity)
# need it to filter each item, which is what the fast path does (see fhirpath.py).
PER_ITEM_AS = {"testFHIRPathAsFunction21"}
# Parameter types with one expression to compare (composite and special are not).
_PLAIN_TYPES = {"string", "token", "date", "number", "quantity", "reference", "uri"}


@dataclass(frozen=True)
class SuiteCase:
    name: str
    expression: str
    resource: dict
    invalid: str | None
    predicate: bool
    outputs: tuple[tuple[str, str], ...]
    compiled: CompiledPath | None
    error: str | None


def _json_twin(inputfile: str) -> Path | None:
    twin = SHARED / EXAMPLES / (inputfile.rsplit(".", 1)[0] + ".json")
    return twin if twin.exists() else None


def _fast_path_cases() -> list[SuiteCase]:
    """Every suite test whose input has a JSON twin and whose expression the fast path compiles."""
    suite = SHARED / SUITE
    if not suite.exists():
        return []
    cases = []
    for test in ET.parse(suite).iter("test"):
        twin = _json_twin(test.get("inputfile") or "")
        if twin is None:
            continue
        resource = json.loads(twin.read_text(encoding="utf-8"))
        expression = test.find("expression")
        compiled, error = None, None
        try:
            compiled = compile_path(expression.text or "", resource["resourceType"])
        except FhirPathError as exc:
            error = str(exc)
        if compiled is None and error is None:
            continue
        cases.append(
            SuiteCase(
                name=test.get("name", ""),
                expression=expression.text or "",
                resource=resource,
                invalid=expression.get("invalid"),
                predicate=test.get("predicate") == "true",
                outputs=tuple((out.get("type") or "", out.text or "") for out in test.findall("output")),
                compiled=compiled,
                error=error,
            )
        )
    return cases


CASES = _fast_path_cases()


def _as_suite_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _expected_text(kind: str, text: str) -> str:
    # Date and time outputs are written as FHIRPath literals (@1974-12-25).
    return text[1:] if kind in ("date", "dateTime", "time") and text.startswith("@") else text


def test_suite_and_examples_are_present():
    need_shared(SUITE)
    need_shared(EXAMPLES)


def test_fast_path_covers_a_meaningful_part_of_the_suite():
    need_shared(SUITE)
    # Paths, choice types, as/ofType and their semantic errors: 26 tests when this was written.
    assert len(CASES) >= 25, [case.name for case in CASES]


@pytest.mark.parametrize("case", [c for c in CASES if c.name not in PER_ITEM_AS], ids=lambda c: c.name)
def test_fast_path_gives_the_suite_result(case: SuiteCase):
    if case.invalid:
        assert case.error is not None, f"{case.expression!r} should be rejected ({case.invalid})"
        return
    assert case.error is None, case.error
    result = case.compiled.evaluate(case.resource)
    if case.predicate:
        assert [("boolean", "true" if result else "false")] == list(case.outputs)
        return
    assert [_as_suite_text(value) for value in result] == [_expected_text(*out) for out in case.outputs]


def test_as_filters_each_item_where_strict_fhirpath_raises():
    need_shared(SUITE)
    case = next(c for c in CASES if c.name in PER_ITEM_AS)
    assert case.invalid == "execution"
    assert case.compiled.evaluate(case.resource) == ["official", "usual", "maiden"]


def test_fast_path_agrees_with_fhirpathpy_on_official_parameters_over_the_examples():
    folder = need_shared(EXAMPLES)
    compared = 0
    for path in sorted(folder.glob("*.json")):
        resource = json.loads(path.read_text(encoding="utf-8"))
        res_type = resource["resourceType"]
        for param in params_for(res_type).values():
            compiled = compile_path(param.expression, res_type) if param.type in _PLAIN_TYPES else None
            # fhirpathpy has no resolve(), and does not treat a Patient as a Resource in `Resource.id`.
            if (
                compiled is None
                or "resolve()" in param.expression
                or param.expression.startswith("Resource.")
            ):
                continue
            try:
                expected = fhirpathpy.evaluate(resource, param.expression, {}, models["r4"])
            except ValueError as exc:
                # Strict `as` on several items, where the fast path filters each (see PER_ITEM_AS).
                assert "singleton" in str(exc), (path.name, param.code, exc)
                continue
            expected = [float(value) if isinstance(value, Decimal) else value for value in expected]
            assert compiled.evaluate(resource) == expected, (path.name, param.code, param.expression)
            compared += 1
    assert compared > 800
