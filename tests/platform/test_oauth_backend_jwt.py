"""SMART Backend Services: a backend client registered with public keys gets tokens with signed JWT assertions
(private_key_jwt), and every bad assertion is refused with invalid_client and no token."""

import hashlib
import hmac
import time
import uuid
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm
from typer.testing import CliRunner

from smartcare.cli import app
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import assertions, clients
from smartcare.platform.security.tokens import verify_access_token

TOKEN_URL = "http://testserver/auth/token"
AUD = "http://testserver/fhir"
ES_KEY = assertions.new_private_key("ES384")
OTHER_ES_KEY = assertions.new_private_key("ES384")
RS_KEY = assertions.new_private_key("RS384")


def signer(private_pem: str) -> Any:
    return serialization.load_pem_private_key(private_pem.encode(), password=None)


def kid_of(private_pem: str) -> str:
    return assertions.public_key_set(private_pem)["keys"][0]["kid"]


def key_set(*private_pems: str) -> str:
    return orjson.dumps({"keys": [k for p in private_pems for k in assertions.public_key_set(p)["keys"]]}).decode()


@pytest.fixture
def backend(engine) -> str:
    """A lab system registered with an ES384 and an RS384 public key and no secret."""
    with unit_of_work(engine) as conn:
        client, secret = clients.register_client(conn, name="Regional lab system", kind="system", public=True,
                                                 scopes="system/Observation.cr system/Patient.r",
                                                 jwks=key_set(ES_KEY, RS_KEY))
    assert secret is None
    return client.client_id


def assertion(client_id: str, private_pem: str = ES_KEY, *, alg: str | None = None, kid: str | None = None,
              drop: tuple[str, ...] = (), **claims: Any) -> str:
    """A client assertion signed with private_pem; claims override the valid ones, drop leaves some out."""
    now = int(time.time())
    body = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "iat": now, "exp": now + 240,
            "jti": uuid.uuid4().hex, **claims}
    for name in drop:
        body.pop(name)
    key = signer(private_pem)
    alg = alg or ("ES384" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS384")
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid or kid_of(private_pem)})


def ask(http, client_assertion: str, **extra: str):
    return http.post("/auth/token", data={
        "grant_type": "client_credentials", "scope": "system/Observation.rs system/Patient.rs",
        "client_assertion_type": assertions.ASSERTION_TYPE, "client_assertion": client_assertion, **extra})


def refused(answer, reason: str) -> None:
    assert answer.status_code == 401, answer.text
    body = answer.json()
    assert body["error"] == "invalid_client" and "access_token" not in body
    assert reason.lower() in body["error_description"].lower()


@pytest.mark.parametrize("private_pem", [ES_KEY, RS_KEY], ids=["ES384", "RS384"])
def test_a_signed_assertion_gets_a_token_with_the_clients_scopes(anonymous, backend, private_pem):
    answer = ask(anonymous, assertion(backend, private_pem))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "system/Observation.r system/Patient.r"
    claims = verify_access_token(body["access_token"], audience=AUD)
    assert claims.subject == backend and claims.kind == "client" and claims.name == "Regional lab system"


@pytest.mark.parametrize("algorithm", ["ES384", "RS384"])
def test_what_the_platform_signs_for_pulls_is_accepted_here(anonymous, engine, algorithm):
    from datetime import UTC, datetime

    private_pem = assertions.new_private_key(algorithm)
    public = assertions.public_key_set(private_pem)
    assert public["keys"][0]["alg"] == algorithm and not {"d", "p", "q"} & public["keys"][0].keys()
    with unit_of_work(engine) as conn:
        client, _ = clients.register_client(conn, name="Regional platform", kind="system", scopes="system/*.rs",
                                            public=True, jwks=orjson.dumps(public).decode())
    signed = assertions.sign_assertion(private_pem, client_id=client.client_id, token_url=TOKEN_URL,
                                       now=datetime.now(UTC), lifetime_seconds=3600)
    claims = jwt.decode(signed, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 300
    assert ask(anonymous, signed, scope="system/Patient.rs").status_code == 200


def _hs256_with_the_public_key(client_id: str) -> str:
    # The old algorithm-confusion attack: an HMAC "signed" with the public key, which anyone has.
    now = int(time.time())
    public_pem = signer(ES_KEY).public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "kid": kid_of(ES_KEY), "typ": "JWT"}
    body = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "exp": now + 60, "jti": uuid.uuid4().hex}
    signing_input = ".".join(jwt.utils.base64url_encode(orjson.dumps(p)).decode() for p in (header, body))
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{jwt.utils.base64url_encode(mac).decode()}"


