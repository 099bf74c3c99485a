"""A resident's longitudinal record across institutions, read as the caller through the FHIR gateway.

A resident is a golden identity of the master patient index: every institution's Patient record linked to it is
read with Patient/$everything as the caller, so the one access policy (and the resident's consent) decides what
appears, and every read leaves its audit entry naming that Patient. A linked record the caller may not see is left
out without a word (not even that it exists). Where the index has no identity for the patient, the record is that
one Patient's.
"""

import re
from typing import Any

from smartcare.fhir import gateway, store
from smartcare.fhir.errors import FhirError, Forbidden, NotFound
from smartcare.fhir.http import FhirRequest
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import AccessDenied, decide
from smartcare.platform.web import fhir_text
from smartcare.regional.mpi import identities
from smartcare.regional.records import reconcile

PATIENT_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
RECORD_TYPES = ("Patient", "Encounter", "Condition", "MedicationRequest", "MedicationStatement", "AllergyIntolerance",
                "Observation", "DiagnosticReport", "ImagingStudy", "Immunization", "CarePlan")
PAGE_SIZE = 1000
MAX_PAGES = 5
# A resident with more linked records than this is a linkage fault, not a person: read the first ones only.
MAX_SOURCES = 20


class RecordError(Exception):
    """A regional record that cannot be shown; status is the page's HTTP status."""

    status = 400


class NoSuchResident(RecordError):
    """Not a patient record id, or no such patient."""

    status = 404


class ResidentOutOfReach(RecordError):
    """The patient exists but the access policy does not let the caller see them."""

    status = 403


def linked_patients(patient_id: str) -> list[str]:
    """The ids of every institution's Patient record of the same resident (the MPI's golden identity), the asked
    one first; just the asked one where the index has no identity for it."""
    reference = f"Patient/{patient_id}"
    with unit_of_work() as conn:
        identity = identities.identity_of(conn, reference)
        sources = identities.sources_of(conn, identity) if identity else []
    others = [s.removeprefix("Patient/") for s in sources if s != reference and s.startswith("Patient/")]
    return [patient_id, *others[: MAX_SOURCES - 1]]


def one_per_resident(patients: list[dict[str, Any]], *, own: str | None = None) -> list[dict[str, Any]]:
    """Patients with each resident once: the records the MPI links to one identity count as one person (own, the
    caller's own Patient id, stands for its resident where it is among them)."""
    with unit_of_work() as conn:
        identity = {p["id"]: identities.identity_of(conn, f"Patient/{p['id']}") or f"Patient/{p['id']}"
                    for p in patients if isinstance(p.get("id"), str)}
    ordered = sorted((p for p in patients if p.get("id") in identity), key=lambda p: p["id"] != own)
    seen: set[str] = set()
    kept = []
    for patient in ordered:
        if identity[patient["id"]] not in seen:
            seen.add(identity[patient["id"]])
            kept.append(patient)
    return kept


def may_read(ctx: AccessContext, res_type: str) -> bool:
    """True when the policy lets ctx read res_type records at all (a pharmacist's work needs no Encounters)."""
    try:
        decide(ctx, "everything", res_type, personal=True)
    except AccessDenied:
        return False
    return True


def _belongs(resource: dict[str, Any], patient_id: str) -> bool:
    """The patient and their own records ($everything also brings what the records refer to)."""
    if resource.get("resourceType") == "Patient":
        return resource.get("id") == patient_id
    owner = resource.get("subject") or resource.get("patient") or {}
    return isinstance(owner, dict) and owner.get("reference") == f"Patient/{patient_id}"


def _everything(ctx: AccessContext, patient_id: str, types: tuple[str, ...]) -> list[dict[str, Any]]:
    """One Patient's records of types that ctx may see; FhirError when refused (audited either way)."""
    found: list[dict[str, Any]] = []
    wanted = ",".join(t for t in types if t == "Patient" or may_read(ctx, t))
    for page in range(MAX_PAGES):
        request = FhirRequest(method="GET", path=f"Patient/{patient_id}/$everything", query=[
            ("_type", wanted), ("_count", str(PAGE_SIZE)), ("_offset", str(page * PAGE_SIZE))])
        bundle = gateway.serve(ctx, request).body or {}
        found += [e["resource"] for e in bundle.get("entry", [])
                  if isinstance(e.get("resource"), dict) and _belongs(e["resource"], patient_id)]
        if not any(link.get("relation") == "next" for link in bundle.get("link", [])):
            break
    return found


