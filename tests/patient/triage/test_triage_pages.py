"""The triage interview pages: complaint to result in both languages, red flags first, hostile input answered."""

import re

import pytest

from smartcare.knowledge import triage
from tests.web_support import browser

pytestmark = pytest.mark.usefixtures("engine")


def _post(web, **fields):
    data = {"csrf_token": "", "screen": "0", **fields}
    return web.post("/app/triage", data=data)


def _hidden(page) -> list[tuple[str, str]]:
    return re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)


def calm_answer(question_id: str) -> str:
    """An answer that raises no alarm: no to yes/no questions, mild pain, a normal number, the first option."""
    q = next(q for q in triage.questions() if q.id == question_id)
    if q.kind == "choice":
        return q.options[-1]["value"]
    return {"yes_no": "no", "scale": "3"}.get(q.kind) or {"temperature": "37", "age_years": "35"}.get(q.id, "2")


def _form(pairs) -> dict[str, list[str]]:
    """Form fields as httpx takes repeated names."""
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def _answer_all(web, page, choose, url="/app/triage"):
    """Answer every question screen with choose(question id) until the result page comes."""
    for _ in range(12):
        fields = _hidden(page)
        shown = dict(fields).get("shown")
        if shown is None:
            return page
        page = web.post(url, data=_form([*fields, *((f"a_{q}", choose(q)) for q in shown.split(","))]))
        assert page.status_code == 200, page.text[:400]
    return page


@pytest.mark.parametrize(("lang", "title", "call"), [("en", "Check your symptoms", "Call 120 now"),
                                                      ("zh-Hans", "症状自查", "立即拨打120")])
def test_complaint_screen_in_both_languages_has_a_body_map_and_call_120(lang, title, call):
    page = browser().get(f"/app/triage?lang={lang}")
    assert page.status_code == 200
    assert title in page.text and call in page.text and 'href="tel:120"' in page.text
    assert page.text.count('role="button" tabindex="0" data-region=') == 11
    assert 'name="region" value="chest"' in page.text


def test_red_flag_complaint_shows_call_120_and_first_aid_and_no_booking():
    page = _post(browser(), text="chest pain and sweating", age="58", sex="male")
    assert page.status_code == 200
    assert 'href="tel:120"' in page.text and "This may be an emergency" in page.text
    assert 'href="/app/first-aid/heart-attack"' in page.text
    assert 'href="/app/nearest"' in page.text
    assert "/app/book" not in page.text


def test_chinese_red_flag_result_is_in_chinese():
    page = browser().post("/app/triage?lang=zh-Hans", data={"text": "胸口疼，出冷汗", "age": "60", "sex": "male"})
    assert "这可能是急症" in page.text and "/app/first-aid/heart-attack" in page.text
    assert "/app/book" not in page.text


def test_body_map_region_alone_starts_the_interview():
    page = _post(browser(), region="throat", age="30")
    assert page.status_code == 200
    assert "sore throat" in page.text


def test_interview_goes_from_complaint_through_questions_to_a_result_with_reasons_and_disclaimer():
    web = browser()
    page = _post(web, text="headache", age="35", sex="female")
    assert "A few questions" in page.text
    result = _answer_all(web, page, calm_answer)
    assert "Your result" in result.text
    assert "Why this advice" in result.text and "Source" in result.text
    assert "never replaces" in result.text
    assert "to discuss with your doctor" in result.text
    assert "/app/diseases/" in result.text


@pytest.mark.parametrize("fields", [
    {"text": "x" * 5000},
    {"text": "<script>alert(1)</script>", "age": "abc"},
    {"text": "sore throat", "age": "-3"},
    {"text": "sore throat", "a_severity": "eleven"},
    {"text": "sore throat", "a_not_a_question": "yes"},
    {"text": ""},
])
def test_hostile_input_gets_a_form_message_never_a_500(fields):
    page = _post(browser(), **fields)
    assert page.status_code == 400
    assert 'class="tr-error" role="alert"' in page.text
    assert "<script>alert(1)</script>" not in page.text


def test_html_in_the_complaint_is_shown_escaped():
    page = _post(browser(), text="<b>sore throat</b> <img src=x onerror=alert(1)>", age="30")
    assert page.status_code == 200
    assert "<img src=x" not in page.text and "&lt;img src=x" in page.text


def test_bad_answer_on_a_question_screen_asks_again_in_chinese():
    web = browser()
    page = web.post("/app/triage?lang=zh-Hans", data={"text": "头痛", "age": "40", "screen": "0"})
    data = [*_hidden(page), ("a_severity", "99"), ("shown", "severity")]
    again = web.post("/app/triage?lang=zh-Hans", data=_form(data))
    assert again.status_code == 400
    assert "几个问题" in again.text and 'role="alert"' in again.text


def test_rules_page_needs_staff():
    page = browser().get("/workstation/triage/rules")
    assert page.status_code == 303 and "/login" in page.headers["location"]


def test_a_chosen_answer_is_shown_in_words_in_the_readers_language():
    web = browser()
    page = web.post("/app/triage?lang=zh-Hans", data={"csrf_token": "", "screen": "0", "text": "头痛两天",
                                                      "age": "35", "sex": "female"})
    onset = next(q for q in triage.questions() if q.id == "onset")
    gradual = next(o for o in onset.options if o["value"] == "gradual")
    result = _answer_all(web, page, lambda q: "gradual" if q == "onset" else calm_answer(q),
                         url="/app/triage?lang=zh-Hans")
    assert gradual["text_zh"] in result.text
    assert ": gradual" not in result.text and "：gradual" not in result.text


def test_a_yes_to_the_safety_screen_turns_a_benign_sounding_interview_into_call_120():
    web = browser()
    page = _post(web, text="dandruff for a month", age="30", sex="female")
    result = _answer_all(web, page, lambda q: "yes" if q == "bleeding_uncontrolled" else calm_answer(q))
    assert "Call 120 now" in result.text and "/app/book" not in result.text


def test_an_interview_about_a_young_child_asks_the_childs_own_red_flags():
    web = browser()
    page = _post(web, text="my little boy has been sick a few times today", age="2", sex="male")
    asked = []

    def choose(q):
        asked.append(q)
        return "yes" if q == "child_green_vomit" else calm_answer(q)

    result = _answer_all(web, page, choose)
    assert "child_green_vomit" in asked and "child_swallowed" in asked
    assert "drowsy" in asked or "child_unresponsive" in asked, "how responsive the child is, asked once"
    assert "Call 120 now" in result.text and "/app/book" not in result.text


def test_an_interview_in_pregnancy_asks_about_bleeding_fluid_and_movements_before_a_calm_result():
    web = browser()
    page = _post(web, text="怀孕30周，有点胃不舒服", age="29", sex="female")
    asked = []

    def choose(q):
        asked.append(q)
        return calm_answer(q)

    result = _answer_all(web, page, choose)
    assert {"pregnancy_bleeding", "pregnancy_fluid", "pregnancy_movements", "pregnancy_headache_vision"} <= set(asked)
    assert "Call 120 now" not in result.text and "Your result" in result.text
