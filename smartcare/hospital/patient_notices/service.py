"""Notices to the patient about what their care team does for them online: the doctor's reply in an online
consultation, a video visit the doctor opens, a prescription issued online or at a visit.

Each event is one notice to each account that opens the patient's record in the app (fhir/patient_accounts.py:
their own, and the family and caregivers' accounts that look after them while the policy lets them), never to the
one who acted, with a link to the page of the app where they see it. The words are catalogue messages kept with
the notice (platform/notifications/texts.py), so each reader reads them in the language of the page they open.
A doctor's reply is not told again while the reader has not read the notice of an earlier one in the same
consultation: a conversation of many messages is one notice until it is looked at.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.patient_accounts import Account, accounts_for
from smartcare.platform import clock
from smartcare.platform.i18n import _
from smartcare.platform.notifications import notification_kind, notify
from smartcare.platform.notifications import service as notifications
from smartcare.platform.notifications.texts import in_each_language, message
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.web import fhir_text

REPLY = notification_kind("consultation.reply", label=_("Replies from your doctor in online consultations"),
                          default_channels=("sms",), private_body=True)
VIDEO = notification_kind("video.visit", label=_("Video visits your doctor opens"), default_channels=("sms",))
PRESCRIPTION = notification_kind("prescription.issued", label=_("New prescriptions"), private_body=True)
SNIPPET = 160

# What the reader is told a reply holds, by the kind of message (consultation/service.MESSAGE_KINDS); a video visit
# and a prescription have notices of their own.
REPLY_BODIES = {
    "message": _("{doctor}: {text}"),
    "info-request": _("{doctor} asks for more information: {text}"),
    "summary": _("{doctor} closed the consultation with a summary and advice."),
    "follow-up": _("{doctor} booked a follow-up visit."),
    "orders": _("{doctor} ordered tests."),
}
OTHER_REPLY = _("{doctor} sent a new message.")
NOT_TOLD = ("video", "prescription")


@dataclass(frozen=True, slots=True)
class Wording:
    """A notice's title and body as messages: for the patient, and for those who look after them (whose messages
    name the patient as {patient}; the patient's body serves both when it says nothing of "you")."""

    own_title: dict[str, Any]
    family_title: dict[str, Any]
    body: dict[str, Any]
    family_body: dict[str, Any] | None = None


def _naming(spec: dict[str, Any], patient: str) -> dict[str, Any]:
    return {**spec, "values": {**spec.get("values", {}), "patient": patient}}


def _resource(conn: Connection, reference: str) -> dict[str, Any]:
    # Read by the platform to address the notice (names only), through the gateway so the look is audited.
    try:
        return gateway.serve_within(conn, SYSTEM, FhirRequest(method="GET", path=reference)).body or {}
    except FhirError:
        return {}


def doctor(conn: Connection, reference: str | None) -> dict[str, Any]:
    """How a notice names the doctor: "Dr Chen" (in the reader's words), or "Your doctor" without a name."""
    name = fhir_text.person_name(_resource(conn, reference)) if (reference or "").startswith("Practitioner/") else ""
    return message(_("Dr {name}"), name=name) if name else message(_("Your doctor"))


def _tell(conn: Connection, ctx: AccessContext, *, patient_id: str, kind: str, wording: Wording,
          link: str, family_link: str | None = None, data: dict[str, Any],
          unless_unread: str | None = None) -> int:
    """Notify every account that opens the patient's record, other than the caller's own; how many were told."""
    accounts: list[Account] = [a for a in accounts_for(conn, patient_id) if a.id != ctx.subject]
    if unless_unread is not None:
        accounts = [a for a in accounts if not notifications.unread_about(
            conn, user_id=a.id, kind=kind, key=unless_unread, value=str(data[unless_unread]))]
    name = ""
    if any(not a.own for a in accounts):
        name = fhir_text.person_name(_resource(conn, f"Patient/{patient_id}")) or patient_id
    for account in accounts:
        if account.own:
            title, body = wording.own_title, wording.body
        else:
            title, body = _naming(wording.family_title, name), _naming(wording.family_body or wording.body, name)
        notify(conn, user_id=account.id, kind=kind, link=link if account.own else family_link or link,
               title_text=title, body_text=body, data={**data, "patient": f"Patient/{patient_id}"})
    return len(accounts)


