"""The public-health page /console/public-health: chart and table of weekly counts, case reports for officers only."""

import re

import pytest

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from tests.regional.conftest import HEDONG, HEXI, IDENTIFYING
from tests.web_support import browser, make_user, sign_in

PAGE = "/console/public-health"
JANUARY = {"from": "2026-01-05", "to": "2026-01-18"}


def signed_in_as(engine, role: str):
    make_user(engine, role)
    web = browser()
    sign_in(web, role.replace("_", ".") + ".test")
    return web


def table_rows(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)]
            for row in rows]


def test_an_officer_sees_the_chart_the_table_with_small_cells_hidden_and_the_case_reports(engine, region):
    with signed_in_as(engine, "public_health_officer") as web:
        page = web.get(PAGE, params=JANUARY)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert 'id="weekly-chart"' in html and 'role="img"' in html
    assert "/static/vendor/echarts/echarts.min.js" in html
    rows = table_rows(html, "weekly-table")
    assert rows[0] == ["Week starting", HEDONG, HEXI, "Total"]
    assert rows[1] == ["2026-01-05", "*hidden", "&lt;5", "9"]
    assert rows[2] == ["2026-01-12", "*hidden", "*hidden", "12"]
    assert rows[3] == ["Total", "13", "8", "21"]
    reports = table_rows(html, "case-reports")
    assert len(reports) == 3
    assert reports[2][1].startswith("张1") and "330199000000000001" in reports[2][1]
    assert reports[2][3] == "J10.1 Influenza" and reports[2][4] == "Riverside First Hospital"


def test_a_regional_administrator_sees_the_counts_but_no_case_report(engine, region):
    with signed_in_as(engine, "regional_admin") as web:
        page = web.get(PAGE, params=JANUARY)
    assert page.status_code == 200
    assert 'id="weekly-table"' in page.text and 'id="case-reports"' not in page.text
    assert [secret for secret in IDENTIFYING + ("张1",) if secret in page.text] == []
    with unit_of_work(engine) as conn:
        assert audit.search(conn, agent="user/regional.admin.test", subtype="search")[0]["patient"] is None


@pytest.mark.parametrize("role", ["researcher", "hospital_admin", "doctor", "patient"])
def test_everyone_else_is_refused_the_page(engine, region, role):
    with signed_in_as(engine, role) as web:
        page = web.get(PAGE)
    assert page.status_code == 403
    assert [secret for secret in IDENTIFYING + ("张1",) if secret in page.text] == []


def test_nobody_signed_in_is_sent_to_sign_in(engine):
    with browser() as web:
        page = web.get(PAGE)
    assert page.status_code == 303 and page.headers["location"] == f"/login?next={PAGE}"


@pytest.mark.parametrize("params", [{"code": "<script>"}, {"from": "2026-99-01"}, {"from": "2020-01-01", "to": "2026-01-01"}])
def test_a_bad_request_shows_a_message_and_keeps_the_form(engine, region, params):
    with signed_in_as(engine, "public_health_officer") as web:
        page = web.get(PAGE, params=params)
    assert page.status_code == 400
    assert 'role="alert"' in page.text and "<script>" not in page.text.split("</head>", 1)[1].split("<script", 1)[0]
    assert 'id="weekly-table"' not in page.text


def test_the_page_speaks_chinese(engine, region):
    with signed_in_as(engine, "public_health_officer") as web:
        page = web.get(PAGE, params={**JANUARY, "lang": "zh-Hans"})
    assert page.status_code == 200
    assert "公共卫生" in page.text and "病例报告" in page.text and "每周病例数" in page.text


def test_an_officer_finds_the_releases_and_the_outbreaks_from_the_console_home(engine, region):
    with signed_in_as(engine, "public_health_officer") as web:
        home = web.get(PAGE)
        links = dict(re.findall(r'<a href="(/console/public-health/[a-z]+)" id="([a-z]+)-link"', home.text))
        opened = {path: web.get(path).status_code for path in links}
    assert links == {"/console/public-health/cases": "review", "/console/public-health/signals": "signals",
                     "/console/public-health/outbreaks": "outbreaks", "/console/public-health/releases": "releases"}
    assert opened == dict.fromkeys(links, 200)


def test_a_regional_administrator_gets_no_links_to_the_officers_pages(engine, region):
    with signed_in_as(engine, "regional_admin") as web:
        home = web.get(PAGE)
    assert "/console/public-health/releases" not in home.text and "/console/public-health/outbreaks" not in home.text
