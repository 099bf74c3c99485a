"""publish_alert: the public-health module's way to release an epidemic alert into the news, shown prominently."""

from datetime import timedelta

import pytest

import smartcare.patient.news.jobs  # noqa: F401  (registers the publication job)
from smartcare.patient.news import service
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import run_due
from smartcare.platform.notifications.service import inbox
from tests.web_support import browser, sign_in


def test_an_alert_for_one_district_is_a_banner_for_its_residents_and_pushed_to_them(region, now):
    article_id = service.publish_alert(
        "Measles cases in Hedong", "河东区出现麻疹病例",
        "Check your children's vaccination records.\n\nSee a doctor for fever with a rash.",
        "请核对孩子的疫苗接种记录。\n\n发热伴皮疹请及时就医。", district="hedong", source="public-health",
        expires_at=now[0] + timedelta(days=14))
    run_due(region.engine)
    with unit_of_work(region.engine) as conn:
        stored = service.get_article(conn, article_id=article_id)
        told = inbox(conn, user_id=region.patient.id)
        neighbour = inbox(conn, user_id=region.neighbour.id)
    assert (stored["category"], stored["districts"], stored["source"], stored["organization"]) == (
        "public-health-alert", "hedong", "public-health", None)
    assert stored["body_en"] == ("<p>Check your children's vaccination records.</p>"
                                 "<p>See a doctor for fever with a rash.</p>")
    assert [(n["kind"], n["title"]) for n in told] == [("news.alert", "Measles cases in Hedong")]
    assert neighbour == []
    with browser() as web:
        sign_in(web, "patient.test")
        page = web.get("/app/news").text
        listed = web.get("/app/news?category=public-health-alert").text
        chinese = web.get("/app/news?lang=zh-Hans").text
        article = web.get(f"/app/news/{article_id}").text
    banner, rest = page.split('<nav class="news-filter"')
    assert 'class="news-alert" role="alert"' in banner and "Measles cases in Hedong" in banner
    assert "Measles cases in Hedong" not in rest  # in the banner, not again in the list below
    assert 'role="alert"' not in listed and "Measles cases in Hedong" in listed.split('<nav class="news-filter"')[1]
    assert "河东区出现麻疹病例" in chinese and "公共卫生预警" in chinese
    assert "区域卫生健康委员会" in article and "发热伴皮疹请及时就医。" in article


def test_an_alert_for_the_whole_region_reaches_everyone_until_it_expires(region, now):
    service.publish_alert("Heat wave", "高温预警", "Stay cool.", "注意防暑。", expires_at=now[0] + timedelta(days=2))
    with browser() as web:
        assert "Heat wave" in web.get("/app/news").text
        now[0] += timedelta(days=3)
        assert "Heat wave" not in web.get("/app/news").text


@pytest.mark.parametrize(("args", "message"), [
    (("", "", "x", "y"), "needs both a title and a text"),
    (("T" * 201, "标题", "x", "y"), "longer than 200"),
    (("Title", "标题", "x", "y", "atlantis"), "not a district"),
])
def test_an_alert_that_does_not_fit_is_refused_with_a_reason(region, args, message):
    with pytest.raises(service.NewsError, match=message):
        service.publish_alert(*args)
