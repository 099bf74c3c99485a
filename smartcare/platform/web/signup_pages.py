"""Pages where people help themselves: patient sign-up with a verification code, and password reset.

Each form carries a double-submit CSRF token like /login: the same random value in the form and in
an sc_csrf cookie scoped to the flow's path. Between the two steps of a flow, the browser holds the
code's ticket in an HttpOnly cookie scoped the same way, so it never shows in a URL.
"""

import re
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.platform import clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import passwords, signup, users, verification
from smartcare.platform.security.verification import CodeRejected, CodeUnusable, SendThrottled
from smartcare.platform.web import guard, sessions
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

CSRF_COOKIE = "sc_csrf"
SIGNUP_PATH = "/signup"
RESET_PATH = "/password-reset"
SIGNUP_TICKET_COOKIE = "sc_signup"
RESET_TICKET_COOKIE = "sc_reset"
# Long enough to ask for a new code after the first expired; the ticket alone proves nothing.
TICKET_MAX_AGE = 3600
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_NO_STORE = {"Cache-Control": "no-store"}
# Form fields and how much of each is read; browsers are told the same limits with maxlength.
LIMITS = {
    "phone": 32, "email": signup.MAX_CONTACT, "resident_id": signup.MAX_RESIDENT_ID_INPUT, "family": signup.MAX_NAME,
    "given": signup.MAX_NAME, "birth_date": 10, "code": 16, "username": 64, "password": 1024,
    "identifier": signup.MAX_IDENTIFIER_INPUT, "csrf_token": 64, "action": 16,
}
PASSWORD_RULES = {"min": passwords.MIN_LENGTH, "max": passwords.MAX_LENGTH, "passphrase": passwords.PASSPHRASE_LENGTH}
CODE_MINUTES = int(verification.CODE_LIFETIME.total_seconds() // 60)
# In the order the form shows them, so the error summary lists problems in that order too.
SIGNUP_FIELDS = ("phone", "email", "resident_id", "family", "given", "birth_date")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def _form(request: Request) -> dict[str, str]:
    """The posted fields this module knows, each cut one character past its limit.

    The extra character lets the checks see that a value was too long, rather than accept a cut one.
    """
    form = await request.form()
    return {name: value[: limit + 1] for name, limit in LIMITS.items()
            if isinstance(value := form.get(name, ""), str)}


def _form_page(request: Request, template: str, path: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page whose form carries the double-submit CSRF token of the flow at path."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if not _TOKEN.fullmatch(token):
        token = secrets.token_urlsafe(32)
    response = render(request, template, status_code=status_code, form_token=token, limits=LIMITS,
                      password_rules=PASSWORD_RULES, code_minutes=CODE_MINUTES, **context)
    response.headers.update(_NO_STORE)
    response.set_cookie(CSRF_COOKIE, token, path=path, secure=_secure(request), httponly=True, samesite="strict")
    return response


def _csrf_ok(request: Request, form: dict[str, str]) -> bool:
    return guard.same_token(request.cookies.get(CSRF_COOKIE), form.get("csrf_token"))


def _redirect(request: Request, to: str, *, ticket_cookie: str, ticket: str | None, path: str) -> RedirectResponse:
    response = RedirectResponse(to, status_code=303, headers=_NO_STORE)
    if ticket is None:
        response.delete_cookie(ticket_cookie, path=path, secure=_secure(request), httponly=True, samesite="strict")
    else:
        response.set_cookie(ticket_cookie, ticket, max_age=TICKET_MAX_AGE, path=path, secure=_secure(request),
                            httponly=True, samesite="strict")
    return response


def mask_address(address: str) -> str:
    """A phone number or e-mail address shown so its owner recognises it and an onlooker learns little."""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{address[:3]}****{address[-4:]}"


def _code_error(exc: verification.VerificationError) -> dict[str, Any]:
    if isinstance(exc, CodeRejected):
        return {"error": "code_wrong", "attempts_left": exc.attempts_left}
    if isinstance(exc, SendThrottled):
        return {"error": "throttled"}
    return {"error": "code_unusable"}


def _account_error(exc: users.IdentityError) -> dict[str, Any]:
    if isinstance(exc, users.WeakPassword):
        return {"error": "weak_password", "password_problems": exc.problems}
    if isinstance(exc, users.UsernameTaken):
        return {"error": "username_taken"}
    return {"error": "username_invalid"}


# --- sign-up -------------------------------------------------------------------------------------------


def _signup_form(request: Request, *, status_code: int = 200, values: dict[str, str] | None = None,
                 problems: dict[str, str] | None = None, error: str | None = None) -> HTMLResponse:
    return _form_page(request, "signup.html", SIGNUP_PATH, status_code=status_code, values=values or {},
                      problems=problems or {}, fields=SIGNUP_FIELDS, error=error,
                      today=clock.now().date().isoformat())


@router.get(SIGNUP_PATH, response_class=HTMLResponse)
def signup_page(request: Request) -> HTMLResponse:
    """The first step of signing up: where to send the code, and who the person is."""
    return _signup_form(request)


def _start(details: signup.SignupDetails, remote: str | None) -> str:
    with unit_of_work() as conn:
        return signup.start_signup(conn, details=details, remote_addr=remote).ticket


def _checked_details(values: dict[str, str]) -> signup.SignupDetails:
    """The details from the form, where the code goes in either the phone or the e-mail field (not both)."""
    phone, email = values["phone"].strip(), values["email"].strip()
    field, wanted = ("email", "email") if email and not phone else ("phone", "sms")
    problems: dict[str, str] = {}
    if phone and email:
        problems["email"] = "contact_both"
    elif not (phone or email):
        problems["phone"] = "contact_missing"
    details = None
    try:
        details = signup.check_details(contact=phone or email, **{k: values[k] for k in SIGNUP_FIELDS[2:]})
    except signup.SignupInvalid as exc:
        problems |= {name: problem for name, problem in exc.problems.items() if name != "contact"}
        if "contact" in exc.problems and not (phone and email):
            problems.setdefault(field, f"{field}_invalid")
    if details is not None and details.contact.channel != wanted:
        problems.setdefault(field, f"{field}_invalid")  # an e-mail address in the phone field, or the reverse
    if problems:
        raise signup.SignupInvalid(problems)
    return details


@router.post(SIGNUP_PATH)
async def signup_submit(request: Request) -> Response:
    """Check the details and send a code; then on to entering it."""
    form = await _form(request)
    values = {name: form.get(name, "") for name in SIGNUP_FIELDS}
    if not _csrf_ok(request, form):
        return _signup_form(request, status_code=403, values=values, error="csrf")
    try:
        details = _checked_details(values)
        ticket = await run_in_threadpool(_start, details, guard.remote(request))
    except signup.SignupInvalid as exc:
        return _signup_form(request, status_code=422, values=values, problems=exc.problems)
    except SendThrottled:
        return _signup_form(request, status_code=429, values=values, error="throttled")
    return _redirect(request, f"{SIGNUP_PATH}/verify", ticket_cookie=SIGNUP_TICKET_COOKIE, ticket=ticket,
                     path=SIGNUP_PATH)


def _pending(request: Request) -> verification.PendingCode | None:
    """The sign-up this browser has under way, unless its code was used (expired codes can be resent)."""
    with unit_of_work() as conn:
        return verification.find(conn, ticket=request.cookies.get(SIGNUP_TICKET_COOKIE, ""), purpose="signup")


def _verify_page(request: Request, pending: verification.PendingCode, *, status_code: int = 200,
                 username: str = "", **context: Any) -> HTMLResponse:
    return _form_page(request, "signup_verify.html", SIGNUP_PATH, status_code=status_code,
                      address=mask_address(pending.address), username=username, **context)


@router.get(f"{SIGNUP_PATH}/verify", response_class=HTMLResponse)
def signup_verify_page(request: Request) -> Response:
    """The second step: the code that was sent, and the username and password the person chooses."""
    pending = _pending(request)
    if pending is None:
        return RedirectResponse(SIGNUP_PATH, status_code=303, headers=_NO_STORE)
    return _verify_page(request, pending, resent=request.query_params.get("resent") == "1")


@router.post(f"{SIGNUP_PATH}/verify")
async def signup_verify_submit(request: Request) -> Response:
    """Create the account (or, for the form's second button, send a new code); say so on success."""
    form = await _form(request)
    ticket = request.cookies.get(SIGNUP_TICKET_COOKIE, "")
    pending = await run_in_threadpool(_pending, request)
    if pending is None:
        return RedirectResponse(SIGNUP_PATH, status_code=303, headers=_NO_STORE)
    username = form.get("username", "")
    if not _csrf_ok(request, form):
        return _verify_page(request, pending, status_code=403, username=username, error="csrf")
    if form.get("action") == "resend":
        return await _resend(request, pending)
    try:
        await run_in_threadpool(
            signup.complete_signup, ticket=ticket, code=form.get("code", ""), username=username,
            password=form.get("password", ""), locale=i18n.current_locale(request), remote_addr=guard.remote(request),
        )
    except verification.VerificationError as exc:
        return _verify_page(request, pending, status_code=400, username=username, **_code_error(exc))
    except users.IdentityError as exc:
        return _verify_page(request, pending, status_code=422, username=username, **_account_error(exc))
    except signup.ContactInUse:
        return _verify_page(request, pending, status_code=409, username=username, error="contact_in_use")
    except signup.SignupRefused:
        return _verify_page(request, pending, status_code=409, username=username, error="refused")
    response = _form_page(request, "signup_verify.html", SIGNUP_PATH, done=True, username=username)
    response.delete_cookie(SIGNUP_TICKET_COOKIE, path=SIGNUP_PATH, secure=_secure(request), httponly=True,
                           samesite="strict")
    return response


def _send_again(ticket: str, remote: str | None) -> str:
    with unit_of_work() as conn:
        return signup.resend_signup_code(conn, ticket=ticket, remote_addr=remote).ticket


async def _resend(request: Request, pending: verification.PendingCode) -> Response:
    """Send a fresh code for the sign-up under way (at most one a minute) and show the code step again."""
    try:
        fresh = await run_in_threadpool(_send_again, pending.ticket, guard.remote(request))
    except SendThrottled:
        return _verify_page(request, pending, status_code=429, error="throttled")
    except CodeUnusable:  # used meanwhile, in another tab
        return RedirectResponse(SIGNUP_PATH, status_code=303, headers=_NO_STORE)
    return _redirect(request, f"{SIGNUP_PATH}/verify?resent=1", ticket_cookie=SIGNUP_TICKET_COOKIE, ticket=fresh,
                     path=SIGNUP_PATH)


# --- password reset -----------------------------------------------------------------------------------


@router.get(RESET_PATH, response_class=HTMLResponse)
def reset_page(request: Request) -> HTMLResponse:
    """Ask for a reset code: username, or the phone number or e-mail address on the account."""
    return _form_page(request, "password_reset.html", RESET_PATH, identifier="")


def _request_reset(identifier: str, remote: str | None) -> str:
    with unit_of_work() as conn:
        return signup.request_password_reset(conn, identifier=identifier, remote_addr=remote)


@router.post(RESET_PATH)
async def reset_submit(request: Request) -> Response:
    """Send a code to the contact on file, if an account matches; the answer is the same either way."""
    form = await _form(request)
    identifier = form.get("identifier", "").strip()
    if not _csrf_ok(request, form):
        return _form_page(request, "password_reset.html", RESET_PATH, status_code=403, identifier=identifier,
                          error="csrf")
    if not identifier:
        return _form_page(request, "password_reset.html", RESET_PATH, status_code=422, identifier="",
                          error="identifier_missing")
    try:
        ticket = await run_in_threadpool(_request_reset, identifier, guard.remote(request))
    except SendThrottled:
        return _form_page(request, "password_reset.html", RESET_PATH, status_code=429, identifier=identifier,
                          error="throttled")
    return _redirect(request, f"{RESET_PATH}/confirm", ticket_cookie=RESET_TICKET_COOKIE, ticket=ticket,
                     path=RESET_PATH)


@router.get(f"{RESET_PATH}/confirm", response_class=HTMLResponse)
def reset_confirm_page(request: Request) -> Response:
    """Enter the code and a new password."""
    if not request.cookies.get(RESET_TICKET_COOKIE):
        return RedirectResponse(RESET_PATH, status_code=303, headers=_NO_STORE)
    return _form_page(request, "password_reset_confirm.html", RESET_PATH)


@router.post(f"{RESET_PATH}/confirm")
async def reset_confirm_submit(request: Request) -> Response:
    """Change the password; every session and app token of the account ends, this browser's too."""
    form = await _form(request)
    ticket = request.cookies.get(RESET_TICKET_COOKIE, "")
    if not ticket:
        return RedirectResponse(RESET_PATH, status_code=303, headers=_NO_STORE)
    page = "password_reset_confirm.html"
    if not _csrf_ok(request, form):
        return _form_page(request, page, RESET_PATH, status_code=403, error="csrf")
    try:
        await run_in_threadpool(
            signup.confirm_password_reset, ticket=ticket, code=form.get("code", ""),
            new_password=form.get("password", ""), remote_addr=guard.remote(request),
        )
    except verification.VerificationError as exc:
        return _form_page(request, page, RESET_PATH, status_code=400, **_code_error(exc))
    except users.WeakPassword as exc:
        return _form_page(request, page, RESET_PATH, status_code=422, **_account_error(exc))
    except users.UserNotFound:
        # The account was deleted after the code was sent: the code is worth nothing now.
        return _form_page(request, page, RESET_PATH, status_code=400, error="code_unusable")
    response = _form_page(request, page, RESET_PATH, done=True)
    secure = _secure(request)
    response.delete_cookie(RESET_TICKET_COOKIE, path=RESET_PATH, secure=secure, httponly=True, samesite="strict")
    response.delete_cookie(sessions.COOKIE_NAME, path="/", secure=secure, httponly=True, samesite="lax")
    return response
