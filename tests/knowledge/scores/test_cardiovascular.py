"""10-year cardiovascular risk: the Pooled Cohort Equations and Framingham 2008 against their published examples."""

import pytest

from smartcare.knowledge.scores import cardiovascular
from smartcare.knowledge.scores.base import ScoreInputError

PCE, FRAMINGHAM = cardiovascular.CALCULATORS

# Goff et al. 2013, Appendix 7 Table B: 55 years, TC 213 mg/dL, HDL 50 mg/dL, untreated SBP 120, non-smoker, no
# diabetes.
TABLE_B = {"age": 55, "total_cholesterol": 213, "hdl_cholesterol": 50, "systolic_bp": 120,
           "treated_hypertension": False, "smoker": False, "diabetes": False}


@pytest.mark.parametrize(("sex", "race", "individual_sum", "percent", "category"), [
    ("female", "white", -29.67, 2.1, "low"),
    ("female", "african_american", 86.16, 3.0, "low"),
    ("male", "african_american", 18.97, 6.1, "borderline"),
])
def test_pce_reproduces_goff_appendix_7_table_b(sex, race, individual_sum, percent, category):
    result = cardiovascular.pooled_cohort_equations(sex=sex, race=race, **TABLE_B)
    assert result.detail["individual_sum"] == pytest.approx(individual_sum, abs=0.015)
    assert (result.value, result.category) == (percent, category)


def test_pce_white_man_of_table_b_differs_from_the_printed_5_3_only_by_its_rounded_sum():
    result = cardiovascular.pooled_cohort_equations(sex="male", race="white", **TABLE_B)
    # Table B prints the individual sum 60.69 and 5.3%. The full-precision sum is 60.6995, which gives 5.38%, shown
    # as 5.4% (borderline); Table B's 5.3% follows from its sum rounded to 60.69:
    # 1 - 0.9144 ** exp(60.69 - 61.18) = 1 - 0.9144 ** 0.6126 = 0.0533.
    assert result.detail["individual_sum"] == pytest.approx(60.69, abs=0.015)
    assert (result.detail["mean"], result.detail["baseline_survival"]) == (61.18, 0.9144)
    assert (result.value, result.detail["risk_exact"], result.category) == (5.4, 5.38, "borderline")
    printed = cardiovascular.ten_year_risk(individual_sum=60.69, mean=61.18, baseline_survival=0.9144)
    assert round(100 * printed, 1) == 5.3


def test_pce_detail_names_the_equation_used():
    result = cardiovascular.pooled_cohort_equations(sex="female", race="african_american", **TABLE_B)
    assert result.detail["equation"] == "african_american_female"
    assert (result.detail["mean"], result.detail["baseline_survival"]) == (86.61, 0.9533)


def test_pce_race_other_uses_the_white_equation_and_says_why_to_be_careful():
    other = cardiovascular.pooled_cohort_equations(sex="female", race="other", **TABLE_B)
    white = cardiovascular.pooled_cohort_equations(sex="female", race="white", **TABLE_B)
    assert (other.value, other.detail["equation"]) == (white.value, "white_female")
    assert white.warnings == ()
    (note,) = other.warnings
    assert note.code == "race-other"
    assert "white" in note.text and "overestimate" in note.text and "East Asian" in note.text
    assert "白人" in note.text_zh and "高估" in note.text_zh


