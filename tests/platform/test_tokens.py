"""Access tokens: what a verified token says, and every way a token can be refused."""

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from smartcare.platform import clock
from smartcare.platform.security.scopes import parse_scopes
from smartcare.platform.security.tokens import (
    InvalidToken,
    issue_access_token,
    signing_key,
    verify_access_token,
)

AUD = "http://127.0.0.1:8000/fhir"


@pytest.fixture(autouse=True)
def token_key(monkeypatch):
    monkeypatch.setenv("SMARTCARE_TOKEN_KEY", "ab" * 32)


def issue(**overrides):
    args = dict(
        subject="u-1",
        kind="user",
        name="dr.chen",
        roles={"doctor"},
        scopes=parse_scopes("openid user/*.cruds"),
        audience=AUD,
        organization="Organization/org-hosp-1",
        fhir_user="Practitioner/prac-0001",
    )
    args.update(overrides)
    return issue_access_token(**args)[0]


def test_verified_token_carries_identity_and_scopes():
    claims = verify_access_token(issue(), audience=AUD)
    assert claims.subject == "u-1" and claims.name == "dr.chen"
    assert claims.roles == {"doctor"}
    assert claims.organization == "Organization/org-hosp-1"
    assert claims.fhir_user == "Practitioner/prac-0001"
    assert claims.scopes.permits("user", "update", "Observation")


def test_expired_token_is_refused():
    try:
        clock.set_clock(lambda: datetime(2026, 1, 1, tzinfo=UTC))
        token = issue()
        clock.set_clock(lambda: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=16))
        with pytest.raises(InvalidToken, match="expired"):
            verify_access_token(token, audience=AUD)
    finally:
        clock.set_clock(None)


def _tamper(token: str, **changes) -> str:
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    new_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{new_body}.{sig}"


def test_tampered_claims_break_the_signature():
    token = _tamper(issue(roles={"patient"}), roles=["regional_admin"], scope="system/*.cruds")
    with pytest.raises(InvalidToken, match="signature"):
        verify_access_token(token, audience=AUD)


def test_token_signed_with_another_key_is_refused():
    forged = jwt.encode({"iss": "smartcare", "aud": AUD, "sub": "x", "iat": 1, "exp": 4102444800, "jti": "j"},
                        b"not-our-key-" * 3, algorithm="HS256")
    with pytest.raises(InvalidToken):
        verify_access_token(forged, audience=AUD)


def test_alg_none_and_other_algorithms_are_refused():
    head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps({"sub": "x", "exp": 4102444800}).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken, match="not accepted"):
        verify_access_token(f"{head}.{body}.", audience=AUD)


def test_token_for_another_audience_is_refused():
    with pytest.raises(InvalidToken, match="another server"):
        verify_access_token(issue(audience="http://elsewhere/fhir"), audience=AUD)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 9000, "' OR 1=1 --"])
def test_garbage_is_refused(garbage):
    with pytest.raises(InvalidToken):
        verify_access_token(garbage, audience=AUD)


def test_key_file_is_created_once_with_owner_only_permissions(tmp_path, monkeypatch):
    from smartcare.platform.security import keys
    from smartcare.platform.settings import get_settings

    monkeypatch.delenv("SMARTCARE_TOKEN_KEY")
    monkeypatch.setattr(get_settings(), "data_dir", tmp_path)
    keys._key_from_file.cache_clear()
    first = signing_key()
    keys._key_from_file.cache_clear()
    assert signing_key() == first and len(first) == 32
    assert (tmp_path / "keys" / "token-signing.key").stat().st_mode & 0o777 == 0o600
