"""Atrial fibrillation scores: CHA2DS2-VASc stroke risk with its ESC 2020 category, and HAS-BLED bleeding risk."""

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from smartcare.knowledge.scores.base import Calculator, Field, Note, Result, validate

DATA = Path(__file__).parent / "data" / "atrial_fibrillation.yaml"
POINTS_UNIT = "{score}"


@cache
def tables() -> dict[str, Any]:
    """The CHA2DS2-VASc and HAS-BLED points, thresholds, labels and sources as data."""
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))


def _labels(score: str) -> dict[str, tuple[str, str]]:
    return {key: (en, zh) for key, (en, zh) in tables()[score]["labels"].items()}


AGE = Field("age", "Age", "年龄", kind="integer", unit="a", minimum=18, maximum=120,
            help="Completed years; both scores were derived on adults with atrial fibrillation")

CHA2DS2_VASC_FIELDS = (
    AGE,
    Field("sex", "Sex", "性别", kind="choice", choices=("female", "male")),
    Field("congestive_heart_failure", "Congestive heart failure or left ventricular dysfunction",
          "充血性心力衰竭或左心室功能不全", kind="boolean",
          help="Clinical heart failure, or objective evidence of moderate to severe left ventricular dysfunction"),
    Field("hypertension", "Hypertension", "高血压", kind="boolean",
          help="Diagnosed hypertension, or on treatment for it"),
    Field("diabetes", "Diabetes mellitus", "糖尿病", kind="boolean"),
    Field("stroke_tia_thromboembolism", "Prior stroke, TIA or thromboembolism", "既往卒中、短暂性脑缺血发作或血栓栓塞",
          kind="boolean"),
    Field("vascular_disease", "Vascular disease", "血管疾病", kind="boolean",
          help="Prior myocardial infarction, peripheral artery disease or aortic plaque"),
)

CHA2DS2_VASC_WARNINGS = (
    Note("valvular", "Not for atrial fibrillation with a mechanical heart valve or moderate to severe mitral "
         "stenosis: those patients need anticoagulation whatever the score.",
         "不适用于合并机械心脏瓣膜或中重度二尖瓣狭窄的房颤：此类患者无论评分如何均需抗凝。"),
    Note("reassess", "Stroke risk changes with age and new conditions: reassess at each review, and weigh the "
         "bleeding risk (HAS-BLED) without letting it alone withhold anticoagulation.",
         "卒中风险随年龄和新发疾病变化：每次随访时重新评估，并结合出血风险（HAS-BLED）权衡，但不应仅因出血风险而不抗凝。"),
    Note("esc-2024", "Categories follow the ESC 2020 guideline; the ESC 2024 guideline uses CHA2DS2-VA, which "
         "no longer counts female sex.",
         "分层依据2020年ESC指南；2024年ESC指南改用不计女性性别的CHA2DS2-VA评分。"),
)


def cha2ds2_vasc(*, age: int, sex: str, congestive_heart_failure: bool, hypertension: bool, diabetes: bool,
                 stroke_tia_thromboembolism: bool, vascular_disease: bool) -> Result:
    """The CHA2DS2-VASc stroke risk score (0-9) of a person with atrial fibrillation and its ESC 2020 category."""
    inputs = validate(CHA2DS2_VASC_FIELDS, {
        "age": age, "sex": sex, "congestive_heart_failure": congestive_heart_failure, "hypertension": hypertension,
        "diabetes": diabetes, "stroke_tia_thromboembolism": stroke_tia_thromboembolism,
        "vascular_disease": vascular_disease})
    data = tables()["cha2ds2_vasc"]
    weights = data["points"]
    present = {**inputs, "female": inputs["sex"] == "female"}
    points = {item: weights[item] if present[item] else 0 for item in weights}
    points["age"] = next(band["points"] for band in data["age"] if inputs["age"] >= band["from"])
    total = sum(points.values())
    category = next(row["key"] for row in data["categories"][inputs["sex"]] if total >= row["from"])
    return Result(value=total, unit=POINTS_UNIT, category=category, inputs=inputs, source=data["source"].strip(),
                  warnings=CHA2DS2_VASC_WARNINGS, detail={"points": points})


