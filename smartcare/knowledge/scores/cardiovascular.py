"""10-year cardiovascular risk: the ACC/AHA Pooled Cohort Equations and the Framingham general CVD risk profile."""

import math
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from smartcare.knowledge.scores.base import Calculator, Field, Note, Result, validate

DATA = Path(__file__).parent / "data" / "cardiovascular.yaml"
RISK_UNIT = "%"
CHOLESTEROL_MMOL_TO_MG = 38.67  # mg/dL per mmol/L of cholesterol

# Every term an equation in the data may weight; a name outside this set is a typo that would silently drop a term.
TERMS = frozenset({
    "ln_age", "ln_age_squared", "ln_total_cholesterol", "ln_age_x_ln_total_cholesterol", "ln_hdl", "ln_age_x_ln_hdl",
    "ln_treated_sbp", "ln_age_x_ln_treated_sbp", "ln_untreated_sbp", "ln_age_x_ln_untreated_sbp", "smoker",
    "ln_age_x_smoker", "diabetes"})


@cache
def equations() -> dict[str, Any]:
    """The coefficients, cohort means, baseline survivals and risk bands of both calculators as data."""
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    for model in data.values():
        for name, equation in model["equations"].items():
            if unknown := set(equation["coefficients"]) - TERMS:
                raise ValueError(f"{DATA.name}: equation {name} weights unknown terms {sorted(unknown)}")
    return data


def ten_year_risk(*, individual_sum: float, mean: float, baseline_survival: float) -> float:
    """The 10-year risk (a fraction) of a Cox model from the person's sum, the cohort mean and baseline survival."""
    return 1 - baseline_survival ** math.exp(individual_sum - mean)


def _terms(*, age: float, total_cholesterol: float, hdl_cholesterol: float, systolic_bp: float,
           treated_hypertension: bool, smoker: bool, diabetes: bool) -> dict[str, float]:
    ln_age, ln_tc, ln_hdl, ln_sbp = (math.log(v) for v in (age, total_cholesterol, hdl_cholesterol, systolic_bp))
    # Only the systolic terms that match the treatment status enter; the others are zero.
    treated, untreated = (ln_sbp, 0.0) if treated_hypertension else (0.0, ln_sbp)
    return {"ln_age": ln_age, "ln_age_squared": ln_age ** 2, "ln_total_cholesterol": ln_tc,
            "ln_age_x_ln_total_cholesterol": ln_age * ln_tc, "ln_hdl": ln_hdl, "ln_age_x_ln_hdl": ln_age * ln_hdl,
            "ln_treated_sbp": treated, "ln_age_x_ln_treated_sbp": ln_age * treated, "ln_untreated_sbp": untreated,
            "ln_age_x_ln_untreated_sbp": ln_age * untreated, "smoker": float(smoker),
            "ln_age_x_smoker": ln_age * smoker, "diabetes": float(diabetes)}


def _category(bands: list[dict[str, Any]], percent: float) -> str:
    return next(band["key"] for band in bands if "below" not in band or percent < band["below"])


def _result(*, model: str, equation_name: str, terms: Mapping[str, float], inputs: Mapping[str, Any],
            warnings: tuple[Note, ...]) -> Result:
    data = equations()[model]
    equation = data["equations"][equation_name]
    individual_sum = sum(weight * terms[name] for name, weight in equation["coefficients"].items())
    percent = 100 * ten_year_risk(individual_sum=individual_sum, mean=equation["mean"],
                                  baseline_survival=equation["baseline_survival"])
    shown = round(percent, 1)
    # The category follows the figure shown, so that 7.46% displayed as 7.5% is not labelled borderline.
    return Result(value=shown, unit=RISK_UNIT, category=_category(data["categories"], shown), inputs=inputs,
                  source=data["source"].strip(), warnings=warnings,
                  detail={"equation": equation_name, "individual_sum": round(individual_sum, 4),
                          "mean": equation["mean"], "baseline_survival": equation["baseline_survival"],
                          "risk_exact": round(percent, 2)})


def _categories(model: str) -> dict[str, tuple[str, str]]:
    return {band["key"]: (band["label"], band["label_zh"]) for band in equations()[model]["categories"]}


def _cholesterol_fields(*, tc_range: tuple[float, float], hdl_range: tuple[float, float], why: str) -> tuple[Field, ...]:
    convert = {"mmol/L": CHOLESTEROL_MMOL_TO_MG}
    return (
        Field("total_cholesterol", "Total cholesterol", "总胆固醇", unit="mg/dL", units=convert, minimum=tc_range[0],
              maximum=tc_range[1], help=f"{why}; 1 mmol/L = 38.67 mg/dL"),
        Field("hdl_cholesterol", "HDL cholesterol", "高密度脂蛋白胆固醇", unit="mg/dL", units=convert,
              minimum=hdl_range[0], maximum=hdl_range[1], help=f"{why}; 1 mmol/L = 38.67 mg/dL"),
    )


def _history_fields(*, why_sbp: str) -> tuple[Field, ...]:
    return (
        Field("systolic_bp", "Systolic blood pressure", "收缩压", unit="mm[Hg]", minimum=90, maximum=200, help=why_sbp),
        Field("treated_hypertension", "Taking medicines for high blood pressure", "正在服用降压药", kind="boolean",
              help="Whether the systolic pressure is measured on treatment"),
        Field("smoker", "Current smoker", "目前吸烟", kind="boolean"),
        Field("diabetes", "Diabetes", "糖尿病", kind="boolean"),
    )


