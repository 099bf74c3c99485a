"""Type 2 diabetes risk from a questionnaire: FINDRISC (10-year risk) and the Chinese Diabetes Risk Score (screening)."""

import math
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from smartcare.knowledge.scores.base import Calculator, Field, Note, Result, validate

DATA = Path(__file__).parent / "data" / "diabetes.yaml"
SCORE_UNIT = "{score}"
FAMILY = ("none", "second_degree", "first_degree")
# The ages FINDRISC was derived and validated on (Finnish population surveys of 1987 and 1992).
FINDRISC_STUDY_AGES = (35, 64)


@cache
def tables() -> dict[str, Any]:
    """Both scores' points tables, categories and sources as data."""
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))


def band_points(bands: Sequence[Mapping[str, Any]], value: float) -> int:
    """The points of the first band whose lower bound the value meets (`from` inclusive, `above` exclusive)."""
    return next(int(b["points"]) for b in bands
                if value >= b.get("from", -math.inf) and value > b.get("above", -math.inf))


def _category(rows: Sequence[Mapping[str, Any]], total: int) -> Mapping[str, Any]:
    return next(row for row in rows if total >= row["from"])


FINDRISC_FIELDS = (
    Field("age", "Age", "年龄", kind="integer", unit="a", minimum=18, maximum=120,
          help="In completed years; the form is for adults"),
    Field("sex", "Sex", "性别", kind="choice", choices=("female", "male"), help="The waist bands differ by sex"),
    Field("bmi", "Body mass index", "体质指数", unit="kg/m2", minimum=10, maximum=80,
          help="Weight in kg divided by the square of height in m"),
    Field("waist", "Waist circumference", "腰围", unit="cm", units={"[in_i]": 2.54}, minimum=40, maximum=200,
          help="Measured below the ribs, usually at the level of the navel"),
    Field("physically_active", "At least 30 minutes of physical activity every day", "每天至少30分钟体力活动",
          kind="boolean", help="At work or in leisure time, including normal daily activity"),
    Field("vegetables_daily", "Eats vegetables, fruit or berries every day", "每天吃蔬菜、水果或浆果",
          kind="boolean"),
    Field("antihypertensive_medication", "Has ever taken blood-pressure medicines regularly", "曾规律服用降压药",
          kind="boolean"),
    Field("high_glucose_history", "Has ever been found to have high blood glucose", "曾发现血糖升高",
          kind="boolean", help="In a health check, during an illness or during pregnancy"),
    Field("family_history", "Relatives with diabetes (type 1 or 2)", "糖尿病家族史", kind="choice", choices=FAMILY,
          help="first_degree: a parent, brother, sister or own child; second_degree: a grandparent, aunt, uncle or "
               "first cousin but no first-degree relative; none: neither"),
)


def findrisc(*, age: int, sex: str, bmi: float, waist: float, physically_active: bool, vegetables_daily: bool,
             antihypertensive_medication: bool, high_glucose_history: bool, family_history: str) -> Result:
    """The FINDRISC total (0-26) and risk category, with each item's points and the 10-year risk of type 2 diabetes."""
    inputs = validate(FINDRISC_FIELDS, {
        "age": age, "sex": sex, "bmi": bmi, "waist": waist, "physically_active": physically_active,
        "vegetables_daily": vegetables_daily, "antihypertensive_medication": antihypertensive_medication,
        "high_glucose_history": high_glucose_history, "family_history": family_history})
    data = tables()["findrisc"]
    points = {
        "age": band_points(data["age"], age),
        "bmi": band_points(data["bmi"], bmi),
        "waist": band_points(data["waist"][sex], waist),
        "physically_active": 0 if physically_active else data["not_physically_active"],
        "vegetables_daily": 0 if vegetables_daily else data["not_vegetables_daily"],
        "antihypertensive_medication": data["antihypertensive_medication"] if antihypertensive_medication else 0,
        "high_glucose_history": data["high_glucose_history"] if high_glucose_history else 0,
        "family_history": data["family_history"][family_history],
    }
    total = sum(points.values())
    row = _category(data["categories"], total)
    warnings = [Note("not-diagnostic", "FINDRISC estimates the risk of developing type 2 diabetes; it does not "
                     "diagnose diabetes: only a blood glucose test can.",
                     "FINDRISC评估未来发生2型糖尿病的风险，不能诊断糖尿病，诊断须依据血糖检测。")]
    low, high = FINDRISC_STUDY_AGES
    if not low <= age <= high:
        warnings.append(Note("outside-study-ages", f"FINDRISC was derived and validated in Finnish adults aged {low} "
                             f"to {high}; at {age} the estimate is less certain.",
                             f"FINDRISC在{low}至{high}岁芬兰成人中建立和验证；{age}岁时估计值的可靠性较低。"))
    return Result(value=total, unit=SCORE_UNIT, category=row["key"], inputs=inputs, source=data["source"].strip(),
                  warnings=tuple(warnings),
                  detail={"points": points, "ten_year_risk": row["estimate"], "ten_year_risk_zh": row["estimate_zh"]})