def _unsigned(client_id: str) -> str:
    header = {"alg": "none", "kid": kid_of(ES_KEY)}
    body = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "exp": int(time.time()) + 60, "jti": "x1"}
    return ".".join(jwt.utils.base64url_encode(orjson.dumps(p)).decode() for p in (header, body)) + "."


BAD_ASSERTIONS = {
    "another key under the registered kid": (
        lambda c: assertion(c, OTHER_ES_KEY, kid=kid_of(ES_KEY)), "signature does not verify"),
    "a key that was never registered": (lambda c: assertion(c, OTHER_ES_KEY), "has kid"),
    "no kid": (lambda c: jwt.encode({"iss": c, "sub": c, "aud": TOKEN_URL, "exp": int(time.time()) + 60,
                                     "jti": "k"}, signer(ES_KEY), algorithm="ES384"), "no kid"),
    "aud of the FHIR server": (lambda c: assertion(c, aud=AUD), "aud must be this token endpoint"),
    "aud of another token endpoint": (
        lambda c: assertion(c, aud="https://elsewhere.example/auth/token"), "aud must be this token endpoint"),
    "expired": (lambda c: assertion(c, exp=int(time.time()) - 120), "expired"),
    "exp ten minutes ahead": (lambda c: assertion(c, exp=int(time.time()) + 600), "more than five minutes"),
    "no exp": (lambda c: assertion(c, drop=("exp",)), "no exp"),
    "no jti": (lambda c: assertion(c, drop=("jti",)), "jti"),
    "empty jti": (lambda c: assertion(c, jti=""), "jti"),
    "sub of another client": (lambda c: assertion(c, sub="system-someone-else"), "iss and sub"),
    "unknown client": (lambda c: assertion("system-nobody-at-all"), "unknown or disabled client"),
    "alg none": (_unsigned, "'none' are not accepted"),
    "HS256 with the public key as secret": (_hs256_with_the_public_key, "'HS256' are not accepted"),
    "ES256": (lambda c: jwt.encode({"iss": c, "sub": c, "aud": TOKEN_URL, "exp": int(time.time()) + 60, "jti": "e"},
                                   ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                                   headers={"kid": kid_of(ES_KEY)}), "'ES256' are not accepted"),
    "not a JWT": (lambda c: "not-a-jwt", "not a signed JWT"),
}


@pytest.mark.parametrize("case", list(BAD_ASSERTIONS))
def test_a_bad_assertion_is_invalid_client_and_gets_no_token(anonymous, backend, case):
    make, reason = BAD_ASSERTIONS[case]
    refused(ask(anonymous, make(backend)), reason)


def test_an_assertion_is_accepted_once_and_its_jti_never_again(anonymous, backend):
    first = assertion(backend)
    assert ask(anonymous, first).status_code == 200
    refused(ask(anonymous, first), "already used")
    jti = jwt.decode(first, options={"verify_signature": False})["jti"]
    refused(ask(anonymous, assertion(backend, RS_KEY, jti=jti)), "already used")


def test_a_replay_to_another_server_process_is_refused_too(engine, backend):
    from fastapi.testclient import TestClient

    from smartcare.platform.web.app import create_app

    once = assertion(backend)
    with TestClient(create_app(), base_url="http://testserver") as a, \
            TestClient(create_app(), base_url="http://testserver") as b:
        assert ask(a, once).status_code == 200
        refused(ask(b, once), "already used")


def test_a_failed_assertion_does_not_spend_its_jti(anonymous, backend):
    jti = uuid.uuid4().hex
    refused(ask(anonymous, assertion(backend, aud=AUD, jti=jti)), "aud")
    assert ask(anonymous, assertion(backend, jti=jti)).status_code == 200


def test_the_request_may_name_the_client_but_not_another(anonymous, backend):
    assert ask(anonymous, assertion(backend), client_id=backend).status_code == 200
    refused(ask(anonymous, assertion(backend), client_id="system-other"), "different clients")


def test_a_wrong_assertion_type_or_an_extra_secret_is_refused(anonymous, backend):
    answer = anonymous.post("/auth/token", data={"grant_type": "client_credentials", "client_assertion_type": "jwt",
                                                 "client_assertion": assertion(backend)})
    refused(answer, "client_assertion_type must be")
    answer = ask(anonymous, assertion(backend), client_secret="guess")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_a_keys_only_client_cannot_get_a_token_with_its_id_alone(anonymous, backend):
    for data in ({"client_id": backend}, {"client_id": backend, "client_secret": "x"}):
        refused(anonymous.post("/auth/token", data={"grant_type": "client_credentials", **data}), "assertion")


