"""Who wrote an article, in the reader's language: a hospital's Chinese name from the directory, the authority's."""

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from smartcare.fhir import store
from smartcare.patient.news.models import news_article
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.patient.news.conftest import write
from tests.web_support import browser, sign_in

A = "{http://www.w3.org/2005/Atom}"
HARBOUR_ZH = "港湾医院"


@pytest.fixture
def articles(region, now):
    with unit_of_work(region.engine) as conn:  # the directory knows the Chinese name of Harbour Hospital only
        store.update(conn, SYSTEM, {"resourceType": "Organization", "id": "org-a", "name": "Harbour Hospital",
                                    "alias": [HARBOUR_ZH]}, res_type="Organization", res_id="org-a")
    ids = {
        "harbour": write(region.engine, region.hospital_admin, title_en="Evening clinic", title_zh="夜间门诊",
                         body_zh="<p>周一至周五。</p>"),
        "hill": write(region.engine, region.other_admin, title_en="New car park", title_zh="新停车场",
                      body_zh="<p>已开放。</p>"),
        "authority": write(region.engine, region.authority, title_en="Flu shots", title_zh="流感疫苗",
                           body_zh="<p>请接种。</p>"),
    }
    with unit_of_work(region.engine) as conn:  # write() names every hospital Harbour; Hill's article is Hill's
        conn.execute(news_article.update().where(news_article.c.id == ids["hill"])
                     .values(organization_name="Hill Hospital"))
    now[0] += timedelta(minutes=5)
    return ids


def _byline(page: str, title: str) -> str:
    block = page.split(title, 1)[1]
    return block.split('class="news-meta">', 1)[1].split("·", 1)[0].strip()


def test_the_news_list_names_the_hospital_in_chinese_for_chinese_readers(articles):
    with browser() as web:
        chinese = web.get("/app/news", params={"lang": "zh-Hans"}).text
        english = web.get("/app/news", params={"lang": "en"}).text
    assert _byline(chinese, "夜间门诊") == HARBOUR_ZH and _byline(chinese, "流感疫苗") == "区域卫生健康委员会"
    assert _byline(english, "Evening clinic") == "Harbour Hospital" and HARBOUR_ZH not in english
    # A hospital the directory has no Chinese name for keeps the name it wrote under.
    assert _byline(chinese, "新停车场") == "Hill Hospital"


def test_the_article_page_names_the_hospital_in_chinese(articles):
    with browser() as web:
        chinese = web.get(f"/app/news/{articles['harbour']}", params={"lang": "zh-Hans"})
        english = web.get(f"/app/news/{articles['harbour']}", params={"lang": "en"})
    assert chinese.status_code == 200 and HARBOUR_ZH in chinese.text
    assert english.status_code == 200 and "Harbour Hospital" in english.text and HARBOUR_ZH not in english.text


def test_the_api_and_the_feed_give_the_author_in_the_language_asked_for(articles):
    with browser() as web:
        chinese = web.get("/api/v1/news", params={"lang": "zh-Hans"}).json()["articles"]
        english = web.get("/api/v1/news", params={"lang": "en"}).json()["articles"]
        feed = ET.fromstring(web.get("/news/feed.atom", params={"lang": "zh-Hans"}).content)
    authors = {a["id"]: a["author"] for a in chinese}
    assert authors[articles["harbour"]] == HARBOUR_ZH and authors[articles["authority"]] == "区域卫生健康委员会"
    assert {a["id"]: a["author"] for a in english}[articles["harbour"]] == "Harbour Hospital"
    names = {e.find(f"{A}title").text: e.find(f"{A}author/{A}name").text for e in feed.findall(f"{A}entry")}
    assert names["夜间门诊"] == HARBOUR_ZH and names["新停车场"] == "Hill Hospital"


def test_the_writers_console_names_the_hospital_in_chinese(articles):
    with browser() as web:
        sign_in(web, "hospital.admin.test")
        page = web.get("/console/news", params={"lang": "zh-Hans"})
    assert page.status_code == 200 and f"<small>{HARBOUR_ZH}</small>" in page.text
