"""The door of every page and app route: who is signed in, and the access policy's decision on the surface.

Pages call `visitor(conn, request, surface)`; app JSON routes call `api_caller(conn, request, surface)`.
Both raise instead of answering when the caller is unknown or refused, and the handlers installed by
`install_guard` turn that into a sign-in redirect, a 401, or a 403 page in the reader's language.
"""

import hmac
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.platform import audit, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import AccessDenied, decide_surface
from smartcare.platform.security.tokens import InvalidToken, verify_access_token
from smartcare.platform.web import sessions
from smartcare.platform.web.pages import render

NO_STORE = {"Cache-Control": "no-store"}
# The person a family account chose at the top of the app (a Patient id); pages open that person's record when
# their address names nobody. Only a choice: the access policy still decides whose record opens.
PERSON_COOKIE = "sc_person"
_PERSON_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# Routes answered in JSON (the app API and the CDS Hooks service), not with pages.
JSON_PATHS = ("/api/", "/cds-services")
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(Exception):
    """Nobody is signed in (or the session ended): go to the sign-in page, then come back."""


class SurfaceForbidden(Exception):
    """The policy refused this caller the surface (or a form's CSRF token was wrong: reason "csrf").

    The refusal is audited by the handler, in its own transaction, because the request's own
    transaction is rolled back by the exception.
    """

    def __init__(self, reason: str, *, ctx: AccessContext | None = None, surface: str | None = None,
                 explain: str = ""):
        super().__init__(reason)
        self.ctx = ctx
        self.surface = surface
        self.explain = explain  # a catalogue message (marked with _()) the 403 page shows the person


@dataclass(frozen=True, slots=True)
class Visitor:
    """A signed-in person on a page: their session, account and access context."""

    session: sessions.Session
    user: users.User
    ctx: AccessContext


def wanted_person(request: Request) -> str:
    """The Patient id the page should open: `?person=` when given, else the person last chosen in the app, else the
    signed-in visitor's own record (set by visitor(); pages then fall back to the first person in reach)."""
    asked = request.query_params.get("person")
    if asked is not None:
        return asked[:64]
    kept = request.cookies.get(PERSON_COOKIE, "")
    if _PERSON_ID.fullmatch(kept):
        return kept
    return getattr(request.state, "own_patient", "")


