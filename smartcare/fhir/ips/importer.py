"""Import an IPS document, or a collection/searchset/transaction Bundle, into one patient's record.

All or nothing: the Bundle is checked whole (shape, the IPS rules for documents, R4 validation of every
resource, whose record it is, which types it holds) before anything is written, and the records are then
written in one batch inside the caller's transaction, so a refusal at any point leaves the store as it was.
"""

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import BadRequest, Conflict, UnprocessableEntity
from smartcare.fhir.ips import identity
from smartcare.fhir.ips.check import check_document
from smartcare.fhir.ips.narrative import describe
from smartcare.fhir.ips.references import Resolver, rewrite_references, type_and_id, walk_references
from smartcare.fhir.search.execute import run_search
from smartcare.fhir.search.extract import extract_index_rows
from smartcare.fhir.search.query import QueryCompiler
from smartcare.fhir.search.registry import patient_compartment_params
from smartcare.fhir.validation import validate_resource
from smartcare.platform.audit import record
from smartcare.platform.security.context import AccessContext

MAX_ENTRIES = 2000
BUNDLE_TYPES = frozenset({"document", "collection", "searchset", "transaction"})
# Clinical records a patient keeps in their own file. A MedicationRequest is written as a MedicationStatement:
# an order from elsewhere must not become an order here that a pharmacy could dispense.
IMPORTED_TYPES = frozenset({"Condition", "AllergyIntolerance", "MedicationStatement", "MedicationRequest",
                            "Immunization", "Observation", "Procedure", "DiagnosticReport", "DeviceUseStatement",
                            "CarePlan"})
# Types a summary carries for context: not written, folded into the display text of references to them.
CONTEXT_TYPES = frozenset({"Composition", "Patient", "Organization", "Practitioner", "PractitionerRole",
                           "Medication", "Device", "Location", "Substance", "OperationOutcome"})
ORIGIN_SYSTEM = "https://smartcare.example/fhir/CodeSystem/record-origin"
BUNDLE_TAG_SYSTEM = "https://smartcare.example/fhir/sid/imported-bundle"
SOURCE_TAG_SYSTEM = "https://smartcare.example/fhir/sid/import-source"
# meta.source is a uri: the characters of RFC 3986, no spaces or markup.
_SOURCE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]{1,240}$")


@dataclass(slots=True)
class _Plan:
    """The checked Bundle: its entries, how references resolve, and who the patient entry is."""

    entries: list[dict[str, Any]]
    resolver: Resolver
    patient_entry: int | None
    issues: list[dict[str, Any]] = field(default_factory=list)


def _issue(code: str, expression: str, text: str) -> dict[str, Any]:
    return {"severity": "error", "code": code, "diagnostics": f"{expression}: {text}", "expression": [expression]}


def _refuse(message: str, issues: list[dict[str, Any]]) -> UnprocessableEntity:
    return UnprocessableEntity(message, issues=issues[:100])


def check_source(source: str) -> str:
    """source if it is a URI of at most 255 characters (it becomes meta.source); BadRequest otherwise."""
    if not isinstance(source, str) or not _SOURCE.match(source):
        raise BadRequest("source must be a URI (such as https://hospital.example/fhir or urn:oid:1.2.3), "
                         "at most 255 characters, without spaces or markup")
    return source


def _entries(bundle: Any) -> list[dict[str, Any]]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadRequest("The body must be a FHIR Bundle (document, collection, searchset or transaction)")
    if bundle.get("type") not in BUNDLE_TYPES:
        raise BadRequest(f"A Bundle of type {str(bundle.get('type'))[:40]!r} cannot be imported; "
                         "send a document, collection, searchset or transaction Bundle")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise BadRequest("The Bundle holds no entries")
    if len(entries) > MAX_ENTRIES:
        raise BadRequest(f"A Bundle to import may hold at most {MAX_ENTRIES} entries, not {len(entries)}")
    bad = [i for i, e in enumerate(entries) if not isinstance(e, dict) or not isinstance(e.get("resource"), dict)]
    if bad:
        raise BadRequest(f"Bundle.entry[{bad[0]}] holds no resource")
    return entries


