"""Every HTTP response says how long the server took over it (Server-Timing: app;dur=<ms>), errors included."""

import re

import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient

from smartcare.platform.web.app import create_app
from smartcare.platform.web.server_timing import install_server_timing

TIMING = re.compile(r"^app;dur=\d+\.\d$")


@pytest.fixture(scope="module")
def web() -> TestClient:
    return TestClient(create_app(), base_url="http://testserver", follow_redirects=False)


@pytest.mark.parametrize("path", ["/", "/healthz", "/static/css/smartcare.css", "/no/such/page"])
def test_pages_files_and_missing_pages_say_the_servers_time(web, path):
    answer = web.get(path, headers={"accept": "text/html"})
    assert answer.status_code in (200, 404)
    assert TIMING.match(answer.headers["server-timing"]), answer.headers["server-timing"]


def test_an_unexpected_error_is_timed_too_and_a_routes_own_timing_is_kept():
    app = FastAPI()

    @app.get("/broken")
    def broken() -> None:
        raise RuntimeError("boom")

    @app.get("/own")
    def own() -> Response:
        return Response("ok", headers={"Server-Timing": "db;dur=3"})

    install_server_timing(app)
    client = TestClient(app, raise_server_exceptions=False)
    failed = client.get("/broken")
    assert failed.status_code == 500 and TIMING.match(failed.headers["server-timing"])
    both = client.get("/own").headers.get_list("server-timing")
    assert "db;dur=3" in both and any(TIMING.match(t) for t in both)