def keep_person(request: Request, response: Response, patient_id: str) -> None:
    """Remember the chosen person for this browser's next pages (an HttpOnly cookie, for the session's life)."""
    if _PERSON_ID.fullmatch(patient_id) and request.cookies.get(PERSON_COOKIE) != patient_id:
        response.set_cookie(PERSON_COOKIE, patient_id, path="/", httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")


def see_other(path: str) -> RedirectResponse:
    """The answer to a form that did its work: go to path (303, so a reload does not post again), not stored."""
    return RedirectResponse(path, status_code=303, headers=NO_STORE)


def remote(request: Request) -> str | None:
    return request.client.host if request.client else None


def same_token(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of two tokens; an absent one never matches."""
    return bool(expected) and bool(given) and hmac.compare_digest(expected.encode(), given.encode())


def signed_in(conn: Connection, request: Request) -> tuple[sessions.Session, users.User] | None:
    """This browser's live session and its user; None when signed out, expired, or the account is gone or locked."""
    session_id = request.cookies.get(sessions.COOKIE_NAME)
    session = sessions.load_session(conn, session_id)
    if session is None:
        return None
    try:
        user = users.get_user(conn, user_id=session.user_id)
    except users.UserNotFound:
        user = None
    if user is None or user.locked:
        sessions.end_session(conn, session_id)
        return None
    return session, user


def _audit_refusal(ctx: AccessContext, method: str, path: str, surface: str, reason: str) -> None:
    with unit_of_work() as conn:
        audit.record(conn, ctx=ctx, action="E", subtype="access-refused", outcome="4",
                     description=f"{method} {path[:120]} ({surface}): {reason}"[:200])


def visitor(conn: Connection, request: Request, surface: str) -> Visitor:
    """The signed-in person allowed into surface; SignInRequired or SurfaceForbidden otherwise.

    Sets request.state.csrf_token so the page's forms carry the session's token.
    """
    found = signed_in(conn, request)
    if found is None:
        raise SignInRequired()
    session, user = found
    ctx = users.context_for(user, remote(request))
    try:
        decide_surface(ctx, surface)
    except AccessDenied as exc:
        raise SurfaceForbidden(str(exc), ctx=ctx, surface=surface) from exc
    # A language chosen on any page is kept with the account, so it follows the person to other browsers.
    chosen = i18n.supported_locale(request.query_params.get("lang"))
    if chosen is not None and chosen != user.locale:
        user = users.set_locale(conn, user_id=user.id, locale=chosen)
    request.state.csrf_token = session.csrf_token
    request.state.visitor_role = user.role.value
    request.state.own_patient = (ctx.patient or "").removeprefix("Patient/")
    return Visitor(session=session, user=user, ctx=ctx)


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form's text fields (uploaded files are not fields and are left out)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def check_csrf(request: Request, v: Visitor, token: str | None) -> None:
    """Refuse a state-changing form whose CSRF token is not this session's."""
    if not same_token(v.session.csrf_token, token):
        raise SurfaceForbidden("csrf")


class ApiUnauthenticated(Exception):
    """An app API call without a valid bearer token or session."""


def api_caller(conn: Connection, request: Request, surface: str) -> AccessContext:
    """The caller of an app JSON route: a bearer token, or this browser's session (CSRF header on writes)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        try:
            claims = verify_access_token(token.strip(), audience=str(request.base_url).rstrip("/") + "/fhir")
        except InvalidToken as exc:
            raise ApiUnauthenticated(str(exc)) from exc
        ctx = AccessContext(
            kind=claims.kind, name=claims.name, roles=claims.roles, organization=claims.organization,
            remote_addr=remote(request), subject=claims.subject, fhir_user=claims.fhir_user,
            patient=claims.patient, scopes=claims.scopes,
        )
    else:
        found = signed_in(conn, request)
        if found is None:
            raise ApiUnauthenticated("Sign in, or send Authorization: Bearer <token> (from /auth/token)")
        session, user = found
        if request.method not in _SAFE_METHODS and not same_token(session.csrf_token,
                                                                  request.headers.get(CSRF_HEADER)):
            raise SurfaceForbidden("csrf")
        ctx = users.context_for(user, remote(request))
    try:
        decide_surface(ctx, surface)
    except AccessDenied as exc:
        raise SurfaceForbidden(str(exc), ctx=ctx, surface=surface) from exc
    return ctx


def socket_caller(websocket: WebSocket) -> AccessContext | None:
    """Who opened a WebSocket: a bearer token (for the http(s) audience of this host) or a same-site session; None
    for anyone else. Browsers send cookies with cross-site handshakes, so a session counts only from this site."""
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        http = "https" if websocket.url.scheme == "wss" else "http"
        try:
            claims = verify_access_token(token.strip(), audience=f"{http}://{websocket.url.netloc}/fhir")
        except InvalidToken:
            return None
        return AccessContext(kind=claims.kind, name=claims.name, roles=claims.roles,
                             organization=claims.organization, subject=claims.subject,
                             fhir_user=claims.fhir_user, patient=claims.patient, scopes=claims.scopes)
    origin = websocket.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != websocket.headers.get("host"):
        return None
    with unit_of_work() as conn:
        found = signed_in(conn, websocket)  # type: ignore[arg-type]  (only the cookies are read)
        return users.context_for(found[1]) if found else None


def api_surface(surface: str) -> Callable[[Request], Awaitable[None]]:
    """A route dependency that turns away an unauthenticated or wrong-surface caller (401/403) before FastAPI reads
    the body or the query, so a stranger learns nothing from a 422 about what the route expects."""

    async def caller_first(request: Request) -> None:
        def check() -> None:
            with unit_of_work() as conn:
                api_caller(conn, request, surface)

        await run_in_threadpool(check)

    return caller_first


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": "login", "message": "Sign in first"}, status_code=401, headers=NO_STORE)
    path = request.url.path if request.method == "GET" else "/account"
    response = RedirectResponse(f"/login?next={path}", status_code=303, headers=NO_STORE)
    response.delete_cookie(sessions.COOKIE_NAME, path="/", httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")
    return response


async def _api_unauthenticated(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": "login", "message": str(exc)}, status_code=401,
                        headers={**NO_STORE, "WWW-Authenticate": 'Bearer realm="smartcare"'})


async def _forbidden(request: Request, exc: Exception) -> Response:
    reason = str(exc)
    if isinstance(exc, SurfaceForbidden) and exc.ctx is not None:
        await run_in_threadpool(_audit_refusal, exc.ctx, request.method, request.url.path, exc.surface or "", reason)
    if request.url.path.startswith(JSON_PATHS):
        return JSONResponse({"error": "forbidden", "message": reason}, status_code=403, headers=NO_STORE)
    response = render(request, "403.html", status_code=403, csrf_failed=reason == "csrf",
                      explain=getattr(exc, "explain", ""))
    response.headers.update(NO_STORE)
    return response


def install_guard(app: FastAPI) -> None:
    """Turn the guard's refusals into a sign-in redirect, 401 or a 403 page."""
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(ApiUnauthenticated, _api_unauthenticated)
    app.add_exception_handler(SurfaceForbidden, _forbidden)
