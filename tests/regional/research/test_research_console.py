"""The researcher's page /console/research: counts by type, a de-identified preview and the download link; nobody else gets in."""

import re

import pytest

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.regional.research.deidentify import pseudonym
from smartcare.regional.research.service import pseudonym_key
from tests.regional.conftest import IDENTIFYING
from tests.web_support import browser, make_user, sign_in

PAGE = "/console/research"


@pytest.fixture
def researcher_web(engine, region):
    make_user(engine, "researcher")
    with browser() as web:
        sign_in(web, "researcher.test")
        yield web


def test_the_page_shows_counts_a_deidentified_preview_and_the_download_link(researcher_web):
    page = researcher_web.get(PAGE, params={"type": "Observation", "code": "http://loinc.org|8867-4"})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert [secret for secret in IDENTIFYING if secret in html] == []
    assert "<h1 id=\"research-title\">Research dataset</h1>" in html
    counts = dict(re.findall(r"<code>(\w+)</code></small></th>\s*<td class=\"numeric\">(\d+)</td>", html))
    assert counts["Patient"] == "21" and counts["Condition"] == "25" and counts["Observation"] == "3"
    patient = pseudonym("Patient", "ph-pat-1", key=pseudonym_key())
    assert f'<code title="{patient}">{patient[:10]}…</code>' in html
    assert html.count("<code>8867-4</code>") == 2 and "8480-6" not in html
    assert 'href="/api/research/dataset?type=Observation&amp;code=http%3A%2F%2Floinc.org%7C8867-4"' in html
    assert 'role="alert"' not in html


def test_the_download_link_answers_for_the_signed_in_researcher(researcher_web):
    answer = researcher_web.get("/api/research/dataset", params={"type": "Patient"})
    assert answer.status_code == 200 and len(answer.text.splitlines()) == 21


@pytest.mark.parametrize("params", [{"type": "AuditEvent"}, {"type": "Patient", "code": "x"},
                                    {"type": "Observation", "code": "<script>alert(1)</script>"}])
def test_a_bad_choice_gets_a_readable_message_and_no_preview(researcher_web, params):
    page = researcher_web.get(PAGE, params=params)
    assert page.status_code == 400
    assert 'role="alert"' in page.text and "<script>alert(1)" not in page.text
    assert "Preview" not in page.text


def test_the_page_speaks_chinese(researcher_web):
    page = researcher_web.get(PAGE, params={"lang": "zh-Hans"})
    assert page.status_code == 200
    assert "研究数据集" in page.text and "患者" in page.text


def test_opening_the_page_is_audited_as_research(researcher_web, engine):
    researcher_web.get(PAGE)
    with unit_of_work(engine) as conn:
        exports = audit.search(conn, agent="user/researcher.test", subtype="export")
        searches = audit.search(conn, agent="user/researcher.test", subtype="search")
    assert len(exports) == 1 and len(searches) == 1
    assert all(e["event"]["purposeOfEvent"][0]["coding"][0]["code"] == "HRESCH" for e in exports + searches)


@pytest.mark.parametrize("role", ["public_health_officer", "regional_admin", "hospital_admin", "doctor", "patient"])
def test_every_other_role_is_refused_and_the_refusal_is_audited(engine, region, role):
    make_user(engine, role)
    username = role.replace("_", ".") + ".test"
    with browser() as web:
        sign_in(web, username)
        page = web.get(PAGE)
        api = web.get("/api/research/dataset", params={"type": "Patient"})
    assert page.status_code == 403 and api.status_code == 403
    assert [secret for secret in IDENTIFYING if secret in page.text + api.text] == []
    with unit_of_work(engine) as conn:
        refused = audit.search(conn, agent=f"user/{username}", subtype="access-refused")
        exports = audit.search(conn, agent=f"user/{username}", subtype="export")
    assert len(refused) == 2 and exports == []


def test_nobody_signed_in_is_sent_to_sign_in(engine):
    with browser() as web:
        page = web.get(PAGE)
    assert page.status_code == 303 and page.headers["location"] == f"/login?next={PAGE}"
