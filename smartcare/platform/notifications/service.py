"""Notify a person: an inbox row and delivery jobs for their chosen channels, in the caller's transaction."""

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.platform import clock
from smartcare.platform.clock import format_instant
from smartcare.platform.db import pending_events
from smartcare.platform.events import DomainEvent
from smartcare.platform.jobs import enqueue
from smartcare.platform.notifications import texts
from smartcare.platform.notifications.preferences import delivery_time, get_preferences
from smartcare.platform.notifications.tables import notification
from smartcare.platform.security import users

NOTIFICATION_CREATED = "NotificationCreated"
DELIVER_JOB = "notifications.deliver"
DELIVER_ATTEMPTS = 6
MAX_TITLE = 200
MAX_BODY = 2000
MAX_LINK = 500
INBOX_PAGE = 50
# The key of a notification's data that keeps its title and body as messages (texts.py), to show in each reader's words.
TEXTS = "texts"


class NotificationError(Exception):
    """A notification that cannot be sent as asked (no such person, empty or over-long text, outside link)."""


def _checked(title: str, body: str, link: str | None) -> tuple[str, str, str | None]:
    title, body = title.strip(), body.strip()
    if not 0 < len(title) <= MAX_TITLE:
        raise NotificationError(f"a notification title is 1-{MAX_TITLE} characters")
    if len(body) > MAX_BODY:
        raise NotificationError(f"a notification body is at most {MAX_BODY} characters")
    # Only links within SmartCare: a notification must never send people to another site.
    if link is not None and not (link.startswith("/") and not link.startswith("//") and "\\" not in link
                                 and len(link) <= MAX_LINK):
        raise NotificationError("a notification link is a path within SmartCare, like /inbox")
    return title, body, link


def notify(conn: Connection, *, user_id: str, kind: str, title: str = "", body: str = "", link: str | None = None,
           data: dict[str, Any] | None = None, title_text: dict[str, Any] | None = None,
           body_text: dict[str, Any] | None = None) -> str:
    """Put a notification in a person's inbox and queue its delivery on the channels they chose for kind
    (held back to the end of their quiet hours); returns its id. Browsers get it once the caller commits.

    With title_text and body_text (texts.message), the notice is put into words in each reader's language when it
    is shown; title and body, when not given, are those words in the person's own language."""
    try:
        person = users.get_user(conn, user_id=user_id)
    except users.UserNotFound as exc:
        raise NotificationError(f"there is no user {user_id[:36]!r} to notify") from exc
    try:
        wording = {part: texts.check(spec) for part, spec in (("title", title_text), ("body", body_text)) if spec}
    except ValueError as exc:
        raise NotificationError(str(exc)) from exc
    if wording:
        if not title and "title" in wording:
            title = texts.render(wording["title"], person.locale)[:MAX_TITLE]
        if not body and "body" in wording:
            body = texts.render(wording["body"], person.locale)[:MAX_BODY]
        data = {**(data or {}), TEXTS: wording}
    title, body, link = _checked(title, body, link)
    now = clock.now()
    notification_id = str(uuid.uuid4())
    row = {"id": notification_id, "user_id": user_id, "kind": kind[:64], "title": title, "body": body,
           "link": link, "data": data, "created": format_instant(now), "read": None}
    conn.execute(notification.insert().values(**row))
    prefs = get_preferences(conn, user_id=user_id)
    send_at = delivery_time(prefs, now)
    for channel in prefs.channels.get(kind, ()):
        enqueue(conn, kind=DELIVER_JOB, payload={"notification": notification_id, "channel": channel},
                run_at=send_at, key=f"notify:{notification_id}:{channel}", max_attempts=DELIVER_ATTEMPTS)
    pending_events(conn).append(DomainEvent(NOTIFICATION_CREATED, {"user_id": user_id, "notification": shown(row),
                                                                   "wording": wording_of(row)}))
    return notification_id


def shown(row: Any, locale: str | None = None) -> dict[str, Any]:
    """A notification as pages and the live push show it: in locale's words when it keeps its message (and a locale
    is given), else as it was written."""
    values = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    found = {key: values[key] for key in ("id", "kind", "title", "body", "link", "created", "read")}
    return in_language(found, (values.get("data") or {}).get(TEXTS), locale) if locale else found


def in_language(found: dict[str, Any], wording: dict[str, Any] | None, locale: str) -> dict[str, Any]:
    """found (a shown notification) with its title and body put into locale's words from wording, if it has any."""
    if not isinstance(wording, dict):
        return found
    changed = dict(found)
    for part, limit in (("title", MAX_TITLE), ("body", MAX_BODY)):
        if isinstance(wording.get(part), dict):
            changed[part] = texts.render(wording[part], locale)[:limit]
    return changed


def wording_of(row: Any) -> dict[str, Any] | None:
    """The messages a notification row keeps to be put into each reader's words, if any."""
    values = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    wording = (values.get("data") or {}).get(TEXTS)
    return wording if isinstance(wording, dict) else None


def inbox(conn: Connection, *, user_id: str, limit: int = INBOX_PAGE, locale: str | None = None) -> list[dict[str, Any]]:
    """A person's newest notifications, newest first (in locale's words where a notice keeps its message)."""
    rows = conn.execute(sa.select(notification).where(notification.c.user_id == user_id)
                        .order_by(notification.c.created.desc(), notification.c.id).limit(limit))
    return [shown(r, locale) for r in rows]


def unread_about(conn: Connection, *, user_id: str, kind: str, key: str, value: str) -> bool:
    """Whether the person has an unread notification of kind whose data names value under key (a notice that
    already says "your doctor replied" needs no second one until it is read)."""
    rows = conn.execute(sa.select(notification.c.data).where(
        notification.c.user_id == user_id, notification.c.kind == kind[:64], notification.c.read.is_(None)))
    return any((data or {}).get(key) == value for (data,) in rows)


def unread_count(conn: Connection, *, user_id: str) -> int:
    """How many of a person's notifications are unread."""
    return conn.execute(sa.select(sa.func.count()).select_from(notification)
                        .where(notification.c.user_id == user_id, notification.c.read.is_(None))).scalar_one()


def mark_read(conn: Connection, *, user_id: str, notification_id: str) -> bool:
    """Mark one of the person's own notifications read; False if it is not theirs or already read."""
    done = conn.execute(notification.update().where(
        notification.c.id == notification_id, notification.c.user_id == user_id, notification.c.read.is_(None),
    ).values(read=format_instant(clock.now())))
    return bool(done.rowcount)


def mark_all_read(conn: Connection, *, user_id: str) -> int:
    """Mark all of a person's notifications read; returns how many were unread."""
    done = conn.execute(notification.update().where(notification.c.user_id == user_id, notification.c.read.is_(None))
                        .values(read=format_instant(clock.now())))
    return done.rowcount


def get_notification(conn: Connection, *, notification_id: str, locale: str | None = None) -> dict[str, Any] | None:
    """One notification with its owner (in locale's words where it keeps its message), or None."""
    row = conn.execute(sa.select(notification).where(notification.c.id == notification_id)).one_or_none()
    return {**shown(row, locale), "user_id": row.user_id} if row else None
