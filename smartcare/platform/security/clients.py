"""Registered OAuth2 clients (systems, devices, apps) and refresh tokens, stored only as hashes.

Client secrets and refresh tokens are 256-bit random strings, so a SHA-256 digest is enough to
store them safely (a slow password hash is for secrets people choose). Refresh tokens rotate:
each use revokes the token and issues a new one, and reusing a revoked token revokes the
whole family, which is how a stolen refresh token is noticed. A backend client may instead (or as well)
register a public key set and authenticate with signed assertions (assertions.py); each assertion's jti is kept
in the database until it expires, so an assertion is accepted once, by whichever server process sees it first.
"""

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from smartcare.platform import clock
from smartcare.platform.schema import metadata
from smartcare.platform.security import assertions
from smartcare.platform.security.scopes import ScopeSet, parse_scopes
from smartcare.platform.security.tables import oauth_assertion_jti

REFRESH_TOKEN_DAYS = 30
CLIENT_KINDS = ("system", "device", "app")
_CLIENT_NAME = re.compile(r"[\w .\-]{3,100}")

oauth_client = sa.Table(
    "oauth_client",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("secret_hash", sa.String(64)),
    # The most a token for this client may carry; requests are narrowed to it.
    sa.Column("scopes", sa.String(2048), nullable=False),
    sa.Column("fhir_ref", sa.String(128)),
    sa.Column("organization", sa.String(128)),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created", sa.String(32), nullable=False),
    # The public keys (JWKS JSON) a backend client signs its assertions with; None for secret-only clients.
    sa.Column("jwks", sa.Text),
)

