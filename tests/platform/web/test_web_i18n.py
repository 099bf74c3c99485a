"""Locale negotiation: ?lang=, the sc_lang cookie, Accept-Language, and hostile values."""

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from smartcare.platform import i18n
from smartcare.platform.web.app import create_app


@pytest.fixture(scope="module")
def web() -> TestClient:
    return TestClient(create_app(), base_url="http://testserver")


def html_lang(response) -> str:
    return response.text.split('<html lang="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        (None, None, None, "en"),
        ("zh-Hans", None, None, "zh-Hans"),
        ("ZH_hans", None, None, "zh-Hans"),
        ("en", "zh-Hans", "zh-CN", "en"),
        (None, "zh-Hans", "en-GB", "zh-Hans"),
        (None, None, "zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"),
        (None, None, "fr-FR, en;q=0.5, zh;q=0.9", "zh-Hans"),
        (None, None, "de, fr;q=0.8", "en"),
        (None, None, "zh-TW", "en"),
        (None, None, "zh-Hans;q=0, en;q=0.1", "en"),
        (None, None, "zh;q=abc", "en"),
        ("fr", "de", None, "en"),
    ],
)
def test_negotiation_prefers_query_then_cookie_then_accept_language(query, cookie, accept, expected):
    assert i18n.negotiate_locale(query=query, cookie=cookie, accept_language=accept) == expected


@pytest.mark.parametrize(
    "hostile",
    ["../../etc/passwd", "zh-Hans\r\nSet-Cookie: x=1", "<script>", "zh-Hans" * 20, "%00", "", "zh_Hans/../en", "root"],
)
def test_hostile_lang_is_ignored_and_sets_no_cookie(web, hostile):
    response = web.get("/", params={"lang": hostile}, headers={"accept-language": "en"})
    assert response.status_code == 200
    assert html_lang(response) == "en"
    assert "set-cookie" not in response.headers


def test_lang_query_sets_a_lax_cookie_and_the_cookie_is_remembered():
    with TestClient(create_app(), base_url="http://testserver") as client:
        first = client.get("/?lang=zh-Hans")
        cookie = first.headers["set-cookie"]
        assert cookie.startswith("sc_lang=zh-Hans;")
        assert "SameSite=Lax" in cookie and "Path=/" in cookie and "Secure" not in cookie
        assert html_lang(first) == "zh-Hans"
        assert "覆盖整个区域的智慧医疗" in first.text
        again = client.get("/", headers={"accept-language": "en"})
        assert html_lang(again) == "zh-Hans"


def test_lang_cookie_is_secure_over_https():
    with TestClient(create_app(), base_url="https://testserver") as client:
        assert "Secure" in client.get("/?lang=en").headers["set-cookie"]


def test_hostile_cookie_falls_back_to_accept_language(web):
    web.cookies.set("sc_lang", "xx-<b>")
    try:
        response = web.get("/", headers={"accept-language": "zh-CN"})
    finally:
        web.cookies.clear()
    assert html_lang(response) == "zh-Hans"


def test_translator_binds_gettext_and_ngettext_to_the_locale():
    zh = i18n.Translator("zh-Hans")
    assert zh.gettext("Skip to main content") == "跳到主要内容"
    assert zh.gettext("A message nobody translated") == "A message nobody translated"
    en = i18n.Translator("en")
    assert en.ngettext("%(n)d result", "%(n)d results", 2) == "%(n)d results"
    assert en.ngettext("%(n)d result", "%(n)d results", 1) == "%(n)d result"


def test_current_locale_and_translator_follow_the_request():
    app = create_app()

    @app.get("/__probe_locale")
    def probe(request: Request) -> dict[str, str]:
        return {"locale": i18n.current_locale(request), "signin": i18n.translator(request).gettext("Skip to main content")}

    with TestClient(app) as client:
        assert client.get("/__probe_locale?lang=zh-hans").json() == {"locale": "zh-Hans", "signin": "跳到主要内容"}
        assert client.get("/__probe_locale").json() == {"locale": "zh-Hans", "signin": "跳到主要内容"}
        assert client.get("/__probe_locale?lang=en").json() == {"locale": "en", "signin": "Skip to main content"}
