"""What makes /app an installable web app: the manifest, the icons, the service worker, the offline page and the
shell's own CSS/JS.

The service worker at /app/sw.js (its scope widened to /app by header) pre-caches the shell (these files, the
offline page in both languages, the CSS/JS every page loads) and the first-aid guides, and keeps the person's health
record summary page for offline use: network first, stored under the signed-in account's key (from /app/shell/who),
dropped when another account signs in or on any signed-out page (app.js clears it).
"""

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.patient.app import icons
from smartcare.patient.first_aid import views as first_aid
from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

BASE = "/app"
SHELL = f"{BASE}/shell"
STATIC_DIR = Path(__file__).resolve().parent / "static"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "app"
# Files of our own, by the name in their URL (never a path built from input).
OWN_FILES = {"app.js": "text/javascript", "app.css": "text/css"}
# Icon name in the URL -> (size, purpose).
ICONS = {"icon-192": (192, "any"), "icon-512": (512, "any"), "maskable-192": (192, "maskable"),
         "maskable-512": (512, "maskable")}
THEME_COLOR = "#0b57d0"
BACKGROUND_COLOR = "#ffffff"
REVALIDATE = {"Cache-Control": "no-cache"}


def icon_url(name: str) -> str:
    """Where one of the app's PNG icons is served."""
    return f"{BASE}/icons/{name}.png"


def offline_urls() -> dict[str, str]:
    """The offline page in each language, by language tag."""
    return {locale: f"{BASE}/offline?lang={locale}" for locale in i18n.SUPPORTED_LOCALES}


def precache_urls() -> list[str]:
    """What the app's service worker stores on install: the shell, the offline pages and the first-aid guides."""
    shell = [*(f"{SHELL}/{name}" for name in OWN_FILES), *(icon_url(name) for name in ICONS),
             *(f"{BASE}/manifest.webmanifest?lang={locale}" for locale in i18n.SUPPORTED_LOCALES),
             *offline_urls().values()]
    return list(dict.fromkeys([*shell, *first_aid.precache_urls()]))


@lru_cache(maxsize=1)
def cache_version() -> str:
    """A short hash of everything the app's cache holds, so any change replaces the cache."""
    digest = hashlib.sha256()
    for path in [*sorted(STATIC_DIR.iterdir()), *sorted(TEMPLATE_DIR.glob("*.html"))]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(first_aid.cache_version().encode())
    digest.update(json.dumps(precache_urls()).encode())
    digest.update(i18n.translations("zh-Hans").gettext("You are offline").encode())
    return digest.hexdigest()[:12]


@router.get(f"{BASE}/sw.js")
def service_worker() -> Response:
    """The app's service worker, with this build's cache version and what it pre-caches."""
    script = (STATIC_DIR / "sw.js").read_text(encoding="utf-8")
    script = (script.replace("__VERSION__", cache_version()).replace("__PRECACHE__", json.dumps(precache_urls()))
              .replace("__OFFLINE__", json.dumps(offline_urls())))
    return Response(script, media_type="text/javascript", headers={"Service-Worker-Allowed": BASE, **REVALIDATE})


@router.get(f"{BASE}/manifest.webmanifest")
def web_app_manifest(request: Request) -> Response:
    """The web app manifest, so the app can be installed to the home screen."""
    locale = i18n.current_locale(request)
    gettext = i18n.translations(locale).gettext
    manifest = {
        "name": gettext("SmartCare: my health"), "short_name": "SmartCare", "lang": locale,
        "description": gettext("Your appointments, results, medicines and health services in one app."),
        "start_url": BASE, "scope": BASE, "id": BASE, "display": "standalone",
        "background_color": BACKGROUND_COLOR, "theme_color": THEME_COLOR,
        "icons": [{"src": icon_url(name), "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}
                  for name, (size, purpose) in ICONS.items()],
    }
    return Response(json.dumps(manifest, ensure_ascii=False), media_type="application/manifest+json",
                    headers=REVALIDATE)


@router.get(f"{BASE}/icons/{{name}}.png")
def icon(name: str) -> Response:
    """One of the app's icons (a white cross on blue), from the allow-list of names."""
    found = ICONS.get(name)
    if found is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    return Response(icons.icon_png(*found), media_type="image/png", headers=REVALIDATE)


@lru_cache(maxsize=len(OWN_FILES))
def _own_file(name: str) -> tuple[bytes, str]:
    body = (STATIC_DIR / name).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


def _serve_own(request: Request, name: str) -> Response:
    body, etag = _own_file(name)
    headers = {**REVALIDATE, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=OWN_FILES[name], headers=headers)


@router.get(f"{SHELL}/app.js")
def shell_script(request: Request) -> Response:
    """The shell's script: registers the service worker, clears the offline record when signed out, and shows the
    live queue number on the home."""
    return _serve_own(request, "app.js")


@router.get(f"{SHELL}/app.css")
def shell_styles(request: Request) -> Response:
    """The shell's style sheet: the home's cards and service grid, and the large-text mode."""
    return _serve_own(request, "app.css")


@router.get(f"{BASE}/offline", response_class=HTMLResponse)
def offline_page(request: Request) -> HTMLResponse:
    """The page the service worker shows when a page is not available offline."""
    response = render(request, "app/offline.html")
    response.headers.update(REVALIDATE)
    return response


def _who(request: Request) -> JSONResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    # The service worker names its stored record pages by this key; a hash so no account id sits in the cache.
    key = hashlib.sha256(f"smartcare-app:{v.user.id}".encode()).hexdigest()[:32]
    return JSONResponse({"key": key}, headers=guard.NO_STORE)


@router.get(f"{SHELL}/who")
async def who(request: Request) -> JSONResponse:
    """An opaque key of the signed-in account, so the service worker keeps each account's offline pages apart."""
    return await run_in_threadpool(_who, request)
