"""The officers' release pages: prepare, preview, approve by another officer, reject, announcements; officers only."""

import re

import pytest

from smartcare.platform.db import unit_of_work
from smartcare.regional.public_health import releases
from tests.regional.public_health.test_releases import week_nine
from tests.web_support import browser, form_token, make_user, sign_in

PAGE = "/console/public-health/releases"
# Pages over the store: the store itself is tested on both databases (test_releases.py); these run on SQLite.
pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def officer_browser(engine, username: str):
    make_user(engine, "public_health_officer", username=username)
    web = browser()
    sign_in(web, username)
    return web


def prepare(web, **fields):
    token = form_token(web.get(PAGE))
    return web.post(PAGE, data={"csrf_token": token, **fields})


def test_an_officer_prepares_and_previews_a_release_that_only_another_officer_can_approve(engine, now):
    week_nine(engine)
    with officer_browser(engine, "li.officer") as li:
        page = li.get(PAGE)
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert 'value="2026-W02"' in page.text and 'value="2026-W09"' in page.text
        done = prepare(li, first_week="2026-W02", last_week="2026-W09")
        assert done.status_code == 303
        location = done.headers["location"]
        detail = li.get(location)
        assert "Awaiting approval" in detail.text and 'id="disease-week-table"' in detail.text
        assert "another public-health officer must check and approve it" in detail.text
        assert "Approve and publish" not in detail.text
        release_id = re.search(r"/releases/([^/?]+)", location).group(1)
        refused = li.post(f"{PAGE}/{release_id}/decision", data={"csrf_token": form_token(detail), "action": "approve"})
        assert refused.status_code == 409 and "Another officer must approve what you prepared." in refused.text
    assert "No figures have been published yet" in browser().get("/public").text
    with officer_browser(engine, "zhao.officer") as zhao:
        detail = zhao.get(f"{PAGE}/{release_id}")
        assert "Approve and publish" in detail.text
        approved = zhao.post(f"{PAGE}/{release_id}/decision",
                             data={"csrf_token": form_token(detail), "action": "approve", "version": "1"})
        assert approved.status_code == 303
        listing = zhao.get(PAGE).text
    assert "Approved" in listing and "li.officer" in listing and "zhao.officer" in listing
    assert 'id="disease-week-table"' in browser().get("/public").text


def test_a_wrong_week_is_shown_at_its_field_in_the_readers_language(engine, now):
    with officer_browser(engine, "li.officer") as li:
        answer = prepare(li, first_week="2026-W12", last_week="2026-W20", lang="zh-Hans")
        li.cookies.set("sc_lang", "zh-Hans")
        chinese = prepare(li, first_week="last month", last_week="2026-W09")
    assert answer.status_code == 400
    assert re.search(r'id="last_week"[^>]*aria-invalid="true" aria-describedby="last_week-error"', answer.text)
    assert 'id="last_week-error"' in answer.text and "2026-W09 or earlier" in answer.text
    assert chinese.status_code == 400 and 'id="first_week-error"' in chinese.text
    assert "请按" in chinese.text
    with unit_of_work(engine) as conn:
        assert releases.search_as_platform(conn, "MeasureReport", [], count=5).matches == []


def test_rejecting_needs_a_reason_and_a_rejected_release_is_never_public(engine, now):
    week_nine(engine)
    with officer_browser(engine, "li.officer") as li:
        release_id = prepare(li).headers["location"].split("/")[-1].split("?")[0]
        detail = li.get(f"{PAGE}/{release_id}")
        empty = li.post(f"{PAGE}/{release_id}/decision", data={"csrf_token": form_token(detail), "action": "reject"})
        assert empty.status_code == 400 and "Say why you reject it." in empty.text
        assert 'aria-describedby="decision-error"' in empty.text
        done = li.post(f"{PAGE}/{release_id}/decision",
                       data={"csrf_token": form_token(detail), "action": "reject", "reason": "Counts incomplete"})
        assert done.status_code == 303 and "Rejected" in li.get(f"{PAGE}/{release_id}").text
    anonymous = browser()
    assert anonymous.get(f"/public?release={release_id}").status_code == 404
    assert anonymous.get(f"/public/api/releases/{release_id}").status_code == 404


def test_a_form_without_the_sessions_token_changes_nothing(engine, now):
    week_nine(engine)
    with officer_browser(engine, "li.officer") as li:
        forged = li.post(PAGE, data={"csrf_token": "forged", "first_week": "2026-W02", "last_week": "2026-W09"})
        notice = li.post("/console/public-health/announcements", data={"title_en": "Fake", "body_en": "Fake"})
    assert forged.status_code == 403 and notice.status_code == 403
    with unit_of_work(engine) as conn:
        assert releases.search_as_platform(conn, "MeasureReport", [], count=5).matches == []
        assert releases.search_as_platform(conn, "Communication", [], count=5).matches == []


@pytest.mark.parametrize("role", ["regional_admin", "doctor"])  # the console's surface admits the first
def test_everyone_but_public_health_officers_is_refused_the_release_pages(engine, role):
    make_user(engine, role)
    with browser() as web:
        sign_in(web, role.replace("_", ".") + ".test")
        assert web.get(PAGE).status_code == 403
        assert web.post(PAGE, data={"first_week": "2026-W02"}).status_code == 403
        assert web.post("/console/public-health/announcements", data={"title_en": "x"}).status_code == 403


def test_an_announcement_error_is_tied_to_its_field_and_the_writer_cannot_approve_it(engine, now):
    with officer_browser(engine, "li.officer") as li:
        token = form_token(li.get(PAGE))
        missing = li.post("/console/public-health/announcements",
                          data={"csrf_token": token, "title_en": "Measles in Hexi", "body_en": ""})
        assert missing.status_code == 400
        assert re.search(r'id="body_en"[^>]*aria-invalid="true" aria-describedby="body_en-error"', missing.text)
        assert 'value="Measles in Hexi"' in missing.text
        saved = li.post("/console/public-health/announcements",
                        data={"csrf_token": token, "title_en": "Measles in Hexi", "body_en": "Check vaccinations."})
        assert saved.status_code == 303
        listing = li.get(PAGE).text
        assert "You wrote this: another officer must approve it." in listing
        notice_id = re.search(r'id="notice-([0-9a-f-]{36})"', listing).group(1)
        refused = li.post(f"/console/public-health/announcements/{notice_id}/decision",
                          data={"csrf_token": token, "action": "approve"})
        assert refused.status_code == 409 and f'id="reason-{notice_id}-error"' in refused.text
    assert "Measles in Hexi" not in browser().get("/public").text
