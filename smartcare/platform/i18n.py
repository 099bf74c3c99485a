"""Languages of the web pages: locale negotiation, Babel catalogs read from .po, and the Jinja2 environment.

SmartCare speaks English (the msgids themselves) and Simplified Chinese (``zh_Hans``). The catalogs
are the ``.po`` files under ``smartcare/locale/<locale>/LC_MESSAGES/messages.po``; they are read with
Babel when the app starts, so no compiled ``.mo`` file is kept in the repository.

The locale of a request comes from ``?lang=`` (which also sets the ``sc_lang`` cookie), then that
cookie, then ``Accept-Language``, then English. Only supported locales are ever accepted.

Updating the catalogs after changing strings in templates or Python (no babel.cfg needed; run from
the repository root)::

    .venv/bin/pybabel extract --no-location --sort-output --omit-header \\
        -F <(printf '[python: **.py]\\n[jinja2: **/templates/**.html]\\n') \\
        -k _ -k gettext -k ngettext:1,2 -o /tmp/smartcare-messages.pot smartcare
    .venv/bin/pybabel update -i /tmp/smartcare-messages.pot -d smartcare/locale -D messages \\
        -l zh_Hans --no-fuzzy-matching --ignore-obsolete -w 100

Then translate every empty ``msgstr`` in the ``.po`` file; ``tests/platform/web/test_web_catalogs.py``
fails while any message used by a template lacks a Chinese translation.
"""

import gettext as gettext_module
import io
import logging
import os
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, FileSystemLoader, pass_context
from jinja2.runtime import Context
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
TEMPLATE_DIR = Path(__file__).resolve().parent / "web" / "templates"
DOMAIN = "messages"
DEFAULT_LOCALE = "en"
COOKIE_NAME = "sc_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

# BCP 47 tag (what HTML, URLs and the cookie use) -> Babel/gettext locale id (the catalog folder).
SUPPORTED_LOCALES: dict[str, str] = {"en": "en", "zh-Hans": "zh_Hans"}
_BY_LOWER = {tag.lower(): tag for tag in SUPPORTED_LOCALES}
# Accept-Language tags browsers send for Simplified Chinese readers.
_ACCEPT_ALIASES = {"zh": "zh-Hans", "zh-cn": "zh-Hans", "zh-sg": "zh-Hans", "zh-hans-cn": "zh-Hans"}
_MAX_TAG = 35
_MAX_ACCEPT = 400


def supported_locale(value: str | None) -> str | None:
    """The supported locale tag that value names exactly (case-insensitive, '_' for '-'), else None."""
    if not value or len(value) > _MAX_TAG:
        return None
    return _BY_LOWER.get(value.strip().replace("_", "-").lower())


def locale_from_accept_language(header: str | None) -> str | None:
    """The best supported locale in an Accept-Language header, honouring q-values; None if none fits."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header[:_MAX_ACCEPT].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        lowered = tag.strip().lower()
        locale = supported_locale(lowered) or _ACCEPT_ALIASES.get(lowered)
        if locale is None and lowered.startswith("en-"):
            locale = "en"
        if locale is not None and 0 < quality <= 1:
            ranked.append((-quality, position, locale))
    return min(ranked)[2] if ranked else None


def negotiate_locale(*, query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The locale for a request: ?lang=, then the sc_lang cookie, then Accept-Language, then English."""
    return (
        supported_locale(query)
        or supported_locale(cookie)
        or locale_from_accept_language(accept_language)
        or DEFAULT_LOCALE
    )


def current_locale(request: HTTPConnection) -> str:
    """The locale tag ('en' or 'zh-Hans') this request is answered in."""
    chosen = getattr(request.state, "locale", None)
    if chosen in SUPPORTED_LOCALES:
        return chosen
    return negotiate_locale(
        query=request.query_params.get("lang"),
        cookie=request.cookies.get(COOKIE_NAME),
        accept_language=request.headers.get("accept-language"),
    )


@lru_cache(maxsize=len(SUPPORTED_LOCALES))
def translations(locale: str) -> gettext_module.NullTranslations:
    """The gettext translations for a supported locale tag, read from its .po catalog with Babel."""
    babel_id = SUPPORTED_LOCALES[locale]
    po_path = LOCALE_DIR / babel_id / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.exists():
        if locale != DEFAULT_LOCALE:
            log.warning("No catalog at %s; %s pages will show English", po_path, locale)
        return gettext_module.NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=babel_id, domain=DOMAIN)
    mo = io.BytesIO()
    write_mo(mo, catalog)  # fuzzy entries are left out, as gettext does
    mo.seek(0)
    return gettext_module.GNUTranslations(mo)


