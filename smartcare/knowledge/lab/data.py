"""Loads and checks the laboratory data files (data/*.yaml) once; a bad edit fails at load with the record."""

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from smartcare.knowledge.lab.model import ACTIONS, Analyte, Answer, LabKnowledgeError

DATA_DIR = Path(__file__).parent / "data"
DAYS_PER_YEAR = 365.25
SEXES = ("male", "female")
_LOINC = re.compile(r"^\d{1,7}-\d$")
_AGE = re.compile(r"^(\d+(?:\.\d+)?)([dmy])$")
_AGE_UNIT_DAYS = {"d": 1.0, "m": DAYS_PER_YEAR / 12, "y": DAYS_PER_YEAR}


@dataclass(frozen=True)
class Band:
    """One row of a range or critical-limit table: who it applies to (sex, age in days, half-open) and limits."""

    sex: str | None
    min_days: int
    max_days: int | None
    low: float | None
    high: float | None
    high_exclusive: bool
    source: str

    def applies(self, *, sex: str | None, age_days: int) -> bool:
        """Whether the band covers this sex (None: any) and age."""
        if self.sex is not None and sex is not None and self.sex != sex:
            return False
        return self.min_days <= age_days and (self.max_days is None or age_days < self.max_days)


def read(name: str) -> dict[str, Any]:
    """One data file as a mapping."""
    with (DATA_DIR / name).open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise LabKnowledgeError(f"{name}: expected a mapping at the top")
    return data


def age_days(text: str) -> int:
    """An age written as '28d', '6m' or '18y' in whole days (a year is 365.25 days)."""
    match = _AGE.match(str(text).strip())
    if not match:
        raise LabKnowledgeError(f"bad age {text!r}: write e.g. 28d, 6m or 18y")
    return math.floor(float(match.group(1)) * _AGE_UNIT_DAYS[match.group(2)])


def _number(record: dict[str, Any], field: str, where: str) -> float | None:
    value = record.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LabKnowledgeError(f"{where}: {field} must be a number")
    return float(value)


def _text(record: dict[str, Any], field: str, where: str) -> str:
    value = record.get(field)
    if not isinstance(value, str) or not value.strip():
        raise LabKnowledgeError(f"{where}: {field} is required")
    return value.strip()


def _bands(record: dict[str, Any], field: str, where: str) -> tuple[Band, ...]:
    bands = []
    for row in record.get(field) or ():
        sex = row.get("sex")
        if sex is not None and sex not in SEXES:
            raise LabKnowledgeError(f"{where}: sex {sex!r}")
        ages = str(row.get("age", "-"))
        start, _, end = ages.partition("-")
        band = Band(sex=sex, min_days=age_days(start) if start else 0, max_days=age_days(end) if end else None,
                    low=_number(row, "low", where), high=_number(row, "high", where),
                    high_exclusive=bool(row.get("high_exclusive", False)),
                    source=str(row.get("source") or record["source"]))
        if band.low is not None and band.high is not None and band.low >= band.high:
            raise LabKnowledgeError(f"{where}: low {band.low} is not below high {band.high}")
        bands.append(band)
    if not bands:
        raise LabKnowledgeError(f"{where}: no {field}")
    return tuple(bands)


@dataclass(frozen=True)
class OrdinalData:
    """The ordinal scales (ordered answers, the normal ones) and the spellings analyzers use for each answer."""

    system: str
    scales: dict[str, tuple[Answer, ...]]
    spellings: dict[str, tuple[str, ...]]
    source: str


@lru_cache(maxsize=1)
def ordinal_data() -> OrdinalData:
    """The answers of the local ordinal CodeSystem and the scales built from them (ordinal.yaml)."""
    data = read("ordinal.yaml")
    rows, scales, spellings = {}, {}, {}
    for row in data["answers"]:
        where = f"ordinal.yaml answer {row.get('code')}"
        code = _text(row, "code", where)
        if code in rows:
            raise LabKnowledgeError(f"{where}: repeated code")
        rows[code] = row
        spellings[code] = tuple(dict.fromkeys(str(s).strip().casefold() for s in (
            code, _text(row, "en", where), _text(row, "zh", where), *(row.get("spellings") or ()))))
    for row in data["scales"]:
        where = f"ordinal.yaml scale {row.get('key')}"
        codes, normal = list(row.get("answers") or ()), set(row.get("normal") or ())
        if len(codes) < 2 or len(set(codes)) != len(codes) or not normal <= set(codes) or not normal:
            raise LabKnowledgeError(f"{where}: needs two or more distinct answers, some of them normal")
        for code in codes:
            if code not in rows:
                raise LabKnowledgeError(f"{where}: unknown answer {code!r}")
        scales[_text(row, "key", where)] = tuple(
            Answer(code=c, en=rows[c]["en"], zh=rows[c]["zh"], normal=c in normal,
                   snomed=str(rows[c].get("snomed") or ""))
            for c in codes)
    return OrdinalData(system=_text(data, "system", "ordinal.yaml"), scales=scales, spellings=spellings,
                       source=_text(data, "source", "ordinal.yaml"))


