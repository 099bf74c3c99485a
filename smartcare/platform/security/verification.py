"""One-time verification codes for sign-up and password reset, delivered through a pluggable channel.

A code is six digits from `secrets`, good for ten minutes and for one use; five wrong tries kill
it. Only an HMAC of it is stored, under a key kept outside the database, so a copy of the table
does not let anyone try the million codes offline. Sending is limited per destination (one code a
minute, a few an hour) and per sender's network address.

Channels deliver the code. The development channel "log" writes it to the `smartcare.verification`
logger at WARNING level, so it shows in the server's console with no logging set up; production
registers an SMS or e-mail gateway with `register_channel` and names it in
SMARTCARE_VERIFICATION_CHANNEL.
"""

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.platform import clock
from smartcare.platform.clock import format_instant, parse_instant
from smartcare.platform.schema import metadata
from smartcare.platform.security import throttle
from smartcare.platform.security.keys import platform_key
from smartcare.platform.security.throttle import Throttled
from smartcare.platform.settings import get_settings

log = logging.getLogger("smartcare.verification")

PURPOSES = ("signup", "reset")
CHANNELS = ("sms", "email")
# A decoy row stands in where no code may be sent (a password reset for nobody): it behaves like
# a real code in every way a caller can see, except that no code exists that matches it.
DECOY = "none"
CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 5
RESEND_INTERVAL_SECONDS = 60
DESTINATION_HOURLY_LIMIT = 5
SENDER_HOURLY_LIMIT = 20
HOUR = 3600
# Rows are kept a day past expiry, for questions about a code just sent, then deleted with the details they hold.
KEEP_EXPIRED = timedelta(days=1)
MAX_ADDRESS = 254
_MAX_CODE_INPUT = 16
_MAX_REMOTE = 64
_TICKET_LENGTH = 36

