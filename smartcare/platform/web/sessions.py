"""Web sign-in sessions for people: server-side records behind the sc_session cookie, with idle and absolute expiry."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.platform import clock
from smartcare.platform.clock import format_instant, parse_instant
from smartcare.platform.schema import metadata

COOKIE_NAME = "sc_session"
ABSOLUTE_LIFETIME = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)  # how often a session's idle timer is written down (it is read on every page)
IDLE_TIMEOUT = timedelta(minutes=30)
# A session id is 32 random bytes in URL-safe base64 (43 characters); anything much longer is not ours.
_MAX_SESSION_ID = 64

# Only the hash of a session id is stored, so a leaked copy of the table signs no one in.
web_session = sa.Table(
    "web_session",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(36), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("last_seen", sa.String(32), nullable=False),
    sa.Column("expires", sa.String(32), nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
)


@dataclass(frozen=True, slots=True)
class Session:
    """A live sign-in: whose it is and the token its forms must carry."""

    id_hash: str
    user_id: str
    csrf_token: str
    created: str
    expires: str


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(conn: Connection, *, user_id: str) -> tuple[str, str]:
    """Open a new session for user_id and return (session id for the cookie, its CSRF token)."""
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = clock.now()
    conn.execute(web_session.insert().values(
        id_hash=_hash(session_id),
        user_id=user_id,
        csrf_token=csrf,
        created=format_instant(now),
        last_seen=format_instant(now),
        expires=format_instant(now + ABSOLUTE_LIFETIME),
        revoked=False,
    ))
    return session_id, csrf


def load_session(conn: Connection, session_id: str | None) -> Session | None:
    """The live session with this id, its idle timer restarted; None if unknown, revoked, idle too long or expired."""
    if not session_id or len(session_id) > _MAX_SESSION_ID:
        return None
    id_hash = _hash(session_id)
    row = conn.execute(sa.select(web_session).where(web_session.c.id_hash == id_hash)).one_or_none()
    now = clock.now()
    if (
        row is None
        or row.revoked
        or now >= parse_instant(row.expires)
        or now - parse_instant(row.last_seen) >= IDLE_TIMEOUT
    ):
        return None
    if now - parse_instant(row.last_seen) >= TOUCH_EVERY:
        # Restarted at most once a minute: a write on every page was one more statement and commit on each.
        conn.execute(web_session.update().where(web_session.c.id_hash == id_hash).values(last_seen=format_instant(now)))
    return Session(id_hash=id_hash, user_id=row.user_id, csrf_token=row.csrf_token, created=row.created,
                   expires=row.expires)


def end_session(conn: Connection, session_id: str | None) -> None:
    """Revoke one session (sign out in this browser); an unknown id is ignored."""
    if not session_id or len(session_id) > _MAX_SESSION_ID:
        return
    conn.execute(web_session.update().where(web_session.c.id_hash == _hash(session_id)).values(revoked=True))


def end_all_sessions(conn: Connection, *, user_id: str) -> int:
    """Revoke every session of a user (sign out everywhere); returns how many were live."""
    done = conn.execute(
        web_session.update().where(web_session.c.user_id == user_id, web_session.c.revoked.is_(False))
        .values(revoked=True)
    )
    return done.rowcount
