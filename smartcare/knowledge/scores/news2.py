"""The National Early Warning Score 2 (RCP 2017) as a pure function over one set of observations.

The scoring chart, the risk bands and the monitoring intervals are data (data/news2.yaml, with their
source); this module only reads them. NEWS2 applies to adults (16 and over), not in pregnancy.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).parent / "data" / "news2.yaml"
CONSCIOUSNESS = ("A", "C", "V", "P", "U")
ADULT_AGE = 16


@dataclass(frozen=True, slots=True)
class VitalSet:
    """One charted set of the observations NEWS2 scores."""

    respiratory_rate: int
    spo2: int
    spo2_scale: int  # 1, or 2 for hypercapnic respiratory failure with a prescribed 88-92% target
    on_oxygen: bool
    systolic_bp: int
    pulse: int
    consciousness: str  # ACVPU: A, C (new confusion), V, P or U
    temperature: float  # degrees Celsius


@dataclass(frozen=True, slots=True)
class Score:
    """The NEWS2 total, each parameter's points, the risk band and its monitoring interval."""

    total: int
    points: dict[str, int]
    band: str  # zero, low, low-medium, medium, high
    response: str  # routine, ward, urgent-ward, urgent, emergency
    minutes: int  # longest time to the next charted set before the patient is overdue

    @property
    def red(self) -> bool:
        """True when a single parameter scored 3 (the chart's red score)."""
        return 3 in self.points.values()


@cache
def chart() -> dict[str, Any]:
    """The scoring chart, bands and source as data."""
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))


def _points(bands: list[dict[str, Any]], value: float) -> int:
    for band in bands:
        if "upto" not in band or value <= band["upto"]:
            return int(band["points"])
    raise ValueError(f"{value} is above every band")


def _spo2_points(spo2: int, scale: int, on_oxygen: bool) -> int:
    parameters = chart()["parameters"]
    if scale == 1:
        return _points(parameters["spo2_scale_1"], spo2)
    if spo2 <= parameters["spo2_scale_2"][-1]["upto"]:
        return _points(parameters["spo2_scale_2"], spo2)
    return _points(parameters["spo2_scale_2_on_oxygen_above_92"], spo2) if on_oxygen else 0


def _tenths(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _band(total: int, red: bool) -> dict[str, Any]:
    for band in chart()["bands"]:
        if band.get("red") and red:
            return band
        if "from" in band and total >= band["from"]:
            return band
    raise ValueError(f"no band for a total of {total}")


def score(vitals: VitalSet) -> Score:
    """Score one set of observations with NEWS2: points per parameter, total and clinical response band."""
    if vitals.spo2_scale not in (1, 2):
        raise ValueError("the SpO2 scale is 1 or 2")
    if vitals.consciousness not in CONSCIOUSNESS:
        raise ValueError("consciousness is one of A, C, V, P, U")
    data = chart()
    parameters = data["parameters"]
    points = {
        "respiratory_rate": _points(parameters["respiratory_rate"], round(vitals.respiratory_rate)),
        "spo2": _spo2_points(round(vitals.spo2), vitals.spo2_scale, vitals.on_oxygen),
        "air_or_oxygen": data["air_or_oxygen"]["oxygen" if vitals.on_oxygen else "air"],
        "systolic_bp": _points(parameters["systolic_bp"], round(vitals.systolic_bp)),
        "pulse": _points(parameters["pulse"], round(vitals.pulse)),
        "consciousness": data["consciousness"][vitals.consciousness],
        "temperature": _points([{**b, "upto": _tenths(b["upto"])} if "upto" in b else b
                                for b in parameters["temperature"]], _tenths(vitals.temperature)),
    }
    total = sum(points.values())
    band = _band(total, 3 in points.values())
    return Score(total=total, points=points, band=band["key"], response=band["response"], minutes=band["minutes"])


def band_of(total: int, *, red: bool) -> tuple[str, int]:
    """The band key and monitoring interval (minutes) for a stored total and whether a single 3 was scored."""
    band = _band(total, red)
    return band["key"], band["minutes"]
