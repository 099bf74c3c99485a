"""The web server's operations surface: a request id and an access line for every HTTP request, the request
metrics, /readyz (readiness) and /metrics (Prometheus, for loopback callers or the metrics token)."""

import hmac
import logging
import os
import re
import time

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smartcare.platform.ops import logs, metrics
from smartcare.platform.web.outermost import wrap_outermost

access_log = logging.getLogger(logs.ACCESS_LOGGER)
router = APIRouter(include_in_schema=False)

REQUEST_ID_HEADER = b"x-request-id"
# An incoming id is kept only when it is short and plain, so a log line never carries what a caller smuggled in.
_WELL_FORMED_ID = re.compile(r"[A-Za-z0-9._:\-]{8,64}")
METRICS_TOKEN_ENV = "SMARTCARE_METRICS_TOKEN"
UNMATCHED = "(unmatched)"  # the route of a request no route matched (a 404): never the raw path
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
STATUS_CLASSES = {n: f"{n}xx" for n in range(1, 6)}
_LOOPBACK = ("127.", "::1", "::ffff:127.")


def route_template(scope: Scope) -> str:
    """The matched route's path template (/fhir/{path:path}), never the raw path, which can carry identifiers."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    if isinstance(route, Mount):
        return path.rstrip("/") + "/{path}"  # a mount (/static): its files by one name
    return path


# The metric children by their labels: looked up once, not through prometheus_client's locked label lookup on every
# request (the routes, methods and status classes are few).
_counted: dict[tuple[str, str, int], object] = {}
_timed: dict[str, object] = {}


def _count_request(method: str, route: str, status: int, seconds: float) -> None:
    key = (method, route, status // 100)
    counter = _counted.get(key)
    if counter is None:
        counter = _counted[key] = metrics.http_requests.labels(method, route, STATUS_CLASSES.get(key[2], "other"))
    counter.inc()
    timer = _timed.get(route)
    if timer is None:
        timer = _timed[route] = metrics.http_latency.labels(route)
    timer.observe(seconds)


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1")
            return text if _WELL_FORMED_ID.fullmatch(text) else None
    return None


class RequestOpsMiddleware:
    """Gives each HTTP request an id (a well-formed X-Request-ID it came with, else a new one) that every log record
    written while serving it carries and the response returns; counts and times the request by its route
    template, and writes one access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        rid = _incoming_id(scope) or os.urandom(16).hex()
        token = logs.request_id.set(rid)
        header = (REQUEST_ID_HEADER, rid.encode("latin-1"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            took = time.perf_counter() - began
            route = route_template(scope)
            method = scope["method"] if scope["method"] in METHODS else "other"  # a made-up one is no new series
            _count_request(method, route, status, took)
            if access_log.isEnabledFor(logging.INFO):
                duration_ms = round(took * 1000, 1)
                access_log.info("%s %s %s %.1f ms", method, route, status, duration_ms,
                                extra={"method": method, "route": route, "status": status,
                                       "duration_ms": duration_ms})
            logs.request_id.reset(token)


def _engine():
    from smartcare.platform.db import get_engine

    return get_engine()


@router.get("/readyz")
def readyz() -> JSONResponse:
    """Ready for traffic: the database answers and its schema is at the newest migration (else 503 and why)."""
    from smartcare.platform.ops.check import readiness_checks

    failing = [check.as_json() for check in readiness_checks(_engine()) if not check.ok]
    if failing:
        return JSONResponse({"status": "not ready", "checks": failing}, status_code=503,
                            headers={"Cache-Control": "no-store"})
    return JSONResponse({"status": "ready"}, headers={"Cache-Control": "no-store"})


def metrics_allowed(request: Request) -> bool:
    """Loopback callers, or those presenting `Authorization: Bearer <SMARTCARE_METRICS_TOKEN>`."""
    token = os.environ.get(METRICS_TOKEN_ENV, "")
    if token:
        given = request.headers.get("authorization", "")
        if given[:7].lower() == "bearer " and hmac.compare_digest(given[7:].strip().encode(), token.encode()):
            return True
    host = request.client.host if request.client else ""
    return host.startswith(_LOOPBACK)


@router.get("/metrics")
def prometheus_metrics(request: Request) -> Response:
    """The Prometheus metrics; a 404 for anyone else, as if there were none."""
    if not metrics_allowed(request):
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    return Response(metrics.exposition(_engine), media_type=metrics.CONTENT_TYPE,
                    headers={"Cache-Control": "no-store"})


def install_request_ops(app: FastAPI) -> None:
    """Add /readyz and /metrics, and wrap the whole middleware stack (so even the 500 of an unexpected error has
    its id, count and access line) in RequestOpsMiddleware. Also sets up logging in a server process that has
    none (each of `serve --workers N`'s processes)."""
    logs.configure_logging()
    app.include_router(router)
    wrap_outermost(app, RequestOpsMiddleware)
