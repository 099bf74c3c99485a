"""Analyte look-up, reference intervals by sex and age band with critical limits, and the L/H/LL/HH flag."""

import math
from functools import lru_cache

from smartcare.knowledge.lab.data import DAYS_PER_YEAR, Band, analyte_table, critical_table, range_table
from smartcare.knowledge.lab.model import Analyte, Range

MAX_NAME = 100
MAX_AGE_DAYS = math.floor(130 * DAYS_PER_YEAR)
ADULT_AGE_DAYS = math.floor(40 * DAYS_PER_YEAR)
_UNKNOWN_SEX = ("other", "unknown")


def finite(value: float, what: str = "value") -> float:
    """The value as a float, or ValueError when it is not a finite number (NaN, inf, text, bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value}")
    return float(value)


def person(sex: str | None, age_days: int | None) -> tuple[str | None, int]:
    """Checked sex (male, female or None; FHIR 'other'/'unknown' count as None) and age in days (None: adult)."""
    if sex is not None and not isinstance(sex, str):
        raise ValueError("sex must be text")
    normal_sex = sex.strip().lower() if sex else None
    if normal_sex in _UNKNOWN_SEX:
        normal_sex = None
    if normal_sex not in (None, "male", "female"):
        raise ValueError(f"sex must be male, female, other or unknown, got {sex!r}")
    if age_days is None:
        return normal_sex, ADULT_AGE_DAYS
    if isinstance(age_days, bool) or not isinstance(age_days, int) or not 0 <= age_days <= MAX_AGE_DAYS:
        raise ValueError("age_days must be a whole number of days from 0 to 130 years")
    return normal_sex, age_days


@lru_cache(maxsize=1)
def _names() -> dict[str, Analyte]:
    names: dict[str, Analyte] = {}
    for item in analyte_table().values():
        for name in (item.loinc, item.key, item.name_en, item.name_zh, *item.aliases):
            names.setdefault(name.strip().casefold(), item)
    return names


def analyte(code_or_name: str) -> Analyte | None:
    """The analyte with this LOINC code, English or Chinese name, key or alias (case-insensitive), or None."""
    if not isinstance(code_or_name, str) or len(code_or_name) > MAX_NAME:
        return None
    return _names().get(code_or_name.strip().casefold())


def analytes() -> tuple[Analyte, ...]:
    """Every analyte the laboratory knowledge covers, in catalogue order."""
    return tuple(analyte_table().values())


def _pick(bands: tuple[Band, ...], sex: str | None, age: int) -> tuple[list[Band], str]:
    matching = [band for band in bands if band.applies(sex=sex, age_days=age)]
    if sex is not None:
        own = [band for band in matching if band.sex == sex]
        return (own or [band for band in matching if band.sex is None]), ""
    sexless = [band for band in matching if band.sex is None]
    if sexless or not matching:
        return sexless, ""
    return matching, "sex unknown: the interval spans the male and female intervals"


def _widest(bands: list[Band]) -> tuple[float | None, float | None, bool]:
    lows = [band.low for band in bands if band.low is not None]
    highs = [band.high for band in bands if band.high is not None]
    low = min(lows) if len(lows) == len(bands) else None
    high = max(highs) if len(highs) == len(bands) else None
    exclusive = all(band.high_exclusive for band in bands if band.high == high)
    return low, high, exclusive


def reference_range(loinc: str, *, sex: str | None, age_days: int | None) -> Range | None:
    """The reference interval and critical limits for this analyte, sex and age (None when none applies)."""
    item = analyte_table().get(loinc) if isinstance(loinc, str) else None
    sex, age = person(sex, age_days)
    if item is None:
        return None
    bands, note = _pick(range_table().get(loinc, ()), sex, age)
    limits = [band for band in critical_table().get(loinc, ()) if band.applies(sex=sex, age_days=age)]
    if not bands and not limits:
        return None
    low, high, exclusive = _widest(bands) if bands else (None, None, False)
    critical_low = max((band.low for band in limits if band.low is not None), default=None)
    critical_high = min((band.high for band in limits if band.high is not None), default=None)
    sources = dict.fromkeys(band.source for band in [*bands, *limits])
    if age_days is None:
        note = "; ".join(filter(None, [note, "age unknown: adult interval"]))
    return Range(low=low, high=high, unit=item.unit, critical_low=critical_low, critical_high=critical_high,
                 source="; ".join(sources), note=note, high_exclusive=exclusive)


def flag(value: float, rng: Range) -> str:
    """The abnormal flag of a value against a range: LL, L, N, H or HH (critical limits win)."""
    value = finite(value)
    if rng.critical_low is not None and value < rng.critical_low:
        return "LL"
    if rng.critical_high is not None and value > rng.critical_high:
        return "HH"
    if rng.low is not None and value < rng.low:
        return "L"
    if rng.high is not None and (value >= rng.high if rng.high_exclusive else value > rng.high):
        return "H"
    return "N"
