"""HL7 v2 ADT/ORU feeds from members, taken by the laboratory's HL7 interface under the member's name.

The lab interface (hospital/lab/interface.py) maps ADT to Patient and ORU to DiagnosticReport and Observations, stores
each message exactly once (sending facility + MSH-10) and answers it. Here a member's message is handed to it with
a context acting for the member's organisation, so everything it writes carries meta.source = the member; then the
submission is recorded with a Provenance, and a message sent again returns the first report. Members post messages
to /api/v1/exchange/hl7, or send them over MLLP to `smartcare lis`: there the interface's sender route below takes a
message whose MSH-4 is a member's registered facility as that member's, and counts it the same way.
"""

import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from smartcare.fhir import store
from smartcare.hospital.lab.hl7_messages import Header, header_of, normalise
from smartcare.hospital.lab.interface import INTERFACE_SCOPES, Outcome, receive, sender_routes
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.scopes import parse_scopes
from smartcare.regional.exchange import members, submissions
from smartcare.regional.exchange.members import Member, submission_context

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 1_048_576


class FeedRefused(PermissionError):
    """A message a member may not send under its name (another facility's MSH-4); the message is safe to show."""


def feed_context(member: Member, *, remote_addr: str | None = None) -> AccessContext:
    """The lab interface's client, acting for the member's organisation (so the store stamps the member)."""
    return AccessContext(kind="client", name=f"hl7 {member.org_id}", roles=frozenset({"system"}),
                         organization=member.organization, remote_addr=remote_addr, subject=member.client_id,
                         scopes=parse_scopes(INTERFACE_SCOPES))


def _ack_text(ack: str) -> str:
    for segment in normalise(ack).split("\r"):
        if segment.startswith("ERR"):
            return segment.split("|")[-1].replace("\\T\\", "&")
    for segment in normalise(ack).split("\r"):
        if segment.startswith("MSA"):
            parts = segment.split("|")
            return parts[3] if len(parts) > 3 else ""
    return ""


def submit_message(*, member: Member, raw: str, engine: Engine | None = None,
                   remote: str | None = None) -> dict[str, Any]:
    """Take one HL7 v2 message from a member's feed and return its report (with the HL7 ACK)."""
    if len(raw.encode()) > MAX_MESSAGE_BYTES:
        raise submissions.SubmissionInvalid("An HL7 message may be at most 1 MiB")
    header = header_of(raw)
    if not member.hl7_facility:
        raise FeedRefused(f"{member.organization} has no HL7 v2 sending facility registered")
    if header.sending_facility != member.hl7_facility:
        raise FeedRefused(f"MSH-4 names '{header.sending_facility[:60]}', but this member's feed is "
                          f"'{member.hl7_facility}'")
    digest = _digest(header)
    with unit_of_work(engine) as conn:
        stored = submissions.report_for_content(conn, member, "hl7", digest)
    if stored is not None:
        return {**stored, "duplicate": True}
    outcome = receive(raw, engine=engine, ctx=feed_context(member, remote_addr=remote))
    return {**record_outcome(member=member, header=header, outcome=outcome, engine=engine, remote=remote),
            "duplicate": False}


def _digest(header: Header) -> str:
    return submissions.content_sha256(["hl7", header.sending_facility, header.control_id])


def record_outcome(*, member: Member, header: Header, outcome: Outcome, engine: Engine | None,
                   remote: str | None = None) -> dict[str, Any]:
    """Record what the lab interface made of a member's message as a submission (with a Provenance); its report."""
    now = clock.format_instant(clock.now())
    accepted = [{"entry": 0, "reference": ref, "status": "AA"} for ref in outcome.resources]
    reason = _ack_text(outcome.ack) or outcome.ack_code
    rejected = [] if outcome.ack_code == "AA" else [{"entry": 0, "reason": reason,
                                                     "outcome": submissions.outcome_of(reason)}]
    warnings = [{"entry": 0, "message": "This message was received before; nothing new was stored"}] \
        if outcome.duplicate else []
    with unit_of_work(engine) as conn:
        submission_id = str(uuid.uuid4())
        provenance = None
        if outcome.resources:
            resource = submissions.provenance_for(submission_id, member, "hl7", list(dict.fromkeys(outcome.resources)),
                                                  now)
            store.write_batch(conn, submission_context(member, remote_addr=remote),
                              [store.Write("PUT", "Provenance", resource["id"], resource)])
            provenance = f"Provenance/{resource['id']}"
        report = {
            "submission": submission_id, "member": member.organization, "kind": "hl7", "mode": "message",
            "received": now, "status": "accepted" if outcome.ack_code == "AA" else "rejected",
            "message": f"{header.message_code}^{header.trigger_event}", "control_id": header.control_id[:199],
            "ack_code": outcome.ack_code, "ack": outcome.ack,
            "counts": {"entries": 1, "accepted": len(accepted), "rejected": len(rejected), "warnings": len(warnings)},
            "accepted": accepted, "rejected": rejected, "warnings": warnings, "provenance": provenance,
        }
        submissions.record(conn, member=member, kind="hl7", digest=_digest(header), report=report)
    return report


def _member_feed(header: Header, engine: Engine | None) -> tuple[AccessContext, Callable[[Outcome], None]] | None:
    """The lab interface's route for messages arriving over MLLP: a member's facility is stored as the member, and
    each of its messages counted in its submissions (a resend of a counted message is not counted again)."""
    if not header.sending_facility:
        return None
    with unit_of_work(engine) as conn:
        member = members.member_of_facility(conn, facility=header.sending_facility)
        counted = member is not None and submissions.report_for_content(conn, member, "hl7", _digest(header))
    if member is None:
        return None

    def told(outcome: Outcome) -> None:
        if counted:
            return
        try:
            record_outcome(member=member, header=header, outcome=outcome, engine=engine)
        except Exception:  # the message itself is stored and answered; only its count in the console is missing
            log.exception("could not record the HL7 submission of %s", member.organization)

    return feed_context(member), told


sender_routes.append(_member_feed)
