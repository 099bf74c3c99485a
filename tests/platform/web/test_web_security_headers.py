"""Security headers on every response: a script policy with no inline code, no framing by others, no sniffing,
HSTS over TLS only; and no template holds the inline scripts or handlers that policy would block."""

import re
from pathlib import Path

import pytest
from fastapi import FastAPI, Response
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

import smartcare
from smartcare.platform.web.app import create_app
from smartcare.platform.web.security_headers import install_security_headers
from tests.web_support import make_user, sign_in

TEMPLATES = sorted(Path(smartcare.__file__).parent.glob("**/templates/**/*.html"))
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)
HANDLER = re.compile(r"<[a-z][^>]*?\son[a-z]+\s*=", re.I | re.S)
# Alpine's x-/@/: directives are JavaScript evaluated with new Function(), which script-src 'self' refuses.
ALPINE = re.compile(r"<[a-z][^>]*?\s(x-[a-z]+|@[a-z]+|:[a-z-]+)(\.[a-z.]+)?\s*=", re.I | re.S)
ALWAYS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
}


@pytest.fixture(scope="module")
def web() -> TestClient:
    return TestClient(create_app(), base_url="http://testserver", follow_redirects=False)


def _policy(answer) -> dict[str, str]:
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
            for part in (p.strip() for p in answer.headers["content-security-policy"].split(";")) if part}


def test_a_page_allows_only_its_own_scripts_and_no_framing(web):
    page = web.get("/login", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = _policy(page)
    assert policy["script-src"] == "'self'", "no inline scripts, no eval"
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'self'" and policy["form-action"] == "'self'"
    assert policy["connect-src"] == "'self'", "the live pages' WebSockets go to the same host"
    assert "'unsafe-eval'" not in page.headers["content-security-policy"]
    for name, value in ALWAYS.items():
        assert page.headers[name] == value
    assert "camera=(self)" in page.headers["permissions-policy"] and "microphone=(self)" in page.headers["permissions-policy"]
    assert "strict-transport-security" not in page.headers, "plain HTTP never promises TLS"


@pytest.mark.parametrize("path", ["/healthz", "/fhir/metadata", "/static/css/smartcare.css",
                                  "/static/js/queue-clinic.js"])
def test_api_answers_and_static_files_are_not_sniffed_or_framed(web, path):
    answer = web.get(path)
    assert answer.status_code == 200, path
    for name, value in ALWAYS.items():
        assert answer.headers[name] == value, (path, name)


def test_the_404_page_and_a_signed_in_page_carry_the_policy_too(web, engine):
    missing = web.get("/no/such/page", headers={"accept": "text/html"})
    assert missing.status_code == 404 and _policy(missing)["script-src"] == "'self'"
    make_user(engine, "patient")
    with TestClient(create_app(), base_url="http://testserver", follow_redirects=False) as signed_in:
        sign_in(signed_in, "patient.test")
        home = signed_in.get("/app")
        assert home.status_code == 200 and _policy(home)["frame-ancestors"] == "'none'"


def test_hsts_is_sent_over_https_only():
    over_tls = TestClient(create_app(), base_url="https://testserver", follow_redirects=False)
    for path in ("/login", "/healthz", "/static/css/smartcare.css"):
        assert over_tls.get(path).headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    plain = TestClient(create_app(), base_url="http://testserver", follow_redirects=False)
    assert "strict-transport-security" not in plain.get("/login").headers
    # Behind the proxy: a forged X-Forwarded-Proto from a client the server does not trust changes nothing here,
    # as uvicorn alone turns it into the scheme, and only for its trusted proxies.
    assert "strict-transport-security" not in plain.get("/login", headers={"x-forwarded-proto": "https"}).headers


def test_the_image_viewer_may_be_framed_by_our_own_video_room_only(web, engine):
    make_user(engine, "doctor")
    with TestClient(create_app(), base_url="http://testserver", follow_redirects=False) as doctor:
        sign_in(doctor, "doctor.test")
        viewer = doctor.get("/workstation/imaging/studies/no-such-study/viewer")
        assert viewer.headers["content-type"].startswith("text/html")
        assert _policy(viewer)["frame-ancestors"] == "'self'" and viewer.headers["x-frame-options"] == "SAMEORIGIN"
        elsewhere = doctor.get("/workstation")
        assert _policy(elsewhere)["frame-ancestors"] == "'none'" and elsewhere.headers["x-frame-options"] == "DENY"


def test_a_routes_own_headers_are_kept_and_an_unexpected_error_is_covered():
    app = FastAPI()

    @app.get("/attachment")
    def attachment() -> Response:
        return HTMLResponse("<p>sent file</p>", headers={"Content-Security-Policy": "default-src 'none'",
                                                         "Referrer-Policy": "no-referrer"})

    @app.get("/broken")
    def broken() -> None:
        raise RuntimeError("boom")

    install_security_headers(app)
    client = TestClient(app, raise_server_exceptions=False)
    own = client.get("/attachment")
    assert own.headers.get_list("content-security-policy") == ["default-src 'none'"]
    assert own.headers.get_list("referrer-policy") == ["no-referrer"]
    assert own.headers["x-content-type-options"] == "nosniff"
    failed = client.get("/broken")
    assert failed.status_code == 500 and failed.headers["x-frame-options"] == "DENY"


def test_the_api_documentation_keeps_working_under_its_own_policy(web):
    docs = web.get("/docs")
    assert docs.status_code == 200
    policy = _policy(docs)
    assert "https://cdn.jsdelivr.net" in policy["script-src"] and policy["frame-ancestors"] == "'none'"


def test_templates_hold_no_inline_script_and_no_inline_event_handler():
    assert len(TEMPLATES) > 100
    found = []
    for template in TEMPLATES:
        text = template.read_text(encoding="utf-8")
        where = template.relative_to(Path(smartcare.__file__).parent)
        for match in SCRIPT_TAG.finditer(text):
            attributes = match.group(1)
            if "src=" not in attributes and 'type="application/json"' not in attributes:
                found.append(f"{where}: inline <script{attributes}>")
        found += [f"{where}: handler {m.group(0)[-30:]!r}" for m in HANDLER.finditer(text)]
        found += [f"{where}: Alpine directive {m.group(1)!r}" for m in ALPINE.finditer(text)]
    assert found == [], "\n".join(found)


def test_the_template_check_catches_what_the_policy_would_block():
    bad = ['<script>alert(1)</script>', '<SCRIPT type="module">x()</SCRIPT>', '<button onclick="print()">',
           '<img src=x\n  onerror="x()">', '<div x-data="{ a: 1 }">', '<button @click="go()">']
    for text in bad:
        assert (any("src=" not in m.group(1) and "application/json" not in m.group(1) for m in SCRIPT_TAG.finditer(text))
                or HANDLER.search(text) or ALPINE.search(text)), text
    good = ['<script src="/static/js/a.js" defer></script>', '<script type="application/json" id="d">{}</script>',
            '<p>Turn on announcements</p>', '<a href="/x" data-once="1">', '<input name="online">']
    for text in good:
        assert not (any("src=" not in m.group(1) and "application/json" not in m.group(1) for m in SCRIPT_TAG.finditer(text))
                    or HANDLER.search(text) or ALPINE.search(text)), text
