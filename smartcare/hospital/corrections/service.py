"""The correction requests (FHIR Tasks, code `change`) a hospital owns, and the hospital's answer to each.

The patient addressed the request to the institution that sent the record (Task.owner), so the
institution's administrators see it whether or not the patient is otherwise in their reach: the
Tasks are found as the platform, narrowed in the search to owner = the administrator's own
organisation, and every listing and answer is written to the audit trail as the administrator's,
one entry per patient, so it shows on the patient's "who opened my record" page.
"""

from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.platform import audit, clock
from smartcare.platform.security.context import SYSTEM, AccessContext

TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code|change"
OPEN_STATUSES = ("requested", "received", "accepted", "in-progress")
# The answers an administrator gives, and the statuses each may follow (FHIR R4 Task state machine).
ANSWERS = {"accepted": ("requested", "received"), "rejected": ("requested", "received", "accepted"),
           "completed": ("accepted", "in-progress")}
MAX_NOTE = 500
MAX_SHOWN = 200


class CorrectionRefused(ValueError):
    """An answer that cannot be given (not this hospital's request, or not from its current status)."""


def _patient_of(task: dict[str, Any]) -> str | None:
    ref = (task.get("for") or {}).get("reference", "")
    return ref if ref.startswith("Patient/") else None


def owned_requests(conn: Connection, ctx: AccessContext, *, open_only: bool = True) -> list[dict[str, Any]]:
    """The correction requests ctx's organisation owns, newest first; the listing is audited per patient."""
    if not ctx.organization:
        return []
    query = [("owner", ctx.organization), ("code", TASK_CODE), ("_count", str(MAX_SHOWN))]
    if open_only:
        query.append(("status", ",".join(OPEN_STATUSES)))
    bundle = gateway.serve_within(conn, SYSTEM, FhirRequest(method="GET", path="Task", query=query)).body or {}
    found = [e["resource"] for e in bundle.get("entry", []) if e.get("resource", {}).get("resourceType") == "Task"]
    by_patient: dict[str, list[str]] = {}
    for task in found:
        patient = _patient_of(task)
        if patient:
            by_patient.setdefault(patient, []).append(f"Task/{task['id']}")
    for patient, refs in sorted(by_patient.items()):
        audit.record(conn, ctx=ctx, action="R", subtype="search", purpose="HOPERAT", patient=patient, entities=refs)
    return sorted(found, key=lambda t: str(t.get("authoredOn", "")), reverse=True)


def answer(conn: Connection, ctx: AccessContext, *, task_id: str, status: str, note: str) -> dict[str, Any]:
    """Accept, decline or complete one request of ctx's organisation, with a note the patient reads."""
    if status not in ANSWERS:
        raise CorrectionRefused("Choose accept, decline or done")
    note = " ".join(note.split())
    if len(note) > MAX_NOTE:
        raise CorrectionRefused(f"The note is at most {MAX_NOTE} characters")
    try:
        task = gateway.serve_within(conn, SYSTEM, FhirRequest(method="GET", path=f"Task/{task_id}")).body or {}
    except FhirError as exc:
        raise CorrectionRefused("No such request") from exc
    codes = {f"{c.get('system')}|{c.get('code')}" for c in (task.get("code") or {}).get("coding", [])}
    if TASK_CODE not in codes or (task.get("owner") or {}).get("reference") != ctx.organization:
        raise CorrectionRefused("No such request")
    if task.get("status") not in ANSWERS[status]:
        raise CorrectionRefused("The request is no longer open to that answer")
    task = {**task, "status": status, "lastModified": clock.format_instant(clock.now())}
    if note:
        task["statusReason"] = {"text": note}
    stored = gateway.serve_within(conn, SYSTEM, FhirRequest(method="PUT", path=f"Task/{task_id}", body=task)).body or task
    audit.record(conn, ctx=ctx, action="U", subtype="update", purpose="HOPERAT", patient=_patient_of(task),
                 entities=[f"Task/{task_id}"])
    return stored
