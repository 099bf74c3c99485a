"""The public disease pages and the app's disease search API: both languages, no sign-in, hostile input."""

import pytest

from tests.web_support import browser


@pytest.fixture
def web(engine):
    with browser() as client:
        yield client


def test_search_page_lists_condition_guides_before_codes_without_sign_in(web):
    page = web.get("/app/diseases?q=gaoxueya&lang=en")
    assert page.status_code == 200
    text = page.text
    assert "/app/diseases/hypertension" in text
    assert "/app/diseases/icd10/I10" in text
    assert text.index("/app/diseases/hypertension") < text.index("/app/diseases/icd10/I10")


def test_search_page_in_chinese_shows_chinese_names_and_body_systems(web):
    page = web.get("/app/diseases?q=%E7%B3%96%E5%B0%BF%E7%97%85&lang=zh-Hans")
    assert page.status_code == 200
    assert "2型糖尿病" in page.text
    assert "按身体系统浏览" in page.text
    assert "循环系统疾病" in page.text


def test_condition_page_shows_emergency_signs_with_a_call_link_and_booking(web):
    page = web.get("/app/diseases/heart-attack?lang=en")
    assert page.status_code == 200
    assert 'href="tel:120"' in page.text
    assert "Call 120" in page.text
    assert "/app/book" in page.text
    assert "Cardiology" in page.text
    assert "Sources" in page.text


def test_condition_page_in_chinese(web):
    page = web.get("/app/diseases/hypertension?lang=zh-Hans")
    assert page.status_code == 200
    assert "高血压" in page.text
    assert "何时就医" in page.text
    assert "心血管内科" in page.text


def test_code_page_shows_title_parents_and_the_matching_guide(web):
    page = web.get("/app/diseases/icd10/E11.9?lang=zh-Hans")
    assert page.status_code == 200
    assert "Type 2 diabetes mellitus without complications" in page.text
    assert "2型糖尿病不伴有并发症" in page.text
    assert "Diabetes mellitus (E08-E13)" in page.text
    assert "/app/diseases/type-2-diabetes" in page.text


def test_code_page_accepts_a_code_without_its_dot(web):
    page = web.get("/app/diseases/icd10/S52521A")
    assert page.status_code == 200
    assert "Torus fracture of lower end of right radius" in page.text


@pytest.mark.parametrize("path", ["/app/diseases/no-such-condition", "/app/diseases/icd10/ZZZ99",
                                  "/app/diseases/" + "x" * 3000, "/app/diseases/icd10/" + "E" * 3000])
def test_unknown_pages_answer_404(web, path):
    assert web.get(path, headers={"accept": "text/html"}).status_code == 404


def test_hostile_query_is_escaped_and_cut(web):
    page = web.get("/app/diseases", params={"q": "<script>alert(1)</script>" + "a" * 5000})
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text
    assert "shortened to 100 characters" in page.text


def test_api_search_answers_conditions_then_codes(web):
    answer = web.get("/api/v1/knowledge/diseases", params={"q": "diabetis", "lang": "zh-Hans"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["conditions"][0]["key"] == "type-2-diabetes" or "type-2-diabetes" in [
        c["key"] for c in body["conditions"]]
    assert any(c["name"] == "2型糖尿病" for c in body["conditions"])
    assert any(c["code"].startswith("E11") for c in body["codes"])


def test_api_code_hit_links_its_guide(web):
    body = web.get("/api/v1/knowledge/diseases", params={"q": "E119"}).json()
    assert body["codes"][0]["code"] == "E11.9"
    assert body["codes"][0]["condition"] == "type-2-diabetes"


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "x" * 101}])
def test_api_rejects_a_missing_or_too_long_query_with_json(web, params):
    answer = web.get("/api/v1/knowledge/diseases", params=params)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/json")


def test_api_blank_query_is_a_json_error(web):
    answer = web.get("/api/v1/knowledge/diseases", params={"q": "   "})
    assert answer.status_code == 422
    assert answer.json()["message"]


def test_api_is_in_the_openapi_document(web):
    paths = web.get("/openapi.json").json()["paths"]
    assert "/api/v1/knowledge/diseases" in paths
