"""The package's dependency rule (ARCHITECTURE.md, "Package layout"), checked over every module's imports.

`patient`, `hospital`, `regional` and `family` may use `fhir`, `platform`, `knowledge` and themselves; `knowledge`
uses nothing of ours; `fhir` uses only `platform`. Imports inside functions count as much as those at the top.
The composition roots (cli.py, schema.py, demo/, platform/web/app.py) wire everything together and are not layers.
"""

import ast
from pathlib import Path

import smartcare

ROOT = Path(smartcare.__file__).parent
DOMAINS = ("patient", "hospital", "regional", "family")
MAY_USE = {
    **{domain: {domain, "fhir", "platform", "knowledge"} for domain in DOMAINS},
    "knowledge": {"knowledge"},
    "fhir": {"fhir", "platform"},
}
# The package's own root (smartcare/__init__.py: its version) belongs to no layer.
ROOT_NAMES = {"__version__"}

# Imports that break the rule today, by importing module and the package it reaches into, with why each is there.
# Each is a debt to pay off by moving the shared part inwards (to knowledge, platform or fhir) or by talking through
# the store and domain events; strike the entry when it is gone (the stale-entry test below insists).
KNOWN_BREACHES = {
    # The demo seeders of these modules log in as the demo region's accounts; the demo is a composition root.
    ("smartcare.hospital.consultation.demo", "smartcare.demo"): "demo seeding uses the demo accounts",
    ("smartcare.hospital.referral.demo", "smartcare.demo"): "demo seeding uses the demo accounts",
    ("smartcare.hospital.teleconsult.demo", "smartcare.demo"): "demo seeding uses the demo accounts",
    # The patient's map draws streets and districts from the demo region's reference data.
    ("smartcare.patient.navigation.geo", "smartcare.demo"): "street names from the demo region's data",
    # Ward bedside monitors are registered and ingested as devices by the family devices module.
    ("smartcare.hospital.wards.monitors", "smartcare.family"): "bedside monitors share the device registry",
    ("smartcare.hospital.wards.monitor_views", "smartcare.family"): "bedside monitors share the device registry",
    # The workstation shows the patient's self-triage session to the doctor.
    ("smartcare.hospital.workstation.triage_views", "smartcare.patient"): "doctor reads the patient's triage",
    # The patient app books, queues, finds doctors and shows lab reports through the hospital's services.
    ("smartcare.patient.booking.views", "smartcare.hospital"): "booking through hospital scheduling and directory",
    ("smartcare.patient.diseases.views", "smartcare.hospital"): "disease pages list hospital departments",
    ("smartcare.patient.navigation.service", "smartcare.hospital"): "navigation ranks by hospital queue waits",
    ("smartcare.patient.navigation.views", "smartcare.hospital"): "navigation shows hospital queue waits",
    ("smartcare.patient.reports.views", "smartcare.hospital"): "report PDFs rendered by the hospital lab",
    ("smartcare.patient.triage.service", "smartcare.hospital"): "triage suggests hospital doctors and slots",
    ("smartcare.patient.triage.views", "smartcare.hospital"): "today in the region from the directory",
    # Members' HL7 v2 feeds are taken by the laboratory's HL7 interface (issue 11: reuse it, do not copy it).
    ("smartcare.regional.exchange.hl7", "smartcare.hospital"): "member HL7 feeds through the lab's HL7 interface",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST) -> set[str]:
    """The smartcare modules (or names of the root package) a module's code imports, anywhere in it."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, "relative imports hide the layer they reach into"
            if node.module == "smartcare":
                found |= {f"smartcare.{alias.name}" for alias in node.names}
            else:
                found.add(node.module)
    return {name for name in found if name.split(".")[0] == "smartcare"}


def breaches() -> set[tuple[str, str]]:
    """(importing module, package imported) for every import across layers that the rule forbids."""
    found = set()
    for path in sorted(ROOT.rglob("*.py")):
        module = _module_name(path)
        layer = module.split(".")[1] if module.count(".") else ""
        if layer not in MAY_USE:
            continue
        for name in _imported(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            target = name.split(".")[1] if name.count(".") else ""
            if target not in MAY_USE[layer] and target not in ROOT_NAMES:
                found.add((module, f"smartcare.{target}"))
    return found


def test_no_layer_imports_what_the_architecture_forbids():
    new = sorted(breaches() - set(KNOWN_BREACHES))
    assert not new, "imports across layers that ARCHITECTURE.md forbids:\n" + "\n".join(
        f"  {module} imports {target}" for module, target in new)


def test_every_listed_breach_still_exists():
    gone = sorted(set(KNOWN_BREACHES) - breaches())
    assert not gone, "no longer true, strike from KNOWN_BREACHES:\n" + "\n".join(
        f"  {module} -> {target}" for module, target in gone)


def test_family_may_not_import_the_hospital(tmp_path, monkeypatch):
    """The check itself sees a family module reaching into the hospital, even from inside a function."""
    package = tmp_path / "smartcare"
    (package / "family" / "medication").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "family" / "__init__.py").write_text("")
    (package / "family" / "medication" / "__init__.py").write_text("")
    (package / "family" / "medication" / "warnings.py").write_text(
        "from smartcare.knowledge.prescribing import audit\n\n\n"
        "def facts():\n    from smartcare.hospital.pharmacy import records\n    return records\n")
    (package / "knowledge.py").write_text("import smartcare.platform.clock\n")
    monkeypatch.setattr(f"{__name__}.ROOT", package)
    assert breaches() == {("smartcare.family.medication.warnings", "smartcare.hospital"),
                          ("smartcare.knowledge", "smartcare.platform")}
