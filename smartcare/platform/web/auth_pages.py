"""Web sign-in for people: the login form, the account page, and signing out here or everywhere."""

import re
import secrets
from typing import Any

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.platform import audit, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import clients, totp, users
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import guard, sessions
from smartcare.platform.web.homes import home_path
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "sc_csrf"
CSRF_HEADER = "x-csrf-token"
RECENT_SIGN_INS = 20
_SIGN_IN_SUBTYPES = ("login", "login-failed", "logout")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_SAFE_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
# Where a successful sign-in may return to: a path on this site, never //host or a scheme.
_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9/_.~-]*")
_MAX_NEXT = 200
_MAX_USERNAME_SHOWN = 64
_MAX_PASSWORD = 1025
_MAX_TOTP = 16
_NO_STORE = {"Cache-Control": "no-store"}


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _safe_next(value: str | None) -> str:
    """value when it is a path on this site; "" otherwise (the user's home page is used then)."""
    if value and len(value) <= _MAX_NEXT and _LOCAL_PATH.fullmatch(value):
        return value
    return ""


def _refusal_code(exc: users.AuthenticationError) -> str:
    if isinstance(exc, users.LoginThrottled):
        return "throttled"
    if isinstance(exc, users.AccountLocked):
        return "locked"
    if isinstance(exc, users.TotpRequired):
        return "totp"
    return "failed"


def _clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(sessions.COOKIE_NAME, path="/", secure=_secure(request), httponly=True, samesite="lax")
    # The person a family account chose goes with the session (the next person on this browser starts on their own).
    response.delete_cookie(guard.PERSON_COOKIE, path="/", secure=_secure(request), httponly=True, samesite="lax")


def _login_form(
    request: Request, *, status_code: int = 200, error: str | None = None, username: str = "", next_path: str
) -> HTMLResponse:
    """The sign-in form with a double-submit CSRF token: the same random value in the form and the sc_csrf cookie."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not _TOKEN.fullmatch(token):
        token = secrets.token_urlsafe(32)
    response = render(
        request, "login.html", status_code=status_code, error=error, username=username[:_MAX_USERNAME_SHOWN],
        next_path=next_path, form_token=token,
    )
    response.headers.update(_NO_STORE)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, path="/login", secure=_secure(request), httponly=True,
                        samesite="strict")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    """The sign-in form: username, password and, for accounts that use one, a one-time code."""
    return _login_form(request, next_path=_safe_next(request.query_params.get("next")))


def _audit_refused(username: str, remote: str | None, reason: str) -> None:
    # The name is recorded only when it looks like a username, so hostile input never reaches the trail.
    name = username if _SAFE_NAME.fullmatch(username) else "unrecognised"
    with unit_of_work() as conn:
        audit.record(conn, ctx=AccessContext(kind="user", name=name, remote_addr=remote), action="E",
                     subtype="login-failed", outcome="4", description=f"web sign-in: {reason}"[:200])


def _open_session(user: users.User, remote: str | None, presented: str | None) -> str:
    with unit_of_work() as conn:
        # A session id the browser brought along is never kept: signing in always issues a new one.
        sessions.end_session(conn, presented)
        session_id, _ = sessions.start_session(conn, user_id=user.id)
        audit.record(conn, ctx=users.context_for(user, remote), action="E", subtype="login",
                     description="signed in on the web")
    return session_id


@router.post("/login")
async def login_submit(request: Request) -> Response:
    """Check a sign-in; on success open a new session and go on to the account page (or next)."""
    form = await guard.form_fields(request)
    username = form.get("username", "")
    next_path = _safe_next(form.get("next"))
    if not guard.same_token(request.cookies.get(LOGIN_CSRF_COOKIE), form.get("csrf_token")):
        return _login_form(request, status_code=403, error="csrf", username=username, next_path=next_path)
    remote = guard.remote(request)
    try:
        user = await run_in_threadpool(
            users.login, username=username, password=form.get("password", "")[:_MAX_PASSWORD],
            remote_addr=remote, totp_code=form.get("totp", "").strip()[:_MAX_TOTP] or None,
        )
    except users.AuthenticationError as exc:
        await run_in_threadpool(_audit_refused, username, remote, str(exc))
        return _login_form(request, status_code=400, error=_refusal_code(exc), username=username,
                           next_path=next_path)
    session_id = await run_in_threadpool(_open_session, user, remote, request.cookies.get(sessions.COOKIE_NAME))
    response = RedirectResponse(next_path or home_path(user.role.value), status_code=303, headers=_NO_STORE)
    secure = _secure(request)
    response.set_cookie(sessions.COOKIE_NAME, session_id, max_age=int(sessions.ABSOLUTE_LIFETIME.total_seconds()),
                        path="/", secure=secure, httponly=True, samesite="lax")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login", secure=secure, httponly=True, samesite="strict")
    # The language saved with the account follows the person to whichever browser they sign in on.
    response.set_cookie(i18n.COOKIE_NAME, user.locale, max_age=i18n.COOKIE_MAX_AGE, path="/", secure=secure,
                        samesite="lax")
    return response


def _recent_sign_ins(conn: Connection, user: users.User) -> list[dict[str, Any]]:
    agent = f"user/{user.username}"
    entries = [
        entry
        for subtype in _SIGN_IN_SUBTYPES
        for entry in audit.search(conn, agent=agent, subtype=subtype, limit=RECENT_SIGN_INS)
    ]
    entries.sort(key=lambda entry: entry["seq"], reverse=True)
    return [
        {
            "recorded": entry["recorded"],
            "shown": entry["recorded"][:16].replace("T", " ") + " UTC",
            "subtype": entry["subtype"],
            "address": entry["event"]["agent"][0].get("network", {}).get("address"),
        }
        for entry in entries[:RECENT_SIGN_INS]
    ]


RECORD_VIEWS = 20


def _record_views(conn: Connection, user: users.User) -> list[dict[str, Any]] | None:
    """For a patient: who opened their record, newest first (None for other accounts)."""
    if not (user.fhir_ref or "").startswith("Patient/"):
        return None
    return [
        {
            "recorded": entry["recorded"],
            "shown": entry["recorded"][:16].replace("T", " ") + " UTC",
            "who": entry["agent"].split("/", 1)[-1],
            "subtype": entry["subtype"],
            "refused": entry["outcome"] != "0",
            "emergency": entry.get("purpose") == "BTG",
            "reason": next((p.get("text") for p in entry["event"].get("purposeOfEvent", []) if p.get("text")), None),
        }
        for entry in audit.events_for_patient(conn, user.fhir_ref, limit=RECORD_VIEWS)
    ]


def _second_factor(conn: Connection, user: users.User) -> dict[str, Any] | None:
    """For staff: whether two-step sign-in is on, and the secret and QR code of an enrolment in progress."""
    if user.role not in users.STAFF_ROLES:
        return None
    pending = None if user.totp_enabled else users.pending_totp_secret(conn, user_id=user.id)
    if pending is None:
        return {"enabled": user.totp_enabled, "pending": None}
    uri = totp.provisioning_uri(pending, user.username)
    # The QR code is drawn here as SVG from the otpauth URI; no image leaves the server.
    qr_svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff", omitsize=False)
    spaced = " ".join(pending[i:i + 4] for i in range(0, len(pending), 4))
    return {"enabled": False, "pending": spaced, "qr_svg": qr_svg}


def _account_page(
    request: Request, conn: Connection, session: sessions.Session, user: users.User, *,
    status_code: int = 200, error: str | None = None, notice: str | None = None,
) -> HTMLResponse:
    request.state.csrf_token = session.csrf_token
    response = render(request, "account.html", status_code=status_code, error=error, notice=notice, user=user,
                      sign_ins=_recent_sign_ins(conn, user), record_views=_record_views(conn, user),
                      second_factor=_second_factor(conn, user))
    response.headers.update(_NO_STORE)
    return response


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request) -> Response:
    """Who is signed in, their language, their recent sign-ins, two-step sign-in and the ways to sign out."""
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "account")
        return _account_page(request, conn, v.session, v.user)


def _sign_out(request: Request, token: str | None, *, everywhere: bool) -> Response:
    with unit_of_work() as conn:
        found = guard.signed_in(conn, request)
        if found is not None:
            session, user = found
            if not guard.same_token(session.csrf_token, token):
                return _account_page(request, conn, session, user, status_code=403, error="csrf")
            if everywhere:
                sessions.end_all_sessions(conn, user_id=user.id)
                clients.revoke_user_tokens(conn, user_id=user.id)
            else:
                sessions.end_session(conn, request.cookies.get(sessions.COOKIE_NAME))
            audit.record(conn, ctx=users.context_for(user, guard.remote(request)), action="E", subtype="logout",
                         description="signed out everywhere" if everywhere else "signed out on the web")
    response = RedirectResponse("/", status_code=303, headers=_NO_STORE)
    _clear_session_cookie(request, response)
    return response


async def _csrf_token_sent(request: Request) -> str | None:
    form = await guard.form_fields(request)
    return form.get("csrf_token") or request.headers.get(CSRF_HEADER)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Sign out in this browser; the form must carry the session's CSRF token."""
    token = await _csrf_token_sent(request)
    return await run_in_threadpool(_sign_out, request, token, everywhere=False)


