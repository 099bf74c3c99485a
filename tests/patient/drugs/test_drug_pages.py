"""The public medicine pages and JSON API: search, a medicine's page, the together-checker, in English and Chinese."""

import pytest

from smartcare.knowledge.drugs import consumer
from tests.web_support import browser


@pytest.fixture
def web(engine):
    return browser()


def test_search_by_brand_finds_digoxin_without_signing_in(web):
    page = web.get("/app/drugs", params={"q": "Lanoxin"})
    assert page.status_code == 200
    assert 'href="/app/drugs/digoxin"' in page.text and "Digoxin" in page.text


def test_search_in_chinese_and_pinyin_with_a_typo(web):
    page = web.get("/app/drugs", params={"q": "digaoxin", "lang": "zh-Hans"})
    assert "地高辛" in page.text and "找到 1 种药品" in page.text
    assert 'href="/app/drugs/digoxin"' in web.get("/app/drugs", params={"q": "digoxn"}).text


def test_browsing_a_group_lists_its_medicines(web):
    page = web.get("/app/drugs", params={"group": "C"})
    assert "Cardiovascular system" in page.text and 'href="/app/drugs/amlodipine"' in page.text


def test_the_warfarin_page_lists_a_pair_from_the_interaction_table_with_its_source(web):
    knowledge = consumer.default()
    pairing = next(p for p in knowledge.pairings("warfarin") if "aspirin" in {d.key for d in p.partners})
    page = web.get("/app/drugs/warfarin")
    assert page.status_code == 200
    assert 'href="/app/drugs/aspirin"' in page.text
    assert pairing.rule.mechanism_en.replace("'", "&#39;") in page.text
    assert "Serious: usually avoided together" in page.text
    assert "Must not be used in pregnancy" in page.text  # warfarin is category X in the formulary


def test_the_warfarin_page_in_chinese_uses_the_chinese_texts(web):
    pairing = next(p for p in consumer.default().pairings("warfarin") if "aspirin" in {d.key for d in p.partners})
    page = web.get("/app/drugs/warfarin", params={"lang": "zh-Hans"})
    assert "华法林" in page.text and pairing.rule.mechanism_zh in page.text
    assert "孕期禁用" in page.text and "不宜同时使用的药物和食物" in page.text


def test_a_drug_page_shows_its_consumer_text(web):
    info = consumer.default().info("metformin")
    page = web.get("/app/drugs/metformin")
    assert info is not None and info.uses_en in page.text and info.serious_en[0] in page.text
    assert info.uses_zh in web.get("/app/drugs/metformin", params={"lang": "zh-Hans"}).text


def test_an_unknown_drug_page_is_a_404(web):
    assert web.get("/app/drugs/not-a-drug").status_code == 404
    assert web.get("/app/drugs/" + "x" * 500).status_code == 404


def test_the_checker_shows_a_known_pair_with_its_source_and_the_pharmacist_advice(web):
    rule = consumer.default().check_together(["warfarin", "aspirin"])[0].rules[0]
    page = web.get("/app/drugs/check", params=[("drugs", "warfarin"), ("drugs", "aspirin")])
    assert page.status_code == 200
    assert "Warfarin + Aspirin" in page.text
    assert rule.source.replace('"', "&#34;").split(";")[0] in page.text
    assert "ask your pharmacist or doctor" in page.text


def test_the_checker_never_says_an_unlisted_pair_is_safe(web):
    page = web.get("/app/drugs/check", params=[("drugs", "omeprazole"), ("drugs", "folic-acid")])
    assert "lists no interaction between these medicines" in page.text
    assert "does not prove they are safe" in page.text
    zh = web.get("/app/drugs/check", params=[("drugs", "omeprazole"), ("drugs", "folic-acid"), ("lang", "zh-Hans")])
    assert "并不能证明一起使用就是安全的" in zh.text and "请务必咨询药师或医生" in zh.text


def test_adding_a_misspelt_name_offers_suggestions_and_the_suggestion_fragment_works(web):
    page = web.get("/app/drugs/check", params=[("drugs", "warfarin"), ("add", "asprin")])
    assert 'name="add" value="aspirin"' in page.text
    fragment = web.get("/app/drugs/check/suggest", params={"add": "dgx"})
    assert 'value="digoxin"' in fragment.text and "<html" not in fragment.text


def test_hostile_input_is_escaped_and_never_fails(web):
    attack = "<script>alert(1)</script>"
    for response in (web.get("/app/drugs", params={"q": attack}),
                     web.get("/app/drugs/check", params=[("drugs", attack), ("add", attack)]),
                     web.get("/app/drugs/check/suggest", params={"add": attack}),
                     web.get("/app/drugs", params={"q": "x" * 10000, "group": "\x00"}),
                     web.get("/app/drugs/check", params=[("drugs", "warfarin")] * 500)):
        assert response.status_code == 200
        assert attack not in response.text


def test_api_search_and_group(web):
    found = web.get("/api/v1/knowledge/drugs", params={"q": "地高辛"}).json()
    assert found["results"][0]["key"] == "digoxin" and found["results"][0]["page"] == "/app/drugs/digoxin"
    group = web.get("/api/v1/knowledge/drugs", params={"group": "b"}).json()
    assert "warfarin" in {r["key"] for r in group["results"]}


def test_api_check_returns_the_pair_with_severity_advice_and_source(web):
    answer = web.post("/api/v1/knowledge/drugs/check", json={"drugs": ["warfarin", "阿司匹林"]})
    assert answer.status_code == 200
    finding = answer.json()["findings"][0]
    assert finding["drugs"] == ["warfarin", "aspirin"] and finding["severity"] == "major"
    assert finding["rules"][0]["source"] and finding["rules"][0]["what_to_do_zh"]
    assert "pharmacist" in answer.json()["note_en"]


def test_api_check_with_no_listed_pair_carries_the_caveat(web):
    answer = web.post("/api/v1/knowledge/drugs/check", json={"drugs": ["omeprazole", "folic-acid"]}).json()
    assert answer["findings"] == [] and "does not prove they are safe" in answer["note_en"]


@pytest.mark.parametrize("body", [{"drugs": ["warfarin"]}, {"drugs": "warfarin"}, {"drugs": []}, {},
                                  {"drugs": ["warfarin", "x" * 1000]}, {"drugs": ["warfarin"] * 11},
                                  {"drugs": ["warfarin", "Coumadin"]}, {"drugs": ["warfarin", "nosuchdrug"]}])
def test_api_check_bad_input_is_a_json_4xx(web, body):
    answer = web.post("/api/v1/knowledge/drugs/check", json=body)
    assert 400 <= answer.status_code < 500
    assert answer.headers["content-type"].startswith("application/json")


def test_api_unknown_name_gets_suggestions(web):
    answer = web.post("/api/v1/knowledge/drugs/check", json={"drugs": ["warfarin", "asprin"]})
    assert answer.status_code == 422
    assert answer.json()["error"] == "unknown_drug" and answer.json()["suggestions"]["asprin"][0] == "aspirin"


def test_the_api_is_documented_in_openapi(web):
    paths = web.get("/openapi.json").json()["paths"]
    assert "get" in paths["/api/v1/knowledge/drugs"] and "post" in paths["/api/v1/knowledge/drugs/check"]
    assert "/app/drugs" not in paths
