"""The OAuth2 token endpoint, introspection and SMART discovery, as clients see them."""

import base64

import pytest

from smartcare.platform.db import unit_of_work
from smartcare.platform.security import clients, users
from smartcare.platform.security.tokens import verify_access_token

AUD = "http://testserver/fhir"
PASSWORD = "Riverside-Clinic-2026!"


@pytest.fixture(autouse=True)
def token_key(monkeypatch):
    monkeypatch.setenv("SMARTCARE_TOKEN_KEY", "cd" * 32)


@pytest.fixture
def registry(engine):
    with unit_of_work(engine) as conn:
        system, system_secret = clients.register_client(conn, name="Lab analyser", kind="system",
                                                        scopes="system/Observation.cr system/Patient.r")
        app, _ = clients.register_client(conn, name="Patient app", kind="app", public=True,
                                         scopes="openid fhirUser offline_access patient/*.cruds user/*.cruds")
        users.create_user(conn, username="li.na", password=PASSWORD, role="patient", fhir_ref="Patient/pat-00001")
        users.create_user(conn, username="dr.chen", password=PASSWORD, role="doctor",
                          fhir_ref="Practitioner/prac-0001", organization="Organization/org-hosp-1")
    return {"system": (system.client_id, system_secret), "app": app.client_id}


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def test_client_credentials_gives_a_token_narrowed_to_the_client(client, registry):
    client_id, secret = registry["system"]
    r = client.post("/auth/token", data={"grant_type": "client_credentials",
                                         "scope": "system/Observation.cruds system/Condition.rs"},
                    headers=basic(client_id, secret))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["scope"] == "system/Observation.cr"
    assert r.headers["cache-control"] == "no-store"
    claims = verify_access_token(body["access_token"], audience=AUD)
    assert claims.kind == "client" and claims.name == "Lab analyser"


def test_wrong_client_secret_is_401_in_oauth_form(client, registry):
    client_id, _ = registry["system"]
    r = client.post("/auth/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, "nope"))
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


def test_password_grant_for_a_patient_gives_patient_scopes_and_context(client, registry):
    r = client.post("/auth/token", data={"grant_type": "password", "client_id": registry["app"],
                                         "username": "li.na", "password": PASSWORD,
                                         "scope": "openid offline_access patient/*.rs user/*.cruds"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scope"] == "offline_access openid patient/*.rs"
    assert body["patient"] == "pat-00001" and body["fhirUser"] == "Patient/pat-00001"
    assert "refresh_token" in body
    claims = verify_access_token(body["access_token"], audience=AUD)
    assert claims.patient == "Patient/pat-00001" and claims.roles == {"patient"}


def test_refresh_token_rotates(client, registry):
    first = client.post("/auth/token", data={"grant_type": "password", "client_id": registry["app"],
                                             "username": "dr.chen", "password": PASSWORD,
                                             "scope": "offline_access user/*.rs"}).json()
    again = client.post("/auth/token", data={"grant_type": "refresh_token", "client_id": registry["app"],
                                             "refresh_token": first["refresh_token"]})
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] != first["refresh_token"]
    replay = client.post("/auth/token", data={"grant_type": "refresh_token", "client_id": registry["app"],
                                              "refresh_token": first["refresh_token"]})
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


def test_wrong_password_is_invalid_grant_and_five_failures_lock_the_account(client, registry):
    data = {"grant_type": "password", "client_id": registry["app"], "username": "li.na", "password": "wrong"}
    for _ in range(5):
        r = client.post("/auth/token", data=data)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = client.post("/auth/token", data={**data, "password": PASSWORD})
    assert r.status_code == 400
    assert "locked" in r.json()["error_description"]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"grant_type": "implicit"}, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "scope": "patient/Observation.sr"}, "invalid_scope"),
        ({"grant_type": "client_credentials", "scope": "system/Encounter.rs"}, "invalid_scope"),
    ],
)
def test_bad_token_requests_get_oauth_errors(client, registry, data, error):
    client_id, secret = registry["system"]
    r = client.post("/auth/token", data=data, headers=basic(client_id, secret))
    assert r.status_code == 400
    assert r.json()["error"] == error


def test_json_body_is_refused(client, registry):
    r = client.post("/auth/token", json={"grant_type": "client_credentials"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_introspection_tells_active_and_inactive_tokens_apart(client, registry):
    client_id, secret = registry["system"]
    token = client.post("/auth/token", data={"grant_type": "client_credentials"},
                        headers=basic(client_id, secret)).json()["access_token"]
    r = client.post("/auth/introspect", data={"token": token}, headers=basic(client_id, secret))
    assert r.json()["active"] is True and r.json()["scope"] == "system/Observation.cr system/Patient.r"
    r = client.post("/auth/introspect", data={"token": token[:-4] + "AAAA"}, headers=basic(client_id, secret))
    assert r.json() == {"active": False}
    assert client.post("/auth/introspect", data={"token": token}).status_code == 401


def test_smart_configuration_is_published(client):
    conf = client.get("/.well-known/smart-configuration").json()
    assert conf["token_endpoint"] == "http://testserver/auth/token"
    assert "client_credentials" in conf["grant_types_supported"]


def test_sign_ins_and_refused_sign_ins_are_audited(client, registry, engine):
    from smartcare.platform.audit import search

    client.post("/auth/token", data={"grant_type": "password", "client_id": registry["app"],
                                     "username": "li.na", "password": PASSWORD})
    client.post("/auth/token", data={"grant_type": "password", "client_id": registry["app"],
                                     "username": "li.na", "password": "wrong"})
    client.post("/auth/token", data={"grant_type": "password", "client_id": registry["app"],
                                     "username": "<script>", "password": "wrong"})
    with unit_of_work(engine) as conn:
        got = sorted((e["agent"], e["subtype"], e["outcome"]) for e in search(conn))
    assert got == [("user/li.na", "login", "0"), ("user/li.na", "login-failed", "4"),
                   ("user/unrecognised", "login-failed", "4")]
