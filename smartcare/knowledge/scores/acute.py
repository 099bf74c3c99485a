"""Acute illness scores: NEWS2 (the charted early warning score, as a calculator) and qSOFA for suspected sepsis."""

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from smartcare.knowledge.scores import news2
from smartcare.knowledge.scores.base import Calculator, Field, NotApplicable, Note, Result, validate

QSOFA_DATA = Path(__file__).parent / "data" / "qsofa.yaml"
POINTS_UNIT = "{score}"

# Plausibility limits, not clinical ranges: the same data-entry limits as the ward chart
# (smartcare/hospital/wards/data/vital_signs.yaml); both scores are open-ended beyond their extreme bands.
RESPIRATORY_RATE = Field("respiratory_rate", "Respiratory rate", "呼吸频率", kind="integer", unit="/min", minimum=2,
                         maximum=80)
SYSTOLIC_BP = Field("systolic_bp", "Systolic blood pressure", "收缩压", kind="integer", unit="mm[Hg]", minimum=40,
                    maximum=300)

NEWS2_FIELDS = (
    RESPIRATORY_RATE,
    Field("spo2", "Oxygen saturation (SpO2)", "血氧饱和度（SpO2）", kind="integer", unit="%", minimum=50, maximum=100),
    Field("spo2_scale", "SpO2 scale", "SpO2评分表", kind="integer", minimum=1, maximum=2,
          help="1 for most patients; 2 only for hypercapnic respiratory failure with a prescribed 88-92% target"),
    Field("on_oxygen", "On supplemental oxygen", "吸氧", kind="boolean"),
    SYSTOLIC_BP,
    Field("pulse", "Pulse", "脉搏", kind="integer", unit="/min", minimum=20, maximum=300),
    Field("consciousness", "Consciousness (ACVPU)", "意识（ACVPU）", kind="choice", choices=news2.CONSCIOUSNESS,
          help="Alert, new Confusion, responds to Voice, to Pain, or Unresponsive"),
    Field("temperature", "Temperature", "体温", unit="Cel", minimum=25, maximum=45),
    Field("age", "Age", "年龄", kind="integer", unit="a", minimum=news2.ADULT_AGE, maximum=120,
          help="NEWS2 is for adults (16 and over)"),
    Field("pregnant", "Pregnant", "妊娠", kind="boolean", required=False, default=False,
          help="NEWS2 is not validated in pregnancy"),
)

NEWS2_BANDS = {
    "zero": ("Score 0: routine monitoring, at least 12-hourly", "0分：常规监测，至少每12小时一次"),
    "low": ("Low (1-4): ward-based response, at least 4-6 hourly", "低（1-4分）：病房内评估，至少每4-6小时监测"),
    "low-medium": ("Low-medium (a single parameter scoring 3): urgent ward-based response, at least hourly",
                   "低-中（单项3分）：病房内紧急评估，至少每小时监测"),
    "medium": ("Medium (5-6): urgent response, at least hourly", "中（5-6分）：紧急响应，至少每小时监测"),
    "high": ("High (7 or more): emergency response, continuous monitoring", "高（≥7分）：紧急响应，持续监测生命体征"),
}

JUDGEMENT = Note("judgement", "NEWS2 supports and does not replace clinical judgement: escalate a patient who "
                 "causes concern whatever the score.",
                 "NEWS2辅助而非替代临床判断：无论评分高低，对令人担忧的患者均应上报。")
SCALE_2 = Note("spo2-scale-2", "SpO2 scale 2 is only for hypercapnic respiratory failure with a prescribed target "
               "of 88-92%; on any other patient it under-scores low saturation, so use scale 1.",
               "SpO2第2评分表仅用于医嘱目标为88-92%的高碳酸血症型呼吸衰竭患者；用于其他患者会低估低氧，应使用第1评分表。")


