"""Install an ASGI middleware around an app's whole stack, error handling included.

Starlette keeps its error middleware (the 500 page of an unexpected failure) outside everything added with
add_middleware, so a middleware that must see every response, that page too (Server-Timing, the security
headers, request ids and metrics), wraps the stack the app builds instead.
"""

from collections.abc import Callable

from fastapi import FastAPI
from starlette.types import ASGIApp


def wrap_outermost(app: FastAPI, middleware: Callable[[ASGIApp], ASGIApp]) -> None:
    """Make middleware(stack) the outermost layer of app (the last one wrapped is the outermost)."""
    build = app.build_middleware_stack

    def build_wrapped() -> ASGIApp:
        return middleware(build())

    app.build_middleware_stack = build_wrapped
