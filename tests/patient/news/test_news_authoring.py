"""Writing news: only hospital administrators (for their own hospital) and the health authority, CSRF-checked,
sanitised on save, audited; a withdrawn article leaves the app."""

import re

import pytest
import sqlalchemy as sa

from smartcare.patient.news import service
from smartcare.patient.news.models import news_article
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from tests.patient.news.conftest import write
from tests.web_support import browser, form_token, make_user, sign_in


def article_form(token: str, **fields) -> dict:
    return {"csrf_token": token, "category": "health-tips", "title_en": "Flu season", "summary_en": "Get ready.",
            "body_en": "<p>Get your flu shot.</p>", **fields}


def rows(engine) -> list[dict]:
    with unit_of_work(engine) as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(news_article))]


@pytest.mark.parametrize("role", ["patient", "doctor", "nurse", "researcher"])
def test_patients_clinicians_and_researchers_cannot_open_or_post_news(region, role):
    if role != "patient":
        make_user(region.engine, role)
    with browser() as web:
        sign_in(web, role + ".test")
        assert web.get("/console/news").status_code == 403
        assert web.get("/console/news/new").status_code == 403
        assert web.post("/console/news/new", data=article_form("x")).status_code == 403
    assert rows(region.engine) == []
    with pytest.raises(service.NewsError) as refused, unit_of_work(region.engine) as conn:
        service.create_article(conn, ctx=users.context_for(region.patient), draft=service.Draft(
            category="health-tips", title_en="x", body_en="y"))
    assert refused.value.status == 403


def test_a_hospital_admin_posts_for_their_own_hospital_sanitised_and_audited(region):
    with browser() as web:
        sign_in(web, "hospital.admin.test")
        token = form_token(web.get("/console/news/new"))
        done = web.post("/console/news/new", data=article_form(
            token, body_en='<p onclick="x()">Get your <strong>flu shot</strong>.</p><script>steal()</script>'
                           '<a href="javascript:alert(1)">more</a>'))
        assert done.status_code == 303 and done.headers["location"].startswith("/console/news?done=created")
        listing = web.get(done.headers["location"])
        assert "Flu season" in listing.text and "The article is saved" in listing.text
    (saved,) = rows(region.engine)
    assert saved["organization"] == "Organization/org-a" and saved["organization_name"] == "Harbour Hospital"
    assert saved["body_en"] == ('<p>Get your <strong>flu shot</strong>.</p><a rel="noopener noreferrer">more</a>')
    with unit_of_work(region.engine) as conn:
        trail = audit.search(conn, agent="user/hospital.admin.test", subtype="operation")
    assert any(f"NewsArticle/{saved['id']}" in str(e["event"]) for e in trail)


def test_a_hospital_admin_cannot_touch_another_hospitals_article_or_issue_alerts(region):
    theirs = write(region.engine, region.other_admin, title_en="Hill news")
    with browser() as web:
        sign_in(web, "hospital.admin.test")
        listing = web.get("/console/news")
        assert "Hill news" not in listing.text
        token = form_token(web.get("/console/news/new"))
        assert web.get(f"/console/news/{theirs}").status_code == 404
        assert web.post(f"/console/news/{theirs}", data=article_form(token, title_en="Hacked")).status_code == 404
        assert web.post(f"/console/news/{theirs}/withdraw", data={"csrf_token": token}).status_code == 404
        alert = web.post("/console/news/new", data=article_form(token, category="public-health-alert"))
        assert alert.status_code == 403 and "Only the health authority issues public-health alerts" in alert.text
    (kept,) = rows(region.engine)
    assert kept["title_en"] == "Hill news" and kept["status"] == "scheduled"


