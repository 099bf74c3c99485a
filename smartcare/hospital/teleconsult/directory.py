"""Directory lookups for remote consultations: departments, who works in them and in their hospital, names.
The directory is public (policy.py), so the platform reads it; no patient record is read here."""

from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.platform.security.context import AccessContext

PLATFORM = AccessContext(kind="system", name="teleconsult", roles=frozenset({"system"}))


def search(conn: Connection, res_type: str, query: list[tuple[str, str]]) -> list[dict]:
    """Resources of res_type matching query, read by the platform."""
    bundle = gateway.serve_within(conn, PLATFORM, FhirRequest(method="GET", path=res_type, query=query)).body or {}
    return [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") != "outcome"]


def department(conn: Connection, service_id: str) -> dict[str, Any] | None:
    """The HealthcareService of that id, or None."""
    found = search(conn, "HealthcareService", [("_id", service_id)])
    return found[0] if found else None


def _hospital_of(conn: Connection, service: dict[str, Any]) -> set[str]:
    """The organisation providing the department and the organisation it is part of (the hospital)."""
    provider = (service.get("providedBy") or {}).get("reference", "")
    found = {provider} if provider else set()
    if provider.startswith("Organization/"):
        org = search(conn, "Organization", [("_id", provider.removeprefix("Organization/"))])
        parent = (org[0].get("partOf") or {}).get("reference") if org else None
        if parent:
            found.add(parent)
    return found


def _roles(conn: Connection, query: list[tuple[str, str]]) -> list[dict]:
    return [r for r in search(conn, "PractitionerRole", [*query, ("_count", "200")])
            if r.get("active", True) and (r.get("practitioner") or {}).get("reference")]


def department_practitioners(conn: Connection, service_id: str) -> list[str]:
    """Practitioner references with an active role in the department."""
    return sorted({r["practitioner"]["reference"]
                   for r in _roles(conn, [("service", f"HealthcareService/{service_id}")])})


def hospital_specialists(conn: Connection, service: dict[str, Any]) -> list[str]:
    """Practitioners a multi-disciplinary session may bring in: the department's and its hospital's."""
    found = set(department_practitioners(conn, service["id"]))
    for org in sorted(_hospital_of(conn, service)):
        found |= {r["practitioner"]["reference"] for r in _roles(conn, [("organization", org)])}
    return sorted(found)


def roles_of(conn: Connection, practitioners: list[str]) -> dict[str, str]:
    """One active PractitionerRole reference for each practitioner that has one (the first by id)."""
    if not practitioners:
        return {}
    found: dict[str, str] = {}
    for r in sorted(_roles(conn, [("practitioner", ",".join(practitioners))]), key=lambda r: r["id"]):
        found.setdefault(r["practitioner"]["reference"], f"PractitionerRole/{r['id']}")
    return found


def services_of(conn: Connection, practitioner: str) -> list[str]:
    """The departments (HealthcareService references) a practitioner has an active role in."""
    return sorted({s["reference"] for r in _roles(conn, [("practitioner", practitioner)])
                   for s in r.get("healthcareService", [])})


def person_name(resource: dict[str, Any]) -> str:
    """A person's first name entry as one line."""
    name = next(iter(resource.get("name", [])), {})
    return (name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip())[:200]


def practitioner_names(conn: Connection, references: list[str]) -> dict[str, str]:
    """Display names of practitioners, by reference."""
    ids = sorted({r.removeprefix("Practitioner/") for r in references if r.startswith("Practitioner/")})
    if not ids:
        return {}
    found = search(conn, "Practitioner", [("_id", ",".join(ids)), ("_count", "200")])
    return {f"Practitioner/{p['id']}": person_name(p) or p["id"] for p in found}


def departments(conn: Connection) -> list[dict[str, str]]:
    """Departments a consultation may be asked of, by name."""
    found = search(conn, "HealthcareService", [("_count", "200"), ("_sort", "name")])
    return [{"reference": f"HealthcareService/{s['id']}", "name": s.get("name", s["id"])[:200]}
            for s in found if s.get("active", True)]