def tell_reply(conn: Connection, ctx: AccessContext, *, patient_id: str, consultation_id: str, kind: str,
               text: str) -> int:
    """The doctor's message of kind in the consultation (text: its words): a notice to the patient's side, unless
    the message has a notice of its own or an earlier reply's notice is still unread; how many were told."""
    if kind in NOT_TOLD:
        return 0
    snippet = " ".join(text.split())
    snippet = snippet if len(snippet) <= SNIPPET else snippet[:SNIPPET - 1] + "…"
    body = message(REPLY_BODIES.get(kind, OTHER_REPLY), doctor=doctor(conn, ctx.fhir_user), text=snippet)
    if kind == "message" and not snippet:
        body = message(OTHER_REPLY, doctor=doctor(conn, ctx.fhir_user))
    wording = Wording(own_title=message(_("Your doctor replied in your online consultation")),
                      family_title=message(_("The doctor replied in {patient}'s online consultation")), body=body)
    link = f"/app/consultations/{consultation_id}"
    return _tell(conn, ctx, patient_id=patient_id, kind=REPLY.name, wording=wording, link=link,
                 data={"consultation": f"Encounter/{consultation_id}"}, unless_unread="consultation")


def tell_video(conn: Connection, ctx: AccessContext, *, patient_id: str, visit_id: str,
               scheduled_for: str | None = None) -> int:
    """The doctor opened a video visit (now, or planned for an instant): a notice to the patient's side."""
    who = doctor(conn, ctx.fhir_user)
    if scheduled_for:
        body = message(_("{doctor} planned a video visit for {time}. Join it from the app then."), doctor=who,
                       time=clock.wall_clock(scheduled_for))
        family_body = None
    else:
        body = message(_("{doctor} is waiting for you in a video visit. Join it from the app now."), doctor=who)
        family_body = message(_("{doctor} is waiting for {patient} in a video visit. Join it together from the app "
                                "now."), doctor=who)
    wording = Wording(own_title=message(_("Your doctor opened a video visit")),
                      family_title=message(_("The doctor opened a video visit for {patient}")), body=body,
                      family_body=family_body)
    return _tell(conn, ctx, patient_id=patient_id, kind=VIDEO.name, wording=wording, link=f"/app/video/{visit_id}",
                 data={"visit": f"Encounter/{visit_id}"})


def medicine(name_en: str, name_zh: str | None, detail: str) -> dict[str, str]:
    """One prescribed medicine as a notice names it, in each language: "amlodipine 5 mg QD"."""
    return in_each_language(en=f"{name_en} {detail}".strip(), zh_Hans=f"{name_zh or name_en} {detail}".strip())


def tell_prescription(conn: Connection, ctx: AccessContext, *, patient_id: str, medicines: list[dict[str, str]],
                      requests: list[str], held: bool = False) -> int:
    """A prescription was signed for the patient (medicines: each named by medicine()): a notice to their side;
    held: it waits for the pharmacist's check before it takes effect (an online prescription)."""
    body = (_("{doctor} prescribed: {medicines}. A pharmacist checks it before it takes effect.") if held
            else _("{doctor} prescribed: {medicines}. See how to take them in the app."))
    wording = Wording(own_title=message(_("You have a new prescription")),
                      family_title=message(_("{patient} has a new prescription")),
                      body=message(body, doctor=doctor(conn, ctx.fhir_user), medicines=medicines))
    return _tell(conn, ctx, patient_id=patient_id, kind=PRESCRIPTION.name, wording=wording,
                 link="/app/prescriptions", family_link=f"/app/prescriptions?person={patient_id}",
                 data={"requests": requests[:20]})
