"""OAuth2 endpoints: /auth/token, /auth/introspect and /.well-known/smart-configuration.

Grants: `client_credentials` for systems and devices, `password` for first-party apps, and
`refresh_token` (rotating). Clients authenticate with a secret (Basic or in the form) or, as SMART
Backend Services do, with a JWT assertion signed by a registered key (`private_key_jwt`). Errors use
RFC 6749's JSON form. Requested scopes are narrowed to what the client and the user's role may have;
the access policy still decides every request.
"""

import base64
import re
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import assertions, clients, users
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.scopes import InvalidScope, ScopeSet, narrow, parse_scopes
from smartcare.platform.security.tokens import ISSUER, InvalidToken, issue_access_token, verify_access_token
from smartcare.platform.settings import get_settings

router = APIRouter(tags=["Authorisation"])

# The most each role's tokens may carry. Patients and caregivers get patient/ scopes (their own
# or their wards' compartments); staff get user/ scopes, bounded again by the access policy.
MAX_FORM_BYTES = 16 * 1024


class OAuthError(Exception):
    """An RFC 6749 error: error code, description, HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def _fhir_base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


def _error(exc: OAuthError) -> JSONResponse:
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="smartcare"'
    return JSONResponse({"error": exc.error, "error_description": exc.description}, exc.status, headers=headers)


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "Send the request as application/x-www-form-urlencoded")
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise OAuthError("invalid_request", "The request is too large")
    form = await request.form()
    return {k: str(v)[:4096] for k, v in form.items()}


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str | None]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
            client_id, _, secret = decoded.partition(":")
            return unquote(client_id), unquote(secret)
        except (ValueError, UnicodeDecodeError) as exc:
            raise OAuthError("invalid_client", "Malformed Basic credentials", 401) from exc
    return form.get("client_id", ""), form.get("client_secret") or None


def _token_urls(request: Request) -> set[str]:
    """The URLs this token endpoint answers at, one of which a client assertion's aud must name."""
    urls = {str(request.base_url).rstrip("/") + "/auth/token"}
    if get_settings().base_url:
        urls.add(get_settings().public_base_url + "/auth/token")
    return urls


def _authenticated(conn, request: Request, form: dict[str, str]) -> clients.Client:
    """The client making the request, by its signed assertion or its secret; OAuthError invalid_client if neither."""
    if "client_assertion" in form or "client_assertion_type" in form:
        if form.get("client_assertion_type") != assertions.ASSERTION_TYPE:
            raise OAuthError("invalid_client", f"client_assertion_type must be {assertions.ASSERTION_TYPE}", 401)
        if request.headers.get("authorization") or form.get("client_secret"):
            raise OAuthError("invalid_request", "Authenticate one way only: a client assertion or a secret")
        try:
            return clients.authenticate_assertion(conn, assertion=form.get("client_assertion", ""),
                                                  audiences=_token_urls(request), client_id=form.get("client_id"))
        except clients.ClientError as exc:
            raise OAuthError("invalid_client", str(exc), 401) from exc
    client_id, secret = _client_credentials(request, form)
    try:
        return clients.authenticate_client(conn, client_id=client_id, secret=secret)
    except clients.ClientError as exc:
        raise OAuthError("invalid_client", str(exc), 401) from exc


def _token_response(token: str, lifetime: int, scopes: ScopeSet, extra: dict[str, Any]) -> JSONResponse:
    body = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": str(scopes), **extra}
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _requested(form: dict[str, str], ceiling: ScopeSet) -> ScopeSet:
    try:
        asked = parse_scopes(form["scope"]) if form.get("scope") else ceiling
    except InvalidScope as exc:
        raise OAuthError("invalid_scope", str(exc)) from exc
    granted = narrow(asked, ceiling)
    if not granted.resources:
        raise OAuthError("invalid_scope", "None of the requested scopes may be granted")
    return granted


