"""Hypertension and type 2 diabetes follow-up: registries, every classification threshold, scheduling and indicators."""

from datetime import date

import pytest

from smartcare.knowledge.chronic import followup

SPEC = "国家基本公共卫生服务规范（第三版）"


def _htn(systolic: int, diastolic: int, *, age: int = 50, **extra) -> followup.Classification:
    return followup.classify_visit(registry="hypertension", age=age, systolic=systolic, diastolic=diastolic, **extra)


def _dm(glucose: float, *, systolic: int = 120, diastolic: int = 70, **extra) -> followup.Classification:
    return followup.classify_visit(registry="diabetes", age=50, systolic=systolic, diastolic=diastolic,
                                   fasting_glucose=glucose, **extra)


# Registries.

@pytest.mark.parametrize(("conditions", "medicines", "registered", "to_confirm"), [
    (["I10"], [], {"hypertension"}, set()),
    (["I10.x00x002"], [], {"hypertension"}, set()),  # Chinese national clinical edition extension
    (["I13.0"], [], {"hypertension"}, set()),
    (["I15.0"], [], set(), {"hypertension"}),  # secondary hypertension: outside the spec's population
    (["E11.900"], [], {"diabetes"}, set()),
    (["E10.9"], [], set(), set()),  # type 1 diabetes is not this registry
    (["E14.9"], [], set(), {"diabetes"}),  # diabetes of unstated type
    (["I10", "E11"], [], {"hypertension", "diabetes"}, set()),
    ([], ["C08CA01"], {"hypertension"}, set()),  # amlodipine
    ([], ["C09AA02"], {"hypertension"}, set()),  # enalapril
    ([], ["C03AA03"], set(), {"hypertension"}),  # hydrochlorothiazide alone is not proof
    ([], ["C03CA01"], set(), {"hypertension"}),  # furosemide alone is not proof
    ([], ["C07AB02"], set(), {"hypertension"}),  # metoprolol alone: angina, arrhythmia...
    ([], ["C08CA06"], set(), {"hypertension"}),  # nimodipine: subarachnoid haemorrhage
    ([], ["C03AA03", "C09CA01"], {"hypertension"}, set()),  # thiazide with losartan
    (["O13"], ["C08CA05"], set(), {"hypertension"}),  # nifedipine for gestational hypertension
    ([], ["A10BA02"], {"diabetes"}, set()),  # metformin
    ([], ["A10AB05"], set(), {"diabetes"}),  # insulin alone: could be type 1
    ([], ["A10BK01"], set(), {"diabetes"}),  # dapagliflozin: also heart failure, kidney disease
    (["E10"], ["A10BA02"], set(), {"diabetes"}),  # type 1 coded: metformin does not make it type 2
    (["J45"], ["N02BE01"], set(), set()),  # asthma, paracetamol
])
def test_registries(conditions, medicines, registered, to_confirm):
    match = followup.registries(conditions=conditions, medicines=medicines)
    assert match.registries == registered
    assert match.to_confirm == to_confirm


def test_registry_by_medicine_asks_to_confirm_the_diagnosis_and_cites_atc():
    match = followup.registries(conditions=[], medicines=["C08CA01"])
    assert "confirm the diagnosis" in match.reasons[0].text_en
    assert "ATC/DDD" in match.reasons[0].source
    assert "I10.x00x002" in followup.registries(conditions=["I10.x00x002"], medicines=[]).reasons[0].text_en


# Hypertension: the 140/90 line under 65, 150/90 at 65 and over, 180/110 emergency.

@pytest.mark.parametrize(("age", "systolic", "diastolic", "key"), [
    (50, 139, 89, "controlled"),
    (50, 140, 89, "uncontrolled"),
    (50, 139, 90, "uncontrolled"),
    (50, 140, 90, "uncontrolled"),
    (64, 145, 80, "uncontrolled"),
    (65, 145, 80, "controlled"),  # 65 and over: under 150/90
    (65, 149, 89, "controlled"),
    (65, 150, 89, "uncontrolled"),
    (65, 149, 90, "uncontrolled"),
    (80, 179, 109, "uncontrolled"),
    (50, 180, 80, "urgent_referral"),
    (50, 130, 110, "urgent_referral"),
    (50, 179, 109, "uncontrolled"),
])
def test_hypertension_thresholds(age, systolic, diastolic, key):
    assert _htn(systolic, diastolic, age=age).key == key