def _answers(row: dict[str, Any], where: str) -> tuple[Answer, ...]:
    scale = row.get("scale")
    if scale is None:
        return ()
    if scale not in ordinal_data().scales:
        raise LabKnowledgeError(f"{where}: unknown ordinal scale {scale!r}")
    if row.get("unit") is not None:
        raise LabKnowledgeError(f"{where}: an ordinal analyte has no unit")
    return ordinal_data().scales[scale]


@lru_cache(maxsize=1)
def analyte_table() -> dict[str, Analyte]:
    """Every analyte by LOINC code, in file order."""
    table: dict[str, Analyte] = {}
    for row in read("analytes.yaml")["analytes"]:
        where = f"analytes.yaml {row.get('loinc')}"
        loinc = _text(row, "loinc", where)
        if not _LOINC.match(loinc) or loinc in table:
            raise LabKnowledgeError(f"{where}: malformed or repeated LOINC code")
        decimals = row.get("decimals")
        if not isinstance(decimals, int) or not 0 <= decimals <= 4:
            raise LabKnowledgeError(f"{where}: decimals must be 0-4")
        answers = _answers(row, where)
        table[loinc] = Analyte(
            loinc=loinc, name_en=_text(row, "en", where), name_zh=_text(row, "zh", where),
            unit=None if answers else _text(row, "unit", where), decimals=decimals,
            aliases=tuple(str(alias) for alias in row.get("aliases") or ()),
            what_en=_text(row, "what_en", where), what_zh=_text(row, "what_zh", where),
            key=_text(row, "key", where), source=_text(row, "source", where), answers=answers)
    return table


def _known(loinc: str, where: str) -> str:
    if loinc not in analyte_table():
        raise LabKnowledgeError(f"{where}: {loinc} is not in analytes.yaml")
    return loinc


@lru_cache(maxsize=1)
def range_table() -> dict[str, tuple[Band, ...]]:
    """Reference-interval bands by LOINC code."""
    table = {}
    for row in read("ranges.yaml")["ranges"]:
        where = f"ranges.yaml {row.get('loinc')}"
        _text(row, "source", where)
        table[_known(str(row.get("loinc")), where)] = _bands(row, "bands", where)
    return table


@lru_cache(maxsize=1)
def critical_table() -> dict[str, tuple[Band, ...]]:
    """Critical-limit bands by LOINC code."""
    table = {}
    for row in read("critical.yaml")["critical"]:
        where = f"critical.yaml {row.get('loinc')}"
        _text(row, "source", where)
        table[_known(str(row.get("loinc")), where)] = _bands(row, "limits", where)
    return table


@lru_cache(maxsize=1)
def delta_table() -> dict[str, dict[str, Any]]:
    """Delta-check rules by LOINC code (checked: a window and a percent or absolute limit)."""
    table = {}
    for row in read("deltas.yaml")["deltas"]:
        where = f"deltas.yaml {row.get('loinc')}"
        _text(row, "source", where)
        window = _number(row, "window_hours", where)
        has_rcv = _number(row, "cv_i", where) is not None and _number(row, "cv_a", where) is not None
        if not window or window <= 0 or not (has_rcv or _number(row, "absolute", where)):
            raise LabKnowledgeError(f"{where}: needs window_hours and cv_i+cv_a or absolute")
        table[_known(str(row.get("loinc")), where)] = row
    return table


@lru_cache(maxsize=1)
def interpretation_table() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The default texts and the per-analyte interpretation texts by LOINC code."""
    data = read("interpretation.yaml")
    table = {}
    for row in data["analytes"]:
        where = f"interpretation.yaml {row.get('loinc')}"
        _text(row, "source", where)
        for level in ("low", "high", "critical_low", "critical_high", "abnormal"):
            if level in row:
                text = row[level]
                _text(text, "en", f"{where} {level}")
                _text(text, "zh", f"{where} {level}")
                if level in ("low", "high", "abnormal") and text.get("action") not in ACTIONS:
                    raise LabKnowledgeError(f"{where} {level}: action must be one of {ACTIONS}")
        table[_known(str(row.get("loinc")), where)] = row
    return data["default"], table


@lru_cache(maxsize=1)
def panel_table() -> dict[str, dict[str, Any]]:
    """Panel findings (texts, thresholds, source) by key."""
    table = {}
    for row in read("panels.yaml")["findings"]:
        where = f"panels.yaml {row.get('key')}"
        for field in ("key", "panel", "en", "zh", "source"):
            _text(row, field, where)
        if row.get("action") not in ACTIONS:
            raise LabKnowledgeError(f"{where}: action must be one of {ACTIONS}")
        table[row["key"]] = row
    return table
