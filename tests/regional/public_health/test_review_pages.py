"""The review pages: the list with filters and possible duplicates, one report with its history and acts as forms,
conflicts and refusals shown as messages, hostile text escaped, officers only, English and Chinese."""

import re

import pytest

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import report_card, reporting
from tests.regional.public_health.test_report_card import GOOD, NOW
from tests.regional.public_health.test_review import case, institutions, link, person, put, read
from tests.web_support import browser, form_token, make_user, sign_in

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
LIST = "/console/public-health/cases"
FEBRUARY = {"from": "2026-02-01", "to": "2026-02-28"}
HOSTILE = "<script>alert(1)</script>"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"


@pytest.fixture
def region(engine, now):
    a, b = person("h1-1", name=[{"text": "张伟" + HOSTILE}]), person("h2-1", name=[{"family": "Zhang", "given": ["Wei"]}])
    reported = case("rep-a", "h1-1")
    reported["extension"].append({"url": model.REASON, "valueString": "ICD-10 J10.1 is Influenza, Class C",
                                  "_valueString": {"extension": [{"url": TRANSLATION, "extension": [
                                      {"url": "lang", "valueCode": "zh-Hans"},
                                      {"url": "content", "valueString": "ICD-10 J10.1 为流行性感冒（丙类）"}]}]}})
    put(engine, *institutions(), a, b, reported,
        case("rep-b", "h2-1", hospital="org-b", doctor="doc-b", diagnosed="2026-02-22T10:00:00+08:00"))
    link(engine, a, b)
    return engine


def signed_in(engine, role: str = "public_health_officer"):
    make_user(engine, role)
    web = browser()
    sign_in(web, role.replace("_", ".") + ".test")
    return web


def rows(html: str) -> list[str]:
    body = html.split('id="case-review"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr id="case-([^"]+)"', body)


def test_an_officer_lists_the_reports_with_their_possible_duplicates_and_filters_them(region):
    with signed_in(region) as web:
        page = web.get(LIST, params=FEBRUARY)
        only = web.get(LIST, params={**FEBRUARY, "organization": "Organization/org-b"})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert rows(page.text) == ["rep-b", "rep-a"]
    assert page.text.count("linked by the patient index") == 2 and "Influenza" in page.text
    assert HOSTILE not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert rows(only.text) == ["rep-b"]


@pytest.mark.parametrize("params", [{"from": "2026-13-01"}, {"from": "2026-02-10", "to": "2026-02-01"},
                                    {"state": "<b>"}, {"disease": "plague-x"}, {"organization": "Patient/p1"},
                                    {"from": "2020-01-01", "to": "2026-01-01"}, {"district": "x" * 60}])
def test_bad_filters_show_a_message_and_no_list(region, params):
    with signed_in(region) as web:
        page = web.get(LIST, params=params)
    assert page.status_code == 400 and 'id="review-error"' in page.text and 'id="case-review"' not in page.text


def test_the_report_page_shows_the_case_its_history_duplicates_and_the_acts_as_forms(region):
    with signed_in(region) as web:
        page = web.get(f"{LIST}/rep-a")
    html = page.text
    assert page.status_code == 200
    assert 'id="case-state">submitted' in html and "周医生" in html and "Riverside First Hospital" in html
    assert "ICD-10 J10.1 is Influenza, Class C" in html
    assert 'id="case-duplicates"' in html and 'href="/console/public-health/cases/rep-b"' in html
    assert html.count('name="csrf_token"') == 4 and html.count('name="version" value="1"') == 4
    assert "/acts/verify" in html and "/acts/request-correction" in html and "/acts/close" not in html
    assert HOSTILE not in html
    with unit_of_work(region) as conn:
        assert audit.search(conn, agent="user/public.health.officer.test", subtype="read")[0]["patient"] == \
            "Patient/h1-1"


def test_verifying_through_the_form_moves_the_state_and_shows_it(region):
    with signed_in(region) as web:
        token = form_token(web.get(f"{LIST}/rep-a"))
        done = web.post(f"{LIST}/rep-a/acts/verify", data={"csrf_token": token, "version": "1"})
        page = web.get(done.headers["location"])
    assert done.status_code == 303 and done.headers["location"] == f"{LIST}/rep-a?done=verify"
    assert 'id="case-state">verified' in page.text and 'id="case-done"' in page.text
    assert "/acts/close" in page.text and "public.health.officer.test" in page.text
    assert read(region, "rep-a").facts.state == "verified"


def test_a_stale_form_gets_a_conflict_message_and_changes_nothing(region):
    with signed_in(region) as web:
        token = form_token(web.get(f"{LIST}/rep-a"))
        web.post(f"{LIST}/rep-a/acts/verify", data={"csrf_token": token, "version": "1"})
        stale = web.post(f"{LIST}/rep-a/acts/request-correction",
                         data={"csrf_token": token, "version": "1", "text": "late"})
    assert stale.status_code == 409 and "Someone else changed this report" in stale.text
    assert read(region, "rep-a").facts.state == "verified"


