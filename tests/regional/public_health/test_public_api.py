"""The public JSON API and Atom feed of released figures: approved releases only, suppressed as on the page."""

import xml.etree.ElementTree as ET

import pytest

from tests.regional.public_health.test_public_page import published
from tests.regional.public_health.test_releases import HEDONG, HEXI, prepared, week_nine
from tests.web_support import browser

ATOM = "{http://www.w3.org/2005/Atom}"
# Pages over the store: the store itself is tested on both databases (test_releases.py); these run on SQLite.
pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def test_the_api_gives_the_released_counts_with_small_ones_hidden(engine, now):
    release_id = published(engine)
    web = browser()
    listed = web.get("/public/api/releases")
    assert listed.headers["cache-control"] == "public, max-age=120"
    assert listed.headers["access-control-allow-origin"] == "*"
    assert [(r["id"], r["current"]) for r in listed.json()["releases"]] == [(release_id, True)]
    latest = web.get("/public/api/releases/latest").json()
    assert latest == web.get(f"/public/api/releases/{release_id}").json()
    assert latest["period"] == {"start": "2026-01-05", "end": "2026-03-01", "first_week": "2026-W02",
                                "last_week": "2026-W09"}
    influenza = latest["diseases"][0]
    assert (influenza["disease"], influenza["name_en"], influenza["name_zh"]) == ("influenza", "Influenza", "流行性感冒")
    cells = {(c["week"], c["district"]): c["count"] for c in influenza["cells"]}
    assert cells[("2026-W09", HEXI)] == "<5" and cells[("2026-W09", HEDONG)] == "suppressed"
    assert cells[("2026-W08", HEDONG)] == 0 and latest["all"]["weeks"][-1] == {"week": "2026-W09", "count": 10}
    assert latest["districts"][0] == {"code": HEDONG, "name_en": "Hedong District", "name_zh": "河东区"}
    assert latest["suppression"]["threshold"] == 5 and latest["suppression"]["small_shown_as"] == "<5"


def test_a_pending_release_is_in_neither_the_api_nor_the_feed(engine, now):
    week_nine(engine)
    pending = prepared(engine)
    web = browser()
    assert web.get("/public/api/releases").json() == {"releases": []}
    missing = web.get("/public/api/releases/latest")
    assert missing.status_code == 404 and missing.json()["error"] == "not-found"
    assert web.get(f"/public/api/releases/{pending.id}").status_code == 404
    assert web.get("/public/api/releases/..%2F..%2Fetc").status_code == 404
    feed = ET.fromstring(web.get("/public/feed.atom").content)
    assert feed.findall(f"{ATOM}entry") == [] and feed.findtext(f"{ATOM}updated")


def test_the_atom_feed_has_an_entry_per_release_and_announcement(engine, now):
    release_id = published(engine)
    web = browser()
    answer = web.get("/public/feed.atom?lang=en")
    assert answer.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(answer.content)
    assert feed.tag == f"{ATOM}feed" and feed.findtext(f"{ATOM}id") == "http://testserver/public/feed.atom"
    assert feed.findtext(f"{ATOM}title") == "SmartCare epidemic figures and announcements"
    entries = {e.findtext(f"{ATOM}category") or e.find(f"{ATOM}category").get("term"): e
               for e in feed.findall(f"{ATOM}entry")}
    assert set(entries) == {"release", "announcement"}
    release = entries["release"]
    assert release.findtext(f"{ATOM}id") == f"urn:uuid:{release_id}"
    assert release.findtext(f"{ATOM}title") == "Notifiable diseases, 2026-W02 to 2026-W09"
    assert release.findtext(f"{ATOM}summary") == "Cases in the period: 10. Latest week (2026-W09): 10."
    links = {link.get("type"): link.get("href") for link in release.findall(f"{ATOM}link")}
    assert links["application/json"] == f"http://testserver/public/api/releases/{release_id}"
    assert links["text/html"] == f"http://testserver/public?release={release_id}&lang=en"
    notice = entries["announcement"]
    assert notice.findtext(f"{ATOM}title") == "Flu season" and notice.findtext(f"{ATOM}content") == "Get vaccinated."
    assert all(e.findtext(f"{ATOM}updated") for e in entries.values())
    chinese = ET.fromstring(web.get("/public/feed.atom?lang=zh-Hans").content)
    assert chinese.findtext(f"{ATOM}title") == "SmartCare 疫情数据与公告"
    assert "流感季节" in [e.findtext(f"{ATOM}title") for e in chinese.findall(f"{ATOM}entry")]
    assert web.get("/public/feed.atom?lang=fr").status_code == 400