def national_early_warning_score(*, respiratory_rate: int, spo2: int, spo2_scale: int, on_oxygen: bool,
                                 systolic_bp: int, pulse: int, consciousness: str, temperature: float, age: int,
                                 pregnant: bool = False) -> Result:
    """The NEWS2 total of one set of observations, its response band and each parameter's points."""
    inputs = validate(NEWS2_FIELDS, {
        "respiratory_rate": respiratory_rate, "spo2": spo2, "spo2_scale": spo2_scale, "on_oxygen": on_oxygen,
        "systolic_bp": systolic_bp, "pulse": pulse, "consciousness": consciousness, "temperature": temperature,
        "age": age, "pregnant": pregnant})
    if inputs["pregnant"]:
        raise NotApplicable("NEWS2 is not validated in pregnancy: use an obstetric early warning chart.")
    score = news2.score(news2.VitalSet(
        respiratory_rate=inputs["respiratory_rate"], spo2=inputs["spo2"], spo2_scale=inputs["spo2_scale"],
        on_oxygen=inputs["on_oxygen"], systolic_bp=inputs["systolic_bp"], pulse=inputs["pulse"],
        consciousness=inputs["consciousness"], temperature=inputs["temperature"]))
    warnings = (JUDGEMENT, SCALE_2) if inputs["spo2_scale"] == 2 else (JUDGEMENT,)
    return Result(value=score.total, unit=POINTS_UNIT, category=score.band, inputs=inputs,
                  source=news2.chart()["source"].strip(), warnings=warnings,
                  detail={"points": dict(score.points), "red_score": score.red, "response": score.response,
                          "monitoring_minutes": score.minutes})


@cache
def qsofa_criteria() -> dict[str, Any]:
    """The qSOFA criteria, threshold, labels and sources as data."""
    return yaml.safe_load(QSOFA_DATA.read_text(encoding="utf-8"))


QSOFA_FIELDS = (
    RESPIRATORY_RATE,
    Field("gcs", "Glasgow Coma Scale", "格拉斯哥昏迷评分", kind="integer", minimum=3, maximum=15,
          help="The total; below 15 counts as altered mentation"),
    SYSTOLIC_BP,
    Field("age", "Age", "年龄", kind="integer", unit="a", minimum=18, maximum=120,
          help="qSOFA was derived and validated on adults"),
)

NOT_SCREENING = Note("not-screening", "qSOFA is not a screening tool for sepsis by itself: a score below 2 does not "
                     "rule sepsis out, and a positive score calls for assessing organ dysfunction, not a diagnosis.",
                     "qSOFA不能单独作为脓毒症筛查工具：低于2分不能排除脓毒症，阳性提示需评估器官功能障碍，并非诊断。")


def qsofa(*, respiratory_rate: int, gcs: int, systolic_bp: int, age: int) -> Result:
    """The qSOFA score (0-3) of an adult with suspected infection, positive at 2 or more."""
    inputs = validate(QSOFA_FIELDS, {"respiratory_rate": respiratory_rate, "gcs": gcs, "systolic_bp": systolic_bp,
                                     "age": age})
    data = qsofa_criteria()
    criteria = data["criteria"]
    points = {
        "respiratory_rate": int(inputs["respiratory_rate"] >= criteria["respiratory_rate"]["at_least"]),
        "altered_mentation": int(inputs["gcs"] < criteria["altered_mentation"]["gcs_below"]),
        "systolic_bp": int(inputs["systolic_bp"] <= criteria["systolic_bp"]["at_most"]),
    }
    total = sum(points.values())
    return Result(value=total, unit=POINTS_UNIT, category="high" if total >= data["high_from"] else "low",
                  inputs=inputs, source=data["source"].strip(), warnings=(NOT_SCREENING,), detail={"points": points})


CALCULATORS = (
    Calculator(name="news2", title="National Early Warning Score 2 (NEWS2)", title_zh="国家早期预警评分2（NEWS2）",
               summary="The early warning score of one set of observations, with the clinical response and how often "
                       "to observe.",
               fields=NEWS2_FIELDS, unit=POINTS_UNIT, categories=NEWS2_BANDS, source=news2.chart()["source"].strip(),
               applies_to="Adults (16 and over), not in pregnancy.", function=national_early_warning_score),
    Calculator(name="qsofa", title="qSOFA (quick Sequential Organ Failure Assessment)",
               title_zh="qSOFA（快速序贯器官衰竭评估）",
               summary="Respiratory rate, mentation and systolic pressure: a positive score flags an adult with "
                       "suspected infection to assess for organ dysfunction and sepsis.",
               fields=QSOFA_FIELDS, unit=POINTS_UNIT,
               categories={k: (en, zh) for k, (en, zh) in qsofa_criteria()["labels"].items()},
               source=qsofa_criteria()["source"].strip(),
               applies_to="Adults (18 and over) with suspected infection, outside the intensive care unit.",
               function=qsofa),
)
