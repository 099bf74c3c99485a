"""Body weight and blood pressure categories for Chinese adults: BMI and waist (WS/T 428-2013), BP grade (2018)."""

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from smartcare.knowledge.scores.base import Calculator, Field, Note, Result, ScoreInputError, validate

DATA = Path(__file__).parent / "data" / "body.yaml"


@cache
def criteria() -> dict[str, Any]:
    """The weight and blood-pressure categories as data."""
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))


def bmi_category(bmi: float) -> str:
    """The WS/T 428-2013 category of a BMI in kg/m2 (underweight, normal, overweight, obese)."""
    return next(b["key"] for b in criteria()["weight"]["bmi"] if "below" not in b or bmi < b["below"])


def waist_category(waist_cm: float, sex: str) -> str:
    """The WS/T 428-2013 waist category: normal, pre_central_obesity or central_obesity."""
    limits = criteria()["weight"]["waist"][sex]
    if waist_cm >= limits["central"]:
        return "central_obesity"
    return "pre_central_obesity" if waist_cm >= limits["pre"] else "normal"


WEIGHT_FIELDS = (
    Field("height", "Height", "身高", unit="cm", units={"m": 100}, minimum=100, maximum=250),
    Field("weight", "Weight", "体重", unit="kg", minimum=20, maximum=300),
    Field("age", "Age", "年龄", unit="a", minimum=18, maximum=120, help="The criteria are for adults (18 and over)"),
    Field("sex", "Sex", "性别", kind="choice", choices=("female", "male"), required=False,
          help="Needed only to categorise the waist"),
    Field("waist", "Waist circumference", "腰围", unit="cm", minimum=40, maximum=200, required=False,
          help="Measured midway between the lowest rib and the iliac crest, at the end of a normal breath out"),
)

WAIST_LABELS = {"normal": ("Normal waist", "腰围正常"),
                "pre_central_obesity": ("Pre-central obesity", "中心型肥胖前期"),
                "central_obesity": ("Central obesity", "中心型肥胖")}


def bmi_chinese_adult(*, height: float, weight: float, age: float, sex: str | None = None,
                      waist: float | None = None) -> Result:
    """BMI (kg/m2, one decimal) and its category for a Chinese adult, with the waist category when given."""
    inputs = validate(WEIGHT_FIELDS, {"height": height, "weight": weight, "age": age, "sex": sex, "waist": waist})
    bmi = round(weight / (height / 100) ** 2, 1)
    detail: dict[str, Any] = {}
    warnings: list[Note] = []
    if waist is not None and sex is None:
        warnings.append(Note("waist-needs-sex", "The waist was not categorised: the limits differ by sex.",
                             "腰围未分类：男女切点不同，请提供性别。"))
    elif waist is not None and sex is not None:
        detail["waist_category"] = waist_category(waist, sex)
    return Result(value=bmi, unit="kg/m2", category=bmi_category(bmi), inputs=inputs,
                  source=criteria()["weight"]["source"].strip(), warnings=tuple(warnings), detail=detail)


BP_FIELDS = (
    Field("systolic_bp", "Systolic blood pressure", "收缩压", kind="integer", unit="mm[Hg]", minimum=50, maximum=300),
    Field("diastolic_bp", "Diastolic blood pressure", "舒张压", kind="integer", unit="mm[Hg]", minimum=20, maximum=200),
    Field("on_treatment", "Taking blood-pressure medicines", "正在服用降压药", kind="boolean", required=False,
          default=False),
)


def bp_grade_china(*, systolic_bp: int, diastolic_bp: int, on_treatment: bool = False) -> Result:
    """The 2018 Chinese guideline category of one office blood pressure (the higher of systolic and diastolic)."""
    inputs = validate(BP_FIELDS, {"systolic_bp": systolic_bp, "diastolic_bp": diastolic_bp, "on_treatment": on_treatment})
    systolic, diastolic = systolic_bp, diastolic_bp
    if diastolic >= systolic:
        raise ScoreInputError({"diastolic_bp": "must be lower than the systolic pressure"})
    data = criteria()["blood_pressure"]
    row = next(c for c in data["categories"] if systolic >= c["systolic"] or diastolic >= c["diastolic"])
    isolated = systolic >= 140 and diastolic < 90
    warnings = [Note("one-reading", "Hypertension is diagnosed from raised office readings on three different days "
                     "(or ambulatory or home monitoring), not from one reading.",
                     "高血压诊断需非同日三次诊室血压升高（或动态/家庭血压监测），不能凭单次读数。")]
    if on_treatment and row["grade"] == 0:
        warnings.append(Note("controlled-on-treatment", "On blood-pressure medicines a reading below 140/90 mmHg "
                             "is still hypertension, controlled.", "服用降压药者血压低于140/90 mmHg仍诊断为高血压（已控制）。"))
    return Result(value=row["grade"], unit="{grade}", category=row["key"], inputs=inputs,
                  source=data["source"].strip(), warnings=tuple(warnings),
                  detail={"isolated_systolic_hypertension": isolated,
                          "hypertension": row["grade"] > 0 or on_treatment})


CALCULATORS = (
    Calculator(name="bmi-chinese-adult", title="BMI and waist for Chinese adults (WS/T 428-2013)",
               title_zh="中国成人体重判定（BMI与腰围，WS/T 428-2013）",
               summary="Body mass index and its category by the Chinese adult criteria (overweight from 24, obese from "
                       "28 kg/m2), with central obesity by waist circumference.",
               fields=WEIGHT_FIELDS, unit="kg/m2",
               categories={b["key"]: (b["label"], b["label_zh"]) for b in criteria()["weight"]["bmi"]},
               source=criteria()["weight"]["source"].strip(), applies_to="Chinese adults 18 and over.",
               function=bmi_chinese_adult),
    Calculator(name="bp-grade-china", title="Blood pressure grade (Chinese hypertension guideline 2018)",
               title_zh="血压水平分级（中国高血压防治指南2018年修订版）",
               summary="The category of an office blood pressure: normal, high-normal, or grade 1 to 3 hypertension.",
               fields=BP_FIELDS, unit="{grade}",
               categories={c["key"]: (c["label"], c["label_zh"]) for c in criteria()["blood_pressure"]["categories"]},
               source=criteria()["blood_pressure"]["source"].strip(), applies_to="Adults 18 and over.",
               function=bp_grade_china),
)
