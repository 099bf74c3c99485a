"""Time-based one-time passwords (RFC 6238 TOTP over RFC 4226 HOTP), as authenticator apps use them."""

import base64
import hashlib
import hmac
import secrets
import struct
from datetime import datetime
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
# 160 bits, the key length RFC 4226 recommends for HMAC-SHA-1.
SECRET_BYTES = 20


def new_secret() -> str:
    """A fresh random shared secret, base32-encoded without padding (what authenticator apps expect)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    text = secret.strip().replace(" ", "").upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def time_step(moment: datetime) -> int:
    """The RFC 6238 time step (counter) that moment falls in."""
    return int(moment.timestamp()) // STEP_SECONDS


def hotp(secret: str, counter: int, *, digits: int = DIGITS) -> str:
    """The RFC 4226 HOTP value for counter, zero-padded to digits."""
    mac = hmac.new(_key(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp_at(secret: str, moment: datetime, *, digits: int = DIGITS) -> str:
    """The TOTP code valid at moment."""
    return hotp(secret, time_step(moment), digits=digits)


def matching_step(secret: str, code: str, *, at: datetime, window: int = 1, digits: int = DIGITS) -> int | None:
    """The time step within ±window steps of at whose code equals code, or None."""
    if not isinstance(code, str) or len(code) != digits or not code.isascii() or not code.isdigit():
        return None
    try:
        key_ok = bool(_key(secret))
    except ValueError:
        return None
    if not key_ok:
        return None
    now = time_step(at)
    found = None
    # Compare every candidate in constant time and do not stop early, so timing says nothing.
    for step in range(now - window, now + window + 1):
        if hmac.compare_digest(hotp(secret, step, digits=digits), code) and found is None:
            found = step
    return found


def verify_totp(secret: str, code: str, *, at: datetime, window: int = 1, digits: int = DIGITS) -> bool:
    """True if code is the TOTP of at, or of up to window steps before or after (clock drift)."""
    return matching_step(secret, code, at=at, window=window, digits=digits) is not None


def provisioning_uri(secret: str, username: str, issuer: str = "SmartCare") -> str:
    """The otpauth:// URI an authenticator app reads from a QR code."""
    label = quote(f"{issuer}:{username}", safe=":@")
    query = urlencode({"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS, "period": STEP_SECONDS})
    return f"otpauth://totp/{label}?{query}"
