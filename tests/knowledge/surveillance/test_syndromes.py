"""Reading chief complaints into syndromes: English and Chinese keywords, negations, temperatures and durations, the
rules file's consistency, and text that is hostile or far too long."""

import time

import pytest
import yaml

from smartcare.knowledge.surveillance import syndromes
from smartcare.knowledge.surveillance.syndromes import SyndromeRulesInvalid, classify


@pytest.mark.parametrize(("text", "expected"), [
    ("Fever and cough for 2 days", {"ili"}),
    ("T 38.5, dry cough", {"ili"}),
    ("fever 101.5F with cough", {"ili"}),
    ("发热咳嗽2天", {"ili"}),
    ("发烧39度，咳嗽", {"ili"}),
    ("不停咳嗽，发烧", {"ili"}),
    ("diarrhoea and vomiting since yesterday", {"diarrhoea"}),
    ("Diarrhea x3 today", {"diarrhoea"}),
    ("拉肚子3次", {"diarrhoea"}),
    ("发热伴皮疹", {"fever-rash"}),
    ("rash and fevers x 3 days", {"fever-rash"}),
    ("低热伴皮疹", {"fever-rash"}),
    ("fever, cough and a rash on the chest", {"ili", "fever-rash"}),
    ("sprained ankle", set()),
    ("", set()),
])
def test_complaints_in_english_and_chinese_read_as_their_syndromes(text, expected):
    assert classify(text).syndromes == expected


@pytest.mark.parametrize(("text", "negated", "present"), [
    ("no fever, cough for 2 days", {"fever", "cough"}, set()),
    ("No fever but cough", {"fever"}, {"cough"}),
    ("fever, no cough", {"cough"}, {"fever"}),
    ("denies fever, cough, diarrhea; has rash", {"fever", "cough", "diarrhoea"}, {"rash"}),
    ("afebrile, coughing", {"fever"}, {"cough"}),
    ("fever (-), cough", {"fever"}, {"cough"}),
    ("无发热，咳嗽", {"fever"}, {"cough"}),
    ("无发热、咳嗽", {"fever", "cough"}, set()),
    ("不发烧，咳嗽三天", {"fever"}, {"cough"}),
    ("否认发热咳嗽", {"fever", "cough"}, set()),
    ("腹泻（-）", {"diarrhoea"}, set()),
    ("未见皮疹，发热", {"rash"}, {"fever"}),
])
def test_negated_findings_do_not_count_and_the_negation_stops_where_the_list_ends(text, negated, present):
    reading = classify(text)
    assert reading.negated == negated and reading.findings == present


@pytest.mark.parametrize("text", ["no appetite and fever, cough", "not feeling well, fever and cough",
                                  "吃不下饭，发烧咳嗽", "不停咳嗽，发烧"])
def test_a_negation_word_about_something_else_does_not_negate_the_symptoms(text):
    assert classify(text).syndromes == {"ili"}


@pytest.mark.parametrize(("text", "syndromes_found"), [
    ("fever 37.6 and cough", set()),
    ("low-grade fever and cough", set()),
    ("体温36.8，咳嗽", set()),
    ("fever, cough for 3 weeks", set()),
    ("发热 体温38.9℃ 咳嗽半个月", set()),
    ("发热十五天咳嗽", set()),
    ("3月5日起发热咳嗽", {"ili"}),
    ("fever and cough for ten days", {"ili"}),
])
def test_ili_needs_38_degrees_when_a_temperature_is_given_and_onset_within_10_days(text, syndromes_found):
    assert classify(text).syndromes == syndromes_found


def test_temperature_and_duration_are_read_from_the_text():
    assert classify("fever 101.5F with cough").temperature == 38.6
    assert classify("体温39.2℃").temperature == 39.2
    assert classify("cough 2 weeks, fever 3 days").days == 14
    assert classify("咳嗽两周").days == 14
    assert classify("fever 10 days").temperature is None


@pytest.mark.parametrize("text", ["<script>alert('fever')</script> cough", "fever\x00\x1b[31m cough",
                                  "FEVER AND COUGH", "ｆｅｖｅｒ　ａｎｄ　ｃｏｕｇｈ"])
def test_markup_control_characters_case_and_full_width_text_are_read_safely(text):
    assert classify(text).syndromes == {"ili"}


def test_long_and_hostile_text_is_read_quickly_and_only_its_first_part():
    rules = syndromes.rules()
    started = time.perf_counter()
    repeated = classify("no fever, " * 200_000)
    digits = classify("9" * 200_000 + " fever and cough")
    nested = classify("(" * 100_000 + "发热" + ")" * 100_000)
    assert time.perf_counter() - started < 1.0
    assert repeated.syndromes == frozenset() and digits.syndromes == frozenset()
    assert nested.findings == frozenset() and rules.max_text == 2000
    assert classify(None).syndromes == frozenset()  # type: ignore[arg-type]


def test_the_rules_file_names_sources_and_every_syndrome_is_met_by_its_own_keywords():
    rules = syndromes.rules()
    assert {s.id for s in rules.syndromes} == {"ili", "diarrhoea", "fever-rash"}
    for syndrome in rules.syndromes:
        assert syndrome.source and syndrome.reading and syndrome.name("zh") != syndrome.name("en")
        example = " and ".join(group[0].replace("_", " ").replace("low fever", "low-grade fever")
                               for group in syndrome.all_of)
        assert syndrome.id in classify(example).syndromes, example
    assert "WHO" in rules.syndrome("ili").source and rules.syndrome("ili").fever_at_least == 38.0


def test_a_rules_file_with_a_bare_no_or_an_unknown_finding_is_refused(tmp_path):
    data = yaml.safe_load(syndromes.DEFAULT_RULES.read_text(encoding="utf-8"))
    data["negation"]["before"]["en"].append(False)
    with pytest.raises(SyndromeRulesInvalid, match="quote no"):
        syndromes.parse(data)
    data = yaml.safe_load(syndromes.DEFAULT_RULES.read_text(encoding="utf-8"))
    data["syndromes"]["ili"]["all_of"] = ["fever", "sneeze"]
    with pytest.raises(SyndromeRulesInvalid, match="sneeze"):
        syndromes.parse(data)
