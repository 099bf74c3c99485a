"""The payload schema: the JSON Schema document device makers read and the model that checks frames agree, and
the reading types' data is complete and consistent."""

import re
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from smartcare.family.devices import payload
from smartcare.family.devices.registry import device_kinds
from tests.family.devices.conftest import EXAMPLE

# The keywords the document may use; a keyword outside these would be silently ignored below, so it fails instead.
_ANNOTATIONS = {"$schema", "$id", "title", "description", "examples", "format"}
_TYPES = {"object": dict, "array": list, "string": str}


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def conforms(value: Any, schema: dict[str, Any]) -> bool:
    """JSON Schema (the 2020-12 keywords payload-schema.json uses) validation of value."""
    unknown = set(schema) - _ANNOTATIONS - {"type", "properties", "required", "additionalProperties", "const",
                                            "enum", "minimum", "maximum", "minItems", "maxItems", "items",
                                            "oneOf", "minLength", "maxLength", "pattern"}
    assert not unknown, f"the test validator does not know {unknown}"
    checks = [
        "type" not in schema or _is_type(value, schema["type"]),
        "const" not in schema or (value == schema["const"] and type(value) is type(schema["const"])),
        "enum" not in schema or value in schema["enum"],
    ]
    if _is_type(value, "number"):
        checks += ["minimum" not in schema or value >= schema["minimum"],
                   "maximum" not in schema or value <= schema["maximum"]]
    if isinstance(value, str):
        checks += ["minLength" not in schema or len(value) >= schema["minLength"],
                   "maxLength" not in schema or len(value) <= schema["maxLength"],
                   "pattern" not in schema or re.search(schema["pattern"], value) is not None]
    if isinstance(value, list):
        checks += ["minItems" not in schema or len(value) >= schema["minItems"],
                   "maxItems" not in schema or len(value) <= schema["maxItems"],
                   "items" not in schema or all(conforms(v, schema["items"]) for v in value)]
    if isinstance(value, dict):
        props = schema.get("properties", {})
        checks += [all(k in value for k in schema.get("required", [])),
                   schema.get("additionalProperties", True) or set(value) <= set(props),
                   all(conforms(v, props[k]) for k, v in value.items() if k in props)]
    if "oneOf" in schema:
        checks.append(sum(conforms(value, s) for s in schema["oneOf"]) == 1)
    return all(checks)


def _model_accepts(frame: Any) -> bool:
    try:
        payload.Frame.model_validate(frame)
    except ValidationError:
        return False
    return True


T = "2026-11-26T08:00:00+08:00"
GOOD = [
    EXAMPLE,
    {"seq": 0, "time": "2026-11-26T00:00:00Z", "readings": [{"type": "fall"}]},
    {"seq": 9007199254740991, "time": "2026-11-26T08:00:00.250-05:00", "patient": "Patient/p-1",
     "readings": [{"type": "glucose", "value": 110, "unit": "mg/dL"}, {"type": "steps", "value": 12},
                  {"type": "pillbox-open", "compartment": "mon-am"}, {"type": "motion", "value": 3},
                  {"type": "body-temperature", "value": 99.1, "unit": "[degF]"},
                  {"type": "body-weight", "value": 150, "unit": "[lb_av]"}, {"type": "spo2", "value": 98, "unit": "%"},
                  {"type": "blood-pressure", "systolic": 16, "diastolic": 10.5, "unit": "kPa"},
                  {"type": "fall", "value": True}, {"type": "steps", "value": 1, "unit": "{steps}"}]},
]
BAD = [
    {"time": T, "readings": [{"type": "fall"}]},
    {"seq": -1, "time": T, "readings": [{"type": "fall"}]},
    {"seq": 2**53, "time": T, "readings": [{"type": "fall"}]},
    {"seq": "1", "time": T, "readings": [{"type": "fall"}]},
    {"seq": 1.5, "time": T, "readings": [{"type": "fall"}]},
    {"seq": True, "time": T, "readings": [{"type": "fall"}]},
    {"seq": 1, "time": "2026-11-26T08:00:00", "readings": [{"type": "fall"}]},
    {"seq": 1, "time": "26/11/2026 08:00", "readings": [{"type": "fall"}]},
    {"seq": 1, "time": T, "readings": []},
    {"seq": 1, "time": T, "readings": [{"type": "fall"}] * 101},
    {"seq": 1, "time": T, "readings": [{"type": "fall"}], "battery": 80},
    {"seq": 1, "time": T, "readings": [{"type": "fall"}], "patient": "Practitioner/x"},
    {"seq": 1, "time": T, "readings": [{"type": "ecg", "value": 1}]},
    {"seq": 1, "time": T, "readings": [{"type": "heart-rate", "value": 72}]},
    {"seq": 1, "time": T, "readings": [{"type": "heart-rate", "value": 72, "unit": "Hz"}]},
    {"seq": 1, "time": T, "readings": [{"type": "heart-rate", "value": "72", "unit": "/min"}]},
    {"seq": 1, "time": T, "readings": [{"type": "heart-rate", "value": True, "unit": "/min"}]},
    {"seq": 1, "time": T, "readings": [{"type": "blood-pressure", "systolic": 120, "unit": "mm[Hg]"}]},
    {"seq": 1, "time": T, "readings": [{"type": "blood-pressure", "systolic": 120, "diastolic": 80,
                                        "unit": "mm[Hg]", "pulse": 60}]},
    {"seq": 1, "time": T, "readings": [{"type": "steps", "value": -1}]},
    {"seq": 1, "time": T, "readings": [{"type": "steps", "value": 10.5}]},
    {"seq": 1, "time": T, "readings": [{"type": "fall", "value": False}]},
    {"seq": 1, "time": T, "readings": [{"type": "pillbox-open", "compartment": "<script>"}]},
    {"seq": 1, "time": T, "readings": [{"type": "pillbox-open", "compartment": "x" * 41}]},
    {"seq": 1, "time": T, "readings": ["fall"]},
    [EXAMPLE],
]


