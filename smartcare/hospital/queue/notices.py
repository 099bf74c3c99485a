"""Telling patients about their place in the queue: when three are ahead, and when they are called.

The queue raises QueuePatientNear and QueuePatientCalled after its transaction commits; each becomes
a notification (inbox, live push, and the channels the person chose) for every account linked to
that patient, written in the language of that account.
"""

import logging
import threading

import sqlalchemy as sa

from smartcare.hospital.queue.service import PATIENT_CALLED, PATIENT_NEAR, room_label
from smartcare.platform import events, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications import notification_kind, notify
from smartcare.platform.security.tables import user_account

log = logging.getLogger(__name__)


def _(message: str) -> str:
    """Mark a label for the catalog; it is translated where it is shown."""
    return message


NEAR = notification_kind("queue.near", label=_("Your turn is near"), default_channels=("sms",))
CALLED = notification_kind("queue.called", label=_("You are called"), default_channels=("sms",))
_state = {"installed": False}
_lock = threading.Lock()


def _texts(conn, locale: str, event: events.DomainEvent) -> tuple[str, str]:
    t = i18n.translations(locale)
    number, room = event.payload["number"], room_label(conn, event.payload.get("room"), locale) or ""
    if event.name == PATIENT_CALLED:
        title = t.gettext("It is your turn: number %(number)s") % {"number": number}
        body = t.gettext("Please go to %(room)s now.") % {"room": room} if room else \
            t.gettext("Please go to the consulting room now.")
    else:
        title = t.gettext("Number %(number)s: three patients are ahead of you") % {"number": number}
        body = t.gettext("Please come to the waiting area so you do not miss your call.")
    return title, body


def _tell(event: events.DomainEvent) -> None:
    kind = CALLED.name if event.name == PATIENT_CALLED else NEAR.name
    try:
        with unit_of_work() as conn:
            accounts = conn.execute(sa.select(user_account.c.id, user_account.c.locale).where(
                user_account.c.fhir_ref == f"Patient/{event.payload['patient']}")).all()
            for account in accounts:
                title, body = _texts(conn, account.locale, event)
                notify(conn, user_id=account.id, kind=kind, title=title, body=body, link="/app/queue",
                       data={"number": event.payload["number"], "session": event.payload["session"]})
    except Exception:
        # The call itself stands; a lost notice is logged, never turned into a failed call.
        log.exception("could not notify patient %s about the queue", event.payload.get("patient"))


def install() -> None:
    """Turn queue events into notifications (once per process)."""
    with _lock:
        if not _state["installed"]:
            events.subscribe(PATIENT_CALLED, _tell)
            events.subscribe(PATIENT_NEAR, _tell)
            _state["installed"] = True
