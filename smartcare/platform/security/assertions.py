"""Signed JWT client assertions (SMART Backend Services, `private_key_jwt`): public key sets, signing and checking.

A backend client registers a set of public keys (a JWKS) instead of, or beside, a secret. To get a token it signs a
short-lived JWT with its private key (RS384 or ES384, `kid` naming the key): iss and sub are its client id, aud is
the token endpoint's URL, exp at most five minutes ahead, and a jti never used before. Nothing here touches the
database: clients.py looks the client up and remembers the jti.
"""

import base64
import hashlib
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS384", "ES384")
MAX_LIFETIME_SECONDS = 5 * 60
# Allowance for the client's clock and ours disagreeing a little, on either side.
CLOCK_SKEW_SECONDS = 30
# What a client asks for when it signs: short, yet long enough for a slow network and a clock a little off.
SIGNED_LIFETIME_SECONDS = 2 * 60
MAX_KEY_SET_BYTES = 16 * 1024
MAX_KEYS = 10
MIN_RSA_BITS = 2048
MAX_KID_LENGTH = 200
MAX_JTI_LENGTH = 255
_KTY_OF = {"RS384": "RSA", "ES384": "EC"}
_PUBLIC_MEMBERS = {"kty", "kid", "alg", "use", "key_ops", "crv", "x", "y", "n", "e"}
_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


class InvalidKeySet(ValueError):
    """A key set that cannot be registered; the message says why and is safe to show."""


class InvalidAssertion(ValueError):
    """A client assertion that is refused; the message says why and is safe to send back."""


@dataclass(frozen=True, slots=True)
class AssertionClaims:
    """What a verified assertion says: who signed it, its one-time id and until when it could be used."""

    client_id: str
    jti: str
    expires_at: datetime


def _check_key(jwk: Any) -> dict[str, Any]:
    if not isinstance(jwk, dict):
        raise InvalidKeySet("Each entry of 'keys' is a JSON object (a JWK)")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise InvalidKeySet("The key set holds a private key: register the public keys only")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH:
        raise InvalidKeySet(f"Every key needs a 'kid' of 1-{MAX_KID_LENGTH} characters")
    if jwk.get("kty") not in ("RSA", "EC"):
        raise InvalidKeySet(f"Key '{kid[:40]}': kty must be RSA or EC")
    if "alg" in jwk and _KTY_OF.get(jwk["alg"]) != jwk["kty"]:
        raise InvalidKeySet(f"Key '{kid[:40]}': alg must be RS384 (RSA) or ES384 (EC P-384)")
    if jwk.get("use", "sig") != "sig":
        raise InvalidKeySet(f"Key '{kid[:40]}': use must be sig")
    try:
        if jwk["kty"] == "EC":
            if jwk.get("crv") != "P-384":
                raise InvalidKeySet(f"Key '{kid[:40]}': an EC key must be on curve P-384 (ES384)")
            ECAlgorithm.from_jwk(jwk)
        elif RSAAlgorithm.from_jwk(jwk).key_size < MIN_RSA_BITS:
            raise InvalidKeySet(f"Key '{kid[:40]}': an RSA key must have at least {MIN_RSA_BITS} bits")
    except (jwt.PyJWTError, ValueError) as exc:
        if isinstance(exc, InvalidKeySet):
            raise
        raise InvalidKeySet(f"Key '{kid[:40]}' is not a valid public key") from exc
    return {k: v for k, v in jwk.items() if k in _PUBLIC_MEMBERS}


def checked_key_set(text: str | bytes) -> str:
    """The public key set (JWKS JSON) in text, checked and kept to its public members; InvalidKeySet otherwise."""
    if not text or len(text) > MAX_KEY_SET_BYTES:
        raise InvalidKeySet(f"A key set is JSON of at most {MAX_KEY_SET_BYTES // 1024} KiB")
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidKeySet("The key set is not JSON") from exc
    keys = parsed.get("keys") if isinstance(parsed, dict) else None
    if not isinstance(keys, list) or not 0 < len(keys) <= MAX_KEYS:
        raise InvalidKeySet(f'A key set is {{"keys": [...]}} with 1-{MAX_KEYS} public keys')
    checked = [_check_key(k) for k in keys]
    if len({k["kid"] for k in checked}) != len(checked):
        raise InvalidKeySet("Two keys in the set share a kid")
    return orjson.dumps({"keys": checked}).decode()


