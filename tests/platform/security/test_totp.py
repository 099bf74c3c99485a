"""TOTP codes match RFC 6238, tolerate one step of clock drift, and refuse malformed input."""

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from smartcare.platform.security.totp import matching_step, new_secret, provisioning_uri, totp_at, verify_totp

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("unix_time", "code"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_rfc6238_appendix_b_sha1_vectors(unix_time, code):
    moment = datetime.fromtimestamp(unix_time, UTC)
    assert totp_at(RFC_SECRET, moment, digits=8) == code
    assert verify_totp(RFC_SECRET, code, at=moment, digits=8)


def test_six_digit_codes_are_the_last_six_digits():
    assert totp_at(RFC_SECRET, datetime.fromtimestamp(59, UTC)) == "287082"


def test_codes_one_step_either_side_are_accepted_and_two_steps_are_not():
    now = datetime(2024, 5, 1, 8, 0, 10, tzinfo=UTC)
    codes = {steps: totp_at(RFC_SECRET, now + timedelta(seconds=30 * steps)) for steps in range(-2, 3)}
    assert len(set(codes.values())) == 5
    for steps, accepted in [(-2, False), (-1, True), (0, True), (1, True), (2, False)]:
        assert verify_totp(RFC_SECRET, codes[steps], at=now) is accepted


def test_window_zero_accepts_only_the_current_step():
    now = datetime(2024, 5, 1, 8, 0, 10, tzinfo=UTC)
    previous = totp_at(RFC_SECRET, now - timedelta(seconds=30))
    assert previous != totp_at(RFC_SECRET, now)
    assert not verify_totp(RFC_SECRET, previous, at=now, window=0)
    assert verify_totp(RFC_SECRET, totp_at(RFC_SECRET, now), at=now, window=0)


def test_matching_step_names_the_step_the_code_belongs_to():
    secret = new_secret()
    now = datetime(2024, 5, 1, 8, 0, 10, tzinfo=UTC)
    assert matching_step(secret, totp_at(secret, now), at=now) == int(now.timestamp()) // 30


@pytest.mark.parametrize(
    "code", ["", "12345", "1234567", "abcdef", "12 456", "\u0661\u0662\u0663\u0664\u0665\u0666", "1" * 10_000, "' OR 1=1"]
)
def test_malformed_codes_are_refused(code):
    assert not verify_totp(new_secret(), code, at=datetime(2024, 5, 1, tzinfo=UTC))


def test_a_malformed_secret_refuses_instead_of_raising():
    assert not verify_totp("not base32 !!", "123456", at=datetime(2024, 5, 1, tzinfo=UTC))


def test_new_secrets_are_160_bit_base32_and_differ():
    first, second = new_secret(), new_secret()
    assert first != second
    assert len(base64.b32decode(first)) == 20


def test_provisioning_uri_is_what_authenticator_apps_read():
    uri = provisioning_uri("JBSWY3DPEHPK3PXP", "dr.wang@example.org")
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp"
    assert parsed.path == "/SmartCare:dr.wang@example.org"
    query = parse_qs(parsed.query)
    assert query["secret"] == ["JBSWY3DPEHPK3PXP"] and query["issuer"] == ["SmartCare"]
    assert query["digits"] == ["6"] and query["period"] == ["30"]