def _grant(request: Request, form: dict[str, str]) -> JSONResponse:
    grant_type = form.get("grant_type", "")
    if grant_type not in ("client_credentials", "password", "refresh_token"):
        raise OAuthError("unsupported_grant_type", "grant_type is client_credentials, password or refresh_token")
    audience = _fhir_base(request)
    with unit_of_work() as conn:
        client = _authenticated(conn, request, form)
    if grant_type == "client_credentials":
        if client.kind == "app":
            raise OAuthError("unauthorized_client", "Apps sign in a user; client_credentials is for systems")
        scopes = _requested(form, client.scopes)
        token, lifetime = issue_access_token(
            subject=client.client_id, kind="device" if client.kind == "device" else "client", name=client.name,
            roles={client.kind}, scopes=scopes, audience=audience, organization=client.organization,
            fhir_user=client.fhir_ref,
        )
        return _token_response(token, lifetime, scopes, {})
    if grant_type == "password":
        if client.kind != "app":
            raise OAuthError("unauthorized_client", "Only first-party apps may use the password grant")
        remote = request.client.host if request.client else None
        username = form.get("username", "")
        try:
            # login() commits its own unit of work even when refusing, so failures count towards lockout.
            user = users.login(username=username, password=form.get("password", ""),
                               remote_addr=remote, totp_code=form.get("totp") or None)
        except users.AuthenticationError as exc:
            _audit_login(username, remote, failed=str(exc))
            raise OAuthError("invalid_grant", str(exc)) from exc
        scopes = _requested(form, narrow(users.scope_ceiling(user.role), client.scopes))
        with unit_of_work() as conn:
            audit.record(conn, ctx=users.context_for(user, remote), action="E", subtype="login",
                         description=f"signed in through {client.name}")
            return _user_tokens(conn, user, client.client_id, scopes, audience)
    with unit_of_work() as conn:
        try:
            grant = clients.use_refresh_token(conn, token=form.get("refresh_token", ""), client_id=client.client_id)
        except clients.ClientError as exc:
            raise OAuthError("invalid_grant", str(exc)) from exc
        try:
            user = users.get_user(conn, user_id=grant.user_id or "")
        except users.UserNotFound as exc:
            raise OAuthError("invalid_grant", "The account behind this token no longer exists") from exc
        if user.locked:
            raise OAuthError("invalid_grant", "The account behind this token is locked")
        scopes = _requested(form, grant.scopes) if form.get("scope") else grant.scopes
        token, lifetime = _user_access_token(user, scopes, audience)
        return _token_response(token, lifetime, scopes, {"refresh_token": grant.new_token})


_SAFE_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")


def _audit_login(username: str, remote: str | None, *, failed: str) -> None:
    """Record a refused sign-in; the name is recorded only when it looks like a username."""
    name = username if _SAFE_NAME.fullmatch(username) else "unrecognised"
    with unit_of_work() as conn:
        audit.record(conn, ctx=AccessContext(kind="user", name=name, remote_addr=remote), action="E",
                     subtype="login-failed", outcome="4", description=failed[:200])


def _user_access_token(user: Any, scopes: ScopeSet, audience: str) -> tuple[str, int]:
    patient = user.fhir_ref if user.fhir_ref and user.fhir_ref.startswith("Patient/") else None
    return issue_access_token(
        subject=user.id, kind="user", name=user.username, roles={user.role}, scopes=scopes, audience=audience,
        organization=user.organization, fhir_user=user.fhir_ref, patient=patient,
    )


def _user_tokens(conn, user: Any, client_id: str, scopes: ScopeSet, audience: str) -> JSONResponse:
    token, lifetime = _user_access_token(user, scopes, audience)
    extra: dict[str, Any] = {}
    if "offline_access" in scopes.others:
        extra["refresh_token"] = clients.issue_refresh_token(conn, client_id=client_id, user_id=user.id, scopes=scopes)
    if user.fhir_ref:
        extra["fhirUser"] = user.fhir_ref
        if user.fhir_ref.startswith("Patient/"):
            extra["patient"] = user.fhir_ref.split("/", 1)[1]
    return _token_response(token, lifetime, scopes, extra)


@router.post("/auth/token")
async def token_endpoint(request: Request) -> JSONResponse:
    """Issue access (and refresh) tokens."""
    try:
        form = await _form(request)
        return await run_in_threadpool(_grant, request, form)
    except OAuthError as exc:
        return _error(exc)


def _introspect(request: Request, form: dict[str, str]) -> dict[str, Any]:
    with unit_of_work() as conn:
        _authenticated(conn, request, form)
    try:
        claims = verify_access_token(form.get("token", ""), audience=_fhir_base(request))
    except InvalidToken:
        return {"active": False}
    body: dict[str, Any] = {
        "active": True, "scope": str(claims.scopes), "sub": claims.subject, "username": claims.name,
        "exp": claims.expires_at, "iss": ISSUER, "token_type": "Bearer",
    }
    if claims.fhir_user:
        body["fhirUser"] = claims.fhir_user
    if claims.patient:
        body["patient"] = claims.patient.split("/", 1)[-1]
    return body


@router.post("/auth/introspect")
async def introspect_endpoint(request: Request) -> JSONResponse:
    """RFC 7662 token introspection for resource servers (the caller authenticates as a client)."""
    try:
        form = await _form(request)
        body = await run_in_threadpool(_introspect, request, form)
    except OAuthError as exc:
        return _error(exc)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/.well-known/smart-configuration")
def smart_configuration(request: Request) -> dict[str, Any]:
    """SMART App Launch discovery: where tokens come from and what this server supports."""
    base = str(request.base_url).rstrip("/")
    return {
        "issuer": ISSUER,
        "token_endpoint": f"{base}/auth/token",
        "introspection_endpoint": f"{base}/auth/introspect",
        "grant_types_supported": ["client_credentials", "password", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(assertions.ALGORITHMS),
        "scopes_supported": ["openid", "fhirUser", "offline_access", "patient/*.cruds", "user/*.cruds", "system/*.cruds"],
        "capabilities": ["client-confidential-symmetric", "client-confidential-asymmetric", "permission-v1",
                         "permission-v2", "context-standalone-patient"],
        "code_challenge_methods_supported": [],
    }