HAS_BLED_FIELDS = (
    Field("uncontrolled_hypertension", "Uncontrolled hypertension", "未控制的高血压", kind="boolean",
          help="Systolic blood pressure above 160 mmHg"),
    Field("abnormal_renal_function", "Abnormal renal function", "肾功能异常", kind="boolean",
          help="Chronic dialysis, a kidney transplant, or serum creatinine 200 umol/L (2.26 mg/dL) or more"),
    Field("abnormal_liver_function", "Abnormal liver function", "肝功能异常", kind="boolean",
          help="Chronic liver disease such as cirrhosis, or bilirubin over twice the upper limit of normal with "
               "AST, ALT or alkaline phosphatase over three times the upper limit"),
    Field("stroke", "Prior stroke", "既往卒中", kind="boolean"),
    Field("bleeding", "Prior major bleeding or a predisposition to bleeding", "既往大出血或出血倾向", kind="boolean",
          help="A bleeding history, or a predisposition such as a bleeding diathesis or anaemia"),
    Field("labile_inr", "Labile INR", "INR不稳定", kind="boolean",
          help="Unstable or high INRs, or time in the therapeutic range below 60%; false if not on a vitamin K "
               "antagonist such as warfarin"),
    AGE,
    Field("antiplatelets_or_nsaids", "Antiplatelet drugs or NSAIDs", "合用抗血小板药或非甾体抗炎药", kind="boolean",
          help="Concomitant aspirin, clopidogrel or another antiplatelet drug, or a non-steroidal anti-inflammatory"),
    Field("alcohol", "Alcohol excess", "过量饮酒", kind="boolean", help="8 or more drinks a week"),
)

HAS_BLED_WARNINGS = (
    Note("modifiable", "A high score calls for correcting the modifiable risks (blood pressure, labile INR, "
         "antiplatelets or NSAIDs, alcohol) and for earlier and more frequent review; it is not by itself a reason "
         "to withhold anticoagulation.",
         "高分提示应纠正可改变的出血危险因素（血压、INR不稳定、抗血小板药或非甾体抗炎药、饮酒）并提早、更频繁地复查；"
         "高分本身不是不抗凝的理由。"),
)


def has_bled(*, uncontrolled_hypertension: bool, abnormal_renal_function: bool, abnormal_liver_function: bool,
             stroke: bool, bleeding: bool, labile_inr: bool, age: int, antiplatelets_or_nsaids: bool,
             alcohol: bool) -> Result:
    """The HAS-BLED one-year major bleeding risk score (0-9) of a person with atrial fibrillation."""
    inputs = validate(HAS_BLED_FIELDS, {
        "uncontrolled_hypertension": uncontrolled_hypertension, "abnormal_renal_function": abnormal_renal_function,
        "abnormal_liver_function": abnormal_liver_function, "stroke": stroke, "bleeding": bleeding,
        "labile_inr": labile_inr, "age": age, "antiplatelets_or_nsaids": antiplatelets_or_nsaids,
        "alcohol": alcohol})
    data = tables()["has_bled"]
    present = {**inputs, "elderly": inputs["age"] > data["elderly_above_age"]}
    points = {item: weight if present[item] else 0 for item, weight in data["points"].items()}
    total = sum(points.values())
    return Result(value=total, unit=POINTS_UNIT, category="high" if total >= data["high_from"] else "low",
                  inputs=inputs, source=data["source"].strip(), warnings=HAS_BLED_WARNINGS, detail={"points": points})


CALCULATORS = (
    Calculator(name="cha2ds2-vasc", title="CHA2DS2-VASc stroke risk in atrial fibrillation",
               title_zh="CHA2DS2-VASc 房颤卒中风险评分",
               summary="Points for heart failure, hypertension, age, diabetes, prior stroke, vascular disease and "
                       "sex, with whether oral anticoagulation is recommended (ESC 2020).",
               fields=CHA2DS2_VASC_FIELDS, unit=POINTS_UNIT, categories=_labels("cha2ds2_vasc"),
               source=tables()["cha2ds2_vasc"]["source"].strip(),
               applies_to="Adults with atrial fibrillation, not with a mechanical heart valve or moderate to severe "
                          "mitral stenosis.",
               function=cha2ds2_vasc),
    Calculator(name="has-bled", title="HAS-BLED bleeding risk in atrial fibrillation",
               title_zh="HAS-BLED 房颤出血风险评分",
               summary="The one-year risk of major bleeding of a person with atrial fibrillation, to flag "
                       "modifiable risks and who needs closer review.",
               fields=HAS_BLED_FIELDS, unit=POINTS_UNIT, categories=_labels("has_bled"),
               source=tables()["has_bled"]["source"].strip(),
               applies_to="Adults with atrial fibrillation taking or considered for antithrombotic therapy.",
               function=has_bled),
)
