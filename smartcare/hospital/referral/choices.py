"""What the new-referral form offers: the patients in the clinician's reach, the departments of other institutions,
and the patient's records that may go with the referral. Patient records are read through the gateway as the
clinician (the access policy decides, each read audited); the directory is readable by every signed-in caller."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir.errors import FhirError
from smartcare.hospital.referral import service
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import fhir_text

PATIENTS_SHOWN = 20
MAX_QUERY = 64
# Records offered as attachments, newest first, how many of each (observations are many: the latest few).
ATTACHMENT_KINDS = (("DiagnosticReport", 20), ("ImagingStudy", 20), ("DocumentReference", 20), ("Condition", 20),
                    ("Observation", 10))
_DIRECTORY_PAGE = "1000"
_PART_OF_HOPS = 6


@dataclass(frozen=True)
class Department:
    """A receiving department: its HealthcareService reference, its name, and its institution's name."""

    reference: str
    name: str
    institution: str


def _plain(value: str) -> str | None:
    value = value.strip()
    return value if value and len(value) <= 64 and service._ID_CHARS.issuperset(value) else None


def _patient_row(patient: dict[str, Any]) -> dict[str, str]:
    identifier = next((i.get("value", "") for i in patient.get("identifier", []) if i.get("value")), "")
    return {"id": patient["id"], "name": fhir_text.person_name(patient), "birth_date": patient.get("birthDate", ""),
            "identifier": identifier}


def find_patients(conn: Connection, ctx: AccessContext, query: str) -> list[dict[str, str]]:
    """Patients in ctx's reach whose name or identifier matches query (only those: the search is the policy's)."""
    query = query.strip()[:MAX_QUERY]
    if not query:
        return []
    found: dict[str, dict[str, str]] = {}
    for param in ("name", "identifier"):
        try:
            matches = service._search(conn, ctx, "Patient", [(param, query), ("_count", str(PATIENTS_SHOWN))])
        except FhirError:
            continue  # a query the search cannot take (a stray `|` ...) finds nobody
        for patient in matches:
            found.setdefault(patient["id"], _patient_row(patient))
    return list(found.values())[:PATIENTS_SHOWN]


def patient(conn: Connection, ctx: AccessContext, patient_id: str) -> dict[str, str] | None:
    """The patient as the form shows them, or None when unknown or out of ctx's reach."""
    plain = _plain(patient_id)
    if plain is None:
        return None
    try:
        return _patient_row(service._get(conn, ctx, f"Patient/{plain}"))
    except service.ReferralNotFound:
        return None


def _institution_of(organization: str, organizations: dict[str, dict[str, Any]]) -> str:
    """The top organisation a department's organisation is part of (the hospital or the clinic), as a reference."""
    current = organization
    for _ in range(_PART_OF_HOPS):
        parent = ((organizations.get(current) or {}).get("partOf") or {}).get("reference", "")
        if not parent.startswith("Organization/") or parent == current:
            break
        current = parent
    return current


def _name(resource: dict[str, Any], zh: bool) -> str:
    alias = resource.get("alias") or []
    return alias[0] if zh and alias else resource.get("name", resource.get("id", ""))


def departments(conn: Connection, ctx: AccessContext, *, zh: bool) -> list[Department]:
    """The active departments of every institution other than ctx's own, by institution then name."""
    directory = service.access_ctx_directory()
    organizations = {f"Organization/{o['id']}": o for o in service._search(
        conn, directory, "Organization", [("_count", _DIRECTORY_PAGE)])}
    own = _institution_of(ctx.organization or "", organizations)
    found = []
    for hcs in service._search(conn, directory, "HealthcareService", [("_count", _DIRECTORY_PAGE)]):
        if hcs.get("active") is False:
            continue
        institution = _institution_of((hcs.get("providedBy") or {}).get("reference", ""), organizations)
        if institution == own:
            continue
        kind = (hcs.get("type") or [{}])[0]
        label = (kind.get("text") if zh else fhir_text.concept_text({"coding": kind.get("coding", [])})) or ""
        found.append(Department(f"HealthcareService/{hcs['id']}", label or hcs.get("name", hcs["id"]),
                                _name(organizations.get(institution, {}), zh) or institution))
    return sorted(found, key=lambda d: (d.institution, d.name))


def _record_label(resource: dict[str, Any]) -> str:
    res_type = resource["resourceType"]
    if res_type == "ImagingStudy":
        modalities = ", ".join(m.get("code", "") for m in resource.get("modality", []))
        text = resource.get("description") or modalities
    elif res_type == "DocumentReference":
        text = resource.get("description") or fhir_text.concept_text(resource.get("type"))
    elif res_type == "Observation":
        text = " ".join(p for p in (fhir_text.concept_text(resource.get("code")),
                                    fhir_text.observation_value(resource)) if p)
    else:
        text = fhir_text.concept_text(resource.get("code"))
    when = fhir_text.when(resource) or (resource.get("started") or resource.get("date") or "")[:10]
    return " · ".join(p for p in (text or resource["id"], when) if p)[:200]


def attachable(conn: Connection, ctx: AccessContext, patient_id: str) -> list[dict[str, str]]:
    """The patient's records ctx may send with a referral: reports, imaging studies, documents, diagnoses and the
    latest observations, newest first within each kind."""
    found = []
    for res_type, shown in ATTACHMENT_KINDS:
        try:
            records = service._search(conn, ctx, res_type, [("patient", f"Patient/{patient_id}"),
                                                             ("_sort", "-_lastUpdated"), ("_count", str(shown))])
        except FhirError:
            continue  # a role whose work does not need this kind of record is offered none of it
        found += [{"reference": f"{res_type}/{r['id']}", "kind": res_type, "label": _record_label(r)}
                  for r in records if r.get("status") != "entered-in-error"]
    return found
