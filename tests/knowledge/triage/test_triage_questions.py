"""Two readings a triage nurse does without thinking: "breathing is fine" denies the symptom before it (post-negation),
and a question with no symptom in it ("is it safe to take X with my tablets?") is an appointment within days, not
"nothing recognised, see a clinician today" - unless anything in it could be the serious part."""

import pytest

from smartcare.knowledge.triage import Presentation, assess, read_text


@pytest.mark.parametrize("text, key", [
    ("asthma review due, my wheeze is fine at the moment", "wheeze"),
    ("咳嗽两天了，喘气没问题", "breathless"),
    ("嗓子疼，喘气正常，能吃东西", "breathless"),
])
def test_a_word_of_normality_after_a_symptom_denies_it(text, key):
    reading = read_text(text)
    assert key not in reading.present()
    assert key in reading.negated()


@pytest.mark.parametrize("text, key", [
    ("chest pain, ecg normal", "chest_pain"),      # the normal word belongs to another thing
    ("说话不正常，嘴有点歪", "stroke_sign"),          # "not normal" is no denial
    ("his speech is not normal since lunch", "stroke_sign"),
    ("my breathing isn't normal", "breathing_difficulty"),
])
def test_not_normal_or_normal_about_something_else_keeps_the_symptom(text, key):
    assert key in read_text(text).present()


def level(text: str, **kw) -> tuple[str, list[str]]:
    a = assess(Presentation(text=text, age_years=kw.pop("age", 45), sex=kw.pop("sex", "female"), **kw))
    return a.level, [r.rule for r in a.reasons]


@pytest.mark.parametrize("text", [
    "Is it safe to take ibuprofen with my blood pressure tablets?",
    "我在吃降压药，想问问能不能吃点布洛芬？",
])
def test_whether_two_medicines_go_together_is_a_question_for_the_pharmacist(text):
    got, rules = level(text)
    assert got == "self_care", rules
    assert "symptom:medicine_question" in rules


@pytest.mark.parametrize("text", [
    "Can I still have a glass of wine while I'm on metformin?",
    "准备要宝宝了，孕前要做什么检查？",
    "How much vitamin D should my mum take each day?",
])
def test_a_question_with_no_symptom_is_answered_within_days(text):
    got, rules = level(text)
    assert got == "routine"
    assert "question-no-symptom" in rules


@pytest.mark.parametrize("text, at_least", [
    # Something unread could be the serious part: a body part, blood, breath or swelling of the tongue.
    ("My tongue feels thick and funny, can I take an antihistamine?", "urgent"),
    ("我嘴唇麻麻的，能吃氯雷他定吗？", "urgent"),
    ("Can I take aspirin? There was blood when I coughed", "urgent"),
    # A symptom told alongside the question is judged as a symptom.
    ("Can I take paracetamol for this crushing chest pain?", "emergency"),
])
def test_a_question_that_also_tells_of_danger_is_not_lowered(text, at_least):
    order = ["self_care", "routine", "urgent", "emergency"]
    got, rules = level(text)
    assert order.index(got) >= order.index(at_least), (got, rules)
    assert "question-no-symptom" not in rules