def test_hypertension_next_contact_and_actions_by_class():
    controlled = _htn(128, 78)
    assert (controlled.next_due_in_days, controlled.at_target) == (90, True)
    assert "book_next_visit" in controlled.actions
    first = _htn(150, 92)
    assert (first.key, first.next_due_in_days) == ("uncontrolled", 14)
    assert "adjust_medicines" in first.actions
    urgent = _htn(185, 100)
    assert (urgent.next_due_in_days, urgent.at_target) == (14, None)
    assert urgent.actions[:2] == ("treat_then_refer_urgently", "follow_up_referral")


def test_reasons_name_the_threshold_in_both_languages_and_cite_the_spec():
    reason = _htn(140, 85).reasons[0]
    assert "140/90" in reason.text_en and "140/90" in reason.text_zh
    assert SPEC in reason.source and "高血压患者健康管理服务规范" in reason.source
    older = _htn(145, 85, age=70).reasons[0]
    assert "150/90" in older.text_en and "65岁及以上" in older.text_zh
    urgent = _htn(182, 95).reasons[0]
    assert urgent.rule == "emergency:systolic" and "180" in urgent.text_en and "收缩压182" in urgent.text_zh


def test_two_consecutive_uncontrolled_visits_are_a_referral():
    second = _htn(150, 95, previous_classification="uncontrolled")
    assert (second.key, second.next_due_in_days) == ("referral", 14)
    assert "refer" in second.actions and "follow_up_referral" in second.actions
    assert any(reason.rule == "consecutive" for reason in second.reasons)
    # Still uncontrolled after a referral: referred again.
    assert _htn(150, 95, previous_classification="referral").key == "referral"
    # Uncontrolled after a controlled visit, or after an urgent referral for a symptom: first time.
    assert _htn(150, 95, previous_classification="controlled").key == "uncontrolled"
    assert _htn(150, 95, previous_classification="urgent_referral").key == "uncontrolled"
    # Controlled after an uncontrolled visit: controlled.
    assert _htn(130, 80, previous_classification="uncontrolled").key == "controlled"


def test_adverse_reaction_and_complications():
    reaction = _htn(130, 80, adverse_reaction=True)
    assert (reaction.key, reaction.at_target) == ("uncontrolled", True)
    assert _htn(130, 80, adverse_reaction_unmanageable=True).key == "referral"
    assert _htn(130, 80, new_complication=True).key == "referral"
    # An emergency sign comes before everything else.
    assert _htn(190, 80, new_complication=True).key == "urgent_referral"


@pytest.mark.parametrize("symptom", [
    "altered_consciousness", "severe_headache_or_dizziness", "nausea_or_vomiting", "blurred_vision_or_eye_pain",
    "palpitations", "chest_tightness", "breathless_cannot_lie_flat", "pregnant_or_breastfeeding_raised_bp",
    "unmanageable_other_condition"])
def test_hypertension_danger_symptoms_are_urgent_even_at_target(symptom):
    result = _htn(128, 78, symptoms=[symptom])
    assert result.key == "urgent_referral"
    assert result.reasons[0].rule == f"emergency:{symptom}"


def test_diabetes_only_signs_do_not_make_a_hypertension_visit_urgent():
    assert _htn(128, 78, symptoms=["acetone_breath"], heart_rate=110, temperature=39.5).key == "controlled"


def test_unknown_symptom_code_is_refused():
    with pytest.raises(ValueError, match="unknown symptom"):
        _htn(128, 78, symptoms=["headache"])


# Type 2 diabetes: 7.0 control line, 16.7 and 3.9 emergency lines, BP 180/110.

@pytest.mark.parametrize(("glucose", "key"), [
    (6.9, "controlled"),
    (7.0, "uncontrolled"),
    (16.6, "uncontrolled"),
    (16.7, "urgent_referral"),
    (4.0, "controlled"),
    (3.9, "urgent_referral"),
    (2.8, "urgent_referral"),
])
def test_diabetes_glucose_thresholds(glucose, key):
    assert _dm(glucose).key == key


