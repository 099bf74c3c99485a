"""The FHIR R4 search parameters per resource type and the Patient compartment, read from data once."""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "search_parameters.json"


@dataclass(frozen=True, slots=True)
class SearchComponent:
    """One part of a composite parameter: the component parameter's code and type, and its path."""

    code: str
    type: str
    expression: str


@dataclass(frozen=True, slots=True)
class SearchParam:
    """A search parameter as it applies to one resource type (base is where it was defined)."""

    code: str
    type: str
    base: str
    expression: str
    targets: tuple[str, ...] = ()
    components: tuple[SearchComponent, ...] = ()


def _param(code: str, base: str, row: dict) -> SearchParam:
    return SearchParam(
        code=code,
        type=row["t"],
        base=base,
        expression=row["e"],
        targets=tuple(row.get("tg", ())),
        components=tuple(SearchComponent(*component) for component in row.get("c", ())),
    )


@cache
def _registry() -> tuple[dict[str, dict[str, SearchParam]], dict[str, tuple[str, ...]]]:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    common = {code: _param(code, "Resource", row) for code, row in data["base"].items()}
    by_type: dict[str, dict[str, SearchParam]] = {}
    for res_type, rows in data["resources"].items():
        params = dict(common)
        params.update((code, _param(code, res_type, row)) for code, row in rows.items())
        by_type[res_type] = params
    compartment = {res_type: tuple(codes) for res_type, codes in data["patientCompartment"].items()}
    return by_type, compartment


def get_param(res_type: str, code: str) -> SearchParam | None:
    """Return the search parameter `code` of `res_type`, or None if the type has no such parameter."""
    return _registry()[0].get(res_type, {}).get(code)


def params_for(res_type: str) -> dict[str, SearchParam]:
    """Return every search parameter of `res_type` (its own and the common ones), keyed by code."""
    return dict(_registry()[0].get(res_type, {}))


def patient_compartment_params(res_type: str) -> tuple[str, ...]:
    """Return the parameter codes that put a `res_type` resource in a Patient's compartment."""
    return _registry()[1].get(res_type, ())


def all_resource_types() -> tuple[str, ...]:
    """Return every R4 resource type, in alphabetical order."""
    return tuple(_registry()[0])