def test_a_move_the_state_does_not_allow_gets_409_with_a_message(region):
    with signed_in(region) as web:
        token = form_token(web.get(f"{LIST}/rep-a"))
        refused = web.post(f"{LIST}/rep-a/acts/close", data={"csrf_token": token, "version": "1", "outcome": "died"})
    assert refused.status_code == 409 and "This act is not open to a report that is submitted." in refused.text
    assert read(region, "rep-a").version == 1


def test_a_correction_request_shows_the_text_escaped_and_in_chinese(region):
    with signed_in(region) as web:
        token = form_token(web.get(f"{LIST}/rep-a"))
        web.post(f"{LIST}/rep-a/acts/request-correction",
                 data={"csrf_token": token, "version": "1", "text": "Check onset " + HOSTILE})
        page = web.get(f"{LIST}/rep-a", params={"lang": "zh-Hans"})
    assert "待订正" in page.text and "病例报告审核" in page.text and "要求订正" in page.text
    assert "ICD-10 J10.1 为流行性感冒（丙类）" in page.text
    assert "Check onset &lt;script&gt;" in page.text and HOSTILE not in page.text


def test_a_hostile_report_to_keep_is_refused_with_the_text_escaped(region):
    with signed_in(region) as web:
        token = form_token(web.get(f"{LIST}/rep-b"))
        refused = web.post(f"{LIST}/rep-b/acts/mark-duplicate", data={"csrf_token": token, "version": "1",
                                                                       "kept": HOSTILE})
    assert refused.status_code == 409 and "There is no case report &lt;script&gt;" in refused.text
    assert HOSTILE not in refused.text and read(region, "rep-b").facts.state == "submitted"


def test_a_form_without_the_sessions_csrf_token_is_refused(region):
    with signed_in(region) as web:
        refused = web.post(f"{LIST}/rep-a/acts/verify", data={"csrf_token": "forged", "version": "1"})
    assert refused.status_code == 403 and read(region, "rep-a").version == 1


def test_an_unknown_report_is_404(region):
    with signed_in(region) as web:
        page = web.get(f"{LIST}/nope")
    assert page.status_code == 404 and "There is no case report nope." in page.text


@pytest.mark.parametrize("role", ["regional_admin", "doctor", "researcher"])
def test_everyone_but_officers_is_refused(region, role):
    with signed_in(region, role) as web:
        pages = [web.get(LIST), web.get(f"{LIST}/rep-a"), web.get(f"{LIST}/rep-a/investigation"),
                 web.post(f"{LIST}/rep-a/acts/verify", data={"version": "1"})]
    assert [p.status_code for p in pages] == [403] * 4
    assert all("张伟" not in p.text for p in pages) and read(region, "rep-a").version == 1


def test_nobody_signed_in_is_sent_to_sign_in(region):
    with browser() as web:
        page = web.get(f"{LIST}/rep-a")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def _with_report_card(engine, **changes: str) -> None:
    """Attach to rep-a the report card its doctor submitted (GOOD, changed as given), as the doctor's page does."""
    checked = report_card.parse_card({**GOOD, **changes}, cat=reporting.catalogue(), now=NOW)
    answers = report_card.response_resource(checked, patient="Patient/h1-1", author="Practitioner/doc-a", now=NOW)
    answers["id"] = "card-a"
    report = read(engine, "rep-a").resource
    model.replace_section_entry(report, model.REPORT_CARD_SECTION, "Report card", "QuestionnaireResponse/card-a")
    put(engine, answers, report)


def card_lines(html: str) -> list[str]:
    body = html.split('class="case-card"', 1)[1].split("</ul>", 1)[0]
    return [re.sub(r"<[^>]+>", "", line).strip() for line in re.findall(r"<li[^>]*>(.*?)</li>", body, flags=re.S)]


def test_the_report_card_reads_in_the_officers_language_with_its_time_in_the_regions_time(region):
    _with_report_card(region, remarks="Seen twice " + HOSTILE)
    with signed_in(region) as web:
        english = web.get(f"{LIST}/rep-a").text
        chinese = web.get(f"{LIST}/rep-a", params={"lang": "zh-Hans"}).text
    assert {"Sex: Female", "District: Hedong District", "Occupation: Teacher", "Disease: Viral hepatitis",
            "Subtype: Hepatitis B", "Case classification: Laboratory-confirmed case",
            "Diagnosis date and time: 2026-03-02 15:10"} <= set(card_lines(english))
    shown = card_lines(chinese)
    assert {"性别: 女", "区县: 河东区", "人群分类: 教师", "病种: 病毒性肝炎", "亚型: 乙型肝炎", "病例分类: 确诊病例",
            "诊断时间: 2026-03-02 15:10", "患者姓名: 王芳"} <= set(shown)
    assert not [line for line in shown if re.search(r"[A-Za-z]{3,}", line.split(":")[0])], "no English question"
    assert "T07:10" not in english + chinese and "Hedong District" not in chinese.split('id="card-title"')[1]
    assert "Seen twice &lt;script&gt;alert(1)&lt;/script&gt;" in english and HOSTILE not in english
