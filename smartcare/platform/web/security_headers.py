"""Security headers on every HTTP response: a Content-Security-Policy without inline scripts, no framing by other
sites, no MIME sniffing, a careful Referer, camera and microphone for our own video visits only, and HSTS when the
request came over TLS.

The policy is why no template may hold an inline <script> or an on*= handler (tests/platform/web checks it): page
data travels as <script type="application/json"> blocks or data-* attributes, which are never executed. Styles may
stay inline ('unsafe-inline' for style-src): pages and ECharts' SVG set style attributes, and an injected style
cannot run code. A header the route set itself (an attachment's stricter CSP) is kept as it is.
"""

import re

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smartcare.platform.web.outermost import wrap_outermost

# 'self' covers the same host's ws:/wss: in current browsers (CSP Level 3), so the live pages need no more.
# img-src data: is for Pico's icons (SVG data URLs in its CSS). A video visit's camera streams play through
# srcObject, which media-src does not govern.
PAGE_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "media-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# The image viewer is framed by the video visit's multidisciplinary room, on our own origin only.
SAME_ORIGIN_FRAMES = re.compile(r"^/workstation/imaging/studies/[^/]+/viewer$")
# FastAPI's own API documentation pages load Swagger UI / ReDoc from their CDN and start it with an inline script.
API_DOCS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
API_DOCS_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com",
    "font-src 'self' https://fonts.gstatic.com",
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
    "worker-src 'self' blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# Documents a browser may run scripts in; a JSON answer, a script or an image needs no policy of its own.
DOCUMENT_TYPES = (b"text/html", b"application/xhtml+xml", b"image/svg+xml")
# The video visits use the camera and microphone, the symptom check and the hospital finder the position.
PERMISSIONS_POLICY = "camera=(self), microphone=(self), geolocation=(self), display-capture=(self), payment=(), usb=()"
HSTS = "max-age=31536000; includeSubDomains"


def headers_for(*, path: str, scheme: str, content_type: bytes) -> dict[bytes, bytes]:
    """The security headers one response gets, by its path, the request's scheme and the response's media type."""
    framed_here = bool(SAME_ORIGIN_FRAMES.match(path))
    headers = {
        b"x-content-type-options": b"nosniff",
        b"referrer-policy": b"strict-origin-when-cross-origin",
        b"x-frame-options": b"SAMEORIGIN" if framed_here else b"DENY",
        b"permissions-policy": PERMISSIONS_POLICY.encode("latin-1"),
    }
    if content_type.split(b";")[0].strip().lower() in DOCUMENT_TYPES:
        policy = API_DOCS_POLICY if path in API_DOCS else PAGE_POLICY
        if framed_here:
            policy = policy.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
        headers[b"content-security-policy"] = policy.encode("latin-1")
    if scheme == "https":  # uvicorn sets it from X-Forwarded-Proto when the proxy is trusted
        headers[b"strict-transport-security"] = HSTS.encode("latin-1")
    return headers


class SecurityHeadersMiddleware:
    """Adds the security headers to each HTTP response, keeping any of them the route already set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = list(message.get("headers", []))
                names = {name.lower() for name, _ in present}
                content_type = next((value for name, value in present if name.lower() == b"content-type"), b"")
                added = headers_for(path=scope.get("path", ""), scheme=scope.get("scheme", "http"),
                                    content_type=content_type)
                message["headers"] = present + [(name, value) for name, value in added.items() if name not in names]
            await send(message)

        await self.app(scope, receive, send_secured)


def install_security_headers(app: FastAPI) -> None:
    """Secure every HTTP response of app, the error pages of unexpected failures included."""
    wrap_outermost(app, SecurityHeadersMiddleware)  # the 500 page of an unexpected error gets them too
