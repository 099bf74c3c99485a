"""Reading complaints: synonyms, colloquial English and Chinese, negation, typos and numbers."""

import pytest

from smartcare.knowledge.triage import read_text


def present(text: str) -> set[str]:
    return read_text(text).present()


@pytest.mark.parametrize("text, key", [
    ("I've got a tummy ache", "abdominal_pain"),
    ("I can't catch my breath", "breathing_difficulty"),
    ("she's burning up", "fever"),
    ("throwing up since lunch", "vomiting"),
    ("dyspnoea on exertion", "breathless"),
    ("我心口疼", "chest_pain"),
    ("喘不上气", "breathing_difficulty"),
    ("拉肚子好几次", "diarrhoea"),
    ("孩子发热了", "fever"),
    ("昨晚发烧", "fever"),
    ("嗓子疼", "sore_throat"),
    ("说话不清，嘴歪", "stroke_sign"),
])
def test_synonyms_and_colloquial_terms_are_recognised(text, key):
    assert key in present(text)


@pytest.mark.parametrize("text, key", [
    ("no fever, but a cough", "fever"),
    ("denies chest pain", "chest_pain"),
    ("没有发烧", "fever"),
    ("不咳嗽", "cough"),
    ("否认胸痛、气短", "breathless"),
    ("没有发烧、咳嗽，但是肚子疼", "cough"),
])
def test_negated_symptoms_do_not_count(text, key):
    reading = read_text(text)
    assert key not in reading.present()
    assert key in reading.negated()


@pytest.mark.parametrize("text, key", [
    ("no fever, but a cough", "cough"),
    ("没有发烧、咳嗽，但是肚子疼", "abdominal_pain"),
    ("咳嗽不停", "cough"),
    ("呕吐不止", "vomiting"),
    ("睡不着觉，头疼", "headache"),
    ("the baby is not breathing", "unresponsive"),
    ("pain is no better, chest pain all night", "chest_pain"),
])
def test_words_that_look_like_negation_do_not_hide_symptoms(text, key):
    assert key in present(text)


@pytest.mark.parametrize("text, key", [
    ("chset pain", "chest_pain"),
    ("diarhea for a day", "diarrhoea"),
    ("bad heachache", "headache"),
    ("sore throte", "sore_throat"),
    ("vommiting all night", "vomiting"),
])
def test_typos_are_read_as_the_word_meant(text, key):
    reading = read_text(text)
    assert key in reading.present()
    assert any(m.fuzzy for m in reading.mentions if m.key == key)


@pytest.mark.parametrize("text, absent", [
    ("I fell asleep on the couch", "cough"),
    ("never had this before, a rash", "fever"),
    ("breast lump", "breathless"),
    ("got my flu shot", "major_trauma"),
])
def test_ordinary_words_are_not_mistaken_for_symptoms(text, absent):
    assert absent not in present(text)


@pytest.mark.parametrize("text, temperature", [
    ("temperature of 39.5", 39.5), ("fever 38.2 C", 38.2), ("102 F", 38.9), ("烧到39度", 39.0),
    ("体温38.6", 38.6), ("39度5", 39.5), ("烧到三十九度五", 39.5), ("no number here", None)])
def test_temperatures_are_read_in_celsius(text, temperature):
    assert read_text(text).temperature == temperature


@pytest.mark.parametrize("text, days", [
    ("sore throat for 3 days", 3), ("cough for two weeks", 14), ("咳嗽三天", 3), ("拉肚子一周了", 7),
    ("since yesterday", 1), ("发烧半天", 0.5)])
def test_durations_are_read_in_days(text, days):
    assert read_text(text).duration_days == pytest.approx(days)


@pytest.mark.parametrize("text, years", [
    ("my 2 month old baby", 2 / 12), ("a 67-year-old man", 67), ("宝宝3个月大", 0.25), ("孩子5岁", 5),
    ("出生20天的宝宝", 20 / 365), ("aged 45", 45)])
def test_ages_are_read_in_years(text, years):
    assert read_text(text).age_years == pytest.approx(years, abs=0.01)


def test_an_age_is_not_taken_for_a_duration():
    reading = read_text("my 2 month old baby has had a cough for 3 days")
    assert reading.age_years == pytest.approx(2 / 12, abs=0.01) and reading.duration_days == 3


def test_pain_scores_are_read():
    assert read_text("pain is 8/10").severity == 8
    assert read_text("疼痛8分").severity == 8
    assert read_text("疼了5分钟").severity is None


def test_pregnancy_weeks_count_as_pregnancy_not_as_a_duration():
    reading = read_text("孕8周，阴道出血")
    assert "pregnancy" in reading.present() and reading.duration_days is None
