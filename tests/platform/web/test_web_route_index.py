"""The route index sends each request only through the routes that can hold its path, and routes as before."""

import re

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from smartcare.platform.web.app import create_app
from smartcare.platform.web.route_index import RouteIndex, install_route_index, path_key, route_key


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app()


def _filled(path: str) -> str:
    """A request path route path matches: each parameter given a plain value."""
    return re.sub(r"\{[^}]*\}", "x1", path)


def _holder(top_routes, route_path: str):
    """The top-level route (an included router, a route, a mount) whose paths hold route_path."""
    for top in top_routes:
        if hasattr(top, "effective_route_contexts"):
            if any(getattr(c, "path", None) == route_path for c in top.effective_route_contexts()):
                return top
        elif getattr(top, "path", None) == route_path:
            return top
    raise AssertionError(route_path)


def test_every_route_of_the_application_is_among_the_candidates_for_its_own_paths(app):
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    top_routes = app.router.routes
    checked = 0
    for top in top_routes:
        contexts = list(top.effective_route_contexts()) if hasattr(top, "effective_route_contexts") else [top]
        for context in contexts:
            path = getattr(context, "path", None)
            if not path:
                continue
            holder = _holder(top_routes, path)
            candidates = index.router_for(_filled(path)).routes
            assert holder in candidates, path
            # And in the same order as the whole list: an earlier route still wins over a later one.
            order = [top_routes.index(r) for r in candidates]
            assert order == sorted(order)
            checked += 1
    assert checked > 300
    # The point of it: a page of the patient app is tried against a small share of the routes.
    assert len(index.router_for("/app/record").routes) < len(top_routes) / 4


def test_keys_treat_parameters_as_matching_any_segment():
    assert path_key("/app/record/trends") == ("app", "record")
    assert path_key("/") == ("", "")
    assert path_key("/app") == ("app", "")
    assert route_key("/fhir/{path:path}") == ("fhir", None)
    assert route_key("/{lang}/news") == (None, None)
    assert route_key("/app/record") == ("app", "record")


def test_pages_wrong_methods_missing_pages_and_slash_redirects_answer_as_before():
    calls = []
    app = FastAPI()
    one = APIRouter()

    @one.get("/a/{item}")
    def item(item: str) -> dict:
        calls.append(item)
        return {"item": item}

    @one.post("/b/")
    def posted() -> dict:
        return {"ok": True}

    @one.get("/c/name", name="named")
    def named() -> dict:
        return {"ok": True}

    app.include_router(one)
    install_route_index(app)

    @app.get("/later")  # a route added after the index was made is found too
    def later() -> dict:
        return {"later": True}

    web = TestClient(app, follow_redirects=False)
    assert web.get("/a/7").json() == {"item": "7"}
    assert web.get("/b/").status_code == 405  # only POST there: method not allowed, not missing
    assert web.post("/b").status_code == 307 and web.post("/b").headers["location"].endswith("/b/")
    assert web.get("/nowhere/at/all").status_code == 404
    assert web.get("/later").json() == {"later": True}
    assert app.url_path_for("named") == "/c/name"


def test_the_whole_application_still_serves_its_pages_through_the_index(app):
    web = TestClient(app, base_url="http://testserver", follow_redirects=False)
    assert web.get("/healthz").json() == {"status": "ok"}
    assert web.get("/login").status_code == 200
    assert web.get("/app").status_code in (302, 303)  # signing in first
    assert web.get("/static/css/smartcare.css").status_code == 200
    assert web.get("/no/such/page", headers={"accept": "text/html"}).status_code == 404


def test_a_router_whose_paths_are_not_all_known_is_tried_for_every_path(app):
    # FastAPI names no full path for a WebSocket route in an included router; the notifications socket must
    # still be reached.
    index = app.router.middleware_stack
    assert any(hasattr(r, "effective_route_contexts") for r in index.router_for("/ws/notifications").routes)
