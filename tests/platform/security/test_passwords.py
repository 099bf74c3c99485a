"""Passwords are hashed with Argon2id, verified safely, rehashed when parameters change, and checked for strength."""

import json
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type

from smartcare.platform.security import passwords
from smartcare.platform.security.passwords import (
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)

GOOD = "Harbour-Lantern-42"


def test_hash_is_argon2id_with_the_documented_parameters_and_a_fresh_salt():
    first, second = hash_password(GOOD), hash_password(GOOD)
    assert first.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert first != second
    assert GOOD not in first


def test_verify_accepts_the_right_password_and_refuses_a_wrong_one():
    stored = hash_password(GOOD)
    assert verify_password(stored, GOOD) is True
    assert verify_password(stored, GOOD.lower()) is False
    assert verify_password(stored, GOOD + " ") is False


@pytest.mark.parametrize(
    "garbage",
    ["", "not a hash", "$argon2id$v=19$m=19456,t=2,p=1$AAAA$BBBB", "$2b$12$abcdefghijklmnopqrstuv", "' OR 1=1 --", None],
)
def test_verify_returns_false_for_garbage_hashes_without_raising(garbage):
    assert verify_password(garbage, GOOD) is False


def test_unicode_passwords_verify_in_either_normal_form():
    composed, decomposed = "Caf\u00e9-\u5bc6\u7801-2024", "Cafe\u0301-\u5bc6\u7801-2024"
    assert verify_password(hash_password(composed), decomposed)


def test_hash_made_with_older_parameters_still_verifies_and_asks_for_a_rehash():
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID).hash(GOOD)
    assert verify_password(old, GOOD)
    assert needs_rehash(old) is True
    assert needs_rehash(hash_password(GOOD)) is False
    assert needs_rehash("garbage") is True


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Ab1!xyz", "too_short"),
        ("Ab1!" + "x" * 125, "too_long"),
        ("Dr.Wang-2024", "same_as_username"),
        ("my-dr.wang-2024-Pass", "same_as_username"),
        ("woaini1314", "too_common"),
        ("WoAiNi1314", "too_common"),
        ("1qaz2wsx3edc", "too_common"),
        ("Password123", "too_common"),
        ("alllowercase", "too_few_kinds"),
        ("lowerand1234", "too_few_kinds"),
    ],
)
def test_each_strength_rule_reports_its_key(password, problem):
    assert problem in password_problems(password, username="dr.wang-2024")


def test_a_strong_password_has_no_problems():
    assert password_problems(GOOD, username="dr.wang") == []


def test_long_passphrases_need_not_mix_character_kinds():
    assert password_problems("correct horse battery staple", username="amy") == []
    assert "too_few_kinds" in password_problems("horsebattery", username="amy")


def test_limits_are_inclusive():
    assert "too_short" not in password_problems("Ab1!567890", username="amy")
    assert "too_long" not in password_problems("Ab1!" + "x" * 124, username="amy")


def test_personal_words_are_refused():
    assert password_problems("Zhang-Wei-1990!", username="zw", extra_words=("zhang",)) == ["contains_personal_word"]


def test_chinese_and_symbols_count_as_other_kinds():
    assert password_problems("\u6211\u7684\u5bc6\u7801abc12345", username="amy") == []


def test_hostile_input_is_judged_not_crashed_on():
    for hostile in ["'; DROP TABLE user_account; --", "\x00" * 20, "\U0001f600" * 200, "a" * 100_000]:
        assert isinstance(password_problems(hostile, username="amy"), list)
    assert "too_long" in password_problems("a" * 100_000, username="amy")


def test_common_password_list_loads_with_its_source():
    path = Path(passwords.__file__).parent / "data" / "common_passwords.json"
    data = json.loads(path.read_text("utf-8"))
    assert data["source"].strip()
    assert len(data["passwords"]) == len(set(data["passwords"]))
    assert {"123456", "woaini1314", "qwerty"} <= passwords.common_passwords()
