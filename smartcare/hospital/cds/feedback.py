"""Cards issued and the feedback on them: recorded so acceptance and override rates can be followed."""

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.hospital.cds.models import cds_card, cds_feedback
from smartcare.hospital.cds.schemas import Feedback
from smartcare.platform import clock


class FeedbackRefused(Exception):
    """Feedback naming a card this service did not issue, or a suggestion the card did not carry."""

    def __init__(self, message: str, *, unknown_card: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.unknown_card = unknown_card


def record_cards(conn: Connection, *, service_id: str, hook_instance: str, patient_id: str, user_ref: str,
                 cards: Iterable[dict[str, Any]]) -> None:
    """Keep each issued card (its rule, indicator, summary and suggestion ids) for feedback and review."""
    now = clock.now().isoformat()
    rows = [{
        "uuid": card["uuid"], "service_id": service_id, "hook_instance": hook_instance, "patient_id": patient_id,
        "user_ref": user_ref[:140], "rule": card["source"].get("topic", {}).get("code", "")[:64],
        "indicator": card["indicator"], "summary": card["summary"][:200],
        "suggestions": ",".join(s["uuid"] for s in card.get("suggestions", [])), "issued_at": now,
    } for card in cards]
    if rows:
        conn.execute(cds_card.insert(), rows)


def record_feedback(conn: Connection, *, service_id: str, entries: list[Feedback], recorded_by: str) -> int:
    """Store what the clinician did with each card; all entries or none. Returns how many were stored."""
    uuids = [str(entry.card) for entry in entries]
    issued = {row.uuid: row for row in conn.execute(
        sa.select(cds_card.c.uuid, cds_card.c.suggestions).where(
            cds_card.c.uuid.in_(uuids), cds_card.c.service_id == service_id))}
    now = clock.now().isoformat()
    rows = []
    for entry in entries:
        card = issued.get(str(entry.card))
        if card is None:
            raise FeedbackRefused(f"card {entry.card} was not issued by the {service_id} service", unknown_card=True)
        accepted = [str(s.id) for s in entry.acceptedSuggestions or []]
        offered = set(filter(None, card.suggestions.split(",")))
        if not set(accepted) <= offered:
            raise FeedbackRefused(f"card {entry.card} did not offer suggestion {sorted(set(accepted) - offered)[0]}")
        reason = entry.overrideReason
        rows.append({
            "card_uuid": str(entry.card), "service_id": service_id, "outcome": entry.outcome,
            "accepted_suggestions": ",".join(accepted),
            "override_code": reason.reason.code if reason and reason.reason else None,
            "override_display": reason.reason.display if reason and reason.reason else None,
            "override_comment": reason.userComment if reason else None,
            "outcome_at": entry.outcomeTimestamp, "recorded_by": recorded_by[:200], "recorded_at": now,
        })
    conn.execute(cds_feedback.insert(), rows)
    return len(rows)


def outcomes(conn: Connection, *, card_uuid: str) -> list[dict[str, Any]]:
    """The feedback recorded on one card, oldest first."""
    result = conn.execute(sa.select(cds_feedback).where(cds_feedback.c.card_uuid == card_uuid)
                          .order_by(cds_feedback.c.id))
    return [dict(row._mapping) for row in result]