@pytest.mark.parametrize(("change", "percent", "category"), [
    # Worked by hand from the published equation (Goff Table A, white men): a smoker adds
    # 7.837 - 1.795 * ln 55 = 7.837 - 1.795 * 4.00733 = 0.6438 to the sum 60.6995, so
    # 1 - 0.9144 ** exp(61.3434 - 61.18) = 1 - 0.9144 ** 1.1775 = 10.0%: intermediate.
    ({"smoker": True}, 10.0, "intermediate"),
    # Worked by hand (white men): a treated SBP of 160 replaces 1.764 * ln 120 = 8.4451 with
    # 1.797 * ln 160 = 1.797 * 5.07517 = 9.1201 and diabetes adds 0.658, so the sum is 60.6995 - 8.4451 + 9.1201
    # + 0.658 = 62.0325 and 1 - 0.9144 ** exp(0.8525) = 1 - 0.9144 ** 2.3455 = 18.9%: intermediate.
    ({"systolic_bp": 160, "treated_hypertension": True, "diabetes": True}, 18.9, "intermediate"),
    # Worked by hand (white men, age 70, smoker, diabetic, treated SBP 160, TC 213, HDL 50): the sum is 63.4449, so
    # 1 - 0.9144 ** exp(63.4449 - 61.18) = 1 - 0.9144 ** 9.6302 = 57.8%: high.
    ({"age": 70, "smoker": True, "diabetes": True, "systolic_bp": 160, "treated_hypertension": True}, 57.8, "high"),
])
def test_pce_risk_factors_move_the_white_man_up_the_categories(change, percent, category):
    result = cardiovascular.pooled_cohort_equations(sex="male", race="white", **{**TABLE_B, **change})
    assert (result.value, result.category) == (percent, category)


def test_pce_category_boundaries_follow_the_2018_guidance():
    bands = cardiovascular.equations()["pce_ascvd"]["categories"]
    assert [(b["key"], b.get("below")) for b in bands] == [
        ("low", 5), ("borderline", 7.5), ("intermediate", 20), ("high", None)]
    assert [cardiovascular._category(bands, p) for p in (4.9, 5.0, 7.4, 7.5, 19.9, 20.0)] == [
        "low", "borderline", "borderline", "intermediate", "intermediate", "high"]


def test_pce_refuses_age_39_with_the_range_in_the_message():
    with pytest.raises(ScoreInputError) as refused:
        cardiovascular.pooled_cohort_equations(sex="male", race="white", **{**TABLE_B, "age": 39})
    assert "from 40 to 79" in refused.value.problems["age"]
    with pytest.raises(ScoreInputError) as refused:
        PCE.run({"sex": "male", "race": "white", **TABLE_B, "age": 80})
    assert "80 is outside" in refused.value.problems["age"] and "40 to 79" in refused.value.problems["age"]


@pytest.mark.parametrize(("name", "value", "text"), [
    ("total_cholesterol", 129, "from 130 to 320 mg/dL"),
    ("hdl_cholesterol", 101, "from 20 to 100 mg/dL"),
    ("systolic_bp", 89, "from 90 to 200 mm[Hg]"),
])
def test_pce_refuses_values_outside_its_defined_range(name, value, text):
    with pytest.raises(ScoreInputError) as refused:
        PCE.run({"sex": "female", "race": "white", **TABLE_B, name: value})
    assert text in refused.value.problems[name]


def test_pce_refuses_a_unit_it_does_not_accept():
    with pytest.raises(ScoreInputError) as refused:
        PCE.run({"sex": "female", "race": "white", **TABLE_B, "total_cholesterol": {"value": 2.13, "unit": "g/L"}})
    assert refused.value.problems["total_cholesterol"] == "unit 'g/L' is not accepted (use mg/dL, mmol/L)"


def test_pce_refuses_unknown_race_and_missing_answers():
    with pytest.raises(ScoreInputError) as refused:
        PCE.run({"sex": "female", "race": "asian", **{k: v for k, v in TABLE_B.items() if k != "smoker"}})
    assert refused.value.problems == {"race": "must be one of white, african_american, other", "smoker": "is required"}


