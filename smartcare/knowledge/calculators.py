"""Clinical calculators used across the product: kidney function, body surface area, age.

Each function cites the equation it implements; tests check them against published worked examples.
"""

import math
from datetime import date

# Serum creatinine: 1 mg/dL = 88.4 umol/L (molar mass of creatinine 113.12 g/mol).
CREATININE_UMOL_PER_MG_DL = 88.4


def creatinine_mg_dl(value: float, unit: str) -> float:
    """Serum creatinine in mg/dL from a value in mg/dL or umol/L (UCUM 'mg/dL' or 'umol/L')."""
    normalised = unit.replace("µ", "u").replace("μ", "u").strip()
    if normalised in {"mg/dL", "mg/dl"}:
        return value
    if normalised in {"umol/L", "umol/l"}:
        return value / CREATININE_UMOL_PER_MG_DL
    raise ValueError(f"creatinine unit {unit!r} is not mg/dL or umol/L")


def egfr_ckd_epi_2021(*, creatinine_mg_per_dl: float, age_years: float, female: bool) -> float:
    """Estimated GFR in mL/min/1.73 m2 by the race-free CKD-EPI 2021 creatinine equation.

    Inker LA et al. New creatinine- and cystatin C-based equations to estimate GFR without race.
    N Engl J Med 2021;385:1737-49: eGFR = 142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age
    [x 1.012 if female], k = 0.7 (female) or 0.9 (male), a = -0.241 (female) or -0.302 (male).
    Defined for adults (18 years and over).
    """
    if creatinine_mg_per_dl <= 0:
        raise ValueError("creatinine must be positive")
    if age_years < 18:
        raise ValueError("CKD-EPI 2021 is defined for adults (18 years and over)")
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    ratio = creatinine_mg_per_dl / kappa
    egfr = 142 * min(ratio, 1) ** alpha * max(ratio, 1) ** -1.200 * 0.9938 ** age_years
    return egfr * 1.012 if female else egfr


def ckd_stage(egfr: float) -> str:
    """The KDIGO 2012 GFR category (G1 to G5) of an eGFR in mL/min/1.73 m2."""
    for floor, stage in ((90, "G1"), (60, "G2"), (45, "G3a"), (30, "G3b"), (15, "G4")):
        if egfr >= floor:
            return stage
    return "G5"


def bsa_mosteller(*, height_cm: float, weight_kg: float) -> float:
    """Body surface area in m2 by Mosteller's formula: sqrt(height cm x weight kg / 3600).

    Mosteller RD. Simplified calculation of body-surface area. N Engl J Med 1987;317:1098.
    """
    if height_cm <= 0 or weight_kg <= 0:
        raise ValueError("height and weight must be positive")
    return math.sqrt(height_cm * weight_kg / 3600)


def age_in_years(birth_date: date, on: date) -> int:
    """Completed years of age on a given day."""
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - int(before_birthday)
