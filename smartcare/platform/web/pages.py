"""The web shell's pages: rendering with the shared templates, the public landing page and the 404 page."""

from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from smartcare.platform import clock, i18n
from smartcare.platform.web import assets

router = APIRouter(include_in_schema=False)

# Names shown in their own language, so a reader finds theirs whatever the page's language is.
LANGUAGE_LABELS = {"en": "English", "zh-Hans": "简体中文"}
# Paths that belong to machines: their errors stay JSON (FHIR answers its own under /fhir/).
API_PREFIXES = ("/fhir", "/api", "/static", "/docs", "/redoc", "/openapi.json", "/healthz")
_MAX_SHOWN_PATH = 200


@lru_cache(maxsize=1)
def environment():
    """The shared Jinja2 environment, with the asset URL helpers every page uses."""
    env = i18n.make_environment()
    env.globals["vendor_url"] = assets.vendor_url
    env.globals["static_url"] = static_url
    env.filters["wall_clock"] = clock.wall_clock  # stored UTC instants as the region's local time
    return env


@lru_cache(maxsize=64)
def static_url(path: str) -> str:
    """The URL of one of our own static files, with its modification time so a changed file is fetched anew."""
    target = assets.STATIC_DIR / path
    version = int(target.stat().st_mtime) if target.is_file() else 0
    return f"/static/{path}?v={version}"


def language_links(request: Request, locale: str) -> list[dict[str, Any]]:
    """One link per supported language back to this path, keeping the query except for lang."""
    # Collapse leading slashes so a path like //evil.example never becomes a link off the site.
    path = "/" + request.url.path.lstrip("/")
    kept = [(key, value) for key, value in request.query_params.multi_items() if key != "lang"]
    return [
        {
            "tag": tag,
            "label": LANGUAGE_LABELS[tag],
            "href": f"{path}?{urlencode([*kept, ('lang', tag)])}",
            "current": tag == locale,
        }
        for tag in i18n.SUPPORTED_LOCALES
    ]


def render(request: Request, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page rendered in the request's language; csrf_token comes from request.state when auth has set one."""
    locale = i18n.current_locale(request)
    values = {
        "request": request,
        "locale": locale,
        "html_lang": locale,
        "language_links": language_links(request, locale),
        "csrf_token": getattr(request.state, "csrf_token", None),
        **context,
    }
    html = environment().get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code, headers={"Vary": "Accept-Language, Cookie"})


def render_private(request: Request, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page with someone's own data: rendered like any page, and never stored by the browser or a proxy."""
    response = render(request, template, status_code=status_code, **context)
    response.headers["Cache-Control"] = "no-store"
    return response


def not_found(request: Request) -> HTMLResponse:
    """The 404 page for a record that does not exist or is out of the caller's reach (the same answer for both,
    so a page never tells which), not stored by the browser."""
    return render_private(request, "404.html", status_code=404, requested_path=request.url.path[:200])


@router.get("/", response_class=HTMLResponse)
def landing(request: Request) -> HTMLResponse:
    """The public landing page: what SmartCare is, with the way in for people and for developers."""
    return render(request, "landing.html")


def wants_html(request: Request) -> bool:
    """True when a browser asked for a page outside the API paths."""
    path = request.url.path
    if any(path == prefix or path.startswith(prefix + "/") for prefix in API_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


async def not_found_page(request: Request, exc: StarletteHTTPException) -> Response:
    """A 404 page in the reader's language for browsers; every other error keeps FastAPI's JSON answer."""
    if exc.status_code == 404 and wants_html(request):
        shown = request.url.path[:_MAX_SHOWN_PATH]
        return render(request, "404.html", status_code=404, requested_path=shown)
    return await http_exception_handler(request, exc)


def install_pages(app: FastAPI) -> None:
    """Add the locale middleware, the landing page and the HTML 404 page to app; catalogs load now."""
    i18n.load_catalogs()
    app.add_middleware(i18n.LocaleMiddleware)
    app.add_exception_handler(StarletteHTTPException, not_found_page)
    app.include_router(router)