def test_diabetes_blood_pressure_emergency_and_bp_not_part_of_control():
    assert _dm(6.0, systolic=180, diastolic=90).key == "urgent_referral"
    assert _dm(6.0, systolic=150, diastolic=110).key == "urgent_referral"
    # The diabetes classification is on fasting glucose alone; a raised BP below 180/110 does not change it.
    assert _dm(6.0, systolic=160, diastolic=95).key == "controlled"


def test_diabetes_heart_rate_temperature_and_symptoms():
    assert _dm(6.0, heart_rate=100).key == "controlled"
    assert _dm(6.0, heart_rate=101).key == "urgent_referral"
    assert _dm(6.0, temperature=39.0).key == "controlled"
    assert _dm(6.0, temperature=39.1).key == "urgent_referral"
    assert _dm(6.0, symptoms=["acetone_breath"]).key == "urgent_referral"
    # Hypertension-only danger signs do not fire for the diabetes registry.
    assert _dm(6.0, symptoms=["chest_tightness"]).key == "controlled"


def test_diabetes_consecutive_and_reasons():
    assert _dm(8.2, previous_classification="uncontrolled").key == "referral"
    reason = _dm(7.0).reasons[0]
    assert "7.0" in reason.text_en and "空腹血糖7.0" in reason.text_zh
    assert "2型糖尿病患者健康管理服务规范" in reason.source
    low = _dm(3.9).reasons[0]
    assert low.rule == "emergency:glucose_low" and "3.9" in low.text_en


def test_diabetes_visit_needs_fasting_glucose():
    with pytest.raises(ValueError, match="fasting glucose"):
        followup.classify_visit(registry="diabetes", age=60, systolic=130, diastolic=80)


# Scheduling. Rules: next due = last visit + its interval (registration + 14 days with no visit); "due" from 14 days
# before the next due date through that date; "overdue" from the day after.

@pytest.mark.parametrize(("today", "status"), [
    (date(2025, 3, 26), "not_due"),  # next due 10 Apr (10 Jan + 90 days); due window opens 27 Mar
    (date(2025, 3, 27), "due"),
    (date(2025, 4, 10), "due"),
    (date(2025, 4, 11), "overdue"),
])
def test_due_status_after_a_controlled_visit(today, status):
    state = followup.due_state(registered_on=date(2024, 6, 1), visits=[(date(2025, 1, 10), "controlled")],
                               today=today)
    assert state.next_due == date(2025, 4, 10)
    assert state.status == status


def test_due_after_uncontrolled_is_two_weeks_and_latest_visit_counts():
    visits = [(date(2025, 5, 20), "uncontrolled"), (date(2025, 2, 1), "controlled")]
    state = followup.due_state(registered_on=date(2024, 6, 1), visits=visits, today=date(2025, 6, 4))
    assert (state.next_due, state.status, state.last_classification) == (date(2025, 6, 3), "overdue", "uncontrolled")
    assert state.visits_this_year == 2


def test_first_visit_due_two_weeks_after_registration():
    state = followup.due_state(registered_on=date(2025, 3, 1), visits=[], today=date(2025, 3, 10))
    assert (state.next_due, state.status, state.last_visit) == (date(2025, 3, 15), "due", None)


def test_whether_four_visits_can_still_be_met():
    # 1 visit this year, 3 needed. From 30 Nov (14 days after the 16 Nov visit): 30 Nov, 14 Dec, 28 Dec fit.
    visits = [(date(2025, 11, 16), "uncontrolled")]
    assert followup.due_state(registered_on=date(2025, 1, 1), visits=visits, today=date(2025, 11, 20)).can_meet_minimum
    # From 2 Dec: 2 Dec, 16 Dec, 30 Dec fit; from 4 Dec only 4 Dec and 18 Dec.
    late = [(date(2025, 11, 18), "uncontrolled")]
    assert followup.due_state(registered_on=date(2025, 1, 1), visits=late, today=date(2025, 11, 20)).can_meet_minimum
    later = [(date(2025, 11, 20), "uncontrolled")]
    state = followup.due_state(registered_on=date(2025, 1, 1), visits=later, today=date(2025, 11, 20))
    assert (state.visits_needed, state.can_meet_minimum) == (3, False)
    # Last year's visits do not count towards this year's four.
    old = [(date(2024, 12, 20), "controlled")]
    state = followup.due_state(registered_on=date(2024, 1, 1), visits=old, today=date(2025, 1, 5))
    assert (state.visits_this_year, state.visits_needed, state.can_meet_minimum) == (0, 4, True)


