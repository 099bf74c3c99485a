"""Exports of a person's record and the import of a summary from elsewhere, through the FHIR gateway as the caller.

The International Patient Summary comes from Patient/$summary, the full record from Patient/$everything of each of
the person's registrations, and an uploaded Bundle goes to Patient/$import-summary, which checks it whole and
writes all or nothing. So the access policy decides each, and each is audited.
"""

from collections.abc import Iterator
from typing import Any

import orjson

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.patient.record.people import Person
from smartcare.platform import clock
from smartcare.platform.security.context import AccessContext

PAGE = 1000
MAX_PAGES = 20
MAX_UPLOAD = 2 * 1024 * 1024
# Where imported records say they came from: uploaded by the person in the app.
IMPORT_SOURCE = "urn:smartcare:import:patient-app"
FHIR_JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"


def _(message: str) -> str:
    """Mark a message for the catalog; the page translates it into the reader's language."""
    return message


# An OperationOutcome issue's code in plain words; the issue's own text is shown beside it as the detail.
ISSUE_WORDS = {
    "required": _("Something a summary must hold is missing."),
    "value": _("A value in the file is not valid."),
    "structure": _("The file is not laid out as a FHIR Bundle."),
    "invariant": _("The file breaks a rule of the FHIR standard."),
    "business-rule": _("These records cannot be added to this person's record."),
    "duplicate": _("The same entry appears twice in the file."),
    "forbidden": _("You may not add these records."),
    "not-found": _("A reference in the file points to nothing in it."),
    "conflict": _("This file was imported already."),
    "invalid": _("The file is not valid."),
}
REFUSED = _("The file was refused.")
TOO_BIG = _("The file is larger than %(limit)s MB.")
NOT_JSON = _("The file is not FHIR JSON: choose a .json file holding a Bundle.")
NO_FILE = _("Choose a file to upload.")


class ImportRefused(Exception):
    """An upload that was not imported: the issues, each (message id, values, technical detail)."""

    def __init__(self, issues: list[tuple[str, dict[str, Any], str]]) -> None:
        super().__init__(issues[0][0] if issues else REFUSED)
        self.issues = issues


def summary(ctx: AccessContext, person: Person, *, locale: str) -> dict[str, Any]:
    """The person's IPS document Bundle in locale (its section titles and narratives)."""
    lang = "zh" if locale == "zh-Hans" else "en"
    return gateway.serve(ctx, FhirRequest(method="GET", path=f"Patient/{person.id}/$summary",
                                          query=[("_lang", lang)])).body or {}


def everything(ctx: AccessContext, person: Person) -> list[dict[str, Any]]:
    """Every record of every registration of the person that ctx may see, each once."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for patient_id in person.ids:
        for page in range(MAX_PAGES):
            bundle = gateway.serve(ctx, FhirRequest(method="GET", path=f"Patient/{patient_id}/$everything", query=[
                ("_count", str(PAGE)), ("_offset", str(page * PAGE))])).body or {}
            for entry in bundle.get("entry", []):
                resource = entry.get("resource")
                if isinstance(resource, dict) and entry.get("search", {}).get("mode") != "outcome":
                    found.setdefault((str(resource.get("resourceType")), str(resource.get("id"))), resource)
            if not any(link.get("relation") == "next" for link in bundle.get("link", [])):
                break
    return list(found.values())


def as_bundle(resources: list[dict[str, Any]], *, base: str) -> dict[str, Any]:
    """The records as a FHIR collection Bundle, each entry with its full URL on this server."""
    return {"resourceType": "Bundle", "type": "collection", "timestamp": clock.format_instant(clock.now()),
            "entry": [{"fullUrl": f"{base}/fhir/{r['resourceType']}/{r['id']}", "resource": r} for r in resources]}


def as_ndjson(resources: list[dict[str, Any]]) -> Iterator[bytes]:
    """The records as NDJSON, one resource per line (the Bulk Data format)."""
    for resource in resources:
        yield orjson.dumps(resource) + b"\n"


def _issues(exc: FhirError) -> list[tuple[str, dict[str, Any], str]]:
    outcome = exc.outcome().get("issue") or []
    shown = [(ISSUE_WORDS.get(str(i.get("code")), REFUSED), {}, str(i.get("diagnostics") or "")[:300])
             for i in outcome[:20] if isinstance(i, dict)]
    if exc.status == 409:
        shown = [(ISSUE_WORDS["conflict"], {}, exc.message[:300])]
    return shown or [(REFUSED, {}, exc.message[:300])]


def import_upload(ctx: AccessContext, person: Person, content: bytes | None) -> dict[str, int]:
    """Import an uploaded IPS or FHIR Bundle into the person's record; {type: count} written, or ImportRefused."""
    if not content:
        raise ImportRefused([(NO_FILE, {}, "")])
    if len(content) > MAX_UPLOAD:
        raise ImportRefused([(TOO_BIG, {"limit": MAX_UPLOAD // (1024 * 1024)}, "")])
    try:
        bundle = orjson.loads(content)
    except orjson.JSONDecodeError:
        raise ImportRefused([(NOT_JSON, {}, "")]) from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ImportRefused([(NOT_JSON, {}, "")])
    try:
        answer = gateway.serve(ctx, FhirRequest(method="POST", path=f"Patient/{person.id}/$import-summary",
                                                query=[("source", IMPORT_SOURCE)], body=bundle)).body or {}
    except FhirError as exc:
        raise ImportRefused(_issues(exc)) from exc
    counts: dict[str, int] = {}
    for parameter in answer.get("parameter") or []:
        parts = {p.get("name"): p for p in parameter.get("part") or []}
        if parameter.get("name") == "imported" and "type" in parts:
            counts[str(parts["type"].get("valueCode"))] = int(parts.get("count", {}).get("valueInteger") or 0)
    return counts