def test_a_client_without_keys_cannot_use_an_assertion(anonymous, engine):
    with unit_of_work(engine) as conn:
        client, secret = clients.register_client(conn, name="Old gateway", kind="system", scopes="system/*.rs")
    refused(ask(anonymous, assertion(client.client_id)), "no registered keys")
    assert anonymous.post("/auth/token", data={"grant_type": "client_credentials"},
                          auth=(client.client_id, secret)).status_code == 200


def test_a_disabled_client_gets_nothing_for_a_good_assertion(anonymous, engine, backend):
    with unit_of_work(engine) as conn:
        clients.set_disabled(conn, client_id=backend, disabled=True)
    refused(ask(anonymous, assertion(backend)), "disabled")


def test_discovery_advertises_private_key_jwt(anonymous):
    conf = anonymous.get("/.well-known/smart-configuration").json()
    assert "private_key_jwt" in conf["token_endpoint_auth_methods_supported"]
    assert conf["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert "client-confidential-asymmetric" in conf["capabilities"]


def _with_private_part() -> str:
    jwk = assertions.public_key_set(ES_KEY)["keys"][0]
    return orjson.dumps({"keys": [{**jwk, "d": "AAAA"}]}).decode()


@pytest.mark.parametrize(("jwks", "reason"), [
    ("{not json", "not JSON"),
    ('{"keys": []}', "1-10 public keys"),
    (_with_private_part(), "private key"),
    ('{"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}', "private key"),
    ('{"keys": [{"kty": "EC", "kid": "p256", "crv": "P-256", "x": "AA", "y": "AA"}]}', "P-384"),
    ('{"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}', "kid"),
    ('{"keys": [{"kty": "RSA", "kid": "bad", "n": "AQAB", "e": "AQAB"}]}', "not a valid public key"),
    (orjson.dumps({"keys": [{**RSAAlgorithm.to_jwk(rsa.generate_private_key(65537, 1024).public_key(), as_dict=True),
                             "kid": "short"}]}).decode(), "2048"),
    (orjson.dumps({"keys": assertions.public_key_set(ES_KEY)["keys"] * 2}).decode(), "share a kid"),
])
def test_key_sets_that_are_not_public_signing_keys_are_refused(engine, jwks, reason):
    with unit_of_work(engine) as conn, pytest.raises(clients.ClientError, match=reason):
        clients.register_client(conn, name="Lab system", kind="system", scopes="system/*.rs", jwks=jwks)


def test_apps_cannot_register_keys_and_systems_need_keys_or_a_secret(engine):
    with unit_of_work(engine) as conn, pytest.raises(clients.ClientError, match="Only system and device"):
        clients.register_client(conn, name="Phone app", kind="app", scopes="patient/*.rs", jwks=key_set(ES_KEY))
    with unit_of_work(engine) as conn, pytest.raises(clients.ClientError, match="secret or a registered key"):
        clients.register_client(conn, name="Lab system", kind="system", scopes="system/*.rs", public=True)


def test_the_command_line_registers_a_client_with_keys_and_replaces_them(anonymous, engine, tmp_path):
    runner = CliRunner()
    first = tmp_path / "first.jwks.json"
    first.write_text(key_set(ES_KEY))
    done = runner.invoke(app, ["client", "create", "--name", "Imaging archive", "--kind", "system",
                               "--scope", "system/ImagingStudy.rs", "--jwks", str(first)], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert "client_secret" not in done.output
    client_id = next(w for w in done.output.split() if w.startswith("system-"))
    imaging = {"scope": "system/ImagingStudy.rs"}
    assert ask(anonymous, assertion(client_id), **imaging).status_code == 200

    second = tmp_path / "second.jwks.json"
    second.write_text(key_set(OTHER_ES_KEY))
    done = runner.invoke(app, ["client", "keys", client_id, "--jwks", str(second)], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    refused(ask(anonymous, assertion(client_id), **imaging), "has kid")
    assert ask(anonymous, assertion(client_id, OTHER_ES_KEY), **imaging).status_code == 200

    bad = tmp_path / "private.jwks.json"
    bad.write_text(_with_private_part())
    done = runner.invoke(app, ["client", "keys", client_id, "--jwks", str(bad)], env={"COLUMNS": "200"})
    assert done.exit_code == 2 and "private key" in done.output
    done = runner.invoke(app, ["client", "keys", client_id, "--remove"], env={"COLUMNS": "200"})
    assert done.exit_code == 2 and "only way it can authenticate" in done.output
