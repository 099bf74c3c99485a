"""First-aid guides in the patient app: the list, one page per protocol, and what makes them work offline.

The pages are public (no personal data, no sign-in) so anyone can open them in an emergency. A service
worker served from /app/first-aid/sw.js (its scope widened to /app/first-aid by header) pre-caches the
list and every protocol page in both languages, their pictures and the CSS/JS they load, and answers
from that cache first; the cache's name carries a hash of everything cached, so a change replaces it.
"""

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from smartcare.knowledge import first_aid
from smartcare.platform import i18n
from smartcare.platform.web import assets
from smartcare.platform.web.pages import not_found, render, static_url

router = APIRouter(include_in_schema=False)

BASE = "/app/first-aid"
STATIC_DIR = Path(__file__).resolve().parent / "static"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "first_aid"
APP_ICON = "icon"
PAGE_HEADERS = {"Cache-Control": "no-cache"}
# Files of our own the pages load, by the name in their URL (never a path built from input).
OWN_FILES = {"first-aid.js": "text/javascript", "first-aid.css": "text/css"}
_MAX_KEY = 40


@lru_cache(maxsize=1)
def _pictures() -> dict[str, str]:
    """Picture name -> SVG text, for every picture a protocol uses plus the app icon."""
    names = [*first_aid.pictures(), APP_ICON]
    return {name: (STATIC_DIR / "pictures" / f"{name}.svg").read_text(encoding="utf-8") for name in names}


def picture_url(name: str) -> str:
    """Where a protocol picture is served."""
    return f"{BASE}/pictures/{name}.svg"


def _vendor_urls() -> list[str]:
    """The shell's CSS and JS that base.html loads on every page (only those installed)."""
    found = [assets.vendor_url(name, file) for name, file in
             (("pico", "pico.min.css"), ("htmx", "htmx.min.js"), ("alpinejs", "cdn.min.js"))]
    return [url for url in found if url] + [static_url("css/smartcare.css")]


@lru_cache(maxsize=1)
def cache_version() -> str:
    """A short hash of everything the offline cache holds, so any change gives a new cache."""
    digest = hashlib.sha256()
    data_files = sorted(first_aid.DATA_DIR.glob("*.yaml"))
    own = [STATIC_DIR / name for name in sorted(OWN_FILES)] + [STATIC_DIR / "sw.js"]
    for path in [*data_files, *own, *sorted(TEMPLATE_DIR.glob("*.html"))]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for name, svg in sorted(_pictures().items()):
        digest.update(name.encode())
        digest.update(svg.encode())
    digest.update(json.dumps(_vendor_urls()).encode())
    digest.update(i18n.translations("zh-Hans").gettext("First aid").encode())
    return digest.hexdigest()[:12]


def own_file_url(name: str) -> str:
    """The versioned URL of one of this module's own CSS/JS files."""
    return f"{BASE}/{name}?v={cache_version()}"


def page_urls() -> list[str]:
    """Every page of the guides in both languages: the list first, then each protocol."""
    paths = [BASE, *(f"{BASE}/{key}" for key in first_aid.PROTOCOL_KEYS)]
    return [f"{path}?lang={locale}" for path in paths for locale in i18n.SUPPORTED_LOCALES]


def precache_urls() -> list[str]:
    """What the service worker stores on install: pages, pictures, manifests, and the CSS/JS the pages load."""
    return [
        *page_urls(),
        *(picture_url(name) for name in _pictures()),
        *(own_file_url(name) for name in OWN_FILES),
        *(f"{BASE}/manifest.webmanifest?lang={locale}" for locale in i18n.SUPPORTED_LOCALES),
        *_vendor_urls(),
    ]


def _page(request: Request, template: str, **values) -> HTMLResponse:
    response = render(request, template, first_aid_css=own_file_url("first-aid.css"),
                      first_aid_js=own_file_url("first-aid.js"), picture_url=picture_url, **values)
    response.headers.update(PAGE_HEADERS)
    return response


@router.get(BASE, response_class=HTMLResponse)
def first_aid_list(request: Request) -> HTMLResponse:
    """All first-aid guides, most urgent first, with the call-120 button."""
    return _page(request, "first_aid/list.html", protocols=first_aid.protocols())


@router.get(f"{BASE}/sw.js")
def service_worker() -> Response:
    """The service worker, with this build's cache version and the URLs it pre-caches."""
    script = (STATIC_DIR / "sw.js").read_text(encoding="utf-8")
    script = script.replace("__VERSION__", cache_version()).replace("__PRECACHE__", json.dumps(precache_urls()))
    return Response(script, media_type="text/javascript",
                    headers={"Service-Worker-Allowed": BASE, "Cache-Control": "no-cache"})


@router.get(f"{BASE}/manifest.webmanifest")
def web_app_manifest(request: Request) -> Response:
    """The web app manifest, so the guides can be installed to the home screen and opened offline."""
    locale = i18n.current_locale(request)
    gettext = i18n.translations(locale).gettext
    manifest = {
        "name": gettext("SmartCare first aid"),
        "short_name": gettext("First aid"),
        "lang": locale,
        "start_url": f"{BASE}?lang={locale}",
        "scope": BASE,
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#b71c1c",
        "icons": [{"src": picture_url(APP_ICON), "sizes": "any", "type": "image/svg+xml", "purpose": "any"}],
    }
    return Response(json.dumps(manifest, ensure_ascii=False), media_type="application/manifest+json",
                    headers={"Cache-Control": "no-cache"})


@router.get(f"{BASE}/pictures/{{name}}.svg")
def picture(name: str) -> Response:
    """One protocol picture (an SVG with a title), from the allow-list of pictures the protocols use."""
    svg = _pictures().get(name)
    if svg is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-cache"})


def _own_file(name: str) -> Response:
    return Response((STATIC_DIR / name).read_bytes(), media_type=OWN_FILES[name], headers={"Cache-Control": "no-cache"})


@router.get(f"{BASE}/first-aid.js")
def first_aid_script() -> Response:
    """The guides' script: one step per screen, the CPR metronome, and registering the service worker."""
    return _own_file("first-aid.js")


@router.get(f"{BASE}/first-aid.css")
def first_aid_styles() -> Response:
    """The guides' style sheet: large text, high contrast, the call-120 bar."""
    return _own_file("first-aid.css")


@router.get(f"{BASE}/{{key}}", response_class=HTMLResponse)
def protocol_page(request: Request, key: str) -> HTMLResponse:
    """One protocol: when to use it, whether to call 120 first, the steps with pictures, what not to do, sources."""
    found = first_aid.protocol(key) if len(key) <= _MAX_KEY else None
    if found is None:
        return not_found(request)
    return _page(request, "first_aid/protocol.html", protocol=found, steps=list(enumerate(found.steps, start=1)))
