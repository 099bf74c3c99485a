"""Password hashing (Argon2id) and the strength rules every new password must pass."""

import json
import unicodedata
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 128
# Passwords this long are passphrases: the character-kind rule no longer applies (NIST SP 800-63B).
PASSPHRASE_LENGTH = 16

# OWASP Password Storage Cheat Sheet, first Argon2id configuration (ASVS 2.4.1 / 2.4.4):
# 19 MiB of memory, 2 passes, 1 lane; about 50 ms per hash on one core. The larger RFC 9106
# profile (64 MiB, 4 lanes) took 200 ms and 64 MiB per concurrent login, which invites a
# denial of service on a small regional server. Changing these numbers is safe: hashes made with
# other parameters still verify, and authenticate() rehashes them at the next good login.
TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1
HASH_LENGTH = 32
SALT_LENGTH = 16

_hasher = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=HASH_LENGTH,
    salt_len=SALT_LENGTH,
    type=Type.ID,
)


def _normalized(password: str) -> str:
    # The same password typed on another keyboard or input method must give the same hash.
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    """Hash a password with Argon2id and a fresh random salt (the PHC string holds the parameters)."""
    return _hasher.hash(_normalized(password))


def verify_password(password_hash: str, password: str) -> bool:
    """True if password matches the hash; False for a wrong password or a malformed hash, never raising."""
    if not isinstance(password_hash, str) or not isinstance(password, str):
        return False
    try:
        return _hasher.verify(password_hash, _normalized(password))
    except (VerificationError, InvalidHashError, ValueError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True if the hash was made with other parameters than today's and should be replaced."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("timing equaliser for unknown users")


def spend_verify_time(password: str) -> None:
    """Do the work of one verification against a throwaway hash, so unknown usernames take as long."""
    verify_password(_dummy_hash(), password)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The bundled list of the most common passwords, case-folded (see data/common_passwords.json)."""
    data = json.loads((Path(__file__).parent / "data" / "common_passwords.json").read_text("utf-8"))
    return frozenset(_normalized(p).casefold() for p in data["passwords"])


def _kinds(password: str) -> int:
    # Uncased letters (Chinese characters, for instance) count with symbols as "other".
    lower = any(c.islower() for c in password)
    upper = any(c.isupper() for c in password)
    digit = any(c.isdigit() for c in password)
    other = any(not (c.islower() or c.isupper() or c.isdigit()) for c in password)
    return lower + upper + digit + other


def password_problems(password: str, *, username: str, extra_words: tuple[str, ...] = ()) -> list[str]:
    """The strength rules password breaks, as stable message keys; an empty list means it is acceptable.

    Keys: too_short, too_long, same_as_username, contains_personal_word, too_common, too_few_kinds.
    """
    text = _normalized(password)
    folded = text.casefold()
    problems = []
    if len(text) < MIN_LENGTH:
        problems.append("too_short")
    if len(text) > MAX_LENGTH:
        problems.append("too_long")
    name = username.casefold()
    if name and (folded == name or folded == name[::-1] or (len(name) >= 4 and name in folded)):
        problems.append("same_as_username")
    if any(len(w) >= 4 and w.casefold() in folded for w in extra_words):
        problems.append("contains_personal_word")
    if folded in common_passwords():
        problems.append("too_common")
    if len(text) < PASSPHRASE_LENGTH and _kinds(text) < 3:
        problems.append("too_few_kinds")
    return problems
