"""The researcher's page lists the projects whose agreement names them and shows a project's risk report, in English and Chinese."""

import re

import pytest

from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.research import projects
from tests.regional.research.test_research_extract import days_from_today
from tests.web_support import browser, make_user, sign_in

PAGE = "/console/research"


def register(engine, researchers: list[str], number: str) -> str:
    with unit_of_work(engine) as conn:
        return projects.register_project(
            conn, ctx=SYSTEM, title="Influenza outcomes", institution="Riverside University", purpose="Study influenza",
            data_types=["Patient", "Condition"], researchers=researchers, signed=days_from_today(-40),
            start=days_from_today(-30), end=days_from_today(365), number=number).project


@pytest.fixture
def researcher_web(engine, region):
    make_user(engine, "researcher")
    with browser() as web:
        sign_in(web, "researcher.test")
        yield web


def measure(html: str, name: str) -> str:
    return re.search(rf'data-measure="{name}">([^<]*)<', html).group(1)


def test_the_page_lists_my_projects_and_shows_the_chosen_ones_risk_report(engine, researcher_web):
    mine = register(engine, ["researcher.test"], "DUA-1")
    register(engine, ["someone.else"], "DUA-2")
    page = researcher_web.get(PAGE)
    assert "<code>DUA-1</code>" in page.text and "DUA-2" not in page.text
    page = researcher_web.get(PAGE, params={"project": mine})
    assert page.status_code == 200
    html = page.text
    assert "Re-identification risk: Influenza outcomes" in html and "10-year age bands, by city" in html
    assert "1 of 21 patients left out" in html
    assert measure(html, "before-records_at_risk") == "8" and measure(html, "after-records_at_risk") == "0"
    assert measure(html, "before-prosecutor_max") == "1.0" and measure(html, "after-prosecutor_max") == "0.1"
    assert f'href="/api/research/projects/{mine}/extract?dates=year"' in html


def test_a_project_not_naming_me_shows_why_in_words(engine, researcher_web):
    other = register(engine, ["someone.else"], "DUA-2")
    page = researcher_web.get(PAGE, params={"project": other})
    assert "does not name you as a researcher" in page.text and "Re-identification risk" not in page.text
    page = researcher_web.get(PAGE, params={"project": "<b>x</b>"})
    assert "There is no research project with this id." in page.text and "<b>x</b>" not in page.text


def test_the_projects_and_risk_report_speak_chinese(engine, researcher_web):
    mine = register(engine, ["researcher.test"], "DUA-1")
    page = researcher_web.get(PAGE, params={"project": mine, "lang": "zh-Hans"})
    assert "研究项目" in page.text and "再识别风险" in page.text and "检察官风险（最高）" in page.text
