"""Sealing secrets kept in the database (TOTP seeds): AES-256-GCM with a key outside the database.

A copy of the database alone then reveals no second factors. The key comes from
SMARTCARE_FIELD_KEY (hex) or a file made once in the data directory. Each sealed value is
"v1:" + base64url(nonce || ciphertext || tag); the purpose and row it belongs to are bound in as
associated data, so a sealed value copied to another account does not open there.
"""

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from smartcare.platform.security.keys import platform_key

_PREFIX = "v1:"
_NONCE_BYTES = 12


class SealBroken(Exception):
    """A sealed value that is malformed, altered, sealed with another key or for another row."""


def _aead() -> AESGCM:
    return AESGCM(platform_key("SMARTCARE_FIELD_KEY", "field-encryption.key"))


def seal(plain: str, *, bound_to: str) -> str:
    """Encrypt plain for storage; bound_to (e.g. "totp:<user id>") must be given again to open it."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _aead().encrypt(nonce, plain.encode(), bound_to.encode())
    return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def unseal(value: str, *, bound_to: str) -> str:
    """The plain text of a value seal() made with the same bound_to; SealBroken otherwise."""
    if not value.startswith(_PREFIX):
        raise SealBroken("not a sealed value")
    body = value[len(_PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        return _aead().decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], bound_to.encode()).decode()
    except (ValueError, InvalidTag) as exc:
        raise SealBroken("the sealed value does not open with this key for this row") from exc
