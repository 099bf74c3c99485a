"""Dose arithmetic for the prescription audit: frequencies, units, and per-kg or per-m2 doses.

Frequency codes are the ones Chinese and English prescriptions use (QD, BID ... Q8H, QW, PRN, STAT,
and their plain-language forms); units are UCUM mass units (g, mg, ug, ng), international units, volume,
millimoles and inhaler puffs, optionally per kilogram of body weight or per square metre of body surface
area (Mosteller).
"""

import math
import re
from dataclasses import dataclass

from smartcare.knowledge import calculators

MASS_IN_MG = {"g": 1000.0, "mg": 1.0, "ug": 0.001, "ng": 0.000001}
UNIT_ALIASES = {
    "g": "g", "gram": "g", "grams": "g", "克": "g",
    "mg": "mg", "milligram": "mg", "milligrams": "mg", "毫克": "mg",
    "ug": "ug", "mcg": "ug", "µg": "ug", "μg": "ug", "microgram": "ug", "micrograms": "ug", "微克": "ug",
    "ng": "ng", "nanogram": "ng", "纳克": "ng",
    "[iu]": "[iU]", "iu": "[iU]", "[iu_i]": "[iU]", "u": "[iU]", "unit": "[iU]", "units": "[iU]", "单位": "[iU]",
    "ml": "mL", "milliliter": "mL", "millilitre": "mL", "毫升": "mL",
    "mmol": "mmol", "毫摩尔": "mmol",
    "{puff}": "{puff}", "puff": "{puff}", "puffs": "{puff}", "揿": "{puff}", "喷": "{puff}",
}
BASIS_SUFFIXES = {"kg": "per_kg", "千克": "per_kg", "公斤": "per_kg", "m2": "per_m2", "m^2": "per_m2", "m²": "per_m2"}


@dataclass(frozen=True)
class Frequency:
    """How often a dose is given: its canonical code and administrations per day (None when as needed)."""

    code: str
    per_day: float | None

    @property
    def daily_or_more(self) -> bool:
        """True when the dose is given at least once every day."""
        return self.per_day is not None and self.per_day >= 1


_FIXED_FREQUENCIES: dict[str, tuple[str, float | None]] = {
    "qd": ("QD", 1), "od": ("QD", 1), "daily": ("QD", 1), "once daily": ("QD", 1), "once a day": ("QD", 1),
    "every day": ("QD", 1), "每日1次": ("QD", 1), "每日一次": ("QD", 1), "每天1次": ("QD", 1),
    "每天一次": ("QD", 1), "一日1次": ("QD", 1), "一日一次": ("QD", 1),
    "bid": ("BID", 2), "twice daily": ("BID", 2), "twice a day": ("BID", 2), "每日2次": ("BID", 2),
    "每日两次": ("BID", 2), "每天2次": ("BID", 2), "一日2次": ("BID", 2), "一日两次": ("BID", 2),
    "tid": ("TID", 3), "three times daily": ("TID", 3), "three times a day": ("TID", 3), "每日3次": ("TID", 3),
    "每日三次": ("TID", 3), "每天3次": ("TID", 3), "一日3次": ("TID", 3), "一日三次": ("TID", 3),
    "qid": ("QID", 4), "four times daily": ("QID", 4), "four times a day": ("QID", 4), "每日4次": ("QID", 4),
    "每日四次": ("QID", 4), "每天4次": ("QID", 4), "一日4次": ("QID", 4), "一日四次": ("QID", 4),
    "qn": ("QN", 1), "hs": ("QN", 1), "at night": ("QN", 1), "nightly": ("QN", 1), "at bedtime": ("QN", 1),
    "每晚": ("QN", 1), "每晚1次": ("QN", 1), "睡前": ("QN", 1),
    "qod": ("QOD", 0.5), "every other day": ("QOD", 0.5), "隔日": ("QOD", 0.5), "隔日1次": ("QOD", 0.5),
    "qw": ("QW", 1 / 7), "weekly": ("QW", 1 / 7), "once weekly": ("QW", 1 / 7), "once a week": ("QW", 1 / 7),
    "每周1次": ("QW", 1 / 7), "每周一次": ("QW", 1 / 7),
    "biw": ("BIW", 2 / 7), "twice weekly": ("BIW", 2 / 7), "每周2次": ("BIW", 2 / 7), "每周两次": ("BIW", 2 / 7),
    "prn": ("PRN", None), "as needed": ("PRN", None), "when required": ("PRN", None), "必要时": ("PRN", None),
    "stat": ("STAT", 1), "immediately": ("STAT", 1), "once": ("STAT", 1), "立即": ("STAT", 1),
    "立即执行": ("STAT", 1), "st": ("STAT", 1),
}
_EVERY_HOURS = re.compile(r"^(?:q\s*(\d{1,2})\s*h|every\s+(\d{1,2})\s+hours?|每\s*(\d{1,2})\s*小时(?:1次|一次)?)$")