def test_cholesterol_in_mmol_per_l_gives_the_same_figure_as_mg_per_dl():
    # A Chinese lab report: TC 5.5 mmol/L = 212.685 mg/dL, HDL 1.3 mmol/L = 50.271 mg/dL.
    mmol = PCE.run({"sex": "male", "race": "other", **TABLE_B, "total_cholesterol": {"value": 5.5, "unit": "mmol/L"},
                    "hdl_cholesterol": {"value": 1.3, "unit": "mmol/L"}})
    mg = PCE.run({"sex": "male", "race": "other", **TABLE_B, "total_cholesterol": 212.685, "hdl_cholesterol": 50.271})
    assert mmol.value == mg.value
    assert mmol.detail["individual_sum"] == pytest.approx(mg.detail["individual_sum"], abs=1e-9)
    assert mmol.inputs["total_cholesterol"] == pytest.approx(212.685)
    framingham = FRAMINGHAM.run({"sex": "female", "age": 61, "total_cholesterol": {"value": 180 / 38.67,
                                 "unit": "mmol/L"}, "hdl_cholesterol": 47, "systolic_bp": 124,
                                 "treated_hypertension": False, "smoker": True, "diabetes": False})
    assert framingham.detail["risk_exact"] == 10.48


def test_framingham_reproduces_the_papers_woman():
    # D'Agostino et al. 2008, worked example in the text; checked from Table 2 (women):
    # 2.32888 ln 61 + 1.20904 ln 180 - 0.70833 ln 47 + 2.76157 ln 124 + 0.52873 = 26.9653,
    # 1 - 0.95012 ** exp(26.9653 - 26.1931) = 1 - 0.95012 ** 2.1646 = 10.48%.
    result = cardiovascular.framingham_general_cvd(age=61, sex="female", total_cholesterol=180, hdl_cholesterol=47,
                                                   systolic_bp=124, treated_hypertension=False, smoker=True,
                                                   diabetes=False)
    assert (result.detail["risk_exact"], result.value, result.category) == (10.48, 10.5, "intermediate")
    assert result.detail["individual_sum"] == pytest.approx(26.9653, abs=1e-4)
    assert result.detail["equation"] == "female"


def test_framingham_reproduces_the_papers_man():
    # D'Agostino et al. 2008, worked example in the text; checked from Table 2 (men):
    # 3.06117 ln 53 + 1.12370 ln 161 - 0.93263 ln 55 + 1.99881 ln 125 (treated) + 0.57367 = 24.3509,
    # 1 - 0.88936 ** exp(24.3509 - 23.9802) = 1 - 0.88936 ** 1.4487 = 15.62%.
    result = FRAMINGHAM.run({"age": 53, "sex": "male", "total_cholesterol": 161, "hdl_cholesterol": 55,
                             "systolic_bp": 125, "treated_hypertension": True, "smoker": False, "diabetes": True})
    assert (result.detail["risk_exact"], result.value, result.category) == (15.62, 15.6, "intermediate")
    assert [n.code for n in result.warnings] == ["framingham-cohort"]


def test_framingham_categories_and_age_range():
    low = cardiovascular.framingham_general_cvd(age=40, sex="female", total_cholesterol=180, hdl_cholesterol=60,
                                                systolic_bp=110, treated_hypertension=False, smoker=False,
                                                diabetes=False)
    high = cardiovascular.framingham_general_cvd(age=70, sex="male", total_cholesterol=260, hdl_cholesterol=35,
                                                 systolic_bp=160, treated_hypertension=True, smoker=True,
                                                 diabetes=True)
    assert (low.category, high.category) == ("low", "high")
    assert low.value < 10 and high.value >= 20
    with pytest.raises(ScoreInputError) as refused:
        FRAMINGHAM.run({"age": 75, "sex": "male", "total_cholesterol": 161, "hdl_cholesterol": 55, "systolic_bp": 125,
                        "treated_hypertension": True, "smoker": False, "diabetes": True})
    assert "from 30 to 74" in refused.value.problems["age"]


def test_catalogue_entries_cite_their_sources():
    assert [c.name for c in cardiovascular.CALCULATORS] == ["pce-ascvd", "framingham-cvd"]
    assert "Goff" in PCE.source and "Appendix 7" in PCE.source
    assert "D'Agostino" in FRAMINGHAM.source and "Table 2" in FRAMINGHAM.source
    described = PCE.describe()
    assert [i["name"] for i in described["inputs"]][:3] == ["age", "sex", "race"]
    assert described["inputs"][3]["units"] == ["mg/dL", "mmol/L"]
    assert [c["key"] for c in described["categories"]] == ["low", "borderline", "intermediate", "high"]
