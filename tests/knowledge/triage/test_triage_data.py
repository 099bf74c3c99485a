"""The triage data loads and is consistent: keys, levels, sources, first-aid and department keys, questions."""

from smartcare.knowledge.triage import (
    LEVELS,
    Presentation,
    assess,
    check_answers,
    engine,
    list_rules,
    questions,
    rules,
    text,
)

FIRST_AID = {"cpr-adult", "cpr-child", "cpr-infant", "choking", "severe-bleeding", "burns", "stroke", "heart-attack",
             "anaphylaxis", "seizure", "fracture", "heat-stroke", "hypoglycaemia", "poisoning", "drowning",
             "electric-shock", "snake-bite"}
DEPARTMENTS = {"internal-medicine", "cardiology", "endocrinology", "respiratory", "nephrology", "paediatrics",
               "obstetrics-gynaecology", "general-surgery", "orthopaedics", "emergency", "radiology", "laboratory",
               "general-practice", "public-health", "pharmacy", "gastroenterology", "neurology", "urology", "ent",
               "ophthalmology", "dermatology", "stomatology", "tcm", "rehabilitation"}


def known_facts() -> set[str]:
    return set(text.lexicon().symptoms) | rules.FACTS


def test_every_rule_refers_only_to_known_facts_and_cites_esi_or_mts_and_more():
    for rule in rules.load_rules():
        assert rules.fact_names(rule.when) <= known_facts(), rule.id
        assert rule.level in LEVELS and rule.condition_en and rule.condition_zh and rule.reason_zh
        assert any("ESI" in s or "Severity Index" in s or "Manchester" in s for s in rule.source), rule.id
        assert len(rule.source) >= 2 or "MTS" in rule.source[0], rule.id


def test_first_aid_and_department_keys_are_the_shared_ones():
    for rule in rules.load_rules():
        keys = set(rule.first_aid) | {k for v in rule.first_aid_by_age.values() for k in v}
        assert keys <= FIRST_AID, rule.id
    for symptom in text.lexicon().symptoms.values():
        assert set(symptom.departments) <= DEPARTMENTS, symptom.key
    assert set(engine.departments()) == DEPARTMENTS


def test_every_emergency_symptom_is_caught_by_a_red_flag_rule():
    for symptom in text.lexicon().symptoms.values():
        if symptom.level == "emergency":
            result = assess(Presentation(text=symptom.en[0]))
            assert result.red_flags, symptom.key


def test_conditions_and_questions_use_known_facts():
    for c in engine._conditions():
        assert set(c["requires"]) | set(c["features"]) <= known_facts(), c["key"]
        assert c["icd10"] and c["name_zh"]
    for q in questions():
        assert (q.symptom in text.lexicon().symptoms) or (q.fact in rules.FACTS), q.id
        assert rules.fact_names(q.ask_when) <= known_facts(), q.id
        assert q.text_zh and q.kind in {"yes_no", "scale", "choice", "number"}


def test_answers_are_normalised_by_kind():
    assert check_answers({"sweating": "是", "severity": "7", "temperature": 38.5, "onset": "sudden"}) == {
        "sweating": True, "severity": 7, "temperature": 38.5, "onset": "sudden"}


def test_the_rules_page_lists_every_rule_with_its_condition_in_both_languages_and_sources():
    listed = list_rules()
    assert len(listed) == len(rules.load_rules()) and listed[0]["red_flag"]
    infant = next(r for r in listed if r["id"] == "rf-infant-fever")
    assert "3 months" in infant["condition_en"] and "3个月" in infant["condition_zh"]
    assert any("NG143" in s for s in infant["source"])


def test_covers_and_body_sites_refer_to_known_symptoms():
    lex = text.lexicon()
    for symptom in lex.symptoms.values():
        assert set(symptom.covers) <= set(lex.symptoms), symptom.key
        assert symptom.name_zh and (symptom.en or symptom.zh), symptom.key
    assert lex.sites and all(site.key in lex.symptoms and site.kind in lex.site_words for site in lex.sites)


def test_new_facts_of_the_rules_are_documented_in_both_languages():
    for name in ("heart_rate", "resp_rate", "spo2", "systolic_bp", "diastolic_bp", "gcs", "gestation_weeks"):
        assert name in rules.FACTS and name in engine._FACT_NAMES
    result = assess(Presentation(text="BP 165/112, HR 118, SpO2 93%, headache"))
    values = {f.key: f.value for f in result.findings}
    assert values["systolic_bp"] == 165 and values["heart_rate"] == 118 and values["spo2"] == 93
