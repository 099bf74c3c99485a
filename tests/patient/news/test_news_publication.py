"""Publication: the jobs worker publishes a scheduled article at its time and tells the patients it targets, in
their language, in the inbox and live on their open pages; never by SMS or e-mail."""

import re
from datetime import timedelta

import sqlalchemy as sa

import smartcare.patient.news.jobs  # noqa: F401  (registers the publication job, as the worker does)
from smartcare.patient.news import service
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import job, run_due
from smartcare.platform.notifications.service import inbox
from smartcare.platform.security import users
from tests.patient.news.conftest import write
from tests.web_support import browser, sign_in


def status_of(engine, article_id: str) -> str:
    with unit_of_work(engine) as conn:
        return service.get_article(conn, article_id=article_id)["status"]


def inboxes(region) -> tuple[list[dict], list[dict]]:
    with unit_of_work(region.engine) as conn:
        return inbox(conn, user_id=region.patient.id), inbox(conn, user_id=region.neighbour.id)


def test_a_scheduled_article_is_published_by_the_job_at_its_time_to_its_readers_only(region, now):
    article_id = write(region.engine, region.authority, title_en="Free eye checks", title_zh="免费眼科检查",
                       body_zh="<p>本周末。</p>", districts=("hedong",), publish_at=now[0] + timedelta(hours=2))
    run_due(region.engine)
    assert status_of(region.engine, article_id) == "scheduled"
    assert inboxes(region) == ([], [])
    with browser() as web:
        sign_in(web, "patient.test")
        assert "Free eye checks" not in web.get("/app/news").text
    now[0] += timedelta(hours=2, minutes=1)
    run_due(region.engine)
    with browser() as web:  # a new sign-in: the earlier session has gone idle meanwhile
        sign_in(web, "patient.test")
        assert "Free eye checks" in web.get("/app/news").text
    assert status_of(region.engine, article_id) == "published"
    mine, theirs = inboxes(region)
    assert [(n["kind"], n["title"], n["link"]) for n in mine] == [
        ("news", "Free eye checks", f"/app/news/{article_id}")]
    assert theirs == []  # Hexi is not targeted
    with unit_of_work(region.engine) as conn:
        kinds = set(conn.execute(sa.select(job.c.kind)).scalars())
    assert "notifications.deliver" not in kinds  # no SMS, e-mail or WeChat for news
    run_due(region.engine)
    assert len(inboxes(region)[0]) == 1  # published once


def test_readers_are_told_in_their_own_language(region, now):
    write(region.engine, region.authority, title_en="Heat wave advice", title_zh="高温防暑提示", body_zh="<p>多喝水。</p>")
    run_due(region.engine)
    mine, theirs = inboxes(region)
    assert [n["title"] for n in mine] == ["Heat wave advice"]
    assert [n["title"] for n in theirs] == ["高温防暑提示"]  # patient2.test reads Chinese


def test_a_moved_publish_time_publishes_at_the_new_time_and_a_withdrawn_article_never(region, now):
    moved = write(region.engine, region.hospital_admin, title_en="Moved", publish_at=now[0] + timedelta(hours=1))
    dropped = write(region.engine, region.hospital_admin, title_en="Dropped", publish_at=now[0] + timedelta(hours=1))
    admin = users.context_for(region.hospital_admin)
    with unit_of_work(region.engine) as conn:
        service.update_article(conn, ctx=admin, article_id=moved, draft=service.Draft(
            category="health-tips", title_en="Moved", body_en="<p>Later.</p>", publish_at=now[0] + timedelta(hours=3)))
        service.withdraw_article(conn, ctx=admin, article_id=dropped)
    now[0] += timedelta(hours=1, minutes=5)
    run_due(region.engine)
    assert (status_of(region.engine, moved), status_of(region.engine, dropped)) == ("scheduled", "withdrawn")
    now[0] += timedelta(hours=2)
    run_due(region.engine)
    assert status_of(region.engine, moved) == "published"
    assert [n["title"] for n in inboxes(region)[0]] == ["Moved"]


def test_the_publication_reaches_the_patients_open_page_live(region, now):
    article_id = write(region.engine, region.authority, title_en="Clinic hours change", icd10_prefixes=("E11",))
    with browser() as web:
        sign_in(web, "patient.test")
        with web.websocket_connect("/ws/notifications") as socket:
            assert socket.receive_json() == {"type": "hello", "unread": 0}
            run_due(region.engine)
            pushed = socket.receive_json()
    assert pushed["type"] == "notification"
    assert (pushed["notification"]["kind"], pushed["notification"]["title"], pushed["notification"]["link"]) == (
        "news", "Clinic hours change", f"/app/news/{article_id}")


def test_news_pages_listen_for_live_news_only_when_signed_in(region):
    write(region.engine, region.authority)
    with browser() as web:
        assert "news-live.js" not in web.get("/app/news").text
        sign_in(web, "patient.test")
        page = web.get("/app/news").text
        script = re.search(r'<script src="([^"]*news-live\.js[^"]*)"', page)
        assert script and 'id="news-live"' in page
        # The page's script (a file of its own: the CSP allows no inline script) listens on the notifications socket.
        assert "/ws/notifications" in web.get(script.group(1)).text
