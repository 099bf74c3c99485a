"""Per-resident physiological baselines and the measured values drawn from them, consistent with conditions."""

import math
import random
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from smartcare.demo.reference import load

# Typical resting heart and breathing rates below an age (years); adults use the last row.
_RESTING_RATES = [(1, 130, 40), (3, 115, 30), (6, 100, 24), (12, 88, 20), (18, 80, 18), (math.inf, 74, 16)]


def ckd_epi_2009(creatinine_umol: float, age: float, sex: str) -> float:
    """Return eGFR (mL/min/1.73 m2) by the CKD-EPI 2009 creatinine equation (no race coefficient)."""
    female = sex == "female"
    kappa, alpha = (0.7, -0.329) if female else (0.9, -0.411)
    ratio = creatinine_umol / 88.4 / kappa
    return 141 * min(ratio, 1) ** alpha * max(ratio, 1) ** -1.209 * 0.993**age * (1.018 if female else 1.0)


def creatinine_for_egfr(egfr: float, age: float, sex: str) -> float:
    """Invert CKD-EPI 2009: the serum creatinine (µmol/L) that gives `egfr` at this age and sex."""
    female = sex == "female"
    kappa, alpha = (0.7, -0.329) if female else (0.9, -0.411)
    scale = egfr / (141 * 0.993**age * (1.018 if female else 1.0))
    ratio = scale ** (1 / alpha) if scale >= 1 else scale ** (1 / -1.209)
    return ratio * kappa * 88.4