@pytest.mark.parametrize("frame", GOOD)
def test_the_document_and_the_model_accept_the_same_good_frames(frame):
    assert conforms(frame, payload.schema_document())
    assert _model_accepts(frame)


@pytest.mark.parametrize("frame", BAD)
def test_the_document_and_the_model_refuse_the_same_bad_frames(frame):
    assert not conforms(frame, payload.schema_document())
    assert not _model_accepts(frame)


def test_the_documents_example_is_the_issues_frame_and_is_accepted():
    document = payload.schema_document()
    assert document["examples"][0]["readings"] == EXAMPLE["readings"]
    assert all(conforms(example, document) for example in document["examples"])


def test_the_document_lists_every_reading_type_with_the_units_the_data_accepts():
    items = payload.schema_document()["properties"]["readings"]["items"]["oneOf"]
    by_type = {item["properties"]["type"]["const"]: item for item in items}
    types = payload.reading_types()["types"]
    assert set(by_type) == set(types)
    for kind, spec in types.items():
        if "units" in spec:
            assert by_type[kind]["properties"]["unit"]["enum"] == list(spec["units"]), kind


def test_every_reading_type_has_a_code_a_source_and_sane_limits():
    data = payload.reading_types()
    assert data["source"] and data["payload"]["source"] and data["clock"]["source"]
    for kind, spec in data["types"].items():
        assert spec["source"].strip(), kind
        assert spec["code"]["system"] in data["systems"] and spec["code"]["code"], kind
        assert spec["category"] in ("vital-signs", "activity"), kind
        for limit in spec.get("limits", {}).values():
            if isinstance(limit, dict):
                assert limit["low"] < limit["high"], kind
        if "units" in spec:
            assert spec["unit"] in spec["units"] and spec["units"][spec["unit"]] == {"factor": 1}, kind
    assert data["payload"]["max_readings"] == payload.schema_document()["properties"]["readings"]["maxItems"]


def test_the_conversions_give_the_stored_unit():
    from smartcare.family.devices.readings import to_stored_unit

    assert to_stored_unit("glucose", 180.16, "mg/dL") == 10.0
    assert to_stored_unit("body-temperature", 212, "[degF]") == 100.0
    assert to_stored_unit("body-weight", 100, "[lb_av]") == 45.36
    assert to_stored_unit("blood-pressure", 16, "kPa") == 120


def test_every_device_kind_of_the_contract_is_registered_with_readings_that_exist():
    kinds = device_kinds()["kinds"]
    assert set(kinds) == {"bp-monitor", "glucometer", "pulse-oximeter", "scale", "thermometer", "ecg-patch",
                          "fall-detector", "motion-sensor", "pillbox", "bedside-monitor"}
    assert device_kinds()["source"]
    for spec in kinds.values():
        assert set(spec["readings"]) <= set(payload.reading_types()["types"])


def test_hostile_payloads_get_reasons_not_exceptions():
    for raw in (b"\xff\xfe", b"null", b"1e999", orjson.dumps({"seq": 1, "time": "9999-99-99T99:99:99Z",
                                                               "readings": [{"type": "fall"}]})):
        with pytest.raises(payload.FrameInvalid) as refused:
            payload.parse_frame(raw)
        assert refused.value.reasons
