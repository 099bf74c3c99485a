"""Route a request only through the routers that can hold its path: an index by the path's first segments.

The application includes about a hundred routers with over four hundred routes. FastAPI tries them in order
and tries each included router's routes twice (to match, then to handle), so a page of the patient app was
matched against some 460 path patterns before its handler ran: 6 ms of a 40 ms page, on every request.

The index gives, for the first two segments of a path (`app`, `record` of /app/record/trends), the top-level
routes in their original order with a path that can begin with them (literally, or with a path parameter), and a
shallow copy of the application's router holding just those runs the request: the same algorithm on fewer
candidates, so the route found, the 405 for a wrong method, the slash redirect and the 404 are what the full
list gives. A route whose path cannot begin with those segments can never match the request, and every route
that could is kept.
"""

import copy
import logging

from fastapi import FastAPI
from fastapi.routing import APIRouter
from starlette.routing import BaseRoute, Mount
from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)
ANY = None  # the key of routes whose first segment is a parameter (or not known): candidates for every path


DEPTH = 2  # segments of a path the index looks at: /app/record of /app/record/trends
KEPT = 4096  # request keys whose candidates are kept (ids in the second segment make them many)


def _paths(route: BaseRoute) -> list[str] | None:
    """The full paths route can match (an included router's routes with its prefix); None when not known."""
    if hasattr(route, "effective_route_contexts"):  # an included router
        paths = [getattr(ctx, "path", None) for ctx in route.effective_route_contexts()]
    else:
        paths = [getattr(route, "path", None)]
    # FastAPI gives some routes no full path (a WebSocket route's context has ""): such a router is a
    # candidate for every request.
    return paths if all(isinstance(p, str) and p.startswith("/") for p in paths) else None


def path_key(path: str) -> tuple[str, ...]:
    """The first DEPTH segments of a request's path, "" for those it lacks: ("app", "record") of /app/record/x."""
    parts = path.lstrip("/").split("/", DEPTH)[:DEPTH]
    return tuple(parts + [""] * (DEPTH - len(parts)))


def route_key(path: str) -> tuple[str | None, ...]:
    """path_key of a route's path, with ANY from the first segment holding a parameter on (it can match any
    segment there, and a path parameter any number of them)."""
    key: list[str | None] = []
    for part in path_key(path):
        key.append(ANY if "{" in part or (key and key[-1] is ANY) else part)
    return tuple(key)


def _keys(route: BaseRoute) -> set[tuple[str | None, ...]]:
    paths = _paths(route)
    if not paths:
        return {(ANY,) * DEPTH}
    if isinstance(route, Mount):  # everything under the mount's path: /static/... of /static
        return {route_key(p.rstrip("/") + "/{path:path}") for p in paths}
    return {route_key(p) for p in paths}


def _can_match(key: tuple[str | None, ...], wanted: tuple[str, ...]) -> bool:
    return all(k is ANY or k == w for k, w in zip(key, wanted, strict=True))


class RouteIndex:
    """The top-level routes that can match a path, by its first segments, each set run by a copy of the router."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self._build()

    def _build(self) -> None:
        routes = list(self.router.routes)
        self.count = len(routes)
        self.keyed = [(route, _keys(route)) for route in routes]
        self.routers: dict[tuple[str, ...], APIRouter] = {}

    def router_for(self, path: str) -> APIRouter:
        """A copy of the router holding, in their order, only the routes path can match."""
        wanted = path_key(path)
        found = self.routers.get(wanted)
        if found is None:
            found = copy.copy(self.router)
            found.routes = [route for route, keys in self.keyed if any(_can_match(k, wanted) for k in keys)]
            if len(self.routers) >= KEPT:
                self.routers.clear()
            self.routers[wanted] = found
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.router.app(scope, receive, send)
            return
        if len(self.router.routes) != self.count:  # a route added since (tests add some): index them too
            self._build()
        # url_for and everything else that asks the scope for the router asks the whole one, not the copy.
        scope.setdefault("router", self.router)
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        await self.router_for(path).app(scope, receive, send)


def install_route_index(app: FastAPI) -> None:
    """Route app's requests through a RouteIndex of its routes as they are now (call once all are included)."""
    router = app.router
    if router.middleware_stack != router.app:  # a router-level middleware or body limit we would bypass
        log.warning("The route index was not installed: the router has its own middleware")
        return
    router.middleware_stack = RouteIndex(router)