def _clip(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


@cache
def _decimals() -> dict[str, int]:
    data = load("observations")
    result = {key: row.get("decimals", 0) for key, row in data["vital_signs"].items()}
    result |= {key: row["decimals"] for key, row in data["labs"].items()}
    return result


def rounded(key: str, value: float) -> float | int:
    """Round a value to the precision its test reports (integers stay ints)."""
    places = _decimals()[key]
    return round(value) if places == 0 else round(value, places)


@dataclass(slots=True)
class Findings:
    """Temporary state at one encounter that shifts measurements (fever, infection, low oxygen)."""

    fever: bool = False
    infection: bool = False
    hypoxia: bool = False


class Physiology:
    """A resident's stable baseline values, from which every measurement is drawn with noise."""

    def __init__(self, rng: random.Random, *, sex: str, birth: date, conditions: dict[str, Any],
                 drugs: set[str]) -> None:
        """Draw the baselines from sex, age, conditions (key -> plan with .treated, .stage) and current drugs."""
        self.rng, self.sex, self.birth, self.drugs = rng, sex, birth, drugs
        drug_rows = load("medications")["drugs"]
        on_statin = any(drug_rows[drug].get("class") == "statin" for drug in drugs)
        self.conditions = conditions
        growth = load("growth")
        mean, sd = growth["adult_height"][sex]
        self.adult_height = _clip(rng.gauss(mean, sd), mean - 3 * sd, mean + 3 * sd)
        self.height_z = rng.gauss(0, 1)
        self.weight_z = rng.gauss(0, 1)
        metabolic = 1.5 * (("diabetes" in conditions) + ("hypertension" in conditions))
        self.bmi = _clip(rng.gauss(23.6 + metabolic, 3.2), 16.5, 40.0)
        self._draw_pressure()
        self._draw_glycaemia()
        self._draw_lipids(on_statin)
        self._draw_kidney()
        male = sex == "male"
        self.heart_offset = rng.gauss(0, 7) - (8 if "metoprolol" in drugs else 0)
        self.haemoglobin = rng.gauss(148, 10) if male else rng.gauss(130, 9)
        if self.ckd_stage == 3:
            self.haemoglobin -= 15
        self.alt = math.exp(rng.gauss(math.log(22 if male else 16), 0.35)) + (3 if on_statin else 0)
        self.wbc = _clip(rng.gauss(6.2, 1.3), 3.6, 9.3)
        self.platelets = _clip(rng.gauss(230, 45), 130, 340)
        self.potassium = _clip(rng.gauss(4.2, 0.28), 3.6, 5.1) + (0.3 if self.ckd_stage == 3 else 0)
        self.sodium = _clip(rng.gauss(141, 1.8), 138, 146)
        self.spo2 = 93.0 if "copd" in conditions else 98.0
        # Drawn after the other baselines, which then do not shift with it.
        self.waist_offset = rng.gauss(0, load("risk_factors")["waist"][sex]["person_sd"])

    def _draw_pressure(self) -> None:
        rng = self.rng
        htn = self.conditions.get("hypertension")
        if htn is None:
            self.sbp_shift, self.dbp_shift = rng.gauss(0, 8), rng.gauss(0, 6)
            self.hypertensive = None
        elif htn.treated:
            self.hypertensive = (_clip(rng.gauss(134, 10), 112, 170), _clip(rng.gauss(80, 7), 62, 100))
        else:
            self.hypertensive = (_clip(rng.gauss(150, 12), 138, 190), _clip(rng.gauss(92, 7), 75, 115))

    def _draw_glycaemia(self) -> None:
        rng = self.rng
        diabetes = self.conditions.get("diabetes")
        if diabetes is None:
            self.hba1c = _clip(rng.gauss(5.4, 0.28), 4.4, 6.1)
            self.glucose = _clip(rng.gauss(5.0, 0.42), 4.0, 6.6)
        else:
            self.hba1c = (_clip(rng.gauss(7.2, 0.9), 6.0, 11.0) if diabetes.treated
                          else _clip(rng.gauss(8.6, 1.4), 6.6, 13.0))
            self.glucose = max(5.6, 1.59 * self.hba1c - 2.9 + rng.gauss(0, 0.6))
        self.diabetic = diabetes is not None

    def _draw_lipids(self, on_statin: bool) -> None:
        rng = self.rng
        male = self.sex == "male"
        self.hdl = _clip(rng.gauss(1.2, 0.2) if male else rng.gauss(1.4, 0.26), 1.0, 2.2)
        self.tg = _clip(math.exp(rng.gauss(math.log(1.1), 0.3)), 0.45, 2.1)
        self.ldl = _clip(rng.gauss(2.6, 0.45), 1.4, 3.8)
        if "hyperlipidaemia" in self.conditions:
            pattern = rng.random()
            if pattern < 0.6:
                self.ldl = _clip(rng.gauss(4.4, 0.45), 3.7, 6.0)
            elif pattern < 0.9:
                self.tg = _clip(rng.gauss(2.9, 0.5), 2.4, 5.5)
            else:
                self.hdl = _clip(rng.gauss(0.85, 0.07), 0.65, 0.97)
        if on_statin:
            self.ldl *= 0.6
            self.tg *= 0.85

    def _draw_kidney(self) -> None:
        rng = self.rng
        ckd = self.conditions.get("ckd")
        self.ckd_stage = ckd.stage if ckd else 0
        self.egfr_gap = rng.gauss(0, 10)
        if self.ckd_stage == 3:
            self.egfr_stage3 = rng.uniform(33, 57)
        albuminuric = ckd is not None and (self.ckd_stage < 3 or rng.random() < 0.6)
        self.uacr = (_clip(rng.gauss(150, 90), 40, 600) if albuminuric
                     else _clip(math.exp(rng.gauss(math.log(9), 0.45)), 2.0, 26.0))

    def age_at(self, when: date) -> float:
        """Age in (fractional) years on a given day."""
        return (when - self.birth).days / 365.25

    def height(self, when: date) -> float:
        """Body height in cm on a given day (median growth for children, the adult height from 18)."""
        age = self.age_at(when)
        if age >= 18:
            return self.adult_height
        table = load("growth")["children"][self.sex]
        low = int(age)
        median = table[low][0] + (table[low + 1][0] - table[low][0]) * (age - low)
        return median * (1 + 0.04 * _clip(self.height_z, -2.5, 2.5))

    def weight(self, when: date) -> float:
        """Body weight in kg on a given day."""
        age = self.age_at(when)
        if age >= 18:
            return self.bmi * (self.height(when) / 100) ** 2 + self.rng.gauss(0, 0.6)
        table = load("growth")["children"][self.sex]
        low = int(age)
        median = table[low][1] + (table[low + 1][1] - table[low][1]) * (age - low)
        return median * (1 + 0.11 * _clip(self.weight_z, -2.5, 2.5))

    def vital(self, key: str, when: date, findings: Findings) -> Any:
        """Draw one vital sign (blood pressure is a (systolic, diastolic) pair) as reported values."""
        rng, age = self.rng, self.age_at(when)
        if key == "bp":
            return self._blood_pressure(age)
        if key in ("hr", "rr"):
            base = next(row for row in _RESTING_RATES if age < row[0])[1 if key == "hr" else 2]
            if key == "hr":
                value = base + self.heart_offset + (12 if findings.fever else 0) + rng.gauss(0, 4)
                return round(_clip(value, 50, 170))
            return round(base + (3 if "copd" in self.conditions or findings.hypoxia else 0) + rng.gauss(0, 1.5))
        if key == "temp":
            value = rng.uniform(37.8, 39.4) if findings.fever else _clip(rng.gauss(36.5, 0.2), 36.0, 37.2)
            return round(value, 1)
        if key == "spo2":
            value = rng.uniform(86, 92) if findings.hypoxia else self.spo2 + rng.gauss(0, 1)
            return round(_clip(value, 80, 100))
        if key == "height":
            return round(self.height(when), 1)
        if key == "weight":
            return round(self.weight(when), 1)
        if key == "waist":
            return round(self.waist(when), 1)
        raise KeyError(key)

    def waist(self, when: date) -> float:
        """Waist circumference in cm on a given day: from the adult BMI, sex and age, as measured with a tape."""
        data = load("risk_factors")["waist"]
        model = data[self.sex]
        usual = (model["intercept"] + model["slope"] * self.bmi
                 + model["per_year_over_40"] * max(self.age_at(when) - 40, 0) + self.waist_offset)
        return _clip(usual + self.rng.gauss(0, data["measurement_sd"]), *data["limits"])

    def _blood_pressure(self, age: float) -> tuple[int, int]:
        rng = self.rng
        if self.hypertensive is not None:
            sbp, dbp = self.hypertensive
            return round(sbp + rng.gauss(0, 6)), round(dbp + rng.gauss(0, 4))
        if age < 18:
            sbp, dbp = 95 + 1.2 * (age - 7), 60 + 0.8 * (age - 7)
        else:
            sbp, dbp = 112 + 0.3 * (age - 18), 72 + 0.1 * (age - 18)
        sbp = _clip(sbp + self.sbp_shift + rng.gauss(0, 4), 88, 138)
        dbp = _clip(dbp + self.dbp_shift + rng.gauss(0, 3), 52, 88)
        return round(sbp), round(min(dbp, sbp - 25))

    def labs(self, tests: list[str], when: date, findings: Findings) -> dict[str, float | int]:
        """Draw the reported values of `tests` taken together on one day (kept mutually consistent)."""
        values: dict[str, float | int] = {}
        if {"creatinine", "egfr"} & set(tests):
            values |= self._renal(when)
        if {"cholesterol", "ldl", "hdl", "triglyceride"} & set(tests):
            values |= self._lipids()
        rng = self.rng
        for test in tests:
            if test in values:
                continue
            if test == "glucose":
                value = self.glucose + rng.gauss(0, 0.6 if self.diabetic else 0.2)
                value = value if self.diabetic else _clip(value, 3.9, 6.9)
            elif test == "hba1c":
                value = self.hba1c + rng.gauss(0, 0.2 if self.diabetic else 0.08)
                value = value if self.diabetic else min(value, 6.2)
            elif test == "uacr":
                value = self.uacr * math.exp(rng.gauss(0, 0.12))
                value = max(value, 31.0) if self.ckd_stage in (1, 2) else value
            elif test == "potassium":
                value = self.potassium + rng.gauss(0, 0.12)
            elif test == "sodium":
                value = self.sodium + rng.gauss(0, 1)
            elif test == "alt":
                value = self.alt + rng.gauss(0, 2.5)
            elif test == "haemoglobin":
                value = self.haemoglobin + rng.gauss(0, 3)
            elif test == "wbc":
                value = rng.uniform(10.5, 16.0) if findings.infection else self.wbc + rng.gauss(0, 0.4)
            elif test == "platelets":
                value = self.platelets + rng.gauss(0, 10)
            else:
                raise KeyError(test)
            values[test] = rounded(test, value)
        return {test: values[test] for test in tests}

    def _renal(self, when: date) -> dict[str, float | int]:
        age = self.age_at(when)
        if self.ckd_stage == 3:
            target = self.egfr_stage3 + self.rng.gauss(0, 1.5)
            low, high = 30.5, 59.4
        else:
            target = max(120 - 0.6 * max(age - 20, 0), 80) + self.egfr_gap + self.rng.gauss(0, 3)
            low, high = (90.5, 150) if self.ckd_stage == 1 else (60.5, 89.4) if self.ckd_stage == 2 else (62, 150)
        target = _clip(target, low, high)
        creatinine = round(creatinine_for_egfr(target, age, self.sex))
        egfr = round(ckd_epi_2009(creatinine, age, self.sex))
        # Rounding creatinine can move eGFR across a stage boundary; nudge it back inside.
        while egfr < low:
            creatinine -= 1
            egfr = round(ckd_epi_2009(creatinine, age, self.sex))
        while egfr > high:
            creatinine += 1
            egfr = round(ckd_epi_2009(creatinine, age, self.sex))
        return {"creatinine": creatinine, "egfr": egfr}

    def _lipids(self) -> dict[str, float | int]:
        rng = self.rng
        ldl = self.ldl * math.exp(rng.gauss(0, 0.05))
        hdl = self.hdl * math.exp(rng.gauss(0, 0.04))
        tg = self.tg * math.exp(rng.gauss(0, 0.1))
        if "hyperlipidaemia" not in self.conditions:
            ldl, hdl, tg = min(ldl, 4.0), max(hdl, 1.0), min(tg, 2.2)
            ldl = min(ldl, 6.1 - hdl - tg / 2.2)
        values = {"ldl": round(ldl, 2), "hdl": round(hdl, 2), "triglyceride": round(tg, 2)}
        values["cholesterol"] = round(values["ldl"] + values["hdl"] + values["triglyceride"] / 2.2, 2)
        return values

