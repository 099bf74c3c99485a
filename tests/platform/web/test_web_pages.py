"""The landing page, the 404 page, escaping of user-supplied text and the CSRF hooks in the base template."""

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from smartcare.platform.web.app import create_app
from smartcare.platform.web.pages import render

BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture(scope="module")
def web() -> TestClient:
    return TestClient(create_app(), base_url="http://testserver")


def test_landing_page_in_english_explains_smartcare_and_links_onward(web):
    page = web.get("/", headers=BROWSER)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in page.text
    assert "Smart medical care for a whole region" in page.text
    for href in ('href="/fhir/metadata"', 'href="/docs"', 'href="#main"'):
        assert href in page.text
    assert '<main id="main"' in page.text
    assert 'name="viewport"' in page.text


def test_landing_page_in_chinese(web):
    page = web.get("/?lang=zh-Hans", headers=BROWSER)
    assert '<html lang="zh-Hans">' in page.text
    assert "覆盖整个区域的智慧医疗" in page.text and "跳到主要内容" in page.text and "API 文档" in page.text
    assert "Smart medical care for a whole region" not in page.text


def test_language_links_keep_the_path_and_other_query_parameters(web):
    page = web.get("/no/such/page?tab=2&lang=en", headers=BROWSER)
    assert 'href="/no/such/page?tab=2&amp;lang=zh-Hans"' in page.text
    assert 'href="/no/such/page?tab=2&amp;lang=en"' in page.text


def test_language_links_never_point_off_site(web):
    page = web.get("http://testserver//evil.example/x", headers=BROWSER)
    assert 'href="//' not in page.text
    assert 'href="/evil.example/x?lang=en"' in page.text


@pytest.mark.parametrize(("lang", "title"), [("en", "Page not found"), ("zh-Hans", "找不到页面")])
def test_unknown_page_gets_a_404_page_in_the_readers_language(web, lang, title):
    page = web.get(f"/no-such-page?lang={lang}", headers=BROWSER)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert f"<h1 id=\"not-found-title\">{title}</h1>" in page.text
    assert 'href="/"' in page.text


def test_404_stays_json_for_api_clients_and_fhir(web):
    plain = web.get("/no-such-page", headers={"accept": "application/json"})
    assert plain.status_code == 404 and plain.json() == {"detail": "Not Found"}
    from tests.conftest import bearer

    fhir = web.get("/fhir/NoSuchType/1", headers={**BROWSER, **bearer()})
    assert fhir.status_code == 404
    assert fhir.json()["resourceType"] == "OperationOutcome"
    assert web.get("/static/nothing.css", headers=BROWSER).headers["content-type"].startswith("application/json")


def test_method_errors_keep_fastapis_json_answer(web):
    response = web.post("/", headers=BROWSER)
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}


def test_user_supplied_text_is_escaped(web):
    page = web.get('/<script>alert(1)</script>"onmouseover="x?q=<img src=x onerror=alert(2)>', headers=BROWSER)
    assert page.status_code == 404
    assert "<script>alert(1)" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert '"onmouseover="x' not in page.text


def test_csrf_token_goes_into_a_meta_tag_and_htmx_headers_escaped():
    app = create_app()

    @app.get("/__probe_csrf")
    def probe(request: Request):
        request.state.csrf_token = "tok'\"<en>&"
        return render(request, "landing.html")

    with TestClient(app) as client:
        page = client.get("/__probe_csrf").text
    assert '<meta name="csrf-token" content="tok&#39;&#34;&lt;en&gt;&amp;">' in page
    # tojson escapes ', <, > and & so the JSON cannot leave the single-quoted attribute.
    assert """hx-headers='{"X-CSRF-Token": "tok\\u0027\\"\\u003cen\\u003e\\u0026"}'>""" in page


def test_no_csrf_markup_without_a_token(web):
    page = web.get("/").text
    assert "csrf-token" not in page and "hx-headers" not in page
