"""Kidney function: eGFR by the race-free CKD-EPI 2021 creatinine equation and the KDIGO 2012 CKD classification."""

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from smartcare.knowledge import calculators
from smartcare.knowledge.scores.base import Calculator, Field, Note, Result, validate

DATA = Path(__file__).parent / "data" / "kidney.yaml"
EGFR_UNIT = "mL/min/{1.73_m2}"
CKD_EPI_SOURCE = ("Inker LA, Eneanya ND, Coresh J, et al. New creatinine- and cystatin C-based equations to estimate "
                  "GFR without race. N Engl J Med 2021;385:1737-49.")


@cache
def classification() -> dict[str, Any]:
    """The KDIGO 2012 categories, prognosis grid and monitoring grid as data."""
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))


def gfr_category(egfr: float) -> str:
    """The KDIGO GFR category (G1 to G5) of an eGFR in mL/min/1.73 m2."""
    return next(row["key"] for row in classification()["gfr"] if egfr >= row["from"])


def albuminuria_category(uacr_mg_per_g: float) -> str:
    """The KDIGO albuminuria category (A1 to A3) of a urine albumin-to-creatinine ratio in mg/g."""
    return next(row["key"] for row in classification()["albuminuria"] if "below" not in row or uacr_mg_per_g < row["below"])


EGFR_FIELDS = (
    Field("creatinine", "Serum creatinine", "血肌酐", unit="mg/dL", units={"umol/L": 1 / 88.4}, minimum=0.1,
          maximum=20, help="IDMS-traceable enzymatic or Jaffe creatinine; 1 mg/dL = 88.4 umol/L"),
    Field("age", "Age", "年龄", unit="a", minimum=18, maximum=120, help="The equation is for adults (18 and over)"),
    Field("sex", "Sex", "性别", kind="choice", choices=("female", "male")),
)

CATEGORIES_G = {row["key"]: (row["label"], row["label_zh"]) for row in classification()["gfr"]}


def egfr_ckd_epi_2021(*, creatinine: float, age: float, sex: str) -> Result:
    """eGFR (mL/min/1.73 m2, whole number) from creatinine in mg/dL, age and sex, with its KDIGO GFR category."""
    inputs = validate(EGFR_FIELDS, {"creatinine": creatinine, "age": age, "sex": sex})
    egfr = calculators.egfr_ckd_epi_2021(creatinine_mg_per_dl=creatinine, age_years=age, female=sex == "female")
    warnings = [Note("not-steady-state", "Creatinine-based eGFR assumes stable kidney function; it is unreliable in "
                     "acute kidney injury, extremes of muscle mass, and pregnancy.",
                     "基于肌酐的eGFR假定肾功能稳定；急性肾损伤、肌肉量极端及妊娠时不可靠。")]
    return Result(value=round(egfr), unit=EGFR_UNIT, category=gfr_category(egfr), inputs=inputs,
                  source=CKD_EPI_SOURCE, warnings=tuple(warnings), detail={"egfr_exact": round(egfr, 2)})


KDIGO_FIELDS = (
    Field("egfr", "eGFR", "估算肾小球滤过率", unit=EGFR_UNIT, minimum=0, maximum=200),
    Field("uacr", "Urine albumin-to-creatinine ratio", "尿白蛋白/肌酐比值", unit="mg/g", units={"mg/mmol": 8.84},
          minimum=0, maximum=10000, help="3 mg/mmol is 30 mg/g"),
    Field("kidney_damage", "Other markers of kidney damage for over 3 months", "其他肾损伤标志持续超过3个月",
          kind="boolean", required=False, default=False,
          help="Urine sediment, electrolyte or tubular disorders, histology, imaging abnormalities, a transplant"),
)

RISK = {"low": ("Low risk (if no other markers of kidney damage, no CKD)", "低风险（如无其他肾损伤标志，不属于CKD）"),
        "moderate": ("Moderately increased risk", "中度增加风险"), "high": ("High risk", "高风险"),
        "very_high": ("Very high risk", "极高风险")}


def kdigo_ckd(*, egfr: float, uacr: float, kidney_damage: bool = False) -> Result:
    """The KDIGO 2012 prognosis of an eGFR and albuminuria (mg/g): risk, G and A categories, visits a year."""
    inputs = validate(KDIGO_FIELDS, {"egfr": egfr, "uacr": uacr, "kidney_damage": kidney_damage})
    data = classification()
    g, a = gfr_category(egfr), albuminuria_category(uacr)
    column = int(a[1]) - 1
    risk = data["prognosis"][g][column]
    ckd = g not in ("G1", "G2") or a != "A1" or kidney_damage
    warnings = [Note("chronicity", "CKD needs the abnormality to last over 3 months: repeat the tests before labelling.",
                     "慢性肾脏病需异常持续超过3个月：诊断前请复查。")]
    return Result(value=round(egfr), unit=EGFR_UNIT, category=risk, inputs=inputs,
                  source=data["source"].strip(), warnings=tuple(warnings),
                  detail={"gfr_category": g, "albuminuria_category": a, "ckd": ckd,
                          "monitoring_visits_per_year": data["monitoring"][g][column] if ckd else 0})


CALCULATORS = (
    Calculator(name="egfr-ckd-epi-2021", title="eGFR (CKD-EPI 2021, creatinine, race-free)",
               title_zh="估算肾小球滤过率（CKD-EPI 2021 肌酐方程，不含种族）",
               summary="Estimated glomerular filtration rate from serum creatinine, age and sex, with the KDIGO GFR "
                       "category.",
               fields=EGFR_FIELDS, unit=EGFR_UNIT, categories=CATEGORIES_G, source=CKD_EPI_SOURCE,
               applies_to="Adults 18 and over with stable kidney function.", function=egfr_ckd_epi_2021),
    Calculator(name="kdigo-ckd", title="KDIGO CKD classification (GFR and albuminuria)",
               title_zh="KDIGO 慢性肾脏病分期（GFR与白蛋白尿）",
               summary="The prognosis of chronic kidney disease from the GFR and albuminuria categories, and how often "
                       "to monitor.",
               fields=KDIGO_FIELDS, unit=EGFR_UNIT, categories=RISK, source=classification()["source"].strip(),
               applies_to="Adults; the abnormality must last over 3 months to be CKD.", function=kdigo_ckd),
)