def _checked(bundle: dict[str, Any]) -> _Plan:
    """The Bundle's entries after the document rules, R4 validation and the type rules; refused if any fails."""
    entries = _entries(bundle)
    issues = check_document(bundle) if bundle.get("type") == "document" else []
    for i, entry in enumerate(entries):
        resource = entry["resource"]
        kind = resource.get("resourceType")
        if kind not in IMPORTED_TYPES and kind not in CONTEXT_TYPES:
            issues.append(_issue("forbidden", f"Bundle.entry[{i}]", f"{str(kind)[:60]} records cannot be imported into a patient's file"))
        issues += [_issue(p.code, f"Bundle.entry[{i}].resource.{p.expression}".rstrip("."), p.diagnostics)
                   for p in validate_resource(resource) if p.severity == "error"]
        if len(issues) >= 100:
            break
    if issues:
        raise _refuse("The Bundle cannot be imported: " + issues[0]["diagnostics"][:300], issues)
    patients = [i for i, e in enumerate(entries) if e["resource"].get("resourceType") == "Patient"]
    if len(patients) > 1:
        raise _refuse("The Bundle holds more than one person", [
            _issue("business-rule", f"Bundle.entry[{i}]", "a Bundle to import is about one person") for i in patients])
    return _Plan(entries, Resolver(entries), patients[0] if patients else None)


def _confirm_person(plan: _Plan, local: dict[str, Any]) -> None:
    """Refuse a Bundle about someone else: its Patient must match, and every patient reference must be them."""
    local_id = str(local.get("id"))
    if plan.patient_entry is not None:
        reason = identity.mismatch(local, plan.entries[plan.patient_entry]["resource"])
        if reason:
            message = f"the Bundle is about another person than Patient/{local_id}: {reason}"
            raise _refuse(message, [_issue("business-rule", f"Bundle.entry[{plan.patient_entry}]", message)])
    for i, entry in enumerate(plan.entries):
        for path, ref in walk_references(entry["resource"]):
            target = plan.resolver.resolve(ref["reference"], entry.get("fullUrl"))
            key = type_and_id(ref["reference"])
            other = (target is None and key is not None and key[0] == "Patient" and key[1] != local_id) or (
                target is not None and target != plan.patient_entry
                and plan.entries[target]["resource"].get("resourceType") == "Patient")
            if other:
                message = f"refers to {ref['reference'][:100]}, another person than Patient/{local_id}"
                raise _refuse("The Bundle names another person than the patient it is imported for", [
                    _issue("business-rule", f"Bundle.entry[{i}].resource.{path}", message)])


