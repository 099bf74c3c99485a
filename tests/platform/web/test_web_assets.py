"""Static files: our folder, the vendor allow-list, hostile paths, and running without node_modules."""

import logging

import pytest
from fastapi.testclient import TestClient

from smartcare.platform.web import assets
from smartcare.platform.web.app import create_app

needs_node_modules = pytest.mark.skipif(
    not (assets.NODE_MODULES / "htmx.org").is_dir(), reason="node_modules is not installed (run npm ci)"
)


@pytest.fixture(scope="module")
def web() -> TestClient:
    return TestClient(create_app(), base_url="http://testserver")


@needs_node_modules
@pytest.mark.parametrize(
    ("url", "media", "marker"),
    [
        ("/static/vendor/htmx/htmx.min.js", "text/javascript", b"htmx"),
        ("/static/vendor/alpinejs/cdn.min.js", "text/javascript", b"Alpine"),
        ("/static/vendor/echarts/echarts.min.js", "text/javascript", b"echarts"),
        ("/static/vendor/pico/pico.min.css", "text/css", b"Pico CSS"),
    ],
)
def test_allow_listed_vendor_files_are_served_with_long_cache(web, url, media, marker):
    response = web.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert marker in response.content[:5000] or marker in response.content


@needs_node_modules
def test_htmx_is_version_2():
    assert assets.vendor_url("htmx", "htmx.min.js").endswith("?v=" + assets.vendor_files()[("htmx", "htmx.min.js")][1])
    assert assets.vendor_files()[("htmx", "htmx.min.js")][1].startswith("2.")


def test_own_static_files_are_served(web):
    response = web.get("/static/css/smartcare.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert ".skip-link" in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/static/vendor/htmx/htmx.js",
        "/static/vendor/htmx/package.json",
        "/static/vendor/htmx.org/dist/htmx.min.js",
        "/static/vendor/%2e%2e/htmx/htmx.min.js",
        "/static/vendor/htmx/..%2F..%2F..%2Fpyproject.toml",
        "/static/vendor/htmx%2F..%2Fpico/pico.min.css",
        "/static/vendor/htmx/%2Fetc%2Fpasswd",
        "/static/vendor/..%2F..%2Fnode_modules/htmx.org",
        "/static/%2e%2e/app.py",
        "/static/..%2F..%2F..%2Fpyproject.toml",
        "/static/%2e%2e%2f%2e%2e%2fi18n.py",
        "/static//etc/passwd",
        "/static/%2Fetc%2Fpasswd",
        "/static/css/..%5C..%5Capp.py",
        "/static/css/%00.css",
    ],
)
def test_hostile_static_paths_are_not_found(web, path):
    response = web.get(path)
    assert response.status_code == 404
    assert b"def create_app" not in response.content and b"root:" not in response.content


def test_without_node_modules_the_app_starts_and_pages_work_plain(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(assets, "NODE_MODULES", tmp_path / "node_modules")
    with caplog.at_level(logging.WARNING, logger="smartcare.platform.web.assets"):
        client = TestClient(create_app())
    assert "npm ci" in caplog.text
    page = client.get("/")
    assert page.status_code == 200
    assert "/static/vendor/" not in page.text
    assert "/static/css/smartcare.css" in page.text
    assert client.get("/static/vendor/htmx/htmx.min.js").status_code == 404