# One row per code sent; only a keyed hash of the code is kept.
verification_code = sa.Table(
    "verification_code",
    metadata,
    # The ticket: a random UUID the browser that asked for the code holds until it enters it.
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("purpose", sa.String(16), nullable=False),  # "signup" or "reset"
    sa.Column("channel", sa.String(16), nullable=False),  # "sms", "email", or "none" for a decoy
    sa.Column("address", sa.String(254), nullable=False),  # the phone number or e-mail address
    sa.Column("code_hash", sa.String(128), nullable=False),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("expires", sa.String(32), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("consumed", sa.String(32)),
    # What the code confirms once entered: the sign-up details, or the account a reset is for.
    sa.Column("details", sa.JSON),
)
sa.Index("ix_verification_code_address", verification_code.c.address, verification_code.c.purpose)


class VerificationError(Exception):
    """A code that cannot be sent or accepted; status_code is the HTTP status to answer with."""

    status_code = 400


class CodeRejected(VerificationError):
    """The code entered is wrong; attempts_left says how many more tries it allows."""

    def __init__(self, attempts_left: int):
        super().__init__(f"The code is wrong ({attempts_left} tries left)")
        self.attempts_left = attempts_left


class CodeUnusable(VerificationError):
    """The code can no longer be used: reason is "expired", "used" or "exhausted" (too many wrong tries)."""

    status_code = 410

    def __init__(self, reason: str):
        super().__init__(f"The code cannot be used: {reason}")
        self.reason = reason


class SendThrottled(VerificationError, Throttled):
    """Too many codes for this destination or from this network; try again after retry_after_seconds."""

    status_code = 429


class UnknownChannel(VerificationError):
    """The configured delivery channel is not registered."""

    status_code = 500


@dataclass(frozen=True, slots=True)
class OutgoingCode:
    """One code on its way to a person: what a channel must deliver, and where."""

    channel: str  # "sms" or "email"
    address: str
    code: str
    purpose: str
    expires: str


class Channel(Protocol):
    """Delivers verification codes (an SMS gateway, a mail server, or the development log)."""

    def deliver(self, message: OutgoingCode) -> None:
        """Send message.code to message.address, or raise."""
        ...


class LogChannel:
    """Development channel: writes the code to the `smartcare.verification` log instead of sending it."""

    def deliver(self, message: OutgoingCode) -> None:
        """Log the code, where a developer or a test reads it."""
        log.warning(
            "Verification code %s for %s to %s %s (valid until %s); development channel, nothing was sent",
            message.code, message.purpose, message.channel, message.address, message.expires,
        )


_channels: dict[str, Callable[[], Channel]] = {"log": LogChannel}


def register_channel(name: str, factory: Callable[[], Channel]) -> None:
    """Make a delivery channel available under name (chosen with SMARTCARE_VERIFICATION_CHANNEL)."""
    _channels[name] = factory


def active_channel() -> Channel:
    """The channel the settings name; UnknownChannel if none is registered under that name."""
    name = get_settings().verification_channel
    factory = _channels.get(name)
    if factory is None:
        raise UnknownChannel(f"No verification channel {name[:40]!r}; registered: {', '.join(sorted(_channels))}")
    return factory()


@dataclass(frozen=True, slots=True)
class PendingCode:
    """A code that was issued: the ticket that names it, where it went and what it confirms."""

    ticket: str
    purpose: str
    channel: str
    address: str
    details: dict[str, Any] | None
    expires: str


def _pending(row: sa.Row) -> PendingCode:
    return PendingCode(row.id, row.purpose, row.channel, row.address, row.details, row.expires)


def _code_hash(ticket: str, code: str) -> str:
    key = platform_key("SMARTCARE_VERIFICATION_KEY", "verification-code.key")
    return hmac.new(key, f"{ticket}:{code}".encode(), hashlib.sha256).hexdigest()


def _new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def limit_sender(conn: Connection, remote_addr: str | None) -> None:
    """Count one request for a code from this network address, or raise SendThrottled past the hourly limit."""
    try:
        throttle.check_and_count(conn, f"code-from:{(remote_addr or 'unknown')[:_MAX_REMOTE]}",
                                 limit=SENDER_HOURLY_LIMIT, window_seconds=HOUR)
    except Throttled as exc:
        raise SendThrottled(exc.retry_after_seconds) from None


def _limit_destination(conn: Connection, address: str) -> None:
    # Counters in the throttle table lock their rows, so two requests for one address take turns.
    # The first counts even when the second refuses: the caller's transaction then rolls both back.
    digest = hashlib.sha256(address.encode()).hexdigest()
    try:
        throttle.check_and_count(conn, f"code-gap:{digest}", limit=1, window_seconds=RESEND_INTERVAL_SECONDS)
        throttle.check_and_count(conn, f"code-to:{digest}", limit=DESTINATION_HOURLY_LIMIT, window_seconds=HOUR)
    except Throttled as exc:
        raise SendThrottled(exc.retry_after_seconds) from None


def _store(conn: Connection, *, purpose: str, channel: str, address: str, code: str,
           details: dict[str, Any] | None) -> PendingCode:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown verification purpose {purpose[:20]!r}")
    now = clock.now()
    conn.execute(sa.delete(verification_code).where(
        verification_code.c.expires < format_instant(now - KEEP_EXPIRED)))
    ticket = str(uuid.uuid4())
    expires = format_instant(now + CODE_LIFETIME)
    conn.execute(verification_code.insert().values(
        id=ticket, purpose=purpose, channel=channel, address=address, code_hash=_code_hash(ticket, code),
        created=format_instant(now), expires=expires, attempts=0, consumed=None, details=details,
    ))
    return PendingCode(ticket, purpose, channel, address, details, expires)


def issue(conn: Connection, *, purpose: str, channel: str, address: str,
          details: dict[str, Any] | None = None) -> PendingCode:
    """Make a code for address, store its hash and deliver it; SendThrottled when address had its share.

    The caller counts the sender first with limit_sender. Delivery happens inside the caller's
    transaction, so a failed delivery leaves no code behind.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown verification channel kind {channel[:20]!r}")
    if not address or len(address) > MAX_ADDRESS:
        raise ValueError(f"a verification address is 1-{MAX_ADDRESS} characters")
    _limit_destination(conn, address)
    code = _new_code()
    pending = _store(conn, purpose=purpose, channel=channel, address=address, code=code, details=details)
    active_channel().deliver(OutgoingCode(channel, address, code, purpose, pending.expires))
    return pending


def issue_decoy(conn: Connection, *, purpose: str, address: str, limited: bool = True) -> PendingCode:
    """A ticket that behaves like a real one (tries, expiry, send limits) but that no code matches; nothing is sent.

    limited=False leaves the send limits of address alone (for a decoy handed out because they were reached).
    """
    address = address[:MAX_ADDRESS]
    if limited:
        _limit_destination(conn, address)
    # The stored hash is of a fresh random code that is thrown away at once.
    return _store(conn, purpose=purpose, channel=DECOY, address=address, code=_new_code(), details=None)


def _row(conn: Connection, ticket: str, purpose: str, *, for_update: bool = False) -> sa.Row | None:
    if not ticket or len(ticket) > _TICKET_LENGTH:
        return None
    query = sa.select(verification_code).where(verification_code.c.id == ticket,
                                               verification_code.c.purpose == purpose)
    return conn.execute(query.with_for_update() if for_update else query).one_or_none()


def _unusable_reason(row: sa.Row | None) -> str | None:
    if row is None or clock.now() >= parse_instant(row.expires):
        return "expired"
    if row.consumed is not None:
        return "used"
    if row.attempts >= MAX_ATTEMPTS:
        return "exhausted"
    return None


def untried(conn: Connection, *, address: str, purpose: str) -> PendingCode | None:
    """The newest code sent to address that can still be entered and has had no tries yet, if any."""
    c = verification_code.c
    row = conn.execute(
        sa.select(verification_code)
        .where(c.address == address[:MAX_ADDRESS], c.purpose == purpose, c.consumed.is_(None), c.attempts == 0,
               c.expires > format_instant(clock.now()))
        .order_by(c.created.desc()).limit(1)
    ).one_or_none()
    return _pending(row) if row is not None else None


def find(conn: Connection, *, ticket: str, purpose: str) -> PendingCode | None:
    """The code this ticket names unless it was used; it may have expired or run out of tries (resend then)."""
    row = _row(conn, ticket, purpose)
    return _pending(row) if row is not None and row.consumed is None else None


def check(conn: Connection, *, ticket: str, purpose: str, code: str) -> PendingCode:
    """Accept the right code for ticket (it stays usable until consume), else raise.

    A wrong code counts a try and raises CodeRejected; the caller must commit even then, or the
    tries are never counted. CodeUnusable once the code expired, was used or had MAX_ATTEMPTS wrong tries.
    """
    row = _row(conn, ticket, purpose, for_update=True)
    reason = _unusable_reason(row)
    if reason is not None:
        raise CodeUnusable(reason)
    entered = "".join(code[:_MAX_CODE_INPUT].split())
    # A decoy accepts nothing, even the one code in a million that happens to match its hash.
    if hmac.compare_digest(_code_hash(row.id, entered), row.code_hash) and row.channel != DECOY:
        return _pending(row)
    conn.execute(sa.update(verification_code).where(verification_code.c.id == row.id)
                 .values(attempts=verification_code.c.attempts + 1))
    attempts_left = MAX_ATTEMPTS - row.attempts - 1
    if attempts_left <= 0:
        raise CodeUnusable("exhausted")
    raise CodeRejected(attempts_left)


def consume(conn: Connection, *, ticket: str) -> None:
    """Use the code up; CodeUnusable("used") if another request used it first."""
    done = conn.execute(
        sa.update(verification_code)
        .where(verification_code.c.id == ticket, verification_code.c.consumed.is_(None))
        .values(consumed=format_instant(clock.now()))
    )
    if done.rowcount != 1:
        raise CodeUnusable("used")


def resend(conn: Connection, *, ticket: str, purpose: str) -> PendingCode:
    """A new code to the same address for the same purpose; the old ticket stops working.

    Works while the old code is expired or exhausted too (that is what resending is for), but not
    after it was used, nor for a decoy. The caller counts the sender first with limit_sender.
    """
    row = _row(conn, ticket, purpose, for_update=True)
    if row is None or row.consumed is not None or row.channel == DECOY:
        raise CodeUnusable("used" if row is not None and row.consumed is not None else "expired")
    fresh = issue(conn, purpose=purpose, channel=row.channel, address=row.address, details=row.details)
    consume(conn, ticket=row.id)
    return fresh