refresh_token = sa.Table(
    "oauth_refresh_token",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("family", sa.String(64), nullable=False, index=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(64), index=True),
    sa.Column("scopes", sa.String(2048), nullable=False),
    sa.Column("expires", sa.String(32), nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
)


class ClientError(ValueError):
    """A client that cannot be registered or authenticated; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class Client:
    """A registered client, without its secret."""

    client_id: str
    name: str
    kind: str
    scopes: ScopeSet
    fhir_ref: str | None
    organization: str | None
    disabled: bool


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _client(row: sa.Row) -> Client:
    return Client(row.client_id, row.name, row.kind, parse_scopes(row.scopes), row.fhir_ref, row.organization,
                  row.disabled)


def register_client(
    conn: Connection,
    *,
    name: str,
    kind: str,
    scopes: str,
    fhir_ref: str | None = None,
    organization: str | None = None,
    public: bool = False,
    jwks: str | None = None,
) -> tuple[Client, str | None]:
    """Register a client; returns it with its secret (shown once, never stored), None for public apps.

    jwks, a public key set, lets a system or device client authenticate with signed assertions; with it, public
    means no secret at all (keys only).
    """
    if not _CLIENT_NAME.fullmatch(name or ""):
        raise ClientError("A client name is 3-100 letters, digits, spaces, dots or dashes")
    if kind not in CLIENT_KINDS:
        raise ClientError(f"The kind of client is one of {', '.join(CLIENT_KINDS)}")
    allowed = parse_scopes(scopes)
    key_set = _key_set(kind, jwks) if jwks is not None else None
    if kind in ("system", "device") and public and key_set is None:
        raise ClientError("System and device clients must authenticate with a secret or a registered key set")
    client_id = f"{kind}-{uuid.uuid4().hex[:20]}"
    secret = None if public else secrets.token_urlsafe(32)
    conn.execute(
        oauth_client.insert().values(
            client_id=client_id,
            name=name,
            kind=kind,
            secret_hash=_digest(secret) if secret else None,
            scopes=str(allowed),
            fhir_ref=fhir_ref,
            organization=organization,
            disabled=False,
            created=clock.format_instant(clock.now()),
            jwks=key_set,
        )
    )
    return Client(client_id, name, kind, allowed, fhir_ref, organization, False), secret


def get_client(conn: Connection, *, client_id: str) -> Client | None:
    """The client with this id, or None."""
    row = conn.execute(sa.select(oauth_client).where(oauth_client.c.client_id == client_id[:64])).first()
    return _client(row) if row else None


def list_clients(conn: Connection) -> list[Client]:
    """Every registered client, by name."""
    return [_client(r) for r in conn.execute(sa.select(oauth_client).order_by(oauth_client.c.name))]


def set_disabled(conn: Connection, *, client_id: str, disabled: bool) -> None:
    """Disable (or enable again) a client; a disabled client gets no new tokens."""
    done = conn.execute(oauth_client.update().where(oauth_client.c.client_id == client_id).values(disabled=disabled))
    if done.rowcount == 0:
        raise ClientError(f"No client '{client_id[:64]}'")


def _key_set(kind: str, jwks: str) -> str:
    if kind not in ("system", "device"):
        raise ClientError("Only system and device clients authenticate with a key set")
    try:
        return assertions.checked_key_set(jwks)
    except assertions.InvalidKeySet as exc:
        raise ClientError(str(exc)) from exc


def set_key_set(conn: Connection, *, client_id: str, jwks: str | None) -> None:
    """Give a client its public key set (replacing any it had), or take it away with None."""
    row = conn.execute(sa.select(oauth_client.c.kind, oauth_client.c.secret_hash)
                       .where(oauth_client.c.client_id == client_id[:64])).first()
    if row is None:
        raise ClientError(f"No client '{client_id[:64]}'")
    if jwks is None and row.secret_hash is None:
        raise ClientError("This client has no secret: its keys are the only way it can authenticate")
    key_set = _key_set(row.kind, jwks) if jwks is not None else None
    conn.execute(oauth_client.update().where(oauth_client.c.client_id == client_id[:64]).values(jwks=key_set))


def authenticate_client(conn: Connection, *, client_id: str, secret: str | None) -> Client:
    """The client, if the id is known, enabled and the secret matches (public apps have none)."""
    row = conn.execute(sa.select(oauth_client).where(oauth_client.c.client_id == (client_id or "")[:64])).first()
    expected = row.secret_hash if row else _digest("unknown-client")
    if row is None or row.disabled:
        raise ClientError("Unknown or disabled client")
    if expected is None:
        if row.kind != "app":
            raise ClientError("This client authenticates with a signed assertion (private_key_jwt), not a secret")
        if secret:
            raise ClientError("This client has no secret")
        return _client(row)
    if not secret or not hmac.compare_digest(expected, _digest(secret)):
        raise ClientError("The client secret is wrong")
    return _client(row)


def authenticate_assertion(conn: Connection, *, assertion: str, audiences: Collection[str],
                           client_id: str | None = None) -> Client:
    """The client that signed a client assertion, once its keys, claims and one-time jti check out.

    client_id, when the request names one, must be the assertion's issuer. The jti is kept until the assertion
    expires; the same assertion offered again, here or to another server process, is refused.
    """
    try:
        issuer = assertions.unverified_issuer(assertion)
    except assertions.InvalidAssertion as exc:
        raise ClientError(str(exc)) from exc
    if client_id and client_id != issuer:
        raise ClientError("client_id and the assertion's iss name different clients")
    row = conn.execute(sa.select(oauth_client).where(oauth_client.c.client_id == issuer[:64])).first()
    if row is None or row.disabled or row.client_id != issuer:
        raise ClientError("Unknown or disabled client")
    if not row.jwks:
        raise ClientError("This client has no registered keys: it authenticates with its secret")
    now = clock.now()
    try:
        claims = assertions.verify_assertion(assertion, client_id=row.client_id, key_set=row.jwks,
                                             audiences=audiences, now=now)
    except assertions.InvalidAssertion as exc:
        raise ClientError(str(exc)) from exc
    _spend_jti(conn, claims, now=clock.format_instant(now))
    return _client(row)


def _spend_jti(conn: Connection, claims: assertions.AssertionClaims, *, now: str) -> None:
    """Record an assertion's jti as used, or refuse it if it already was (the primary key decides races)."""
    conn.execute(oauth_assertion_jti.delete().where(oauth_assertion_jti.c.client_id == claims.client_id,
                                                    oauth_assertion_jti.c.expires < now))
    insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(oauth_assertion_jti)
    kept = conn.execute(insert.values(client_id=claims.client_id, jti=claims.jti,
                                      expires=clock.format_instant(claims.expires_at))
                        .on_conflict_do_nothing(index_elements=["client_id", "jti"])
                        .returning(oauth_assertion_jti.c.jti)).first()
    if kept is None:
        raise ClientError("This assertion's jti was already used: sign a new assertion for every request")


def issue_refresh_token(conn: Connection, *, client_id: str, user_id: str | None, scopes: ScopeSet,
                        family: str | None = None) -> str:
    """A new refresh token (returned once; only its digest is kept)."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        refresh_token.insert().values(
            token_hash=_digest(token),
            family=family or uuid.uuid4().hex,
            client_id=client_id,
            user_id=user_id,
            scopes=str(scopes),
            expires=clock.format_instant(clock.now() + timedelta(days=REFRESH_TOKEN_DAYS)),
            revoked=False,
        )
    )
    return token


@dataclass(frozen=True, slots=True)
class RefreshGrant:
    """What a used refresh token stood for, and the token that replaces it."""

    client_id: str
    user_id: str | None
    scopes: ScopeSet
    new_token: str


def use_refresh_token(conn: Connection, *, token: str, client_id: str) -> RefreshGrant:
    """Exchange a refresh token for a new one (rotation); reuse of a spent token revokes its family."""
    row = conn.execute(sa.select(refresh_token).where(refresh_token.c.token_hash == _digest(token or ""))).first()
    if row is None or row.client_id != client_id:
        raise ClientError("Unknown refresh token")
    if row.revoked:
        conn.execute(refresh_token.update().where(refresh_token.c.family == row.family).values(revoked=True))
        raise ClientError("This refresh token was already used; all tokens from it are now revoked")
    if row.expires <= clock.format_instant(clock.now()):
        raise ClientError("The refresh token has expired")
    conn.execute(refresh_token.update().where(refresh_token.c.token_hash == row.token_hash).values(revoked=True))
    scopes = parse_scopes(row.scopes)
    new = issue_refresh_token(conn, client_id=client_id, user_id=row.user_id, scopes=scopes, family=row.family)
    return RefreshGrant(row.client_id, row.user_id, scopes, new)


def revoke_user_tokens(conn: Connection, *, user_id: str) -> int:
    """Revoke every refresh token of a user (logout everywhere, lock, password reset); returns how many."""
    done = conn.execute(
        refresh_token.update().where(refresh_token.c.user_id == user_id, refresh_token.c.revoked.is_(False))
        .values(revoked=True)
    )
    return done.rowcount
