"""Corrections: the patient asks the institution that sent a record to correct it, as a FHIR Task it owns.

The Task (R4) has code `change` of http://hl7.org/fhir/CodeSystem/task-code ("Change the focal
resource"), focus the record, for the patient, owner the source institution (the record's meta.source,
else the organisation that performed it), requester the person asking (the patient, or the
caregiver's RelatedPerson acting for them), status `requested`, intent `proposal` (the institution
decides whether to change its record) and the patient's words as description. Reads and the write go
through the gateway as the person, so the policy decides and the trail records them.
"""

from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.ips.narrative import describe
from smartcare.platform import clock
from smartcare.platform.security.context import AccessContext

TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"
CHANGE = "change"
MAX_TEXT = 1000
MIN_TEXT = 5
MAX_SHOWN = 100
# The kinds of record an institution sends that a patient may ask to have corrected.
CORRECTABLE_TYPES = ("Condition", "AllergyIntolerance", "MedicationRequest", "MedicationStatement", "Immunization",
                     "Observation", "DiagnosticReport", "Procedure", "Encounter", "CarePlan", "ImagingStudy",
                     "DocumentReference")
# Where a record names who performed or provided it, for records without a meta.source.
_PERFORMER_PATHS = ("performer", "serviceProvider", "asserter", "recorder", "requester", "custodian", "author")


class CorrectionProblem(ValueError):
    """A request that cannot be made; code names the problem for the form's message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _organizations_in(value: Any) -> list[str]:
    """Organization references in a Reference, a list of them, or performer-like backbones ({actor: ...})."""
    items = value if isinstance(value, list) else [value]
    found = []
    for item in items:
        if isinstance(item, dict):
            ref = item.get("reference") or (item.get("actor") or {}).get("reference") or ""
            if isinstance(ref, str) and ref.startswith("Organization/"):
                found.append(ref)
    return found


def source_institution(resource: dict[str, Any]) -> str | None:
    """The organisation that sent the record (meta.source), else the one that performed or provided it."""
    source = (resource.get("meta") or {}).get("source")
    if isinstance(source, str) and source.startswith("Organization/"):
        return source
    for path in _PERFORMER_PATHS:
        found = _organizations_in(resource.get(path))
        if found:
            return found[0]
    return None


def clean_text(text: str) -> str:
    """The patient's words, trimmed; a CorrectionProblem when too short or too long."""
    text = text.replace("\r\n", "\n").strip()
    if len(text) < MIN_TEXT:
        raise CorrectionProblem("text-short", "Say what is wrong")
    if len(text) > MAX_TEXT:
        raise CorrectionProblem("text-long", f"Write at most {MAX_TEXT} characters")
    return text


def correction_task(*, item: dict[str, Any], patient_ref: str, requester_ref: str, owner: str, text: str,
                    now: str) -> dict[str, Any]:
    """The Task asking owner to correct item (pure)."""
    return {
        "resourceType": "Task",
        "status": "requested",
        "intent": "proposal",
        "code": {"coding": [{"system": TASK_CODE_SYSTEM, "code": CHANGE, "display": "Change the focal resource"}],
                 "text": "Correction requested by the patient"},
        "description": text,
        "focus": {"reference": f"{item['resourceType']}/{item['id']}", "display": describe(item)},
        "for": {"reference": patient_ref},
        "requester": {"reference": requester_ref},
        "owner": {"reference": owner},
        "authoredOn": now,
        "lastModified": now,
    }


def request_correction(ctx: AccessContext, *, patient_id: str, item_ref: str, text: str) -> dict[str, Any]:
    """Create the correction Task for one record of the patient's; CorrectionProblem when it cannot be asked."""
    text = clean_text(text)
    kind, _, _ = item_ref.partition("/")
    if kind not in CORRECTABLE_TYPES:
        raise CorrectionProblem("item", "Choose a record to correct")
    try:
        item = gateway.read(ctx, item_ref)
    except FhirError as exc:
        raise CorrectionProblem("item", "Choose a record to correct") from exc
    if f"Patient/{patient_id}" not in _patients_named(item):
        raise CorrectionProblem("item", "Choose a record to correct")
    owner = source_institution(item)
    if owner is None:
        raise CorrectionProblem("no-source", "This record came from no institution: you can change it yourself")
    task = correction_task(item=item, patient_ref=f"Patient/{patient_id}", requester_ref=ctx.fhir_user or "",
                           owner=owner, text=text, now=clock.format_instant(clock.now()))
    return gateway.serve(ctx, FhirRequest(method="POST", path="Task", body=task)).body or {}


def _patients_named(item: dict[str, Any]) -> set[str]:
    refs = [item.get("subject"), item.get("patient")]
    return {r["reference"] for r in refs if isinstance(r, dict) and isinstance(r.get("reference"), str)}


def requests_of(ctx: AccessContext, patient_id: str) -> list[dict[str, Any]]:
    """The person's correction requests, newest first."""
    found = gateway.search(ctx, "Task", [("patient", patient_id), ("code", f"{TASK_CODE_SYSTEM}|{CHANGE}"),
                                         ("_count", str(MAX_SHOWN))])
    return sorted(found, key=lambda t: str(t.get("authoredOn", "")), reverse=True)


def correctable_items(ctx: AccessContext, patient_id: str, *, per_type: int = 20) -> list[dict[str, Any]]:
    """Records of the person an institution sent, to choose one to correct: kind, reference, text, source."""
    items = []
    for kind in ("Condition", "AllergyIntolerance", "MedicationRequest", "Immunization", "DiagnosticReport",
                 "Observation"):
        try:
            found = gateway.search(ctx, kind, [("patient", patient_id), ("_count", str(per_type))])
        except FhirError:
            continue
        items += [{"kind": kind, "ref": f"{kind}/{r['id']}", "text": describe(r), "source": source_institution(r)}
                  for r in found if r.get("resourceType") == kind and source_institution(r)]
    return items