PCE_RANGES = "The range the Pooled Cohort Equations are defined for"
PCE_FIELDS = (
    Field("age", "Age", "年龄", unit="a", minimum=40, maximum=79, help="The equations are defined for ages 40 to 79"),
    Field("sex", "Sex", "性别", kind="choice", choices=("female", "male")),
    Field("race", "Race", "种族", kind="choice", choices=("white", "african_american", "other"),
          help="Equations exist for white and African American people; others use the white equations"),
    *_cholesterol_fields(tc_range=(130, 320), hdl_range=(20, 100), why=PCE_RANGES),
    *_history_fields(why_sbp=PCE_RANGES),
)

RACE_OTHER = Note(
    "race-other", "There is no Pooled Cohort Equation for this race or ethnicity, so the equation for white people was "
    "used; it may overestimate risk (for example in East Asian people, including Chinese) or underestimate it (for "
    "example in South Asian people).",
    "该种族/族裔没有专用的汇集队列方程，已采用白人方程；可能高估风险（如东亚人群，包括中国人）或低估风险（如南亚人群）。")


def pooled_cohort_equations(*, age: float, sex: str, race: str, total_cholesterol: float, hdl_cholesterol: float,
                            systolic_bp: float, treated_hypertension: bool, smoker: bool, diabetes: bool) -> Result:
    """The 10-year risk (per cent) of a first hard ASCVD event by the 2013 ACC/AHA Pooled Cohort Equations."""
    inputs = validate(PCE_FIELDS, {
        "age": age, "sex": sex, "race": race, "total_cholesterol": total_cholesterol,
        "hdl_cholesterol": hdl_cholesterol, "systolic_bp": systolic_bp, "treated_hypertension": treated_hypertension,
        "smoker": smoker, "diabetes": diabetes})
    group = "african_american" if race == "african_american" else "white"
    terms = _terms(age=age, total_cholesterol=total_cholesterol, hdl_cholesterol=hdl_cholesterol,
                   systolic_bp=systolic_bp, treated_hypertension=treated_hypertension, smoker=smoker,
                   diabetes=diabetes)
    return _result(model="pce_ascvd", equation_name=f"{group}_{sex}", terms=terms, inputs=inputs,
                   warnings=(RACE_OTHER,) if race == "other" else ())


FRAMINGHAM_RANGES = ("The 2008 paper states no limits; the Pooled Cohort Equations' limits are used so that "
                     "extreme values are not extrapolated")
FRAMINGHAM_FIELDS = (
    Field("age", "Age", "年龄", unit="a", minimum=30, maximum=74,
          help="The profile was derived on people aged 30 to 74"),
    Field("sex", "Sex", "性别", kind="choice", choices=("female", "male")),
    *_cholesterol_fields(tc_range=(130, 320), hdl_range=(20, 100), why=FRAMINGHAM_RANGES),
    *_history_fields(why_sbp=FRAMINGHAM_RANGES),
)

FRAMINGHAM_COHORT = Note(
    "framingham-cohort", "Derived in a mostly white US cohort (Framingham, Massachusetts); it may overestimate or "
    "underestimate risk in other populations, including Chinese people, unless recalibrated.",
    "该模型来自以白人为主的美国弗雷明汉队列；未经重新校准时，可能高估或低估其他人群（包括中国人）的风险。")


def framingham_general_cvd(*, age: float, sex: str, total_cholesterol: float, hdl_cholesterol: float,
                           systolic_bp: float, treated_hypertension: bool, smoker: bool, diabetes: bool) -> Result:
    """The 10-year risk (per cent) of any cardiovascular disease by the Framingham 2008 general profile (lipids)."""
    inputs = validate(FRAMINGHAM_FIELDS, {
        "age": age, "sex": sex, "total_cholesterol": total_cholesterol, "hdl_cholesterol": hdl_cholesterol,
        "systolic_bp": systolic_bp, "treated_hypertension": treated_hypertension, "smoker": smoker,
        "diabetes": diabetes})
    terms = _terms(age=age, total_cholesterol=total_cholesterol, hdl_cholesterol=hdl_cholesterol,
                   systolic_bp=systolic_bp, treated_hypertension=treated_hypertension, smoker=smoker,
                   diabetes=diabetes)
    return _result(model="framingham_cvd", equation_name=sex, terms=terms, inputs=inputs,
                   warnings=(FRAMINGHAM_COHORT,))


CALCULATORS = (
    Calculator(name="pce-ascvd", title="10-year ASCVD risk (ACC/AHA Pooled Cohort Equations)",
               title_zh="10年动脉粥样硬化性心血管病风险（ACC/AHA汇集队列方程）",
               summary="The 10-year risk of a first hard atherosclerotic cardiovascular event (coronary death, "
                       "non-fatal myocardial infarction, fatal or non-fatal stroke), by sex- and race-specific "
                       "equations, with the 2018/2019 ACC/AHA risk category.",
               fields=PCE_FIELDS, unit=RISK_UNIT, categories=_categories("pce_ascvd"),
               source=equations()["pce_ascvd"]["source"].strip(),
               applies_to="Adults 40 to 79 without clinical ASCVD and with LDL cholesterol below 190 mg/dL "
                          "(primary prevention).",
               function=pooled_cohort_equations),
    Calculator(name="framingham-cvd", title="10-year cardiovascular risk (Framingham 2008, lipid model)",
               title_zh="10年心血管病风险（弗雷明汉2008，血脂模型）",
               summary="The 10-year risk of any cardiovascular disease (coronary, cerebrovascular, peripheral "
                       "arterial disease or heart failure) from age, sex, cholesterol, blood pressure, smoking and "
                       "diabetes.",
               fields=FRAMINGHAM_FIELDS, unit=RISK_UNIT, categories=_categories("framingham_cvd"),
               source=equations()["framingham_cvd"]["source"].strip(),
               applies_to="Adults 30 to 74 without cardiovascular disease (primary prevention).",
               function=framingham_general_cvd),
)