def _claim_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _signed_claims(token: str, *, client_id: str, key_set: str) -> dict[str, Any]:
    """The assertion's claims once its algorithm, kid and signature hold against the client's keys."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidAssertion("The client assertion is not a signed JWT") from exc
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise InvalidAssertion(f"Assertions signed with '{str(alg)[:20]}' are not accepted: use RS384 or ES384")
    kid = _claim_text(header.get("kid"))
    if kid is None:
        raise InvalidAssertion("The assertion's header names no kid")
    jwk = next((k for k in orjson.loads(key_set)["keys"] if k["kid"] == kid), None)
    if jwk is None:
        raise InvalidAssertion(f"No key registered for {client_id} has kid '{kid[:MAX_KID_LENGTH]}'")
    if jwk.get("alg", alg) != alg or jwk["kty"] != _KTY_OF[alg]:
        raise InvalidAssertion(f"The key '{kid[:MAX_KID_LENGTH]}' is not for {alg}")
    try:
        key = jwt.PyJWK(jwk, algorithm=alg)
        return jwt.decode(token, key, algorithms=[alg], options={
            "verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False, "verify_iss": False,
        })
    except jwt.InvalidSignatureError as exc:
        raise InvalidAssertion(f"The assertion's signature does not verify with the key '{kid[:40]}'") from exc
    except jwt.PyJWTError as exc:
        raise InvalidAssertion("The client assertion is malformed") from exc


def unverified_issuer(token: str) -> str:
    """The client id an assertion claims to come from (iss), read before anything is checked."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidAssertion("The client assertion is not a signed JWT") from exc
    issuer = _claim_text(claims.get("iss"))
    if issuer is None:
        raise InvalidAssertion("The assertion has no iss (the client id)")
    return issuer


def verify_assertion(token: str, *, client_id: str, key_set: str, audiences: Collection[str],
                     now: datetime) -> AssertionClaims:
    """Check an assertion's signature against the client's keys and its claims; InvalidAssertion says what failed."""
    claims = _signed_claims(token, client_id=client_id, key_set=key_set)
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise InvalidAssertion("The assertion's iss and sub must both be the client id")
    aud = claims.get("aud")
    named = aud if isinstance(aud, list) else [aud]
    if not any(isinstance(a, str) and a.rstrip("/") in audiences for a in named):
        raise InvalidAssertion(f"The assertion's aud must be this token endpoint, {sorted(audiences)[0]}")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise InvalidAssertion("The assertion has no exp (a time in whole seconds)")
    stamp = now.timestamp()
    if exp <= stamp - CLOCK_SKEW_SECONDS:
        raise InvalidAssertion("The assertion has expired")
    if exp > stamp + MAX_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS:
        raise InvalidAssertion("The assertion's exp is more than five minutes ahead")
    if isinstance(nbf, int | float) and nbf > stamp + CLOCK_SKEW_SECONDS:
        raise InvalidAssertion("The assertion is not valid yet (nbf)")
    jti = _claim_text(claims.get("jti"))
    if jti is None or len(jti) > MAX_JTI_LENGTH:
        raise InvalidAssertion(f"The assertion needs a jti, a unique id of 1-{MAX_JTI_LENGTH} characters")
    # Kept until the assertion could no longer pass the exp check above, whatever the clocks.
    until = datetime.fromtimestamp(exp, tz=now.tzinfo) + timedelta(seconds=CLOCK_SKEW_SECONDS)
    return AssertionClaims(client_id, jti, until)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def key_id(jwk: dict[str, Any]) -> str:
    """The RFC 7638 thumbprint of a public JWK, used as its kid."""
    members = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n")
    canonical = orjson.dumps({m: jwk[m] for m in members}, option=orjson.OPT_SORT_KEYS)
    return _b64(hashlib.sha256(canonical).digest())


def new_private_key(algorithm: str = "ES384") -> str:
    """A new private signing key for algorithm (ES384: P-384; RS384: 3072-bit RSA), as unencrypted PKCS#8 PEM."""
    if algorithm == "ES384":
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = ec.generate_private_key(ec.SECP384R1())
    elif algorithm == "RS384":
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    else:
        raise ValueError("The algorithm is ES384 or RS384")
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _loaded(private_pem: str) -> tuple[Any, str]:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key, ("ES384" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS384")


def public_key_set(private_pem: str) -> dict[str, Any]:
    """The JWKS holding the public half of a private key, to register with the server the client signs in to."""
    key, alg = _loaded(private_pem)
    tool = ECAlgorithm if alg == "ES384" else RSAAlgorithm
    jwk = tool.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": key_id(jwk), "alg": alg, "use": "sig", "key_ops": ["verify"]}]}


def sign_assertion(private_pem: str, *, client_id: str, token_url: str, now: datetime,
                   lifetime_seconds: int = SIGNED_LIFETIME_SECONDS) -> str:
    """A client assertion for token_url signed with the private key: iss = sub = client_id, a fresh jti."""
    key, alg = _loaded(private_pem)
    kid = public_key_set(private_pem)["keys"][0]["kid"]
    stamp = int(now.timestamp())
    claims = {"iss": client_id, "sub": client_id, "aud": token_url, "iat": stamp,
              "exp": stamp + min(lifetime_seconds, MAX_LIFETIME_SECONDS), "jti": uuid.uuid4().hex}
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, "typ": "JWT"})