CDS_FIELDS = (
    Field("age", "Age", "年龄", kind="integer", unit="a", minimum=20, maximum=74,
          help="In completed years; the score was derived in adults 20 to 74"),
    Field("sex", "Sex", "性别", kind="choice", choices=("female", "male")),
    Field("bmi", "Body mass index", "体质指数", unit="kg/m2", minimum=10, maximum=80,
          help="Weight in kg divided by the square of height in m"),
    Field("waist", "Waist circumference", "腰围", unit="cm", units={"[in_i]": 2.54}, minimum=40, maximum=200,
          help="Measured midway between the lowest rib and the iliac crest"),
    Field("systolic_bp", "Systolic blood pressure", "收缩压", unit="mm[Hg]", units={"kPa": 7.50062}, minimum=50,
          maximum=300),
    Field("family_history", "Diabetes in a parent, brother, sister or child", "糖尿病家族史（父母、同胞、子女）",
          kind="boolean"),
)


def cds_diabetes_risk(*, age: int, sex: str, bmi: float, waist: float, systolic_bp: float,
                      family_history: bool) -> Result:
    """The Chinese Diabetes Risk Score (0-51) with each item's points; 25 or more means screen with an OGTT."""
    inputs = validate(CDS_FIELDS, {"age": age, "sex": sex, "bmi": bmi, "waist": waist, "systolic_bp": systolic_bp,
                                   "family_history": family_history})
    data = tables()["cds_diabetes_risk"]
    points = {
        "age": band_points(data["age"], age),
        "sex": data["sex"][sex],
        "bmi": band_points(data["bmi"], bmi),
        "waist": band_points(data["waist"][sex], waist),
        "systolic_bp": band_points(data["systolic_bp"], systolic_bp),
        "family_history": data["family_history"] if family_history else 0,
    }
    total = sum(points.values())
    screen_from = next(row["from"] for row in data["categories"] if row["key"] == "screen")
    warnings = [Note("not-diagnostic", "The score finds people likely to have undiagnosed type 2 diabetes; only "
                     "blood glucose (an OGTT: fasting and 2-hour glucose) diagnoses it. It is not for people already "
                     "known to have diabetes.",
                     "本评分用于发现可能未诊断的2型糖尿病，诊断须依据血糖（OGTT：空腹及服糖后2小时血糖）；"
                     "不适用于已确诊糖尿病者。")]
    return Result(value=total, unit=SCORE_UNIT, category=_category(data["categories"], total)["key"], inputs=inputs,
                  source=data["source"].strip(), warnings=tuple(warnings),
                  detail={"points": points, "screen_from": screen_from})


CALCULATORS = (
    Calculator(name="findrisc", title="FINDRISC (Finnish Diabetes Risk Score)", title_zh="芬兰糖尿病风险评分（FINDRISC）",
               summary="The 10-year risk of type 2 diabetes from eight questions: age, BMI, waist, physical "
                       "activity, vegetables and fruit, blood-pressure medicines, past high glucose and family "
                       "history.",
               fields=FINDRISC_FIELDS, unit=SCORE_UNIT,
               categories={r["key"]: (r["label"], r["label_zh"]) for r in tables()["findrisc"]["categories"]},
               source=tables()["findrisc"]["source"].strip(),
               applies_to="Adults without known diabetes; derived in Finnish adults aged 35 to 64.",
               function=findrisc),
    Calculator(name="cds-diabetes-risk", title="Chinese Diabetes Risk Score (Chinese Diabetes Society)",
               title_zh="中国糖尿病风险评分表", summary="Who should be screened for undiagnosed type 2 diabetes with an "
               "OGTT, from age, sex, BMI, waist, systolic blood pressure and family history (25 points or more).",
               fields=CDS_FIELDS, unit=SCORE_UNIT,
               categories={r["key"]: (r["label"], r["label_zh"]) for r in tables()["cds_diabetes_risk"]["categories"]},
               source=tables()["cds_diabetes_risk"]["source"].strip(),
               applies_to="Chinese adults aged 20 to 74 without known diabetes.", function=cds_diabetes_risk),
)