def _exists(patient_id: str) -> bool:
    try:
        with unit_of_work() as conn:
            store.read(conn, SYSTEM, res_type="Patient", res_id=patient_id)
    except FhirError:
        return False
    return True


def gather(*, ctx: AccessContext, patient_id: str,
           types: tuple[str, ...] = RECORD_TYPES) -> dict[str, list[dict[str, Any]]]:
    """Every linked Patient's records of types that ctx may see, by type; RecordError when the asked patient is
    refused."""
    if not PATIENT_ID.fullmatch(patient_id):
        raise NoSuchResident("not a patient record id")
    by_type: dict[str, list[dict[str, Any]]] = {t: [] for t in types}
    for n, linked in enumerate(linked_patients(patient_id)):
        try:
            resources = _everything(ctx, linked, types)
        except (NotFound, Forbidden) as exc:
            if n:
                continue  # another institution's record the caller may not see: left out, existence unsaid
            if _exists(patient_id):
                raise ResidentOutOfReach(str(exc)) from exc
            raise NoSuchResident(str(exc)) from exc
        for resource in resources:
            by_type.setdefault(resource["resourceType"], []).append(resource)
    if not any(p.get("id") == patient_id for p in by_type["Patient"]):
        raise NoSuchResident("the patient record is not there")
    return by_type


def organisation_names(ctx: AccessContext, references: set[str]) -> dict[str, str]:
    """Organization/<id> -> the organisation's name (directory records every signed-in caller may read)."""
    ids = sorted(r.removeprefix("Organization/") for r in references if r.startswith("Organization/"))
    if not ids:
        return {}
    found = gateway.search(ctx, "Organization", [("_id", ",".join(ids[:100])), ("_count", "100")])
    return {f"Organization/{o['id']}": str(o.get("name") or o["id"]) for o in found}


def _named(items: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    for item in items:
        item["institutions"] = [{"ref": s, "name": names.get(s, s.removeprefix("Organization/")) if s else ""}
                                for s in item["sources"]]
    return items


def regional_record(*, ctx: AccessContext, patient_id: str, locale: str) -> dict[str, Any]:
    """The resident's regional record as ctx may see it: who they are, the institutions it comes from, and each
    section (encounters, problems, medicines, allergies, results, imaging, vaccinations, care plans) with every
    item's institutions; RecordError when it cannot be shown."""
    by_type = gather(ctx=ctx, patient_id=patient_id)
    zh = locale == "zh-Hans"
    sections = {
        "encounters": reconcile.encounters(by_type["Encounter"], zh=zh),
        "problems": reconcile.problems(by_type["Condition"], zh=zh),
        "medications": reconcile.medications(by_type["MedicationRequest"], by_type["MedicationStatement"], zh=zh),
        "allergies": reconcile.allergies(by_type["AllergyIntolerance"], zh=zh),
        "results": reconcile.results(by_type["Observation"], by_type["DiagnosticReport"], zh=zh,
                                     value_of=fhir_text.observation_value),
        "imaging": reconcile.imaging(by_type["ImagingStudy"], zh=zh),
        "immunisations": reconcile.immunisations(by_type["Immunization"], zh=zh),
        "care_plans": reconcile.care_plans(by_type["CarePlan"], zh=zh),
    }
    patients = by_type["Patient"]
    # The institutions the record comes from: those that sent an item shown, not every one that registered them.
    sources = {s for items in sections.values() for item in items for s in item["sources"] if s}
    registered = {(p.get("managingOrganization") or {}).get("reference", "") or reconcile.source_of(p)
                  for p in patients} - {""}
    names = organisation_names(ctx, sources | registered)
    for items in sections.values():
        _named(items, names)
    asked = next(p for p in patients if p.get("id") == patient_id)
    return {
        "id": patient_id,
        "name": fhir_text.person_name(asked),
        "gender": asked.get("gender", ""),
        "birth_date": asked.get("birthDate", ""),
        "linked": [{"id": p["id"], "institution": names.get(
            (p.get("managingOrganization") or {}).get("reference", "") or reconcile.source_of(p), "")}
            for p in patients],
        "institutions": sorted({names.get(s, s) for s in sources if s.startswith("Organization/")}),
        "hidden": sorted(t for t in RECORD_TYPES if not may_read(ctx, t)),
        "timeline": [{**p, "institution": names.get(p["source"], "")} for p in reconcile.timeline(sections)],
        **sections,
    }