def bundle_key(bundle: dict[str, Any]) -> str:
    """What identifies the imported Bundle in the records' tags: its identifier value, else a digest of it."""
    ident = bundle.get("identifier")
    if isinstance(ident, dict) and isinstance(ident.get("value"), str) and 0 < len(ident["value"]) <= 200:
        return ident["value"]
    return "sha256:" + hashlib.sha256(orjson.dumps(bundle, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _as_statement(request: dict[str, Any]) -> dict[str, Any]:
    """A MedicationRequest from elsewhere as what it is here: a statement that the patient takes the medicine."""
    status = {"active": "active", "on-hold": "on-hold", "completed": "completed", "cancelled": "stopped",
              "stopped": "stopped", "entered-in-error": "entered-in-error", "draft": "intended"}
    statement: dict[str, Any] = {"resourceType": "MedicationStatement",
                                 "status": status.get(str(request.get("status")), "unknown")}
    for key in ("medicationCodeableConcept", "medicationReference", "subject", "reasonCode", "note"):
        if key in request:
            statement[key] = request[key]
    if "authoredOn" in request:
        statement["dateAsserted"] = request["authoredOn"]
    if request.get("dosageInstruction"):
        statement["dosage"] = request["dosageInstruction"]
    return statement


def _medication_inline(resource: dict[str, Any], plan: _Plan, url: Any) -> dict[str, Any]:
    """medicationReference to a Medication of the Bundle becomes medicationCodeableConcept (it is not written)."""
    ref = resource.get("medicationReference")
    if not isinstance(ref, dict) or not isinstance(ref.get("reference"), str):
        return resource
    target = plan.resolver.resolve(ref["reference"], url)
    medication = plan.entries[target]["resource"] if target is not None else None
    if medication is None or medication.get("resourceType") != "Medication" or not medication.get("code"):
        return resource
    out = {k: v for k, v in resource.items() if k != "medicationReference"}
    out["medicationCodeableConcept"] = medication["code"]
    return out


def _marked(resource: dict[str, Any], source: str, key: str) -> dict[str, Any]:
    tags = [{"system": ORIGIN_SYSTEM, "code": "imported", "display": "Imported from another record"},
            {"system": BUNDLE_TAG_SYSTEM, "code": key},
            {"system": SOURCE_TAG_SYSTEM, "code": source}]
    profile = (resource.get("meta") or {}).get("profile")
    meta: dict[str, Any] = {"source": source, "tag": tags}
    if profile:
        meta["profile"] = profile
    return {**{k: v for k, v in resource.items() if k not in ("id", "meta")}, "meta": meta}


def _compartment_patients(resource: dict[str, Any]) -> set[str]:
    params = set(patient_compartment_params(str(resource.get("resourceType"))))
    return {row["target_id"] for row in extract_index_rows(resource).get("reference", [])
            if row["param"] in params and row["target_type"] == "Patient" and row["target_id"]}


def _writes(plan: _Plan, local_id: str, source: str, key: str) -> list[store.Write]:
    """The records to write, linked to the patient and to each other by their new ids, marked as imported."""
    new_ids = {i: store.new_id() for i, e in enumerate(plan.entries) if e["resource"].get("resourceType") in IMPORTED_TYPES}
    kinds = {i: ("MedicationStatement" if plan.entries[i]["resource"]["resourceType"] == "MedicationRequest"
                 else plan.entries[i]["resource"]["resourceType"]) for i in new_ids}
    writes = []
    for i, new_id in new_ids.items():
        entry = plan.entries[i]
        url = entry.get("fullUrl")

        def point(ref: dict[str, Any], url: Any = url) -> dict[str, Any] | None:
            if ref["reference"].startswith("#"):
                return None
            target = plan.resolver.resolve(ref["reference"], url)
            key_ = type_and_id(ref["reference"])
            if target == plan.patient_entry and target is not None or target is None and key_ and key_[0] == "Patient":
                return {**ref, "reference": f"Patient/{local_id}"}
            if target in new_ids:
                return {**ref, "reference": f"{kinds[target]}/{new_ids[target]}"}
            shown = ref.get("display") or (describe(plan.entries[target]["resource"]) if target is not None else "")
            return {k: v for k, v in {"type": ref.get("type"), "identifier": ref.get("identifier"),
                                      "display": shown or "Not included in the import"}.items() if v}

        resource = entry["resource"]
        if resource["resourceType"] == "MedicationRequest":
            resource = _as_statement(resource)
        resource = rewrite_references(_medication_inline(resource, plan, url), point)
        resource = _marked(resource, source, key)
        if _compartment_patients(resource) != {local_id}:
            raise _refuse("Every imported record must belong to the patient", [
                _issue("business-rule", f"Bundle.entry[{i}]", f"the {kinds[i]} does not refer to the patient")])
        writes.append(store.Write("POST", kinds[i], new_id, resource))
    return writes


def _already_imported(conn: Connection, ctx: AccessContext, local_id: str, key: str, kinds: set[str]) -> bool:
    compiler = QueryCompiler()
    for kind in sorted(kinds):
        sreq = compiler.parse(kind, [("patient", local_id), ("_tag", f"{BUNDLE_TAG_SYSTEM}|{key}")],
                              default_count=1, max_count=1)
        sreq.total = "none"
        if run_search(conn, ctx, sreq).matches:
            return True
    return False


def import_bundle(conn: Connection, ctx: AccessContext, bundle: Any, *, patient_ref: str,
                  source: str) -> dict[str, int]:
    """Write the clinical records of bundle into the patient's record as ctx; return how many of each type.

    Raises BadRequest (malformed), UnprocessableEntity (invalid, or about someone else; the issues say
    which entry and why), Conflict (this Bundle was imported for the patient already) or the policy's
    Forbidden/NotFound; then nothing is written. Each record is marked: meta.source, and tags saying it
    was imported, from which Bundle and from where (the tags stay when the store keeps a patient's own
    writes without a meta.source).
    """
    check_source(source)
    key_ = type_and_id(patient_ref) if isinstance(patient_ref, str) else None
    if key_ is None or key_[0] != "Patient":
        raise BadRequest("patient_ref must be a reference like Patient/123")
    local = store.read(conn, ctx, res_type="Patient", res_id=key_[1]).resource or {}
    plan = _checked(bundle)
    _confirm_person(plan, local)
    key = bundle_key(bundle)
    writes = _writes(plan, key_[1], source, key)
    if not writes:
        raise _refuse("The Bundle holds no clinical records to import", [
            _issue("required", "Bundle.entry", f"import needs at least one of {', '.join(sorted(IMPORTED_TYPES))}")])
    if _already_imported(conn, ctx, key_[1], key, {w.res_type for w in writes}):
        raise Conflict(f"This Bundle ({key[:80]}) was imported into Patient/{key_[1]} already")
    stored = store.write_batch(conn, ctx, writes)
    record(conn, ctx=ctx, action="C", subtype="operation", entities=[s.reference for s in stored][:200],
           patient=f"Patient/{key_[1]}")
    return dict(sorted(Counter(s.res_type for s in stored).items()))
