"""Signed, short-lived access tokens (JWS, HS256) carrying who the caller is and their SMART scopes.

The signing key comes from SMARTCARE_TOKEN_KEY or, failing that, a random key created once in
the data directory with owner-only permissions. Only HS256 is accepted on the way in, so a
token that names another algorithm (or `none`) is refused before its claims are read.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

import jwt

from smartcare.platform import clock
from smartcare.platform.security.keys import platform_key
from smartcare.platform.security.scopes import InvalidScope, ScopeSet, parse_scopes

ALGORITHM = "HS256"
ISSUER = "smartcare"
ACCESS_TOKEN_MINUTES = 15
MAX_TOKEN_LENGTH = 8192


class InvalidToken(Exception):
    """A token that is malformed, forged, expired or otherwise not to be trusted; the message says which."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified access token says about its bearer."""

    subject: str  # user id or client id
    kind: str  # "user", "client" or "device"
    name: str  # username or client name, for audit
    roles: frozenset[str]
    scopes: ScopeSet
    organization: str | None
    fhir_user: str | None  # e.g. Practitioner/prac-0001
    patient: str | None  # launch context: the patient whose compartment patient/ scopes mean
    token_id: str
    expires_at: int


def signing_key() -> bytes:
    """The HS256 key: SMARTCARE_TOKEN_KEY (hex) if set, else data_dir/keys/token-signing.key."""
    return platform_key("SMARTCARE_TOKEN_KEY", "token-signing.key")


def issue_access_token(
    *,
    subject: str,
    kind: str,
    name: str,
    roles: frozenset[str] | set[str],
    scopes: ScopeSet,
    audience: str,
    organization: str | None = None,
    fhir_user: str | None = None,
    patient: str | None = None,
    minutes: int = ACCESS_TOKEN_MINUTES,
) -> tuple[str, int]:
    """Sign an access token for audience (the FHIR base URL); returns (token, lifetime in seconds)."""
    now = clock.now()
    claims = {
        "iss": ISSUER,
        "aud": audience,
        "sub": subject,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=minutes)).timestamp()),
        "jti": str(uuid.uuid4()),
        "kind": kind,
        "name": name,
        "roles": sorted(roles),
        "scope": str(scopes),
    }
    for claim, value in (("org", organization), ("fhirUser", fhir_user), ("patient", patient)):
        if value:
            claims[claim] = value
    return jwt.encode(claims, signing_key(), algorithm=ALGORITHM), minutes * 60


def verify_access_token(token: str, *, audience: str) -> TokenClaims:
    """Check signature, algorithm, issuer, audience and expiry; return the claims or raise InvalidToken."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("The access token is missing or too long")
    claims = _verified(token, audience, signing_key())
    if claims.expires_at <= clock.now().timestamp():
        raise InvalidToken("The access token has expired")
    return claims


@lru_cache(maxsize=4096)
def _verified(token: str, audience: str, key: bytes) -> TokenClaims:
    """The claims of a token whose signature, algorithm, issuer and audience hold (expiry aside).

    Remembered per token and key: a client sends the same token with every request, and checking
    the signature again gives the same answer. Refusals raise, so they are never remembered.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("The access token is not a signed token") from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"Tokens signed with '{str(header.get('alg'))[:20]}' are not accepted")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "aud", "iss", "jti"]},
            leeway=0,
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("The access token has expired") from exc
    except jwt.InvalidAudienceError as exc:
        raise InvalidToken("The access token was issued for another server") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("The access token's signature or claims are invalid") from exc
    try:
        scopes = parse_scopes(str(claims.get("scope", "")))
    except InvalidScope as exc:
        raise InvalidToken("The access token's scopes are invalid") from exc
    return TokenClaims(
        subject=str(claims["sub"]),
        kind=str(claims.get("kind", "user")),
        name=str(claims.get("name", claims["sub"])),
        roles=frozenset(str(r) for r in claims.get("roles", [])),
        scopes=scopes,
        organization=claims.get("org"),
        fhir_user=claims.get("fhirUser"),
        patient=claims.get("patient"),
        token_id=str(claims["jti"]),
        expires_at=int(claims["exp"]),
    )
