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


@pytest.mark.parametrize("text, key", [
    ("65M central CP since 1 hr", "chest_pain"),
    ("retrosternal pressure", "chest_pain"),
    ("SOB on exertion", "breathless"),
    ("DIB since morning", "breathless"),
    ("brief LOC", "fainted"),
    ("N/V overnight", "nausea"),
    ("N/V overnight", "vomiting"),
    ("胸骨后疼痛", "chest_pain"),
    ("心前区压榨性疼痛", "chest_pain"),
    ("喘不上起", "breathing_difficulty"),
    ("说话含糊，口角歪斜", "stroke_sign"),
    ("孕30周见红", "vaginal_bleeding"),
    ("总觉得活着没意思", "suicidal"),
    ("写了遗书", "suicidal"),
    ("life isn't worth living", "suicidal"),
    ("chest pian", "chest_pain"),
])
def test_clinical_shorthand_and_chinese_clinical_terms_are_read(text, key):
    assert key in present(text)


@pytest.mark.parametrize("text, name, value", [
    ("BP 165/112", "systolic_bp", 165), ("血压165/112", "diastolic_bp", 112), ("b/p 85/50 mmHg", "systolic_bp", 85),
    ("HR 180", "heart_rate", 180), ("心率180次/分", "heart_rate", 180), ("心跳很快，数了一下180多", "heart_rate", 180),
    ("pulse of 36", "heart_rate", 36), ("RR 28", "resp_rate", 28), ("呼吸30次/分", "resp_rate", 30),
    ("SpO2 88%", "spo2", 88), ("血氧88", "spo2", 88), ("sats 91 on air", "spo2", 91), ("GCS 13", "gcs", 13),
    ("T 39.5", "temperature", 39.5), ("temperature around 38.5", "temperature", 38.5),
    ("孕32周", "gestation_weeks", 32), ("G1P0 at 28/40", "gestation_weeks", 28),
    ("28 weeks pregnant", "gestation_weeks", 28),
])
def test_vital_signs_and_weeks_of_pregnancy_are_read(text, name, value):
    assert getattr(read_text(text), name) == pytest.approx(value)


def test_numbers_that_are_not_vital_signs_are_not_taken_for_them():
    reading = read_text("呼吸困难3天，心跳快两天了")
    assert reading.resp_rate is None and reading.heart_rate is None
    assert read_text("BP 120/80").heart_rate is None and read_text("28/40").systolic_bp is None


@pytest.mark.parametrize("text, years, sex", [
    ("58M, chest pain", 58, "male"), ("45F with headache", 45, "female"), ("3yo with cough", 3, None),
    ("6mo with fever", 0.5, None), ("10-month-old with a cold", 10 / 12, None), ("患儿，2月龄，发热", 2 / 12, None)])
def test_clinical_summary_ages_and_sexes_are_read(text, years, sex):
    reading = read_text(text)
    assert reading.age_years == pytest.approx(years, abs=0.01) and reading.sex == sex


def test_an_age_after_a_child_word_is_not_a_duration_and_a_frequency_is_not_either():
    reading = read_text("孩子10个月，拉肚子一天七八次")
    assert reading.age_years == pytest.approx(10 / 12, abs=0.01) and reading.duration_days is None
    assert read_text("cough x3 days").duration_days == 3
    assert read_text("chest pain for 30 min").duration_days == pytest.approx(30 / 1440, abs=0.001)
    assert read_text("fever for 6mo").age_years is None


@pytest.mark.parametrize("text, key, negated", [
    ("sharp pain low down on one side of my belly", "abdominal_pain", False),
    ("一只眼睛突然又红又痛", "eye_problem", False),
    ("胸口不疼", "chest_pain", True),
    ("my belly doesn't hurt", "abdominal_pain", True),
    ("his face and hands have swollen up", "face_hand_swelling", False),
    ("pain in his left testicle", "testicular_pain", False),
])
def test_a_body_site_with_a_nearby_pain_or_swelling_word_is_read_as_the_symptom(text, key, negated):
    reading = read_text(text)
    assert key in (reading.negated() if negated else reading.present())


def test_a_typo_fallback_never_drops_a_negation_word():
    assert "swallowing_difficulty" not in present("can swallow my spit ok")
    assert "swallowing_difficulty" in present("can't swallow my spit")


def test_clauses_where_nothing_was_read_are_listed():
    reading = read_text("headache, my uncle visited from abroad")
    assert "headache" in reading.present() and reading.unread == ("my uncle visited from abroad",)
