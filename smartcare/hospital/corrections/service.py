"""The correction requests (FHIR Tasks, code `change`) a hospital owns, and the hospital's answer to each.

The patient addressed the request to the institution that sent the record (Task.owner), so the
institution's administrators see it whether or not the patient is otherwise in their reach: the access
policy gives a hospital administrator the Tasks their organisation owns (policy.INSTITUTION_TASK_CODES), and
nothing else of those patients. Every read and answer goes through the FHIR gateway as the administrator, so
the policy decides and the audit trail records it as theirs, one entry per patient, on the patient's "who
opened my record" page. The search also names the owner: an administrator whose hospital manages the
patient reaches the patient's Tasks addressed elsewhere, which are not theirs to answer.
"""

from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.platform import clock
from smartcare.platform.i18n import _
from smartcare.platform.security.context import AccessContext

TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code|change"
OPEN_STATUSES = ("requested", "received", "accepted", "in-progress")
# The answers an administrator gives, and the statuses each may follow (FHIR R4 Task state machine).
ANSWERS = {"accepted": ("requested", "received"), "rejected": ("requested", "received", "accepted"),
           "completed": ("accepted", "in-progress")}
MAX_NOTE = 500
MAX_SHOWN = 200


class CorrectionRefused(ValueError):
    """An answer that cannot be given (not this hospital's request, or not from its current status); the message is
    translated on the page, with %(num)s the longest note."""


def owned_requests(conn: Connection, ctx: AccessContext, *, open_only: bool = True) -> list[dict[str, Any]]:
    """The correction requests ctx's organisation owns, newest first, read as ctx (audited per patient)."""
    if not ctx.organization:
        return []
    query = [("owner", ctx.organization), ("code", TASK_CODE), ("_count", str(MAX_SHOWN)), ("_total", "none")]
    if open_only:
        query.append(("status", ",".join(OPEN_STATUSES)))
    bundle = gateway.serve_within(conn, ctx, FhirRequest(method="GET", path="Task", query=query)).body or {}
    found = [e["resource"] for e in bundle.get("entry", []) if e.get("resource", {}).get("resourceType") == "Task"]
    return sorted(found, key=lambda t: str(t.get("authoredOn", "")), reverse=True)


def answer(conn: Connection, ctx: AccessContext, *, task_id: str, status: str, note: str) -> dict[str, Any]:
    """Accept, decline or complete one request of ctx's organisation, with a note the patient reads."""
    if status not in ANSWERS:
        raise CorrectionRefused(_("Choose accept, decline or done"))
    note = " ".join(note.split())
    if len(note) > MAX_NOTE:
        raise CorrectionRefused(_("The note is at most %(num)s characters"))
    try:
        task = gateway.serve_within(conn, ctx, FhirRequest(method="GET", path=f"Task/{task_id}")).body or {}
    except FhirError as exc:
        raise CorrectionRefused(_("No such request")) from exc
    codes = {f"{c.get('system')}|{c.get('code')}" for c in (task.get("code") or {}).get("coding", [])}
    if TASK_CODE not in codes or (task.get("owner") or {}).get("reference") != ctx.organization:
        raise CorrectionRefused(_("No such request"))
    if task.get("status") not in ANSWERS[status]:
        raise CorrectionRefused(_("The request is no longer open to that answer"))
    task = {**task, "status": status, "lastModified": clock.format_instant(clock.now())}
    if note:
        task["statusReason"] = {"text": note}
    try:
        stored = gateway.serve_within(conn, ctx, FhirRequest(method="PUT", path=f"Task/{task_id}", body=task)).body
    except FhirError as exc:
        raise CorrectionRefused(_("The request could not be answered")) from exc
    return stored or task