def test_the_health_authority_writes_in_both_languages_and_withdraws_any_article(region):
    hospital = write(region.engine, region.hospital_admin, title_en="Harbour open day")
    make_user(region.engine, "public_health_officer")
    with browser() as web:
        sign_in(web, "public.health.officer.test")
        token = form_token(web.get("/console/news/new"))
        done = web.post("/console/news/new", data=article_form(
            token, category="vaccination", title_zh="流感疫苗", summary_zh="请及时接种。", body_zh="<p>请接种流感疫苗。</p>",
            district=["hedong", "hexi"], age_min="60", icd10="E11, I10"))
        assert done.status_code == 303
        assert web.post(f"/console/news/{hospital}/withdraw", data={"csrf_token": token}).status_code == 303
    by_title = {r["title_en"]: r for r in rows(region.engine)}
    written = by_title["Flu season"]
    assert (written["title_zh"], written["districts"], written["age_min"], written["icd10_prefixes"]) == (
        "流感疫苗", "hedong hexi", 60, "E11 I10")
    assert written["organization"] is None
    assert by_title["Harbour open day"]["status"] == "withdrawn"
    with browser() as web:
        assert "Harbour open day" not in web.get("/app/news").text


def test_a_form_without_its_csrf_token_is_refused(region):
    with browser() as web:
        sign_in(web, "hospital.admin.test")
        assert web.post("/console/news/new", data=article_form("forged")).status_code == 403
    assert rows(region.engine) == []


@pytest.mark.parametrize(("fields", "message"), [
    ({"category": "gossip"}, "Choose a category."),
    ({"title_en": "", "summary_en": "", "body_en": ""}, "Write the article in English, in Chinese, or in both."),
    ({"title_en": "x" * 201}, "The English title is longer than 200 characters."),
    ({"body_en": "<script>only a script</script>"}, "The English version needs both a title and a text."),
    ({"district": ["atlantis"]}, "atlantis is not a district of the region."),
    ({"age_min": "70", "age_max": "20"}, "The lowest age is above the highest age."),
    ({"age_min": "-3"}, "An age is a whole number from 0 to 120."),
    ({"icd10": "<b>E11</b>"}, "is not an ICD-10 code or category"),
    ({"publish_at": "tomorrow"}, "tomorrow is not a date and time."),
    ({"expires_at": "2020-01-01T08:00"}, "The expiry must be after the publish time and in the future."),
])
def test_bad_input_gets_a_clear_message_on_the_form(region, fields, message):
    with browser() as web:
        sign_in(web, "hospital.admin.test")
        token = form_token(web.get("/console/news/new"))
        page = web.post("/console/news/new", data=article_form(token, **fields))
    assert page.status_code == 400 and message.replace("<", "&lt;") in page.text.replace("&#39;", "'")
    assert "<b>E11" not in page.text
    assert rows(region.engine) == []


def test_errors_are_shown_in_chinese_to_a_chinese_reader(region):
    with browser() as web:
        sign_in(web, "hospital.admin.test")
        token = form_token(web.get("/console/news/new?lang=zh-Hans"))
        page = web.post("/console/news/new", data=article_form(token, age_min="70", age_max="20"))
    assert page.status_code == 400 and "最低年龄高于最高年龄" in page.text


def test_editing_changes_the_article_and_the_form_shows_a_sanitised_preview(region):
    article_id = write(region.engine, region.hospital_admin, title_en="Old title")
    with browser() as web:
        sign_in(web, "hospital.admin.test")
        form = web.get(f"/console/news/{article_id}")
        assert form.status_code == 200 and 'value="Old title"' in form.text and "What readers see" in form.text
        saved = web.post(f"/console/news/{article_id}", data=article_form(
            form_token(form), title_en="New title",
            body_en='<p>Fresh <iframe src="https://x.example"></iframe>text</p>'))
        assert saved.status_code == 303
        preview = web.get(f"/console/news/{article_id}").text
    assert "<iframe" not in preview and re.search(r"<p>Fresh\s*text</p>", preview)
    (row,) = rows(region.engine)
    assert row["title_en"] == "New title"
