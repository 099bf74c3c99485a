"""What both sides' consultation pages share: names from the directory, refusals in the reader's language, and
the strings the chat script shows."""

from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.engine import Connection

from smartcare.fhir import tables
from smartcare.hospital.consultation import service
from smartcare.platform import i18n
from smartcare.platform.settings import get_settings
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import render

MAX_ID = 64


def _(message: str) -> str:
    """Mark a message for the catalog; it is translated where it is shown."""
    return message


# Refusals people meet on these pages, by the service's code, as catalog messages.
REFUSALS = {
    "first-visit": _("An online follow-up needs a condition diagnosed in person at one of our member institutions. "
                     "Please visit a clinic first, or ask for online advice."),
    "bad-target": _("Choose a doctor or a department's on-duty pool."),
    "bad-text": _("Write 1 to 4000 characters."),
    "bad-triage": _("That triage session is not in your record."),
    "closed": _("The consultation is closed."),
    "not-waiting": _("Another doctor picked this consultation up, or it is no longer waiting."),
    "in-progress": _("Your doctor closes a consultation under way."),
    "rated": _("This consultation has been rated already."),
    "not-closed": _("A consultation is rated after it is closed."),
    "bad-rating": _("Choose 1 to 5 stars; feedback has at most 1000 characters."),
    "not-an-image": _("This file is not a photo we can read: send a JPEG, PNG or WebP image."),
    "bad-format": _("Only JPEG, PNG and WebP photos can be sent."),
    "too-large": _("The photo is too large: at most 8 MB."),
    "too-many-pixels": _("The photo has too many pixels."),
    "damaged": _("This image is damaged and cannot be read."),
    "empty": _("The file is empty."),
    "not-follow-up": _("An online prescription is only written in a follow-up consultation."),
    "controlled-drug": _("Narcotic and psychotropic drugs may not be prescribed online."),
    "unknown-medicine": _("Only medicines in the formulary can be prescribed online."),
    "not-in-progress": _("Prescribe while the consultation is under way."),
    "audit-refused": _("The prescription audit refused the prescription."),
    "bad-answer": _("Check your answers to the department's questions."),
    "bad-report": _("Only released reports from your own record can be shared, at most 10 at a time."),
    "not-yours": _("Pick the consultation up before starting a video visit."),
    "video-refused": _("The video visit could not be started."),
    "orders-not-follow-up": _("Tests are only ordered online in a follow-up consultation (a condition diagnosed in "
                              "person). Online advice carries no orders."),
    "orders-not-in-progress": _("Order tests while the consultation is under way."),
    "orders-none": _("Choose at least one test or scan."),
    "orders-too-many": _("Too many tests at once: at most 30."),
    "orders-unknown": _("Only lab tests, panels and scans in the order catalogue can be ordered online."),
    "orders-bad-priority": _("Choose routine, urgent or immediately."),
    "orders-bad-reason": _("The reason is an ICD-10 code, such as I10."),
    "orders-bad-note": _("A note has at most 500 characters, without control characters."),
    "orders-refused": _("The orders could not be placed."),
}
STATUS_NAMES = {"waiting": _("Waiting"), "in_progress": _("In progress"), "closed": _("Ended"),
                "refunded": _("Refunded")}
KIND_NAMES = {"advice": _("Online advice"), "follow_up": _("Follow-up visit")}
REPORT_KINDS = {"lab": _("Laboratory"), "imaging": _("Imaging"), "other": _("Report")}
# The label over each kind of message (service.MESSAGE_KINDS; a plain message has none), the same in the
# history the server writes and in the messages the chat script adds live.
MESSAGE_LABELS = {
    "photo": _("Photo"), "triage": _("Triage summary"), "questions": _("Answers to the department's questions"),
    "reports": _("Reports shared from the record"), "info-request": _("The doctor asks for more information"),
    "summary": _("Summary and advice"), "video": _("Video visit"), "prescription": _("Online prescription"),
    "follow-up": _("Follow-up visit booked"), "orders": _("Tests ordered"),
}
# The chat script's words, translated into the page.
CHAT_WORDS = {
    "sent": _("Sent"), "delivered": _("Delivered"), "read": _("Read"), "typing": _("The other side is typing…"),
    "offline": _("Connection lost, reconnecting…"), "polling": _("Live chat unavailable: checking for new messages"),
    "online": _("Connected"), "failed": _("Not sent. Tap to retry."), "photo": _("Photo"),
    "uploading": _("Sending the photo…"), "video_started": _("The doctor started a video visit."),
    "open_video": _("Open the video visit"),
    "reviewed": _("It takes effect once a pharmacist has reviewed it."),
    "orders_where": _("Go to the department shown for each test; bring your ID card. The results come to your "
                      "record."),
}


def refusal(request: Request, exc: service.ConsultationError) -> dict[str, str]:
    """A refusal as the page shows it: the code and the sentence in the reader's language."""
    message = REFUSALS.get(exc.code)
    text = i18n.translations(i18n.current_locale(request)).gettext(message) if message else str(exc)
    return {"code": exc.code, "message": text}


def chat_words(request: Request) -> dict[str, Any]:
    """The chat script's words and the refusals it may meet, in the reader's language."""
    t = i18n.translations(i18n.current_locale(request))
    return {"words": {k: t.gettext(v) for k, v in CHAT_WORDS.items()},
            "labels": {k: t.gettext(v) for k, v in MESSAGE_LABELS.items()},
            "refusals": {k: t.gettext(v) for k, v in REFUSALS.items()}, "tz": get_settings().region_timezone}


def page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """A private page (never stored) in the reader's language."""
    response = render(request, template, status_code=status_code, status_names=STATUS_NAMES, kind_names=KIND_NAMES,
                      report_kinds=REPORT_KINDS, **values)
    response.headers.update(guard.NO_STORE)
    return response


def not_found(request: Request) -> HTMLResponse:
    """The 404 page."""
    return page(request, "404.html", status_code=404, requested_path=request.url.path[:200])


def clean_id(value: str | None) -> str:
    """An id from a form or the query, trimmed to what ids may be."""
    return (value or "").strip()[:MAX_ID]


def names(conn: Connection, references: set[str]) -> dict[str, str]:
    """Display names of directory and patient records ("Practitioner/x" -> "Dr Chen"), read as the platform:
    only ids the caller was already allowed to see are asked for."""
    r = tables.resource.c
    found: dict[str, str] = {}
    for ref in references:
        res_type, _slash, res_id = (ref or "").partition("/")
        if not res_id:
            continue
        content = conn.execute(sa.select(r.content).where(r.res_type == res_type, r.res_id == res_id[:64],
                                                          r.deleted.is_(False))).scalar() or {}
        found[ref] = content.get("name") if res_type == "Organization" else fhir_text.person_name(content)
        found[ref] = found[ref] or res_id
    return found


def teams(conn: Connection) -> dict[str, list[str]]:
    """Every organisation (department) with doctors' roles in it, mapped to those practitioners."""
    ref = tables.idx_reference.c
    org = sa.select(ref.res_pk, ref.target_id.label("org")).where(
        ref.res_type == "PractitionerRole", ref.param == "organization", ref.target_type == "Organization").subquery()
    rows = conn.execute(sa.select(org.c.org, ref.target_id).join(org, org.c.res_pk == ref.res_pk).where(
        ref.res_type == "PractitionerRole", ref.param == "practitioner", ref.target_type == "Practitioner")
        .order_by(org.c.org, ref.target_id).limit(5000)).all()
    found: dict[str, list[str]] = {}
    for department, practitioner in rows:
        found.setdefault(department, []).append(practitioner)
    return found
