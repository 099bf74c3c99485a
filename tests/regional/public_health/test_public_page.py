"""The public epidemic page /public: no sign-in, English and Chinese, approved figures only, nothing about a person."""

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from smartcare.platform.db import unit_of_work
from smartcare.regional.public_health import announcements
from tests.regional.public_health.test_releases import IDENTIFYING, decide, officer, prepared, week_nine
from tests.web_support import browser

REGION = Path(__file__).resolve().parents[3] / "smartcare" / "demo" / "data" / "region.json"
# Pages over the store: the store itself is tested on both databases (test_releases.py); these run on SQLite.
pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def announce(engine, **texts: str) -> str:
    """An announcement written by one officer and approved by another; its id."""
    with unit_of_work(engine) as conn:
        written = announcements.write(conn, ctx=officer("li"), draft=announcements.Draft(**texts))
    with unit_of_work(engine) as conn:
        announcements.decide_announcement(conn, ctx=officer("zhao"), announcement_id=written.id, approve=True)
    return written.id


def published(engine) -> str:
    """Week 9's identifiable cases, released and approved, with an announcement; the release's id."""
    week_nine(engine)
    release = prepared(engine)
    decide(engine, release.id, "zhao")
    announce(engine, title_en="Flu season", body_en="Get vaccinated.", title_zh="流感季节", body_zh="请接种疫苗。")
    return release.id


def test_the_page_says_plainly_when_no_release_is_approved_yet(engine, now):
    week_nine(engine)
    prepared(engine)  # pending: not public
    page = browser().get("/public")
    assert page.status_code == 200 and 'id="no-release"' in page.text
    assert "No figures have been published yet." in page.text and 'id="disease-week-table"' not in page.text
    assert page.headers["cache-control"] == "public, max-age=120"


def test_anyone_reads_the_latest_release_in_english_and_in_chinese(engine, now):
    published(engine)
    web = browser()
    english = web.get("/public", headers={"Accept-Language": "en"})
    chinese = browser().get("/public", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert english.status_code == 200 and chinese.status_code == 200
    assert "Notifiable infectious diseases: the epidemic situation" in english.text
    assert "法定传染病疫情概况" in chinese.text and 'lang="zh-Hans"' in chinese.text
    assert "流感" in chinese.text and "河东区" in chinese.text and "流感季节" in chinese.text
    assert 'href="/public?lang=zh-Hans"' in english.text  # the language switch
    assert "Influenza" in english.text and "Hedong District" in english.text and "Flu season" in english.text
    week = re.search(r'id="headline-latest".*?ph-card__number">(.*?)<', english.text, flags=re.S).group(1)
    assert week == "10"
    assert "1 to 4 cases: the exact number is not published" in english.text
    assert 'id="district-map"' in english.text and "/public/charts.js" in english.text
    assert web.get("/public/charts.js").status_code == 200 and web.get("/public/public.css").status_code == 200


def test_nothing_public_names_a_patient(engine, now):
    release_id = published(engine)
    web = browser()
    answers = [web.get(path) for path in (
        "/public", "/public?lang=zh-Hans", f"/public?release={release_id}", "/public/feed.atom",
        "/public/feed.atom?lang=zh-Hans", "/public/api/releases", "/public/api/releases/latest",
        f"/public/api/releases/{release_id}")]
    assert [a.status_code for a in answers] == [200] * len(answers)
    text = "\n".join(a.text for a in answers)
    assert [secret for secret in IDENTIFYING if secret in text] == []
    assert "u-li" not in text and "u-zhao" not in text  # nor the officers behind a release


def test_hostile_announcement_text_is_shown_as_text(engine, now):
    announce(engine, title_en='<script>alert("t")</script>', body_en='<img src=x onerror=alert(1)>\n\n"Quoted" & more')
    page = browser().get("/public").text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    feed = browser().get("/public/feed.atom").text
    assert "<script>" not in feed and "&lt;script&gt;" in feed


def test_an_older_release_is_marked_and_an_unknown_one_is_not_found(engine, now):
    first = published(engine)
    second = prepared(engine)
    now[0] += timedelta(minutes=5)
    decide(engine, second.id, "zhao")
    web = browser()
    assert 'id="superseded"' in web.get(f"/public?release={first}").text
    assert 'id="superseded"' not in web.get("/public").text
    assert web.get("/public?release=no-such-release").status_code == 404
    assert web.get("/public?release=%3Cscript%3E").status_code == 404


def test_the_map_has_a_shape_for_every_district_of_the_region(engine):
    answer = browser().get("/public/districts.geojson")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/geo+json")
    shapes = answer.json()
    codes = {f["properties"]["code"] for f in shapes["features"]}
    assert codes == {d["code"] for d in json.loads(REGION.read_text(encoding="utf-8"))["districts"]}
    assert all(f["geometry"]["type"] == "Polygon" and len(f["geometry"]["coordinates"][0]) >= 4
               for f in shapes["features"])
    assert "Illustrative" in shapes["note"]