def load_catalogs() -> None:
    """Read every catalog now, so a broken .po file stops the app at start-up rather than on a request."""
    for locale in SUPPORTED_LOCALES:
        translations(locale)


@dataclass(frozen=True)
class Translator:
    """gettext and ngettext bound to one request's locale."""

    locale: str

    def gettext(self, message: str) -> str:
        """message in this locale."""
        return translations(self.locale).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The singular or plural message for n, in this locale."""
        return translations(self.locale).ngettext(singular, plural, n)


def translator(request: HTTPConnection) -> Translator:
    """gettext/ngettext for this request's locale (usable as a FastAPI dependency)."""
    return Translator(current_locale(request))


class LocaleMiddleware:
    """Chooses each request's locale into request.state.locale; a valid ?lang= also sets the sc_lang cookie."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        chosen = supported_locale(conn.query_params.get("lang"))
        scope.setdefault("state", {})["locale"] = current_locale(conn)
        if chosen is None:
            await self.app(scope, receive, send)
            return
        cookie = _cookie_header(chosen, secure=conn.url.scheme == "https")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"set-cookie", cookie.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _cookie_header(locale: str, *, secure: bool) -> str:
    # Readable by scripts on purpose (not HttpOnly): it only holds the language choice.
    parts = [f"{COOKIE_NAME}={locale}", "Path=/", f"Max-Age={COOKIE_MAX_AGE}", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


@pass_context
def _gettext(context: Context, message: str) -> str:
    return translations(context.get("locale") or DEFAULT_LOCALE).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return translations(context.get("locale") or DEFAULT_LOCALE).ngettext(singular, plural, n)


def _(message: str) -> str:
    """Mark a message for the catalog; it is translated where it is shown."""
    return message


# Monday first, as date.weekday() counts; FHIR's daysOfWeek codes (mon ... sun) in the same order.
WEEKDAY_NAMES = (_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday"))
WEEKDAY_SHORT_NAMES = (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))
FHIR_DAYS_OF_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def weekday_name(day: date | int | str, locale: str = DEFAULT_LOCALE, *, short: bool = False) -> str:
    """The weekday's name in locale; day is a date, a number 0-6 (Monday first) or a FHIR code such as "mon"."""
    if isinstance(day, date):
        index = day.weekday()
    elif isinstance(day, str):
        if day not in FHIR_DAYS_OF_WEEK:
            return day
        index = FHIR_DAYS_OF_WEEK.index(day)
    else:
        index = day
    names = WEEKDAY_SHORT_NAMES if short else WEEKDAY_NAMES
    return translations(locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE).gettext(names[index])


@pass_context
def _weekday(context: Context, day: date | int | str, short: bool = False) -> str:
    return weekday_name(day, context.get("locale") or DEFAULT_LOCALE, short=short)


def template_dirs() -> list[Path]:
    """The shell's templates first, then each domain module's own `templates/` folder."""
    package = TEMPLATE_DIR.parents[2]
    found = sorted(path for path in package.glob("*/**/templates") if path.is_dir() and path != TEMPLATE_DIR)
    return [TEMPLATE_DIR, *found]


def make_environment(template_dir: Path | None = None) -> Environment:
    """A Jinja2 environment with autoescaping on and gettext, ngettext and _() following the `locale` variable.

    Domain templates live in their module's `templates/` folder, under a sub-folder named for the
    module (`workstation/home.html`), so names never collide.
    """
    env = Environment(
        loader=FileSystemLoader([template_dir] if template_dir else template_dirs()),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates change with a new release, which restarts the process: checking each file's time on every
        # render was a dozen stat calls a page. SMARTCARE_TEMPLATE_RELOAD=1 checks them (editing templates live).
        auto_reload=os.environ.get("SMARTCARE_TEMPLATE_RELOAD") == "1",
        cache_size=-1,  # every template stays compiled (there are some 250)
    )
    # The callables read the locale from each render's context, so one shared environment serves every request.
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["weekday"] = _weekday
    return env