def parse_frequency(text: str) -> Frequency | None:
    """The frequency a prescription names (QD, BID, Q8H, 'twice daily', '每日2次' ...), or None if unknown."""
    key = " ".join(text.strip().lower().split())
    if key in _FIXED_FREQUENCIES:
        code, per_day = _FIXED_FREQUENCIES[key]
        return Frequency(code, per_day)
    match = _EVERY_HOURS.match(key)
    if match:
        hours = int(next(group for group in match.groups() if group))
        if 1 <= hours <= 24:
            return Frequency("QD" if hours == 24 else f"Q{hours}H", 24 / hours)
    return None


def canonical_unit(text: str) -> tuple[str, str] | None:
    """A dose unit as (UCUM unit, basis), 'mg/kg' -> ('mg', 'per_kg'); None when it is not a known dose unit."""
    amount, _, per = text.strip().replace(" ", "").partition("/")
    unit = UNIT_ALIASES.get(amount.lower()) or UNIT_ALIASES.get(amount)
    if unit is None:
        return None
    if not per:
        return unit, "fixed"
    basis = BASIS_SUFFIXES.get(per.lower())
    return (unit, basis) if basis is not None else None


def parse_unit(text: str) -> tuple[str, str]:
    """A dose unit as (UCUM unit, basis), 'mg/kg' -> ('mg', 'per_kg'); ValueError naming the units if unknown."""
    parsed = canonical_unit(text)
    if parsed is None:
        raise ValueError(f"dose unit {text!r} is not one of mg, g, ug (mcg), ng, [iU], mL, mmol, {{puff}}, "
                         "optionally per kg or per m2")
    return parsed


def comparable(first_unit: str, second_unit: str) -> bool:
    """True when amounts in the two units convert into each other (mg and g, not mg and mL, nor unknown units)."""
    first, second = canonical_unit(first_unit), canonical_unit(second_unit)
    if first is None or second is None:
        return False
    return first[0] == second[0] or (first[0] in MASS_IN_MG and second[0] in MASS_IN_MG)


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """A quantity in another unit of the same kind (mass to mass, units to units); ValueError otherwise."""
    if not comparable(from_unit, to_unit):
        raise ValueError(f"cannot convert {from_unit} to {to_unit}")
    source, target = parse_unit(from_unit)[0], parse_unit(to_unit)[0]
    if source == target:
        return value
    return value * MASS_IN_MG[source] / MASS_IN_MG[target]


def body_surface_area(*, weight_kg: float | None, height_cm: float | None) -> float | None:
    """Body surface area in m2 (Mosteller), or None when weight or height is not known."""
    if weight_kg is None or height_cm is None:
        return None
    return calculators.bsa_mosteller(height_cm=height_cm, weight_kg=weight_kg)


def scale(*, basis: str, weight_kg: float | None, bsa_m2: float | None) -> float | None:
    """The multiplier that turns a per-kg or per-m2 figure into an absolute amount (1 for fixed)."""
    if basis == "per_kg":
        return weight_kg
    if basis == "per_m2":
        return bsa_m2
    return 1.0


def round_down(value: float) -> float:
    """A dose rounded down to three significant figures, so a suggestion never exceeds a ceiling."""
    if value <= 0:
        return 0.0
    digits = 2 - math.floor(math.log10(value))
    factor = 10.0 ** digits
    rounded = math.floor(value * factor + 1e-9) / factor
    return float(int(rounded)) if rounded == int(rounded) else rounded


def format_amount(value: float) -> str:
    """A dose figure without noise: 1000 not 1000.0, 0.25 not 0.25000000001."""
    text = f"{value:.4g}" if abs(value) < 1e6 else f"{value:.0f}"
    if "e" in text:
        text = f"{value:.0f}"
    return text


def absolute_amount(*, dose: float, unit: str, weight_kg: float | None,
                    bsa_m2: float | None) -> tuple[float, str] | None:
    """One dose as an absolute amount and its unit ('mg/kg' times the weight); None if weight or BSA is missing."""
    amount_unit, basis = parse_unit(unit)
    factor = scale(basis=basis, weight_kg=weight_kg, bsa_m2=bsa_m2)
    if factor is None:
        return None
    return dose * factor, amount_unit


def day_multiplier(frequency: Frequency | None) -> float | None:
    """How many doses can fall on one day: 4 for QID, 1 for QW or QOD (one dose on a dosing day), None if unknown."""
    if frequency is None or frequency.per_day is None:
        return None
    return max(frequency.per_day, 1.0)
