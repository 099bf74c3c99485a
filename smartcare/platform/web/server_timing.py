"""A Server-Timing header (`app;dur=<ms>`) on every HTTP response: the server's own time for the request, so a
browser's developer tools and bench/app.py can tell it from the time spent on the network and in the client.

The time runs from the moment the request reaches the application to the moment its response headers are sent:
waiting for a request thread or for the database counts, as the person waiting for the page feels it. A
streamed body (an NDJSON export, a file) is not included, only the time until its headers go out.
"""

import time

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smartcare.platform.web.outermost import wrap_outermost

METRIC = "app"


class ServerTimingMiddleware:
    """Adds `Server-Timing: app;dur=<ms>` to each HTTP response (next to any Server-Timing the route set)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()

        async def send_timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - began) * 1000
                header = (b"server-timing", f"{METRIC};dur={took:.1f}".encode("latin-1"))
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_timed)


def install_server_timing(app: FastAPI) -> None:
    """Time every HTTP request of app, around all of its middleware."""
    wrap_outermost(app, ServerTimingMiddleware)  # the 500 page of an unexpected error is timed too