def test_four_visits_met():
    visits = [(date(2025, m, 5), "controlled") for m in (1, 4, 7, 10)]
    state = followup.due_state(registered_on=date(2024, 1, 1), visits=visits, today=date(2025, 12, 31))
    assert (state.visits_this_year, state.visits_needed, state.can_meet_minimum) == (4, 0, True)


def test_future_visit_or_unknown_class_is_refused():
    with pytest.raises(ValueError, match="after today"):
        followup.due_state(registered_on=date(2025, 1, 1), visits=[(date(2025, 2, 2), "controlled")],
                           today=date(2025, 2, 1))
    with pytest.raises(ValueError, match="visit class"):
        followup.due_state(registered_on=date(2025, 1, 1), visits=[(date(2025, 1, 2), "fine")],
                           today=date(2025, 2, 1))


@pytest.mark.parametrize(("birth", "last", "today", "registry", "due"), [
    (date(1960, 3, 1), None, date(2025, 3, 1), False, True),  # 65 today
    (date(1960, 3, 2), None, date(2025, 3, 1), False, False),  # 64 until tomorrow
    (date(1950, 6, 1), date(2025, 1, 3), date(2025, 11, 1), False, False),  # done this calendar year
    (date(1950, 6, 1), date(2024, 12, 30), date(2025, 1, 2), False, True),  # last year's check: due again
    (date(1980, 6, 1), None, date(2025, 6, 1), True, True),  # 45 but on a registry
    (date(1960, 2, 29), None, date(2025, 2, 28), False, False),  # leap-day birthday: 65 on 1 March
])
def test_annual_check(birth, last, today, registry, due):
    check = followup.annual_check_due(birth_date=birth, last_check=last, today=today, on_registry=registry)
    assert check.due is due


# Indicators on a hand-made population of 5 registered hypertensive patients, estimated prevalent 20.

def test_indicators():
    patients = [
        {"registry": "hypertension", "visits_in_year": 4, "last_classification": "controlled"},
        {"registry": "hypertension", "visits_in_year": 5, "last_classification": "uncontrolled"},
        {"registry": "hypertension", "visits_in_year": 3, "last_classification": "controlled"},
        {"registry": "hypertension", "visits_in_year": 4, "last_classification": "referral"},
        # Classified uncontrolled for an adverse reaction alone: its reading was at target.
        {"registry": "hypertension", "visits_in_year": 0, "last_classification": "uncontrolled",
         "last_at_target": True},
    ]
    result = followup.indicators(patients=patients, estimated_prevalent=20)
    # management 5/20 = 0.25; standardised: 4, 5, 4 visits -> 3/5 = 0.6; control: patients 1, 3, 5 -> 3/5 = 0.6
    assert (result.registered, result.managed_to_standard, result.controlled) == (5, 3, 3)
    assert result.management_rate == pytest.approx(0.25)
    assert result.standardised_management_rate == pytest.approx(0.6)
    assert result.control_rate == pytest.approx(0.6)
    assert followup.indicators(patients=patients, estimated_prevalent=None).management_rate is None


def test_indicators_empty_and_mixed():
    empty = followup.indicators(patients=[], estimated_prevalent=10)
    assert (empty.management_rate, empty.standardised_management_rate, empty.control_rate) == (0.0, None, None)
    with pytest.raises(ValueError, match="per registry"):
        followup.indicators(patients=[{"registry": "hypertension", "visits_in_year": 4, "last_classification": None},
                                      {"registry": "diabetes", "visits_in_year": 4, "last_classification": None}],
                            estimated_prevalent=None)


def test_data_carries_its_sources():
    data = followup.rules()
    assert SPEC in data["source"] and "2017" in data["source"]
    assert "ICD-10" in data["registries"]["icd10_source"] and "ATC" in data["registries"]["atc_source"]
    assert "2018" in data["classification"]["control"]["guideline_source"]
    for indicator in data["indicators"].values():
        assert indicator["source"]
