"""The Atom feed and the JSON list: public articles only, valid Atom 1.0, sanitised HTML content, both languages."""

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from smartcare.patient.news import service
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from tests.conftest import bearer
from tests.patient.news.conftest import write
from tests.web_support import browser, sign_in

A = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def articles(region, now):
    a = region.authority
    ids = {
        "both": write(region.engine, a, title_en="Flu shots", title_zh="流感疫苗", body_zh="<p>请接种。</p>",
                      category="vaccination", body_en='<p>Get one <a href="https://who.int">now</a>.</p>'),
        "english": write(region.engine, a, title_en="Walk daily", body_en="<p>Thirty minutes.</p>"),
        "chinese": write(region.engine, a, category="healthy-living", title_en="", body_en="",
                         title_zh="少盐饮食", body_zh="<p>每天少于5克。</p>"),
        "targeted": write(region.engine, a, title_en="Hedong only", districts=("hedong",)),
        "later": write(region.engine, a, title_en="Not yet", publish_at=now[0] + timedelta(days=1)),
        "withdrawn": write(region.engine, a, title_en="Taken back"),
        "expired": write(region.engine, a, title_en="Old news", expires_at=now[0] + timedelta(hours=1)),
    }
    with unit_of_work(region.engine) as conn:
        service.withdraw_article(conn, ctx=users.context_for(a), article_id=ids["withdrawn"])
    now[0] += timedelta(hours=2)
    return ids


def feed(web, query: str = "") -> ET.Element:
    answer = web.get(f"/news/feed.atom{query}")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/atom+xml; charset=utf-8"
    return ET.fromstring(answer.content)


def test_the_feed_is_atom_with_the_public_articles_only(region, articles):
    with browser() as web:
        root = feed(web)
    assert root.tag == f"{A}feed"
    for required in ("id", "title", "updated"):
        assert root.find(f"{A}{required}").text
    assert root.find(f"{A}link[@rel='self']").get("href").endswith("/news/feed.atom")
    entries = root.findall(f"{A}entry")
    titles = sorted(e.find(f"{A}title").text for e in entries)
    assert titles == ["Flu shots", "Walk daily", "少盐饮食"]
    ids = [e.find(f"{A}id").text for e in entries]
    assert len(set(ids)) == 3 and all(i.startswith("urn:uuid:") for i in ids)
    flu = next(e for e in entries if e.find(f"{A}title").text == "Flu shots")
    assert flu.find(f"{A}updated").text.endswith("Z") and flu.find(f"{A}author/{A}name").text
    assert flu.find(f"{A}link[@rel='alternate']").get("href").startswith("http://testserver/app/news/")
    assert flu.find(f"{A}category").get("term") == "vaccination"
    content = flu.find(f"{A}content")
    assert content.get("type") == "html"
    assert content.text == '<p>Get one <a href="https://who.int" rel="noopener noreferrer">now</a>.</p>'


def test_the_feed_filters_by_language_and_category(region, articles):
    with browser() as web:
        chinese = feed(web, "?lang=zh-Hans")
        english_vaccination = feed(web, "?lang=en&category=vaccination")
        for bad in ("?lang=fr", "?category=<script>"):
            refused = web.get(f"/news/feed.atom{bad}")
            assert refused.status_code == 400 and refused.json()["error"] == "invalid"
            assert "<script>" not in refused.text
    assert chinese.get("{http://www.w3.org/XML/1998/namespace}lang") == "zh-Hans"
    assert sorted(e.find(f"{A}title").text for e in chinese.findall(f"{A}entry")) == ["少盐饮食", "流感疫苗"]
    assert [e.find(f"{A}title").text for e in english_vaccination.findall(f"{A}entry")] == ["Flu shots"]


def test_hostile_stored_markup_is_sanitised_again_in_the_feed(region, articles):
    from smartcare.patient.news.models import news_article

    with unit_of_work(region.engine) as conn:  # a row written around the service
        conn.execute(news_article.update().where(news_article.c.id == articles["english"])
                     .values(body_en='<p>ok</p><script>alert(1)</script><img src=x onerror=alert(1)>'))
    with browser() as web:
        root = feed(web, "?lang=en")
        page = web.get(f"/app/news/{articles['english']}").text
    walk = next(e for e in root.findall(f"{A}entry") if e.find(f"{A}title").text == "Walk daily")
    assert walk.find(f"{A}content").text == "<p>ok</p>"
    assert "<script>alert" not in page and "onerror" not in page


def test_the_json_list_is_public_for_strangers_and_targeted_for_the_patient(region, articles):
    with browser() as web:
        public = web.get("/api/v1/news?lang=en")
        assert public.status_code == 200
        assert sorted(a["title"] for a in public.json()["articles"]) == ["Flu shots", "Walk daily", "少盐饮食"]
        chinese = web.get("/api/v1/news?lang=zh-Hans&category=vaccination").json()["articles"]
        assert [(a["title"], a["category_label"], a["language"]) for a in chinese] == [("流感疫苗", "疫苗接种", "zh-Hans")]
        assert web.get("/api/v1/news?category=nope").status_code == 400
        assert web.get("/api/v1/news?limit=100000").status_code == 422
        assert web.get("/api/v1/news", headers={"Authorization": "Bearer forged"}).status_code == 401
        sign_in(web, "patient.test")
        mine = web.get("/api/v1/news?lang=en").json()["articles"]
    assert {a["title"]: a["targeted"] for a in mine}["Hedong only"] is True
    token = bearer("patient/*.rs", kind="user", name="patient.test", roles={"patient"}, subject=region.patient.id,
                   fhir_user="Patient/pa1", patient="Patient/pa1",
                   minutes=2 * 365 * 24 * 60)  # the token library checks expiry by the wall clock, not the test's
    with browser() as web:
        by_token = web.get("/api/v1/news?lang=en", headers=token).json()["articles"]
    assert "Hedong only" in {a["title"] for a in by_token}


def test_the_news_api_is_in_the_openapi_description(region):
    with browser() as web:
        described = web.get("/openapi.json").json()
    paths = described["paths"]
    assert "/api/v1/news" in paths and "/news/feed.atom" in paths
    assert "NewsList" in str(paths["/api/v1/news"]["get"]["responses"]["200"])
    assert "body_html" in described["components"]["schemas"]["NewsArticle"]["properties"]
