"""Reports from the patient's own record shared with an online consultation.

The patient (or proxy) picks released DiagnosticReports (laboratory, imaging) that the access policy lets them
read; the choice is a chat message of the patient's side whose payload refers to each report, so it is part of
the consultation's history in both the app and the workstation. Nothing is copied: the doctor opens the report
itself, and the policy lets them because the consultation's Encounter names them as participant (a care
relationship, fhir/access.py) once the consultation is addressed to them or they pick it up.
"""

import hashlib
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir import gateway, store
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.consultation import service
from smartcare.platform import audit
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import fhir_text

RELEASED = ("final", "amended", "corrected", "appended")
MAX_REPORTS = 10
SHOWN = 30


def kind_of(report: dict[str, Any]) -> str:
    """'imaging', 'lab' or 'other', from the report's category (HL7 v2 table 0074) or its imaging study."""
    codes = {c.get("code") for cat in report.get("category", []) for c in cat.get("coding", [])}
    if report.get("imagingStudy") or codes & {"RAD", "CT", "MR", "US", "NMR", "XRC", "IMG"}:
        return "imaging"
    if codes & {"LAB", "HM", "CH", "MB", "SP", "BG", "SR", "CUS"}:
        return "lab"
    return "other"


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    return {"id": report.get("id", ""), "title": fhir_text.concept_text(report.get("code")) or report.get("id", ""),
            "kind": kind_of(report), "date": report.get("effectiveDateTime") or report.get("issued") or "",
            "status": report.get("status", "")}


def attachable_reports(conn: Connection, ctx: AccessContext, *, patient_id: str) -> list[dict[str, Any]]:
    """The patient's released reports the caller may read, newest first, to pick from."""
    bundle = gateway.serve_within(conn, ctx, FhirRequest(method="GET", path="DiagnosticReport", query=[
        ("subject", f"Patient/{patient_id[:64]}"), ("status", ",".join(RELEASED)), ("_sort", "-date"),
        ("_count", str(SHOWN))])).body or {}
    return [_summary(e["resource"]) for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"]


def _checked_ids(report_ids: list[str]) -> list[str]:
    ids = list(dict.fromkeys(i.strip() for i in report_ids if i and i.strip()))
    if len(ids) > MAX_REPORTS or any(len(i) > 64 for i in ids):
        raise service.ConsultationError(f"Share at most {MAX_REPORTS} reports at a time", code="bad-report",
                                        status=400)
    return ids


def share_reports(conn: Connection, ctx: AccessContext, *, consultation_id: str,
                  report_ids: list[str]) -> dict[str, Any] | None:
    """The patient shares reports of their own record with the consultation (one message referring to them).

    Each report must be a released report of the consultation's patient that the caller can read; sending the
    same choice again stores nothing new. Returns the message, or None when nothing was chosen.
    """
    ids = _checked_ids(report_ids)
    if not ids:
        return None
    thread = service._thread(conn, consultation_id)
    if service._side(conn, ctx, thread, "create") != "patient":
        raise service.ConsultationError("The patient shares reports from their record", code="forbidden",
                                        status=403)
    client_id = "reports-" + hashlib.sha256("|".join(sorted(ids)).encode()).hexdigest()[:32]
    existing = service.stored_message(conn, thread.encounter_id, client_id)
    if existing is not None:
        return existing
    titles = []
    for report_id in ids:
        try:
            report = store.read(conn, ctx, res_type="DiagnosticReport", res_id=report_id).resource or {}
        except FhirError as exc:
            raise service.ConsultationError("That report is not in your record", code="bad-report",
                                            status=400) from exc
        if ((report.get("subject") or {}).get("reference") != f"Patient/{thread.patient_id}"
                or report.get("status") not in RELEASED):
            raise service.ConsultationError("That report is not in your record", code="bad-report", status=400)
        titles.append(_summary(report)["title"])
    return service.store_message(conn, ctx, thread=thread, side="patient", client_id=client_id,
                                 text="; ".join(titles)[:service.MAX_TEXT], category="reports",
                                 references=[f"DiagnosticReport/{i}" for i in ids])


def shared_reports(conn: Connection, ctx: AccessContext, *, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reports shared in a consultation's history, each read as the caller may (readable False if not)."""
    found: dict[str, dict[str, Any]] = {}
    for message in history:
        for report_id in message.get("reports") or ():
            if report_id in found:
                continue
            try:
                report = store.read(conn, ctx, res_type="DiagnosticReport", res_id=report_id).resource or {}
            except FhirError:
                found[report_id] = {"id": report_id, "title": report_id, "kind": "other", "date": "",
                                    "readable": False}
                continue
            found[report_id] = {**_summary(report), "readable": True}
            audit.record(conn, ctx=ctx, action="R", subtype="read", entities=[f"DiagnosticReport/{report_id}"],
                         patient=(report.get("subject") or {}).get("reference"))
    return list(found.values())
