"""Workflows of an online consultation that span several steps or modules: opening it with the department's
questions and shared reports, and escalating the chat to a video visit (through the video module's service)."""

from typing import Any

from sqlalchemy.engine import Connection

from smartcare.hospital.consultation import attachments, questions, service
from smartcare.hospital.video import service as video
from smartcare.platform.security.context import AccessContext

VIDEO_ENDED = ("finished", "cancelled")


def open_with_details(conn: Connection, ctx: AccessContext, *, patient_id: str, kind: str, question: str,
                      practitioner_id: str | None = None, department_id: str | None = None,
                      condition_id: str | None = None, triage_id: str | None = None,
                      answers: dict[str, str] | None = None, report_ids: list[str] | None = None,
                      zh: bool = False) -> dict[str, Any]:
    """Open a consultation, then store the answers to its department's questions and share the chosen reports.

    The answers are checked before anything is stored; all of it is one transaction, so a refused step leaves
    no consultation behind.
    """
    target = f"doctor:{practitioner_id}" if practitioner_id else f"pool:{department_id or ''}"
    key = questions.target_key(conn, target)
    answered = questions.checked_answers(key, answers or {}, zh=zh)
    opened = service.open_consultation(conn, ctx, patient_id=patient_id, kind=kind, question=question,
                                       practitioner_id=practitioner_id, department_id=department_id,
                                       condition_id=condition_id, triage_id=triage_id)
    if key and answered:
        questions.record_answers(conn, ctx, consultation_id=opened["id"], key=key, answers=answered, zh=zh)
    attachments.share_reports(conn, ctx, consultation_id=opened["id"], report_ids=report_ids or [])
    return service.consultation_view(conn, ctx, consultation_id=opened["id"])


def start_video_visit(conn: Connection, ctx: AccessContext, *, consultation_id: str) -> str:
    """The consultation's doctor escalates the chat to a video visit now; the visit's id.

    The patient is told in the chat by a message of the doctor's side that refers to the visit's Encounter.
    """
    try:
        visit = video.schedule(conn, ctx, consultation_id=consultation_id, mode="escalated")
    except video.VideoError as exc:
        code = exc.code if exc.code in ("not-yours", "closed") else "video-refused"
        raise service.ConsultationError(str(exc), code=code, status=exc.status) from exc
    thread = service._thread(conn, consultation_id)
    service.store_message(conn, ctx, thread=thread, side="doctor", client_id=f"video-{visit['id']}"[:64],
                          text="The doctor started a video visit. Join it from this consultation.",
                          category="video", references=[f"Encounter/{visit['id']}"])
    return visit["id"]


def open_video_visit(conn: Connection, ctx: AccessContext, *, consultation_id: str) -> dict[str, Any] | None:
    """The consultation's newest video visit that has not ended, as the caller may see it, or None."""
    try:
        visits = video.visits_of(conn, ctx, consultation_id=consultation_id)
    except video.VideoError:
        return None
    return next((v for v in visits if v["status"] not in VIDEO_ENDED), None)