@router.post("/logout-everywhere")
async def logout_everywhere(request: Request) -> Response:
    """Sign out in every browser and revoke the account's refresh tokens; CSRF-checked like /logout."""
    token = await _csrf_token_sent(request)
    return await run_in_threadpool(_sign_out, request, token, everywhere=True)


_TOTP_NOTICES = {"start": "totp-started", "confirm": "totp-on", "off": "totp-off"}


def _second_factor_change(request: Request, step: str, form: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "account")
        if step not in _TOTP_NOTICES:
            return RedirectResponse("/account", status_code=303, headers=_NO_STORE)
        if not guard.same_token(v.session.csrf_token, form.get("csrf_token")):
            return _account_page(request, conn, v.session, v.user, status_code=403, error="csrf")
        if v.user.role not in users.STAFF_ROLES:
            return _account_page(request, conn, v.session, v.user, status_code=403, error="totp-staff")
        code = form.get("totp", "").strip()[:_MAX_TOTP]
        if step == "start":
            users.begin_totp_enrolment(conn, user_id=v.user.id)
        elif step == "confirm":
            try:
                users.confirm_totp_enrolment(conn, user_id=v.user.id, code=code)
            except users.TotpEnrolmentError:
                return _account_page(request, conn, v.session, v.user, status_code=400, error="totp-code")
        else:
            if not v.user.totp_enabled or not users.current_totp_matches(conn, user_id=v.user.id, code=code):
                return _account_page(request, conn, v.session, v.user, status_code=400, error="totp-code")
            users.disable_totp(conn, user_id=v.user.id)
        if step != "start":
            audit.record(conn, ctx=v.ctx, action="U", subtype="security-config",
                         description="two-step sign-in switched " + ("on" if step == "confirm" else "off"))
        user = users.get_user(conn, user_id=v.user.id)
        return _account_page(request, conn, v.session, user, notice=_TOTP_NOTICES[step])


@router.post("/account/two-step/{step}")
async def second_factor(request: Request, step: str) -> Response:
    """Set up two-step sign-in (start, then confirm with a first code) or switch it off with a current code."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_second_factor_change, request, step, form)
